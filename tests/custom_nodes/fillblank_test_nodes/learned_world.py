"""The learned world's models as ComfyUI's own objects (imports ComfyUI: test-only; the benchmarks
import it too).

``learned_checkpoint(kind)`` -> (MODEL, VAE, CONDITIONING):
* MODEL: a real ``comfy.model_base.BaseModel`` in a ``ModelPatcher`` whose ``diffusion_model`` is the
  trained ``fillblank_lab.learned.LatentUNet``; ComfyUI's own model sampling does the rest
  (``ModelSamplingDiscrete`` for "eps" and "student": input scaling x/√(σ²+1), σ → timestep, the
  denoised ``x − σ·ε``; ``ModelSamplingDiscreteFlow`` for "flow", shift 3, multiplier 1000), and the
  latent format is ComfyUI's ``SD15`` (process_in = raw · 0.18215), as an SD1.5 checkpoint has.
* VAE: the trained ``fillblank_lab.learned.LearnedVAE`` itself — like the evidence world's
  ``EvidenceVAE`` it has what VAEEncode / VAEDecode and the pack's nodes call (``encode(BHWC)`` ->
  raw latent, ``decode(raw)`` -> BHWC, ``downscale_ratio``).
* CONDITIONING: the empty conditioning ComfyUI passes as ``context`` (the U-Nets are unconditional).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[3]

CONTEXT_DIM = 32
KINDS = ("eps", "flow", "student")
_CACHE: dict = {}


def _base_model(kind: str, net: torch.nn.Module):
    import comfy.latent_formats
    import comfy.model_base
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models_base

    flow = kind == "flow"
    # a minimal UNetModel config: ComfyUI builds a small placeholder, replaced by the trained network
    unet_config = {"in_channels": 4, "out_channels": 4, "model_channels": 32, "num_res_blocks": 1,
                   "channel_mult": [1], "num_heads": 1, "num_head_channels": -1,
                   "transformer_depth": [0], "transformer_depth_output": [0, 0],
                   "transformer_depth_middle": 0, "context_dim": CONTEXT_DIM, "use_linear_in_transformer": True,
                   "adm_in_channels": None, "use_spatial_transformer": True, "dims": 2,
                   "use_checkpoint": False, "image_size": 32, "num_classes": None}

    class Config(comfy.supported_models_base.BASE):
        unet_extra_config = {"num_heads": 1, "num_head_channels": -1}
        sampling_settings = {"shift": 3.0, "multiplier": 1000} if flow else {}
        latent_format = comfy.latent_formats.SD15

        def model_type(self, state_dict, prefix=""):
            return comfy.model_base.ModelType.FLOW if flow else comfy.model_base.ModelType.EPS

        def inpaint_model(self):
            return False

    model = Config(dict(unet_config)).get_model({}, device="cpu")
    model.diffusion_model = net
    model.eval()
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=comfy.model_management.unet_offload_device())


def empty_conditioning(batch: int = 1):
    return [[torch.zeros(batch, 1, CONTEXT_DIM), {}]]


def learned_checkpoint(kind: str = "eps", unet_path=None, vae_path=None):
    """(MODEL, VAE, CONDITIONING) of the learned world's ``kind`` model ("eps", "flow", "student"),
    from the shipped weights in fillblank_lab/assets/ (or the given paths); cached per paths."""
    if str(REPO) not in sys.path:  # appended: the repository's nodes/ must never shadow ComfyUI's nodes.py
        sys.path.append(str(REPO))
    from fillblank_lab import learned as L
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    key = (kind, str(unet_path), str(vae_path))
    if key not in _CACHE:
        net = L.load_unet(kind, Path(unet_path) if unet_path else None)
        vae = L.load_vae(Path(vae_path) if vae_path else L.VAE_PATH)
        _CACHE[key] = (_base_model(kind, net), vae)
    model, vae = _CACHE[key]
    return model, vae, empty_conditioning()


class FillBlankTestLearnedCheckpoint:
    """The learned world's model (eps / flow / student), VAE and empty conditioning, as a checkpoint
    loader + CLIPTextEncode would give them."""
    CATEGORY = "fillblank/testing"
    FUNCTION = "load"
    RETURN_TYPES = ("MODEL", "VAE", "CONDITIONING")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"kind": (list(KINDS), {"default": "eps"})}}

    def load(self, kind):
        return learned_checkpoint(kind)
