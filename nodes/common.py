"""Shared node helpers: types, checks that run before any heavy work, conversions."""

from __future__ import annotations

import torch

from ..fillblank_core import masks as M

CATEGORY = "fillblank"
TARGET = "FILLBLANK_TARGET"
LAMBDA = "FILLBLANK_LAMBDA"


def rgb(image: torch.Tensor, name: str, allow_alpha: bool = False) -> torch.Tensor:
    """Check an IMAGE input and return it as [B,C,H,W]."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        raise ValueError(f"{name} must be an IMAGE [batch, height, width, channels], got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    c = image.shape[-1]
    if c != 3 and not (allow_alpha and c == 4):
        want = "RGB or RGBA (3 or 4 channels)" if allow_alpha else "RGB (3 channels)"
        raise ValueError(f"{name} must be an {want} IMAGE, got {c} channel{'s' if c != 1 else ''}"
                         + (" (grayscale: convert it to RGB first)" if c == 1 else "")
                         + (" (RGBA: drop the alpha channel first)" if c == 4 else ""))
    if image.shape[1] < 8 or image.shape[2] < 8:
        raise ValueError(f"{name} is {image.shape[2]}x{image.shape[1]} px; at least 8x8 is needed")
    M.check_finite(image, name)
    return M.to_bchw(image, name)


def batch_of(value) -> int | None:
    """The batch size of an IMAGE, MASK ([H,W] is 1), LATENT dict or FILLBLANK_TARGET; None for
    an input that is not connected."""
    if value is None:
        return None
    if isinstance(value, dict) and "samples" in value:
        value = value["samples"]
    if hasattr(value, "latent") and hasattr(value, "mask"):  # FILLBLANK_TARGET
        value = value.latent
    if isinstance(value, torch.Tensor):
        return 1 if value.ndim == 2 else int(value.shape[0])
    return None


def mask_input(mask: torch.Tensor, name: str, hw: tuple[int, int] | None = None) -> torch.Tensor:
    """Check a MASK input and return it as [B,1,H,W]; with ``hw`` the size must match."""
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{name} must be a MASK, got {type(mask).__name__}")
    m = M.mask_b1hw(mask, name)
    M.check_finite(m, name)
    if hw is not None and tuple(m.shape[-2:]) != tuple(hw):
        raise ValueError(f"{name} is {m.shape[-1]}x{m.shape[-2]} px but the scene is {hw[1]}x{hw[0]} px; "
                         "the mask must have the scene's size")
    if m.numel() and (float(m.amin()) < 0.0 or float(m.amax()) > 1.0):
        return m.clamp(0.0, 1.0)
    return m  # already in 0..1: no copy (the caller must not modify it)
