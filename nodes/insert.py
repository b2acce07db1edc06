"""Fill-in Insert: the common case in one node — place, crop, encode, guided sampling, decode, stitch."""

from __future__ import annotations

import torch

from comfy_api.latest import io

from ..fillblank_core import insert as I
from ..fillblank_core import masks as M
from ..fillblank_core import ranges as R
from ..fillblank_core.composite import stitch
from ..fillblank_core.segment import CUTOUTS, cut_out
from ..fillblank_core.target import check_same_scene
from . import compat
from .common import (ADD_TO_TIP, SAM_TIP, SCHEDULE_TOOLTIP, TARGET_TIP, Lambda, SamModel, Target, adapt_input,
                     batch_of, boolean, combo, context_input, feather_input, mask_inputs, perspective_inputs,
                     placed_height, placement_inputs, sampler_inputs, schema, shadow_inputs, working_size_input)
from .guidance import check_target, guided_sample, schedule_for, target_inputs, warn_cost


class FillBlankInsert(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        target_mask, object_mask = mask_inputs()
        return schema(
            "FillBlankInsert", "insert",
            "Inserts the target into a photo of any size in one node: places it (into the hole, or at x / y / "
            "scale), samples only a crop around the hole at your model's resolution, pulled toward the target, "
            "and stitches the result back; outside the feathered hole the photo's pixels are unchanged.",
            inputs=[
                io.Model.Input("model", tooltip="Your checkpoint's model."),
                io.Vae.Input("vae", tooltip="Your checkpoint's VAE (encodes and decodes the crop only)."),
                io.Conditioning.Input("positive", tooltip="Prompt describing the scene with the object."),
                io.Conditioning.Input("negative", tooltip="Negative prompt."),
                io.Image.Input("scene", tooltip="The photo to insert the object into, any size."),
                io.Image.Input("target", tooltip=TARGET_TIP),
                combo("fit", I.FITS, "into hole", "into hole: the cut-out's bounding box is fitted into the hole's "
                      "bounding box (aspect kept, centred; x, y, scale unused). x-y-scale: placed at x, y with height "
                      "scale. Without a hole, x-y-scale is used either way."),
                *placement_inputs("; fit x-y-scale"),
                *sampler_inputs("Fraction of the schedule to run (1 = from pure noise in the hole; below 1 the "
                                "hole starts from the pasted target)."),
                working_size_input(),
                context_input("Scene around the hole the model sees, on each side, as a fraction of the hole's "
                              "longest side (plus a few pixels). More context: better blending, less resolution "
                              "for the object."),
                feather_input("Soft edge of the stitch outward over this many scene pixels."),
                boolean("color_match", False, "Match the inserted region's colour statistics to the ring around "
                        "the hole."),
                target_mask,
                io.Mask.Input("hole", optional=True, tooltip="Where to insert (1 = repaint), at the scene's size, e.g. "
                              "painted in LoadImage's mask editor. Unconnected or empty: the target's silhouette "
                              "grown by one latent cell."),
                SamModel.Input("sam", optional=True, tooltip=SAM_TIP),
                Lambda.Input("schedule", optional=True, tooltip=SCHEDULE_TOOLTIP),
                # after the inputs of workflows saved before it existed, so their slots stay in place
                object_mask,
                adapt_input(),
                Target.Input("add_to", optional=True, tooltip=ADD_TO_TIP),
                *perspective_inputs(),
                *shadow_inputs(),
            ],
            outputs=[
                io.Image.Output(display_name="image", tooltip="The full-size scene with the inserted object "
                                "(outside the feathered hole: the scene's own pixels)."),
                io.Image.Output(display_name="preview", tooltip="The crop the model works on, at the working "
                                "resolution, with the target pasted where it is guided (before sampling)."),
                io.Mask.Output(display_name="hole", tooltip="The hole used, at the scene's size (your hole ∪ the "
                               "target's silhouette grown by one latent cell)."),
            ])

    @classmethod
    def execute(cls, model, vae, positive, negative, scene, target, fit, x, y, scale, flip, cutout, seed, steps, cfg,
                sampler_name, scheduler, denoise, jump_length, resample, working_size, context, feather, color_match,
                target_mask=None, hole=None, sam=None, schedule=None, object_mask=None,
                adapt=R.DEFAULT_ADAPT, add_to=None, horizon=0.0, shadow="none", shadow_angle=45.0,
                shadow_length=0.5) -> io.NodeOutput:
        # every check once, before any model work (SAM, VAE, sampling): the numbers, the choices, the tensors
        v = R.check_inputs(x=x, y=y, scale=scale, seed=seed, steps=steps, cfg=cfg, denoise=denoise,
                           jump_length=jump_length, resample=resample, working_size=working_size, context=context,
                           feather=feather, horizon=horizon, shadow_angle=shadow_angle, shadow_length=shadow_length)
        R.check_choice("fit", fit, I.FITS)
        R.check_choice("cutout", cutout, CUTOUTS)
        R.check_choice("shadow", shadow, M.SHADOW_MODES)
        scene_c, tgt, target_mask = target_inputs(scene, target, target_mask, object_mask)
        hole = I.scene_hole(hole, tuple(scene_c.shape[-2:]))
        earlier = None
        if add_to is not None:  # targets placed on this scene before: drawn under this one, sampled with it
            check_target(add_to, "add_to")
            M.broadcast_batch(scene=batch_of(scene), target=batch_of(target), hole=batch_of(hole),
                              add_to=batch_of(add_to))
            check_same_scene(add_to, scene)
            earlier = (add_to.image, add_to.mask, add_to.composite)
        placed_by_xy = fit == "x-y-scale" or hole is None
        height = placed_height(v["scale"], v["y"], v["horizon"]) if placed_by_xy else v["scale"]
        sched = schedule_for(schedule, adapt)
        warn_cost("Fill-in Insert", v["steps"], v["jump_length"], v["resample"], sampler_name)

        obj = cut_out(tgt, target_mask, cutout, sam)
        prep = I.prepare(scene_c, tgt[:, :3], obj, hole, fit=fit, x=v["x"], y=v["y"], scale=height, flip=flip,
                         working_size=v["working_size"], context=v["context"], feather=v["feather"],
                         color_match=color_match, vae_factor=compat.vae_downscale(vae), earlier=earlier,
                         shadow=shadow, shadow_angle=v["shadow_angle"], shadow_length=v["shadow_length"])
        # encode the crop once (it is the target latent and the scene latent at once); sample as
        # Fill-in Sampler does; decode; stitch into the full scene. The VAE may sample its posterior
        # from torch's global generator: seed it, as prepare_noise does right after, so that the
        # same seed gives the same image.
        torch.manual_seed(v["seed"])
        latent = {"samples": vae.encode(prep.composite).float().cpu()}
        h_lat = M.latent_hole(M.mask_b1hw(prep.work_hole), latent["samples"].shape[-2:])
        out = guided_sample(model=model, positive=positive, negative=negative, latent_image=latent, hole_latent=h_lat,
                            target_latent=latent["samples"], target_mask=prep.silhouette, schedule=sched,
                            seed=v["seed"], steps=v["steps"], cfg=v["cfg"], sampler_name=sampler_name,
                            scheduler=scheduler, denoise=v["denoise"], jump_length=v["jump_length"],
                            resample=v["resample"], blend="matched")
        generated = vae.decode(out)
        image = stitch(prep.plan, scene, generated, prep.hole, v["feather"], bool(color_match))
        return io.NodeOutput(image, prep.composite, prep.hole)
