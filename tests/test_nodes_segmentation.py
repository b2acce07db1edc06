"""SAM loader, SAM / border-colour cut-outs, SAM mask refinement, CLIP vision and Rank as ComfyUI
nodes in the host, with and without the optional inputs."""

from __future__ import annotations

import json

import pytest
import torch

from test_core_segment import make_tiny_sam

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def nodes(pack):
    return pack.nodes.NODES_BY_ID


@pytest.fixture(scope="module")
def sam_name(pack, tmp_path_factory):
    import folder_paths
    folder = tmp_path_factory.mktemp("models") / "sams"
    folder.mkdir()
    sam = make_tiny_sam(0)
    torch.save(sam.state_dict(), folder / "tiny_sam.pth")
    (folder / "broken_sam.pth").write_bytes(b"not a checkpoint")
    paths, exts = folder_paths.folder_names_and_paths["sams"]
    folder_paths.folder_names_and_paths["sams"] = (list(paths) + [str(folder)], exts)
    return "tiny_sam.pth"


@pytest.fixture(scope="module")
def clip_vision(comfy_host, tmp_path_factory):
    """A real ComfyUI CLIP_VISION (comfy.clip_vision.ClipVisionModel) with a tiny config."""
    import comfy.clip_vision
    cfg = {"attention_dropout": 0.0, "dropout": 0.0, "hidden_act": "quick_gelu", "hidden_size": 64,
           "image_size": 224, "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 128,
           "layer_norm_eps": 1e-5, "model_type": "clip_vision_model", "num_attention_heads": 2,
           "num_channels": 3, "num_hidden_layers": 2, "patch_size": 32, "projection_dim": 16}
    path = tmp_path_factory.mktemp("clipcfg") / "tiny_clip_vision.json"
    path.write_text(json.dumps(cfg))
    cv = comfy.clip_vision.ClipVisionModel(str(path))
    g = torch.Generator().manual_seed(0)
    cv.load_sd({k: (torch.randn(v.shape, generator=g) * 0.05 if v.ndim > 1 else torch.ones_like(v) if k.endswith("weight") else torch.zeros_like(v))
                for k, v in cv.get_sd().items()})
    return cv


def _studio_target():
    """A textured orange blob on a plain white background, with its true silhouette."""
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    sil = (((yy - 34) / 22.0) ** 2 + ((xx - 30) / 16.0) ** 2) < 1.0
    img = torch.ones(1, 64, 64, 3)
    tex = 0.1 * torch.sin(xx / 3.0)[..., None]
    img[0][sil] = (torch.tensor([0.9, 0.5, 0.1]) + tex[sil]).clamp(0, 1)
    return img, sil


def _scene():
    return torch.rand(1, 64, 96, 3, generator=torch.Generator().manual_seed(1)) * 0.2 + 0.4


def test_sam_loader_and_sam_cutout(nodes, tiny, sam_name):
    sam = nodes["FillBlankSAMLoader"].execute(sam_name)[0]
    assert sam.model_type == "custom"
    enc = nodes["FillBlankTargetEncoder"]
    target, _ = _studio_target()
    args = dict(target=target, scene=_scene(), vae=tiny.tiny_vae(), x=0.5, y=0.5, scale=0.6, flip=False)
    rec, _, sil, _ = enc.execute(**args, cutout="sam", sam=sam)
    rec2, _, sil2, _ = enc.execute(**args, cutout="auto", sam=sam)
    assert torch.equal(sil, sil2), "auto uses SAM when it is connected and no mask/alpha is given"
    assert sil.shape == (1, 64, 96) and 0 < sil.sum() <= 0.6 * 64 * 0.6 * 64 + 1
    # nothing outside the placed box
    x0, y0, x1, y1 = rec.placement.box
    assert sil[0, :, :x0].sum() == 0 and sil[0, :, x1:].sum() == 0
    with pytest.raises(ValueError, match="sam input"):
        enc.execute(**args, cutout="sam")


def test_sam_loader_errors_name_file_and_folder(nodes, sam_name):
    with pytest.raises(ValueError, match=r"(?s)broken_sam\.pth.*models/sams"):
        nodes["FillBlankSAMLoader"].execute("broken_sam.pth")
    with pytest.raises(ValueError, match="models/sams"):
        nodes["FillBlankSAMLoader"].execute("missing.pth")


def test_border_color_cutout_node_matches_silhouette(nodes, tiny):
    target, truth = _studio_target()
    rec, _, sil, _ = nodes["FillBlankTargetEncoder"].execute(
        target=target, scene=_scene(), vae=tiny.tiny_vae(), x=0.5, y=0.5, scale=1.0, flip=False,
        cutout="border color")
    placed = sil[0, :, 16:80] > 0.5  # scale 1.0: the 64 px target fills the height, centred
    inter = (placed & truth).sum().item()
    union = (placed | truth).sum().item()
    assert inter / union >= 0.95


def test_mask_refiner_sam_mode(nodes, sam_name):
    sam = nodes["FillBlankSAMLoader"].execute(sam_name)[0]
    hole = torch.zeros(1, 64, 96)
    hole[:, 20:40, 30:60] = 1.0
    ref = nodes["FillBlankMaskRefiner"]
    m, prev = ref.execute("sam", 0, 0, 0.0, hole=hole, sam=sam, scene=_scene())
    m2, _ = ref.execute("sam", 0, 0, 0.0, hole=hole, sam=sam, scene=_scene())
    assert m.shape == (1, 64, 96) and torch.equal(m, m2) and m.sum() > 0
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="sam"):
        ref.execute("sam", 0, 0, 0.0, hole=hole, scene=_scene())


def test_clip_vision_output_and_rank(nodes, tiny, clip_vision):
    import comfy.clip_vision
    target, _ = _studio_target()
    scene = _scene()
    rec, comp, sil, cv_out = nodes["FillBlankTargetEncoder"].execute(
        target=target, scene=scene, vae=tiny.tiny_vae(), x=0.5, y=0.5, scale=0.6, flip=False,
        cutout="border color", clip_vision=clip_vision)
    assert isinstance(cv_out, comfy.clip_vision.Output) and cv_out["image_embeds"].shape == (1, 16)
    assert rec.embeds is cv_out
    hole = (sil > 0).float()
    wrong = comp.clone()
    wrong[0][sil[0] > 0] = torch.tensor([0.1, 0.3, 0.9])
    batch = torch.cat([scene, wrong, comp])  # empty, wrong object, the target pasted in
    rank = nodes["FillBlankRank"]
    for cv in (None, clip_vision):
        best, ordered, scores = rank.execute(batch, rec, hole=hole, clip_vision=cv)
        assert torch.equal(best[0], comp[0]), scores
        assert ordered.shape == batch.shape and len(scores.strip().splitlines()) == 3
    with pytest.raises(ValueError, match="images are"):
        rank.execute(torch.rand(2, 32, 32, 3), rec)
