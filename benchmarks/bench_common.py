"""Shared pieces of the benchmarks: methods (guided / plain RePaint / hard paste), schedules, I/O."""

from __future__ import annotations

import csv
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
for p in (str(REPO), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from fillblank_core import LambdaSchedule, inpaint, sample_euler, sample_euler_ancestral  # noqa: E402

SAMPLERS = {"euler": sample_euler, "euler_ancestral": sample_euler_ancestral}

# name -> schedule (None = no target: plain RePaint)
SCHEDULES = {
    "default (adapt 0.2: run 0:1,0.75:1,1:0)": LambdaSchedule.default(),
    "previous default (noise 0:1,0.6:1,0.8:0)": LambdaSchedule(kind="keyframes", axis="noise",
                                                               keyframes="0:1, 0.6:1, 0.8:0"),
    "constant 1": LambdaSchedule.constant(1.0, axis="steps"),
    "constant 0.5": LambdaSchedule.constant(0.5, axis="steps"),
    "linear 1->0": LambdaSchedule.linear(1.0, 0.0, axis="steps"),
    "cosine 1->0": LambdaSchedule.cosine(1.0, 0.0, axis="steps"),
    "exponential 1->0": LambdaSchedule.exponential(1.0, 0.0, rate=5.0, axis="steps"),
    "step 1 until 0.5": LambdaSchedule.step(1.0, 0.5, axis="steps"),
    "keyframes 0:1,0.4:0.6,0.7:0": LambdaSchedule.from_keyframes("0:1, 0.4:0.6, 0.7:0", axis="steps"),
}
STRATEGIES = ("hole", "silhouette", "box")


@dataclass(frozen=True)
class Method:
    """One cell's method. kind: 'guided' (fillblank), 'none' (plain RePaint) or 'paste' (hard paste,
    then denoise from the middle of the sigma schedule)."""

    kind: str
    schedule: Optional[str] = None
    resample: int = 1
    jump: int = 4

    @property
    def label(self) -> str:
        if self.kind == "none":
            return "no target (plain RePaint)"
        if self.kind == "paste":
            return "hard paste, then denoise"
        return self.schedule


def run_method(model, scene: torch.Tensor, repaint: torch.Tensor, target: torch.Tensor, tmask: torch.Tensor,
               sigmas: torch.Tensor, method: Method, seed: int, sampler: str = "euler_ancestral",
               paste_start: float = 0.5) -> torch.Tensor:
    """Run one method on a batch: scene/target [B,C,H,W], repaint/tmask [B,1,H,W] (1 = repaint / pull)."""
    base = SAMPLERS[sampler]
    r = method.resample
    if method.kind == "paste":
        # hard paste the target (soft alpha already in `target`) then SDEdit-style denoise from the middle
        start = int(round(paste_start * (len(sigmas) - 1)))
        pasted = scene * (1 - repaint) + target * repaint
        sub = sigmas[start:]
        return inpaint(model, pasted, repaint, sub, seed=seed, sampler=base,
                       jump_length=min(method.jump, len(sub) - 1), resample=r)
    kw = {}
    if method.kind == "guided":
        kw = dict(target=target, target_mask=tmask, schedule=SCHEDULES[method.schedule])
    elif method.kind != "none":
        raise ValueError(f"unknown method kind {method.kind!r}")
    return inpaint(model, scene, repaint, sigmas, seed=seed, sampler=base,
                   jump_length=min(method.jump, len(sigmas) - 1), resample=r, **kw)


def methods(schedules, resamples, jump: int) -> list[Method]:
    out = []
    for r in resamples:
        out.append(Method("none", None, r, jump))
        out.extend(Method("guided", s, r, jump) for s in schedules)
    out.append(Method("paste", None, 1, jump))
    return out


def write_csv(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.5g}" if isinstance(v, float) else v) for k, v in r.items()})
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            try:
                r[k] = float(v) if any(c in v for c in ".eEn") or v.lstrip("-").isdigit() else v
            except (ValueError, AttributeError):
                pass
    return rows


def nanmean(vals) -> float:
    v = [float(x) for x in vals if x == x and not math.isinf(float(x))]
    return sum(v) / len(v) if v else float("nan")


class Timer:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0
