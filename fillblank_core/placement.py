"""Placing a target on a scene, and compositing decoded results back into the scene."""

from __future__ import annotations

from dataclasses import dataclass, asdict

import torch

from . import masks as M
from . import ranges as R


@dataclass(frozen=True)
class Placement:
    """Where a target went: centre (x, y) as fractions of the scene, height as a fraction of the
    scene height, flip, and the visible box (x0, y0, x1, y1) in scene pixels after clipping."""
    x: float
    y: float
    scale: float
    flip: bool
    box: tuple[int, int, int, int]
    size: tuple[int, int]  # placed target's (height, width) before clipping

    def as_dict(self) -> dict:
        return asdict(self)


def place_crop(target: torch.Tensor, object_mask: torch.Tensor, canvas_hw: tuple[int, int],
               x: float = 0.5, y: float = 0.5, scale: float = 0.5, flip: bool = False):
    """The placed target cut to its visible box: (image [B,C,bh,bw], mask [B,1,bh,bw], Placement).

    ``Placement.box`` says where the crop goes on the canvas; see ``place_target`` for the rules.
    Only the box is allocated, whatever the canvas size."""
    H, W = int(canvas_hw[0]), int(canvas_hw[1])
    x = R.X.check("x", x)
    y = R.Y.check("y", y)
    scale = R.SCALE.check("scale", scale)
    if object_mask.sum() <= 0:
        raise ValueError("the target's object mask is empty: nothing to insert (check the target MASK / alpha channel)")
    h0, w0 = target.shape[-2:]
    th = max(1, round(scale * H))
    tw = max(1, round(th * w0 / h0))
    if th * tw > 64 * H * W:
        raise ValueError(f"scale {scale:g} makes the target {tw}x{th} px, far larger than the {W}x{H} scene")
    left = round(x * W - tw / 2.0)
    top = round(y * H - th / 2.0)
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + tw, W), min(top + th, H)
    B = max(target.shape[0], object_mask.shape[0])
    if x1 > x0 and y1 > y0:
        img = M.resize(target, (th, tw))
        msk = M.resize(object_mask, (th, tw)).clamp(0.0, 1.0)
        if flip:
            img, msk = img.flip(-1), msk.flip(-1)
        img = img[..., y0 - top:y1 - top, x0 - left:x1 - left].expand(B, -1, -1, -1)
        msk = msk[..., y0 - top:y1 - top, x0 - left:x1 - left].expand(B, -1, -1, -1)
    else:
        img = target.new_zeros(B, target.shape[1], 0, 0)
        msk = target.new_zeros(B, 1, 0, 0)
    if msk.sum() <= 0:
        raise ValueError(f"the target is entirely off the canvas at x={x:g}, y={y:g}, scale={scale:g}; "
                         "move x/y so that part of it lies inside the scene (0..1)")
    return img, msk, Placement(x, y, scale, bool(flip), (x0, y0, x1, y1), (th, tw))


def place_target(target: torch.Tensor, object_mask: torch.Tensor, canvas_hw: tuple[int, int],
                 x: float = 0.5, y: float = 0.5, scale: float = 0.5, flip: bool = False):
    """Paste a target [B,C,h,w] with its object mask [B,1,h,w] onto an empty canvas.

    x, y: centre as fractions of the canvas width/height (in ``ranges.X`` / ``ranges.Y``: they
    may lie outside 0..1 so that the object hangs over the edge); scale: the target's height as a
    fraction of the canvas height. Returns (placed image [B,C,H,W], placed mask [B,1,H,W],
    Placement). Parts outside the canvas are clipped; a target entirely off the canvas, or with an
    empty object mask, is an error.
    """
    img, msk, where = place_crop(target, object_mask, canvas_hw, x, y, scale, flip)
    H, W = int(canvas_hw[0]), int(canvas_hw[1])
    x0, y0, x1, y1 = where.box
    B = img.shape[0]
    placed = torch.zeros(B, target.shape[1], H, W, dtype=target.dtype, device=target.device)
    pmask = torch.zeros(B, 1, H, W, dtype=target.dtype, device=target.device)
    placed[..., y0:y1, x0:x1] = img
    pmask[..., y0:y1, x0:x1] = msk
    return placed, pmask, where


def paste(scene: torch.Tensor, placed: torch.Tensor, pmask: torch.Tensor) -> torch.Tensor:
    """Scene [B,C,H,W] with the placed target alpha-blended in (same batch or broadcast)."""
    return scene * (1.0 - pmask) + placed * pmask


def place_on_scene(scene: torch.Tensor, target: torch.Tensor, object_mask: torch.Tensor,
                   x: float = 0.5, y: float = 0.5, scale: float = 0.5, flip: bool = False):
    """Place a target [B,C,h,w] (object mask [B,1,h,w]) on a scene IMAGE [B,H,W,C] and paste it in.

    Returns ComfyUI layouts: (placed target on an empty canvas [N,H,W,C], its mask [N,H,W], the
    scene with the target pasted in [N,H,W,C], Placement), N the common batch (1 or N each).
    The same values as ``place_target`` + ``paste``, but only the target's box is worked on:
    besides the three outputs no full-size tensor is made, and the scene is not modified.
    """
    H, W = int(scene.shape[1]), int(scene.shape[2])
    img, msk, where = place_crop(target, object_mask, (H, W), x, y, scale, flip)
    B = M.broadcast_batch(scene=scene.shape[0], target=img.shape[0])
    x0, y0, x1, y1 = where.box
    image = scene.new_zeros(B, H, W, img.shape[1])
    mask = scene.new_zeros(B, H, W)
    image[:, y0:y1, x0:x1] = img.permute(0, 2, 3, 1).to(image)
    mask[:, y0:y1, x0:x1] = msk[:, 0].to(mask)
    comp = M.repeat_batch(scene, B).clone(memory_format=torch.contiguous_format)
    s = comp[:, y0:y1, x0:x1].permute(0, 3, 1, 2)
    s.copy_(paste(s.clone(), img.to(s), msk.to(s)))
    return image, mask, comp, where


def color_match(decoded: torch.Tensor, scene: torch.Tensor, hole: torch.Tensor, ring_px: int = 8) -> torch.Tensor:
    """Shift/scale the decoded image's colours so its ring around the hole matches the scene's.

    Statistics per channel on the ring (grown hole minus hole); applied to the whole decoded image,
    which only matters inside the hole after compositing.
    """
    ring = (M.grow(M.threshold(hole, 0.0), ring_px) - M.threshold(hole, 0.0)).clamp(0, 1)
    # (composite calls this on the hole's box with a margin: the ring lies inside it)
    out = []
    for i in range(decoded.shape[0]):
        r = ring[min(i, ring.shape[0] - 1), 0] > 0
        if r.sum() < 4:
            out.append(decoded[i])
            continue
        d = decoded[i][:, r]
        s = scene[min(i, scene.shape[0] - 1)][:, r]
        mu_d, mu_s = d.mean(1), s.mean(1)
        sd_d, sd_s = d.std(1).clamp_min(1e-4), s.std(1)
        gain = (sd_s / sd_d).clamp(0.5, 2.0)
        out.append(((decoded[i] - mu_d[:, None, None]) * gain[:, None, None] + mu_s[:, None, None]).clamp(0, 1))
    return torch.stack(out)


COLOR_RING_PX = 8  # colour matching compares the ring this wide around the hole


def _composite_region(out: torch.Tensor, scene: torch.Tensor, decoded: torch.Tensor, hole: torch.Tensor,
                      feather_px: int, match_colors: bool) -> None:
    """Write the composite into ``out`` [B,C,H,W] (a view; holds the scene already) where it can
    differ from the scene: the box of the hole grown by the feather (and colour matching's ring).

    The values are those of compositing the whole image: the box has a margin of one pixel more
    than the feather (ring) reaches, so the blur's replicate padding and the ring's dilation see
    the zeros they would see in the whole image; outside the box the feathered hole is 0."""
    B = out.shape[0]
    H, W = scene.shape[-2:]
    h, w = decoded.shape[-2:]
    box = M.mask_box(hole, pad=max(int(feather_px), COLOR_RING_PX if match_colors else 0) + 1)
    if box is None:
        return
    x0, y0, x1, y1 = box
    scene_r = M.repeat_batch(scene[..., y0:y1, x0:x1], B)
    hole_r = M.repeat_batch(hole[..., y0:y1, x0:x1], B)
    oy, ox = (H - h) // 2, (W - w) // 2
    if (h, w) == (H, W):
        dec_r = M.repeat_batch(decoded[..., y0:y1, x0:x1], B)
    else:  # the VAE's centre crop: the scene around it, as if the crop were pasted into the scene
        dec_r = scene_r.clone()
        ix0, iy0, ix1, iy1 = max(x0, ox), max(y0, oy), min(x1, ox + w), min(y1, oy + h)
        if ix1 > ix0 and iy1 > iy0:
            dec_r[..., iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] = \
                decoded[..., iy0 - oy:iy1 - oy, ix0 - ox:ix1 - ox].to(dec_r)
    if match_colors:
        dec_r = color_match(dec_r, scene_r, hole_r, COLOR_RING_PX)
    m = M.feather(hole_r.clamp(0, 1), feather_px)
    blended = scene_r * (1.0 - m) + dec_r * m
    out[..., y0:y1, x0:x1] = torch.where(m > 0, blended, scene_r)


def _check_composite(scene, decoded, hole) -> int:
    B = M.broadcast_batch(scene=scene.shape[0], decoded=decoded.shape[0], hole=hole.shape[0])
    H, W = scene.shape[-2:]
    h, w = decoded.shape[-2:]
    if (h, w) != (H, W) and (h > H or w > W or H - h >= 64 or W - w >= 64):
        raise ValueError(f"decoded image is {w}x{h} but the scene is {W}x{H}; they must match "
                         "(or differ only by the VAE's crop to a multiple of 8)")
    if hole.shape[-2:] != (H, W):
        raise ValueError(f"mask is {hole.shape[-1]}x{hole.shape[-2]} but the scene is {W}x{H}; they must be the same size")
    return B


def composite(scene: torch.Tensor, decoded: torch.Tensor, hole: torch.Tensor, feather_px: int = 8,
              match_colors: bool = False) -> torch.Tensor:
    """Blend decoded [B,C,h,w] into scene [B,C,H,W] inside the feathered hole [B,1,H,W].

    Outside the feathered hole the result is the scene's own values, exactly. A decoded image
    that is the VAE's centre crop of the scene (size rounded down to a multiple of 8) is placed
    back at that crop's offset. Only the feathered hole's box is computed; inputs are unchanged.
    """
    B = _check_composite(scene, decoded, hole)
    out = M.repeat_batch(scene, B).clone(memory_format=torch.contiguous_format)
    _composite_region(out, scene, decoded, hole, feather_px, match_colors)
    return out


def composite_image(scene: torch.Tensor, decoded: torch.Tensor, hole: torch.Tensor, feather_px: int = 8,
                    match_colors: bool = False) -> torch.Tensor:
    """``composite`` in ComfyUI layouts: IMAGEs [B,H,W,C] and a hole [B,1,H,W] in, an IMAGE out.

    Besides the output (a copy of the scene) only the feathered hole's box is allocated."""
    s, d = M.to_bchw(scene, "scene"), M.to_bchw(decoded, "decoded")
    B = _check_composite(s, d, hole)
    out = M.repeat_batch(scene, B).clone(memory_format=torch.contiguous_format)
    _composite_region(out.permute(0, 3, 1, 2), s, d, hole, feather_px, match_colors)
    return out


@dataclass
class FillBlankTarget:
    """What TargetEncoder hands to the sampler (ComfyUI type FILLBLANK_TARGET).

    image: the placed target on an empty canvas [B,H,W,C]; mask: its object mask [B,H,W];
    composite: the scene with the target pasted in [B,H,W,C]; latent: the VAE latent of the
    composite [B,C,h,w]; placement: where it went; embeds: optional CLIP image embedding.
    """
    image: torch.Tensor
    mask: torch.Tensor
    composite: torch.Tensor
    latent: torch.Tensor
    placement: Placement
    embeds: object = None

    @property
    def scene_hw(self) -> tuple[int, int]:
        return int(self.composite.shape[1]), int(self.composite.shape[2])


def crop_to_multiple(pixels: torch.Tensor, factor: int = 8) -> torch.Tensor:
    """Centre-crop [B,C,H,W] to a multiple of ``factor``, as ComfyUI's VAEEncode does."""
    H, W = pixels.shape[-2:]
    h, w = (H // factor) * factor, (W // factor) * factor
    if (h, w) == (H, W):
        return pixels
    oy, ox = (H % factor) // 2, (W % factor) // 2
    return pixels[..., oy:oy + h, ox:ox + w]


def given_cutout(target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor | None:
    """The cut-out the user gave for a target [B,C,h,w], as [B,1,h,w]: a LoadImage-style MASK
    (1 where transparent, so object = 1 − mask), else the alpha of an RGBA target. None when
    neither carries one (no mask, LoadImage's 64x64 all-zero placeholder, no or opaque alpha)."""
    h, w = target.shape[-2:]
    if mask is not None:
        m = M.mask_b1hw(mask, "target_mask")
        if m.any():
            if tuple(m.shape[-2:]) != (h, w):
                raise ValueError(f"target_mask is {m.shape[-1]}x{m.shape[-2]} px but the target image is "
                                 f"{w}x{h} px; Image and mask must be the same size")
            return (1.0 - m).clamp(0.0, 1.0)
    if target.shape[1] == 4 and bool((target[:, 3] < 1).any()):
        return target[:, 3:4].clamp(0.0, 1.0)
    return None


def object_mask_from(target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Object mask [B,1,h,w]: the given cut-out (mask or alpha), else the whole image."""
    cut = given_cutout(target, mask)
    return torch.ones_like(target[:, :1]) if cut is None else cut


CUTOUTS = ["auto", "mask or alpha", "whole image", "border color", "sam"]


def cut_out(target: torch.Tensor, target_mask, cutout: str, sam=None) -> torch.Tensor:
    """Object mask [B,1,h,w]. auto: the mask or alpha if given, else SAM if connected, else the whole image."""
    if cutout == "auto":
        cutout = "mask or alpha" if given_cutout(target, target_mask) is not None else ("sam" if sam is not None else "whole image")
    if cutout == "whole image":
        return torch.ones_like(target[:, :1])
    if cutout == "mask or alpha":
        return object_mask_from(target, target_mask)
    from . import segment
    rgb_hwc = M.to_bhwc(target[:, :3])
    if cutout == "border color":
        return torch.stack([segment.border_color_cutout(im) for im in rgb_hwc])[:, None].float()
    if sam is None:
        raise ValueError("cutout 'sam' needs a SAM model on the sam input (Fill-in SAM Loader)")
    return torch.stack([segment.sam_cutout(sam, im) for im in rgb_hwc])[:, None].float()
