"""Fill-in Insert's work around the model: place the target on the full scene, make the hole, plan
the crop and cut the working inputs out; and putting a crop back with a hole of either size.

    check_options(...)                                   # cheap checks, before any model work
    prep = prepare(scene, target, object_mask, hole, fit="into hole", working_size=1024, ...)
    ... encode prep.composite, sample in prep.work_hole, decode -> generated (working size) ...
    out = crop.stitch(prep.plan, scene, generated, prep.hole, feather)   # full size

Rules (the choices this module makes):

* Placement happens on the full scene, as in the Target Encoder (``placement.place_target``):
  x, y, scale are fractions of the *scene*. With ``fit="into hole"`` and a hole, x, y and scale
  are instead chosen so that the cut-out's bounding box (its pixels > 0) fits into the hole's
  bounding box less one latent cell on each side (see the grow below; only where the box is
  more than four cells across), aspect kept, centred (:func:`fit_into_box`); a hole of a few
  pixels cannot hold the resampling's soft edge and may be overrun by a pixel or two.
* The hole used = the given hole ∪ the target's silhouette grown by one latent cell (``vae_factor``
  pixels at the working resolution, converted to scene pixels), so the whole object can appear
  and every latent cell it touches is repainted. Without a hole (or with an all-zero MASK of any
  size: LoadImage's placeholder) it is the grown silhouette alone. Fitted into a rectangular
  hole, the grown silhouette stays inside it: the hole used is the hole.
* The crop is :func:`crop.plan_crop` around the hole used and the silhouette; ``context_px`` is
  at least the stitch's feather (plus colour matching's ring) so the feather fits inside the box.
  The working size is snapped to a multiple of ``vae_factor`` (64 px at least); a box that would
  leave the image is clamped to it (``plan_crop``), never an error.
* The scene with the target pasted in is built only inside the crop box and resized to the
  working size: that one image is what gets encoded (its latent is both the target latent and
  the scene latent; the silhouette lies inside the hole, so outside the hole it shows the scene).

Images are [B,C,H,W] and masks [B,1,H,W] on the way in; what goes back to ComfyUI comes out in
its layouts (IMAGE [B,H,W,C], MASK [B,H,W]). Inputs are never modified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import crop as C
from . import masks as M
from . import placement as P

FITS = ("into hole", "x-y-scale")
DEFAULT_CONTEXT = 0.25
DEFAULT_FEATHER = 8
# the cut-out's box is fitted into the hole's box shrunk by this many pixels on each side, and one
# more scene pixel per target pixel of scale: room for bilinear resampling's soft edge (half a
# target pixel when enlarging, about one scene pixel when shrinking) and for the whole-pixel
# position (half a pixel)
FIT_MARGIN_PX = 2.5


# --- checks -----------------------------------------------------------------------------------

def _whole(name: str, v, low: int, hint: str = "") -> int:
    try:
        ok = float(v) == int(v)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or int(v) < low:
        raise ValueError(f"{name} must be a whole number >= {low}{hint}, got {v!r}")
    return int(v)


def check_options(*, fit: str = "into hole", working_size=C.DEFAULT_WORKING_SIZE, context: float = DEFAULT_CONTEXT,
                  feather: int = DEFAULT_FEATHER, steps: int = 1, jump_length: int = 1, resample: int = 1,
                  denoise: float = 1.0) -> None:
    """The option checks of Fill-in Insert, cheap, before any model work; each error names its input."""
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(repr(f) for f in FITS)}, got {fit!r}")
    if isinstance(working_size, bool) or not isinstance(working_size, (int, float)) or not math.isfinite(working_size) \
            or working_size < C.MIN_WORKING_SIZE:
        raise ValueError(f"working_size must be at least {C.MIN_WORKING_SIZE} px (the longest side of the working "
                         f"resolution; 512–768 for SD1.5, 1024 for SDXL / SD3 / Flux), got {working_size!r}")
    try:
        context = float(context)
    except (TypeError, ValueError):
        context = float("nan")
    if not (context >= 0) or not math.isfinite(context):
        raise ValueError(f"context must be >= 0 (a fraction of the hole's longest side added on each side), "
                         f"got {context!r}")
    _whole("feather", feather, 0, " (pixels)")
    _whole("steps", steps, 1)
    _whole("jump_length", jump_length, 1)
    _whole("resample", resample, 1, " (1 = no resampling)")
    if not (0.0 < float(denoise) <= 1.0):
        raise ValueError(f"denoise must be greater than 0 and at most 1, got {denoise!r}")


def scene_hole(hole, scene_hw: tuple[int, int], name: str = "hole") -> torch.Tensor | None:
    """A hole MASK checked against the scene: [B,1,H,W] clamped to 0..1, or None for no hole (None, or
    an all-zero MASK of any size such as LoadImage's 64x64 placeholder). Another size is an error."""
    if hole is None:
        return None
    if not isinstance(hole, torch.Tensor):
        raise ValueError(f"{name} must be a MASK, got {type(hole).__name__}")
    m = M.mask_b1hw(hole, name)
    M.check_finite(m, name)
    if not bool((m > 0).any()):
        return None
    H, W = int(scene_hw[0]), int(scene_hw[1])
    if tuple(m.shape[-2:]) != (H, W):
        raise ValueError(f"{name} is {m.shape[-1]}x{m.shape[-2]} px but the scene is {W}x{H} px; "
                         f"the {name} must have the scene's size")
    return m.clamp(0.0, 1.0)


# --- fit and grow -----------------------------------------------------------------------------

def _box_of(mask: torch.Tensor, within: C.Box | None = None) -> C.Box | None:
    """Bounding box of the pixels > 0 of a [B,1,H,W] (or [B,H,W]) mask over the whole batch, looking
    only inside ``within`` (x0, y0, x1, y1) when given. Row and column reductions: no index list of a
    full-size image."""
    m = M.mask_b1hw(mask)
    ox, oy = 0, 0
    if within is not None:
        ox, oy = int(within[0]), int(within[1])
        m = m[..., oy:int(within[3]), ox:int(within[2])]
    hit = (m > 0).any(dim=1).any(dim=0)  # [H,W]
    cols = torch.nonzero(hit.any(dim=0))
    if cols.numel() == 0:
        return None
    rows = torch.nonzero(hit.any(dim=1))
    return ox + int(cols[0]), oy + int(rows[0]), ox + int(cols[-1]) + 1, oy + int(rows[-1]) + 1


def fit_into_box(object_mask: torch.Tensor, box, scene_hw: tuple[int, int], flip: bool = False):
    """(x, y, scale) for :func:`placement.place_target` that put the cut-out's bounding box (pixels
    > 0 of ``object_mask`` [B,1,h,w]) into ``box`` (x0, y0, x1, y1) in scene pixels: as large as
    fits with the aspect kept, centred. The placed pixels > 0 stay inside the box for boxes larger
    than a few pixels (see FIT_MARGIN_PX)."""
    H, W = int(scene_hw[0]), int(scene_hw[1])
    h0, w0 = int(object_mask.shape[-2]), int(object_mask.shape[-1])
    ob = _box_of(object_mask)
    if ob is None:
        raise ValueError("the target's cut-out is empty: nothing to insert (check the target_mask, the alpha "
                         "channel or the cutout mode)")
    ox0, oy0, ox1, oy1 = ob
    if flip:
        ox0, ox1 = w0 - ox1, w0 - ox0
    bx0, by0, bx1, by1 = (int(v) for v in box)
    bw, bh = bx1 - bx0, by1 - by0
    # scene pixels per target pixel: the object plus one target pixel fits into the box less the margins
    k = min((bw - 2 * FIT_MARGIN_PX) / (ox1 - ox0 + 1), (bh - 2 * FIT_MARGIN_PX) / (oy1 - oy0 + 1))
    k = max(k, 1.0 / h0)  # a hole of a few pixels: the smallest placement
    th = max(1, math.floor(k * h0))
    tw = max(1, round(th * w0 / h0))  # as place_target sizes it
    sx, sy = tw / w0, th / h0
    left = round((bx0 + bx1) / 2.0 - (ox0 + ox1) / 2.0 * sx)
    top = round((by0 + by1) / 2.0 - (oy0 + oy1) / 2.0 * sy)
    # place_target puts the image's left edge at round(x * W - tw / 2): exactly `left`
    return (left + tw / 2.0) / W, (top + th / 2.0) / H, th / H


def grow_near(mask: torch.Tensor, px: int, box: C.Box | None = None) -> torch.Tensor:
    """masks.grow for px >= 0 (square neighbourhood), computed only around the mask's pixels > 0 and
    separably (rows, then columns): the same result, at the cost of the grown box instead of the
    full image times (2 px + 1)². box: the pixels' bounding box when known. A new tensor."""
    px = int(px)
    box = _box_of(mask) if box is None else box
    if px <= 0 or box is None:
        return mask.clone()
    H, W = mask.shape[-2:]
    x0, y0 = max(0, box[0] - px), max(0, box[1] - px)
    x1, y1 = min(W, box[2] + px), min(H, box[3] + px)
    k = 2 * px + 1
    g = F.max_pool2d(mask[..., y0:y1, x0:x1], (1, k), stride=1, padding=(0, px))
    g = F.max_pool2d(g, (k, 1), stride=1, padding=(px, 0))
    out = torch.zeros_like(mask)
    out[..., y0:y1, x0:x1] = g
    return out


# --- prepare ----------------------------------------------------------------------------------

@dataclass
class Prepared:
    """What Fill-in Insert samples on, and how to put it back.

    plan: the crop (box in scene pixels, working size); hole: the hole used, at the scene's size
    [B,H,W]; placement: where the target went on the scene (placement.Placement). At the working
    size: composite [B,h,w,C] (the scene with the target pasted in: encode this), target [B,h,w,C]
    (the placed target on an empty canvas), silhouette [B,h,w] and work_hole [B,h,w]. grow_px: how far
    the silhouette was grown, in scene pixels."""
    plan: C.CropPlan
    hole: torch.Tensor
    placement: P.Placement
    composite: torch.Tensor
    target: torch.Tensor
    silhouette: torch.Tensor
    work_hole: torch.Tensor
    grow_px: int = 0


def prepare(scene: torch.Tensor, target: torch.Tensor, object_mask: torch.Tensor, hole: torch.Tensor | None = None, *,
            fit: str = "into hole", x: float = 0.5, y: float = 0.5, scale: float = 0.4, flip: bool = False,
            working_size=C.DEFAULT_WORKING_SIZE, context: float = DEFAULT_CONTEXT, feather: int = DEFAULT_FEATHER,
            color_match: bool = False, vae_factor: int = 8) -> Prepared:
    """Place, make the hole, plan the crop and cut the working inputs (see the module's rules).

    scene [B,C,H,W] and target [B,C,h,w] RGB, object_mask [B,1,h,w] (1 = object), hole: what
    :func:`scene_hole` returns for the hole input (checked there once: [B,1,H,W] or None). Raises
    ValueError naming the input for a target off the canvas, an empty cut-out, a hole covering
    the whole image."""
    check_options(fit=fit, working_size=working_size, context=context, feather=feather)
    H, W = int(scene.shape[-2]), int(scene.shape[-1])
    f = int(vae_factor)
    if hole is not None:
        if hole.ndim != 4 or tuple(hole.shape[-2:]) != (H, W):
            raise ValueError(f"hole must be scene_hole's [B,1,H,W] mask of the {W}x{H} scene, got {tuple(hole.shape)}")
        M.batch_size(scene.shape[0], hole.shape[0], "scene", "hole")
    hole_box = None if hole is None else _box_of(hole)
    context_px = max(8, int(feather) + (C.COLOR_RING_PX if color_match else 0))
    opts = dict(context=float(context), context_px=context_px, working_size=working_size, vae_factor=f)

    def cell_px(content_box) -> int:  # one latent cell of the working resolution, in scene pixels
        return max(1, math.ceil(f / C.plan_crop((H, W), content_box, **opts).scale - 1e-9))

    if fit == "into hole" and hole_box is not None:
        g = cell_px(hole_box)  # leave room for the grow, where the hole is large enough
        bx0, by0, bx1, by1 = hole_box
        inner = (bx0 + g, by0 + g, bx1 - g, by1 - g) if min(bx1 - bx0, by1 - by0) > 4 * g else hole_box
        x, y, scale = fit_into_box(object_mask, inner, (H, W), flip)
    placed, pmask, where = P.place_target(target, object_mask, (H, W), x, y, scale, flip)
    sil_box = _box_of(pmask, where.box)
    if sil_box is None:
        raise ValueError("the placed target is empty: nothing to insert (check the target_mask, the alpha channel, "
                         "or make scale larger)")

    # grow the silhouette by one latent cell of the working resolution
    content = sil_box if hole_box is None else (min(sil_box[0], hole_box[0]), min(sil_box[1], hole_box[1]),
                                                max(sil_box[2], hole_box[2]), max(sil_box[3], hole_box[3]))
    grow_px = cell_px(content)
    grown = grow_near((pmask > 0).to(scene.dtype), grow_px, sil_box)
    if hole is not None:
        M.batch_size(hole.shape[0], grown.shape[0], "hole", "target")
    used = grown if hole is None else torch.maximum(hole.to(grown.dtype), grown)
    gb = (max(0, sil_box[0] - grow_px), max(0, sil_box[1] - grow_px),
          min(W, sil_box[2] + grow_px), min(H, sil_box[3] + grow_px))
    used_box = gb if hole_box is None else (min(gb[0], hole_box[0]), min(gb[1], hole_box[1]),
                                            max(gb[2], hole_box[2]), max(gb[3], hole_box[3]))
    plan = C.plan_crop((H, W), used_box, sil_box, **opts)

    work_hole = C.crop_mask(plan, used, "hole")
    lat_hw = (plan.working_hw[0] // f, plan.working_hw[1] // f)
    if bool((M.latent_hole(work_hole, lat_hw) > 0).all()):
        raise ValueError("hole covers the whole image: nothing of the scene would be kept; "
                         "draw a hole that leaves part of the scene")

    # the scene with the target pasted in, only inside the crop box, then at the working size
    x0, y0, x1, y1 = plan.box
    comp_box = P.paste(scene[..., y0:y1, x0:x1], placed[..., y0:y1, x0:x1], pmask[..., y0:y1, x0:x1])
    composite = M.to_bhwc(C.resize_pixels(comp_box, plan.working_hw))
    return Prepared(plan=plan, hole=M.mask_bhw(used), placement=where, composite=composite,
                    target=C.crop_image(plan, M.to_bhwc(placed), "target"),
                    silhouette=C.crop_mask(plan, pmask, "silhouette"), work_hole=work_hole, grow_px=grow_px)


# --- putting a crop back ----------------------------------------------------------------------

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
                feather: int = DEFAULT_FEATHER, color_match: bool = False) -> torch.Tensor:
    """crop.stitch with the hole at the working size or the scene's size (IMAGE / MASK layouts)."""
    return C.stitch(plan, scene, generated, hole_in_scene(plan, hole), int(feather), bool(color_match))
