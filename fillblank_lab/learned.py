"""The learned world's models (pure torch, no ComfyUI): a small non-linear VAE and latent U-Nets.

* :class:`LearnedVAE`: 8× down, 4 latent channels, convolutional with SiLU (non-linear), trained on
  the renderer's scenes (``fillblank_lab/scenes.py``) by ``benchmarks/train_learned.py``. Its raw
  latent follows SD1.5's latent format as ComfyUI applies it: ``process_in(raw) = raw · 0.18215`` is
  the unit-scale latent the U-Nets see (the encoder's output is normalised by its measured std, then
  divided by 0.18215). It has what ComfyUI's VAEEncode / VAEDecode and the pack's nodes use of a VAE
  (``encode(BHWC) -> raw [B,4,h,w]``, ``decode(raw) -> BHWC``, ``downscale_ratio``), as
  ``fillblank_lab.evidence.EvidenceVAE`` does.
* :class:`LatentUNet`: a two-level U-Net over the 4-channel latent (8×8 → 4×4 with self-attention at
  4×4), timestep embedding; ``forward(x, timesteps, context=None, **kw)`` as ComfyUI calls a
  ``BaseModel.diffusion_model``. ``kind="eps"``: ComfyUI's ModelSamplingDiscrete (SD1.5's linear
  betas 0.00085–0.012, 1000 steps), input ``x/√(σ²+1)``, timestep 0…999, predicts ε. ``kind="flow"``:
  ModelSamplingDiscreteFlow (CONST), input ``(1−σ)·x0 + σ·ε``, timestep ``σ·1000``, predicts
  ``ε − x0``. ``kind="student"``: an eps-parameterised few-step student of the eps model.

Weights: safetensors in ``fillblank_lab/assets/`` with the training command, seed and final loss in
their metadata (``load`` / ``save``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

ASSETS = Path(__file__).resolve().parent / "assets"
SCALE = 0.18215          # SD1.5's latent format (comfy.latent_formats.SD15)
VAE_PATH = ASSETS / "learned_vae.safetensors"
UNET_PATHS = {"eps": ASSETS / "learned_eps.safetensors", "flow": ASSETS / "learned_flow.safetensors",
              "student": ASSETS / "learned_student.safetensors"}
VAE_CONFIG = {"ch": [16, 32, 64, 64], "latent": 4}
UNET_CONFIG = {"ch": [64, 128], "emb": 128, "latent": 4}

__all__ = ["LearnedVAE", "LatentUNet", "sd15_alphas_cumprod", "eps_sigmas", "save", "load", "load_vae", "load_unet",
           "VAE_PATH", "UNET_PATHS", "SCALE"]


class _Res(nn.Module):
    """conv-SiLU-conv residual block, optional FiLM by an embedding."""

    def __init__(self, cin: int, cout: int, emb: int = 0):
        super().__init__()
        self.n1 = nn.GroupNorm(min(8, cin // 4), cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb, 2 * cout) if emb else None
        self.n2 = nn.GroupNorm(min(8, cout // 4), cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb=None):
        h = self.c1(F.silu(self.n1(x)))
        h = self.n2(h)
        if self.film is not None:
            s, b = self.film(emb)[:, :, None, None].chunk(2, 1)
            h = h * (1 + s) + b
        return self.skip(x) + self.c2(F.silu(h))


class LearnedVAE(nn.Module):
    """64 → 8 px per side (3 stride-2 convs), 4 latent channels; the decoder mirrors it."""

    downscale_ratio = 8
    upscale_ratio = 8
    latent_channels = 4

    def __init__(self, ch=(16, 32, 64, 64), latent: int = 4):
        super().__init__()
        c0, c1, c2, c3 = ch
        self.enc = nn.Sequential(
            nn.Conv2d(3, c0, 3, padding=1), _Res(c0, c0),
            nn.Conv2d(c0, c1, 3, 2, 1), _Res(c1, c1),
            nn.Conv2d(c1, c2, 3, 2, 1), _Res(c2, c2),
            nn.Conv2d(c2, c3, 3, 2, 1), _Res(c3, c3),
            nn.GroupNorm(8, c3), nn.SiLU(), nn.Conv2d(c3, latent, 1))
        up = [nn.Upsample(scale_factor=2, mode="nearest")]
        self.dec = nn.Sequential(
            nn.Conv2d(latent, c3, 3, padding=1), _Res(c3, c3),
            *up, nn.Conv2d(c3, c2, 3, padding=1), _Res(c2, c2),
            *up, nn.Conv2d(c2, c1, 3, padding=1), _Res(c1, c1),
            *up, nn.Conv2d(c1, c0, 3, padding=1), _Res(c0, c0),
            nn.GroupNorm(min(8, c0 // 4), c0), nn.SiLU(), nn.Conv2d(c0, 3, 3, padding=1))
        self.register_buffer("z_std", torch.ones(()))   # the encoder's output std (set after training)

    # training-time maps on BCHW in 0..1; z = unit-scale latent
    def encode_z(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc(x * 2 - 1)

    def decode_z(self, z: torch.Tensor) -> torch.Tensor:
        return self.dec(z) * 0.5 + 0.5

    # what ComfyUI and the pack's nodes use: BHWC pixels <-> raw SD1.5-format latents
    @torch.no_grad()
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels[..., :3].movedim(-1, 1).float()
        h, w = x.shape[-2:]
        if h % 8 or w % 8:
            raise ValueError(f"LearnedVAE needs sides that are multiples of 8, got {w}x{h}")
        return (self.encode_z(x) / self.z_std) / SCALE

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        z = latent.float() * SCALE * self.z_std
        return self.decode_z(z).clamp(0, 1).movedim(1, -1)


def _timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    a = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], -1)


class _Attn(nn.Module):
    def __init__(self, ch: int, heads: int = 4):
        super().__init__()
        self.norm = nn.GroupNorm(8, ch)
        self.attn = nn.MultiheadAttention(ch, heads, batch_first=True)

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.norm(x).reshape(b, c, h * w).transpose(1, 2)
        return x + self.attn(t, t, t, need_weights=False)[0].transpose(1, 2).reshape(b, c, h, w)


class LatentUNet(nn.Module):
    """Two levels (8×8 at ch[0], 4×4 at ch[1] with self-attention), two residual blocks each way."""

    def __init__(self, ch=(64, 128), emb: int = 128, latent: int = 4, kind: str = "eps"):
        super().__init__()
        self.kind = kind
        c0, c1 = ch
        self.emb_dim = emb
        self.temb = nn.Sequential(nn.Linear(emb, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.inp = nn.Conv2d(latent, c0, 3, padding=1)
        self.d0 = _Res(c0, c0, emb)
        self.down = nn.Conv2d(c0, c1, 3, 2, 1)
        self.d1 = _Res(c1, c1, emb)
        self.mid_a = _Attn(c1)
        self.mid = _Res(c1, c1, emb)
        self.mid_b = _Attn(c1)
        self.u1 = _Res(2 * c1, c1, emb)
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c1, c0, 3, padding=1))
        self.u0 = _Res(2 * c0, c0, emb)
        self.u0b = _Res(c0, c0, emb)
        self.out = nn.Sequential(nn.GroupNorm(8, c0), nn.SiLU(), nn.Conv2d(c0, latent, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    @property
    def dtype(self):  # what ComfyUI's BaseModel.get_dtype reads
        return self.inp.weight.dtype

    def forward(self, x, timesteps, context=None, **kwargs):
        e = self.temb(_timestep_embedding(timesteps.reshape(-1).expand(x.shape[0]), self.emb_dim))
        h0 = self.d0(self.inp(x), e)
        h1 = self.d1(self.down(h0), e)
        m = self.mid_b(self.mid(self.mid_a(h1), e))
        u = self.u1(torch.cat([m, h1], 1), e)
        u = self.up(u)
        u = self.u0b(self.u0(torch.cat([u, h0], 1), e), e)
        return self.out(u)


# --- noise schedules as ComfyUI has them --------------------------------------------------------------

def sd15_alphas_cumprod(steps: int = 1000) -> torch.Tensor:
    """ComfyUI's ModelSamplingDiscrete for SD1.5 (linear betas in √ space, 0.00085 → 0.012)."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, steps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, 0)


def eps_sigmas() -> torch.Tensor:
    """σ_t = √((1 − ᾱ_t)/ᾱ_t) for t = 0…999 (k-diffusion space of an eps model)."""
    ac = sd15_alphas_cumprod()
    return ((1 - ac) / ac).sqrt().float()


# --- weights -----------------------------------------------------------------------------------------

def save(module: nn.Module, path: Path, config: dict, metadata: dict, half: bool = False) -> None:
    """Weights as safetensors (``half``: stored as float16, loaded back as float32)."""
    from safetensors.torch import save_file
    path.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().contiguous().to(torch.float16 if half else torch.float32) for k, v in module.state_dict().items()}
    meta = {k: str(v) for k, v in metadata.items()}
    meta["config"] = json.dumps(config)
    save_file(sd, str(path), metadata=meta)


def load(path: Path) -> tuple[dict, dict]:
    """(state dict, metadata) of a safetensors file (safe: no pickle)."""
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
        sd = {k: f.get_tensor(k).float() for k in f.keys()}
    return sd, meta


def load_vae(path: Path = VAE_PATH) -> LearnedVAE:
    sd, meta = load(path)
    cfg = json.loads(meta["config"])
    vae = LearnedVAE(tuple(cfg["ch"]), cfg["latent"])
    vae.load_state_dict(sd)
    vae.metadata = meta
    return vae.eval().requires_grad_(False)


def load_unet(kind: str = "eps", path: Path | None = None) -> LatentUNet:
    sd, meta = load(path or UNET_PATHS[kind])
    cfg = json.loads(meta["config"])
    net = LatentUNet(tuple(cfg["ch"]), cfg["emb"], cfg["latent"], cfg.get("kind", kind))
    net.load_state_dict(sd)
    net.metadata = meta
    return net.eval().requires_grad_(False)
