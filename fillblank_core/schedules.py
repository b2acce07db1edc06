"""λ schedules: how strongly the hole is pulled toward the target over the denoising steps.

A schedule is a pure function of a position p in [0, 1], like k-diffusion's ``get_sigmas_*``
helpers are pure functions of the step count. The same formulas are implemented in ``web/`` for
the live curve; keep the two in step.

What p means is the schedule's ``axis``:
  * ``"run"`` (the default of the nodes): p is the noise level relative to the run the user
    asked for: 0 at its noisiest model call (at most noise-to-signal 16), 1 at its last one, in
    between linear in the log of the noise-to-signal ratio s(σ)/a(σ) of the model's own noise
    space. Whatever the schedule ends at — SD3's shift 3, Flux's resolution shift, a 4-step
    distilled run, a denoise below 1 — a curve that is 0 at p = 1 lets go inside the run.
  * ``"noise"``: p on a fixed log scale of the noise-to-signal ratio (p = 0 at 16 or more,
    p = 1 at 1/64 or less, 0.4 at 1); the same absolute levels on every run, so a curve that
    releases late may never release on a schedule that stops at high noise.
  * ``"steps"``: p is step progress (0 = first step, 1 = last step), as in the paper.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from . import ranges as R

KINDS = ("constant", "linear", "cosine", "exponential", "step", "keyframes")
AXES = ("run", "noise", "steps")

# the noise axis: log2 of the noise-to-signal ratio from NSR_HIGH (p = 0) down to NSR_LOW (p = 1)
NSR_HIGH_LOG2 = 4.0    # NSR 16 (eps models start at σ ≈ 14.6; flow at σ ≈ 0.94)
NSR_LOW_LOG2 = -6.0    # NSR 1/64 (the last steps of any schedule)

# keep ↔ adapt: how much the model may re-render the object (0 = the paste kept exactly,
# 1 = the model free, no target). It places a linear release of λ from 1 to 0 over a window of
# ADAPT_WIDTH on the run axis, centred at 1 + ADAPT_WIDTH/2 − adapt·(1 + ADAPT_WIDTH).
# The default (ranges.DEFAULT_ADAPT) was measured in benchmarks/evidence.py (results.md, "Keep ↔ adapt").
ADAPT_WIDTH = 0.25
# Context guidance (sampling.py): the rest of the hole is held to a smooth continuation of the
# scene only over the noisiest part of the run (the coarse layout), λ·context(p) with this curve
# on the run axis.
CONTEXT_KEYFRAMES = "0:1, 0.45:1, 0.65:0"


def adapt_keyframes(adapt: float) -> str:
    """The keyframes (axis "run") of a keep ↔ adapt value in [0, 1]."""
    adapt = R.ADAPT.check("adapt", adapt)
    c = 1.0 + ADAPT_WIDTH / 2 - adapt * (1.0 + ADAPT_WIDTH)
    lo, hi = c - ADAPT_WIDTH / 2, c + ADAPT_WIDTH / 2

    def lam(p: float) -> float:
        return min(1.0, max(0.0, (hi - p) / ADAPT_WIDTH))
    knots = sorted({round(min(1.0, max(0.0, p)), 6) for p in (0.0, lo, hi, 1.0)})
    return ", ".join(f"{p:g}:{round(lam(p), 6):g}" for p in knots)


# The measured default (benchmarks/evidence.py): keep ↔ adapt at ranges.DEFAULT_ADAPT on the run axis.
DEFAULT_KEYFRAMES = adapt_keyframes(R.DEFAULT_ADAPT)


_KEYFRAME = re.compile(r"^\s*([-+0-9.eE]+)\s*:\s*([-+0-9.eE]+)\s*$")


def _check_unit(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not math.isfinite(v) or v < 0.0 or v > 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return v


def parse_keyframes(text: str) -> list[tuple[float, float]]:
    """Parse "0:1.0, 0.4:0.6, 0.7:0" into [(0.0, 1.0), (0.4, 0.6), (0.7, 0.0)].

    Positions are progress fractions in [0, 1], strictly increasing; values are λ in [0, 1].
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("keyframes must be a string like '0:1.0, 0.4:0.6, 0.7:0', got an empty value")
    frames: list[tuple[float, float]] = []
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        m = _KEYFRAME.match(part)
        if m is None:
            raise ValueError(
                f"keyframes: cannot read {part.strip()!r}; expected 'position:value' pairs separated "
                "by commas, e.g. '0:1.0, 0.4:0.6, 0.7:0'")
        try:
            pos, val = float(m.group(1)), float(m.group(2))
        except ValueError:
            raise ValueError(f"keyframes: {part.strip()!r} is not a pair of numbers") from None
        pos = _check_unit(f"keyframes position in {part.strip()!r}", pos)
        val = _check_unit(f"keyframes value in {part.strip()!r}", val)
        if frames and pos <= frames[-1][0]:
            raise ValueError(
                f"keyframes positions must increase strictly; {pos:g} comes after {frames[-1][0]:g}")
        frames.append((pos, val))
    if not frames:
        raise ValueError("keyframes must contain at least one 'position:value' pair")
    return frames


@dataclass(frozen=True)
class LambdaSchedule:
    """λ(p) for p in [0, 1].

    kinds: constant (value); linear / cosine (start -> end); exponential (start -> end with
    rate > 0, fast change early); step (value until cutoff, then 0); keyframes (piecewise
    linear through "position:value" pairs, flat outside them).

    The defaults are the Lambda Schedule node's (``ranges.DEFAULT_*``): ``LambdaSchedule()`` is the
    measured default curve (keyframes of keep ↔ adapt at DEFAULT_ADAPT over the run), equal to
    ``LambdaSchedule.default()``; the constructors below take ``axis`` with the same default.
    """

    kind: str = R.DEFAULT_KIND
    axis: str = R.DEFAULT_AXIS
    start: float = R.DEFAULT_START
    end: float = R.DEFAULT_END
    value: float = R.DEFAULT_VALUE
    cutoff: float = R.DEFAULT_CUTOFF
    rate: float = R.DEFAULT_RATE
    keyframes: str = DEFAULT_KEYFRAMES
    _frames: tuple = field(default=(), repr=False, compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"schedule kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.axis not in AXES:
            raise ValueError(f"schedule axis must be one of {', '.join(AXES)}, got {self.axis!r}")
        # the widgets' own ranges (the Lambda Schedule node leaves these checks to the schedule)
        for name, rng in (("start", R.LAMBDA), ("end", R.LAMBDA), ("value", R.LAMBDA), ("cutoff", R.CUTOFF),
                          ("rate", R.RATE)):
            object.__setattr__(self, name, rng.check(name, getattr(self, name)))
        if self.kind == "keyframes":
            object.__setattr__(self, "_frames", tuple(parse_keyframes(self.keyframes)))

    # convenience constructors ------------------------------------------------------------
    @classmethod
    def default(cls) -> "LambdaSchedule":
        """The measured default: keep ↔ adapt at ranges.DEFAULT_ADAPT (DEFAULT_KEYFRAMES over the run)."""
        return cls.adapt(R.DEFAULT_ADAPT)

    @classmethod
    def adapt(cls, adapt: float) -> "LambdaSchedule":
        """keep ↔ adapt: 0 holds the target throughout (the paste), 1 leaves the model free;
        in between λ is released linearly over a window of the run axis that comes earlier
        the more the model may adapt the object (``adapt_keyframes``)."""
        return cls(kind="keyframes", axis="run", keyframes=adapt_keyframes(adapt))

    @classmethod
    def constant(cls, value: float, axis: str = R.DEFAULT_AXIS) -> "LambdaSchedule":
        return cls(kind="constant", value=value, axis=axis)

    @classmethod
    def linear(cls, start: float = 1.0, end: float = 0.0, axis: str = R.DEFAULT_AXIS) -> "LambdaSchedule":
        return cls(kind="linear", start=start, end=end, axis=axis)

    @classmethod
    def cosine(cls, start: float = 1.0, end: float = 0.0, axis: str = R.DEFAULT_AXIS) -> "LambdaSchedule":
        return cls(kind="cosine", start=start, end=end, axis=axis)

    @classmethod
    def exponential(cls, start: float = 1.0, end: float = 0.0, rate: float = 5.0,
                    axis: str = R.DEFAULT_AXIS) -> "LambdaSchedule":
        return cls(kind="exponential", start=start, end=end, rate=rate, axis=axis)

    @classmethod
    def step(cls, value: float = 1.0, cutoff: float = 0.5, axis: str = R.DEFAULT_AXIS) -> "LambdaSchedule":
        return cls(kind="step", value=value, cutoff=cutoff, axis=axis)

    @classmethod
    def from_keyframes(cls, text: str, axis: str = R.DEFAULT_AXIS) -> "LambdaSchedule":
        return cls(kind="keyframes", keyframes=text, axis=axis)

    # evaluation --------------------------------------------------------------------------
    def __call__(self, p):
        """λ at progress p (scalar or array); p is clamped to [0, 1]."""
        p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        k = self.kind
        if k == "constant":
            out = np.full_like(p, self.value)
        elif k == "linear":
            out = self.start + (self.end - self.start) * p
        elif k == "cosine":
            out = self.start + (self.end - self.start) * (1.0 - np.cos(math.pi * p)) / 2.0
        elif k == "exponential":
            decay = (np.exp(-self.rate * p) - math.exp(-self.rate)) / (1.0 - math.exp(-self.rate))
            out = self.end + (self.start - self.end) * decay
        elif k == "step":
            out = np.where(p < self.cutoff, self.value, 0.0)
        else:
            xs = np.array([f[0] for f in self._frames])
            ys = np.array([f[1] for f in self._frames])
            out = np.interp(p, xs, ys)
        out = np.clip(out, 0.0, 1.0)
        return float(out) if out.ndim == 0 else out

    def progress(self, steps: int) -> np.ndarray:
        """Progress of each of ``steps`` steps: 0 for the first, 1 for the last."""
        steps = int(steps)
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if steps == 1:
            return np.zeros(1)
        return np.arange(steps, dtype=np.float64) / (steps - 1)

    def array(self, steps: int) -> np.ndarray:
        """λ for each of ``steps`` sampling steps."""
        return np.asarray(self(self.progress(steps)), dtype=np.float64).reshape(-1)

    def at_sigma(self, sigma: float, sigmas: Sequence[float], coefficients=None) -> float:
        """λ at an arbitrary sigma of a run with these ``sigmas``: by its noise level relative to
        the run (axis "run"), its absolute noise level (axis "noise"), both from ``coefficients(σ)
        -> (a, s)`` of the noise space (default eps), or its interpolated position in the
        decreasing schedule (axis "steps")."""
        return float(self(self.position(sigma, sigmas, coefficients)))

    def position(self, sigma: float, sigmas: Sequence[float], coefficients=None, bounds=None) -> float:
        """p on the schedule's axis of a sigma in a run with these ``sigmas`` (``bounds``: the
        run's ``run_bounds``, when the caller has them)."""
        coefficients = coefficients or _eps
        if self.axis == "steps":
            return sigma_progress(sigma, sigmas)
        a, s = coefficients(float(sigma))
        if self.axis == "noise":
            return noise_position(a, s)
        return run_position(a, s, bounds if bounds is not None else run_bounds(sigmas, coefficients))

    def table(self, sigmas: Sequence[float], coefficients=None) -> tuple[np.ndarray, np.ndarray]:
        """(σ increasing, λ) knots for λ at any σ of a sampling run, by linear interpolation in σ.

        Built once on the host before sampling; the sampler interpolates it on the device
        (``searchsorted``), so no per-step value is read back to the host. Knots: the schedule's
        sigmas plus a dense log-spaced grid between them (``sigma_knots``), so axis "steps" is
        exactly ``at_sigma`` and axes "run" and "noise" within 1e-3 of it for the built-in kinds.
        """
        knots = sigma_knots(sigmas)
        sig = np.asarray([float(v) for v in sigmas], dtype=np.float64)
        coefficients = coefficients or _eps
        bounds = run_bounds(sig, coefficients) if self.axis == "run" else None
        lam = np.asarray([float(self(self.position(v, sig, coefficients, bounds))) for v in knots])
        order = np.argsort(knots, kind="stable")
        knots, lam = knots[order], lam[order]
        keep = np.concatenate([[True], np.diff(knots) > 0])
        knots, lam = knots[keep], lam[keep]
        if knots.size == 1:  # one level only: a flat table
            knots, lam = np.array([knots[0], knots[0] + 1.0]), np.array([lam[0], lam[0]])
        return knots, lam

    def plot(self, steps: int, width: int = 512, height: int = 256):
        """A PIL image of λ over the steps (dots) and the continuous curve."""
        from .plot import plot_schedule
        return plot_schedule(self, steps, width, height)

    def describe(self) -> str:
        k = self.kind
        over = {"run": " over the run", "noise": " over noise level", "steps": " over steps"}[self.axis]
        if k == "constant":
            return f"constant {self.value:g}"
        if k in ("linear", "cosine"):
            return f"{k} {self.start:g}->{self.end:g}{over}"
        if k == "exponential":
            return f"exponential {self.start:g}->{self.end:g} (rate {self.rate:g}){over}"
        if k == "step":
            return f"step {self.value:g} until {self.cutoff:g}{over}"
        return "keyframes " + ", ".join(f"{a:g}:{b:g}" for a, b in self._frames) + over


def sigma_knots(sigmas: Sequence[float]) -> np.ndarray:
    """The sigmas of a run plus 512 log-spaced levels between its smallest positive and largest."""
    sig = np.asarray([float(v) for v in sigmas], dtype=np.float64)
    pos = sig[sig > 0]
    grid = [sig]
    if pos.size:
        grid.append(np.geomspace(pos.min(), pos.max(), 512))
    return np.concatenate(grid)


def _eps(sigma: float) -> tuple[float, float]:
    return 1.0, float(sigma)


def log2_nsr(a, s):
    """log2 of the noise-to-signal ratio s / a (+inf where a = 0, −inf where s = 0)."""
    a = np.asarray(a, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log2(s) - np.log2(a)
    return np.where(a <= 0, np.inf, np.where(s <= 0, -np.inf, lg))


def run_bounds(sigmas: Sequence[float], coefficients=None) -> tuple[float, float]:
    """(high, low) log2 noise-to-signal ratio of a run: its noisiest level (at most NSR_HIGH_LOG2)
    and the level of its last model call (the smallest positive sigma but the final one, which
    ends the run at 0 — or above 0 for a split schedule, where no model call happens there)."""
    coefficients = coefficients or _eps
    sig = [float(v) for v in sigmas]
    # the levels the model is called at: every sigma but the last (which ends the run, at 0 or,
    # for a split schedule, above it)
    pos = [v for v in (sig[:-1] if len(sig) > 1 else sig) if v > 0]
    if not pos:
        return NSR_HIGH_LOG2, NSR_HIGH_LOG2
    hi = min(float(log2_nsr(*coefficients(max(pos)))), NSR_HIGH_LOG2)
    lo = min(float(log2_nsr(*coefficients(min(pos)))), hi)
    return hi, lo


def run_position(a, s, bounds: tuple[float, float]):
    """Position p in [0, 1] of a noise level on the "run" axis: 0 at the run's noisiest level
    (``run_bounds``), 1 at its last model call, linear in log2 NSR; clamped. A run of one level
    (a single step) is all at p = 0."""
    hi, lo = bounds
    lg = log2_nsr(a, s)
    if hi - lo <= 1e-9:
        p = np.where(lg < lo, 1.0, 0.0)
    else:
        with np.errstate(invalid="ignore"):
            p = (hi - lg) / (hi - lo)
    p = np.clip(np.nan_to_num(p, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    return float(p) if np.ndim(p) == 0 else p


def noise_position(a, s):
    """Position p in [0, 1] of a noise level on the "noise" axis (0 = high noise, 1 = low).

    a, s: the noise space's coefficients (x_σ = a·x0 + s·ε), scalars or arrays. p is linear in
    log2(s / a) from NSR_HIGH_LOG2 (p = 0) to NSR_LOW_LOG2 (p = 1), clamped; a = 0 (pure noise of
    a flow model) gives 0, s = 0 (clean) gives 1.
    """
    p = (NSR_HIGH_LOG2 - log2_nsr(a, s)) / (NSR_HIGH_LOG2 - NSR_LOW_LOG2)
    p = np.clip(p, 0.0, 1.0)
    return float(p) if p.ndim == 0 else p


def sigma_progress(sigma: float, sigmas: Sequence[float]) -> float:
    """Progress p in [0, 1] of sigma inside a decreasing sigma schedule of n steps.

    sigmas[i] (the start of step i) maps to i / (n - 1); a sigma between two entries is
    interpolated linearly in sigma, so Heun/DPM midpoints and time travel back up get λ too.
    """
    s = np.asarray([float(v) for v in sigmas], dtype=np.float64)
    n = len(s) - 1
    if n <= 1:
        return 0.0
    idx = np.arange(len(s), dtype=np.float64)
    # np.interp needs increasing x; sigmas decrease
    pos = float(np.interp(float(sigma), s[::-1], idx[::-1]))
    return min(max(pos / (n - 1), 0.0), 1.0)


