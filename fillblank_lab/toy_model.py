"""A tiny learned pixel-space denoiser for the toy scenes (eps space), and its loader.

Small on purpose (a two-level U-Net, ~0.39 M parameters, trained for minutes on a CPU by
``benchmarks/train_toy.py``): it is imperfect, so harmonising the target with its surroundings is
the model's job, unlike with the analytic denoisers.

The module has the k-diffusion denoiser signature ``model(x, sigma, **kwargs) -> x0`` with
EDM / k-diffusion preconditioning (Karras et al. 2022, σ_data = 0.5): the network F predicts
``(x0 − c_skip·x) / c_out`` from ``c_in·x`` and ``c_noise = log(σ)/4``. Extra keyword arguments
(``denoise_mask``, ``seed`` …) are ignored.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import torch
from torch import nn
import torch.nn.functional as F

DEFAULT_PATH = Path(__file__).resolve().parent / "assets" / "toy_denoiser.safetensors"
DEFAULT_CONFIG = {"channels": [24, 48, 64], "emb_dim": 64, "sigma_data": 0.5, "image_size": 32,
                  "in_channels": 3, "sigma_min": 0.01, "sigma_max": 40.0}

__all__ = ["ToyUNet", "ToyDenoiser", "load_toy_denoiser", "save_toy_denoiser", "DEFAULT_PATH", "DEFAULT_CONFIG",
           "karras_sigmas"]


def karras_sigmas(steps: int, sigma_min: float = 0.02, sigma_max: float = 20.0, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. (2022) noise levels, ``steps`` of them followed by a final 0 (as k-diffusion)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    s = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([s, s.new_zeros(1)]).float()


class _Block(nn.Module):
    """Residual block: GroupNorm-SiLU-conv, FiLM by the noise embedding, GroupNorm-SiLU-conv."""

    def __init__(self, cin: int, cout: int, emb: int):
        super().__init__()
        self.n1 = nn.GroupNorm(8, cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb, 2 * cout)
        self.n2 = nn.GroupNorm(8, cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)

    def forward(self, x, emb):
        h = self.c1(F.silu(self.n1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.n2(h) * (1 + scale) + shift
        h = self.c2(F.silu(h))
        return self.skip(x) + h


class _GlobalMix(nn.Module):
    """Cheap image-wide context at the lowest level: mean-pooled features fed back (scene light)."""

    def __init__(self, ch: int):
        super().__init__()
        self.lin = nn.Linear(ch, ch)
        nn.init.zeros_(self.lin.weight)
        nn.init.zeros_(self.lin.bias)

    def forward(self, x):
        return x + self.lin(x.mean(dim=(2, 3)))[:, :, None, None]


class ToyUNet(nn.Module):
    """F(c_in·x, c_noise): 32 → 16 → 8 pixel levels with skip connections."""

    def __init__(self, channels=(24, 48, 64), emb_dim: int = 64, in_channels: int = 3):
        super().__init__()
        c0, c1, c2 = channels
        self.emb_dim = emb_dim
        self.freqs = nn.Parameter(torch.randn(emb_dim // 2) * 4.0, requires_grad=False)
        self.emb = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.inp = nn.Conv2d(in_channels, c0, 3, padding=1)
        self.d0 = _Block(c0, c0, emb_dim)
        self.down1 = nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.d1 = _Block(c1, c1, emb_dim)
        self.down2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.mid1 = _Block(c2, c2, emb_dim)
        self.mix = _GlobalMix(c2)
        self.mid2 = _Block(c2, c2, emb_dim)
        self.u1 = _Block(c2 + c1, c1, emb_dim)
        self.u0 = _Block(c1 + c0, c0, emb_dim)
        self.out_norm = nn.GroupNorm(8, c0)
        self.out = nn.Conv2d(c0, in_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, c_noise):
        f = c_noise[:, None] * self.freqs[None] * 2 * math.pi
        emb = self.emb(torch.cat([f.cos(), f.sin()], dim=1))
        h0 = self.d0(self.inp(x), emb)
        h1 = self.d1(self.down1(h0), emb)
        h = self.down2(h1)
        h = self.mid2(self.mix(self.mid1(h, emb)), emb)
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.u1(torch.cat([h, h1], dim=1), emb)
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.u0(torch.cat([h, h0], dim=1), emb)
        return self.out(F.silu(self.out_norm(h)))


class ToyDenoiser(nn.Module):
    """k-diffusion denoiser around :class:`ToyUNet`: ``model(x, sigma, **kw) -> x0`` (eps space)."""

    def __init__(self, config: Optional[dict] = None):
        super().__init__()
        self.config = dict(DEFAULT_CONFIG, **(config or {}))
        self.sigma_data = float(self.config["sigma_data"])
        self.sigma_min = float(self.config["sigma_min"])
        self.sigma_max = float(self.config["sigma_max"])
        self.net = ToyUNet(tuple(self.config["channels"]), int(self.config["emb_dim"]),
                           int(self.config["in_channels"]))
        # NHWC is ~1.6x faster for these small convolutions on CPUs (oneDNN)
        self.net.to(memory_format=torch.channels_last)
        self.calls = 0

    def _net(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last), c_noise).contiguous()

    def scalings(self, sigma: torch.Tensor):
        sd2 = self.sigma_data ** 2
        c_skip = sd2 / (sigma ** 2 + sd2)
        c_out = sigma * self.sigma_data / (sigma ** 2 + sd2).sqrt()
        c_in = 1 / (sigma ** 2 + sd2).sqrt()
        return c_skip, c_out, c_in

    def forward(self, x: torch.Tensor, sigma, **kwargs) -> torch.Tensor:
        self.calls += 1
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device).reshape(-1)
        if sigma.numel() == 1:
            sigma = sigma.expand(x.shape[0])
        dtype = x.dtype
        xf = x.float()
        s = sigma.clamp_min(1e-4)
        c_skip, c_out, c_in = (v[:, None, None, None] for v in self.scalings(s))
        out = self._net(xf * c_in, s.log() / 4.0)
        x0 = c_skip * xf + c_out * out
        return x0.to(dtype)

    def loss(self, x0: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """EDM-weighted denoising loss (per-sample weight folded into the network's target)."""
        c_skip, c_out, c_in = (v[:, None, None, None] for v in self.scalings(sigma))
        x = x0 + noise * sigma[:, None, None, None]
        pred = self._net(x * c_in, sigma.log() / 4.0)
        target = (x0 - c_skip * x) / c_out
        return ((pred - target) ** 2).mean()


def save_toy_denoiser(model: ToyDenoiser, path: str | Path, metadata: Optional[dict] = None) -> Path:
    from safetensors.torch import save_file
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    meta = {"config": json.dumps(model.config)}
    meta.update({k: str(v) for k, v in (metadata or {}).items()})
    save_file(sd, str(path), metadata=meta)
    return path


def load_toy_denoiser(path: str | Path | None = None, device: str | torch.device = "cpu") -> ToyDenoiser:
    """Load the shipped toy model (or one saved by :func:`save_toy_denoiser`), in eval mode."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    path = Path(path) if path is not None else DEFAULT_PATH
    if not path.is_file():
        raise FileNotFoundError(f"toy denoiser weights not found at {path}; train them with "
                                "`python benchmarks/train_toy.py` (see benchmarks/results.md)")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    config = json.loads(meta.get("config", "{}"))
    model = ToyDenoiser(config)
    model.load_state_dict(load_file(str(path)), strict=True)
    model.eval().requires_grad_(False)
    return model.to(device).to(memory_format=torch.channels_last)
