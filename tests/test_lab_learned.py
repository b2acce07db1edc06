"""The learned world: renderer (fillblank_lab/scenes.py), its metrics
(fillblank_lab/learned_metrics.py) and the shipped models (fillblank_lab/learned.py). No ComfyUI."""

from __future__ import annotations

import json

import pytest
import torch

from fillblank_lab import learned as L
from fillblank_lab import learned_metrics as M
from fillblank_lab import scenes as S

SEEDS = range(24)


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="module")
def examples():
    return [S.example(s, "held") for s in SEEDS]


@pytest.fixture(scope="module")
def vae():
    return L.load_vae()


def test_examples_are_deterministic_by_seed():
    a, b, c = S.example(3), S.example(3), S.example(4)
    for name in ("scene", "target", "target_mask", "truth", "alpha", "shadow", "placed", "paste", "hole"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.truth, c.truth)
    assert not torch.equal(S.example(3, "train").truth, a.truth), "the splits draw different worlds"
    assert torch.equal(S.training_images(1, 3), S.training_images(1, 3))


def test_held_out_objects_are_new(examples):
    for ex in examples:
        assert ex.obj.family in S.HELD["families"] and ex.obj.family not in S.TRAIN["families"]
        if ex.obj.texture == "photo":
            assert ex.obj.tex["photo"] not in S.TRAIN["photos"]
        assert ex.obj.texture not in ("stripes", "gradient")
    train = [S.example(s, "train").obj for s in range(40)]
    assert {o.family for o in train} <= set(S.TRAIN["families"])
    assert "checks" not in {o.texture for o in train}


def test_target_is_a_neutral_cutout_and_truth_is_lit(examples):
    for ex in examples:
        obj = 1 - ex.target_mask[0]
        assert ex.target.shape == (1, S.TARGET, S.TARGET, 3) and ex.target_mask.shape == (1, S.TARGET, S.TARGET)
        assert float(obj.max()) == 1.0 and float(obj.min()) == 0.0, "MASK: 1 = transparent, 0 = object"
        inside = obj > 0.99
        assert torch.allclose(ex.target[0][inside], ex.obj.albedo(S.TARGET)[inside]), "the target shows albedo"
        placed = ex.alpha > 0.99
        # the paste is the neutral object; the truth is the same object lit: different, same place
        assert torch.allclose(ex.paste[0][placed], ex.placed[placed])
        assert float((ex.truth[0] - ex.paste[0])[placed].abs().mean()) > 0.03
        # outside the object and its shadow the truth is the scene exactly
        free = (ex.alpha == 0) & (ex.shadow == 0)
        assert torch.equal(ex.truth[0][free], ex.scene[0][free])
        # the hole covers the object and where its shadow is dark
        assert bool((ex.hole[0][(ex.alpha > 0) | (ex.shadow > S.SHADOW_EPS)] == 1).all())
        # Target Encoder's placement: centre and height of the object's box
        assert abs(ex.x * S.SIZE - float(torch.nonzero(ex.alpha > 0)[:, 1].float().mean())) < ex.scale * S.SIZE / 2


def test_lit_target_is_the_cutout_in_the_scenes_light(examples):
    """scenes.lit_target (the bench's best possible input): the neutral cut-out under neutral light, and
    under the scene's light the placed lit object's colours (same shading formula, same tint)."""
    import dataclasses
    for ex in examples:
        neutral = dataclasses.replace(ex.world.light, tint=torch.ones(3), intensity=0.0, ambient=1.0)
        same = dataclasses.replace(ex, world=dataclasses.replace(ex.world, light=neutral))
        torch.testing.assert_close(S.lit_target(same), ex.target)
        lit = S.lit_target(ex)
        assert lit.shape == ex.target.shape
        inside = (1 - ex.target_mask[0]) > 0.99
        L_ = ex.world.light
        want = (ex.obj.albedo(S.TARGET) * L_.tint * (L_.ambient + L_.intensity * ex.obj.shade(S.TARGET, L_))[..., None])
        torch.testing.assert_close(lit[0][inside], want.clamp(0, 1)[inside])
        # the placed object in the lit truth has the same mean colour as the lit cut-out (up to the box's size)
        placed = ex.alpha > 0.99
        assert float((ex.truth[0][placed].mean(0) - lit[0][inside].mean(0)).abs().max()) < 0.05


def test_shadow_falls_away_from_the_light(examples):
    for ex in examples:
        if float(ex.shadow.sum()) < 5:
            continue
        xs = torch.arange(S.SIZE, dtype=torch.float32)
        sx = float((ex.shadow.sum(0) * xs).sum() / ex.shadow.sum())
        ox = float((ex.alpha.sum(0) * xs).sum() / ex.alpha.sum())
        lx = ex.world.light.direction[0]
        if abs(lx) > 0.5:
            assert (sx - ox) * lx > 0, "the shadow falls on the side away from the light"
        # the shadow is darker than the lit scene there
        sh = ex.shadow > 0.3
        if int(sh.sum()):
            assert float(M.lum(ex.truth[0])[sh].mean()) < float(M.lum(ex.scene[0])[sh].mean())


def test_metrics_on_the_renderer(examples):
    """Calibration, exact pixels: the lit truth passes, the paste fails harmony, no target fails
    identity, another object at the same place fails identity."""
    truth = [M.score(ex.truth, ex, ex.paste, ex.scene, ex.hole, ex.truth) for ex in examples]
    paste = [M.score(ex.paste, ex, ex.paste, ex.scene, ex.hole, ex.truth) for ex in examples]
    none = [M.score(ex.scene, ex, ex.paste, ex.scene, ex.hole, ex.truth) for ex in examples]
    wrong = []
    for s, ex in zip(SEEDS, examples):
        other = S.example(s, "held", obj_seed=s + 500)
        wrong.append(M.score(other.truth, ex, ex.paste, ex.scene, ex.hole, ex.truth))
    rate = lambda rs, k: sum(bool(r[k]) for r in rs) / len(rs)  # noqa: E731
    assert rate(truth, "joint") >= 0.85
    assert all(r["ratio"] == 0 and r["harmony"] for r in truth)
    assert rate(paste, "identity") >= 0.95 and rate(paste, "harmony") == 0 and rate(paste, "lit") == 0
    assert rate(none, "identity") == 0
    assert rate(wrong, "identity") <= 0.2
    assert all(abs(r["seam"]) < 1e-6 for r in paste + none), "the scene outside the object: no seam"


def test_metrics_through_the_shipped_vae(examples, vae):
    """Calibration through the VAE (references decoded, as the bench has them): the lit truth
    through the VAE passes, the paste fails harmony, no target and another object fail identity."""
    def rt(x):
        return vae.decode(vae.encode(x))
    rows = {k: [] for k in ("truth", "paste", "none", "wrong")}
    for s, ex in zip(SEEDS, examples):
        sd, pd, td = rt(ex.scene), rt(ex.paste), rt(ex.truth)
        other = rt(S.example(s, "held", obj_seed=s + 500).truth)
        for k, img in (("truth", td), ("paste", pd), ("none", sd), ("wrong", other)):
            rows[k].append(M.score(img, ex, pd, sd, ex.hole, td))
    rate = lambda k, m: sum(bool(r[m]) for r in rows[k]) / len(rows[k])  # noqa: E731
    assert rate("truth", "joint") >= 0.8
    assert rate("paste", "harmony") == 0 and rate("paste", "identity") == 1
    assert rate("none", "identity") == 0 and rate("wrong", "identity") <= 0.25
    # the VAE can show the relighting: the truth through it is nearer the exact truth than the paste
    med = sorted(r["ratio_exact"] for r in rows["truth"])[len(SEEDS) // 2]
    assert med < 0.6


def test_identity_needs_the_texture_not_only_the_shape(examples):
    """The right silhouette with another object's texture, lit the same way, fails identity."""
    fails = 0
    for s, ex in zip(SEEDS, examples):
        box = round(ex.scale * S.SIZE)
        top, left = round(ex.y * S.SIZE - box / 2), round(ex.x * S.SIZE - box / 2)
        other = torch.zeros_like(ex.placed)
        other[top:top + box, left:left + box] = S.example(s + 500, "held").obj.albedo(box)[:S.SIZE - top]
        light = ex.truth[0] / ex.placed.clamp(min=1e-3)           # the light on each object pixel
        a = ex.alpha[..., None]
        retextured = ex.truth * (1 - a) + (other * light).clamp(0, 1) * a
        fails += not M.identity(retextured, ex, ex.scene, ex.hole, ex.paste)["identity"]
    assert fails >= 0.7 * len(examples)


def test_shadow_missing_fails_harmony(examples):
    """The object lit right but without its shadow: harmony fails wherever the truth has a visible shadow."""
    asked = failed = 0
    for ex in examples:
        a = ex.alpha[..., None]
        no_shadow = ex.scene * (1 - a) + ex.truth * a
        h = M.harmony(no_shadow, ex, ex.paste, ex.scene, ex.hole, ex.truth)
        if h["shadow_want"] == h["shadow_want"] and h["shadow_want"] > 0.03:
            asked += 1
            failed += not h["shadow"]
    assert asked >= 5 and failed == asked


def test_shipped_weights_metadata_and_size():
    total = 0
    for path in (L.VAE_PATH, L.UNET_PATHS["eps"], L.UNET_PATHS["flow"]):
        _, meta = L.load(path)
        for key in ("command", "seed", "final_loss", "steps", "seconds"):
            assert key in meta, (path.name, key)
        assert "train_learned.py" in meta["command"]
        json.loads(meta["config"])
        total += path.stat().st_size
    if L.UNET_PATHS["student"].exists():
        total += L.UNET_PATHS["student"].stat().st_size
    assert total <= 20 * 2 ** 20


def test_vae_round_trip_and_latent_format(vae):
    imgs = torch.cat([S.example(s, "held").truth for s in range(8)])
    raw = vae.encode(imgs)
    assert raw.shape == (8, 4, S.SIZE // 8, S.SIZE // 8)
    z = raw * L.SCALE  # ComfyUI's SD15 process_in
    assert 0.6 < float(z.std()) < 1.5, "unit-scale latents after the SD1.5 scale factor"
    rec = vae.decode(raw)
    assert rec.shape == imgs.shape
    assert float((rec - imgs).abs().mean()) < 0.06
    # non-linear: decode(a + b) is not decode(a) + decode(b) − decode(0)
    a, b = raw[:1], raw[1:2]
    lin = vae.decode(a) + vae.decode(b) - vae.decode(torch.zeros_like(a))
    assert float((vae.decode(a + b) - lin).abs().mean()) > 0.02
    with pytest.raises(ValueError, match="multiples of 8"):
        vae.encode(torch.zeros(1, 60, 64, 3))


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_unets_denoise_held_out_latents(kind, vae):
    """The trained U-Nets beat the trivial predictor on held-out scenes (they learned something)."""
    net = L.load_unet(kind)
    z = vae.encode(torch.cat([S.example(s, "held").truth for s in range(16)])) * L.SCALE
    g = torch.Generator().manual_seed(0)
    eps = torch.randn(z.shape, generator=g)
    with torch.no_grad():
        if kind == "eps":
            t = torch.full((16,), 500)
            ac = L.sd15_alphas_cumprod().float()[t][:, None, None, None]
            pred = net(ac.sqrt() * z + (1 - ac).sqrt() * eps, t.float())
            err, trivial = float(((pred - eps) ** 2).mean()), float((eps ** 2).mean())
        else:
            s = torch.full((16, 1, 1, 1), 0.5)
            pred = net((1 - s) * z + s * eps, torch.full((16,), 500.0))
            err, trivial = float(((pred - (eps - z)) ** 2).mean()), float(((eps - z) ** 2).mean())
    assert err < 0.6 * trivial
