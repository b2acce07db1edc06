"""Small PIL plots (no matplotlib dependency in users' environments)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def plot_schedule(schedule, steps: int, width: int = 512, height: int = 256) -> Image.Image:
    """λ over its axis: grid, continuous curve and (steps axis) one dot per step."""
    img = Image.new("RGB", (width, height), (24, 24, 28))
    d = ImageDraw.Draw(img)
    ml, mr, mt, mb = 34, 12, 12, 24
    w, h = width - ml - mr, height - mt - mb

    def xy(p, lam):
        return ml + p * w, mt + (1.0 - lam) * h

    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = mt + (1 - frac) * h
        d.line([(ml, y), (ml + w, y)], fill=(60, 60, 68))
        d.text((4, y - 6), f"{frac:.2f}", fill=(160, 160, 170))
    d.line([(ml, mt), (ml, mt + h)], fill=(120, 120, 130))
    d.line([(ml, mt + h), (ml + w, mt + h)], fill=(120, 120, 130))
    ps = np.linspace(0.0, 1.0, 257)
    lam = np.asarray(schedule(ps)).reshape(-1)
    d.line([xy(p, v) for p, v in zip(ps, lam)], fill=(90, 170, 255), width=2)
    axis = getattr(schedule, "axis", "steps")
    if axis in ("noise", "run"):
        over = "noise level (high -> low)" if axis == "noise" else "the run (first step -> last)"
        d.text((ml, height - 16), f"lambda over {over} - {schedule.describe()}", fill=(200, 200, 210))
        return img
    prog = schedule.progress(steps)
    for p, v in zip(prog, schedule.array(steps)):
        x, y = xy(p, v)
        d.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=(255, 200, 80))
    d.text((ml, height - 16), f"lambda over {steps} steps - {schedule.describe()}", fill=(200, 200, 210))
    return img
