"""The lab's CLIP image encoder (for the demo, ranking tests and benchmarks), through transformers
(imported lazily). The product's nodes embed with ComfyUI's own CLIP_VISION instead
(``fillblank_core.clip.comfy_embed_fn``).

:class:`ClipImageEncoder` wraps a ``transformers.CLIPVisionModelWithProjection`` loaded from

* a local ``save_pretrained`` folder (:meth:`ClipImageEncoder.from_folder`, never downloads), or
* a ComfyUI ``models/clip_vision`` file (:meth:`ClipImageEncoder.from_comfy_safetensors`):
  transformers key names (``vision_model.…``, ``visual_projection.weight``; any prefix before
  ``vision_model.`` is dropped, a file without the ``vision_model.`` prefix gets it), or the
  open_clip layout ComfyUI also converts (``visual.transformer.resblocks.…``). The
  ``CLIPVisionConfig`` is read from the tensor shapes (see :func:`detect_clip_vision_config`).

``encode(images [B,H,W,C] 0..1) -> [B,D]`` L2-normalised embeddings, with CLIP's preprocessing
(shortest side to the model's image size, bicubic with antialiasing, centre crop, 8-bit
quantisation, CLIP mean/std) done in torch the way ComfyUI's ``clip_preprocess`` does it.
"""

from __future__ import annotations

import json
import os
import re
from typing import Optional

import torch

import torch.nn.functional as F

from fillblank_core import masks as M
from fillblank_core.checkpoints import (WEIGHT_EXTENSIONS, check_readable, describe_mismatch, file_label,
                                        printable, read_state_dict)

CLIP_FOLDER = "models/clip_vision"
CLIP_ADVICE = ("Download the official CLIP vision model (e.g. clip_vision_vit_h.safetensors / "
               "CLIP-ViT-H-14-laion2B-s32B-b79K model.safetensors, or a transformers save_pretrained "
               f"folder) again into ComfyUI's {CLIP_FOLDER} folder.")
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Attention heads cannot be read from tensor shapes. The published CLIP vision towers ComfyUI
# ships configs for: ViT-B (768: 12 heads), ViT-L/14 (1024: 16), ViT-H/14 (1280: 16),
# ViT-bigG/14 (1664: 16). Other widths: hidden_size // 64 (head dim 64, as in ViT-B/L).
KNOWN_HEADS = {768: 12, 1024: 16, 1280: 16, 1664: 16}
# OpenAI's towers (ViT-B, ViT-L) use quick_gelu, LAION's open_clip ViT-H and ViT-bigG use gelu
# (ComfyUI's clip_vision_config_{vitl,h,g}.json); also not readable from shapes.
GELU_WIDTHS = (1280, 1664)


class ClipLoadError(ValueError):
    """A CLIP vision model could not be loaded; the message names the file and the folder."""


def _load_error(path, reason: str, name: Optional[str] = None) -> ClipLoadError:
    """Which file or folder (its name), why it was not loaded, what to do; never torch's text."""
    name = name or (file_label(path) if path not in (None, "") else None)
    which = f" '{name}'" if name else ""
    return ClipLoadError(f"Could not load the CLIP vision model{which}: {reason}. {CLIP_ADVICE}")


def _not_clip(e: BaseException) -> str:
    what = e.args[0] if isinstance(e, KeyError) and e.args else e
    return f"it is not a CLIP vision model with projection ({printable(what)})"


def _folder_failure(path: str, e: BaseException) -> tuple[str, Optional[str]]:
    """(reason, name) for a save_pretrained folder transformers could not load: a weights file
    that cannot be read safely is named with its own reason; otherwise transformers' first line,
    unless it is torch's advice on unsafe loading."""
    for fname in sorted(os.listdir(path)):
        full = os.path.join(path, fname)
        if fname.lower().endswith(WEIGHT_EXTENSIONS) and os.path.isfile(full):
            reason = check_readable(full)
            if reason:
                return reason, f"{file_label(path)}/{file_label(fname)}"
    text = str(e).strip().splitlines()
    detail = printable(text[0], 200) if text else ""
    if re.search(r"weights_only|two options|trust", detail, re.IGNORECASE):
        detail = ""
    return (f"transformers could not build a CLIP vision model from it ({type(e).__name__}"
            f"{': ' + detail if detail else ''})"), None


def heads_for(hidden_size: int) -> int:
    """Attention heads for a CLIP vision width (see KNOWN_HEADS)."""
    return KNOWN_HEADS.get(int(hidden_size), max(1, int(hidden_size) // 64))


# --- state-dict conversion and config detection ---------------------------------------------------

def _convert_open_clip(sd: dict, prefix: str) -> dict:
    """open_clip's visual tower (``visual.transformer.resblocks.…``) -> transformers key names, as
    ComfyUI's ``convert_to_transformers`` does."""
    out = {}
    simple = {"class_embedding": "vision_model.embeddings.class_embedding",
              "conv1.weight": "vision_model.embeddings.patch_embedding.weight",
              "positional_embedding": "vision_model.embeddings.position_embedding.weight",
              "ln_pre.weight": "vision_model.pre_layrnorm.weight",
              "ln_pre.bias": "vision_model.pre_layrnorm.bias",
              "ln_post.weight": "vision_model.post_layernorm.weight",
              "ln_post.bias": "vision_model.post_layernorm.bias"}
    block = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1",
             "mlp.c_proj": "mlp.fc2", "attn.out_proj": "self_attn.out_proj"}
    pat = re.compile(re.escape(prefix) + r"transformer\.resblocks\.(\d+)\.(.+)[._](weight|bias)$")
    for k, v in sd.items():
        if not k.startswith(prefix):
            continue
        rest = k[len(prefix):]
        if rest in simple:
            out[simple[rest]] = v
        elif rest == "proj":
            out["visual_projection.weight"] = v.t().contiguous()
        elif (m := pat.match(k)):
            i, name, kind = m.groups()
            base = f"vision_model.encoder.layers.{i}."
            if name in block:
                out[f"{base}{block[name]}.{kind}"] = v
            elif name == "attn.in_proj":
                for part, t in zip(("q_proj", "k_proj", "v_proj"), v.chunk(3, dim=0)):
                    out[f"{base}self_attn.{part}.{kind}"] = t.contiguous()
    return out


def convert_clip_vision_state_dict(sd: dict) -> dict:
    """A CLIP vision state dict in transformers' ``CLIPVisionModelWithProjection`` key names.

    Accepts transformers keys with any prefix before ``vision_model.`` (ComfyUI's own files,
    IPAdapter image encoders, full CLIPModel checkpoints: text keys are dropped), keys without the
    ``vision_model.`` prefix, and open_clip's ``visual.`` layout. Drops ``position_ids``."""
    keys = list(sd)
    oc = [k for k in keys if k.endswith("transformer.resblocks.0.attn.in_proj_weight")
          and "visual" in k]
    if oc:
        return _convert_open_clip(sd, oc[0][: -len("transformer.resblocks.0.attn.in_proj_weight")])
    anchor = [k for k in keys if k.endswith("embeddings.patch_embedding.weight")]
    if not anchor:
        raise KeyError("no CLIP patch embedding (…embeddings.patch_embedding.weight)")
    a = min(anchor, key=len)
    if a.endswith("vision_model.embeddings.patch_embedding.weight"):
        root = a[: -len("vision_model.embeddings.patch_embedding.weight")]
        vision_prefix = root + "vision_model."
    else:
        root = a[: -len("embeddings.patch_embedding.weight")]
        vision_prefix = root
    parts = ("embeddings.", "encoder.", "pre_layrnorm.", "post_layernorm.")
    out = {}
    for k, v in sd.items():
        if k == root + "visual_projection.weight":
            out["visual_projection.weight"] = v
        elif k.startswith(vision_prefix) and k[len(vision_prefix):].startswith(parts):
            out["vision_model." + k[len(vision_prefix):]] = v
    if "visual_projection.weight" not in out and "visual_projection.weight" in sd:
        out["visual_projection.weight"] = sd["visual_projection.weight"]
    out.pop("vision_model.embeddings.position_ids", None)
    return out


def _count_layers(sd: dict) -> int:
    n = 0
    while f"vision_model.encoder.layers.{n}.layer_norm1.weight" in sd:
        n += 1
    return n


def detect_clip_vision_config(sd: dict) -> dict:
    """``CLIPVisionConfig`` arguments read from a converted state dict's tensor shapes.

    hidden_size, num_channels and patch_size from the patch embedding; image_size from the
    position embedding (grid² + 1 class token); num_hidden_layers by counting; intermediate_size
    from ``mlp.fc1``; projection_dim from ``visual_projection``. Not in the shapes:
    num_attention_heads (:func:`heads_for`: 16 for the 1024/1280/1664-wide ViT-L/H/bigG, 12 for
    768-wide ViT-B, else hidden_size // 64) and hidden_act (gelu for 1280/1664-wide open_clip
    towers, quick_gelu for OpenAI's), both as in ComfyUI's configs; layer_norm_eps 1e-5."""
    pe = sd["vision_model.embeddings.patch_embedding.weight"]
    hidden, chans, patch = int(pe.shape[0]), int(pe.shape[1]), int(pe.shape[2])
    npos = int(sd["vision_model.embeddings.position_embedding.weight"].shape[0])
    grid = int(round((npos - 1) ** 0.5))
    if grid * grid + 1 != npos:
        raise ValueError(f"position embedding of {npos} tokens is not a square grid plus a class token")
    if "visual_projection.weight" not in sd:
        raise KeyError("no visual_projection.weight (a CLIP vision model without projection)")
    layers = _count_layers(sd)
    if layers == 0:
        raise KeyError("no encoder layers")
    return dict(
        hidden_size=hidden, num_channels=chans, patch_size=patch, image_size=grid * patch,
        num_hidden_layers=layers,
        intermediate_size=int(sd["vision_model.encoder.layers.0.mlp.fc1.weight"].shape[0]),
        projection_dim=int(sd["visual_projection.weight"].shape[0]),
        num_attention_heads=heads_for(hidden),
        hidden_act="gelu" if hidden in GELU_WIDTHS else "quick_gelu",
        layer_norm_eps=1e-5,
    )


def _read_tensors(path: str) -> dict:
    return read_state_dict(path, _load_error, "CLIP vision model")


# --- the encoder ---------------------------------------------------------------------------------

class ClipImageEncoder:
    """CLIP image embeddings [B,D] (L2-normalised) from ComfyUI IMAGE batches. Callable, so an
    instance can be passed as ``embed_fn`` to :func:`fillblank_core.rank.rank_candidates`."""

    def __init__(self, model, image_size: Optional[int] = None, mean=CLIP_MEAN, std=CLIP_STD,
                 source: Optional[str] = None):
        self.model = model.eval()
        self.config = model.config
        self.image_size = int(image_size or model.config.image_size)
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)
        self.source = source

    @property
    def embed_dim(self) -> int:
        return int(self.config.projection_dim)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def __repr__(self) -> str:
        return (f"ClipImageEncoder({os.path.basename(self.source or '?')}, width "
                f"{self.config.hidden_size}, {self.config.num_hidden_layers} layers, dim {self.embed_dim})")

    @classmethod
    def from_folder(cls, path, device="cpu", dtype=torch.float32) -> "ClipImageEncoder":
        """A transformers ``save_pretrained`` folder (config.json + weights), loaded with
        ``local_files_only=True``; image size/mean/std from its preprocessor_config.json if any."""
        path = str(path)
        if not os.path.isdir(path) or not os.path.isfile(os.path.join(path, "config.json")):
            raise _load_error(path, "it is not a folder with a config.json (a transformers "
                                    "save_pretrained folder)")
        from transformers import CLIPVisionModelWithProjection
        try:
            model = CLIPVisionModelWithProjection.from_pretrained(path, local_files_only=True)
        except Exception as e:
            reason, name = _folder_failure(path, e)
            raise _load_error(path, reason, name) from None
        size, mean, std = None, CLIP_MEAN, CLIP_STD
        pp = os.path.join(path, "preprocessor_config.json")
        if os.path.isfile(pp):
            try:
                with open(pp) as f:
                    cfg = json.load(f)
                crop = cfg.get("crop_size")
                size = crop.get("height") if isinstance(crop, dict) else crop
                mean, std = cfg.get("image_mean", mean), cfg.get("image_std", std)
            except (OSError, ValueError, AttributeError):
                pass
        return cls(model.to(device=device, dtype=dtype), image_size=size, mean=mean, std=std, source=path)

    @classmethod
    def from_state_dict(cls, sd: dict, source: Optional[str] = None, device="cpu",
                        dtype=torch.float32, **config_overrides) -> "ClipImageEncoder":
        """Build from a state dict in any layout :func:`convert_clip_vision_state_dict` accepts,
        with the config detected from shapes (``config_overrides`` replace detected values, e.g.
        ``num_attention_heads`` or ``hidden_act`` for an unusual tower). Loads strictly."""
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
        try:
            hf = convert_clip_vision_state_dict(sd)
            cfg = detect_clip_vision_config(hf)
        except (KeyError, ValueError, IndexError) as e:
            raise _load_error(source, _not_clip(e)) from None
        cfg.update(config_overrides)
        if cfg["hidden_size"] % cfg["num_attention_heads"]:
            raise _load_error(source, f"{cfg['num_attention_heads']} heads do not divide the width "
                                      f"{cfg['hidden_size']}")
        model = CLIPVisionModelWithProjection(CLIPVisionConfig(**cfg))
        hf = {k: v.to(dtype) if v.is_floating_point() else v for k, v in hf.items()}
        try:
            model.load_state_dict(hf, strict=True)
        except RuntimeError:  # worded by us: torch's text lists every key
            detail = describe_mismatch({k: v.shape for k, v in model.state_dict().items()}, hf)
            raise _load_error(source, "it is not a complete CLIP vision model: its tensors do not fit "
                                      "the CLIP config read from it"
                                      + (f" ({detail})" if detail else "")) from None
        return cls(model.to(device=device, dtype=dtype), source=source)

    @classmethod
    def from_comfy_safetensors(cls, path, device="cpu", dtype=torch.float32,
                               **config_overrides) -> "ClipImageEncoder":
        """A ComfyUI ``models/clip_vision`` file (.safetensors; .bin/.pt/.pth are read with
        ``weights_only=True``), config detected from the tensor shapes."""
        path = str(path)
        return cls.from_state_dict(_read_tensors(path), source=path, device=device, dtype=dtype,
                                   **config_overrides)

    @classmethod
    def from_path(cls, path, **kw) -> "ClipImageEncoder":
        """A folder -> :meth:`from_folder`, a file -> :meth:`from_comfy_safetensors`."""
        return cls.from_folder(path, **kw) if os.path.isdir(str(path)) else cls.from_comfy_safetensors(path, **kw)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[B,H,W,C] 0..1 -> CLIP pixel values [B,3,S,S]: shortest side to S (bicubic, antialiased),
        centre crop, 8-bit quantisation, CLIP mean/std (as ComfyUI's clip_preprocess)."""
        x = M.image_bhwc(images, "images", channels=(3, 4)).cpu()[..., :3].movedim(-1, 1).float()
        s = self.image_size
        h, w = x.shape[-2:]
        if (h, w) != (s, s):
            scale = s / min(h, w)
            x = F.interpolate(x, size=(max(s, round(scale * h)), max(s, round(scale * w))),
                              mode="bicubic", antialias=True, align_corners=False)
            top, left = (x.shape[-2] - s) // 2, (x.shape[-1] - s) // 2
            x = x[..., top:top + s, left:left + s]
        x = (x.clamp(0, 1) * 255.0).round() / 255.0
        mean = torch.tensor(self.mean, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def encode(self, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
        """L2-normalised image embeddings [B, projection_dim], float32 on the CPU."""
        px = self.preprocess(images)
        dev, dt = self.device, next(self.model.parameters()).dtype
        outs = []
        for i in range(0, px.shape[0], max(1, int(batch_size))):
            out = self.model(pixel_values=px[i:i + batch_size].to(dev, dt))
            outs.append(out.image_embeds.float().cpu())
        return F.normalize(torch.cat(outs), dim=-1)

    __call__ = encode
