"""The ComfyUI APIs that differ between ComfyUI versions or that need a rule of the pack's (sigmas,
sampler and scheduler lists, the VAE's downscale); a shim is marked with the ComfyUI date it
bridges. Supported: ComfyUI 0.3.75 (Dec 2025) and newer (the 2024 shims went with the 2024 host).
"""

from __future__ import annotations

import torch

import comfy.samplers


def model_sampling(model):
    """The model's sampling object as patched (ModelPatcher object patches included)."""
    return model.get_model_object("model_sampling")


def calculate_sigmas(model, scheduler: str, steps: int) -> torch.Tensor:
    return comfy.samplers.calculate_sigmas(model_sampling(model), scheduler, steps)


def sigmas_for(model, scheduler: str, steps: int, denoise: float) -> torch.Tensor:
    """The sigmas of ``steps`` steps; with denoise < 1 (checked by the node: > 0) the last steps of a
    schedule of steps / denoise steps, as ComfyUI's KSampler takes them."""
    if denoise >= 0.9999:
        return calculate_sigmas(model, scheduler, steps).cpu()
    total = int(steps / denoise)
    return calculate_sigmas(model, scheduler, total).cpu()[-(steps + 1):]


def sampler_names() -> list:
    return list(comfy.samplers.KSampler.SAMPLERS)


def scheduler_names() -> list:
    return list(comfy.samplers.KSampler.SCHEDULERS)


def base_sampler(name: str):
    """The KSAMPLER object of a named ComfyUI sampler (its function, options, inpaint options);
    sampler_object() special-cases ddim / uni_pc."""
    return comfy.samplers.sampler_object(name)


def vae_downscale(vae) -> int:
    # ComfyUI 2025: video VAEs (Wan, Hunyuan video) expose a tuple; image VAEs an int
    r = getattr(vae, "downscale_ratio", 8)
    return int(r) if isinstance(r, (int, float)) else 8
