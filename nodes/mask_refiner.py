"""Fill-in Mask Refiner: the hole to repaint, from a drawn mask, the target's silhouette, or SAM."""

from __future__ import annotations

import logging
from functools import partial

import torch

from comfy_api.latest import io

from ..fillblank_core import masks as M
from ..fillblank_core import ranges as R
from .common import (SamModel, Target, batch_of, combo, feather_input, leave_out_in_front, mask_input, number, rgb,
                     schema, shadow_inputs)

MODES = ["hole", "silhouette", "box", "union", "sam"]
logger = logging.getLogger(__name__)


def refine(mode, grow, feather, threshold, hole=None, target=None, sam=None, scene=None, shadow="none",
           shadow_angle=45.0, shadow_length=0.5) -> tuple:
    """The refined mask [N,1,H,W] and the box where it can be non-zero (checks first, then
    threshold → combine (with the shadow zone) → grow → feather, on the region of the hole; then
    the target's in_front left out: what stands in front of the object is never in the hole)."""
    m, box = _refine(mode, grow, feather, threshold, hole, target, sam, scene, shadow, shadow_angle, shadow_length)
    return leave_out_in_front(m, getattr(target, "in_front", None)), box


def _refine(mode, grow, feather, threshold, hole, target, sam, scene, shadow, shadow_angle, shadow_length) -> tuple:
    v = R.check_inputs(grow=grow, feather=feather, threshold=threshold, shadow_angle=shadow_angle,
                       shadow_length=shadow_length)
    R.check_choice("mode", mode, MODES)
    R.check_choice("shadow", shadow, M.SHADOW_MODES)
    if shadow != "none" and target is None:
        raise ValueError(f"shadow '{shadow}' needs the target input (the shadow falls from the target's silhouette): "
                         "connect Fill-in Target Encoder's target output, or set shadow to none")
    zone = {} if shadow == "none" else {"the shadow zone": M.shadow_zone(
        M.mask_b1hw(target.mask), v["shadow_angle"], v["shadow_length"], cast=shadow == "cast")}
    hw = target.scene_hw if target is not None else (tuple(scene.shape[1:3]) if scene is not None else None)
    if M.is_placeholder(hole, hw):  # nothing painted: LoadImage's empty placeholder means no hole
        if mode == "union" and target is not None:
            logger.info("Fill-in Mask Refiner: the hole is LoadImage's empty placeholder (nothing painted); "
                        "using the target's silhouette")
            mode = "silhouette"
        else:
            raise ValueError(f"mode '{mode}' needs a painted hole, but the hole input is LoadImage's empty "
                             f"placeholder (nothing painted): {M.PAINT_HINT}")
        hole = None
    needs_hole = mode in ("hole", "union")
    needs_target = mode in ("silhouette", "box", "union")
    if needs_hole and hole is None:
        raise ValueError(f"mode '{mode}' needs the hole input: connect a MASK (e.g. drawn in LoadImage's mask editor)")
    if needs_target and target is None:
        raise ValueError(f"mode '{mode}' needs the target input: connect Fill-in Target Encoder's target output")
    if mode == "sam" and (sam is None or (scene is None and target is None)):
        raise ValueError("mode 'sam' needs the sam input (Fill-in SAM Loader) and the scene image "
                         "(or a target, whose scene is used), plus a rough hole")
    h = mask_input(hole, "hole", target.scene_hw if target is not None else None) if hole is not None else None
    n = M.broadcast_batch(hole=batch_of(hole), target=batch_of(target), scene=batch_of(scene) if mode == "sam" else None)
    if h is not None and mode in ("hole", "union"):
        painted = (h.flatten(1) > 0).any(1)
        if not bool(painted.all()):
            item = f" (item {int((~painted).nonzero()[0]) + 1} of {h.shape[0]})" if h.shape[0] > 1 else ""
            raise ValueError(f"hole{item} is empty (all zeros): {M.PAINT_HINT}, or use mode silhouette")
    fine = partial(M.refine_hole, grow_px=v["grow"], feather_px=v["feather"], batch=n)

    def refined(parts, threshold_value, **kw):
        return fine({**parts, **zone}, threshold_value, **kw)
    if mode == "hole":
        return refined({"hole": h}, v["threshold"], what="the hole")
    if mode == "sam":
        from ..fillblank_core import segment
        scene_img = rgb(scene, "scene") if scene is not None else M.to_bchw(target.composite)
        if h is None:
            raise ValueError("mode 'sam' needs a rough hole MASK (or a click/box drawn as a mask) on the hole input")
        if tuple(h.shape[-2:]) != tuple(scene_img.shape[-2:]):
            raise ValueError(f"hole is {h.shape[-1]}x{h.shape[-2]} px but the scene is "
                             f"{scene_img.shape[-1]}x{scene_img.shape[-2]} px; they must be the same size")
        if M.mask_box(h) is None:
            raise ValueError("hole is empty: mode 'sam' needs a rough hole drawn over the object to outline")
        n = M.broadcast_batch(hole=h.shape[0], scene=scene_img.shape[0])
        imgs = M.to_bhwc(scene_img)
        outs = [segment.sam_refine(sam, imgs[min(i, imgs.shape[0] - 1)], rough_mask=h[min(i, h.shape[0] - 1), 0])
                for i in range(n)]
        m = torch.stack([torch.as_tensor(o, dtype=torch.float32) for o in outs])[:, None]
        return refined({"SAM's outline": m}, None, what="SAM's outline")
    sil = M.mask_b1hw(target.mask)
    if mode in ("silhouette", "box"):
        return refined({"the target's silhouette": sil}, v["threshold"], box=mode == "box",
                       what="the silhouette" if mode == "silhouette" else "the silhouette's box")
    return refined({"hole": h, "the target's silhouette": sil}, v["threshold"], what="the hole")


class FillBlankMaskRefiner(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "FillBlankMaskRefiner", "target",
            "Makes the hole to repaint from a drawn mask, the target's silhouette or its box, grown and feathered "
            "(what stands in front of the target, its in_front, left out).",
            inputs=[
                combo("mode", MODES, "union", "hole: the mask as drawn; silhouette: the target's outline; box: its "
                      "bounding box; union: hole ∪ silhouette; sam: the hole refined to an object outline by SAM."),
                number("grow", R.GROW, 8, "Grow (positive) or shrink (negative) the mask by this many pixels."),
                feather_input("Soft edge outward over this many pixels (the hole itself stays 1).", default=0),
                number("threshold", R.THRESHOLD, 0.0, "Pixels above this value count as inside before growing "
                       "(0 = any touched pixel).", advanced=True),
                io.Mask.Input("hole", optional=True, tooltip="The hole drawn by you (1 = repaint), e.g. LoadImage's "
                              "mask editor."),
                Target.Input("target", optional=True, tooltip="The placed target from Fill-in Target Encoder (for "
                             "silhouette, box, union)."),
                SamModel.Input("sam", optional=True, tooltip="SAM model (Fill-in SAM Loader) for mode 'sam'."),
                io.Image.Input("scene", optional=True, tooltip="The scene, for mode 'sam' when no target is connected."),
                # added after the first release: last and optional
                *shadow_inputs(),
            ],
            outputs=[
                io.Mask.Output(display_name="mask", tooltip="The hole (1 = repaint), at the scene's size."),
                io.Image.Output(display_name="preview", tooltip="The mask as a picture (over the scene with the "
                                "target when one is connected)."),
            ])

    @classmethod
    def execute(cls, mode, grow, feather, threshold, hole=None, target=None, sam=None, scene=None, shadow="none",
                shadow_angle=45.0, shadow_length=0.5) -> io.NodeOutput:
        m, box = refine(mode, grow, feather, threshold, hole, target, sam, scene, shadow, shadow_angle, shadow_length)
        base = target.composite if target is not None else torch.tensor(0.15).expand(1, *m.shape[-2:], 3)
        return io.NodeOutput(M.mask_bhw(m), M.overlay(base, m, box=box))
