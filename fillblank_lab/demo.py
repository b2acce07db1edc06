"""The fillblank pipeline in a minute on a CPU, with the shipped toy model.

    python -m fillblank_lab.demo [--out fillblank_demo.png] [--seed 0]
    python -m fillblank_lab.demo --learned [--out learned_demo.png] [--seeds 3]   # novel objects, learned models

Builds a procedural toy scene, a hole and a target object (fillblank_lab.toy), inpaints it with
the tiny learned pixel-space denoiser (fillblank_lab/assets/toy_denoiser.safetensors) for several
λ schedules and RePaint resampling counts r, writes a PNG grid

    scene | hole | target (pasted) | truth | result per method …   (one row per r)

and prints each cell's metrics (fillblank_lab.metrics): target fidelity in the silhouette (PSNR,
SSIM; CLIP cosine with ``--clip MODEL``), error against the harmonised truth, context change outside the hole (0 = untouched) and the
seam across the hole's border.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import torch

from . import metrics, toy
from fillblank_core.sampling import inpaint, sample_euler_ancestral
from fillblank_core.schedules import LambdaSchedule
from .toy_model import karras_sigmas, load_toy_denoiser

DEMO_SCHEDULES = [
    ("no target", None),
    ("default", LambdaSchedule.default()),
    ("constant 1", LambdaSchedule.constant(1.0, axis="steps")),
    ("linear 1->0", LambdaSchedule.linear(1.0, 0.0, axis="steps")),
    ("cosine 1->0", LambdaSchedule.cosine(1.0, 0.0, axis="steps")),
    ("step 1 until 0.5", LambdaSchedule.step(1.0, 0.5, axis="steps")),
]


def run_demo(seed: int = 0, steps: int = 24, resamples: Sequence[int] = (1, 4), jump: int = 4,
             model=None, size: int = 32, schedules=None, embed_fn=None) -> dict:
    """Inpaint one toy task with every (schedule, r); returns images and metrics."""
    model = load_toy_denoiser() if model is None else model
    schedules = DEMO_SCHEDULES if schedules is None else schedules
    task = toy.make_task(seed, size=size)
    sigmas = karras_sigmas(steps, 0.02, 20.0)
    cells = []
    for r in resamples:
        for name, sched in schedules:
            kw = {} if sched is None else dict(target=task.pasted[None], target_mask=task.silhouette,
                                                schedule=sched)
            t0 = time.perf_counter()
            out = inpaint(model, task.scene[None], task.hole, sigmas, seed=seed, sampler=sample_euler_ancestral,
                          jump_length=min(jump, steps), resample=r, **kw)[0]
            m = metrics.evaluate(out, task, embed_fn=embed_fn)
            cells.append({"name": name, "r": r, "image": out, "metrics": m, "seconds": time.perf_counter() - t0})
    return {"task": task, "cells": cells, "steps": steps, "jump": jump, "resamples": list(resamples),
            "schedules": [n for n, _ in schedules]}


def _label(draw, xy, text, fill=(20, 20, 20)):
    draw.text(xy, text, fill=fill)


def grid_image(result: dict, scale: int = 4):
    """The PNG grid as a PIL image: one row per r; first columns the inputs."""
    from PIL import Image, ImageDraw
    task = result["task"]
    h, w = task.size
    cw, ch = w * scale, h * scale
    pad, top, lab = 6, 18, 30
    inputs = [("scene", task.scene), ("hole", toy.hole_view(task.scene, task.hole)),
              ("target (pasted)", task.pasted), ("truth (lit)", task.truth)]
    rs = result["resamples"]
    names = result["schedules"]
    ncol = len(inputs) + len(names)
    W = pad + ncol * (cw + pad)
    H = top + len(rs) * (ch + lab + pad) + pad
    img = Image.new("RGB", (W, H), (245, 245, 245))
    d = ImageDraw.Draw(img)
    _label(d, (pad, 3), f"fillblank demo: toy task seed {task.seed}, {result['steps']} steps, "
                        f"euler_ancestral, j={result['jump']}; rows: r = {', '.join(map(str, rs))}")
    by = {(c["name"], c["r"]): c for c in result["cells"]}
    for ri, r in enumerate(rs):
        y = top + ri * (ch + lab + pad)
        for ci, (name, im) in enumerate(inputs):
            x = pad + ci * (cw + pad)
            if ri == 0:
                img.paste(toy.to_pil(im, scale), (x, y))
                _label(d, (x, y + ch + 2), name)
        for k, name in enumerate(names):
            c = by[(name, r)]
            x = pad + (len(inputs) + k) * (cw + pad)
            img.paste(toy.to_pil(c["image"], scale), (x, y))
            m = c["metrics"]
            _label(d, (x, y + ch + 2), f"{name}, r={r}")
            _label(d, (x, y + ch + 14), f"PSNR {m['fid_psnr']:.1f} SSIM {m['fid_ssim']:.2f}")
    return img


def format_table(result: dict) -> str:
    clip = any("fid_clip" in c["metrics"] for c in result["cells"])
    head = (f"{'method':<18} {'r':>2} {'fid PSNR':>8} {'fid SSIM':>8}" + (f" {'CLIP':>6}" if clip else "")
            + f" {'truth MSE':>9} {'ctx max':>8} {'seam':>7} {'time':>6}")
    lines = [head, "-" * len(head)]
    for c in result["cells"]:
        m = c["metrics"]
        lines.append(f"{c['name']:<18} {c['r']:>2} {m['fid_psnr']:8.2f} {m['fid_ssim']:8.3f}"
                     + (f" {m.get('fid_clip', float('nan')):6.3f}" if clip else "")
                     + f" {m['truth_mse']:9.4f} {m['ctx_max_abs']:8.1e} {m['seam']:7.3f} {c['seconds']:5.1f}s")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fillblank_lab.demo", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="PNG grid to write (fillblank_demo.png; with --learned "
                                                          "learned_demo.png)")
    p.add_argument("--seed", type=int, default=0, help="toy task (scene, place, object) and sampling seed")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default 24, Karras sigmas 20 -> 0.02; "
                                                            "with --learned 20, ComfyUI's normal schedule)")
    p.add_argument("--resample", type=int, nargs="+", default=[1, 4], help="RePaint r values, one grid row each")
    p.add_argument("--jump", type=int, default=4, help="RePaint jump length j")
    p.add_argument("--scale", type=int, default=4, help="pixel upscale of the 32×32 images in the grid")
    p.add_argument("--model", type=Path, default=None, help="toy denoiser weights (default: the shipped ones)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default; 1 is fastest "
                                                           "for this tiny model)")
    p.add_argument("--learned", action="store_true", help="the learned world instead: novel held-out objects "
                                                          "with the shipped learned VAE and eps model "
                                                          "(fillblank_lab/learned_demo.py), one row per seed")
    p.add_argument("--seeds", type=int, default=3, help="with --learned: how many held-out objects")
    p.add_argument("--clip", type=Path, default=None, help="optional CLIP vision model (a transformers folder or a "
                                                           "ComfyUI clip_vision .safetensors): adds CLIP fidelity")
    a = p.parse_args(argv)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if a.learned:
        from . import learned_demo
        learned_demo.main(a.out or Path("learned_demo.png"), a.seeds, a.steps or 20)
        return 0
    a.out, a.steps = a.out or Path("fillblank_demo.png"), a.steps or 24
    t0 = time.perf_counter()
    model = load_toy_denoiser(a.model)
    embed_fn = None
    if a.clip is not None:
        from fillblank_lab.clip_encoder import ClipImageEncoder
        embed_fn = ClipImageEncoder.from_path(a.clip)
    with torch.no_grad():
        res = run_demo(a.seed, a.steps, a.resample, a.jump, model, embed_fn=embed_fn)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    grid_image(res, a.scale).save(a.out)
    task = res["task"]
    print(f"toy task {a.seed}: insert a {task.shape.colour} {task.shape.cls} (radius {task.shape.r:.1f} px) "
          f"into a {task.meta['background']} scene; light {tuple(round(v, 2) for v in task.light)}")
    print(format_table(res))
    print(f"wrote {a.out} in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
