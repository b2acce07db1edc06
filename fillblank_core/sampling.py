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

from typing import Optional, Sequence

import numpy as np
import torch

from . import masks
from .ranges import check_choice
from .schedules import CONTEXT_KEYFRAMES, LambdaSchedule
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
        "dpmpp_2s_ancestral_cfg_pp", "seeds_2")},
    "seeds_3": (3, 1),
}

_MIX_A = 6364136223846793005
_MIX_B = 1442695040888963407


def derive_seed(seed: int, index: int) -> int:
    """A new 63-bit seed for the index-th base-sampler call (index 0 keeps the seed)."""
    if index == 0:
        return int(seed)
    return (int(seed) * _MIX_A + (index + 1) * _MIX_B) % (2 ** 63)


# --- planning and counting ---------------------------------------------------------------------

def plan_chunks(steps: int, jump_length: int, resample: int) -> list[tuple[int, int, int]]:
    """[(start, end, passes)]: chunks of ``jump_length`` steps; all but the last get ``resample`` passes.

    With resample == 1 there is a single chunk over all steps (no time travel, j unused). A
    jump_length above the step count is clamped to it (few-step models): one chunk, no travel.
    """
    # whole numbers >= 1, checked by the node (ranges.STEPS / JUMP_LENGTH / RESAMPLE) before any work
    steps, r = max(1, int(steps)), max(1, int(resample))
    j = min(max(1, int(jump_length)), steps)  # j > steps: one chunk of all steps
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


def step_calls(sampler: Optional[str]):
    """The model calls of each step of one base-sampler call, for a named ComfyUI sampler:
    ``calls(n, ends_at_zero) -> [calls of step 0, …, calls of step n − 1]`` over a call of n steps
    (``ends_at_zero``: its last sigma is 0), or None where the calls follow no fixed pattern.

    SAMPLER_COST's samplers make the same number of calls every step (one for a last step to 0);
    heunpp2 makes 3 (Heun++), then 2 on its next-to-last step (Heun) and 1 on its last (Euler),
    judged by the sigmas it is given, so over every chunk of a time-travel run. dpm_fast and
    dpm_adaptive solve on noise levels of their own (DPM-Solver's time grid; adaptive steps): None,
    and their calls get λ by their own noise level."""
    if sampler in SAMPLER_COST:
        per, last = SAMPLER_COST[sampler]
        return lambda n, ends_at_zero: [per] * (n - 1) + [last if ends_at_zero else per] if n > 0 else []
    return STEP_PATTERNS.get(sampler)


# samplers whose calls per step change along a call (``step_calls``): heunpp2's Heun++ (3 calls), then
# Heun (2) on its next-to-last step and Euler (1) on its last, by the sigmas it is given
STEP_PATTERNS = {"heunpp2": lambda n, ends_at_zero: [3] * max(0, n - 2) + [2, 1][-n:] if n > 0 else []}


def count_model_evaluations(steps: int, jump_length: int, resample: int, sampler: str = "euler",
                            ends_at_zero: bool = True) -> int:
    """Exact number of model (denoiser) calls of ``sample_fillblank`` for a named base sampler
    (``step_calls``'s samplers).

    For one-evaluation-per-step samplers this is steps + ceil((steps - j)/j)·(r - 1)·j
    (RePaint's default T=250, j=10, r=10 gives 2,410).
    """
    calls = step_calls(sampler)
    if calls is None:
        known = sorted([*SAMPLER_COST, *STEP_PATTERNS])
        raise ValueError(f"no evaluation count known for sampler {sampler!r}; known: {', '.join(known)}")
    return sum(sum(calls(end - start, ends_at_zero and end == steps)) * passes
               for start, end, passes in plan_chunks(steps, jump_length, resample))


# --- denoiser wrappers -------------------------------------------------------------------------

class _Wrapper:
    """Forwards unknown attributes to the wrapped denoiser (samplers look for ``inner_model``)."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):  # only for attributes the wrapper does not have itself
        if name == "model":  # not set (yet): no forwarding loop
            raise AttributeError(name)
        return getattr(self.model, name)


def _interp(x: torch.Tensor, knots: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation on the device (knots increasing, at least two); clamped."""
    i = torch.searchsorted(knots, x.contiguous()).clamp(1, knots.numel() - 1)
    k0, k1 = knots[i - 1], knots[i]
    f = ((x - k0) / (k1 - k0)).clamp(0.0, 1.0)
    v0 = values[i - 1]
    return v0 + (values[i] - v0) * f


class GuidedDenoiser(_Wrapper):
    """Target guidance around any denoiser, evaluated on the device without host reads.

    Per latent cell a guidance target T and weight w = λ(σ)·m + λ_ctx(σ)·m_ctx: m is the target
    mask inside the hole (T = the target there; the nodes pass 1 on every cell the object
    touches, ``masks.touched_latent``), m_ctx the rest of the hole (T = a smooth continuation of
    the scene, held only over the noisiest part of the run: λ_ctx = λ·context).
    ``blend="matched"``: the model sees the state with its clean component moved w of the way to
    T and its noise level kept,

        x' = (1 − w)·x + w·a(σ)·T + sqrt(w·(2 − w))·s(σ)·ε      (ε: one draw per pass)

    (if x = a·x0 + s·ε_x then x' = a·((1 − w)·x0 + w·T) + s·ε' with Var ε' = (1 − w)² + w(2 − w) = 1),
    and its prediction is pulled the same way, x0' = (1 − w)·D(x') + w·T. At w = 1 this is exactly
    ComfyUI's known region (KSamplerX0Inpaint) with T as the known latent. With
    ``blend="independent"`` the prediction is left alone and ``sample_fillblank`` injects freshly
    noised target into the state after each step instead (silhouette only).
    """

    def __init__(self, model, target: Optional[torch.Tensor], mask: Optional[torch.Tensor],
                 table: Optional[tuple[np.ndarray, ...]], space: NoiseSpace, blend: str = "matched",
                 context: Optional[torch.Tensor] = None):
        super().__init__(model)
        dev = None
        if table is not None:  # the λ(σ) knots, on the host and (once) on the target's device
            dev = tuple(torch.tensor(v, dtype=torch.float32, device=target.device) for v in table)
        self.target, self.mask, self.table, self.device_table = target, mask, table, dev
        self.space, self.blend, self.context = space, blend, context
        self.eps = self.last_x0 = self.last_w = self.step_values = None
        self.pattern = self.run_sigmas = None
        self.call_step, self.span, self.span_calls = [], (0, 0), 0

    def per_step_weights(self, sigmas: Sequence[float], calls) -> None:
        """Hold λ for all model calls of a step at its value at the step's start sigma.

        For samplers with several model calls per step (Heun's corrector at the next sigma, DPM-2's
        midpoint, …): with λ keyed by sigma alone, a step whose corrector falls where λ has just
        dropped mixes a guided and an unguided derivative, and the second-order update then
        overshoots by the target's mismatch with the model's own picture over the (small) next
        sigma. ``calls``: model calls per step (an int) or ``step_calls``' pattern. Calls are
        counted on the host (``begin`` per base-sampler call), so no device value is read."""
        sig = [float(v) for v in sigmas[:-1]]
        lam = [self.lam_at(v) for v in sig]
        rows = [lam]
        if self.context is not None:
            rows.append([float(np.interp(v, self.table[0], self.table[2])) for v in sig])
        # in the mask's dtype and on its device once, so the per-call path only indexes it
        dev = torch.tensor(rows, dtype=self.mask.dtype, device=self.mask.device)
        if not callable(calls):
            per = int(calls)
            calls = lambda n, ends_at_zero: [per] * n  # noqa: E731  (a last step's fewer calls come last)
        self.step_values, self.pattern, self.run_sigmas = dev, calls, [float(v) for v in sigmas]

    def begin(self, lo: int, hi: int) -> None:
        """A base-sampler call over steps lo..hi starts (its model calls are counted from 0)."""
        self.span, self.span_calls = (int(lo), int(hi)), 0
        if self.step_values is not None:  # model call number → step, from the sampler's pattern
            n = int(hi) - int(lo)
            per = self.pattern(n, self.run_sigmas[int(hi)] == 0.0)
            self.call_step = [int(lo) + k for k, c in enumerate(per) for _ in range(int(c))]

    def lam_at(self, sigma: float) -> float:
        """λ at a host sigma (for work planned before sampling)."""
        return float(np.interp(float(sigma), self.table[0], self.table[1]))

    def weight(self, sigma: torch.Tensor, call: int = 0) -> torch.Tensor:
        """w = λ(σ)·m (+ λ_ctx(σ)·m_ctx) as [B, 1|C, H, W] for a sigma tensor [B]; device ops only.
        With per-step weights (``per_step_weights``), λ of the step that model call ``call`` of
        the current base-sampler call belongs to."""
        shape = (-1,) + (1,) * (self.mask.ndim - 1)
        if self.step_values is not None:
            k = self.call_step[call] if call < len(self.call_step) else self.span[1] - 1
            row = self.step_values[:, k]
            w = row[0].reshape(1, *shape[1:]) * self.mask
            if self.context is not None:
                w = w + row[1].reshape(1, *shape[1:]) * self.context
            return w
        knots, values = self.device_table[:2]
        s = sigma.reshape(-1).to(knots)
        w = _interp(s, knots, values).to(self.mask.dtype).reshape(shape) * self.mask
        if self.context is not None:
            ctx = _interp(s, knots, self.device_table[2]).to(self.mask.dtype).reshape(shape)
            w = w + ctx * self.context
        return w

    def __call__(self, x, sigma, **kwargs):
        call = self.span_calls
        self.span_calls = call + 1
        if self.target is None or self.blend != "matched":
            x0 = self.model(x, sigma, **kwargs)
            self.last_x0 = x0
            return x0
        w = self.weight(sigma, call)
        a, s = self.space.coefficients_like(sigma, x)
        # lerp is exact at its ends: at w = 1 the clean part is a·T and the prediction T, bit for bit
        x_in = torch.lerp(x, (a * self.target).to(x), w.to(x)) + (s * self.eps) * torch.sqrt(w * (2.0 - w))
        options = kwargs.get("model_options")
        if isinstance(options, dict) and options.get("sampler_post_cfg_function"):
            kwargs = dict(kwargs, model_options=_pulled_post_cfg(options, self.target, w))
        x0 = self.model(x_in, sigma, **kwargs)
        x0 = torch.lerp(x0, self.target.to(x0), w.to(x0))
        self.last_x0, self.last_w = x0, w
        return x0


# the conditional and unconditional predictions a post-CFG hook sees; its "denoised" (the CFG
# result, or the previous hook's output) is left alone: the one pull of the returned prediction
# in GuidedDenoiser.__call__ covers it, and pulling it here as well would pull a pass-through
# hook's result twice (weight 1 − (1 − w)² instead of w)
_PREDICTIONS = ("cond_denoised", "uncond_denoised")


def _pulled_post_cfg(options: dict, target: torch.Tensor, w: torch.Tensor) -> dict:
    """model_options whose post-CFG hooks see the conditional and unconditional predictions
    pulled as the returned prediction is.

    CFG++ samplers (``*_cfg_pp``) capture the unconditional prediction in such a hook and step
    with it; unpulled, the target would reach only the returned prediction, not their steps.
    """
    def pulled(fn):
        def hook(args):
            args = dict(args)
            for key in _PREDICTIONS:
                v = args.get(key)
                if isinstance(v, torch.Tensor) and v.shape[-2:] == target.shape[-2:]:
                    args[key] = torch.lerp(v, target.to(v), w.to(v))
            return fn(args)
        return hook
    out = dict(options)
    out["sampler_post_cfg_function"] = [pulled(fn) for fn in options["sampler_post_cfg_function"]]
    return out


class KnownRegionDenoiser(_Wrapper):
    """ComfyUI's ``KSamplerX0Inpaint`` semantics without ComfyUI.

    At every call the known region (denoise_mask == 0) of the input is replaced by the latent
    noised with one fixed noise to the current sigma, and the known region of the output by the
    clean latent.
    """

    def __init__(self, model, latent: torch.Tensor, noise: torch.Tensor, space: NoiseSpace):
        super().__init__(model)
        self.latent, self.noise, self.space = latent, noise, space
        self.inner_model = getattr(model, "inner_model", model)

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


def _schedule(schedule) -> LambdaSchedule:
    if schedule is None:
        return LambdaSchedule.default()
    if isinstance(schedule, (int, float)):
        return LambdaSchedule.constant(float(schedule))
    return schedule


def repaint_mask(denoise_mask: torch.Tensor) -> torch.Tensor:
    """The one repaint rule: every latent cell with any part of the hole is repainted fully.

    ComfyUI resizes a noise mask to latent size bilinearly (Set Latent Noise Mask, and Fill-in
    Sampler, which passes its hole the same way); a cell whose resized value is above 0 is part of
    the hole. Binary, so Fill-in Sampler and Fill-in Sampler Select repaint the same cells.
    """
    return (denoise_mask > 0).to(denoise_mask.dtype)


@torch.no_grad()
def sample_fillblank(model, x, sigmas, extra_args=None, callback=None, disable=None, *,
                     sampler=None, sampler_options=None, target=None, target_mask=None,
                     schedule=None, jump_length: int = 10, resample: int = 1,
                     blend: str = "matched", noise_scaling=None, target_in_model_space=False,
                     seed: Optional[int] = None, rescale_progress: bool = False,
                     context: bool = True, calls_per_step=1):
    """Guided RePaint sampling; k-diffusion signature.

    model: denoiser ``model(x, sigma * s_in, **extra_args) -> x0`` (in ComfyUI the known-region
        wrapper KSamplerX0Inpaint; the known region comes from ``extra_args["denoise_mask"]``,
        made binary by ``repaint_mask``).
    sampler: base sampler with the k-diffusion signature (default: Euler); ``sampler_options``
        are passed to it.
    target, target_mask: target latent t [B|1,C,H,W] and soft mask m at latent size (1 = pull).
        Unless ``target_in_model_space``, t is mapped with the model's ``process_latent_in``.
    schedule: LambdaSchedule (or a number for constant λ); default ``LambdaSchedule.default()``.
    jump_length, resample: RePaint's j and r (r = 1: no time travel; j > steps counts as steps).
    blend: "matched" (the model sees the target in its input, noise level preserved; see
        GuidedDenoiser) or "independent" (inject a·t + s·ε_fresh after each step; lowers the
        noise std in the target to s·sqrt((1−λ)² + λ²)).
    noise_scaling: the model's affine ``noise_scaling`` (default: found on the model, else eps).
    seed: seed of the re-noising generator (default: ``extra_args["seed"]``).
    context: with a hole (denoise mask) and blend "matched", also hold the rest of the hole to a
        smooth continuation of the scene at the highest noise levels (see GuidedDenoiser).
    rescale_progress: report progress ``i`` scaled to ``len(sigmas) - 1`` steps (for hosts whose
        progress bar knows only the base step count).
    calls_per_step: model calls per step of the base sampler (2 for Heun, DPM-2, DPM++ 2S/SDE;
        ``SAMPLER_COST``), or its pattern ``step_calls(name)`` (heunpp2: 3, then 2 and 1 on the
        last two steps of each call); above 1, all calls of a step get λ of the step's start
        sigma (``GuidedDenoiser.per_step_weights``). Samplers on noise levels of their own
        (dpm_fast, dpm_adaptive; ``step_calls`` None): 1, λ by each call's noise level.

    Everything that needs host values (λ table, re-noising coefficients, noise draws) is prepared
    before the first model call or once per pass; the per-step path only queues device work.
    """
    extra_args = {} if extra_args is None else extra_args
    n = len(sigmas) - 1
    if n < 1:
        return x
    check_choice("blend", blend, BLENDS)  # for callers without a node; the nodes check it first
    chunks = plan_chunks(n, jump_length, resample)
    base = sample_euler if sampler is None else sampler
    base_opts = dict(sampler_options or {})
    space = space_for(model, noise_scaling)
    sig = [float(v) for v in (sigmas.detach().cpu() if isinstance(sigmas, torch.Tensor) else sigmas)]

    denoise_mask = extra_args.get("denoise_mask")
    if denoise_mask is not None:
        denoise_mask = repaint_mask(denoise_mask)
        extra_args = dict(extra_args, denoise_mask=denoise_mask)
    guided = _guide(model, x, sig, space, target, target_mask, schedule, blend, denoise_mask,
                    target_in_model_space, context)
    most = max(calls_per_step(n, False), default=1) if callable(calls_per_step) else int(calls_per_step)
    if most > 1 and guided.target is not None and blend == "matched":
        guided.per_step_weights(sig, calls_per_step)

    if seed is None:
        seed = extra_args.get("seed")
    if seed is None:
        seed = int(torch.randint(0, 2 ** 62, (1,)).item())
    gen = torch.Generator(device="cpu").manual_seed(derive_seed(int(seed), 7919))

    def fresh(shape) -> torch.Tensor:
        return torch.randn(shape, generator=gen, dtype=torch.float32).to(x)

    total_steps = sum((e - s) * p for s, e, p in chunks)
    state = {"done": 0, "calls": 0}
    many_calls = len(chunks) > 1 or chunks[0][2] > 1 or blend == "independent"
    # per step of blend="independent": λ(σ_i) and the coefficients at σ_{i+1}, on the host
    inject = [(guided.lam_at(sig[i]), *space.coefficients(sig[i + 1])) for i in range(n)] \
        if guided.target is not None and blend == "independent" else None

    def run(x, lo, hi):
        """One base-sampler call over sigmas[lo..hi] with its own seed and global progress."""
        # a copy per call: CFG++ samplers write their post-CFG hook into the dict they are given,
        # so a shared one would carry every earlier pass's hook into the next
        args = dict(extra_args)
        if state["calls"] > 0:
            # new noise in every repetition: samplers that seed themselves from extra_args["seed"]
            # (ComfyUI 2025+) get a derived seed, those drawing from torch's global generator
            # (ComfyUI 2024 ancestral samplers) a reseeded one, inside fork_rng below
            call_seed = derive_seed(int(seed), state["calls"])
            if extra_args.get("seed") is not None:
                args["seed"] = call_seed
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
        guided.begin(lo, hi)
        out = base(guided, x, sigmas[lo:hi + 1], extra_args=args, callback=cb,
                   disable=True if many_calls else disable, **base_opts)
        state["calls"] += 1
        state["done"] += hi - lo
        return out

    def run_span(x, lo, hi):
        if inject is None:
            if guided.target is not None:
                guided.eps = fresh(x.shape)  # the guidance noise of this pass
            return run(x, lo, hi)
        noises = fresh((hi - lo,) + tuple(x.shape))  # one transfer per pass, none per step
        for i in range(lo, hi):  # independent: one step at a time, inject after each
            x = run(x, i, i + 1)
            lam, a, s = inject[i]
            noised = guided.target * a + noises[i - lo] * s
            x = x + (noised - x) * (guided.mask * lam)
        return x

    devices = [x.device.index or 0] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, enabled=many_calls):
        for start, end, passes in chunks:
            scale, std = space.renoise_coefficients(sig[end], sig[start]) if passes > 1 else (1.0, 0.0)
            for p in range(passes):
                if p > 0:
                    x = x * scale + fresh(x.shape) * std
                x = run_span(x, start, end)

    if sig[-1] == 0.0 and guided.last_x0 is not None:
        # the base sampler's last step is x0 up to rounding; make the exact regions exact:
        # the known region is the latent, cells held at full weight are the target
        last = guided.last_x0.to(x)
        if denoise_mask is not None:
            x = torch.where(denoise_mask.to(x) > 0, x, last)
        if guided.last_w is not None:
            x = torch.where(guided.last_w >= 1.0, guided.target.expand_as(x), x)
    return x


def _guide(model, x, sig, space, target, target_mask, schedule, blend, denoise_mask,
           target_in_model_space, context) -> GuidedDenoiser:
    """Checks the target and builds the GuidedDenoiser with everything on x's device (host work
    before sampling: validation, the λ table, the context fill)."""
    if target is None:
        return GuidedDenoiser(model, None, None, None, space, blend)
    if target.ndim != 4 or target.shape[-2:] != x.shape[-2:] or target.shape[1] != x.shape[1] \
            or target.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"target latent must have shape [1 or {x.shape[0]}, {x.shape[1]}, "
                         f"{x.shape[2]}, {x.shape[3]}], got {tuple(target.shape)}")
    if not torch.isfinite(target).all():
        raise ValueError("target latent contains NaN or infinite values")
    mask = _as_mask(target_mask if target_mask is not None else torch.ones_like(target[:, :1]), x, "target_mask")
    mask = mask.to(x.device, x.dtype)
    target = target.to(x.device, x.dtype)
    if not target_in_model_space:
        latent_in = _find_attr(model, "process_latent_in")
        if latent_in is not None:
            target = latent_in(target)
    sched = _schedule(schedule)
    space.coefficients(sig[0])  # host check, once: noise_scaling is affine without offset
    knots, lam = sched.table(sig, space.coefficients)
    ctx_mask = None
    if denoise_mask is not None:  # never pull outside the hole
        hole = denoise_mask.to(mask)
        mask = mask * hole
        if context and blend == "matched":
            # the rest of the hole: a smooth continuation of the scene around it (the target's
            # latent outside the silhouette is the scene), pulled only at the highest noise
            hole1 = hole[:, :1]
            ctx_mask = hole1 * (1.0 - mask)
            target = target * mask + masks.smooth_fill(target, hole1) * (1.0 - mask)
    table = (knots, lam)
    if ctx_mask is not None:
        curve = LambdaSchedule(kind="keyframes", axis="run", keyframes=CONTEXT_KEYFRAMES)
        ctx = curve.table(sig, space.coefficients)
        table = (knots, lam, lam * np.interp(knots, *ctx))
    return GuidedDenoiser(model, target.to(x.dtype), mask, table, space, blend, ctx_mask)


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
