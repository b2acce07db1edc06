"""FillBlankMaskRefiner: the hole to repaint, from a drawn mask, the target's silhouette, or SAM."""

from __future__ import annotations

import torch

from ..fillblank_core import masks as M
from .common import CATEGORY, TARGET, mask_input, rgb

MODES = ["hole", "silhouette", "box", "union", "sam"]


def refine(mode, grow, feather, threshold, hole=None, target=None, sam=None, scene=None) -> torch.Tensor:
    """The refined mask [B,1,H,W] (checks first, then threshold → combine → grow → feather)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    needs_hole = mode in ("hole", "union")
    needs_target = mode in ("silhouette", "box", "union")
    if needs_hole and hole is None:
        raise ValueError(f"mode '{mode}' needs the hole input: connect a MASK (e.g. drawn in LoadImage's mask editor)")
    if needs_target and target is None:
        raise ValueError(f"mode '{mode}' needs the target input: connect FillBlank Target Encoder's target output")
    if mode == "sam" and (sam is None or (scene is None and target is None)):
        raise ValueError("mode 'sam' needs the sam input (FillBlank SAM Loader) and the scene image "
                         "(or a target, whose scene is used), plus a rough hole")
    hw = target.scene_hw if target is not None else None
    h = mask_input(hole, "hole", hw) if hole is not None else None
    if mode == "hole":
        m = M.threshold(h, threshold)
    elif mode == "sam":
        from ..fillblank_core import segment
        scene_img = rgb(scene, "scene") if scene is not None else M.to_bchw(target.composite)
        if h is None:
            raise ValueError("mode 'sam' needs a rough hole MASK (or a click/box drawn as a mask) on the hole input")
        if tuple(h.shape[-2:]) != tuple(scene_img.shape[-2:]):
            raise ValueError(f"hole is {h.shape[-1]}x{h.shape[-2]} px but the scene is "
                             f"{scene_img.shape[-1]}x{scene_img.shape[-2]} px; they must be the same size")
        imgs = M.to_bhwc(scene_img)
        outs = [segment.sam_refine(sam, imgs[min(i, imgs.shape[0] - 1)], rough_mask=h[i, 0])
                for i in range(h.shape[0])]
        m = torch.stack([torch.as_tensor(o, dtype=torch.float32) for o in outs])[:, None]
    else:
        sil = M.threshold(M.mask_b1hw(target.mask), threshold)
        if mode == "silhouette":
            m = sil
        elif mode == "box":
            m = M.bbox_mask(sil)
        else:
            m = M.union(M.threshold(h, threshold), sil)
    m = M.grow(m, grow)
    return M.feather(m, feather).clamp(0.0, 1.0)


class FillBlankMaskRefiner:
    DESCRIPTION = "Makes the hole to repaint from a drawn mask, the target's silhouette or its box, grown and feathered."
    CATEGORY = CATEGORY
    FUNCTION = "refine"
    RETURN_TYPES = ("MASK", "IMAGE")
    RETURN_NAMES = ("mask", "preview")
    OUTPUT_TOOLTIPS = ("The hole (1 = repaint), at the scene's size.",
                       "The mask as a picture (over the scene with the target when one is connected).")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "mode": (MODES, {"default": "union", "tooltip": "hole: the mask as drawn; silhouette: the target's outline; box: its bounding box; union: hole ∪ silhouette; sam: the hole refined to an object outline by SAM."}),
                "grow": ("INT", {"default": 8, "min": -128, "max": 128, "step": 1, "tooltip": "Grow (positive) or shrink (negative) the mask by this many pixels."}),
                "feather": ("INT", {"default": 0, "min": 0, "max": 128, "step": 1, "tooltip": "Soft edge outward over this many pixels (the hole itself stays 1)."}),
                "threshold": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 0.99, "step": 0.01, "tooltip": "Pixels above this value count as inside before growing (0 = any touched pixel)."}),
            },
            "optional": {
                "hole": ("MASK", {"tooltip": "The hole drawn by you (1 = repaint), e.g. LoadImage's mask editor."}),
                "target": (TARGET, {"tooltip": "The placed target from FillBlank Target Encoder (for silhouette, box, union)."}),
                "sam": ("SAM_MODEL", {"tooltip": "SAM model for mode 'sam'."}),
                "scene": ("IMAGE", {"tooltip": "The scene, for mode 'sam' when no target is connected."}),
            },
        }

    def refine(self, mode, grow, feather, threshold, hole=None, target=None, sam=None, scene=None):
        m = refine(mode, grow, feather, threshold, hole, target, sam, scene)
        if target is not None:
            base = M.to_bchw(target.composite)
        else:
            base = torch.full((m.shape[0], 3) + tuple(m.shape[-2:]), 0.15)
        preview = base * (1.0 - 0.6 * m) + torch.tensor([1.0, 0.2, 0.2]).view(1, 3, 1, 1) * 0.6 * m
        return (M.mask_bhw(m), M.to_bhwc(preview))
