"""Evidence that can fail: a target OFF the model's data, through the real nodes, against
the baselines a user has, in the same run with the same seeds.

The world is fillblank_lab/evidence.py: an exact-posterior exemplar model whose data show every object
under the scene's light (warm / cool / dim) with its shadow, a neutral-light cut-out target placed
slightly off (±10 % size, ±3 px), distractor classes (shade, colour, thin ring and stick, a small
bead, a class the unguided model never draws), a fixed non-linear VAE that mixes neighbouring latent
cells, and the latent formats of SD1.5, SDXL, SD3 and Flux set as the model's ComfyUI latent_format.
The model is ComfyUI's ModelPatcher (eps or flow), wrapped by ComfyUI's ModelSamplingSD3 /
ModelSamplingFlux nodes where the cell says so.

Chain (every widget at its default except seed / steps / cfg / sampler / scheduler): Target Encoder
(the cut-out as LoadImage gives it, IMAGE + MASK) → Mask Refiner (union with a drawn hole over the
place and its shadow) → Fill-in Sampler with VAE Encode of the scene as latent_image.

Methods, same seeds: ``default`` (schedule unconnected: whatever the nodes do by default),
``no_target`` (λ = 0), ``paste`` (λ = 1), ``img2img_D`` (ComfyUI's own KSampler + Set Latent Noise
Mask on VAE Encode of the Target Encoder's preview, denoise D: the recipe every user knows),
``prev_default`` (keyframes 0:1, 0.6:1, 0.8:0 on the noise axis, the round-2 default), and broken
guidance made by patching GuidedDenoiser: ``broken_no_noise`` (no noise term in the guided model
input), ``broken_double_noise`` (twice the noise term), ``broken_pred_only`` (the model sees the
unguided state; only its prediction is pulled), ``broken_raw_target`` (the target latent not put
through the model's process_latent_in). ``--limit`` (the few-step cells, several blocks of seeds):
the default's last model call changed — shown the right answer itself (``last_call_ceiling``: what
no guidance whose pull ends inside the run can beat) or two candidate designs (``LIMIT``).

Metrics (fillblank_lab/evidence.py): identity (nearest decoded exemplar inside the repainted region,
over every class, light and variant — never sees the target), harmony (object nearer the lit
exemplar than the neutral paste, and the shadow present), joint = both, seam, known region exact.
A cell is VALID when paste and every broken variant stay below the bar (joint < 0.95).

Run (needs a ComfyUI checkout):
    COMFYUI_PATH=... .venv/bin/python benchmarks/evidence.py [--seeds 48] [--cells a,b] [--methods ...]
        [--schedule KIND/AXIS/ARGS] [--adapt X] [--touched]
    COMFYUI_PATH=... .venv/bin/python benchmarks/evidence.py --limit [--blocks 6]
    COMFYUI_PATH=... .venv/bin/python benchmarks/evidence.py --several --shadow --seeds 24
        (benchmarks/evidence_several.py: two chained targets in one run; benchmarks/evidence_shadow.py:
        room for the shadow)
    COMFYUI_PATH=... .venv/bin/python benchmarks/evidence.py --shadow --cast-shadow --seeds 24
        (the room for the shadow on the world's cast-shadow variant: a longer shadow on the ground)
writes benchmarks/results/evidence.csv and benchmarks/sections/30_evidence.md (only for a full run
of the default methods; a --schedule / --adapt run writes evidence_candidate.csv and prints).
From Python: ``evidence_cells.evaluate(schedule=LambdaSchedule(...), sampler_kwargs={"adapt": 0.3})``.

This file is the command line only. The modules, each importing only those before it (no cycle;
tests/test_layout.py checks): evidence_variants (the patched guidance: broken, limit, touched cells)
→ evidence_world (methods, cells, host, model, one format's bench) → evidence_cells (evaluate,
summarise, verdict) → evidence_report (csv, sections 30 and 31, --limit, --adapt-curve) →
evidence_shadow (room for the shadow) → evidence_several (two chained targets; section 32).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import evidence_several as S
import evidence_shadow as SH
from evidence_cells import evaluate, parse_schedule, summarise, verdict
from evidence_report import _git_head, adapt_curve, limit_run, read_csv, write_csv, write_section
from evidence_world import BROKEN, CELLS, RESULTS
from fillblank_lab import evidence as E


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=48)
    ap.add_argument("--cells", default="", help="comma-separated cell names (default: all)")
    ap.add_argument("--methods", default="", help="comma-separated methods (default: all)")
    ap.add_argument("--schedule", default="", help="evaluate a candidate schedule KIND/AXIS/ARGS")
    ap.add_argument("--adapt", type=float, default=None, help="pass adapt=X to Fill-in Sampler (candidate)")
    ap.add_argument("--touched", action="store_true", help="candidate: weight 1 on every cell the object touches")
    ap.add_argument("--probe", action="store_true", help="append the candidate's rows to results/evidence_probe.csv "
                    "(shown in the section)")
    ap.add_argument("--section-only", action="store_true", help="rewrite the section from results/evidence.csv")
    ap.add_argument("--seconds", type=float, default=float("nan"), help="with --section-only: the run's time")
    ap.add_argument("--matte", choices=("edge", "white"), default=E.MATTE,
                    help="what the cut-out PNG stores under transparent pixels (white: a halo on thin objects)")
    ap.add_argument("--adapt-curve", default="", metavar="A,B,…",
                    help="keep ↔ adapt: run Fill-in Sampler with each adapt value (default schedule unconnected) on "
                         "every cell; writes results/evidence_adapt.csv and sections/31_keep_adapt.md")
    ap.add_argument("--limit", action="store_true", help="the few-step limit: default, img2img 0.3 and the "
                    "last-call ceiling and designs on --blocks × 24 seeds of the few-step cells (or --cells); "
                    "writes results/evidence_limit.csv (shown in the section)")
    ap.add_argument("--blocks", type=int, default=6, help="with --limit: blocks of 24 seeds")
    ap.add_argument("--several", action="store_true", help="two chained targets in one run (two-place world: "
                    "default vs paste, img2img 0.3, two runs, a dropped earlier target); writes "
                    "results/evidence_several.csv and sections/32_several_shadow.md")
    ap.add_argument("--shadow", action="store_true", help="room for the shadow: Mask Refiner's hole without a zone "
                    "vs shadow contact / cast vs the drawn hole; writes results/evidence_shadow.csv and the section")
    ap.add_argument("--cast-shadow", action="store_true", help="with --shadow: the cast-shadow variant of the world "
                    "(the data show a longer shadow on the ground); writes results/evidence_shadow_cast.csv and "
                    "its subsection")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    E.MATTE = args.matte
    if args.several or args.shadow:
        if args.section_only:
            S.write_section()
            return
        cells = [c.strip() for c in args.cells.split(",") if c.strip()] or None
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip()) or None
        shadow_run, shadow_name = ((SH.evaluate_shadow_cast, "shadow_cast") if args.cast_shadow
                                   else (SH.evaluate_shadow, "shadow"))
        for flag, run, name in ((args.several, S.evaluate_several, "several"), (args.shadow, shadow_run, shadow_name)):
            if not flag:
                continue
            t0 = time.time()
            rows = run(cells, methods, args.seeds)
            seconds = time.time() - t0
            out = Path(args.out) if args.out else RESULTS / f"evidence_{name}.csv"
            write_csv(rows, out)
            print(f"{len(rows)} runs in {seconds:.0f} s; csv {out}")
            if not args.out:
                S.write_times(name, args.seeds, seconds, _git_head())
        if not args.out:
            S.write_section()
        return
    if args.adapt_curve:
        adapt_curve([float(v) for v in args.adapt_curve.split(",")], args.seeds)
        return
    if args.section_only:
        rows = read_csv(RESULTS / "evidence.csv")
        head = _git_head()
        write_section(rows, len({(r["cls"], r["light"], r["seed"]) for r in rows}), args.seconds, head)
        return
    cells = [c.strip() for c in args.cells.split(",") if c.strip()] or None
    if args.limit:
        limit_run(cells or [c.name for c in CELLS if c.steps <= 4], args.blocks, Path(args.out) if args.out else None)
        return
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip()) or None
    schedule = parse_schedule(args.schedule) if args.schedule else None
    kwargs = {"adapt": args.adapt} if args.adapt is not None else None
    candidate = schedule is not None or kwargs is not None or args.touched
    if candidate and methods is None:
        methods = ("candidate", "paste", *BROKEN, "img2img_0.3")
    t0 = time.time()
    rows = evaluate(schedule, kwargs, cells, methods, args.seeds, touched=args.touched)
    seconds = time.time() - t0
    full = cells is None and methods is None and args.matte == "edge"
    if args.probe:
        label = " ".join(x for x in (args.schedule or "default schedule", "touched" if args.touched else "",
                                      f"adapt {args.adapt}" if args.adapt is not None else "") if x)
        path = RESULTS / "evidence_probe.csv"
        old = [r for r in read_csv(path) if r["probe"] != label] if path.exists() else []
        write_csv(old + [dict(probe=label, **r) for r in rows], path)
    out = Path(args.out) if args.out else RESULTS / ("evidence.csv" if full else "evidence_candidate.csv")
    write_csv(rows, out)
    if full:
        write_section(rows, args.seeds, seconds, _git_head())
    stats = summarise(rows)
    for c in dict.fromkeys(r["cell"] for r in rows):
        v = verdict(stats, c)
        print(f"{c}: valid {v['valid']} (too easy: {v['too_easy']}), best baseline {v['best_baseline']}, "
              f"default passes {v.get('default')}, candidate passes {v.get('candidate')}")
    print(f"{len(rows)} runs in {seconds:.0f} s; csv {out}")


if __name__ == "__main__":
    main()
