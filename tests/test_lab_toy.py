"""fillblank_lab.toy: procedural scenes and insertion tasks (deterministic, with known answers)."""

from __future__ import annotations

import math

import pytest
import torch

from fillblank_lab import toy


def test_tasks_are_deterministic_by_seed():
    a, b, c = toy.make_task(5), toy.make_task(5), toy.make_task(6)
    for name in ("scene", "hole", "target", "silhouette", "box", "pasted", "truth"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert a.shape == b.shape
    assert not torch.equal(a.scene, c.scene)
    assert torch.equal(toy.training_batch(3, 4), toy.training_batch(3, 4))
    assert not torch.equal(toy.training_batch(3, 4), toy.training_batch(4, 4))


@pytest.mark.parametrize("seed", range(6))
def test_task_structure(seed):
    t = toy.make_task(seed)
    h, w = t.size
    assert (h, w) == (32, 32)
    for img in (t.scene, t.target, t.pasted, t.truth):
        assert img.shape == (3, h, w) and img.dtype == torch.float32
        assert float(img.min()) >= -1.0 and float(img.max()) <= 1.0
    sil, hole, box = t.silhouette, t.hole, t.box
    assert set(torch.unique(sil).tolist()) <= {0.0, 1.0} and sil.sum() > 20
    assert bool((hole >= sil).all()), "the hole covers the whole object"
    assert hole.sum() > sil.sum() * 1.3, "the hole leaves room around the object"
    assert bool((box >= sil).all())
    ys, xs = torch.nonzero(box, as_tuple=True)
    assert box.sum() == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1), "box is a filled rectangle"
    # the object is where the task says it is
    cy, cx = [float(v.float().mean()) for v in torch.nonzero(sil, as_tuple=True)]
    assert abs(cx + 0.5 - t.shape.cx) < 1.5 and abs(cy + 0.5 - t.shape.cy) < 2.0
    # pasted = scene outside the object's coverage, the target inside
    outside = t.target_alpha == 0
    assert torch.equal(t.pasted[:, outside], t.scene[:, outside])
    assert torch.equal(t.truth[:, ~t.hole.bool()], t.scene[:, ~t.hole.bool()])
    assert not torch.equal(t.pasted[:, sil.bool()], t.scene[:, sil.bool()])
    assert t.mask("hole") is t.hole and torch.equal(t.mask("union"), torch.maximum(hole, sil))
    with pytest.raises(ValueError, match="mask strategy"):
        t.mask("lasso")


def test_neutral_light_makes_truth_equal_pasted():
    t = toy.make_task(2, light_strength=0.0)
    assert t.light == (1.0, 1.0, 1.0)
    assert torch.allclose(t.truth, t.pasted, atol=1e-6)
    lit = toy.make_task(2)
    assert lit.light != (1.0, 1.0, 1.0)
    assert not torch.allclose(lit.truth, lit.pasted, atol=1e-3), "scene light must differ from the cut-out's"


def test_classes_and_colours_are_distinct_shapes():
    masks = {c: toy.shape_alpha(toy.Shape(c, "red", 16, 16, 7), 32) > 0.5 for c in toy.CLASSES}
    for c, m in masks.items():
        assert 25 < int(m.sum()) < 250, c
    for a in toy.CLASSES:
        for b in toy.CLASSES:
            if a < b:
                inter = (masks[a] & masks[b]).sum().item()
                union = (masks[a] | masks[b]).sum().item()
                assert inter / union < 0.9, f"{a} and {b} look the same"
    disc = toy.shape_alpha(toy.Shape("disc", "red", 16, 16, 6), 32)
    assert abs(float(disc.sum()) - math.pi * 36) < 3.0, "anti-aliased coverage integrates to the area"
    with pytest.raises(ValueError, match="shape class"):
        toy.Shape("blob", "red", 1, 1, 1)
    with pytest.raises(ValueError, match="colour"):
        toy.Shape("disc", "mauve", 1, 1, 1)


def test_exemplar_task():
    e = toy.exemplar_task(seed=1, k=8, size=16)
    k = e.exemplars.shape[0]
    assert e.exemplars.shape == (8, 3, 16, 16)
    outside = ~e.region.bool()
    for i in range(k):
        assert torch.equal(e.exemplars[i][:, outside], e.exemplars[0][:, outside]), "one background"
        for j in range(i):
            assert not torch.equal(e.exemplars[i], e.exemplars[j])
    assert bool((e.hole >= e.region).all()) and bool((e.hole >= e.silhouette).all())
    assert torch.equal(e.scene, e.exemplars[(e.target_index + 1) % k])
    assert not any(torch.equal(e.target, x) for x in e.exemplars), "the target is not itself an exemplar"
    d = ((e.target[None] - e.exemplars) ** 2 * e.silhouette).flatten(1).sum(1)
    assert int(d.argmin()) == e.target_index, "the target is closest to its own exemplar"
    assert torch.equal(toy.exemplar_task(seed=1).exemplars, e.exemplars)


def test_perturb_mask():
    m = toy.make_task(0).silhouette
    size = math.sqrt(float(m.sum()))
    assert torch.equal(toy.perturb_mask(m, 0.0, "grow"), m)
    areas = [float(toy.perturb_mask(m, a, "grow").sum()) for a in (0.05, 0.1, 0.2)]
    assert float(m.sum()) < areas[0] < areas[1] < areas[2]
    shr = [float(toy.perturb_mask(m, a, "shrink").sum()) for a in (0.05, 0.1, 0.2)]
    assert float(m.sum()) > shr[0] > shr[1] > shr[2] > 0
    j = toy.perturb_mask(m, 0.2, "jitter", seed=4)
    assert abs(float(j.sum()) - float(m.sum())) < 1e-3 * float(m.sum()) + 1.0, "jitter moves, keeps the area"

    def centre(x):
        ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
        return float((x * xs).sum() / x.sum()), float((x * ys).sum() / x.sum())
    (x0, y0), (x1, y1) = centre(m), centre(j)
    assert math.hypot(x1 - x0, y1 - y0) == pytest.approx(0.2 * size, rel=0.05)
    for kind in ("grow", "shrink", "jitter", "random"):
        p = toy.perturb_mask(m, 0.1, kind, seed=1)
        assert p.shape == m.shape and float(p.min()) >= 0 and float(p.max()) <= 1
    with pytest.raises(ValueError):
        toy.perturb_mask(m, 0.1, "melt")
    sd = toy.signed_distance(m)
    assert bool((sd[m.bool()] < 0).all()) and bool((sd[~m.bool()] > 0).all())


def test_display_helpers():
    t = toy.make_task(1)
    img = toy.to_pil(t.scene, scale=3)
    assert img.size == (96, 96) and img.mode == "RGB"
    assert toy.to_pil(t.hole).size == (32, 32)
    hv = toy.hole_view(t.scene, t.hole)
    assert torch.equal(hv[:, t.hole == 0], t.scene[:, t.hole == 0])
