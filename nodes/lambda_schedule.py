"""FillBlankLambdaSchedule: how strongly the hole is pulled toward the target at each step."""

from __future__ import annotations

import numpy as np
import torch

from ..fillblank_core import ranges as R
from ..fillblank_core.schedules import AXES, DEFAULT_KEYFRAMES, KINDS, LambdaSchedule
from .common import CATEGORY, LAMBDA


class FillBlankLambdaSchedule:
    DESCRIPTION = ("Sets λ, the pull toward the target over the noise level (or the steps): 1 = hold the "
                   "target, 0 = leave the model free.")
    CATEGORY = CATEGORY
    FUNCTION = "build"
    RETURN_TYPES = (LAMBDA, "IMAGE")
    RETURN_NAMES = ("schedule", "plot")
    OUTPUT_TOOLTIPS = ("The λ schedule for FillBlank Sampler / Sampler Select.", "λ over the noise level (or the steps) as a picture.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "kind": (list(KINDS), {"default": "keyframes", "tooltip": "constant (value); linear / cosine / exponential (start → end); step (value until cutoff, then 0); keyframes (the string below). The default keyframes are the measured default of FillBlank Sampler."}),
                "start": R.LAMBDA.widget(1.0, "λ at position 0 (linear, cosine, exponential)."),
                "end": R.LAMBDA.widget(0.0, "λ at position 1 (linear, cosine, exponential)."),
                "value": R.LAMBDA.widget(0.8, "λ of constant, and of step before its cutoff."),
                "cutoff": R.CUTOFF.widget(0.5, "Position where step drops to 0."),
                "rate": R.RATE.widget(5.0, "How fast exponential moves from start to end (larger = earlier)."),
                "keyframes": ("STRING", {"default": DEFAULT_KEYFRAMES, "multiline": False, "tooltip": "position:λ pairs, linear in between, e.g. 0:1, 0.6:1, 0.8:0 (hold the target until noise level 0.6, release it by 0.8)."}),
                "preview_steps": R.PREVIEW_STEPS.widget(20, "Steps shown as dots in the plot of a steps-axis schedule (only for the plot: the sampler uses its own step count)."),
                "axis": (list(AXES), {"default": "noise", "tooltip": "What the position 0 → 1 means. noise: the noise level, from pure noise (0) to clean (1) on a fixed log scale (0.4 = noise as strong as the signal), the same for every scheduler, step count, denoise and model family. steps: the step index (0 = first step, 1 = last)."}),
            },
        }

    def build(self, kind, start, end, value, cutoff, rate, keyframes, preview_steps, axis="noise"):
        R.check_inputs(start=start, end=end, value=value, cutoff=cutoff, rate=rate, preview_steps=preview_steps)
        sched = LambdaSchedule(kind=kind, axis=axis, start=start, end=end, value=value, cutoff=cutoff,
                               rate=rate, keyframes=keyframes if kind == "keyframes" else "")
        plot = np.asarray(sched.plot(int(preview_steps)), dtype=np.float32) / 255.0
        return (sched, torch.from_numpy(plot)[None])
