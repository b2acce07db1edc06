"""Fill-in Target Encoder: cut out the target, place it on the scene, encode the composite."""

from __future__ import annotations

from comfy_api.latest import io

from ..fillblank_core import masks as M
from ..fillblank_core import ranges as R
from ..fillblank_core.placement import place_on_scene
from ..fillblank_core.segment import CUTOUTS, cut_out
from ..fillblank_core.target import FillBlankTarget, check_same_scene, crop_to_multiple, kept, over
from .common import (ADD_TO_TIP, IN_FRONT_TIP, SAM_TIP, TARGET_TIP, SamModel, Target, batch_of, in_front_input,
                     mask_inputs, perspective_inputs, placed_height, placement_inputs, schema)
from .compat import vae_downscale
from .guidance import check_target, target_inputs


class FillBlankTargetEncoder(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        target_mask, object_mask = mask_inputs()
        return schema(
            "FillBlankTargetEncoder", "target",
            "Cuts the target object out, places it on the scene and encodes the composite with your VAE, so the "
            "sampler can pull the hole toward it.",
            inputs=[
                # scene, then target, as on every node that takes both. Saved workflows keep their
                # links: the frontend restores a node's input list as it was saved (names with their
                # slots), and API prompts name their inputs
                io.Image.Input("scene", tooltip="The scene to insert the object into."),
                io.Image.Input("target", tooltip=TARGET_TIP),
                io.Vae.Input("vae", tooltip="The VAE of your checkpoint; encodes the scene with the target pasted in."),
                *placement_inputs(),
                target_mask,
                SamModel.Input("sam", optional=True, tooltip=SAM_TIP),
                io.ClipVision.Input("clip_vision", optional=True, tooltip="Optional CLIP vision model: outputs the "
                                    "cut-out target's CLIP_VISION_OUTPUT."),
                # after the inputs of workflows saved before they existed, so their slots stay in place
                object_mask,
                Target.Input("add_to", optional=True, tooltip=ADD_TO_TIP),
                *perspective_inputs(),
                io.Mask.Input("in_front", optional=True, tooltip=IN_FRONT_TIP),
            ],
            outputs=[
                Target.Output(display_name="target", tooltip="The placed, encoded target for Fill-in Sampler / "
                              "Fill-in Sampler Select (with add_to: all the chained targets)."),
                io.Image.Output(display_name="preview", tooltip="The scene with the target(s) pasted in (before "
                                "sampling)."),
                io.Mask.Output(display_name="silhouette", tooltip="The silhouette of the target(s) on the scene "
                               "(1 = object)."),
                io.ClipVisionOutput.Output(display_name="clip_vision_output", tooltip="The cut-out target's CLIP image "
                                           "embedding (for unCLIPConditioning, IPAdapter, StyleModelApply); needs the "
                                           "clip_vision input."),
            ])

    @classmethod
    def execute(cls, target, scene, vae, x, y, scale, flip, cutout="auto", target_mask=None, sam=None,
                clip_vision=None, object_mask=None, add_to=None, horizon=0.0, in_front=None) -> io.NodeOutput:
        v = R.check_inputs(x=x, y=y, scale=scale, horizon=horizon)
        R.check_choice("cutout", cutout, CUTOUTS)
        scene_c, tgt, target_mask = target_inputs(scene, target, target_mask, object_mask)
        cover = in_front_input(in_front, tuple(scene_c.shape[-2:]))
        if add_to is not None:
            check_target(add_to, "add_to")
        n = M.broadcast_batch(scene=batch_of(scene), target=batch_of(target), add_to=batch_of(add_to),
                              in_front=batch_of(in_front))
        height = placed_height(v["scale"], v["y"], v["horizon"])
        base = scene
        if add_to is not None:  # drawn over the targets placed before, on their composite
            check_same_scene(add_to, scene)
            base = M.repeat_batch(add_to.composite.to(scene), n)
        obj = cut_out(tgt, target_mask, cutout, sam)
        image, mask, comp, where = place_on_scene(base, tgt[:, :3], obj, v["x"], v["y"], height, flip,
                                                  None if cover is None else cover[:, 0])
        keep = kept(getattr(add_to, "in_front", None), None if add_to is None else add_to.mask,
                    None if cover is None else cover[:, 0], mask)
        if add_to is not None:
            image, mask = over(add_to.image, add_to.mask, image, mask)
        pixels = crop_to_multiple(comp.permute(0, 3, 1, 2), vae_downscale(vae)).permute(0, 2, 3, 1)
        latent = vae.encode(pixels)
        clip_out = None
        if clip_vision is not None:  # the object on neutral grey, so the background does not count
            clip_out = clip_vision.encode_image(M.to_bhwc(tgt[:, :3] * obj + 0.5 * (1.0 - obj)))
        record = FillBlankTarget(image=image, mask=mask, composite=comp, latent=latent.float().cpu(),
                                 placement=where, embeds=clip_out if clip_out is not None or add_to is None
                                 else add_to.embeds, earlier=() if add_to is None else add_to.placements,
                                 in_front=keep)
        return io.NodeOutput(record, record.composite, record.mask, clip_out)
