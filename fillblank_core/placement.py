"""Placing a target on a scene: where it goes (``Placement``), the placed crop, the paste."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import masks as M


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


def place_crop(target: torch.Tensor, object_mask: torch.Tensor, canvas_hw: tuple[int, int],
               x: float = 0.5, y: float = 0.5, scale: float = 0.5, flip: bool = False):
    """The placed target cut to its visible box: (image [B,C,bh,bw], mask [B,1,bh,bw], Placement).

    ``Placement.box`` says where the crop goes on the canvas; see ``place_target`` for the rules.
    Only the box is allocated, whatever the canvas size."""
    H, W = int(canvas_hw[0]), int(canvas_hw[1])
    x, y, scale = float(x), float(y), float(scale)  # the node's values, checked there (ranges)
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
                   x: float = 0.5, y: float = 0.5, scale: float = 0.5, flip: bool = False,
                   in_front: torch.Tensor | None = None):
    """Place a target [B,C,h,w] (object mask [B,1,h,w]) on a scene IMAGE [B,H,W,C] and paste it in.

    Returns ComfyUI layouts: (placed target on an empty canvas [N,H,W,C], its mask [N,H,W], the
    scene with the target pasted in [N,H,W,C], Placement), N the common batch (1 or N each).
    The same values as ``place_target`` + ``paste``, but only the target's box is worked on:
    besides the three outputs no full-size tensor is made, and the scene is not modified.
    in_front: a MASK [B,H,W] of the scene's size, 1 = scene pixels that stand in front of the object:
    the object is cut by it (its mask is mask·(1 − in_front), ``masks.leave_out``), so where it is 1
    the composite is the scene's own pixels, exactly, and the mask is 0.
    """
    H, W = int(scene.shape[1]), int(scene.shape[2])
    img, msk, where = place_crop(target, object_mask, (H, W), x, y, scale, flip)
    B = M.broadcast_batch(scene=scene.shape[0], target=img.shape[0],
                          in_front=None if in_front is None else in_front.shape[0])
    x0, y0, x1, y1 = where.box
    if in_front is not None:  # the object is drawn only where nothing stands in front of it
        msk = M.visible_part(msk, in_front[:, y0:y1, x0:x1])
    image = scene.new_zeros(B, H, W, img.shape[1])
    mask = scene.new_zeros(B, H, W)
    image[:, y0:y1, x0:x1] = img.permute(0, 2, 3, 1).to(image)
    mask[:, y0:y1, x0:x1] = msk[:, 0].to(mask)
    comp = M.repeat_batch(scene, B).clone(memory_format=torch.contiguous_format)
    s = comp[:, y0:y1, x0:x1].permute(0, 3, 1, 2)
    s.copy_(paste(s.clone(), img.to(s), msk.to(s)))
    return image, mask, comp, where


# --- perspective: objects standing on the ground ------------------------------------------------

def ground_height(scale_ref: float, y: float, horizon: float) -> float:
    """The height (a fraction of the scene height) of an object standing on the ground with its
    centre at ``y``, under a horizon at ``horizon`` (fractions of the scene height from the top).

    The ground-plane rule: an object's height in the picture is proportional to how far its base
    lies below the horizon. ``scale_ref`` is its height with the base on the bottom edge
    (base 1); with the base at b = y + h/2 the height is h = scale_ref·(b − horizon)/(1 − horizon),
    i.e. h = k·(y − horizon)/(1 − k/2) with k = scale_ref/(1 − horizon)."""
    if not 0.0 < horizon < 1.0:
        raise ValueError(f"horizon must lie inside the scene (between 0 and 1, as a fraction of its height from the "
                         f"top), got {horizon!r}")
    k = scale_ref / (1.0 - horizon)
    if k >= 2.0:
        raise ValueError(f"scale {scale_ref:g} is too large for a horizon at {horizon:g}: no height on the ground "
                         "fits an object that tall at the bottom edge (scale must stay below twice the distance "
                         "from the horizon to the bottom edge); lower scale or raise the horizon")
    if y <= horizon:
        raise ValueError(f"y {y:g} puts the object at or above the horizon ({horizon:g}); an object standing on the "
                         "ground has its centre below the horizon: move it down, or set horizon 0 (off)")
    return k * (y - horizon) / (1.0 - k / 2.0)


def reference_scale(height: float, y: float, horizon: float) -> float:
    """The ``scale_ref`` of :func:`ground_height` that gives ``height`` at centre ``y``: what an
    editor stores when the horizon is turned on for an object already placed."""
    base = y + height / 2.0
    if not 0.0 < horizon < base:
        raise ValueError(f"the object's base ({base:g}) must lie below the horizon ({horizon:g})")
    return height * (1.0 - horizon) / (base - horizon)
