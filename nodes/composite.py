"""Fill-in Composite: put the decoded result back into the original scene pixels."""

from __future__ import annotations

from comfy_api.latest import io

from ..fillblank_core import masks as M
from ..fillblank_core import ranges as R
from ..fillblank_core.composite import composite_image, stitch_back
from .common import Stitch, batch_of, boolean, feather_input, in_front_input, mask_input, rgb, schema


class FillBlankComposite(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "FillBlankComposite", "results",
            "Blends the decoded result into the original scene inside the feathered hole; everywhere else the "
            "scene's own pixels come out unchanged.",
            inputs=[
                io.Image.Input("scene", tooltip="The original scene."),
                io.Image.Input("image", tooltip="VAE Decode of Fill-in Sampler's latent."),
                io.Mask.Input("mask", tooltip="The hole used for sampling."),
                feather_input("Soft edge outward over this many pixels."),
                boolean("color_match", False, "Match the inserted region's colour statistics to the ring around "
                        "the hole."),
                Stitch.Input("stitch", optional=True, tooltip="From Fill-in Crop: image (and mask) are the crop's, at "
                             "the working size; they are put back into the full-size scene."),
                # added after the first release: last and optional
                io.Mask.Input("in_front", optional=True, tooltip="Optional MASK of the (full-size) scene: 1 = what "
                              "stands in front of the object (the in_front given to Fill-in Target Encoder; with "
                              "chained targets, less the last encoder's silhouette output: Mask Composite subtract). "
                              "Those pixels come out exactly as in the scene, even inside the hole's feather."),
            ],
            outputs=[io.Image.Output(display_name="image", tooltip="The scene with the inserted object.")])

    @classmethod
    def execute(cls, scene, image, mask, feather, color_match, stitch=None, in_front=None) -> io.NodeOutput:
        feather = R.FEATHER.check("feather", feather)
        if stitch is not None:  # a crop from Fill-in Crop goes back into the full scene
            if not all(hasattr(stitch, a) for a in ("box", "working_size", "scene_hw")):
                raise ValueError("stitch must be the FILLBLANK_STITCH output of Fill-in Crop")
            s = rgb(scene, "scene")
            rgb(image, "image")
            mask_input(mask, "mask")
            keep = in_front_input(in_front, tuple(s.shape[-2:]))
            return io.NodeOutput(stitch_back(stitch, scene, image, mask, int(feather), bool(color_match), keep))
        s = rgb(scene, "scene")
        rgb(image, "image")
        m = mask_input(mask, "mask", tuple(s.shape[-2:]))
        keep = in_front_input(in_front, tuple(s.shape[-2:]))
        M.broadcast_batch(scene=batch_of(scene), image=batch_of(image), mask=batch_of(mask), in_front=batch_of(in_front))
        return io.NodeOutput(composite_image(scene, image, m, feather, bool(color_match), keep))
