"""Target-guided RePaint sampling over any k-diffusion-style base sampler.

``sample_fillblank`` has the k-diffusion sampler signature, so
``comfy.samplers.KSAMPLER(sample_fillblank, extra_options={...})`` works unchanged in every
ComfyUI generation, and so does calling it directly with an analytic denoiser in tests.

Structure (RePaint, Lugmayr et al. 2022, over a black-box base sampler):
    steps are split into chunks of ``jump_length`` j; every chunk but the last is run with the
    base sampler, re-noised back to its start and run again, ``resample`` r times in all.
Guidance (our design, after Gebre et al. 2024): inside the target mask m the denoiser's x0
prediction is pulled toward the target latent t with weight λ(progress)·m.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from .schedules import LambdaSchedule, sigma_progress
from .spaces import NoiseSpace, space_for

BLENDS = ("matched", "independent")

# (model evaluations per step that ends above sigma 0, evaluations for a step that ends at 0)
SAMPLER_COST = {
    **{name: (1, 1) for name in (
        "euler", "euler_ancestral", "lms", "dpmpp_2m", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu",
        "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm", "ddim", "euler_cfg_pp",
        "euler_ancestral_cfg_pp", "dpmpp_2m_cfg_pp")},
    **{name: (2, 1) for name in (
        "heun", "dpm_2", "dpm_2_ancestral", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_sde_gpu",
        "dpmpp_2s_ancestral_cfg_pp")},
}

_MIX_A = 6364136223846793005
_MIX_B = 1442695040888963407


def derive_seed(seed: int, index: int) -> int:
    """A new 63-bit seed for the index-th base-sampler call (index 0 keeps the seed)."""
    if index == 0:
        return int(seed)
    return (int(seed) * _MIX_A + (index + 1) * _MIX_B) % (2 ** 63)


# --- planning and counting ---------------------------------------------------------------------

def _check_int(name: str, value, low: int, high: Optional[int] = None, hint: str = "") -> int:
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        rng = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {rng}{hint}, got {v}")
    return v


def plan_chunks(steps: int, jump_length: int, resample: int) -> list[tuple[int, int, int]]:
    """[(start, end, passes)]: chunks of ``jump_length`` steps; all but the last get ``resample`` passes.

    With resample == 1 there is a single chunk over all steps (no time travel).
    """
    steps = _check_int("steps", steps, 1)
    j = _check_int("jump_length", jump_length, 1, steps, hint=" (the number of steps)")
    r = _check_int("resample", resample, 1, hint=" (1 means no resampling)")
    if r == 1:
        return [(0, steps, 1)]
    chunks = []
    for start in range(0, steps, j):
        end = min(start + j, steps)
        chunks.append((start, end, 1 if end == steps else r))
    return chunks


def count_steps(steps: int, jump_length: int, resample: int) -> int:
    """Sampler steps taken over all passes: steps + ceil((steps - j) / j) * (r - 1) * j."""
    return sum((end - start) * passes for start, end, passes in plan_chunks(steps, jump_length, resample))


def count_model_evaluations(steps: int, jump_length: int, resample: int, sampler: str = "euler",
                            ends_at_zero: bool = True) -> int:
    """Exact number of model (denoiser) calls of ``sample_fillblank`` for a named base sampler.

    For one-evaluation-per-step samplers this is steps + ceil((steps - j)/j)·(r - 1)·j
    (RePaint's default T=250, j=10, r=10 gives 2,410).
    """
    if sampler not in SAMPLER_COST:
        raise ValueError(f"no evaluation count known for sampler {sampler!r}; known: {', '.join(sorted(SAMPLER_COST))}")
    per, last = SAMPLER_COST[sampler]
    total = 0
    for start, end, passes in plan_chunks(steps, jump_length, resample):
        n = end - start
        cost = n * per if not (ends_at_zero and end == steps) else (n - 1) * per + last
        total += cost * passes
    return total


# --- denoiser wrappers -------------------------------------------------------------------------

class _Wrapper:
    """Forwards unknown attributes to the wrapped denoiser (samplers look for ``inner_model``)."""

    def __init__(self, model):
        self.__dict__["model"] = model

    def __getattr__(self, name):
        return getattr(self.__dict__["model"], name)


class GuidedDenoiser(_Wrapper):
    """x0' = x0·(1 − λm) + t·λm around any denoiser; remembers the last x0 it returned.

    ``blend="matched"`` blends the prediction (the state's noise is untouched, so its noise level
    is preserved for every sampler). With ``blend="independent"`` the prediction is left alone and
    ``sample_fillblank`` injects freshly noised target after each step instead.
    """

    def __init__(self, model, target: Optional[torch.Tensor], mask: Optional[torch.Tensor],
                 lam: Callable[[float], float], blend: str = "matched"):
        super().__init__(model)
        self.__dict__.update(target=target, mask=mask, lam=lam, blend=blend,
                             last_x0=None, last_sigma=None, calls=0, _cast={})

    def weight(self, sigma: float, like: torch.Tensor) -> Optional[torch.Tensor]:
        """λ(σ)·m on the device and dtype of ``like``, or None when it is zero."""
        if self.target is None:
            return None
        lam = float(self.lam(sigma))
        if lam <= 0.0:
            return None
        mask, target = self._on(like)
        return mask * lam

    def _on(self, like: torch.Tensor):
        key = (like.device, like.dtype)
        hit = self._cast.get(key)
        if hit is None:
            hit = (self.mask.to(like.device, like.dtype), self.target.to(like.device, like.dtype))
            self._cast[key] = hit
        return hit

    def __call__(self, x, sigma, **kwargs):
        x0 = self.model(x, sigma, **kwargs)
        self.__dict__["calls"] += 1
        s = float(sigma.reshape(-1)[0]) if isinstance(sigma, torch.Tensor) else float(sigma)
        if self.blend == "matched":
            w = self.weight(s, x0)
            if w is not None:
                x0 = torch.lerp(x0, self._on(x0)[1].expand_as(x0), w.expand_as(x0))
        self.__dict__["last_x0"] = x0
        self.__dict__["last_sigma"] = s
        return x0


class KnownRegionDenoiser(_Wrapper):
    """ComfyUI's ``KSamplerX0Inpaint`` semantics without ComfyUI.

    At every call the known region (denoise_mask == 0) of the input is replaced by the latent
    noised with one fixed noise to the current sigma, and the known region of the output by the
    clean latent.
    """

    def __init__(self, model, latent: torch.Tensor, noise: torch.Tensor, space: NoiseSpace):
        super().__init__(model)
        self.__dict__.update(latent=latent, noise=noise, space=space)
        self.__dict__["inner_model"] = getattr(model, "inner_model", model)

    def __call__(self, x, sigma, denoise_mask=None, **kwargs):
        if denoise_mask is not None:
            keep = 1.0 - denoise_mask
            x = x * denoise_mask + self.space.noise(self.latent, sigma, self.noise) * keep
        out = self.model(x, sigma, **kwargs)
        if denoise_mask is not None:
            out = out * denoise_mask + self.latent * keep
        return out


# --- built-in base samplers (k-diffusion signature) --------------------------------------------

def _to_d(x, sigma, denoised):
    return (x - denoised) / sigma


@torch.no_grad()
def sample_euler(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Deterministic Euler in the k-diffusion (eps) parameterisation."""
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        x = x + _to_d(x, sigmas[i], denoised) * (sigmas[i + 1] - sigmas[i])
    return x


def _ancestral_step(sigma_from, sigma_to, eta=1.0):
    if not eta:
        return sigma_to, 0.0
    up = min(sigma_to, eta * (sigma_to ** 2 * (sigma_from ** 2 - sigma_to ** 2) / sigma_from ** 2) ** 0.5)
    down = (sigma_to ** 2 - up ** 2) ** 0.5
    return down, up


@torch.no_grad()
def sample_euler_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0):
    """Euler ancestral that seeds its own generator from ``extra_args["seed"]`` (as ComfyUI 2026).

    Eps (variance-exploding) space only: its ancestral step is wrong for flow models, which
    ComfyUI samples with a separate rectified-flow variant."""
    extra_args = {} if extra_args is None else extra_args
    gen = torch.Generator(device="cpu").manual_seed(int(extra_args.get("seed", 0)))
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        s_from, s_to = float(sigmas[i]), float(sigmas[i + 1])
        down, up = _ancestral_step(s_from, s_to, eta)
        x = x + _to_d(x, sigmas[i], denoised) * (down - s_from)
        if s_to > 0:
            x = x + torch.randn(x.shape, generator=gen, dtype=torch.float32).to(x) * up
    return x


# --- the sampler -------------------------------------------------------------------------------

def _find_attr(model, name):
    obj, depth = model, 0
    while obj is not None and depth < 8:
        if hasattr(obj, "model_sampling") and hasattr(obj, name):
            return getattr(obj, name)
        obj = getattr(obj, "inner_model", None)
        depth += 1
    return None


def _as_mask(mask: Optional[torch.Tensor], x: torch.Tensor, name: str) -> Optional[torch.Tensor]:
    if mask is None:
        return None
    m = mask
    if m.ndim == 2:
        m = m[None, None]
    elif m.ndim == 3:
        m = m[:, None]
    if m.ndim != 4 or m.shape[-2:] != x.shape[-2:] or m.shape[0] not in (1, x.shape[0]) \
            or m.shape[1] not in (1, x.shape[1]):
        raise ValueError(f"{name} must have the latent's size {tuple(x.shape[-2:])} "
                         f"(and batch 1 or {x.shape[0]}), got shape {tuple(mask.shape)}")
    return m


def _schedule_fn(schedule, sigmas) -> Callable[[float], float]:
    sig = [float(s) for s in sigmas]
    if schedule is None:
        schedule = LambdaSchedule.linear(1.0, 0.0)
    if isinstance(schedule, (int, float)):
        schedule = LambdaSchedule.constant(float(schedule))
    cache: dict[float, float] = {}

    def lam(sigma: float) -> float:
        v = cache.get(sigma)
        if v is None:
            v = cache[sigma] = float(schedule(sigma_progress(sigma, sig)))
        return v
    return lam


@torch.no_grad()
def sample_fillblank(model, x, sigmas, extra_args=None, callback=None, disable=None, *,
                     sampler=None, sampler_options=None, target=None, target_mask=None,
                     schedule=None, jump_length: int = 10, resample: int = 1,
                     blend: str = "matched", noise_scaling=None, target_in_model_space=False,
                     seed: Optional[int] = None, rescale_progress: bool = False):
    """Guided RePaint sampling; k-diffusion signature.

    model: denoiser ``model(x, sigma * s_in, **extra_args) -> x0`` (in ComfyUI the known-region
        wrapper KSamplerX0Inpaint; the known region comes from ``extra_args["denoise_mask"]``).
    sampler: base sampler with the k-diffusion signature (default: Euler); ``sampler_options``
        are passed to it.
    target, target_mask: target latent t [B|1,C,H,W] and soft mask m at latent size (1 = pull).
        Unless ``target_in_model_space``, t is mapped with the model's ``process_latent_in``.
    schedule: LambdaSchedule (or a number for constant λ); default linear 1 -> 0.
    jump_length, resample: RePaint's j and r (r = 1: no time travel).
    blend: "matched" (blend x0, noise level preserved) or "independent" (inject a·t + s·ε_fresh
        after each step; lowers the noise std in the target to s·sqrt((1−λ)² + λ²)).
    noise_scaling: the model's affine ``noise_scaling`` (default: found on the model, else eps).
    seed: seed of the re-noising generator (default: ``extra_args["seed"]``).
    rescale_progress: report progress ``i`` scaled to ``len(sigmas) - 1`` steps (for hosts whose
        progress bar knows only the base step count).
    """
    extra_args = {} if extra_args is None else extra_args
    n = len(sigmas) - 1
    if n < 1:
        return x
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {', '.join(BLENDS)}, got {blend!r}")
    chunks = plan_chunks(n, jump_length, resample)
    base = sample_euler if sampler is None else sampler
    base_opts = dict(sampler_options or {})
    space = space_for(model, noise_scaling)

    denoise_mask = extra_args.get("denoise_mask")
    mask = None
    if target is not None:
        if target.ndim != 4 or target.shape[-2:] != x.shape[-2:] or target.shape[1] != x.shape[1] \
                or target.shape[0] not in (1, x.shape[0]):
            raise ValueError(f"target latent must have shape [1 or {x.shape[0]}, {x.shape[1]}, "
                             f"{x.shape[2]}, {x.shape[3]}], got {tuple(target.shape)}")
        if not torch.isfinite(target).all():
            raise ValueError("target latent contains NaN or infinite values")
        mask = _as_mask(target_mask if target_mask is not None else torch.ones_like(target[:, :1]), x, "target_mask")
        if denoise_mask is not None:  # never pull outside the hole
            mask = mask * denoise_mask.to(mask)
        if not target_in_model_space:
            latent_in = _find_attr(model, "process_latent_in")
            if latent_in is not None:
                target = latent_in(target)
    lam = _schedule_fn(schedule, sigmas)
    guided = GuidedDenoiser(model, target, mask, lam, blend)

    if seed is None:
        seed = extra_args.get("seed")
    if seed is None:
        seed = int(torch.randint(0, 2 ** 62, (1,)).item())
    gen = torch.Generator(device="cpu").manual_seed(derive_seed(int(seed), 7919))

    def fresh(like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=gen, dtype=torch.float32).to(like)

    total_steps = sum((e - s) * p for s, e, p in chunks)
    state = {"done": 0, "calls": 0}

    many_calls = len(chunks) > 1 or chunks[0][2] > 1 or blend == "independent"

    def run(x, lo, hi):
        """One base-sampler call over sigmas[lo..hi] with its own seed and global progress."""
        args = extra_args
        if state["calls"] > 0:
            # new noise in every repetition: samplers that seed themselves from extra_args["seed"]
            # (ComfyUI 2025+) get a derived seed, those drawing from torch's global generator
            # (ComfyUI 2024 ancestral samplers) a reseeded one, inside fork_rng below
            call_seed = derive_seed(int(seed), state["calls"])
            if extra_args.get("seed") is not None:
                args = dict(extra_args, seed=call_seed)
            torch.default_generator.manual_seed(call_seed)
            if x.device.type == "cuda":  # only the device we sample on (fork_rng restores it)
                with torch.cuda.device(x.device):
                    torch.cuda.manual_seed(call_seed)
        offset = state["done"]

        def cb(d):
            if callback is None:
                return
            i = offset + int(d["i"])
            if rescale_progress:
                i = min(n - 1, (i * n) // total_steps)
            callback(dict(d, i=i, total=total_steps if not rescale_progress else n))
        out = base(guided, x, sigmas[lo:hi + 1], extra_args=args, callback=cb,
                   disable=True if many_calls else disable, **base_opts)
        state["calls"] += 1
        state["done"] += hi - lo
        return out

    def run_span(x, lo, hi):
        if blend == "matched":
            return run(x, lo, hi)
        for i in range(lo, hi):  # independent: one step at a time, inject after each
            x = run(x, i, i + 1)
            w = guided.weight(float(sigmas[i]), x)
            if w is not None:
                t = guided._on(x)[1]
                noised = space.noise(t, sigmas[i + 1], fresh(x))
                x = torch.lerp(x, noised.expand_as(x), w.expand_as(x))
        return x

    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, enabled=many_calls):
        for start, end, passes in chunks:
            for p in range(passes):
                if p > 0:
                    scale, std = space.renoise_coefficients(sigmas[end], sigmas[start])
                    x = x * scale + fresh(x) * std
                x = run_span(x, start, end)

    if denoise_mask is not None and float(sigmas[-1]) == 0.0 and guided.last_x0 is not None:
        # the base sampler's last step is x0 up to rounding; make the known region exact
        dm = denoise_mask.to(x)
        x = x * dm + guided.last_x0.to(x) * (1.0 - dm)
    return x


def inpaint(model, latent: torch.Tensor, mask: torch.Tensor, sigmas: Sequence[float] | torch.Tensor, *,
            seed: int = 0, noise_scaling=None, **options) -> torch.Tensor:
    """Inpaint without ComfyUI: known region wrapper + ``sample_fillblank``.

    mask: 1 = repaint, at latent size ([H,W], [B,H,W] or [B,1|C,H,W]).
    """
    if not isinstance(sigmas, torch.Tensor):
        sigmas = torch.tensor([float(s) for s in sigmas], dtype=latent.dtype)
    space = space_for(model, noise_scaling)
    m = _as_mask(mask, latent, "mask").to(latent)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    noise = torch.randn(latent.shape, generator=gen, dtype=torch.float32).to(latent)
    wrapped = KnownRegionDenoiser(model, latent, noise, space)
    x = space.noise(latent, sigmas[0], noise)
    extra_args = {"denoise_mask": m, "seed": int(seed)}
    return sample_fillblank(wrapped, x, sigmas, extra_args, noise_scaling=space, **options)
