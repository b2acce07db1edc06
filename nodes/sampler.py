"""Fill-in Sampler (KSampler-style) and Fill-in Sampler Select (a SAMPLER for SamplerCustom)."""

from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from ..fillblank_core import masks as M
from ..fillblank_core import ranges as R
from ..fillblank_core.sampling import BLENDS
from . import compat
from .common import (BLEND_TOOLTIP, JUMP_TOOLTIP, RESAMPLE_TOOLTIP, SCHEDULE_TOOLTIP, TARGET_TOOLTIP, Lambda, Target,
                     adapt_input, batch_of, combo, number, sampler_inputs, schema)
from .guidance import (check_target, guidance_options, guided_sample, sample_select, sampler_latent_and_hole,
                       schedule_for, select_check, warn_cost)


class FillBlankSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "FillBlankSampler", "sampling",
            "Inpaints the hole with your model so the target appears there: RePaint-style sampling pulled toward "
            "the target under the λ schedule, the scene outside the hole kept exactly.",
            inputs=[
                io.Model.Input("model", tooltip="Your checkpoint's model."),
                io.Conditioning.Input("positive", tooltip="Prompt describing the scene with the object."),
                io.Conditioning.Input("negative", tooltip="Negative prompt."),
                Target.Input("target", tooltip=TARGET_TOOLTIP),
                io.Mask.Input("hole", tooltip="Region to repaint (1 = repaint) at the scene's size, e.g. from "
                              "Fill-in Mask Refiner."),
                *sampler_inputs("Fraction of the schedule to run (1 = from pure noise in the hole)."),
                combo("blend", BLENDS, "matched", BLEND_TOOLTIP, advanced=True),
                Lambda.Input("schedule", optional=True, tooltip=SCHEDULE_TOOLTIP),
                io.Latent.Input("latent_image", optional=True, tooltip=(
                    "VAE Encode of the scene (the same scene the target was placed on). Leave it unconnected to "
                    "sample from the target's own latent (the scene with the target pasted in, encoded once by the "
                    "Target Encoder): no second VAE encode; the hole then starts from the pasted target when "
                    "denoise < 1.")),
                # last: inputs of workflows saved before it existed keep their slots
                adapt_input(),
            ],
            outputs=[io.Latent.Output(display_name="latent", tooltip="The inpainted latent (outside the hole "
                                      "identical to the input latent).")])

    @classmethod
    def execute(cls, model, positive, negative, latent_image=None, target=None, hole=None, seed=0, steps=30,
                cfg=7.0, sampler_name="euler", scheduler="normal", denoise=1.0, jump_length=10, resample=1,
                blend="matched", schedule=None, adapt=R.DEFAULT_ADAPT) -> io.NodeOutput:
        # every check once, before any model work: the numbers, the choices, then the tensors
        v = R.check_inputs(seed=seed, steps=steps, cfg=cfg, denoise=denoise, jump_length=jump_length,
                           resample=resample)
        R.check_choice("blend", blend, BLENDS)
        if latent_image is None:  # the target record's latent (the composite, encoded once)
            latent_image = {"samples": check_target(target).latent}
        samples, h_lat = sampler_latent_and_hole(latent_image, target, hole)
        sched = schedule_for(schedule, adapt)
        warn_cost("Fill-in Sampler", v["steps"], v["jump_length"], v["resample"], sampler_name)
        out = guided_sample(model=model, positive=positive, negative=negative, latent_image=latent_image,
                            hole_latent=h_lat, target_latent=target.latent, target_mask=target.mask,
                            schedule=sched, seed=v["seed"], steps=v["steps"], cfg=v["cfg"], sampler_name=sampler_name,
                            scheduler=scheduler, denoise=v["denoise"], jump_length=v["jump_length"],
                            resample=v["resample"], blend=blend)
        result = latent_image.copy()
        result["samples"] = out
        return io.NodeOutput(result)


class FillBlankSamplerSelect(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "FillBlankSamplerSelect", "sampling",
            "A SAMPLER for SamplerCustom / SamplerCustomAdvanced that inpaints toward the target (give the hole "
            "with Set Latent Noise Mask).",
            inputs=[
                combo("sampler_name", compat.sampler_names(), None, "Base sampler used inside every chunk."),
                Target.Input("target", tooltip=TARGET_TOOLTIP),
                number("jump_length", R.JUMP_LENGTH, 10, JUMP_TOOLTIP, advanced=True),
                number("resample", R.RESAMPLE, 1, RESAMPLE_TOOLTIP, advanced=True),
                combo("blend", BLENDS, "matched", BLEND_TOOLTIP, advanced=True),
                Lambda.Input("schedule", optional=True, tooltip=SCHEDULE_TOOLTIP),
                adapt_input(),
            ],
            outputs=[io.Sampler.Output(display_name="sampler", tooltip="Plug into SamplerCustom / "
                                       "SamplerCustomAdvanced; the hole comes from the latent's noise mask.")])

    @classmethod
    def execute(cls, sampler_name, target, jump_length, resample, blend, schedule=None,
                adapt=R.DEFAULT_ADAPT) -> io.NodeOutput:
        v = R.check_inputs(jump_length=jump_length, resample=resample)
        R.check_choice("blend", blend, BLENDS)
        check_target(target)
        M.broadcast_batch(target=batch_of(target))
        base = compat.base_sampler(sampler_name)
        options = guidance_options(target_latent=target.latent, target_mask=target.mask,
                                   schedule=schedule_for(schedule, adapt), jump_length=v["jump_length"],
                                   resample=v["resample"], blend=blend, base=base, sampler_name=sampler_name,
                                   rescale_progress=True,
                                   check=select_check(target, v["jump_length"], v["resample"], sampler_name))
        return io.NodeOutput(comfy.samplers.KSAMPLER(sample_select, extra_options=options,
                                                     inpaint_options=base.inpaint_options))
