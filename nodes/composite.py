"""FillBlankComposite: put the decoded result back into the original scene pixels."""

from __future__ import annotations

from ..fillblank_core import masks as M
from ..fillblank_core import ranges as R
from ..fillblank_core.insert import stitch_back
from ..fillblank_core.placement import composite_image
from .common import CATEGORY, batch_of, mask_input, rgb
from .crop import STITCH


class FillBlankComposite:
    DESCRIPTION = ("Blends the decoded result into the original scene inside the feathered hole; "
                   "everywhere else the scene's own pixels come out unchanged.")
    CATEGORY = CATEGORY
    FUNCTION = "composite"
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The scene with the inserted object.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "scene": ("IMAGE", {"tooltip": "The original scene."}),
                "image": ("IMAGE", {"tooltip": "VAE Decode of FillBlank Sampler's latent."}),
                "mask": ("MASK", {"tooltip": "The hole used for sampling."}),
                "feather": R.FEATHER.widget(8, "Soft edge outward over this many pixels."),
                "color_match": ("BOOLEAN", {"default": False, "tooltip": "Match the inserted region's colour statistics to the ring around the hole."}),
            },
            "optional": {
                "stitch": (STITCH, {"tooltip": "From Fill-in Crop: image (and mask) are the crop's, at the working size; they are put back into the full-size scene."}),
            },
        }

    def composite(self, scene, image, mask, feather, color_match, stitch=None):
        feather = R.FEATHER.check("feather", feather)
        if stitch is not None:  # a crop from Fill-in Crop goes back into the full scene
            if not all(hasattr(stitch, a) for a in ("box", "working_size", "scene_hw")):
                raise ValueError("stitch must be the FILLBLANK_STITCH output of Fill-in Crop")
            rgb(scene, "scene")
            rgb(image, "image")
            mask_input(mask, "mask")
            return (stitch_back(stitch, scene, image, mask, int(feather), bool(color_match)),)
        s = rgb(scene, "scene")
        rgb(image, "image")
        m = mask_input(mask, "mask", tuple(s.shape[-2:]))
        M.broadcast_batch(scene=batch_of(scene), image=batch_of(image), mask=batch_of(mask))
        return (composite_image(scene, image, m, feather, bool(color_match)),)
