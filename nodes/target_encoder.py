"""Fill-in Target Encoder: cut out the target, place it on the scene, encode the composite."""

from __future__ import annotations

from comfy_api.latest import io

from ..fillblank_core import masks as M
from ..fillblank_core import ranges as R
from ..fillblank_core.placement import place_on_scene
from ..fillblank_core.segment import CUTOUTS, cut_out
from ..fillblank_core.target import FillBlankTarget, crop_to_multiple
from .common import SAM_TIP, TARGET_TIP, SamModel, Target, mask_inputs, placement_inputs, schema
from .compat import vae_downscale
from .guidance import target_inputs


class FillBlankTargetEncoder(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        target_mask, object_mask = mask_inputs()
        return schema(
            "FillBlankTargetEncoder", "target",
            "Cuts the target object out, places it on the scene and encodes the composite with your VAE, so the "
            "sampler can pull the hole toward it.",
            inputs=[
                io.Image.Input("target", tooltip=TARGET_TIP),
                io.Image.Input("scene", tooltip="The scene to insert the object into."),
                io.Vae.Input("vae", tooltip="The VAE of your checkpoint; encodes the scene with the target pasted in."),
                *placement_inputs(),
                target_mask,
                SamModel.Input("sam", optional=True, tooltip=SAM_TIP),
                io.ClipVision.Input("clip_vision", optional=True, tooltip="Optional CLIP vision model: outputs the "
                                    "cut-out target's CLIP_VISION_OUTPUT."),
                # after the inputs of workflows saved before it existed, so their slots stay in place
                object_mask,
            ],
            outputs=[
                Target.Output(display_name="target", tooltip="The placed, encoded target for Fill-in Sampler / "
                              "Fill-in Sampler Select."),
                io.Image.Output(display_name="preview", tooltip="The scene with the target pasted in (before sampling)."),
                io.Mask.Output(display_name="silhouette", tooltip="The target's silhouette on the scene (1 = object)."),
                io.ClipVisionOutput.Output(display_name="clip_vision_output", tooltip="The cut-out target's CLIP image "
                                           "embedding (for unCLIPConditioning, IPAdapter, StyleModelApply); needs the "
                                           "clip_vision input."),
            ])

    @classmethod
    def execute(cls, target, scene, vae, x, y, scale, flip, cutout="auto", target_mask=None, sam=None,
                clip_vision=None, object_mask=None) -> io.NodeOutput:
        v = R.check_inputs(x=x, y=y, scale=scale)
        R.check_choice("cutout", cutout, CUTOUTS)
        _, tgt, target_mask = target_inputs(scene, target, target_mask, object_mask)
        obj = cut_out(tgt, target_mask, cutout, sam)
        image, mask, comp, where = place_on_scene(scene, tgt[:, :3], obj, v["x"], v["y"], v["scale"], flip)
        pixels = crop_to_multiple(comp.permute(0, 3, 1, 2), vae_downscale(vae)).permute(0, 2, 3, 1)
        latent = vae.encode(pixels)
        clip_out = None
        if clip_vision is not None:  # the object on neutral grey, so the background does not count
            clip_out = clip_vision.encode_image(M.to_bhwc(tgt[:, :3] * obj + 0.5 * (1.0 - obj)))
        record = FillBlankTarget(image=image, mask=mask, composite=comp, latent=latent.float().cpu(),
                                   placement=where, embeds=clip_out)
        return io.NodeOutput(record, record.composite, record.mask, clip_out)
