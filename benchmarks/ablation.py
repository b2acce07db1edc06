"""Ablation: λ schedule × mask strategy × r, on (a) the exemplar model and (b) the learned toy model.

    python benchmarks/ablation.py                 # full run, writes benchmarks/results/ablation_*.csv
    python benchmarks/ablation.py --tiny          # seconds: the structure only (used by the tests)

Mask strategy = the region that is repainted (the MaskRefiner's mode): the user's ``hole``, the
target's ``silhouette``, or the silhouette's bounding ``box``. Guidance always pulls inside the
silhouette (DESIGN.md §2: the target mask lies within the repainted region). Baselines: "no
target" (plain RePaint, same r) and "hard paste, then denoise" (paste the target and denoise the
repainted region from the middle of the sigma schedule, r = 1).

Robustness: the silhouette handed to the sampler is damaged (grow / shrink / jitter by 5–20 % of
the object's size, or one of them at random) and the metrics are taken against the true one.

Metrics (fillblank_lab.metrics): exemplar model — hit rate (the nearest exemplar over the
exemplars' object region is the target's), kept (it is still the scene's old object), fidelity
MSE (and the PSNR of the mean MSE, capped at 60 dB) / SSIM to the
target inside the silhouette, context max |Δ| outside the repainted region,
seam against the target's exemplar; toy model — fidelity PSNR / SSIM to the target, MSE to the
harmonised truth, context, seam against the truth and the reference-free seam.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Iterable, Optional, Sequence

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (RESULTS, SCHEDULES, STRATEGIES, Method, methods, nanmean, run_method, write_csv,  # noqa: E402
                    Timer)

from fillblank_lab import metrics, toy  # noqa: E402
from fillblank_lab.denoisers import ExemplarDenoiser  # noqa: E402
from fillblank_lab.toy_model import karras_sigmas, load_toy_denoiser  # noqa: E402

KINDS = ("grow", "shrink", "jitter", "random")
PSNR_CAP = 60.0


def psnr_of(mse: float, data_range: float = 2.0) -> float:
    """PSNR (dB) of a mean squared error, capped at PSNR_CAP (exact copies give mse 0)."""
    if mse != mse:
        return float("nan")
    return PSNR_CAP if mse <= 0 else min(PSNR_CAP, 10 * math.log10(data_range ** 2 / mse))


def _with_psnr(row: dict) -> dict:
    if "fid_mse" in row:
        row["fid_psnr"] = psnr_of(row["fid_mse"])
    return row


def _b1(m: torch.Tensor) -> torch.Tensor:
    return m.reshape(-1, 1, *m.shape[-2:])


# --- (a) exemplar model ------------------------------------------------------------------------

def _exemplar_metrics(out: torch.Tensor, task: toy.ExemplarTask, repaint: torch.Tensor) -> dict:
    ex = task.exemplars
    idx = metrics.nearest_exemplar(out, ex, task.region)
    kept_index = (task.target_index + 1) % ex.shape[0]
    ctx = (out - task.scene[None]).abs() * (1 - _b1(repaint))
    return {
        "hit": float((idx == task.target_index).double().mean()),
        "kept": float((idx == kept_index).double().mean()),
        "fid_mse": nanmean(metrics.masked_mse(out, task.target[None], task.silhouette).tolist()),
        "fid_ssim": nanmean(metrics.masked_ssim(out, task.target[None], task.silhouette).tolist()),
        "ctx_max": float(ctx.max()),
        "seam": nanmean(metrics.seam_score(out, repaint, ex[task.target_index]).tolist()),
    }


def exemplar_ablation(worlds: int = 4, batch: int = 32, steps: int = 20, resamples: Sequence[int] = (1, 4),
                      jump: int = 4, schedules: Optional[Iterable[str]] = None,
                      strategies: Sequence[str] = STRATEGIES, sampler: str = "euler_ancestral",
                      size: int = 16, k: int = 8, seed: int = 0) -> list[dict]:
    """One row per (strategy, method), averaged over ``worlds`` exemplar worlds × ``batch`` seeds."""
    schedules = list(SCHEDULES) if schedules is None else list(schedules)
    sigmas = karras_sigmas(steps, 0.02, 20.0)
    acc: dict[tuple, list[dict]] = {}
    for w in range(worlds):
        task = toy.exemplar_task(seed=seed + w, k=k, size=size)
        model = ExemplarDenoiser(task.exemplars)
        scene = task.scene[None].expand(batch, -1, -1, -1).contiguous()
        target = task.target[None]
        for strat in strategies:
            repaint = task.mask(strat)
            for m in methods(schedules, resamples, jump):
                out = run_method(model, scene, repaint, target, task.silhouette, sigmas, m,
                                 seed=1000 * w + 17, sampler=sampler)
                acc.setdefault((strat, m), []).append(_exemplar_metrics(out, task, repaint))
    rows = []
    for (strat, m), vals in acc.items():
        row = {"model": "exemplar", "strategy": strat, "method": m.label, "kind": m.kind, "r": m.resample,
               "j": m.jump, "steps": steps, "runs": worlds * batch}
        row.update({key: nanmean(v[key] for v in vals) for key in vals[0]})
        row["ctx_max"] = max(v["ctx_max"] for v in vals)
        rows.append(_with_psnr(row))
    return rows


# --- (b) learned toy model ---------------------------------------------------------------------

def _stack_tasks(tasks: list[toy.InsertTask]):
    scene = torch.stack([t.scene for t in tasks])
    target = torch.stack([t.pasted for t in tasks])
    truth = torch.stack([t.truth for t in tasks])
    sil = torch.stack([t.silhouette for t in tasks])
    return scene, target, truth, sil


def _toy_metrics(out, scene, target, truth, sil, repaint) -> dict:
    ctx = (out - scene).abs() * (1 - _b1(repaint))
    return {
        "fid_mse": nanmean(metrics.masked_mse(out, target, sil).tolist()),
        "fid_ssim": nanmean(metrics.masked_ssim(out, target, sil).tolist()),
        "truth_mse": nanmean(metrics.masked_mse(out, truth, sil).tolist()),
        "ctx_max": float(ctx.max()),
        "seam": nanmean(metrics.seam_score(out, repaint, truth).tolist()),
        "seam_free": nanmean(metrics.seam_score(out, repaint).tolist()),
    }


def toy_ablation(model=None, n_tasks: int = 20, steps: int = 20, resamples: Sequence[int] = (1, 4), jump: int = 4,
                 schedules: Optional[Iterable[str]] = None, strategies: Sequence[str] = STRATEGIES,
                 sampler: str = "euler_ancestral", seed: int = 0, size: int = 32) -> list[dict]:
    """One row per (strategy, method) on ``n_tasks`` toy insertion tasks, all in one batch."""
    model = load_toy_denoiser() if model is None else model
    schedules = list(SCHEDULES) if schedules is None else list(schedules)
    tasks = toy.make_tasks(n_tasks, seed=seed + 1, size=size)
    scene, target, truth, sil = _stack_tasks(tasks)
    sigmas = karras_sigmas(steps, 0.02, 20.0)
    rows = []
    for strat in strategies:
        repaint = _b1(torch.stack([t.mask(strat) for t in tasks]))
        for m in methods(schedules, resamples, jump):
            out = run_method(model, scene, repaint, target, _b1(sil), sigmas, m, seed=seed + 5, sampler=sampler)
            row = {"model": "toy", "strategy": strat, "method": m.label, "kind": m.kind, "r": m.resample,
                   "j": m.jump, "steps": steps, "runs": n_tasks}
            row.update(_toy_metrics(out, scene, target, truth, sil, repaint))
            rows.append(_with_psnr(row))
    return rows


# --- robustness to mask noise ------------------------------------------------------------------

def _damaged(sil: torch.Tensor, amount: float, kind: str, seed: int) -> torch.Tensor:
    return toy.perturb_mask(sil, amount, kind, seed=seed)


def robustness(toy_model=None, amounts: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2), kinds=KINDS,
               strategies: Sequence[str] = ("hole", "silhouette"), schedule: str = "default (adapt 0.2: run 0:1,0.75:1,1:0)",
               n_tasks: int = 20, worlds: int = 4, batch: int = 32, steps: int = 20,
               sampler: str = "euler_ancestral", seed: int = 0) -> list[dict]:
    """Metrics as the silhouette given to the sampler is damaged; r = 1, one schedule.

    Strategy 'hole': the hole (grown to cover the damaged silhouette) is repainted, guidance in the
    damaged silhouette; 'silhouette': the damaged silhouette (any touched pixel) is repainted too.
    """
    rows = []
    sigmas = karras_sigmas(steps, 0.02, 20.0)
    method = Method("guided", schedule, 1, 4)
    toy_model = load_toy_denoiser() if toy_model is None else toy_model
    tasks = toy.make_tasks(n_tasks, seed=seed + 1)
    scene, target, truth, sil = _stack_tasks(tasks)
    worlds_ = [toy.exemplar_task(seed=seed + w) for w in range(worlds)]
    for kind in kinds:
        for amount in amounts:
            if amount == 0 and kind != kinds[0]:
                continue  # the undamaged mask is the same for every kind
            kname = "none" if amount == 0 else kind
            for strat in strategies:
                # (b) toy model
                dm = torch.stack([_damaged(t.silhouette, amount, kind, seed=i) for i, t in enumerate(tasks)])
                if strat == "silhouette":
                    repaint = (dm > 0).float()
                else:
                    repaint = torch.maximum(torch.stack([t.hole for t in tasks]), (dm > 0).float())
                out = run_method(toy_model, scene, _b1(repaint), target, _b1(dm), sigmas, method, seed + 5, sampler)
                row = {"model": "toy", "strategy": strat, "noise": kname, "amount": amount, "runs": n_tasks}
                row.update(_toy_metrics(out, scene, target, truth, sil, _b1(repaint)))
                rows.append(_with_psnr(row))
                # (a) exemplar model
                vals = []
                for w, task in enumerate(worlds_):
                    dmw = _damaged(task.silhouette, amount, kind, seed=100 + w)
                    rp = (dmw > 0).float() if strat == "silhouette" else torch.maximum(task.hole, (dmw > 0).float())
                    model = ExemplarDenoiser(task.exemplars)
                    sc = task.scene[None].expand(batch, -1, -1, -1).contiguous()
                    o = run_method(model, sc, rp, task.target[None], dmw, sigmas, method, 1000 * w + 17, sampler)
                    vals.append(_exemplar_metrics(o, task, rp))
                row = {"model": "exemplar", "strategy": strat, "noise": kname, "amount": amount,
                       "runs": worlds * batch}
                row.update({key: nanmean(v[key] for v in vals) for key in vals[0]})
                rows.append(_with_psnr(row))
    return rows


# --- entry point -------------------------------------------------------------------------------

def run(tiny: bool = False, out_dir: Path = RESULTS, toy_model=None, quiet: bool = False) -> dict:
    """Run everything; write ablation_exemplar.csv, ablation_toy.csv, robustness.csv; return the rows."""
    t = Timer()
    if tiny:
        cfg = dict(schedules=["default (adapt 0.2: run 0:1,0.75:1,1:0)"], resamples=(1, 2))
        ex = exemplar_ablation(worlds=1, batch=4, steps=4, jump=2, **cfg)
        ty = toy_ablation(toy_model, n_tasks=2, steps=4, jump=2, **cfg)
        rb = robustness(toy_model, amounts=(0.0, 0.1), kinds=("grow", "jitter"), n_tasks=2, worlds=1, batch=4,
                        steps=4)
    else:
        ex = exemplar_ablation()
        if not quiet:
            print(f"exemplar ablation: {len(ex)} rows, {t():.0f}s", flush=True)
        ty = toy_ablation(toy_model)
        if not quiet:
            print(f"toy ablation: {len(ty)} rows, {t():.0f}s", flush=True)
        rb = robustness(toy_model)
        if not quiet:
            print(f"robustness: {len(rb)} rows, {t():.0f}s", flush=True)
    write_csv(ex, out_dir / "ablation_exemplar.csv")
    write_csv(ty, out_dir / "ablation_toy.csv")
    write_csv(rb, out_dir / "robustness.csv")
    return {"exemplar": ex, "toy": ty, "robustness": rb, "seconds": t()}


def main(argv=None):
    p = argparse.ArgumentParser(description="λ schedule × mask strategy × r ablation and mask robustness")
    p.add_argument("--tiny", action="store_true", help="a few seconds: structure only")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    torch.set_num_threads(1)  # fastest for these small batches, and steadier on a shared machine
    res = run(a.tiny, a.out_dir)
    print(f"wrote {a.out_dir}/ablation_exemplar.csv, ablation_toy.csv, robustness.csv in {res['seconds']:.0f}s")


if __name__ == "__main__":
    main()
