"""Noise spaces: x_sigma = a(sigma) * x0 + s(sigma) * eps.

Every model family ComfyUI runs is affine in this form (eps/v: a = 1, s = sigma; flow/CONST:
a = 1 - sigma, s = sigma). We derive a and s from the model's own ``noise_scaling`` function
instead of checking its class, so new families work as long as they stay affine.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch

NoiseScalingFn = Callable[..., torch.Tensor]


def _bcast(sigma, like):
    """sigma as [B, 1, ...] against ``like`` when it is a tensor with one value per batch element."""
    if isinstance(sigma, torch.Tensor) and sigma.ndim == 1 and like.ndim > 1:
        return sigma.reshape(-1, *([1] * (like.ndim - 1)))
    return sigma


def _as_float(sigma) -> float:
    if isinstance(sigma, torch.Tensor):
        return float(sigma.reshape(-1)[0].item())
    return float(sigma)


class NoiseSpace:
    """a(sigma), s(sigma) of an affine forward process, with noising and re-noising."""

    def __init__(self, noise_scaling: NoiseScalingFn, name: str = "custom"):
        self._fn = noise_scaling
        self.name = name
        self._cache: dict[float, tuple[float, float]] = {}

    # -- constructors -------------------------------------------------------------------
    @classmethod
    def eps(cls) -> "NoiseSpace":
        """Variance-exploding k-diffusion space of eps and v models: a = 1, s = sigma."""
        return cls(lambda sigma, noise, latent: _bcast(sigma, noise) * noise + latent, name="eps")

    @classmethod
    def flow(cls) -> "NoiseSpace":
        """Rectified-flow (ComfyUI CONST) space: a = 1 - sigma, s = sigma."""
        return cls(lambda sigma, noise, latent: _bcast(sigma, noise) * noise
                   + (1.0 - _bcast(sigma, noise)) * latent, name="flow")

    @classmethod
    def from_noise_scaling(cls, fn: NoiseScalingFn, name: str = "model") -> "NoiseSpace":
        """Wrap a ComfyUI-style ``noise_scaling(sigma, noise, latent_image)``."""
        return cls(fn, name=name)

    # -- coefficients -------------------------------------------------------------------
    def coefficients(self, sigma) -> tuple[float, float]:
        """(a, s) at sigma, read off the affine function by probing it with 0/1 inputs."""
        key = _as_float(sigma)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        sig = torch.tensor([key], dtype=torch.float64)
        zero = torch.zeros(1, dtype=torch.float64)
        one = torch.ones(1, dtype=torch.float64)
        # fresh tensors each call: some noise_scaling implementations work in place
        offset = float(self._fn(sig, zero.clone(), zero.clone()).reshape(-1)[0])
        a = float(self._fn(sig, zero.clone(), one.clone()).reshape(-1)[0]) - offset
        s = float(self._fn(sig, one.clone(), zero.clone()).reshape(-1)[0]) - offset
        if abs(offset) > 1e-6:
            raise ValueError(f"noise_scaling is not linear at sigma={key}: offset {offset}")
        self._cache[key] = (a, s)
        return a, s

    def coefficients_like(self, sigma: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(a, s) as tensors [B, 1, ...] on ``like``'s device for a sigma tensor [B] (or [1]).

        Evaluated with tensor operations only, so it never reads a device value back to the host
        (DESIGN.md §3): the per-step path of the sampler uses this, never ``coefficients``.
        Linearity (no offset) is checked once on the host by ``coefficients``.
        """
        sig = sigma.reshape(-1, *([1] * (like.ndim - 1))).to(like.dtype)
        zero, one = torch.zeros_like(sig), torch.ones_like(sig)
        # fresh tensors for each call: some noise_scaling implementations work in place
        a = self._fn(sig, zero.clone(), one.clone())
        s = self._fn(sig, one.clone(), zero.clone())
        return a, s

    def a(self, sigma) -> float:
        return self.coefficients(sigma)[0]

    def s(self, sigma) -> float:
        return self.coefficients(sigma)[1]

    # -- operations ---------------------------------------------------------------------
    def noise(self, x0: torch.Tensor, sigma, eps: torch.Tensor) -> torch.Tensor:
        """Forward noising of a clean latent: a(sigma) * x0 + s(sigma) * eps.

        A sigma tensor [B] (as samplers pass it) is used on the device, without host reads."""
        if isinstance(sigma, torch.Tensor):
            a, s = self.coefficients_like(sigma, x0 if x0.ndim >= eps.ndim else eps)
        else:
            a, s = self.coefficients(sigma)
        return x0 * a + eps * s

    def renoise_coefficients(self, sigma_lo, sigma_hi) -> tuple[float, float]:
        """(scale, std) with x_hi = scale * x_lo + std * eps (RePaint's 'undo' step)."""
        a_lo, s_lo = self.coefficients(sigma_lo)
        a_hi, s_hi = self.coefficients(sigma_hi)
        if a_lo == 0.0:
            raise ValueError(f"cannot re-noise from sigma={_as_float(sigma_lo)}: a(sigma) is 0 there")
        scale = a_hi / a_lo
        var = s_hi * s_hi - (scale * s_lo) ** 2
        if var < -1e-9:
            raise ValueError(
                f"cannot re-noise from sigma={_as_float(sigma_lo)} up to sigma={_as_float(sigma_hi)}: "
                "the target level is less noisy than the source")
        return scale, math.sqrt(max(var, 0.0))

    def renoise(self, x_lo: torch.Tensor, sigma_lo, sigma_hi, eps: torch.Tensor) -> torch.Tensor:
        """Take a state at sigma_lo up to sigma_hi with fresh noise, exact marginals."""
        scale, std = self.renoise_coefficients(sigma_lo, sigma_hi)
        return x_lo * scale + eps * std


def find_noise_scaling(model) -> Optional[NoiseScalingFn]:
    """Find a ``model_sampling.noise_scaling`` by walking ``.inner_model`` attributes.

    ComfyUI hands samplers a ``KSamplerX0Inpaint`` whose ``inner_model`` is the CFG wrapper
    (2024: ``CFGNoisePredictor``; 2025+: ``CFGGuider``) whose ``inner_model`` is the BaseModel with
    the (patched) ``model_sampling``. Duck-typed so that this module never imports ComfyUI.
    """
    obj, seen = model, 0
    while obj is not None and seen < 8:
        ms = getattr(obj, "model_sampling", None)
        if ms is not None and hasattr(ms, "noise_scaling"):
            return ms.noise_scaling
        if hasattr(obj, "noise_scaling") and callable(obj.noise_scaling):
            return obj.noise_scaling
        obj = getattr(obj, "inner_model", None)
        seen += 1
    return None


def space_for(model, noise_scaling: Optional[NoiseScalingFn] = None) -> NoiseSpace:
    """The NoiseSpace for a denoiser: explicit function, else found on the model, else eps."""
    if isinstance(noise_scaling, NoiseSpace):
        return noise_scaling
    fn = noise_scaling or find_noise_scaling(model)
    if fn is None:
        return NoiseSpace.eps()
    return NoiseSpace.from_noise_scaling(fn)
