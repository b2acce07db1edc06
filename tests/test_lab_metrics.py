"""fillblank_lab.metrics on constructed images with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from fillblank_lab import metrics, toy


def _img(value=0.0, size=16):
    return torch.full((3, size, size), float(value))


def _square(size=16, a=4, b=12):
    m = torch.zeros(size, size)
    m[a:b, a:b] = 1.0
    return m


def test_masked_mse_and_psnr_known_values():
    mask = _square()
    a = _img(0.0)
    b = a.clone()
    b[:, mask.bool()] += 0.5           # inside: off by 0.5
    b[:, ~mask.bool()] += 0.25         # outside: ignored by the masked metric
    assert metrics.masked_mse(a, b, mask) == pytest.approx(0.25)
    assert metrics.masked_mse(a, b) == pytest.approx((64 * 0.25 + 192 * 0.0625) / 256)
    assert metrics.masked_psnr(a, b, mask) == pytest.approx(10 * math.log10(4 / 0.25))
    assert metrics.masked_psnr(a, a, mask) == 100.0
    assert math.isnan(metrics.masked_mse(a, b, torch.zeros(16, 16)))
    # batches give one value per image; a single mask broadcasts
    batch = torch.stack([a, b])
    v = metrics.masked_mse(batch, a, mask)
    assert v.shape == (2,) and v[0] == 0 and v[1] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="same C"):
        metrics.masked_mse(a, torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="size"):
        metrics.masked_mse(a, b, torch.ones(8, 8))


def test_ssim_structure():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 24, 24, generator=g) * 2 - 1
    mask = _square(24, 6, 18)
    assert metrics.masked_ssim(x, x, mask) == pytest.approx(1.0, abs=1e-9)
    inverted = metrics.masked_ssim(x, -x, mask)
    assert inverted < 0, "inverted structure is anti-correlated"
    shifted = metrics.masked_ssim(x, (x + 0.05), mask)
    noisy = metrics.masked_ssim(x, x + 0.5 * torch.randn(x.shape, generator=g), mask)
    flat = metrics.masked_ssim(x, torch.zeros_like(x), mask)
    assert 1.0 > shifted > noisy > flat
    assert abs(flat) < 0.05, "a flat image has none of the structure"
    m = metrics.ssim_map(x, x)
    assert m.shape == (1, 24, 24)


def test_clip_similarity_uses_the_object_crop():
    seen = []

    def embed(images):  # stands in for a CLIP vision model: mean colour as the embedding
        seen.append(images.clone())
        return images.mean(dim=(1, 2))

    mask = _square(16, 5, 9)
    a = _img(-1.0)
    a[:, 5:9, 5:9] = torch.tensor([1.0, -1.0, -1.0])[:, None, None]   # a red square
    b = a.clone()
    b[:, 5:9, 5:9] = torch.tensor([-1.0, -1.0, 1.0])[:, None, None]   # a blue one
    assert metrics.clip_similarity(a, a, mask, embed) == pytest.approx(1.0)
    assert metrics.clip_similarity(a, b, mask, embed) < 0.9
    crop = seen[0]
    assert crop.shape == (2, 8, 8, 3), "bounding box of the mask plus a 2-pixel margin, as an IMAGE batch"
    assert float(crop.min()) >= 0.0 and float(crop.max()) <= 1.0, "embed_fn gets [0, 1] images"
    fid = metrics.target_fidelity(a, a, mask, embed_fn=embed)
    assert set(fid) == {"mse", "psnr", "ssim", "clip"}
    assert "clip" not in metrics.target_fidelity(a, a, mask)


def test_context_preservation():
    scene = torch.linspace(-1, 1, 3 * 16 * 16).reshape(3, 16, 16)
    hole = _square()
    result = scene.clone()
    result[:, hole.bool()] = 0.7          # changes inside the hole do not count
    c = metrics.context_preservation(result, scene, hole)
    assert c["mse"] == 0.0 and c["max_abs"] == 0.0 and c["psnr"] == 100.0
    result[1, 0, 0] += 0.5                # one pixel outside
    c = metrics.context_preservation(result, scene, hole)
    assert c["max_abs"] == pytest.approx(0.5)
    assert c["mse"] == pytest.approx(0.25 / (3 * (256 - 64)))


def test_seam_score_known_answers():
    hole = _square()
    flat = _img(0.2)
    assert metrics.seam_score(flat, hole) == pytest.approx(0.0)
    step = flat.clone()
    step[:, hole.bool()] = -0.6           # a hard step of 0.8 all along the border
    assert metrics.seam_score(step, hole) == pytest.approx(0.8)
    # a smooth ramp across the border has no excess edge there
    ramp = torch.linspace(-1, 1, 16).repeat(3, 16, 1)
    assert abs(metrics.seam_score(ramp, hole)) < 1e-6
    # with a reference: only edges the reference does not have count
    assert metrics.seam_score(step, hole, reference=step) == pytest.approx(0.0)
    assert metrics.seam_score(step, hole, reference=flat) == pytest.approx(0.8)
    assert metrics.seam_score(flat, hole, reference=step) == pytest.approx(0.0), "a missing edge is no seam"
    both = metrics.seam_score(torch.stack([flat, step]), hole)
    assert both.shape == (2,) and both[1] == pytest.approx(0.8)
    assert metrics.seam_score(flat, torch.zeros(16, 16)) == 0.0


def test_nearest_exemplar_and_hit_rate():
    g = torch.Generator().manual_seed(1)
    ex = torch.rand(5, 3, 8, 8, generator=g) * 2 - 1
    picks = torch.tensor([2, 2, 4, 2])
    noisy = ex[picks] + 0.02 * torch.randn(4, 3, 8, 8, generator=g)
    assert metrics.nearest_exemplar(noisy, ex).tolist() == picks.tolist()
    assert metrics.nearest_exemplar(noisy[0], ex) == 2
    assert metrics.hit_rate(noisy, ex, 2) == 0.75
    assert metrics.hit_rate(noisy, ex, picks) == 1.0
    # the mask decides which pixels count
    half = torch.zeros(8, 8)
    half[:, :4] = 1.0
    mixed = ex[1].clone()
    mixed[:, :, :4] = ex[3][:, :, :4]
    assert metrics.nearest_exemplar(mixed, ex, half) == 3
    assert metrics.nearest_exemplar(mixed, ex, 1 - half) == 1


def test_evaluate_on_a_toy_task():
    t = toy.make_task(4)
    perfect = metrics.evaluate(t.truth, t)
    assert perfect["ctx_max_abs"] == 0.0
    assert perfect["truth_mse"] == 0.0
    assert perfect["seam"] == pytest.approx(0.0)
    pasted = metrics.evaluate(t.pasted, t)
    assert pasted["fid_mse"] == 0.0 and pasted["fid_ssim"] == pytest.approx(1.0)
    empty = metrics.evaluate(t.scene, t)
    assert empty["fid_psnr"] < pasted["fid_psnr"] and empty["fid_ssim"] < 0.9
    assert set(perfect) >= {"fid_mse", "fid_psnr", "fid_ssim", "ctx_mse", "ctx_max_abs", "truth_mse", "seam",
                            "seam_free"}
