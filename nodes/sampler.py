"""FillBlankSampler (KSampler-style) and FillBlankSamplerSelect (a SAMPLER for SamplerCustom)."""

from __future__ import annotations

import torch

import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview

from ..fillblank_core import masks as M
from ..fillblank_core.sampling import BLENDS, count_steps, sample_fillblank
from ..fillblank_core.schedules import LambdaSchedule
from . import compat
from .common import CATEGORY, LAMBDA, TARGET, mask_input

DEFAULT_SCHEDULE = LambdaSchedule.default()


def _check_target(target, name="target"):
    if target is None or not hasattr(target, "latent") or not hasattr(target, "mask"):
        raise ValueError(f"{name} must be the FILLBLANK_TARGET output of FillBlank Target Encoder")
    return target


def _check_schedule(schedule):
    if schedule is None:
        return DEFAULT_SCHEDULE
    if not isinstance(schedule, LambdaSchedule):
        raise ValueError("schedule must be the FILLBLANK_LAMBDA output of FillBlank Lambda Schedule")
    return schedule


def target_mask_latent(target, latent_hw) -> torch.Tensor:
    """The target's soft silhouette at latent size (fraction of each cell covered)."""
    m = M.mask_b1hw(target.mask)
    H, W = m.shape[-2:]
    f = max(1, H // latent_hw[0])
    oy, ox = (H - f * latent_hw[0]) // 2, (W - f * latent_hw[1]) // 2
    return torch.nn.functional.avg_pool2d(m[..., oy:oy + f * latent_hw[0], ox:ox + f * latent_hw[1]], f)


def guidance_options(target, schedule, jump_length, resample, blend, base, **extra) -> dict:
    latent = target.latent
    return dict(sampler=base.sampler_function, sampler_options=dict(base.extra_options),
                target=latent, target_mask=target_mask_latent(target, latent.shape[-2:]),
                schedule=_check_schedule(schedule), jump_length=int(jump_length),
                resample=int(resample), blend=blend, **extra)


def validate(latent_image, target, hole, steps, jump_length, resample, blend):
    """All input checks, before any model work. Returns (samples, hole at latent size)."""
    if not isinstance(latent_image, dict) or "samples" not in latent_image:
        raise ValueError("latent_image must be a LATENT (e.g. VAE Encode of the scene)")
    samples = latent_image["samples"]
    M.check_finite(samples, "latent_image")
    target = _check_target(target)
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {', '.join(BLENDS)}, got {blend!r}")
    if int(resample) < 1:
        raise ValueError(f"resample must be at least 1 (1 = no resampling), got {resample}")
    if int(jump_length) < 1:
        raise ValueError(f"jump_length must be at least 1, got {jump_length}")
    if tuple(samples.shape[-2:]) != tuple(target.latent.shape[-2:]) or samples.shape[1] != target.latent.shape[1]:
        H, W = target.scene_hw
        raise ValueError(f"latent_image is {samples.shape[-1]}x{samples.shape[-2]} (latent) with "
                         f"{samples.shape[1]} channels, but the target was placed on a {W}x{H} scene "
                         f"(latent {target.latent.shape[-1]}x{target.latent.shape[-2]}, {target.latent.shape[1]} channels); "
                         "encode the same scene with the same VAE")
    M.batch_size(samples.shape[0], target.latent.shape[0], "latent_image", "target")
    h = mask_input(hole, "hole", target.scene_hw)
    h_lat = M.latent_hole(h, samples.shape[-2:])
    if not h_lat.any():
        raise ValueError("hole is empty: draw the region to repaint (or use FillBlank Mask Refiner)")
    if bool((h_lat > 0).all()):
        raise ValueError("hole covers the whole image: nothing of the scene would be kept; "
                         "draw a hole that leaves part of the scene")
    M.batch_size(samples.shape[0], h_lat.shape[0], "latent_image", "hole")
    return samples, h_lat


def guided_sample(model, positive, negative, latent_image, samples, h_lat, target, seed, steps, cfg, sampler_name,
                  scheduler, denoise, jump_length, resample, blend, schedule=None) -> torch.Tensor:
    """FillBlankSampler's sampling call on validated inputs (``validate``'s samples and h_lat): the
    output latent, equal to ``samples`` outside the hole."""
    base = compat.base_sampler(sampler_name)
    sampler = comfy.samplers.KSAMPLER(sample_fillblank, extra_options=guidance_options(
        target, schedule, jump_length, resample, blend, base), inpaint_options=base.inpaint_options)
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


class FillBlankSampler:
    DESCRIPTION = ("Inpaints the hole with your model so the target appears there: RePaint-style sampling "
                   "pulled toward the target under the λ schedule, the scene outside the hole kept exactly.")
    CATEGORY = CATEGORY
    FUNCTION = "sample"
    RETURN_TYPES = ("LATENT",)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = ("The inpainted latent (outside the hole identical to the input latent).",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": ("MODEL", {"tooltip": "Your checkpoint's model."}),
                "positive": ("CONDITIONING", {"tooltip": "Prompt describing the scene with the object."}),
                "negative": ("CONDITIONING", {"tooltip": "Negative prompt."}),
                "target": (TARGET, {"tooltip": "From FillBlank Target Encoder."}),
                "hole": ("MASK", {"tooltip": "Region to repaint (1 = repaint) at the scene's size, e.g. from FillBlank Mask Refiner."}),
                "seed": ("INT", {"default": 0, "min": 0, "max": 0xffffffffffffffff, "tooltip": "Noise seed; the same seed gives the same result."}),
                "steps": ("INT", {"default": 30, "min": 1, "max": 10000, "tooltip": "Denoising steps (before resampling)."}),
                "cfg": ("FLOAT", {"default": 7.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01, "tooltip": "Classifier-free guidance scale."}),
                "sampler_name": (compat.sampler_names(), {"tooltip": "Base sampler used inside every chunk."}),
                "scheduler": (compat.scheduler_names(), {"tooltip": "Sigma schedule."}),
                "denoise": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 1.0, "step": 0.01, "tooltip": "Fraction of the schedule to run (1 = from pure noise in the hole)."}),
                "jump_length": ("INT", {"default": 10, "min": 1, "max": 10000, "tooltip": "RePaint's j: steps per chunk before travelling back. Unused when resample is 1; a value above the step count counts as the step count (one chunk: no travelling back)."}),
                "resample": ("INT", {"default": 1, "min": 1, "max": 100, "tooltip": "RePaint's r: passes over each chunk (1 = no resampling; cost grows about r×)."}),
                "blend": (list(BLENDS), {"default": "matched", "tooltip": "matched: the model sees the noised target inside its silhouette (as ComfyUI's known region, weighted by λ) and its prediction is pulled there too; keeps the noise level; works with every sampler. independent: inject freshly noised target after each step (paper-style; lowers the noise in the target)."}),
            },
            "optional": {
                "schedule": (LAMBDA, {"tooltip": "λ schedule. Default: λ = 1 (hold the target) while the noise is high, released between noise level 0.6 and 0.8 so the model harmonises the last details."}),
                "latent_image": ("LATENT", {"tooltip": "VAE Encode of the scene (the same scene the target was placed on). Leave it unconnected to sample from the target's own latent (the scene with the target pasted in, encoded once by the Target Encoder): no second VAE encode; the hole then starts from the pasted target when denoise < 1."}),
            },
        }

    def sample(self, model, positive, negative, latent_image=None, target=None, hole=None, seed=0, steps=30, cfg=7.0,
               sampler_name="euler", scheduler="normal", denoise=1.0, jump_length=10, resample=1, blend="matched",
               schedule=None):
        if latent_image is None:  # the target record's latent (the composite, encoded once)
            latent_image = {"samples": _check_target(target).latent}
        samples, h_lat = validate(latent_image, target, hole, steps, jump_length, resample, blend)
        out = guided_sample(model, positive, negative, latent_image, samples, h_lat, target, seed, steps, cfg,
                            sampler_name, scheduler, denoise, jump_length, resample, blend, schedule)
        result = latent_image.copy()
        result["samples"] = out
        return (result,)


class FillBlankSamplerSelect:
    DESCRIPTION = ("A SAMPLER for SamplerCustom / SamplerCustomAdvanced that inpaints toward the target "
                   "(give the hole with Set Latent Noise Mask).")
    CATEGORY = CATEGORY
    FUNCTION = "get_sampler"
    RETURN_TYPES = ("SAMPLER",)
    RETURN_NAMES = ("sampler",)
    OUTPUT_TOOLTIPS = ("Plug into SamplerCustom / SamplerCustomAdvanced; the hole comes from the latent's noise mask.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "sampler_name": (compat.sampler_names(), {"tooltip": "Base sampler used inside every chunk."}),
                "target": (TARGET, {"tooltip": "From FillBlank Target Encoder."}),
                "jump_length": ("INT", {"default": 10, "min": 1, "max": 10000, "tooltip": "RePaint's j: steps per chunk before travelling back. Unused when resample is 1; a value above the step count counts as the step count (one chunk: no travelling back)."}),
                "resample": ("INT", {"default": 1, "min": 1, "max": 100, "tooltip": "RePaint's r: passes over each chunk (1 = no resampling)."}),
                "blend": (list(BLENDS), {"default": "matched", "tooltip": "matched: the model sees the noised target inside its silhouette (as ComfyUI's known region, weighted by λ) and its prediction is pulled there too; keeps the noise level; works with every sampler. independent: inject freshly noised target after each step (paper-style; lowers the noise in the target)."}),
            },
            "optional": {
                "schedule": (LAMBDA, {"tooltip": "λ schedule. Default: λ = 1 (hold the target) while the noise is high, released between noise level 0.6 and 0.8 so the model harmonises the last details."}),
            },
        }

    def get_sampler(self, sampler_name, target, jump_length, resample, blend, schedule=None):
        _check_target(target)
        if blend not in BLENDS:
            raise ValueError(f"blend must be one of {', '.join(BLENDS)}, got {blend!r}")
        if int(resample) < 1 or int(jump_length) < 1:
            raise ValueError(f"jump_length and resample must be at least 1, got {jump_length} and {resample}")
        base = compat.base_sampler(sampler_name)
        return (comfy.samplers.KSAMPLER(sample_fillblank, extra_options=guidance_options(
            target, schedule, jump_length, resample, blend, base, rescale_progress=True),
            inpaint_options=base.inpaint_options),)
