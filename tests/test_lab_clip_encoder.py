"""fillblank_lab.clip_encoder: a tiny CLIPVisionModelWithProjection loaded from a save_pretrained folder and
from ComfyUI-style clip_vision files (config detected from shapes), preprocessing, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fillblank_core import clip as CC
from fillblank_lab import clip_encoder as C

# width 128 -> 2 heads by the hidden_size // 64 rule for non-published widths
TINY = dict(hidden_size=128, intermediate_size=256, projection_dim=24, num_hidden_layers=2,
            num_attention_heads=2, image_size=32, patch_size=8, hidden_act="quick_gelu",
            layer_norm_eps=1e-5)


@pytest.fixture(scope="module")
def tiny_model():
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    torch.manual_seed(0)
    return CLIPVisionModelWithProjection(CLIPVisionConfig(**TINY)).eval()


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ComfyUI") / "models" / "clip_vision"
    d.mkdir(parents=True)
    return d


@pytest.fixture(scope="module")
def folder(tiny_model, clip_dir) -> Path:
    p = clip_dir / "tiny-clip"
    tiny_model.save_pretrained(p)
    return p


def _save(sd: dict, path: Path) -> Path:
    import safetensors.torch
    safetensors.torch.save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    return path


def _images(b=3, h=40, w=56, seed=0):
    return torch.rand(b, h, w, 3, generator=torch.Generator().manual_seed(seed))


def test_from_folder_matches_the_saved_model(tiny_model, folder):
    enc = C.ClipImageEncoder.from_folder(folder)
    assert enc.embed_dim == 24 and enc.image_size == 32
    x = _images()
    e = enc.encode(x)
    assert e.shape == (3, 24) and e.dtype == torch.float32
    assert torch.allclose(e.norm(dim=-1), torch.ones(3), atol=1e-6)
    with torch.no_grad():
        ref = F.normalize(tiny_model(pixel_values=enc.preprocess(x)).image_embeds, dim=-1)
    assert torch.allclose(e, ref, atol=1e-6)
    assert torch.equal(e, enc(x))  # callable: usable as rank's embed_fn
    assert torch.equal(e, enc.encode(x))  # deterministic
    assert torch.allclose(enc.encode(x, batch_size=1), e, atol=1e-5)
    assert not torch.allclose(e[0], e[1])


def test_comfy_safetensors_detects_config_and_gives_identical_embeddings(tiny_model, folder, clip_dir):
    sd = dict(tiny_model.state_dict())
    sd["vision_model.embeddings.position_ids"] = torch.arange(17)[None]  # older files carry it
    path = _save(sd, clip_dir / "tiny_clip_vision.safetensors")
    enc = C.ClipImageEncoder.from_comfy_safetensors(path)
    cfg = enc.config
    for k, v in TINY.items():
        assert getattr(cfg, k) == v, k
    assert cfg.num_channels == 3
    x = _images()
    assert torch.equal(enc.encode(x), C.ClipImageEncoder.from_folder(folder).encode(x))


def _open_clip_layout(sd: dict) -> dict:
    """The same weights in open_clip's ``visual.`` layout (what ComfyUI converts on load)."""
    out = {"visual.class_embedding": sd["vision_model.embeddings.class_embedding"],
           "visual.conv1.weight": sd["vision_model.embeddings.patch_embedding.weight"],
           "visual.positional_embedding": sd["vision_model.embeddings.position_embedding.weight"],
           "visual.ln_pre.weight": sd["vision_model.pre_layrnorm.weight"],
           "visual.ln_pre.bias": sd["vision_model.pre_layrnorm.bias"],
           "visual.ln_post.weight": sd["vision_model.post_layernorm.weight"],
           "visual.ln_post.bias": sd["vision_model.post_layernorm.bias"],
           "visual.proj": sd["visual_projection.weight"].t().contiguous(),
           "token_embedding.weight": torch.zeros(10, 8)}  # text tower keys are ignored
    for i in range(TINY["num_hidden_layers"]):
        a, b = f"vision_model.encoder.layers.{i}.", f"visual.transformer.resblocks.{i}."
        for kind in ("weight", "bias"):
            out[f"{b}attn.in_proj_{kind}"] = torch.cat(
                [sd[f"{a}self_attn.{p}.{kind}"] for p in ("q_proj", "k_proj", "v_proj")])
            for src, dst in (("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"),
                             ("mlp.c_proj", "mlp.fc2"), ("attn.out_proj", "self_attn.out_proj")):
                out[f"{b}{src}.{kind}"] = sd[f"{a}{dst}.{kind}"]
    return out


@pytest.mark.parametrize("layout", ["no_vision_model_prefix", "extra_prefix", "full_clip", "open_clip", "pth"])
def test_other_key_layouts_load_to_the_same_model(tiny_model, folder, clip_dir, layout):
    sd = tiny_model.state_dict()
    if layout == "no_vision_model_prefix":
        lay = {k.replace("vision_model.", ""): v for k, v in sd.items()}
    elif layout == "extra_prefix":
        lay = {f"clip_vision.{k}": v for k, v in sd.items()}
    elif layout == "full_clip":  # a whole CLIPModel checkpoint: text keys dropped
        lay = {**sd, "text_model.embeddings.token_embedding.weight": torch.zeros(10, 8),
               "text_projection.weight": torch.zeros(24, 8), "logit_scale": torch.tensor(1.0)}
    elif layout == "open_clip":
        lay = _open_clip_layout(sd)
    else:
        lay = sd
    if layout == "pth":
        path = clip_dir / "tiny.pth"
        torch.save(dict(lay), path)
    else:
        path = _save(dict(lay), clip_dir / f"tiny_{layout}.safetensors")
    enc = C.ClipImageEncoder.from_comfy_safetensors(path)
    x = _images(2)
    assert torch.allclose(enc.encode(x), C.ClipImageEncoder.from_folder(folder).encode(x), atol=1e-6)


def test_heads_and_activation_rules_of_published_widths():
    assert [C.heads_for(w) for w in (768, 1024, 1280, 1664, 128, 512)] == [12, 16, 16, 16, 2, 8]
    sd = {"vision_model.embeddings.patch_embedding.weight": torch.empty(1280, 3, 14, 14, device="meta"),
          "vision_model.embeddings.position_embedding.weight": torch.empty(257, 1280, device="meta"),
          "visual_projection.weight": torch.empty(1024, 1280, device="meta"),
          **{f"vision_model.encoder.layers.{i}.layer_norm1.weight": torch.empty(1280, device="meta")
             for i in range(32)},
          "vision_model.encoder.layers.0.mlp.fc1.weight": torch.empty(5120, 1280, device="meta")}
    cfg = C.detect_clip_vision_config(sd)  # ComfyUI's clip_vision_config_h.json
    assert cfg == dict(hidden_size=1280, num_channels=3, patch_size=14, image_size=224,
                       num_hidden_layers=32, intermediate_size=5120, projection_dim=1024,
                       num_attention_heads=16, hidden_act="gelu", layer_norm_eps=1e-5)


def test_config_overrides(tiny_model, clip_dir):
    path = _save(dict(tiny_model.state_dict()), clip_dir / "tiny_override.safetensors")
    one_head = C.ClipImageEncoder.from_comfy_safetensors(path, num_attention_heads=1)
    assert one_head.config.num_attention_heads == 1
    x = _images(2)
    assert not torch.allclose(one_head.encode(x), C.ClipImageEncoder.from_comfy_safetensors(path).encode(x))
    with pytest.raises(C.ClipLoadError, match="do not divide"):
        C.ClipImageEncoder.from_comfy_safetensors(path, num_attention_heads=3)


def test_preprocess_resizes_centre_crops_and_normalises(folder):
    enc = C.ClipImageEncoder.from_folder(folder)
    # 32x64: shortest side already 32, so only a centre crop (columns 16..47) remains
    img = torch.zeros(1, 32, 64, 3)
    img[:, :, :16] = torch.tensor([1.0, 0, 0])
    img[:, :, 16:48] = torch.tensor([0.2, 0.6, 0.4])
    img[:, :, 48:] = torch.tensor([0, 0, 1.0])
    px = enc.preprocess(img)
    assert px.shape == (1, 3, 32, 32)
    q = torch.tensor([0.2, 0.6, 0.4]).mul(255).round().div(255)
    expect = (q - torch.tensor(C.CLIP_MEAN)) / torch.tensor(C.CLIP_STD)
    assert torch.allclose(px[0].permute(1, 2, 0), expect.expand(32, 32, 3), atol=1e-6)
    big = enc.preprocess(torch.rand(2, 100, 150, 4))  # RGBA: alpha dropped; resized to 32 px short side
    assert big.shape == (2, 3, 32, 32)


def test_preprocessor_config_is_read_from_the_folder(tiny_model, clip_dir):
    p = clip_dir / "tiny-clip-pp"
    tiny_model.save_pretrained(p)
    (p / "preprocessor_config.json").write_text(json.dumps(
        {"crop_size": {"height": 48, "width": 48}, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}))
    enc = C.ClipImageEncoder.from_folder(p)
    assert enc.image_size == 48 and enc.mean == (0.5, 0.5, 0.5)
    assert torch.allclose(enc.preprocess(torch.ones(1, 48, 48, 3)), torch.ones(1, 3, 48, 48))


def _assert_clip_error(excinfo, path):
    msg = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert path.name in msg and "models/clip_vision" in msg


def test_missing_corrupt_and_wrong_files(clip_dir, tmp_path):
    missing = clip_dir / "clip_vision_h.safetensors"
    with pytest.raises(C.ClipLoadError) as e:
        C.ClipImageEncoder.from_comfy_safetensors(missing)
    _assert_clip_error(e, missing)
    with pytest.raises(C.ClipLoadError) as e:
        C.ClipImageEncoder.from_path(missing)
    _assert_clip_error(e, missing)

    garbage = clip_dir / "garbage.safetensors"
    garbage.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 2048, dtype=np.uint8)))
    with pytest.raises(C.ClipLoadError) as e:
        C.ClipImageEncoder.from_comfy_safetensors(garbage)
    _assert_clip_error(e, garbage)

    garbage_pth = clip_dir / "garbage.bin"
    garbage_pth.write_bytes(b"not a pickle at all" * 20)
    with pytest.raises(C.ClipLoadError) as e:
        C.ClipImageEncoder.from_comfy_safetensors(garbage_pth)
    _assert_clip_error(e, garbage_pth)

    wrong = _save({"encoder.weight": torch.zeros(4, 4)}, clip_dir / "wrong.safetensors")
    with pytest.raises(C.ClipLoadError) as e:
        C.ClipImageEncoder.from_comfy_safetensors(wrong)
    _assert_clip_error(e, wrong)
    assert "not a CLIP vision model" in str(e.value)

    no_folder = tmp_path / "empty_dir"
    no_folder.mkdir()
    with pytest.raises(C.ClipLoadError) as e:
        C.ClipImageEncoder.from_folder(no_folder)
    _assert_clip_error(e, no_folder)


def test_missing_tensor_is_an_error(tiny_model, clip_dir):
    sd = dict(tiny_model.state_dict())
    sd.pop("vision_model.post_layernorm.weight")
    path = _save(sd, clip_dir / "incomplete.safetensors")
    with pytest.raises(C.ClipLoadError, match="post_layernorm") as e:
        C.ClipImageEncoder.from_comfy_safetensors(path)
    _assert_clip_error(e, path)


def test_embed_from_comfy_output_and_embed_fn():
    class Output:  # ComfyUI's clip_vision.Output: attribute and item access
        def __getitem__(self, k):
            return getattr(self, k)
    o = Output()
    o.image_embeds = torch.tensor([[3.0, 4.0]], dtype=torch.float16)
    assert torch.allclose(CC.embed_from_comfy_output(o), torch.tensor([[0.6, 0.8]]))
    assert torch.allclose(CC.embed_from_comfy_output({"image_embeds": torch.tensor([0.0, 2.0])}),
                          torch.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="CLIP_VISION_OUTPUT"):
        CC.embed_from_comfy_output({"last_hidden_state": torch.zeros(1, 2)})

    class FakeClipVision:
        def encode_image(self, images):
            o = Output()
            o.image_embeds = images.mean(dim=(1, 2))
            return o
    fn = CC.comfy_embed_fn(FakeClipVision())
    e = fn(torch.rand(4, 8, 8, 3))
    assert e.shape == (4, 3) and torch.allclose(e.norm(dim=-1), torch.ones(4))
