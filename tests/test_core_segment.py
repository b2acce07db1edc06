"""fillblank_core.segment: SAM loading (type detection, strict load, errors), the SAM cut-out /
refinement pipeline, and the SAM-free cut-outs (alpha, border colour)."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from fillblank_core import segment as S

REPO = Path(__file__).resolve().parents[1]

# A small SAM: 64 px input, 8 px patches (8x8 token grid), windows of 4 with block 1 global,
# prompt dim 32 — every size differs from the published ones so detection must read them.
TINY = dict(embed_dim=48, depth=3, num_heads=3, global_attn_indexes=(1,), window_size=4,
            patch_size=8, img_size=64, mlp_ratio=2.0, out_chans=32, prompt_embed_dim=32,
            mask_in_chans=8, decoder_depth=2, decoder_mlp_dim=64, iou_head_depth=3,
            iou_head_hidden_dim=24)


def make_tiny_sam(seed: int = 0):
    """Assembled from segment_anything's classes directly (not through fillblank's builder)."""
    from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                           TwoWayTransformer)
    c = TINY
    grid = c["img_size"] // c["patch_size"]
    torch.manual_seed(seed)
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=c["depth"], embed_dim=c["embed_dim"], img_size=c["img_size"],
            mlp_ratio=c["mlp_ratio"], norm_layer=partial(nn.LayerNorm, eps=1e-6),
            num_heads=c["num_heads"], patch_size=c["patch_size"], qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=c["global_attn_indexes"], window_size=c["window_size"],
            out_chans=c["out_chans"]),
        prompt_encoder=PromptEncoder(embed_dim=c["prompt_embed_dim"], image_embedding_size=(grid, grid),
                                     input_image_size=(c["img_size"], c["img_size"]),
                                     mask_in_chans=c["mask_in_chans"]),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=c["decoder_depth"], embedding_dim=c["prompt_embed_dim"],
                                          mlp_dim=c["decoder_mlp_dim"], num_heads=8),
            transformer_dim=c["prompt_embed_dim"], iou_head_depth=c["iou_head_depth"],
            iou_head_hidden_dim=c["iou_head_hidden_dim"]),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375]).eval()
    with torch.no_grad():  # rel-pos tables and pos_embed start at zero: give every tensor content
        g = torch.Generator().manual_seed(seed + 1)
        for p in sam.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return sam


@pytest.fixture(scope="module")
def sams_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ComfyUI") / "models" / "sams"
    d.mkdir(parents=True)
    return d


@pytest.fixture(scope="module")
def tiny_sam():
    return make_tiny_sam()


@pytest.fixture(scope="module")
def tiny_ckpt(sams_dir, tiny_sam) -> Path:
    p = sams_dir / "sam_tiny_test.pth"
    torch.save(tiny_sam.state_dict(), p)
    return p


def _image(h=48, w=80, seed=3):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, h, w, 3, generator=g)


# --- import hygiene -------------------------------------------------------------------------------

def test_core_imports_without_sam_transformers_or_comfy():
    code = (
        "import sys\n"
        "for m in ('segment_anything', 'transformers'):\n"
        "    sys.modules[m] = None  # any import of them fails\n"
        "import fillblank_core.segment, fillblank_core.clip, fillblank_core.rank\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('comfy', 'folder_paths', 'nodes', 'server')]\n"
        "assert not bad, bad\n"
        "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


# --- loading --------------------------------------------------------------------------------------

def test_load_detects_architecture_and_loads_strictly(tiny_ckpt, tiny_sam):
    from segment_anything.modeling import Sam
    h = S.load_sam(tiny_ckpt)
    assert isinstance(h, S.SamHandle) and isinstance(h.model, Sam)
    assert h.model_type == "custom" and h.path == str(tiny_ckpt)
    for k, v in TINY.items():
        assert h.config[k] == (tuple(v) if isinstance(v, tuple) else v), k
    assert h.config["num_multimask_outputs"] == 3
    assert not h.model.training
    ref, got = tiny_sam.state_dict(), h.model.state_dict()
    assert ref.keys() == got.keys()
    for k in ref:
        assert got[k].dtype == torch.float32 and got[k].device.type == "cpu"
        assert torch.equal(ref[k], got[k]), k
    assert torch.equal(h.model.pixel_mean, tiny_sam.pixel_mean)
    assert torch.equal(h.model.pixel_std, tiny_sam.pixel_std)


def test_reloaded_model_gives_identical_outputs_and_is_deterministic(tiny_ckpt, tiny_sam):
    h = S.load_sam(tiny_ckpt)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(tiny_sam.image_encoder(x), h.model.image_encoder(x))
    img = _image()
    m0, s0 = S.sam_predict(tiny_sam, img, box=[4, 4, 70, 40])
    m1, s1 = S.sam_predict(h, img, box=[4, 4, 70, 40])
    m2, s2 = S.sam_predict(h, img, box=[4, 4, 70, 40])
    assert m1.shape == (3, 48, 80) and m1.dtype == torch.bool and s1.shape == (3,)
    assert torch.equal(m0, m1) and torch.equal(s0, s1)
    assert torch.equal(m1, m2) and torch.equal(s1, s2)


def test_safetensors_and_wrapped_checkpoints(sams_dir, tiny_sam, tiny_ckpt):
    import safetensors.torch
    sd = tiny_sam.state_dict()
    st = sams_dir / "sam_tiny_test.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in sd.items()}, str(st))
    wrapped = sams_dir / "sam_tiny_wrapped.pth"
    torch.save({"model": {f"module.{k}": v for k, v in sd.items()}}, wrapped)
    ref = S.load_sam(tiny_ckpt).model.state_dict()
    for p in (st, wrapped):
        h = S.load_sam(p)
        assert h.model_type == "custom"
        got = h.model.state_dict()
        assert all(torch.equal(ref[k], got[k]) for k in ref), p


def test_published_types_detected_from_shapes():
    """vit_b / vit_l / vit_h state dicts (shapes only: built on the meta device) are named."""
    from segment_anything import sam_model_registry
    for name in ("vit_b", "vit_l", "vit_h"):
        with torch.device("meta"):
            sam = sam_model_registry[name]()
        cfg = S.detect_sam_config(sam.state_dict())
        assert S.sam_type_of(cfg) == name
        std = S.SAM_TYPES[name]
        assert (cfg["embed_dim"], cfg["depth"], cfg["num_heads"]) == (std["embed_dim"], std["depth"], std["num_heads"])
        assert cfg["global_attn_indexes"] == std["global_attn_indexes"]
        assert (cfg["window_size"], cfg["img_size"], cfg["patch_size"], cfg["prompt_embed_dim"]) == (14, 1024, 16, 256)


@pytest.mark.slow
def test_standard_vit_b_with_random_weights(tmp_path):
    from segment_anything import sam_model_registry
    torch.manual_seed(0)
    sam = sam_model_registry["vit_b"]()
    p = tmp_path / "models" / "sams" / "sam_vit_b_random.pth"
    p.parent.mkdir(parents=True)
    torch.save(sam.state_dict(), p)
    h = S.load_sam(p)
    assert h.model_type == "vit_b"
    assert h.config["global_attn_indexes"] == (2, 5, 8, 11) and h.config["window_size"] == 14
    ref = sam.state_dict()
    got = h.model.state_dict()
    assert all(torch.equal(ref[k], got[k]) for k in ref)


def _assert_sam_error(excinfo, path):
    msg = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert path.name in msg and "models/sams" in msg and "sam_vit_b_01ec64.pth" in msg


def test_missing_corrupt_and_wrong_files_name_the_file_and_folder(sams_dir, tiny_sam, tiny_ckpt):
    missing = sams_dir / "sam_vit_h_4b8939.pth"
    with pytest.raises(S.SamLoadError) as e:
        S.load_sam(missing)
    _assert_sam_error(e, missing)

    garbage = sams_dir / "garbage.pth"
    garbage.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    with pytest.raises(S.SamLoadError) as e:
        S.load_sam(garbage)
    _assert_sam_error(e, garbage)

    truncated = sams_dir / "truncated.pth"
    truncated.write_bytes(tiny_ckpt.read_bytes()[:5000])
    with pytest.raises(S.SamLoadError) as e:
        S.load_sam(truncated)
    _assert_sam_error(e, truncated)

    bad_st = sams_dir / "garbage.safetensors"
    bad_st.write_bytes(b"\x00" * 100)
    with pytest.raises(S.SamLoadError) as e:
        S.load_sam(bad_st)
    _assert_sam_error(e, bad_st)

    wrong = sams_dir / "not_a_sam.pth"
    torch.save({"encoder.weight": torch.zeros(4, 4), "decoder.bias": torch.zeros(3)}, wrong)
    with pytest.raises(S.SamLoadError) as e:
        S.load_sam(wrong)
    _assert_sam_error(e, wrong)
    assert "not a SAM checkpoint" in str(e.value)

    incomplete = sams_dir / "incomplete.pth"
    sd = dict(tiny_sam.state_dict())
    sd.pop("mask_decoder.iou_token.weight")
    torch.save(sd, incomplete)
    with pytest.raises(S.SamLoadError) as e:
        S.load_sam(incomplete)
    _assert_sam_error(e, incomplete)
    assert "iou_token" in str(e.value)

    code = sams_dir / "pickled_object.pth"
    torch.save({"x": S.SamHandle(model=None, model_type="x")}, code)  # not loadable with weights_only
    with pytest.raises(S.SamLoadError) as e:
        S.load_sam(code)
    _assert_sam_error(e, code)


def test_as_sam_accepts_other_packs_sam_models(tiny_sam):
    h = S.SamHandle(model=tiny_sam, model_type="custom")

    class Wrapper:  # e.g. a pack's holder object with .model
        model = tiny_sam
    assert S.as_sam(tiny_sam) is tiny_sam  # Impact-Pack / comfyui_segment_anything SAM_MODEL
    assert S.as_sam(h) is tiny_sam
    assert S.as_sam(Wrapper()) is tiny_sam
    with pytest.raises(TypeError, match="SAM"):
        S.as_sam(nn.Linear(2, 2))


# --- the SAM pipeline on crafted decoder outputs ----------------------------------------------------

class CraftedDecoder(nn.Module):
    """Stands in for SAM's mask decoder: returns given low-res logits [3, 32, 32] and IoUs."""

    def __init__(self, logits: torch.Tensor, ious):
        super().__init__()
        self.logits, self.ious = logits, torch.tensor(ious, dtype=torch.float32)
        self.calls = []

    def forward(self, image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings,
                multimask_output):
        self.calls.append(dict(tokens=sparse_prompt_embeddings.shape[1], multimask=multimask_output))
        sl = slice(0, 3) if multimask_output else slice(0, 1)
        return self.logits[None, sl].clone(), self.ious[None, sl].clone()


def _lowres(*rects, holes=()):
    m = torch.full((32, 32), -10.0)
    for y0, y1, x0, x1 in rects:
        m[y0:y1, x0:x1] = 10.0
    for y0, y1, x0, x1 in holes:
        m[y0:y1, x0:x1] = -10.0
    return m


def _up(lowres_bin: torch.Tensor) -> torch.Tensor:
    """The 64x64 binary mask SAM's postprocessing makes from ±10 logits at 32x32 (= 2x nearest)."""
    return lowres_bin.repeat_interleave(2, 0).repeat_interleave(2, 1).float()


@pytest.fixture()
def crafted_sam(tiny_ckpt):
    h = S.load_sam(tiny_ckpt)
    blob = _lowres((4, 20, 4, 20), (26, 29, 26, 29), holes=[(10, 12, 10, 12)])   # blob with a hole + a speck
    other = _lowres((2, 30, 2, 30))
    small = _lowres((24, 30, 0, 6))
    dec = CraftedDecoder(torch.stack([other, blob, small]), [0.2, 0.9, 0.5])
    h.model.mask_decoder = dec
    recorded = []
    h.model.prompt_encoder.register_forward_pre_hook(
        lambda mod, args, kwargs: recorded.append(kwargs), with_kwargs=True)
    return h, dec, recorded


def test_cutout_picks_best_iou_keeps_largest_component_fills_small_holes(crafted_sam):
    h, dec, recorded = crafted_sam
    img = _image(64, 64)
    info = {}
    out = S.sam_cutout(h, img, info=info)
    assert info["chosen"] == 1 and info["scores"] == pytest.approx([0.2, 0.9, 0.5])
    blob = torch.zeros(32, 32)
    blob[4:20, 4:20] = 1
    with_hole = blob.clone()
    with_hole[10:12, 10:12] = 0
    # the speck is dropped; the 4x4 px hole is 16 px of a 1008 px object (1.6% > the default 1%)
    assert torch.equal(out, _up(with_hole))
    assert torch.equal(S.sam_cutout(h, img, max_hole_fraction=0.05), _up(blob))
    assert out.shape == (64, 64) and out.dtype == torch.float32
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    # the box prompt: the whole image minus a 1% margin (at least 1 px), multimask
    assert dec.calls[0] == dict(tokens=2, multimask=True)
    assert info["box"] == [1.0, 1.0, 63.0, 63.0]
    box = recorded[0]["boxes"]
    assert torch.allclose(box, torch.tensor([[1.0, 1.0, 63.0, 63.0]]))
    assert recorded[0]["points"] is None


def test_cutout_with_given_box(crafted_sam):
    h, dec, recorded = crafted_sam
    info = {}
    S.sam_cutout(h, _image(64, 64), box=(10, 12, 50, 40), info=info)
    assert info["box"] == [10.0, 12.0, 50.0, 40.0]
    assert torch.allclose(recorded[0]["boxes"], torch.tensor([[10.0, 12.0, 50.0, 40.0]]))
    with pytest.raises(ValueError, match="empty"):
        S.sam_cutout(h, _image(64, 64), box=(30, 10, 20, 40))


def test_refine_rough_mask_uses_its_box_and_an_interior_point_and_keeps_that_component(crafted_sam):
    h, dec, recorded = crafted_sam
    # single-mask output (multimask off for box + point) is the decoder's first mask: make it two
    # blobs, the smaller one under the rough mask
    dec.logits[0] = _lowres((2, 12, 2, 12), (16, 30, 14, 30))
    rough = torch.zeros(64, 64)
    rough[6:20, 6:20] = 1
    rough[10:14, 10:14] = 0  # a ring: its centroid (12.5, 12.5) is not on the mask
    info = {}
    out = S.sam_refine(h, _image(64, 64), rough_mask=rough[None], info=info)
    assert dec.calls[-1] == dict(tokens=3, multimask=False)  # 1 point + 2 box corners
    assert info["box"] == [6.0, 6.0, 20.0, 20.0]
    (px, py, lab), = info["points"]
    assert lab == 1 and rough[int(py), int(px)] == 1
    coords, labels = recorded[-1]["points"]
    assert torch.allclose(coords[0, 0], torch.tensor([px, py])) and labels.tolist() == [[1]]
    expected = _up((_lowres((2, 12, 2, 12)) > 0).float())
    assert torch.equal(out, expected)  # the component under the point, not the larger one


def test_refine_points_and_box(crafted_sam):
    h, dec, recorded = crafted_sam
    info = {}
    out = S.sam_refine(h, _image(64, 64), points=[(24, 24)], info=info)
    assert dec.calls[-1] == dict(tokens=2, multimask=True) and info["chosen"] == 1  # point + pad token
    assert out.shape == (64, 64)
    S.sam_refine(h, _image(64, 64), points=[(24, 24), (60, 60, 0)], info=info)
    assert dec.calls[-1]["multimask"] is False
    assert recorded[-1]["points"][1].tolist() == [[1, 0]]
    S.sam_refine(h, _image(64, 64), box=(0, 0, 40, 40), info=info)
    assert dec.calls[-1] == dict(tokens=2, multimask=True) and recorded[-1]["points"] is None


def test_refine_errors(crafted_sam):
    h, _, _ = crafted_sam
    with pytest.raises(ValueError, match="empty"):
        S.sam_refine(h, _image(64, 64), rough_mask=torch.zeros(64, 64))
    with pytest.raises(ValueError, match="same size"):
        S.sam_refine(h, _image(64, 64), rough_mask=torch.ones(32, 32))
    with pytest.raises(ValueError, match="rough mask, points or a box"):
        S.sam_refine(h, _image(64, 64))


def test_real_tiny_sam_pipeline_shapes_and_determinism(tiny_ckpt):
    """The untouched random-weight model end to end on a non-square image: the result is the best
    predicted-IoU mask after clean-up, binary float32 [H,W], identical on a second run."""
    h = S.load_sam(tiny_ckpt)
    img = _image(48, 80)
    info = {}
    a = S.sam_cutout(h, img, info=info)
    b = S.sam_cutout(h, img)
    masks, scores = S.sam_predict(h, img, box=S.default_box(48, 80))
    assert info["chosen"] == int(torch.argmax(scores))
    assert torch.equal(a, S.clean_mask(masks[info["chosen"]].float()))
    assert torch.equal(a, b) and a.shape == (48, 80) and a.dtype == torch.float32
    r1 = S.sam_refine(h, img, points=[(40, 20)])
    r2 = S.sam_refine(h, img, points=[(40, 20)])
    assert torch.equal(r1, r2) and r1.shape == (48, 80)


# --- mask clean-up ----------------------------------------------------------------------------------

def test_fill_holes_respects_size_and_border():
    m = torch.zeros(40, 40)
    m[5:35, 5:35] = 1
    m[10:12, 10:12] = 0      # 4 px hole
    m[20:30, 20:30] = 0      # 100 px hole
    m[5:35, 0:5] = 0
    area = float(m.sum())
    small = S.fill_holes(m, max_fraction=10 / area)
    assert small[10:12, 10:12].eq(1).all() and small[20:30, 20:30].eq(0).all()
    assert S.fill_holes(m, 1.0)[20:30, 20:30].eq(1).all()
    notch = m.clone()
    notch[15:18, 5:8] = 0
    notch[16, 5] = 0  # touches the outside region: not a hole
    notch[15:18, 4] = 0
    filled = S.fill_holes(notch, 1.0)
    assert filled[16, 6] == 0  # a bay open to the background stays open
    assert torch.equal(S.fill_holes(m, 0.0), m)


def test_component_labelling_fallback_matches_scipy(monkeypatch):
    g = torch.Generator().manual_seed(0)
    masks = [torch.rand(60, 70, generator=g) > t for t in (0.3, 0.5, 0.6)]
    ref = [(S.label_components(m, c), c) for m in masks for c in (4, 8)]
    monkeypatch.setitem(sys.modules, "scipy", None)
    for ((lab, n), c), m in zip(ref, [m for m in masks for _ in (4, 8)]):
        lab2, n2 = S.label_components(m, c)
        assert n2 == n and np.array_equal(lab, lab2)
    ring = torch.zeros(20, 20)
    ring[2:18, 2:18] = 1
    ring[5:15, 5:15] = 0
    diag = torch.eye(6)
    assert S.label_components(diag, 8)[1] == 1 and S.label_components(diag, 4)[1] == 6
    assert torch.equal(S.fill_holes(ring)[5:15, 5:15], torch.ones(10, 10))


def test_keep_components_seeds_and_largest():
    m = torch.zeros(30, 30)
    m[2:6, 2:6] = 1
    m[10:25, 10:25] = 1
    assert torch.equal(S.largest_component(m), _block(30, 10, 25))
    assert torch.equal(S.keep_components(m, [(3, 3)]), _block(30, 2, 6))
    assert torch.equal(S.keep_components(m, [(3, 3), (12, 12)]), m)
    assert torch.equal(S.keep_components(m, [(0, 29)]), _block(30, 10, 25))


def _block(n, a, b):
    t = torch.zeros(n, n)
    t[a:b, a:b] = 1
    return t


# --- without SAM --------------------------------------------------------------------------------------

def _star(h, w, cx, cy, r0, r1, n=5):
    ys, xs = torch.meshgrid(torch.arange(h).float() + 0.5, torch.arange(w).float() + 0.5, indexing="ij")
    a = torch.atan2(ys - cy, xs - cx)
    rad = r0 + (r1 - r0) * (0.5 + 0.5 * torch.cos(n * a))
    return (torch.hypot(ys - cy, xs - cx) <= rad).float()


def _textured(h, w):
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    return torch.stack([0.5 + 0.3 * torch.sin(xs / 3), 0.3 + 0.2 * torch.cos(ys / 4),
                        0.2 + 0.1 * torch.sin((xs + ys) / 5)], -1)


def _iou(a, b):
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum()) / float((a | b).sum())


@pytest.mark.parametrize("bg,noise,gradient", [
    ((0.95, 0.95, 0.95), 0.0, 0.0),
    ((0.95, 0.95, 0.95), 0.02, 0.0),   # mild sensor noise on a white sweep
    ((0.10, 0.60, 0.20), 0.03, 0.2),   # green screen with a lighting gradient and noise
])
def test_border_color_cutout_matches_true_silhouette(bg, noise, gradient):
    h, w = 160, 200
    truth = _star(h, w, 100, 85, 30, 65)
    xs = torch.arange(w).float()[None, :, None] / w
    back = torch.tensor(bg).view(1, 1, 3) + gradient * xs
    img = back * (1 - truth[..., None]) + _textured(h, w) * truth[..., None]
    g = torch.Generator().manual_seed(1)
    img = (img + noise * torch.randn(h, w, 3, generator=g)).clamp(0, 1)
    out = S.border_color_cutout(img[None])
    assert out.shape == (h, w) and out.dtype == torch.float32
    assert _iou(out, truth) >= 0.95


def test_border_color_cutout_object_touching_border_interior_patch_and_specks():
    h, w = 120, 120
    truth = torch.zeros(h, w)
    truth[40:120, 30:90] = 1  # a product cut by the bottom edge of the frame
    img = torch.full((h, w, 3), 0.92)
    img[truth > 0] = torch.tensor([0.2, 0.3, 0.7])
    img[70:80, 50:60] = 0.92  # a white label on the product: same colour as the background
    img[10:12, 10:12] = 0.1   # dust specks on the background
    img[15, 100] = 0.0
    out = S.border_color_cutout(img)
    assert _iou(out, truth) >= 0.99
    assert out[75, 55] == 1 and out[10, 10] == 0
    keep_hole = S.border_color_cutout(img, max_hole_fraction=0.0)
    assert keep_hole[75, 55] == 0


def test_border_color_cutout_validates_tolerance():
    with pytest.raises(ValueError, match="tolerance"):
        S.border_color_cutout(torch.rand(16, 16, 3), tolerance=0)


def test_given_cutout():
    load_image_mask = torch.zeros(1, 20, 30)
    load_image_mask[:, :5] = 1  # transparent top rows
    img = torch.rand(1, 3, 20, 30)
    obj = S.given_cutout(img, load_image_mask)
    assert torch.equal(obj[0, 0], 1 - load_image_mask[0])
    assert S.given_cutout(img, torch.zeros(64, 64)) is None  # LoadImage's placeholder: no alpha
    rgba = torch.cat([img, torch.ones(1, 1, 20, 30)], 1)
    rgba[0, 3, 10:] = 0.25
    assert torch.equal(S.given_cutout(rgba)[0, 0], rgba[0, 3])
    assert S.given_cutout(torch.ones(1, 4, 20, 30)) is None  # opaque alpha: no cut-out
    with pytest.raises(ValueError, match="same size"):
        S.given_cutout(img, torch.ones(10, 10))


# --- what cutout = auto stands for ----------------------------------------------------------------

def _logo_rgba() -> np.ndarray:
    """skimage's RGBA logo with its white ground made transparent (as the browser tests' target)."""
    from skimage import data
    logo = data.logo().copy()
    logo[..., 3] = np.where(logo[..., :3].min(-1) > 235, 0, 255)
    return logo


def _as_loadimage(rgba: np.ndarray, stored=None) -> tuple[torch.Tensor, torch.Tensor]:
    """LoadImage's IMAGE (RGB: the colour stored under the transparency stays) and MASK (1 − alpha),
    as [B,C,H,W] / [B,H,W]; ``stored`` replaces the colour under the fully transparent pixels."""
    rgba = rgba.copy()
    if stored is not None:
        rgba[rgba[..., 3] == 0, :3] = stored
    t = torch.from_numpy(rgba).float() / 255.0
    return t[..., :3].permute(2, 0, 1)[None].contiguous(), 1.0 - t[..., 3][None]


@pytest.mark.parametrize("stored", [(0, 0, 0), (255, 255, 255), None], ids=["black", "white", "as saved"])
def test_auto_cuts_out_a_transparent_png_loaded_without_its_mask(stored):
    """The most natural wiring: only LoadImage's IMAGE on target (no alpha, the mask left off). The
    transparent area is one stored colour; auto cuts it away instead of pasting the whole rectangle."""
    rgba = _logo_rgba()
    rgb, mask = _as_loadimage(rgba, stored)
    alpha = torch.from_numpy(rgba[..., 3] > 0)
    assert S.auto_cutout(rgb, None) == "color key"
    got = S.cut_out(rgb, None, "auto")[0, 0] > 0.5
    iou = (got & alpha).sum() / (got | alpha).sum()
    assert iou > 0.9, float(iou)
    # the same with the mask connected: the mask, exactly
    assert S.auto_cutout(rgb, mask) == "mask or alpha"
    assert torch.equal(S.cut_out(rgb, mask, "auto")[0, 0], (1.0 - mask[0]).clamp(0, 1))


def test_auto_cuts_out_a_studio_shot_on_a_plain_background():
    from skimage import data
    logo = data.logo()[..., :3]  # the logo on its opaque white ground, no alpha at all
    rgb = torch.from_numpy(logo.copy()).float().permute(2, 0, 1)[None] / 255.0
    assert S.auto_cutout(rgb) == "color key"  # a drawn, exactly white ground
    # photographed: the backdrop has sensor noise
    rgb = (rgb + 0.012 * torch.randn(rgb.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert S.auto_cutout(rgb) == "border color"
    obj = S.cut_out(rgb, None, "auto")
    assert 0.05 < float(obj.mean()) < 0.9


@pytest.mark.parametrize("photo", ["chelsea", "astronaut", "coffee"])
def test_auto_keeps_a_photo_whole(photo):
    """A photo's border is texture and light, not one colour: the whole image, as before."""
    from skimage import data
    rgb = torch.from_numpy(getattr(data, photo)().copy()).float().permute(2, 0, 1)[None] / 255.0
    assert not S.plain_border(rgb[0].permute(1, 2, 0))
    assert S.auto_cutout(rgb) == "whole image"
    assert torch.equal(S.cut_out(rgb, None, "auto"), torch.ones_like(rgb[:, :1]))


def test_auto_keeps_a_plain_image_whole_and_prefers_a_connected_sam():
    flat = torch.full((1, 3, 32, 32), 0.4)
    assert S.plain_border(flat[0].permute(1, 2, 0)) and S.auto_cutout(flat) == "whole image"
    noisy = (flat + 0.01 * torch.randn(flat.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert torch.equal(S.cut_out(flat, None, "auto"), torch.ones_like(flat[:, :1]))
    square = flat.clone()
    square[..., 8:24, 8:24] = 0.9
    assert S.auto_cutout(square) == "color key"  # one exact colour around it
    assert torch.equal(S.cut_out(square, None, "auto")[0, 0] > 0.5, square[0, 0] > 0.5)
    noisy[..., 8:24, 8:24] = 0.9
    assert S.auto_cutout(noisy) == "border color"  # a backdrop with noise: the border-colour cut-out
    assert S.auto_cutout(square, sam=object()) == "sam"  # a SAM model connected: the user asked for it


def test_auto_cuts_out_a_tight_png_whose_object_touches_the_border():
    """A cut-out saved tight to the object (it touches the edges): half the border is still the one
    colour stored under the transparency, and that is keyed out."""
    from PIL import Image
    rgba = np.asarray(Image.fromarray(_logo_rgba()).resize((96, 96), Image.LANCZOS)).copy()
    rgb, _mask = _as_loadimage(rgba)
    assert S.border_kind(rgb[0].permute(1, 2, 0)) == "color key"
    got = S.cut_out(rgb, None, "auto")[0, 0] > 0.5
    alpha = torch.from_numpy(rgba[..., 3] > 127)
    assert (got & alpha).sum() / (got | alpha).sum() > 0.85


def test_key_colour_keeps_a_near_colour_inside_the_object_and_removes_an_enclosed_hole():
    """A PNG stored over black, loaded without its mask: the black reaching the border and an
    enclosed transparent hole (stored as exactly that black) are background; a dark stripe of the
    object (near black, not the stored colour) stays the object's."""
    img = torch.zeros(64, 64, 3)
    img[8:56, 8:56] = 0.5          # the object
    img[20:24, 10:54] = 0.03       # a dark stripe of it
    img[36:44, 28:36] = 0.0        # an enclosed transparent hole (the stored colour)
    obj = S.key_color_cutout(img)
    assert bool((obj[20:24, 10:54] == 1).all()), "the stripe belongs to the object"
    assert bool((obj[36:44, 28:36] == 0).all()), "the enclosed hole is transparent"
    assert bool((obj[:8] == 0).all()) and int(obj.sum()) == 48 * 48 - 64
