"""Fill-in Crop: the region around the hole at the model's resolution, for the modular chain."""

from __future__ import annotations

import torch

from comfy_api.latest import io

from ..fillblank_core import crop as C
from ..fillblank_core import ranges as R
from ..fillblank_core.insert import scene_hole
from .common import Stitch, context_input, mask_input, rgb, schema, working_size_input


class FillBlankCrop(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "FillBlankCrop", "insert",
            "Cuts the region around the hole out of a photo of any size at your model's resolution, for the "
            "modular chain; Fill-in Composite puts the result back into the full photo with the stitch output.",
            inputs=[
                io.Image.Input("scene", tooltip="The full-size photo."),
                io.Mask.Input("hole", tooltip="Where to repaint (1 = repaint), at the scene's size."),
                working_size_input(),
                context_input("Scene around the hole kept in the crop, on each side, as a fraction of the hole's "
                              "longest side (plus 8 pixels)."),
                io.Image.Input("target", optional=True, tooltip="Optional image of the scene's size to crop the same "
                               "way (e.g. the scene with the target pasted in)."),
                io.Mask.Input("silhouette", optional=True, tooltip="Optional mask of the scene's size (e.g. where the "
                              "object goes) that the crop must contain too, cropped the same way."),
            ],
            outputs=[
                io.Image.Output(display_name="scene", tooltip="The crop of the scene at the working resolution "
                                "(connect to Fill-in Target Encoder's scene)."),
                io.Mask.Output(display_name="hole", tooltip="The hole cropped the same way (it never shrinks: a "
                               "pixel touched by the hole is in it)."),
                io.Image.Output(display_name="target", tooltip="The target input cropped the same way (the cropped "
                                "scene when none is connected)."),
                io.Mask.Output(display_name="silhouette", tooltip="The silhouette cropped the same way (empty when "
                               "none is connected)."),
                Stitch.Output(display_name="stitch", tooltip="The crop plan: connect to Fill-in Composite's stitch "
                              "to put the result back into the full scene."),
            ])

    @classmethod
    def execute(cls, scene, hole, working_size, context, target=None, silhouette=None) -> io.NodeOutput:
        v = R.check_inputs(working_size=working_size, context=context)
        s = rgb(scene, "scene")
        hw = tuple(s.shape[-2:])
        h = mask_input(hole, "hole", hw)
        sil = scene_hole(silhouette, hw, "silhouette")
        if target is not None and tuple(rgb(target, "target").shape[-2:]) != hw:
            raise ValueError(f"target is {target.shape[2]}x{target.shape[1]} px but the scene is {hw[1]}x{hw[0]} px; "
                             "the target input must have the scene's size")
        plan = C.plan_crop(hw, h, sil, context=v["context"], working_size=v["working_size"])
        work = C.crop_inputs(plan, scene, h, target, sil)
        empty = torch.zeros(h.shape[0], *plan.working_hw)
        return io.NodeOutput(work.scene, work.hole, work.scene if work.target is None else work.target,
                             empty if work.silhouette is None else work.silhouette, plan)
