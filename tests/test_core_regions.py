"""Image work on regions (the pack's own memory): placing, pasting, refining masks,
previews and compositing touch only the target's box / the hole's box, with the results of doing
the same on the whole image. References here are the whole-image formulas.

Exact where the work is elementwise; where a blur runs on a smaller tensor, torch's convolution may
round differently (measured: at most 2.4e-7), so inside the feathered hole values agree to 3e-7 and
the set of pixels that are not zero is the same; outside the feathered hole the composite is the
scene's own bytes."""

from __future__ import annotations

import random

import pytest
import torch

from fillblank_core import masks as M
from fillblank_core import composite as K
from fillblank_core import placement as P

ROUNDING = 3e-7


def _cases(n=40, seed=0):
    rng = random.Random(seed)
    for i in range(n):
        H, W = rng.randint(24, 220), rng.randint(24, 220)
        B = rng.choice([1, 1, 2, 3])
        g = torch.Generator().manual_seed(i)
        hole = torch.zeros(rng.choice([1, B]), 1, H, W)
        for _ in range(rng.randint(1, 3)):
            x0, y0 = rng.randint(-10, W - 1), rng.randint(-10, H - 1)
            hole[..., max(0, y0):y0 + rng.randint(1, 50), max(0, x0):x0 + rng.randint(1, 50)] = rng.choice([1.0, 0.6])
        yield rng, g, H, W, B, hole


def _full_composite(scene, decoded, hole, feather, match):
    """The whole-image composite (fillblank before the work on regions)."""
    B = max(scene.shape[0], decoded.shape[0], hole.shape[0])
    H, W = scene.shape[-2:]
    h, w = decoded.shape[-2:]
    if (h, w) != (H, W):
        full = scene.expand(B, -1, -1, -1).clone()
        oy, ox = (H - h) // 2, (W - w) // 2
        full[..., oy:oy + h, ox:ox + w] = decoded.expand(B, -1, -1, -1)
        decoded = full
    s, d, m0 = (t.expand(B, -1, -1, -1) for t in (scene, decoded, hole))
    if match:
        d = K.color_match(d, s, m0)
    m = M.feather(m0.clamp(0, 1), feather)
    return torch.where(m > 0, s * (1.0 - m) + d * m, s), m


def test_composite_on_the_feathered_hole_box_equals_the_whole_image():
    for rng, g, H, W, B, hole in _cases():
        scene = torch.rand(B, 3, H, W, generator=g)
        crop = rng.random() < 0.4
        dh, dw = ((H // 8) * 8 or H, (W // 8) * 8 or W) if crop else (H, W)
        decoded = torch.rand(rng.choice([1, B]), 3, dh, dw, generator=g)
        f, match = rng.choice([0, 1, 4, 8, 20]), rng.random() < 0.5
        want, m = _full_composite(scene, decoded, hole, f, match)
        before = (scene.clone(), decoded.clone(), hole.clone())
        got = K.composite(scene, decoded, hole, f, match)
        got_img = K.composite_image(scene.permute(0, 2, 3, 1).contiguous(), decoded.permute(0, 2, 3, 1).contiguous(),
                                     hole, f, match)
        assert torch.equal(got.permute(0, 2, 3, 1), got_img)
        outside = (m == 0).expand_as(got)
        assert torch.equal(got[outside], scene.expand_as(got)[outside]), "outside: the scene's bytes"
        assert torch.allclose(got, want, atol=ROUNDING, rtol=0)
        assert all(torch.equal(a, b) for a, b in zip(before, (scene, decoded, hole))), "inputs unchanged"


def test_refine_hole_on_its_box_equals_the_whole_image():
    for rng, g, H, W, B, hole in _cases(seed=1):
        sil = M.grow((torch.rand(1, 1, H, W, generator=g) > 0.998).float(), 2)
        t = rng.choice([0.0, 0.5])
        grow, feather = rng.choice([-3, -1, 0, 2, 8]), rng.choice([0, 3, 10])
        for mode in ("hole", "union", "box"):
            if mode == "hole":
                parts, ref = {"hole": hole}, M.threshold(hole, t)
            elif mode == "union":
                parts, ref = {"hole": hole, "silhouette": sil}, M.union(M.threshold(hole, t), M.threshold(sil, t))
            else:
                parts, ref = {"silhouette": sil}, M.bbox_mask(M.threshold(sil, t))
            ref = M.feather(M.grow(ref, grow), feather).clamp(0, 1)
            if any(not bool((ref[i] > 0).any()) for i in range(ref.shape[0])):
                with pytest.raises(ValueError, match="empty|nothing"):
                    M.refine_hole(parts, t, box=mode == "box", grow_px=grow, feather_px=feather)
                continue
            got, box = M.refine_hole(parts, t, box=mode == "box", grow_px=grow, feather_px=feather)
            ref = ref.expand_as(got)
            assert torch.equal(got > 0, ref > 0) and torch.allclose(got, ref, atol=ROUNDING, rtol=0)
            x0, y0, x1, y1 = box
            outside = torch.ones_like(got, dtype=torch.bool)
            outside[..., y0:y1, x0:x1] = False
            assert not got[outside].any(), "nothing outside the returned box"


def test_overlay_on_the_mask_box_equals_the_whole_image():
    for rng, g, H, W, B, hole in _cases(seed=2):
        base = torch.rand(rng.choice([1, B]), H, W, 3, generator=g)
        m = M.feather(hole, 3)
        want = M.to_bhwc(M.to_bchw(base) * (1.0 - 0.6 * m) + torch.tensor([1.0, 0.2, 0.2]).view(1, 3, 1, 1) * 0.6 * m)
        assert torch.equal(M.overlay(base, m), want)


def test_place_on_scene_equals_place_target_and_paste():
    rng = random.Random(3)
    for i in range(60):
        H, W = rng.randint(16, 200), rng.randint(16, 200)
        B = rng.choice([1, 2])
        g = torch.Generator().manual_seed(i)
        scene = torch.rand(B, H, W, 3, generator=g)
        tgt = torch.rand(1, 3, rng.randint(4, 60), rng.randint(4, 60), generator=g)
        obj = (torch.rand(1, 1, *tgt.shape[-2:], generator=g) > 0.3).float()
        x, y, s, f = rng.uniform(-0.4, 1.4), rng.uniform(-0.4, 1.4), rng.uniform(0.05, 1.5), rng.random() < 0.5
        try:
            placed, pmask, where = P.place_target(tgt, obj, (H, W), x, y, s, f)
        except ValueError as e:
            with pytest.raises(ValueError, match=str(e)[:20]):
                P.place_on_scene(scene, tgt, obj, x, y, s, f)
            continue
        before = scene.clone()
        image, mask, comp, where2 = P.place_on_scene(scene, tgt, obj, x, y, s, f)
        assert where2 == where and torch.equal(scene, before)
        assert torch.equal(image, M.to_bhwc(placed).expand_as(image))
        assert torch.equal(mask, pmask[:, 0].expand_as(mask))
        assert torch.equal(comp, M.to_bhwc(P.paste(M.to_bchw(scene), placed, pmask)))


def test_mask_box_and_check_finite_read_without_copies():
    m = torch.zeros(2, 1, 50, 70)
    assert M.mask_box(m) is None
    m[1, 0, 10:20, 30:33] = 0.4
    assert M.mask_box(m) == (30, 10, 33, 20) and M.mask_box(m, above=0.5) is None
    assert M.mask_box(m, pad=15) == (15, 0, 48, 35)
    x = torch.rand(1, 300, 200, 3)
    M.check_finite(x.permute(0, 3, 1, 2), "scene", chunk=1000)
    x[0, 299, 199, 2] = float("inf")
    with pytest.raises(ValueError, match="scene contains NaN or infinite values"):
        M.check_finite(x.permute(0, 3, 1, 2), "scene", chunk=1000)


def test_refine_hole_says_why_it_is_empty():
    hole = torch.zeros(1, 1, 60, 80)
    with pytest.raises(ValueError, match="hole is empty: nothing to repaint"):
        M.refine_hole({"hole": hole})
    hole[..., 10:40, 20:50] = 0.4
    with pytest.raises(ValueError, match=r"threshold 0.5 leaves nothing of hole \(its largest value is 0.4\)"):
        M.refine_hole({"hole": hole}, 0.5)
    with pytest.raises(ValueError, match=r"grow -15 shrinks the hole to nothing: a shrink of more than 14 px removes "
                                         r"all of it\. Use grow -14 or more"):
        M.refine_hole({"hole": hole}, 0.0, grow_px=-15)
    m, _ = M.refine_hole({"hole": hole}, 0.0, grow_px=-14)
    assert m.sum() == 4  # 2x2 left of the 30x30 square


def test_broadcast_batch_messages():
    assert M.broadcast_batch(scene=1, target=3, target_mask=None) == 3
    with pytest.raises(ValueError, match=r"^scene is an empty batch \(batch size 0\)"):
        M.broadcast_batch(scene=0, target=1)
    with pytest.raises(ValueError, match=r"^scene has batch 2 and target has batch 3; they must be equal or one of them 1"):
        M.broadcast_batch(scene=2, target=3)
    with pytest.raises(ValueError, match=r"^hole has batch 2 but latent_image has batch 1: hole must have batch 1 too\."):
        M.broadcast_batch(result="latent_image", latent_image=1, hole=2)
    with pytest.raises(ValueError, match=r"hole must have batch 1 \(one shared by all\) or 3 \(one per item\)"):
        M.broadcast_batch(result="latent_image", latent_image=3, hole=2)
