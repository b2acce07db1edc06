"""Putting pixels back: the decoded crop or image blended into the scene inside the feathered hole.

Outside the feathered hole every result here is the scene's own values, bit for bit (the VAE
round trip would otherwise shift colours). ``composite`` works at the scene's size (Fill-in
Composite without a crop), ``stitch`` puts a working-size crop back into the full-resolution
scene (Fill-in Insert, Fill-in Composite after Fill-in Crop), ``stitch_back`` takes the hole at
either size. Optional colour matching shifts the inserted region's colours toward the ring around
the hole. Only the feathered hole's box is computed; inputs are never modified.
"""

from __future__ import annotations

import torch

from . import crop as C
from . import masks as M
from .ranges import DEFAULT_FEATHER

COLOR_RING_PX = 8  # colour matching compares the ring this wide around the hole


def color_match(decoded: torch.Tensor, scene: torch.Tensor, hole: torch.Tensor, ring_px: int = COLOR_RING_PX) -> torch.Tensor:
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


def _composite_region(out: torch.Tensor, scene: torch.Tensor, decoded: torch.Tensor, hole: torch.Tensor,
                      feather_px: int, match_colors: bool, keep: torch.Tensor | None = None) -> None:
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
    if keep is not None:  # what stands in front of the object: the scene's own pixels, the feather too
        m = M.leave_out(m, M.repeat_batch(keep[..., y0:y1, x0:x1], B))
    blended = scene_r * (1.0 - m) + dec_r * m
    out[..., y0:y1, x0:x1] = torch.where(m > 0, blended, scene_r)


def _check_composite(scene, decoded, hole, keep=None) -> int:
    B = M.broadcast_batch(scene=scene.shape[0], decoded=decoded.shape[0], hole=hole.shape[0],
                          in_front=None if keep is None else keep.shape[0])
    H, W = scene.shape[-2:]
    h, w = decoded.shape[-2:]
    if (h, w) != (H, W) and (h > H or w > W or H - h >= 64 or W - w >= 64):
        raise ValueError(f"decoded image is {w}x{h} but the scene is {W}x{H}; they must match "
                         "(or differ only by the VAE's crop to a multiple of 8)")
    if hole.shape[-2:] != (H, W):
        raise ValueError(f"mask is {hole.shape[-1]}x{hole.shape[-2]} but the scene is {W}x{H}; they must be the same size")
    if keep is not None and keep.shape[-2:] != (H, W):
        raise ValueError(f"in_front is {keep.shape[-1]}x{keep.shape[-2]} but the scene is {W}x{H}; they must be the "
                         "same size")
    return B


def composite(scene: torch.Tensor, decoded: torch.Tensor, hole: torch.Tensor, feather_px: int = DEFAULT_FEATHER,
              match_colors: bool = False, keep: torch.Tensor | None = None) -> torch.Tensor:
    """Blend decoded [B,C,h,w] into scene [B,C,H,W] inside the feathered hole [B,1,H,W].

    keep: None or [B,1,H,W] (batch 1 or N), 1 = the scene's pixel kept exactly (``in_front``: what
    stands in front of the object), also inside the hole and its feather (``masks.leave_out``).

    Outside the feathered hole the result is the scene's own values, exactly. A decoded image
    that is the VAE's centre crop of the scene (size rounded down to a multiple of 8) is placed
    back at that crop's offset. Only the feathered hole's box is computed; inputs are unchanged.
    """
    B = _check_composite(scene, decoded, hole, keep)
    out = M.repeat_batch(scene, B).clone(memory_format=torch.contiguous_format)
    _composite_region(out, scene, decoded, hole, feather_px, match_colors, keep)
    return out


def composite_image(scene: torch.Tensor, decoded: torch.Tensor, hole: torch.Tensor, feather_px: int = DEFAULT_FEATHER,
                    match_colors: bool = False, keep: torch.Tensor | None = None) -> torch.Tensor:
    """``composite`` in ComfyUI layouts: IMAGEs [B,H,W,C], a hole and ``keep`` [B,1,H,W] in, an IMAGE out.

    Besides the output (a copy of the scene) only the feathered hole's box is allocated."""
    s, d = M.to_bchw(scene, "scene"), M.to_bchw(decoded, "decoded")
    B = _check_composite(s, d, hole, keep)
    out = M.repeat_batch(scene, B).clone(memory_format=torch.contiguous_format)
    _composite_region(out.permute(0, 3, 1, 2), s, d, hole, feather_px, match_colors, keep)
    return out


# --- stitch -----------------------------------------------------------------------------------

def stitch(plan: C.CropPlan, scene: torch.Tensor, generated: torch.Tensor, hole: torch.Tensor,
           feather: int = DEFAULT_FEATHER, color_match: bool = False, keep: torch.Tensor | None = None) -> torch.Tensor:
    """Put the generated crop back into the full-resolution scene.

    scene: the original IMAGE [B,H,W,C]; generated: the decoded crop [B,h,w,C] at the working size
    (or already at the box's size); hole: the scene-size MASK used for the crop (1 = repaint).
    The generated crop is resized to the box and blended in inside the hole feathered outward by
    ``feather`` scene pixels, with optional colour matching to the ring around the hole. Returns
    a new IMAGE of the scene's size; outside the feathered hole it equals the scene exactly.
    Works on the box region only: besides the output, no full-scene copies. Inputs are unchanged.
    keep: None or a MASK of the scene's size, 1 = kept exactly (``in_front``), the feather included.
    """
    s = M.to_bchw(scene, "scene")
    C.check_scene_size(plan, s.shape[-2:], "scene")
    g = M.to_bchw(generated, "generated")
    gh, gw = g.shape[-2:]
    if (gh, gw) not in (plan.working_hw, plan.box_hw):
        raise ValueError(f"generated is {gw}x{gh} but the plan's working size is "
                         f"{plan.working_size[0]}x{plan.working_size[1]} (crop box {plan.box_size[0]}x{plan.box_size[1]})")
    if g.shape[1] != s.shape[1]:
        raise ValueError(f"generated has {g.shape[1]} channels but scene has {s.shape[1]}")
    h = M.mask_b1hw(hole, "hole")
    C.check_scene_size(plan, h.shape[-2:], "hole")
    B = M.batch_size(s.shape[0], g.shape[0], "scene", "generated")
    B = M.batch_size(B, h.shape[0], "images", "hole")
    k = None
    if keep is not None:
        k = M.mask_b1hw(keep, "in_front")
        C.check_scene_size(plan, k.shape[-2:], "in_front")
        B = M.batch_size(B, k.shape[0], "images", "in_front")

    if scene.ndim == 3:
        scene = scene[None]
    out = scene.repeat(B // scene.shape[0], 1, 1, 1) if scene.shape[0] != B else scene.clone(memory_format=torch.contiguous_format)
    x0, y0, x1, y1 = plan.box
    h_box = h[..., y0:y1, x0:x1].to(s.device, s.dtype)
    hb = M.mask_box(h_box)
    if hb is None:
        return out
    # composite only where it can change anything: the hole's box grown by the feather (and by
    # colour matching's ring), inside the crop box. The same values as compositing the whole box:
    # the feather's replicate padding at this edge sees zeros either way.
    pad = int(feather) + (COLOR_RING_PX if color_match else 0)
    bh, bw = plan.box_hw
    rx0, ry0 = max(0, hb[0] - pad), max(0, hb[1] - pad)
    rx1, ry1 = min(bw, hb[2] + pad), min(bh, hb[3] + pad)
    g_box = C.resize_pixels(g.to(device=s.device), plan.box_hw)[..., ry0:ry1, rx0:rx1].to(s.dtype)
    k_box = None if k is None else k[..., y0 + ry0:y0 + ry1, x0 + rx0:x0 + rx1].to(s.device, s.dtype)
    region = composite(s[..., y0 + ry0:y0 + ry1, x0 + rx0:x0 + rx1], g_box, h_box[..., ry0:ry1, rx0:rx1],
                       int(feather), bool(color_match), k_box)
    out[:, y0 + ry0:y0 + ry1, x0 + rx0:x0 + rx1, :] = region.permute(0, 2, 3, 1)
    return out


def hole_in_scene(plan: C.CropPlan, hole: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """A hole MASK at the plan's working size (what a chain after Fill-in Crop makes) or already at
    the scene's size -> [B,H,W] at the scene's size (crop.mask_to_scene: cover max, the hole never
    shrinks). Any other size is an error naming both sizes."""
    m = M.mask_b1hw(hole, name)
    hw = tuple(int(v) for v in m.shape[-2:])
    if hw == tuple(plan.scene_hw):
        return M.mask_bhw(m)
    if hw == tuple(plan.working_hw):
        return C.mask_to_scene(plan, m, name)
    H, W = plan.scene_hw
    raise ValueError(f"{name} is {hw[1]}x{hw[0]} px but the crop is {plan.working_size[0]}x{plan.working_size[1]} px "
                     f"(working size) of a {W}x{H} px scene; connect the hole of the cropped chain (or of the scene)")


def stitch_back(plan: C.CropPlan, scene: torch.Tensor, generated: torch.Tensor, hole: torch.Tensor,
                feather: int = DEFAULT_FEATHER, color_match: bool = False, keep: torch.Tensor | None = None
                ) -> torch.Tensor:
    """``stitch`` with the hole at the working size or the scene's size (IMAGE / MASK layouts);
    ``keep`` (in_front) at the scene's size."""
    return stitch(plan, scene, generated, hole_in_scene(plan, hole), int(feather), bool(color_match), keep)
