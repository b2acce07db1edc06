"""fillblank_core.rank: on a constructed batch of 4 results — the target pasted correctly, a wrong
object, the empty background, the target with a visible seam — the correct one ranks first, with
and without CLIP, for a placed target and for a separate cut-out."""

from __future__ import annotations

import math

import pytest
import torch

from fillblank_core import rank as R

H, W = 96, 128
YS, XS = torch.meshgrid(torch.arange(H).float(), torch.arange(W).float(), indexing="ij")


def _paste(base, m, t):
    return base * (1 - m[..., None]) + t * m[..., None]


def _scene():
    s = torch.stack([0.3 + 0.3 * XS / W, 0.5 + 0.1 * torch.sin(YS / 7), 0.6 - 0.2 * YS / H], -1)
    return s + 0.03 * (torch.sin(XS / 2) * torch.cos(YS / 3))[..., None]


OBJ = (((XS - 68) ** 2 + (YS - 50) ** 2) <= 18 ** 2).float()          # the target's silhouette
TEX = torch.stack([0.8 - 0.15 * torch.sin(XS / 3), 0.2 + 0.1 * torch.cos(YS / 2), 0.1 + 0 * XS], -1)
HOLE = torch.zeros(H, W)
HOLE[24:76, 40:96] = 1


@pytest.fixture(scope="module")
def batch():
    scene = _scene()
    right = _paste(scene, OBJ, TEX)
    square = (((XS - 68).abs() <= 16) & ((YS - 50).abs() <= 16)).float()
    wrong = _paste(scene, square, torch.stack([0.1 + 0 * XS, 0.3 + 0 * XS, 0.9 - 0.1 * torch.cos(XS / 2)], -1))
    empty = scene.clone()
    seam = _paste(_paste(scene, HOLE, scene + 0.15), OBJ, TEX)   # hole background 0.15 too bright
    cands = torch.stack([right, wrong, empty, seam]).clamp(0, 1)
    placed = _paste(torch.zeros_like(scene), OBJ, TEX)             # target on an empty canvas
    cut = _paste(torch.ones(36, 36, 3), OBJ[32:68, 50:86], TEX[32:68, 50:86])  # cut-out on white
    return dict(cands=cands, placed=placed, composite=right, cut=cut, cut_mask=OBJ[32:68, 50:86])


def _order(ranked):
    return [i for i, _, _ in ranked]


@pytest.mark.parametrize("mode", ["placed+mask", "placed", "composite", "cutout+mask", "cutout"])
def test_correct_candidate_first_without_clip(batch, mode):
    kw = {
        "placed+mask": dict(target=batch["placed"][None], target_mask=OBJ[None]),
        "placed": dict(target=batch["placed"]),
        "composite": dict(target=batch["composite"]),
        "cutout+mask": dict(target=batch["cut"], target_mask=batch["cut_mask"]),
        "cutout": dict(target=batch["cut"]),
    }[mode]
    ranked = R.rank_candidates(batch["cands"], hole_mask=HOLE[None], **kw)
    assert _order(ranked)[0] == 0, R.format_scores(ranked)
    parts = {i: p for i, _, p in ranked}
    assert all(p["method"] == "pixel" for p in parts.values())
    # the seam term sees the brightened hole, and only there
    assert parts[3]["seam"] < 0.1 and min(parts[i]["seam"] for i in (0, 1, 2)) > 0.9
    # the similarity term sees the wrong object and the empty background
    assert parts[0]["similarity"] > max(parts[1]["similarity"], parts[2]["similarity"]) + 0.1
    scores = [s for _, s, _ in ranked]
    assert scores == sorted(scores, reverse=True)


def test_placed_target_with_mask_similarity_parts(batch):
    ranked = R.rank_candidates(batch["cands"], batch["placed"], HOLE, target_mask=OBJ)
    parts = {i: p for i, _, p in ranked}
    # the silhouette holds exactly the target's pixels in candidates 0 and 3
    assert parts[0]["colour"] == pytest.approx(1.0) and parts[3]["colour"] == pytest.approx(1.0)
    assert parts[1]["colour"] < 0.1 and parts[2]["colour"] < 0.1
    assert parts[0]["structure"] > 0.5 > max(parts[1]["structure"], parts[2]["structure"])
    assert _order(ranked) == [0, 3, 1, 2]


@pytest.fixture(scope="module")
def tiny_clip():
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    from fillblank_lab.clip_encoder import ClipImageEncoder
    torch.manual_seed(0)
    model = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=64, intermediate_size=128, projection_dim=16, num_hidden_layers=2,
        num_attention_heads=1, image_size=32, patch_size=8, hidden_act="quick_gelu")).eval()
    return ClipImageEncoder(model)


@pytest.mark.parametrize("mode", ["placed+mask", "composite", "cutout+mask"])
def test_correct_candidate_first_with_clip(batch, tiny_clip, mode):
    kw = {
        "placed+mask": dict(target=batch["placed"], target_mask=OBJ),
        "composite": dict(target=batch["composite"]),
        "cutout+mask": dict(target=batch["cut"], target_mask=batch["cut_mask"]),
    }[mode]
    ranked = R.rank_candidates(batch["cands"], hole_mask=HOLE, embed_fn=tiny_clip, **kw)
    assert _order(ranked)[0] == 0, R.format_scores(ranked)
    parts = {i: p for i, _, p in ranked}
    assert all(p["method"] == "clip" and p["similarity"] == p["clip"] for p in parts.values())
    if mode != "cutout+mask":
        # with random weights the meaningful check: the candidate whose crop is identical to the
        # reference has cosine 1, every candidate without the target less
        assert parts[0]["clip"] == pytest.approx(1.0, abs=1e-5)
        assert max(parts[1]["clip"], parts[2]["clip"]) < 1 - 1e-4
    assert parts[3]["seam"] < 0.1


def test_clip_cosine_uses_the_embeddings(batch):
    """A hand-made embed_fn (mean colour of the crop) gives exactly those cosines."""
    calls = []

    def mean_colour(images):
        calls.append(images.shape)
        return images.mean(dim=(1, 2))
    ranked = R.rank_candidates(batch["cands"], batch["composite"], HOLE, embed_fn=mean_colour)
    assert calls[0][0] == 4 and calls[0][1] == calls[0][2] and calls[0][3] == 3  # square crops, BHWC
    sq = R._square(R._bbox(HOLE), H, W)
    crops = batch["cands"][:, sq[1]:sq[3], sq[0]:sq[2]].mean(dim=(1, 2))
    ref = batch["composite"][sq[1]:sq[3], sq[0]:sq[2]].mean(dim=(0, 1))
    cos = torch.nn.functional.cosine_similarity(crops, ref[None], dim=-1)
    for i, _, p in ranked:
        assert p["clip"] == pytest.approx(float(cos[i]), abs=1e-6)


def test_seam_score_falls_with_the_step():
    scene = _scene()[None].permute(0, 3, 1, 2)
    imgs = torch.cat([scene + d * HOLE for d in (0.0, 0.02, 0.05, 0.1, 0.2)]).clamp(0, 1)
    parts = R.seam_scores(imgs, HOLE, width=2)
    seams = [p["seam"] for p in parts]
    assert seams[0] > 0.95 and all(a > b for a, b in zip(seams, seams[1:]))
    assert parts[4]["seam"] == pytest.approx(
        math.exp(-max(0.0, parts[4]["seam_step"] - parts[4]["seam_base"]) / R.SEAM_TAU))
    # on a flat grey scene a uniform step d in all three channels measures exactly d·√3
    flat = torch.cat([torch.full((1, 3, H, W), 0.4) + d * HOLE for d in (0.0, 0.1)])
    fp = R.seam_scores(flat, HOLE, width=2)
    assert fp[0]["seam_step"] == pytest.approx(0.0, abs=1e-6) and fp[0]["seam"] == pytest.approx(1.0)
    assert fp[1]["seam_step"] == pytest.approx(0.1 * math.sqrt(3), rel=1e-4)
    assert fp[1]["seam_base"] == pytest.approx(0.0, abs=1e-6)
    assert fp[1]["seam"] == pytest.approx(math.exp(-0.1 * math.sqrt(3) / R.SEAM_TAU), rel=1e-3)
    whole = R.seam_scores(imgs[:1], torch.ones(H, W))
    assert whole[0]["seam"] == 1.0


def test_ties_keep_batch_order_and_sort_and_format(batch):
    same = batch["cands"][[2, 2, 2]]
    ranked = R.rank_candidates(same, batch["composite"], HOLE)
    assert _order(ranked) == [0, 1, 2]
    ranked = R.rank_candidates(batch["cands"], batch["composite"], HOLE)
    sorted_batch = R.sort_batch(batch["cands"], ranked)
    assert torch.equal(sorted_batch[0], batch["cands"][ranked[0][0]])
    assert torch.equal(sorted_batch[-1], batch["cands"][ranked[-1][0]])
    text = R.format_scores(ranked)
    lines = text.splitlines()
    assert len(lines) == 4 and lines[0].startswith("#1  batch 0  score ")
    assert all(f"score {s:.3f}" in line for line, (_, s, _) in zip(lines, ranked))


def test_weights_inputs_and_errors(batch):
    seam_only = R.rank_candidates(batch["cands"], batch["composite"], HOLE, weights={"similarity": 0, "seam": 1})
    assert _order(seam_only)[-1] == 3 and seam_only[0][1] == pytest.approx(seam_only[0][2]["seam"])
    sim_only = R.rank_candidates(batch["cands"], batch["composite"], HOLE, weights={"similarity": 1, "seam": 0})
    assert sim_only[0][1] == pytest.approx(sim_only[0][2]["similarity"])
    # a hole mask at another resolution is resized to the candidates'
    half = HOLE[::2, ::2]
    assert _order(R.rank_candidates(batch["cands"], batch["composite"], half))[0] == 0
    with pytest.raises(ValueError, match="empty"):
        R.rank_candidates(batch["cands"], batch["composite"], torch.zeros(H, W))
    with pytest.raises(ValueError, match="unknown weights"):
        R.rank_candidates(batch["cands"], batch["composite"], HOLE, weights={"clip": 1})
    with pytest.raises(ValueError, match=">= 0"):
        R.rank_candidates(batch["cands"], batch["composite"], HOLE, weights={"similarity": -1})
    with pytest.raises(ValueError, match="IMAGE"):
        R.rank_candidates(torch.rand(2, 3, H, W), batch["composite"], HOLE)
