"""FillBlankLambdaSchedule: how strongly the hole is pulled toward the target at each step."""

from __future__ import annotations

import numpy as np
import torch

from ..fillblank_core import ranges as R
from ..fillblank_core.schedules import KINDS, LambdaSchedule
from .common import CATEGORY, LAMBDA


class FillBlankLambdaSchedule:
    DESCRIPTION = "Sets λ, the pull toward the target over the denoising steps (1 = copy the target, 0 = free)."
    CATEGORY = CATEGORY
    FUNCTION = "build"
    RETURN_TYPES = (LAMBDA, "IMAGE")
    RETURN_NAMES = ("schedule", "plot")
    OUTPUT_TOOLTIPS = ("The λ schedule for FillBlank Sampler / Sampler Select.", "λ over the steps as a picture.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "kind": (list(KINDS), {"default": "linear", "tooltip": "constant (value); linear / cosine / exponential (start → end); step (value until cutoff, then 0); keyframes (the string below)."}),
                "start": R.LAMBDA.widget(1.0, "λ at the first step (linear, cosine, exponential)."),
                "end": R.LAMBDA.widget(0.0, "λ at the last step (linear, cosine, exponential)."),
                "value": R.LAMBDA.widget(0.8, "λ of constant, and of step before its cutoff."),
                "cutoff": R.CUTOFF.widget(0.5, "Progress (0 = first step, 1 = last) where step drops to 0."),
                "rate": R.RATE.widget(5.0, "How fast exponential moves from start to end (larger = earlier)."),
                "keyframes": ("STRING", {"default": "0:1.0, 0.4:0.6, 0.7:0", "multiline": False, "tooltip": "progress:λ pairs, linear in between, e.g. 0:1.0, 0.4:0.6, 0.7:0"}),
                "preview_steps": R.PREVIEW_STEPS.widget(20, "Steps shown in the plot (the sampler uses its own step count)."),
            },
        }

    def build(self, kind, start, end, value, cutoff, rate, keyframes, preview_steps):
        R.check_inputs(start=start, end=end, value=value, cutoff=cutoff, rate=rate, preview_steps=preview_steps)
        sched = LambdaSchedule(kind=kind, start=start, end=end, value=value, cutoff=cutoff, rate=rate,
                               keyframes=keyframes if kind == "keyframes" else "")
        plot = np.asarray(sched.plot(int(preview_steps)), dtype=np.float32) / 255.0
        return (sched, torch.from_numpy(plot)[None])
