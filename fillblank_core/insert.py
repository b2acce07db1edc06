"""Fill-in Insert's work around the model: place the target on the full scene, make the hole, plan
the crop and cut the working inputs out.

    prep = prepare(scene, target, object_mask, hole, fit="into hole", working_size=1024, ...)
    ... encode prep.composite, sample in prep.work_hole, decode -> generated (working size) ...
    out = composite.stitch(prep.plan, scene, generated, prep.hole, feather)   # full size

The node checks every user value (``ranges``) before it calls this module; nothing is checked twice.

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

from . import crop as C
from . import masks as M
from . import placement as P
from .composite import COLOR_RING_PX
from .ranges import DEFAULT_CONTEXT, DEFAULT_FEATHER, DEFAULT_WORKING_SIZE
from .target import kept, over

FITS = ("into hole", "x-y-scale")
# the cut-out's box is fitted into the hole's box shrunk by this many pixels on each side, and one
# more scene pixel per target pixel of scale: room for bilinear resampling's soft edge (half a
# target pixel when enlarging, about one scene pixel when shrinking) and for the whole-pixel
# position (half a pixel)
FIT_MARGIN_PX = 2.5


# --- the hole input ----------------------------------------------------------------------------

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

def fit_into_box(object_mask: torch.Tensor, box, scene_hw: tuple[int, int], flip: bool = False):
    """(x, y, scale) for :func:`placement.place_target` that put the cut-out's bounding box (pixels
    > 0 of ``object_mask`` [B,1,h,w]) into ``box`` (x0, y0, x1, y1) in scene pixels: as large as
    fits with the aspect kept, centred. The placed pixels > 0 stay inside the box for boxes larger
    than a few pixels (see FIT_MARGIN_PX)."""
    H, W = int(scene_hw[0]), int(scene_hw[1])
    h0, w0 = int(object_mask.shape[-2]), int(object_mask.shape[-1])
    ob = M.mask_box(object_mask)
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


# --- prepare ----------------------------------------------------------------------------------

@dataclass
class Prepared:
    """What Fill-in Insert samples on, and how to put it back.

    plan: the crop (box in scene pixels, working size); hole: the hole used, at the scene's size
    [B,H,W]; placement: where the target went on the scene (placement.Placement). At the working
    size: composite [B,h,w,C] (the scene with the target pasted in: encode this), target [B,h,w,C]
    (the placed target on an empty canvas), silhouette [B,h,w] and work_hole [B,h,w]. grow_px: how far
    the silhouette was grown, in scene pixels. keep: None or [B,H,W] at the scene's size, the pixels
    kept exactly (in_front, outside the hole: give it to the stitch)."""
    plan: C.CropPlan
    hole: torch.Tensor
    placement: P.Placement
    composite: torch.Tensor
    target: torch.Tensor
    silhouette: torch.Tensor
    work_hole: torch.Tensor
    grow_px: int = 0
    keep: torch.Tensor | None = None


def prepare(scene: torch.Tensor, target: torch.Tensor, object_mask: torch.Tensor, hole: torch.Tensor | None = None, *,
            fit: str = "into hole", x: float = 0.5, y: float = 0.5, scale: float = 0.4, flip: bool = False,
            working_size=DEFAULT_WORKING_SIZE, context: float = DEFAULT_CONTEXT, feather: int = DEFAULT_FEATHER,
            color_match: bool = False, vae_factor: int = 8, earlier=None, shadow: str = "none",
            shadow_angle: float = 45.0, shadow_length: float = 0.5, in_front: torch.Tensor | None = None) -> Prepared:
    """Place, make the hole, plan the crop and cut the working inputs (see the module's rules).

    scene [B,C,H,W] and target [B,C,h,w] RGB, object_mask [B,1,h,w] (1 = object), hole: what
    :func:`scene_hole` returns for the hole input (checked there once: [B,1,H,W] or None). Raises
    ValueError naming the input for a target off the canvas, an empty cut-out, a hole covering
    the whole image. The values are the node's, already checked (``ranges``).

    in_front: None or [B,1,H,W] (checked by the node), 1 = scene pixels that stand in front of the
    object: the object is drawn only where it is 0 (the silhouette is the visible part), and the hole,
    the grown silhouette and the shadow zone leave those pixels out (``masks.leave_out``); ``keep``
    then holds them for the stitch, which keeps them exactly, feather included.

    earlier: targets placed on this scene before (image [B,H,W,C], mask [B,H,W], composite
    [B,H,W,C] of a FILLBLANK_TARGET, and optionally its kept pixels ``in_front`` [B,H,W] or None):
    this target is drawn over them, the hole and the crop hold them all, and the composite is
    theirs with this one pasted in; each keeps its own in_front (``target.kept``). shadow: "contact" or
    "cast" adds ``masks.shadow_zone`` of the silhouette(s) to the hole (angle, length)."""
    H, W = int(scene.shape[-2]), int(scene.shape[-1])
    f = int(vae_factor)
    if hole is not None:
        if hole.ndim != 4 or tuple(hole.shape[-2:]) != (H, W):
            raise ValueError(f"hole must be scene_hole's [B,1,H,W] mask of the {W}x{H} scene, got {tuple(hole.shape)}")
        M.batch_size(scene.shape[0], hole.shape[0], "scene", "hole")
    hole_box = None if hole is None else M.mask_box(hole)
    context_px = max(8, int(feather) + (COLOR_RING_PX if color_match else 0))
    opts = dict(context=float(context), context_px=context_px, working_size=working_size, vae_factor=f)

    def cell_px(content_box) -> int:  # one latent cell of the working resolution, in scene pixels
        return max(1, math.ceil(f / C.plan_crop((H, W), content_box, **opts).scale - 1e-9))

    if fit == "into hole" and hole_box is not None:
        g = cell_px(hole_box)  # leave room for the grow, where the hole is large enough
        bx0, by0, bx1, by1 = hole_box
        inner = (bx0 + g, by0 + g, bx1 - g, by1 - g) if min(bx1 - bx0, by1 - by0) > 4 * g else hole_box
        x, y, scale = fit_into_box(object_mask, inner, (H, W), flip)
    placed, pmask, where = P.place_target(target, object_mask, (H, W), x, y, scale, flip)
    if M.mask_box(pmask, within=where.box) is None:
        raise ValueError("the placed target is empty: nothing to insert (check the target_mask, the alpha channel, "
                         "or make scale larger)")
    pmask = M.visible_part(pmask, in_front)  # drawn only where nothing stands in front of it
    new_placed, new_mask = placed, pmask
    e_kept = e_mask = None
    if earlier is not None:  # the earlier targets stay; this one is drawn over them
        e_image, e_mask, e_comp = earlier[:3]
        e_kept = earlier[3] if len(earlier) > 3 else None
        scene = M.to_bchw(e_comp).to(scene)
        img, msk = over(e_image, e_mask, M.to_bhwc(placed), pmask[:, 0])
        placed, pmask = M.to_bchw(img), msk[:, None]
    keep = kept(e_kept, e_mask, None if in_front is None else in_front[:, 0], new_mask[:, 0])
    sil_box = M.mask_box(pmask)

    # grow the silhouette by one latent cell of the working resolution
    content = sil_box if hole_box is None else (min(sil_box[0], hole_box[0]), min(sil_box[1], hole_box[1]),
                                                max(sil_box[2], hole_box[2]), max(sil_box[3], hole_box[3]))
    grow_px = cell_px(content)
    grown = M.grow((pmask > 0).to(scene.dtype), grow_px, sil_box)
    if hole is not None:
        M.batch_size(hole.shape[0], grown.shape[0], "hole", "target")
    gb = (max(0, sil_box[0] - grow_px), max(0, sil_box[1] - grow_px),
          min(W, sil_box[2] + grow_px), min(H, sil_box[3] + grow_px))
    if shadow != "none":  # room for the shadow, grown like the silhouette
        zone = M.grow(M.shadow_zone(pmask, shadow_angle, shadow_length, cast=shadow == "cast"), grow_px)
        zb = M.mask_box(zone)
        grown = torch.maximum(grown, zone.to(grown))
        if zb is not None:
            gb = (min(gb[0], zb[0]), min(gb[1], zb[1]), max(gb[2], zb[2]), max(gb[3], zb[3]))
    used = grown if hole is None else torch.maximum(hole.to(grown.dtype), grown)
    used = M.leave_out(used, keep)  # what stands in front is outside the hole
    used_box = gb if hole_box is None else (min(gb[0], hole_box[0]), min(gb[1], hole_box[1]),
                                            max(gb[2], hole_box[2]), max(gb[3], hole_box[3]))
    plan = C.plan_crop((H, W), used_box, sil_box, **opts)

    work_hole = C.crop_mask(plan, used, "hole")
    lat_hw = (plan.working_hw[0] // f, plan.working_hw[1] // f)
    whole = (M.latent_hole(work_hole, lat_hw) > 0).flatten(1).all(1)  # per batch item
    if bool(whole.any()):
        n = whole.shape[0]
        item = f" (item {int(whole.nonzero()[0]) + 1} of {n})" if n > 1 else ""
        raise ValueError(f"hole{item} covers the whole image: nothing of the scene would be kept; "
                         "draw a hole that leaves part of the scene")

    # the scene with the target pasted in, only inside the crop box, then at the working size
    x0, y0, x1, y1 = plan.box
    comp_box = P.paste(scene[..., y0:y1, x0:x1], new_placed[..., y0:y1, x0:x1], new_mask[..., y0:y1, x0:x1])
    composite = M.to_bhwc(C.resize_pixels(comp_box, plan.working_hw))
    return Prepared(plan=plan, hole=M.mask_bhw(used), placement=where, composite=composite,
                    target=C.crop_image(plan, M.to_bhwc(placed), "target"),
                    silhouette=C.crop_mask(plan, pmask, "silhouette"), work_hole=work_hole, grow_px=grow_px,
                    keep=keep)
