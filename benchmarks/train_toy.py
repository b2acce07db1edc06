"""Train the tiny pixel-space toy denoiser on procedural toy scenes (CPU, minutes).

    nice python benchmarks/train_toy.py                       # the shipped model (see results.md)
    python benchmarks/train_toy.py --steps 20 --out /tmp/t.safetensors   # a smoke run

Data: fresh random scenes from ``fillblank_lab.toy.random_scene`` every batch (no data set on
disk). Loss: EDM-weighted denoising loss with log-normal σ (P_mean = −1.2, P_std = 1.2) mixed
with log-uniform σ over [0.02, 20] so that the high noise levels inpainting starts from are seen.
Adam with cosine learning-rate decay; the exponential moving average of the weights is what is
saved. Writes the weights (safetensors, with the command and final loss in its metadata) and
the loss curve as CSV and PNG.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fillblank_lab import toy  # noqa: E402
from fillblank_lab.toy_model import ToyDenoiser, save_toy_denoiser, DEFAULT_PATH  # noqa: E402

HERE = Path(__file__).resolve().parent


def sample_sigmas(n: int, gen: torch.Generator) -> torch.Tensor:
    lognormal = torch.exp(torch.randn(n, generator=gen) * 1.2 - 1.2)
    loguniform = torch.exp(torch.empty(n).uniform_(math.log(0.02), math.log(20.0), generator=gen))
    pick = torch.rand(n, generator=gen) < 0.7
    return torch.where(pick, lognormal, loguniform)


def train(steps: int, batch: int, lr: float, seed: int, out: Path, curve: Path | None, threads: int,
          max_minutes: float, ema_decay: float, log_every: int = 10, quiet: bool = False) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    model = ToyDenoiser()
    ema = ToyDenoiser()
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps))))
    rows, run_loss, t0 = [], 0.0, time.time()
    done = 0
    for i in range(steps):
        x0 = toy.training_batch(seed * 1_000_000 + i, batch)
        flip = torch.rand(batch, generator=gen) < 0.5
        x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)
        sigma = sample_sigmas(batch, gen)
        noise = torch.randn(x0.shape, generator=gen)
        loss = model.loss(x0, sigma, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        d = min(ema_decay, (1 + i) / (10 + i))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - d)
        run_loss += float(loss.detach())
        done = i + 1
        if done % log_every == 0:
            rows.append({"step": done, "loss": run_loss / log_every, "seconds": round(time.time() - t0, 1),
                         "lr": sched.get_last_lr()[0]})
            run_loss = 0.0
            if not quiet and done % (log_every * 10) == 0:
                print(f"step {done}/{steps} loss {rows[-1]['loss']:.4f} {rows[-1]['seconds']:.0f}s", flush=True)
        if (time.time() - t0) > max_minutes * 60:
            print(f"stopping at step {done}: --max-minutes {max_minutes} reached", flush=True)
            break
    seconds = time.time() - t0
    # held-out loss of the EMA weights on a fixed set of scenes and noise levels
    with torch.no_grad():
        hg = torch.Generator().manual_seed(12345)
        xv = toy.training_batch(987_654_321, 256)
        sv = sample_sigmas(256, hg)
        nv = torch.randn(xv.shape, generator=hg)
        val = float(ema.loss(xv, sv, nv))
    command = "python benchmarks/train_toy.py " + " ".join(sys.argv[1:])
    save_toy_denoiser(ema, out, metadata={"command": command, "steps": done, "batch": batch, "lr": lr,
                                          "seed": seed, "seconds": round(seconds, 1), "val_loss": round(val, 5)})
    if curve is not None and rows:
        curve.parent.mkdir(parents=True, exist_ok=True)
        with open(curve.with_suffix(".csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        from bench_plot import line_chart
        line_chart({"train loss (mean of 10 steps)": ([r["step"] for r in rows], [r["loss"] for r in rows])},
                   f"toy denoiser training: {done} steps x {batch}, {seconds / 60:.1f} min, held-out EMA loss {val:.4f}",
                   "step", "EDM loss", curve.with_suffix(".png"), logy=True, markers=False)
    return {"steps": done, "seconds": seconds, "val_loss": val, "final_loss": rows[-1]["loss"] if rows else float(loss),
            "params": sum(p.numel() for p in model.parameters()), "out": str(out)}


def main(argv=None):
    sys.path.insert(0, str(HERE))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=40)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ema", type=float, default=0.995)
    p.add_argument("--max-minutes", type=float, default=10.0, help="stop early past this wall time")
    p.add_argument("--out", type=Path, default=DEFAULT_PATH)
    p.add_argument("--curve", type=Path, default=HERE / "results" / "train_toy_loss",
                   help="loss curve path without suffix (.csv and .png are written)")
    a = p.parse_args(argv)
    info = train(a.steps, a.batch, a.lr, a.seed, a.out, a.curve, a.threads, a.max_minutes, a.ema)
    print(f"saved {info['out']}: {info['steps']} steps in {info['seconds'] / 60:.1f} min, "
          f"final train loss {info['final_loss']:.4f}, held-out loss {info['val_loss']:.4f}, "
          f"{info['params']} parameters")
    return info


if __name__ == "__main__":
    main()
