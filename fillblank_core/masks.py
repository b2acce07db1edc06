"""Mask operations and the one place where ComfyUI image/mask layouts are converted.

ComfyUI: IMAGE is [B,H,W,C] float 0..1; MASK is [B,H,W] (or [H,W]) float, 1 = repaint.
Internally we work in [B,C,H,W] / [B,1,H,W]. LoadImage's MASK is 1 where the PNG is transparent,
so a target's object is ``1 - mask``.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F


# --- layouts ----------------------------------------------------------------------------------

def to_bchw(image: torch.Tensor, name: str = "image") -> torch.Tensor:
    """[B,H,W,C] (or [H,W,C]) ComfyUI IMAGE -> [B,C,H,W]."""
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4:
        raise ValueError(f"{name} must be an IMAGE tensor [batch, height, width, channels], got shape {tuple(image.shape)}")
    return image.permute(0, 3, 1, 2)


def to_bhwc(image: torch.Tensor) -> torch.Tensor:
    """[B,C,H,W] -> [B,H,W,C] (contiguous, as ComfyUI nodes expect)."""
    return image.permute(0, 2, 3, 1).contiguous()


def mask_b1hw(mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """[H,W], [B,H,W] or [B,1,H,W] -> [B,1,H,W] float."""
    if mask.ndim == 2:
        mask = mask[None, None]
    elif mask.ndim == 3:
        mask = mask[:, None]
    elif mask.ndim != 4 or mask.shape[1] != 1:
        raise ValueError(f"{name} must be a MASK [batch, height, width], got shape {tuple(mask.shape)}")
    return mask.float()


def mask_bhw(mask: torch.Tensor) -> torch.Tensor:
    """[B,1,H,W] (or anything mask_b1hw accepts) -> [B,H,W] as ComfyUI's MASK."""
    return mask_b1hw(mask)[:, 0].contiguous()


def check_finite(t: torch.Tensor, name: str) -> None:
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def batch_size(a: int, b: int, name_a: str, name_b: str) -> int:
    """Common batch of two inputs: equal, or one of them 1."""
    if a == b or b == 1:
        return a
    if a == 1:
        return b
    raise ValueError(f"{name_a} has batch {a} and {name_b} has batch {b}; they must be equal or one of them 1")


def repeat_batch(t: torch.Tensor, b: int) -> torch.Tensor:
    return t if t.shape[0] == b else t.expand(b, *t.shape[1:])


# --- morphology -------------------------------------------------------------------------------

def grow(mask: torch.Tensor, px: int) -> torch.Tensor:
    """Grow (px > 0) or shrink (px < 0) a [B,1,H,W] mask by |px| pixels (square neighbourhood)."""
    px = int(px)
    if px == 0:
        return mask
    k = 2 * abs(px) + 1
    if px > 0:
        return F.max_pool2d(mask, k, stride=1, padding=abs(px))
    return 1.0 - F.max_pool2d(1.0 - mask, k, stride=1, padding=abs(px))


def _gauss_kernel(radius: int, device, dtype) -> torch.Tensor:
    sigma = max(radius / 2.0, 0.5)
    xs = torch.arange(-radius, radius + 1, device=device, dtype=torch.float64)
    k = torch.exp(-0.5 * (xs / sigma) ** 2)
    return (k / k.sum()).to(dtype)


def blur(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Separable Gaussian (sigma = radius/2) truncated at ``radius``: exactly 0 farther away."""
    radius = int(radius)
    if radius <= 0:
        return mask
    c = mask.shape[1]
    k = _gauss_kernel(radius, mask.device, mask.dtype)
    x = F.pad(mask, (radius, radius, 0, 0), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    x = F.pad(x, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def feather(mask: torch.Tensor, px: int) -> torch.Tensor:
    """Soft edge outward over ``px`` pixels; the mask's own area stays as it was (1 stays 1)."""
    if int(px) <= 0:
        return mask
    return torch.maximum(mask, blur(mask, int(px)).clamp(0.0, 1.0))


def threshold(mask: torch.Tensor, t: float) -> torch.Tensor:
    """Binary mask: 1 where mask > t. t = 0 keeps any touched pixel."""
    return (mask > float(t)).to(mask.dtype)


def bbox(mask_hw: torch.Tensor) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) half-open box of the nonzero pixels of an [H,W] mask, or None if empty."""
    ys, xs = torch.nonzero(mask_hw > 0, as_tuple=True)
    if ys.numel() == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def bbox_mask(mask: torch.Tensor) -> torch.Tensor:
    """Each batch item's mask replaced by its filled bounding box."""
    out = torch.zeros_like(mask)
    for i in range(mask.shape[0]):
        box = bbox(mask[i, 0])
        if box is not None:
            x0, y0, x1, y1 = box
            out[i, 0, y0:y1, x0:x1] = 1.0
    return out


def union(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.maximum(a, b)


def to_latent(mask: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
    """Downscale a pixel mask [B,1,H,W] to latent size without shrinking the hole.

    Any latent cell touched by the hole is repainted (max pooling). Sizes that are not a multiple
    of the latent factor are centre-cropped first, the way ComfyUI's VAE encode crops pixels.
    """
    h, w = int(latent_hw[0]), int(latent_hw[1])
    H, W = mask.shape[-2:]
    if (H, W) == (h, w):
        return mask
    fy, fx = H // h, W // w
    if fy < 1 or fx < 1:
        raise ValueError(f"mask of size {H}x{W} is smaller than the latent {h}x{w}")
    oy, ox = (H - fy * h) // 2, (W - fx * w) // 2
    cropped = mask[..., oy:oy + fy * h, ox:ox + fx * w]
    return F.max_pool2d(cropped, (fy, fx))


def resize(t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a [B,C,H,W] tensor with antialiasing when shrinking."""
    if tuple(t.shape[-2:]) == tuple(hw):
        return t
    shrink = hw[0] < t.shape[-2] or hw[1] < t.shape[-1]
    return F.interpolate(t, size=hw, mode="bilinear", align_corners=False, antialias=shrink)
