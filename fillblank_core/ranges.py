"""The range of every number a user sets: one source for the node widgets and the messages.

Each node declares its numeric widgets from these (``Range.widget``) and checks its values with
them (``Range.check`` / ``check_inputs``) before any work, so the widget's min/max and the words of
an out-of-range error are the same numbers. ``WIDGETS`` maps each widget name of the pack's nodes
to its range (one name, one range, in every node); tests compare every numeric widget with it.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """Closed range [low, high]; ``integer`` for whole numbers (INT widgets). ``step`` is the
    widget's step; ``meaning`` is said in the error after the range."""
    low: float
    high: float
    step: float = 1
    integer: bool = False
    meaning: str = ""

    def _fmt(self, v) -> str:
        return str(int(v)) if self.integer else f"{float(v):g}"

    def text(self) -> str:
        """The range as messages say it: 'between -0.5 and 1.5'."""
        return f"between {self._fmt(self.low)} and {self._fmt(self.high)}"

    def check(self, name: str, value):
        """The value as int / float, or a ValueError that states the range exactly."""
        what = f"{name} must be {'a whole number ' if self.integer else 'a number '}{self.text()}"
        what += f" ({self.meaning})" if self.meaning else ""
        try:
            v = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{what}, got {value!r}") from None
        if self.integer and not isinstance(value, (bool, float)):
            try:
                exact = operator.index(value)  # int, numpy integers: exact for 64-bit seeds
            except TypeError:
                exact = None
            if exact is not None:
                if not (self.low <= exact <= self.high):
                    raise ValueError(f"{what}, got {exact}")
                return int(exact)
        if not math.isfinite(v) or (self.integer and not v.is_integer()) or not (self.low <= v <= self.high):
            raise ValueError(f"{what}, got {value!r}")
        return int(v) if self.integer else v

    def widget(self, default, tooltip: str, **extra) -> tuple:
        """The ComfyUI input declaration ("INT" / "FLOAT", options) with this range."""
        low, high = (int(self.low), int(self.high)) if self.integer else (float(self.low), float(self.high))
        opts = {"default": default, "min": low, "max": high, "step": self.step, **extra, "tooltip": tooltip}
        return ("INT" if self.integer else "FLOAT", opts)


# --- placement (Fill-in Target Encoder) --------------------------------------------------------
X = Range(-0.5, 1.5, 0.005, meaning="the target's centre as a fraction of the scene width; "
          "outside 0..1 it hangs over the edge")
Y = Range(-0.5, 1.5, 0.005, meaning="the target's centre as a fraction of the scene height; "
          "outside 0..1 it hangs over the edge")
# min 0.001: on a 24 MP photo a 0.01 floor would mean objects of at least ~40 px
SCALE = Range(0.001, 4.0, 0.001, meaning="the target's height as a fraction of the scene height")
HORIZON = Range(0.0, 0.95, 0.005, meaning="the horizon as a fraction of the scene height from the top; 0 = off")

# --- masks (Fill-in Mask Refiner, Fill-in Composite) -------------------------------------------
GROW = Range(-128, 128, 1, integer=True, meaning="pixels to grow (positive) or shrink (negative) the mask by")
FEATHER = Range(0, 128, 1, integer=True, meaning="pixels of soft edge outward")
THRESHOLD = Range(0.0, 0.99, 0.01, meaning="mask values above it count as inside")
SHADOW_ANGLE = Range(0.0, 360.0, 1.0, meaning="degrees clockwise from the right: 0 right, 90 toward the viewer, "
                     "180 left, 270 away")
SHADOW_LENGTH = Range(0.0, 4.0, 0.05, meaning="the cast shadow's length as a multiple of the object's height")

# --- λ schedule (Fill-in Lambda Schedule) ------------------------------------------------------
LAMBDA = Range(0.0, 1.0, 0.01, meaning="λ: 0 leaves the model free, 1 copies the target")
CUTOFF = Range(0.0, 1.0, 0.01, meaning="progress: 0 = first step, 1 = last")
RATE = Range(0.1, 50.0, 0.1, meaning="how fast exponential moves from start to end")
PREVIEW_STEPS = Range(1, 1000, 1, integer=True, meaning="steps shown in the plot")

# --- sampling (Fill-in Sampler, Fill-in Sampler Select) ----------------------------------------
SEED = Range(0, 0xffffffffffffffff, 1, integer=True, meaning="the noise seed")
STEPS = Range(1, 10000, 1, integer=True, meaning="denoising steps before resampling")
CFG = Range(0.0, 100.0, 0.1, meaning="classifier-free guidance scale")
DENOISE = Range(0.01, 1.0, 0.01, meaning="the fraction of the schedule to run")
JUMP_LENGTH = Range(1, 10000, 1, integer=True, meaning="RePaint's j, steps per chunk")
RESAMPLE = Range(1, 100, 1, integer=True, meaning="RePaint's r, passes over each chunk; 1 = no resampling")
ADAPT = Range(0.0, 1.0, 0.05, meaning="keep ↔ adapt: 0 keeps the pasted target exactly, 1 leaves the model free")

# the defaults that several nodes and the core share: one constant each
DEFAULT_WORKING_SIZE = 1024
MIN_WORKING_SIZE = 64
DEFAULT_CONTEXT = 0.25
DEFAULT_FEATHER = 8
# the λ schedule's defaults: the Lambda Schedule node's widgets and the core's LambdaSchedule() both
# read these (tests/test_core_schedules.py compares the two); DEFAULT_ADAPT is the measured keep ↔ adapt
# (benchmarks/evidence.py, results.md "Keep ↔ adapt"), whose keyframes are the default curve
DEFAULT_ADAPT = 0.2
DEFAULT_KIND = "keyframes"
DEFAULT_AXIS = "run"
DEFAULT_START = 1.0
DEFAULT_END = 0.0
DEFAULT_VALUE = 0.8
DEFAULT_CUTOFF = 0.5
DEFAULT_RATE = 5.0
WORKING_SIZE = Range(MIN_WORKING_SIZE, 8192, 8, integer=True, meaning="the longest side of the crop the model works on, in px")
CONTEXT = Range(0.0, 4.0, 0.05, meaning="the scene around the hole, per side, as a fraction of the hole's longest side")

WIDGETS = {
    "x": X, "y": Y, "scale": SCALE, "horizon": HORIZON,
    "shadow_angle": SHADOW_ANGLE, "shadow_length": SHADOW_LENGTH,
    "grow": GROW, "feather": FEATHER, "threshold": THRESHOLD,
    "start": LAMBDA, "end": LAMBDA, "value": LAMBDA, "cutoff": CUTOFF, "rate": RATE,
    "preview_steps": PREVIEW_STEPS,
    "seed": SEED, "steps": STEPS, "cfg": CFG, "denoise": DENOISE,
    "jump_length": JUMP_LENGTH, "resample": RESAMPLE, "adapt": ADAPT,
    "working_size": WORKING_SIZE, "context": CONTEXT,
}


def check_inputs(**values) -> dict:
    """Check named widget values against ``WIDGETS``; returns them converted (int / float)."""
    return {name: WIDGETS[name].check(name, v) for name, v in values.items()}


def check_choice(name: str, value, options) -> str:
    """A combo value (checked here, in one place, for every node's choices): one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}, got {value!r}")
    return value
