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

from tiny import CONTEXT_DIM, empty_conditioning, model_patcher, unet_config_for  # noqa: F401 (CONTEXT_DIM: tests)

REPO = Path(__file__).resolve().parents[3]

KINDS = ("eps", "flow", "student")
_CACHE: dict = {}


def _base_model(kind: str, net: torch.nn.Module):
    """The trained network in place of the UNet of a placeholder BaseModel (tiny.model_patcher)."""
    import comfy.latent_formats

    settings = {"shift": 3.0, "multiplier": 1000} if kind == "flow" else {}

    def trained(model):
        model.diffusion_model = net
    return model_patcher(comfy.latent_formats.SD15, "FLOW" if kind == "flow" else "EPS", settings,
                         unet_config_for(4), trained)


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
