"""The glue that Fill-in Sampler, Fill-in Sampler Select, Fill-in Insert and Fill-in Target Encoder
share: the checks of their non-numeric inputs (the numbers are checked once, by the node, with
``fillblank_core.ranges``), the cost warning, and the guided sampling call through ComfyUI.

Node files import this module and ``common``; they never import each other.
"""

from __future__ import annotations

import logging

import torch

import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview

from ..fillblank_core import masks as M
from ..fillblank_core.sampling import count_model_evaluations, count_steps, sample_fillblank, step_calls
from ..fillblank_core.schedules import LambdaSchedule
from . import compat
from .common import batch_of, mask_input, rgb

logger = logging.getLogger(__name__)

COST_WARN_FACTOR = 5  # warn when the settings cost more than this many times the plain step count
COST_FORMULA = "steps + ⌈(steps − j)/j⌉·(r − 1)·j"
_FAMILY = {4: "SD1.5 / SDXL-family", 16: "SD3 / Flux-family"}


# --- inputs -------------------------------------------------------------------------------------

def target_inputs(scene, target, target_mask=None, object_mask=None):
    """The type checks of a scene / target / mask input set (Target Encoder, Insert):
    (scene [B,3,H,W], target [B,3|4,h,w], target_mask [B,1,h,w] (1 = transparent) or None).
    ``object_mask`` (1 = object) is turned into the target_mask convention (a new tensor)."""
    scene_c = rgb(scene, "scene")
    tgt = rgb(target, "target", allow_alpha=True)
    if target_mask is not None and object_mask is not None:
        raise ValueError("target_mask and object_mask are both connected; connect one: target_mask is LoadImage's "
                         "MASK (1 = transparent), object_mask a mask that is 1 on the object (SAM, segmentation)")
    name, given = ("object_mask", object_mask) if object_mask is not None else ("target_mask", target_mask)
    m = mask_input(given, name) if given is not None else None
    M.broadcast_batch(scene=batch_of(scene), target=batch_of(target), **{name: batch_of(given)})
    if m is not None and name == "object_mask":
        m = 1.0 - m  # a new tensor: the input is untouched
    return scene_c, tgt, m


def check_target(target, name: str = "target"):
    if target is None or not hasattr(target, "latent") or not hasattr(target, "mask"):
        raise ValueError(f"{name} must be the FILLBLANK_TARGET output of Fill-in Target Encoder")
    return target


def schedule_for(schedule, adapt: float) -> LambdaSchedule:
    """The connected λ schedule, else the one that keep ↔ adapt sets. adapt is checked here (by the
    schedule, with its widget's range) either way, once."""
    by_adapt = LambdaSchedule.adapt(adapt)
    if schedule is None:
        return by_adapt
    if not isinstance(schedule, LambdaSchedule):
        raise ValueError("schedule must be the FILLBLANK_LAMBDA output of Fill-in Lambda Schedule")
    return schedule


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


def check_hole(h_lat: torch.Tensor, name: str = "hole", pixels: torch.Tensor | None = None) -> None:
    """Every item of a latent-size hole repaints something and keeps something (one host read).
    ``pixels``: the hole at scene size, when known: a drawn hole too thin to reach the centre of any
    latent cell is told apart from one never painted."""
    inside = h_lat.flatten(1) > 0
    n = inside.shape[0]
    drawn = None if pixels is None else (M.mask_b1hw(pixels).flatten(1) > 0)
    for i in range(n):
        item = f" (item {i + 1} of {n})" if n > 1 else ""
        if not bool(inside[i].any()):
            if drawn is not None and bool(drawn[min(i, drawn.shape[0] - 1)].any()):
                raise ValueError(_no_cell_message(name + item, pixels[min(i, pixels.shape[0] - 1)], h_lat.shape[-2:]))
            if drawn is None:
                raise ValueError(f"{name}{item} is empty: no latent cell is repainted. {M.PAINT_HINT} (or use "
                                 "Fill-in Mask Refiner); a painted hole thinner than a latent cell can vanish at "
                                 "latent size: grow it (Fill-in Mask Refiner's grow ≥ 1 px)")
            raise ValueError(f"{name}{item} is empty: {M.PAINT_HINT} (or use Fill-in Mask Refiner)")
        if bool(inside[i].all()):
            raise ValueError(f"{name}{item} covers the whole image: nothing of the scene would be kept; "
                             "draw a hole that leaves part of the scene")


def _no_cell_message(name: str, pixels: torch.Tensor, latent_hw) -> str:
    """Why a non-empty hole repaints nothing: its size against the latent cell's, and the fix."""
    m = M.mask_hw(pixels)
    x0, y0, x1, y1 = M.mask_box(m)
    H, W = m.shape[-2:]
    cell_h, cell_w = H / int(latent_hw[0]), W / int(latent_hw[1])
    cell = f"{cell_w:g}x{cell_h:g}"
    return (f"{name} covers {int((m > 0).sum())} px ({x1 - x0}x{y1 - y0} px box at x {x0}, y {y0}) but no latent cell: each "
            f"{cell} px latent cell is repainted only where the hole reaches its centre pixels, and this hole is "
            "thinner than that. Grow it (Fill-in Mask Refiner's grow ≥ 1 px; half a cell, 4 px for an 8× VAE, "
            "repaints every drawn pixel) or draw a larger hole")


def sampler_latent_and_hole(latent_image, target, hole):
    """Fill-in Sampler's latent, target and hole, checked together before any model work (the
    numbers are the node's to check): (samples, hole at latent size)."""
    if not isinstance(latent_image, dict) or "samples" not in latent_image:
        raise ValueError("latent_image must be a LATENT (e.g. VAE Encode of the scene)")
    samples = latent_image["samples"]
    check_target(target)
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
    check_hole(h_lat, pixels=h)
    return samples, h_lat


# --- cost ---------------------------------------------------------------------------------------

def evaluation_count(steps: int, jump_length: int, resample: int, sampler_name: str) -> int:
    """Model evaluations of these settings (``step_calls``' samplers exactly; others: one per step)."""
    if step_calls(sampler_name) is not None:
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


# --- sampling -----------------------------------------------------------------------------------

def guidance_options(*, target_latent, target_mask, schedule, jump_length, resample, blend, base, sampler_name,
                     **extra) -> dict:
    """``sample_fillblank``'s options: the base sampler, the target latent and the latent cells
    its silhouette ``target_mask`` (scene size) touches, the λ schedule, RePaint's j and r."""
    return dict(sampler=base.sampler_function, sampler_options=dict(base.extra_options),
                calls_per_step=step_calls(sampler_name) or 1,
                target=target_latent, target_mask=M.touched_latent(target_mask, target_latent.shape[-2:]),
                schedule=schedule, jump_length=int(jump_length), resample=int(resample), blend=blend, **extra)


def guided_sample(*, model, positive, negative, latent_image: dict, hole_latent: torch.Tensor,
                  target_latent: torch.Tensor, target_mask: torch.Tensor, schedule: LambdaSchedule, seed: int,
                  steps: int, cfg: float, sampler_name: str, scheduler: str, denoise: float, jump_length: int,
                  resample: int, blend: str) -> torch.Tensor:
    """The guided sampling call on checked inputs: the output latent, equal to
    ``latent_image["samples"]`` outside ``hole_latent`` (the hole at latent size)."""
    samples = latent_image["samples"]
    base = compat.base_sampler(sampler_name)
    sampler = comfy.samplers.KSAMPLER(sample_fillblank, extra_options=guidance_options(
        target_latent=target_latent, target_mask=target_mask, schedule=schedule, jump_length=jump_length,
        resample=resample, blend=blend, base=base, sampler_name=sampler_name), inpaint_options=base.inpaint_options)
    sigmas = compat.sigmas_for(model, scheduler, steps, denoise)
    noise = comfy.sample.prepare_noise(samples, seed, latent_image.get("batch_index"))
    total = count_steps(steps, jump_length, resample)
    preview = latent_preview.prepare_callback(model, total)

    def callback(step, x0, x, _base_total):
        preview(step, x0, x, total)  # global progress over all resampling passes
    out = comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, positive, negative, samples,
                                     noise_mask=hole_latent, callback=callback,
                                     disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
    keep = (hole_latent == 0).expand_as(out)  # exact scene outside the hole (no latent-format round trip)
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
