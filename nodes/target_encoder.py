"""FillBlankTargetEncoder: cut out the target, place it on the scene, encode the composite."""

from __future__ import annotations

from ..fillblank_core import masks as M
from ..fillblank_core import placement as P
from ..fillblank_core import ranges as R
from ..fillblank_core.placement import CUTOUTS, cut_out
from .common import CATEGORY, TARGET, batch_of, mask_input, rgb
from .compat import vae_downscale


def target_inputs(scene, target, cutout: str, target_mask=None):
    """The checks of a scene / target / cut-out / target_mask input set (Target Encoder, Insert):
    (scene [B,3,H,W], target [B,3|4,h,w], target_mask [B,1,h,w] or None)."""
    scene_c = rgb(scene, "scene")
    tgt = rgb(target, "target", allow_alpha=True)
    if cutout not in CUTOUTS:
        raise ValueError(f"cutout must be one of {', '.join(CUTOUTS)}, got {cutout!r}")
    if target_mask is not None:
        target_mask = mask_input(target_mask, "target_mask")
    M.broadcast_batch(scene=batch_of(scene), target=batch_of(target), target_mask=batch_of(target_mask))
    return scene_c, tgt, target_mask


class FillBlankTargetEncoder:
    DESCRIPTION = ("Cuts the target object out, places it on the scene and encodes the composite with "
                   "your VAE, so the sampler can pull the hole toward it.")
    CATEGORY = CATEGORY
    FUNCTION = "encode"
    RETURN_TYPES = (TARGET, "IMAGE", "MASK", "CLIP_VISION_OUTPUT")
    RETURN_NAMES = ("target", "preview", "silhouette", "clip_vision_output")
    OUTPUT_TOOLTIPS = ("The placed, encoded target for FillBlank Sampler / Sampler Select.",
                       "The scene with the target pasted in (before sampling).",
                       "The target's silhouette on the scene (1 = object).",
                       "The cut-out target's CLIP image embedding (for unCLIPConditioning, IPAdapter, "
                       "StyleModelApply); needs the clip_vision input.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "target": ("IMAGE", {"tooltip": "Image of the object to insert (RGB, or RGBA whose alpha is the cut-out)."}),
                "scene": ("IMAGE", {"tooltip": "The scene to insert the object into."}),
                "vae": ("VAE", {"tooltip": "The VAE of your checkpoint; encodes the scene with the target pasted in."}),
                "x": R.X.widget(0.5, "Horizontal centre of the target as a fraction of the scene width (0 = left edge, 1 = right edge)."),
                "y": R.Y.widget(0.5, "Vertical centre of the target as a fraction of the scene height (0 = top, 1 = bottom)."),
                "scale": R.SCALE.widget(0.4, "Height of the target as a fraction of the scene height."),
                "flip": ("BOOLEAN", {"default": False, "tooltip": "Mirror the target horizontally."}),
                "cutout": (CUTOUTS, {"default": "auto", "tooltip": "How the object is cut out: auto (target_mask, else alpha, else SAM if connected, else whole image), mask or alpha, whole image, border color (plain studio background), sam."}),
            },
            "optional": {
                "target_mask": ("MASK", {"tooltip": "LoadImage's MASK of the target (1 = transparent), so the object is 1 − mask."}),
                "sam": ("SAM_MODEL", {"tooltip": "Optional SAM model for an automatic cut-out of the target."}),
                "clip_vision": ("CLIP_VISION", {"tooltip": "Optional CLIP vision model: outputs the cut-out target's CLIP_VISION_OUTPUT."}),
            },
        }

    def encode(self, target, scene, vae, x, y, scale, flip, cutout="auto", target_mask=None, sam=None,
               clip_vision=None):
        R.check_inputs(x=x, y=y, scale=scale)
        scene_c, tgt, target_mask = target_inputs(scene, target, cutout, target_mask)
        obj = cut_out(tgt, target_mask, cutout, sam)
        image, mask, comp, where = P.place_on_scene(scene, tgt[:, :3], obj, x, y, scale, flip)
        pixels = P.crop_to_multiple(comp.permute(0, 3, 1, 2), vae_downscale(vae)).permute(0, 2, 3, 1)
        latent = vae.encode(pixels)
        clip_out = None
        if clip_vision is not None:  # the object on neutral grey, so the background does not count
            clip_out = clip_vision.encode_image(M.to_bhwc(tgt[:, :3] * obj + 0.5 * (1.0 - obj)))
        record = P.FillBlankTarget(image=image, mask=mask, composite=comp, latent=latent.float().cpu(),
                                   placement=where, embeds=clip_out)
        return (record, record.composite, record.mask, clip_out)
