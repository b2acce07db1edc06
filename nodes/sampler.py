"""FillBlankSampler (KSampler-style) and FillBlankSamplerSelect (a SAMPLER for SamplerCustom)."""

from __future__ import annotations

import logging

import torch

import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview
from comfy_api.latest import io

from ..fillblank_core import masks as M
from ..fillblank_core import ranges as R
from ..fillblank_core.sampling import (BLENDS, SAMPLER_COST, count_model_evaluations, count_steps,
                                       sample_fillblank)
from ..fillblank_core.schedules import DEFAULT_ADAPT, LambdaSchedule
from . import compat
from .common import Lambda, Target, batch_of, combo, mask_input, number, schema

logger = logging.getLogger(__name__)
_COST_TIP = ("Cost: model evaluations = steps + ⌈(steps − j)/j⌉·(r − 1)·j for one-evaluation samplers "
             "(euler, dpmpp_2m, …; about twice that for heun, dpm_2, …), about r × steps; e.g. 30 steps, "
             "j 10, r 4: 90. Above 5 × steps a warning is logged.")
JUMP_TOOLTIP = ("RePaint's j: steps per chunk before travelling back. Unused when resample is 1; a value above "
                "the step count counts as the step count (one chunk: no travelling back). " + _COST_TIP)
RESAMPLE_TOOLTIP = "RePaint's r: passes over each chunk (1 = no resampling). " + _COST_TIP
BLEND_TOOLTIP = ("matched: the model sees the noised target inside its silhouette (as ComfyUI's known region, "
                 "weighted by λ) and its prediction is pulled there too; keeps the noise level; works with every "
                 "sampler. independent: inject freshly noised target after each step (paper-style; lowers the "
                 "noise in the target).")
SCHEDULE_TOOLTIP = ("λ schedule (Fill-in Lambda Schedule), for experts; when connected it replaces adapt. Unconnected: "
                    "the schedule that adapt sets.")
ADAPT_TOOLTIP = ("Keep ↔ adapt: how much the model may re-render the object. 0 keeps the pasted target exactly "
                 "(no relighting), 1 leaves the model free (the target is not pulled; below denoise 1 a run that starts "
                 "from the pasted scene still shows it). In between the target is held while "
                 "the model decides what the object is, then let go so the model lights, shades and blends it; higher "
                 "lets go earlier. Used when no schedule is connected.")


TARGET_TOOLTIP = "From Fill-in Target Encoder."


def adapt_input():
    """The keep ↔ adapt widget (optional, so prompts written before it existed keep running)."""
    return number("adapt", R.ADAPT, DEFAULT_ADAPT, ADAPT_TOOLTIP, optional=True)


def sampler_inputs(denoise_tip: str) -> list:
    """seed … resample: the same widgets, in the same order, on Sampler and Insert."""
    return [
        number("seed", R.SEED, 0, "Noise seed; the same seed gives the same result.", control_after_generate=True),
        number("steps", R.STEPS, 30, "Denoising steps (before resampling)."),
        number("cfg", R.CFG, 7.0, "Classifier-free guidance scale.", round=0.01),
        combo("sampler_name", compat.sampler_names(), None, "Base sampler used inside every chunk."),
        combo("scheduler", compat.scheduler_names(), None, "Sigma schedule."),
        number("denoise", R.DENOISE, 1.0, denoise_tip),
        number("jump_length", R.JUMP_LENGTH, 10, JUMP_TOOLTIP, advanced=True),
        number("resample", R.RESAMPLE, 1, RESAMPLE_TOOLTIP, advanced=True),
    ]


def _check_target(target, name="target"):
    if target is None or not hasattr(target, "latent") or not hasattr(target, "mask"):
        raise ValueError(f"{name} must be the FILLBLANK_TARGET output of Fill-in Target Encoder")
    return target


def _check_schedule(schedule, adapt=DEFAULT_ADAPT):
    if schedule is None:
        return LambdaSchedule.adapt(adapt)
    if not isinstance(schedule, LambdaSchedule):
        raise ValueError("schedule must be the FILLBLANK_LAMBDA output of Fill-in Lambda Schedule")
    return schedule


def guidance_options(target, schedule, jump_length, resample, blend, base, adapt=DEFAULT_ADAPT, sampler_name="",
                     **extra) -> dict:
    latent = target.latent
    return dict(sampler=base.sampler_function, sampler_options=dict(base.extra_options),
                calls_per_step=SAMPLER_COST.get(sampler_name, (1, 1))[0],
                target=latent, target_mask=M.touched_latent(target.mask, latent.shape[-2:]),
                schedule=_check_schedule(schedule, adapt), jump_length=int(jump_length),
                resample=int(resample), blend=blend, **extra)


COST_WARN_FACTOR = 5  # warn when the settings cost more than this many times the plain step count
COST_FORMULA = "steps + ⌈(steps − j)/j⌉·(r − 1)·j"
_FAMILY = {4: "SD1.5 / SDXL-family", 16: "SD3 / Flux-family"}


def evaluation_count(steps: int, jump_length: int, resample: int, sampler_name: str) -> int:
    """Model evaluations of these settings (SAMPLER_COST's samplers exactly; others: one per step)."""
    if sampler_name in SAMPLER_COST:
        return count_model_evaluations(steps, jump_length, resample, sampler_name)
    return count_steps(steps, jump_length, resample)


def warn_cost(node: str, steps: int, jump_length: int, resample: int, sampler_name: str) -> int:
    """Log a warning (before any model work) when the settings cost more than COST_WARN_FACTOR ×
    the plain step count; returns the evaluation count."""
    n = evaluation_count(steps, jump_length, resample, sampler_name)
    if n > COST_WARN_FACTOR * steps:
        logger.warning(
            f"{node}: steps {steps}, jump_length {jump_length}, resample {resample} with {sampler_name} cost "
            f"{n:,} model evaluations, {n / steps:.0f}× the {steps:,} steps of plain sampling (model "
            f"evaluations = {COST_FORMULA} for one-evaluation samplers; about resample × steps). To lower it: "
            f"resample 2–4 is usually enough, and fewer steps lower it in proportion.")
    return n


def latent_mismatch(shape, target, name: str = "latent_image") -> str | None:
    """Why a latent of ``shape`` does not fit the target (channels, then size), or None."""
    c, h, w = int(shape[1]), int(shape[-2]), int(shape[-1])
    tc, th, tw = (int(v) for v in target.latent.shape[1:])
    H, W = target.scene_hw
    if c != tc:
        fam = lambda k: f" (an {_FAMILY[k]} VAE)" if k in _FAMILY else ""  # noqa: E731
        return (f"{name} has {c} channels{fam(c)} but the target was encoded to {tc} channels{fam(tc)}: they "
                "come from different VAEs. Connect your checkpoint's VAE to Fill-in Target Encoder, the same "
                f"VAE that makes {name} (VAE Encode of the scene)")
    if (h, w) != (th, tw):
        f = max(1, round(H / th)) if th else 8
        return (f"{name} is {w}x{h} (latent; {w * f}x{h * f} px) but the target was placed on a {W}x{H} scene "
                f"(latent {tw}x{th}); encode the same scene with the same VAE (VAE Encode of the scene) — "
                "an Empty Latent Image of another size does not fit")
    return None


def check_hole(h_lat: torch.Tensor, name: str = "hole") -> None:
    """Every item of a latent-size hole repaints something and keeps something (one host read)."""
    inside = h_lat.flatten(1) > 0
    n = inside.shape[0]
    for i in range(n):
        item = f" (item {i + 1} of {n})" if n > 1 else ""
        if not bool(inside[i].any()):
            raise ValueError(f"{name}{item} is empty: {M.PAINT_HINT} (or use Fill-in Mask Refiner)")
        if bool(inside[i].all()):
            raise ValueError(f"{name}{item} covers the whole image: nothing of the scene would be kept; "
                             "draw a hole that leaves part of the scene")


def validate(latent_image, target, hole, steps, jump_length, resample, blend, seed=0, cfg=1.0, denoise=1.0,
             adapt=DEFAULT_ADAPT):
    """All input checks, before any model work. Returns (samples, hole at latent size)."""
    if not isinstance(latent_image, dict) or "samples" not in latent_image:
        raise ValueError("latent_image must be a LATENT (e.g. VAE Encode of the scene)")
    samples = latent_image["samples"]
    target = _check_target(target)
    R.check_inputs(seed=seed, steps=steps, cfg=cfg, denoise=denoise, jump_length=jump_length, resample=resample,
                   adapt=adapt)
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {', '.join(BLENDS)}, got {blend!r}")
    M.broadcast_batch(result="latent_image", latent_image=batch_of(samples), target=batch_of(target),
                      hole=batch_of(hole))
    M.check_finite(samples, "latent_image")
    problem = latent_mismatch(samples.shape, target)
    if problem:
        raise ValueError(problem)
    if M.is_placeholder(hole, target.scene_hw):
        raise ValueError("hole is LoadImage's empty placeholder (nothing painted): " + M.PAINT_HINT
                         + ", or make the hole with Fill-in Mask Refiner (mode silhouette)")
    h = mask_input(hole, "hole", target.scene_hw)
    h_lat = M.latent_hole(h, samples.shape[-2:])
    check_hole(h_lat)
    return samples, h_lat


def guided_sample(model, positive, negative, latent_image, samples, h_lat, target, seed, steps, cfg, sampler_name,
                  scheduler, denoise, jump_length, resample, blend, schedule=None, adapt=DEFAULT_ADAPT) -> torch.Tensor:
    """FillBlankSampler's sampling call on validated inputs (``validate``'s samples and h_lat): the
    output latent, equal to ``samples`` outside the hole."""
    base = compat.base_sampler(sampler_name)
    sampler = comfy.samplers.KSAMPLER(sample_fillblank, extra_options=guidance_options(
        target, schedule, jump_length, resample, blend, base, adapt, sampler_name), inpaint_options=base.inpaint_options)
    sigmas = compat.sigmas_for(model, scheduler, steps, denoise)
    noise = comfy.sample.prepare_noise(samples, seed, latent_image.get("batch_index"))
    total = count_steps(steps, jump_length, resample)
    preview = latent_preview.prepare_callback(model, total)

    def callback(step, x0, x, _base_total):
        preview(step, x0, x, total)  # global progress over all resampling passes
    out = comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, positive, negative, samples,
                                     noise_mask=h_lat, callback=callback,
                                     disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
    keep = (h_lat == 0).expand_as(out)  # exact scene outside the hole (no latent-format round trip)
    return torch.where(keep, samples.to(out), out)


def select_check(target, jump_length: int, resample: int, sampler_name: str):
    """Sampler Select's checks of what only SamplerCustom knows (the latent, its noise mask, the
    steps), run by ``sample_select`` when the SAMPLER is called, before the first model evaluation."""
    who = "Fill-in Sampler Select (in SamplerCustom): "

    def check(x, sigmas, extra_args):
        try:
            M.broadcast_batch(result="latent_image", latent_image=x.shape[0], target=batch_of(target))
        except ValueError as e:
            raise ValueError(who + str(e)) from None
        mask = extra_args.get("denoise_mask")
        if mask is None:
            raise ValueError(who + "latent_image has no noise mask, so the whole image would be repainted. Connect "
                             "Set Latent Noise Mask (mask: the hole, e.g. from Fill-in Mask Refiner) between the "
                             "latent and SamplerCustom's latent_image")
        problem = latent_mismatch(x.shape, target)
        if problem:
            raise ValueError(who + problem)
        try:
            check_hole(mask, "the noise mask (hole) of latent_image")
        except ValueError as e:
            raise ValueError(who + str(e) + " — give Set Latent Noise Mask the hole") from None
        warn_cost("Fill-in Sampler Select", max(1, len(sigmas) - 1), jump_length, resample, sampler_name)
    return check


def sample_select(model, x, sigmas, extra_args=None, callback=None, disable=None, *, check=None, **options):
    """``sample_fillblank`` behind Sampler Select's checks (k-diffusion signature; ``check`` runs
    once, before the first model evaluation)."""
    if check is not None:
        check(x, sigmas, {} if extra_args is None else extra_args)
    return sample_fillblank(model, x, sigmas, extra_args, callback, disable, **options)


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
                blend="matched", schedule=None, adapt=DEFAULT_ADAPT) -> io.NodeOutput:
        if latent_image is None:  # the target record's latent (the composite, encoded once)
            latent_image = {"samples": _check_target(target).latent}
        samples, h_lat = validate(latent_image, target, hole, steps, jump_length, resample, blend,
                                  seed=seed, cfg=cfg, denoise=denoise, adapt=adapt)
        warn_cost("Fill-in Sampler", int(steps), int(jump_length), int(resample), sampler_name)
        out = guided_sample(model, positive, negative, latent_image, samples, h_lat, target, seed, steps, cfg,
                            sampler_name, scheduler, denoise, jump_length, resample, blend, schedule, adapt)
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
                adapt=DEFAULT_ADAPT) -> io.NodeOutput:
        _check_target(target)
        M.broadcast_batch(target=batch_of(target))
        v = R.check_inputs(jump_length=jump_length, resample=resample, adapt=adapt)
        if blend not in BLENDS:
            raise ValueError(f"blend must be one of {', '.join(BLENDS)}, got {blend!r}")
        base = compat.base_sampler(sampler_name)
        options = guidance_options(target, schedule, v["jump_length"], v["resample"], blend, base, v["adapt"],
                                   sampler_name, rescale_progress=True,
                                   check=select_check(target, v["jump_length"], v["resample"], sampler_name))
        return io.NodeOutput(comfy.samplers.KSAMPLER(sample_select, extra_options=options,
                                                     inpaint_options=base.inpaint_options))
