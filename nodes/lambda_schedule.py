"""Fill-in Lambda Schedule: how strongly the hole is pulled toward the target at each step."""

from __future__ import annotations

import numpy as np
import torch

from comfy_api.latest import io

from ..fillblank_core import ranges as R
from ..fillblank_core.schedules import AXES, DEFAULT_KEYFRAMES, KINDS, LambdaSchedule, parse_keyframes
from .common import Lambda, combo, error_text, number, schema

KIND_TIP = ("constant (value); linear / cosine / exponential (start → end); step (value until cutoff, then 0); "
            "keyframes (the string below). The default keyframes are the measured default of Fill-in Sampler.")
KEYFRAMES_TIP = ("position:value pairs (value = λ), linear in between, e.g. 0:1, 0.5:1, 0.8:0 (hold the target "
                 "until position 0.5, release it by 0.8).")
AXIS_TIP = ("What the position 0 → 1 means. run (default): the noise level relative to the run the sampler makes — "
            "0 at its noisiest step, 1 at its last, by noise level in between — so a curve that ends at 0 lets go "
            "inside every run (SD3 / Flux shifts, 4-step models, denoise < 1). noise: the absolute noise level, from "
            "pure noise (0) to clean (1) on a fixed log scale (0.4 = noise as strong as the signal); a shifted or "
            "few-step run may end before a late release. steps: the step index (0 = first step, 1 = last).")


class FillBlankLambdaSchedule(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "FillBlankLambdaSchedule", "sampling",
            "Sets λ, the pull toward the target over the run's noise levels (or the steps): 1 = hold the target, "
            "0 = leave the model free.",
            inputs=[
                combo("kind", KINDS, R.DEFAULT_KIND, KIND_TIP),
                number("start", R.LAMBDA, R.DEFAULT_START, "λ at position 0 (linear, cosine, exponential)."),
                number("end", R.LAMBDA, R.DEFAULT_END, "λ at position 1 (linear, cosine, exponential)."),
                number("value", R.LAMBDA, R.DEFAULT_VALUE, "λ of constant, and of step before its cutoff."),
                number("cutoff", R.CUTOFF, R.DEFAULT_CUTOFF, "Position where step drops to 0."),
                number("rate", R.RATE, R.DEFAULT_RATE, "How fast exponential moves from start to end (larger = earlier)."),
                io.String.Input("keyframes", default=DEFAULT_KEYFRAMES, multiline=False, tooltip=KEYFRAMES_TIP),
                number("preview_steps", R.PREVIEW_STEPS, 20, "Steps shown as dots in the plot of a steps-axis "
                       "schedule (only for the plot: the sampler uses its own step count)."),
                # added after the first release: last, so that workflows saved before it keep their
                # positional widget values, and optional, so that API prompts without it still queue
                combo("axis", AXES, R.DEFAULT_AXIS, AXIS_TIP, optional=True),
            ],
            outputs=[
                Lambda.Output(display_name="schedule", tooltip="The λ schedule for Fill-in Sampler / Fill-in Sampler Select."),
                io.Image.Output(display_name="plot", tooltip="λ over its axis as a picture."),
            ])

    @classmethod
    def validate_inputs(cls, kind, keyframes) -> bool | str:
        """The keyframes string, before the prompt is queued (ComfyUI reports it on both inputs).
        An input linked to another node's output arrives as None (its value exists only when the
        graph runs): then execute() checks it, still before any sampling."""
        if kind is None or keyframes is None:
            return True
        if kind not in KINDS:
            return f"kind must be one of {', '.join(KINDS)}, got {kind!r}"
        return error_text(parse_keyframes, keyframes) if kind == "keyframes" else True

    @classmethod
    def execute(cls, kind, start, end, value, cutoff, rate, keyframes, preview_steps, axis=R.DEFAULT_AXIS) -> io.NodeOutput:
        R.check_inputs(preview_steps=preview_steps)  # the schedule checks its own values (ranges)
        sched = LambdaSchedule(kind=kind, axis=axis, start=start, end=end, value=value, cutoff=cutoff,
                               rate=rate, keyframes=keyframes if kind == "keyframes" else "")
        plot = np.asarray(sched.plot(int(preview_steps)), dtype=np.float32) / 255.0
        return io.NodeOutput(sched, torch.from_numpy(plot)[None])
