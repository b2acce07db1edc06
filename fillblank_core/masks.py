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


def latent_hole(mask: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
    """The repaint rule, one for every chain: the cells of a latent that a hole MASK repaints.

    As ComfyUI resizes a noise mask (Set Latent Noise Mask → sampling), the mask [B,1,H,W] (or
    [B,H,W]) is resized to latent size bilinearly; every cell whose value is above 0 — whose
    centre pixels touch the hole — is repainted fully (1), the rest kept (0). A cell the hole
    only grazes at its edge is kept: grow the hole by half a latent cell (4 px for an 8× VAE;
    Mask Refiner's default grow is 8) and every drawn pixel lies in a repainted cell.
    ``sample_fillblank`` applies the same rule (``repaint_mask``) to the noise mask it gets.
    """
    m = mask_b1hw(mask).float()
    if tuple(m.shape[-2:]) != (int(latent_hw[0]), int(latent_hw[1])):
        m = F.interpolate(m, size=(int(latent_hw[0]), int(latent_hw[1])), mode="bilinear")
    return (m > 0).float()


def resize(t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a [B,C,H,W] tensor with antialiasing when shrinking."""
    if tuple(t.shape[-2:]) == tuple(hw):
        return t
    shrink = hw[0] < t.shape[-2] or hw[1] < t.shape[-1]
    return F.interpolate(t, size=hw, mode="bilinear", align_corners=False, antialias=shrink)


def smooth_fill(image: torch.Tensor, hole: torch.Tensor, smooth_iters: int = 24) -> torch.Tensor:
    """The hole of ``image`` [B,C,H,W] filled smoothly from its surroundings (the rest unchanged).

    hole: [B|1,1|C,H,W], > 0 = unknown (batch 1 of either broadcasts). Onion peel (each ring of unknown cells takes the mean of
    its known 3×3 neighbours), then ``smooth_iters`` Jacobi sweeps of the 3×3 mean inside the hole
    with the surroundings fixed: a coarse, seamless continuation of the scene — what the hole
    looks like with its old content gone. Used by the sampler's context guidance. Runs once
    before sampling (it reads the hole's extent on the host); never modifies its inputs.
    """
    b = max(image.shape[0], hole.shape[0])
    image = image.expand(b, *image.shape[1:])
    unknown = (hole[:, :1] > 0).to(image.dtype).expand(b, 1, *image.shape[-2:])
    known = 1.0 - unknown
    out = image * known
    kernel = torch.ones(1, 1, 3, 3, dtype=image.dtype, device=image.device)
    c = image.shape[1]

    def box(t):
        return F.conv2d(F.pad(t, (1, 1, 1, 1), mode="replicate"), kernel.expand(t.shape[1], 1, 3, 3),
                        groups=t.shape[1])

    if bool(known.sum() == 0):  # nothing to continue from: leave the image as it is
        return image.clone()
    for _ in range(max(image.shape[-2:])):  # onion peel, at most the longer side in rings
        if not bool((known == 0).any()):
            break
        s, n = box(out), box(known)
        grow = (n > 0) & (known == 0)
        out = torch.where(grow.expand_as(out), s / n.clamp_min(1e-12).expand_as(s), out)
        known = torch.maximum(known, grow.to(known.dtype))
    inside = unknown.expand(-1, c, -1, -1) > 0
    for _ in range(int(smooth_iters)):
        out = torch.where(inside, box(out) / 9.0, out)
    return torch.where(inside, out, image)
