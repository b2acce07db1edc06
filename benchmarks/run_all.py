"""Regenerate benchmarks/results.md and its plots from scratch.

    python benchmarks/run_all.py            # ablation + robustness + cost + memory (each part ≤ 10 min on 2 CPU cores)
    python benchmarks/run_all.py --tiny --out-dir /tmp/x   # seconds: structure only (the smoke test)
    python benchmarks/run_all.py --report-only             # rebuild results.md / plots from the CSVs

The toy model is not retrained here (its weights are committed); its training record (command,
loss curve) is read from the weights' metadata and benchmarks/results/train_toy_loss.csv.
The hand-written reading of the numbers lives in benchmarks/notes.md and is included verbatim.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ablation  # noqa: E402
import cost  # noqa: E402
import crop_cost  # noqa: E402
import memory  # noqa: E402
from bench_common import HERE, RESULTS, nanmean, read_csv  # noqa: E402
from bench_plot import bar_chart, line_chart  # noqa: E402

from fillblank_lab.toy_model import DEFAULT_PATH  # noqa: E402


def _f(v, nd=3):
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float) and abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{nd}f}"


def _table(rows, cols, heads) -> str:
    out = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    for r in rows:
        out.append("| " + " | ".join(_f(r.get(c), nd) if not isinstance(r.get(c), str) else r.get(c)
                                     for c, nd in cols) + " |")
    return "\n".join(out)


def _r_int(r):
    return int(float(r))


# --- plots ------------------------------------------------------------------------------------------

def make_plots(out_dir: Path, ex, ty, rb, quality) -> dict:
    plots = {}
    for name, rows, metric, ylabel in (("exemplar", ex, "hit", "hit rate"), ("toy", ty, "fid_ssim", "fidelity SSIM")):
        if not rows:
            continue
        strategies = list(dict.fromkeys(r["strategy"] for r in rows))
        rmax = max(_r_int(r["r"]) for r in rows)
        methods = list(dict.fromkeys(r["method"] for r in rows))
        series = {}
        for rr in sorted({_r_int(r["r"]) for r in rows}):
            series[f"r={rr}"] = []
        groups = [m for m in methods]
        ser = {}
        for strat in strategies:
            ser[strat] = [nanmean([r[metric] for r in rows if r["strategy"] == strat and r["method"] == m
                                   and _r_int(r["r"]) == (rmax if m != "hard paste, then denoise" else 1)])
                          for m in groups]
        p = out_dir / f"ablation_{name}.png"
        bar_chart([g.replace("no target (plain RePaint)", "no target").replace("hard paste, then denoise", "paste+denoise")
                   for g in groups], ser, f"{name} model: {ylabel} by method and mask strategy (r={rmax})", ylabel, p,
                  size=(980, 420))
        plots[f"ablation_{name}"] = p
    if rb:
        for model, metric, ylabel in (("exemplar", "hit", "hit rate"), ("toy", "fid_ssim", "fidelity SSIM")):
            series = {}
            rows = [r for r in rb if r["model"] == model]
            base = {r["strategy"]: r for r in rows if r["noise"] == "none"}
            for strat in dict.fromkeys(r["strategy"] for r in rows):
                for kind in dict.fromkeys(r["noise"] for r in rows if r["noise"] != "none"):
                    pts = [(0.0, base[strat][metric])] if strat in base else []
                    pts += [(float(r["amount"]), r[metric]) for r in rows if r["strategy"] == strat and r["noise"] == kind]
                    pts.sort()
                    series[f"{strat}/{kind}"] = ([100 * x for x, _ in pts], [y for _, y in pts])
            p = out_dir / f"robustness_{model}.png"
            line_chart(series, f"{model} model: {ylabel} as the silhouette is damaged (default schedule, r=1)",
                       "mask damage, % of object size", ylabel, p)
            plots[f"robustness_{model}"] = p
    if quality:
        rows = [r for r in quality if _r_int(r["evals"]) > 0]
        floor = [r for r in quality if _r_int(r["evals"]) == 0]
        rp = [r for r in rows if str(r["config"]).startswith("RePaint default")]
        series = {}
        for r in rows:
            if r in rp:
                continue
            key = f"{r['sampler']}/{r['sigmas']}"
            series.setdefault(key, ([], []))
            series[key][0].append(_r_int(r["evals"]))
            series[key][1].append(r["w2"])
        for k in series:
            pts = sorted(zip(*series[k]))
            series[k] = ([a for a, _ in pts], [b for _, b in pts])
        if rp:
            series["RePaint default"] = ([_r_int(rp[0]["evals"])], [rp[0]["w2"]])
        if floor:
            series["exact samples (floor)"] = ([min(_r_int(r["evals"]) for r in rows), 2410], [floor[0]["w2"]] * 2)
        p = out_dir / "quality_per_eval.png"
        line_chart(series, "Gaussian prior: W2 error of the hole's law vs model evaluations", "model evaluations",
                   "relative W2 error", p, logx=True, logy=True, markers=True,
                   hline=(rp[0]["w2"], "RePaint default") if rp else None, vline=(241, "241 evals"), scatter=True)
        plots["quality"] = p
    return plots


# --- report -----------------------------------------------------------------------------------------

SUMMARY_METHODS = ("no target (plain RePaint)", "hard paste, then denoise", "constant 1", "constant 0.5",
                   "default (adapt 0.2: run 0:1,0.75:1,1:0)", "linear 1->0", "cosine 1->0", "step 1 until 0.5",
                   "exponential 1->0")


def summary_table(ex, ty, strategy: str = "hole") -> str:
    """One row per method on the user's hole: exemplar hit rate and the toy model's main metrics, r = 1 / 4."""
    def pick(rows, method, r):
        for row in rows:
            if row["strategy"] == strategy and row["method"] == method and _r_int(row["r"]) == r:
                return row
        return None
    rs = sorted({_r_int(r["r"]) for r in ex + ty})
    heads = ["method (repaint the hole)", "r", "exemplar hit rate", "toy: fidelity PSNR", "toy: fidelity SSIM",
             "toy: MSE to lit truth", "toy: seam"]
    out = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    for m in SUMMARY_METHODS:
        for r in ([1] if m == "hard paste, then denoise" else rs):
            e, t = pick(ex, m, r), pick(ty, m, r)
            if e is None and t is None:
                continue
            cells = [m, str(r), _f(e["hit"], 2) if e else "–", _f(t["fid_psnr"], 1) if t else "–",
                     _f(t["fid_ssim"], 2) if t else "–", _f(t["truth_mse"], 3) if t else "–",
                     _f(t["seam"], 3) if t else "–"]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def robustness_pivot(rb) -> str:
    """exemplar: hit rate, toy: fidelity SSIM, by damage kind and amount."""
    amounts = sorted({float(r["amount"]) for r in rb})
    heads = ["model (metric)", "strategy", "damage"] + [f"{100 * a:.0f} %" for a in amounts]
    out = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    for model, metric in (("exemplar", "hit"), ("toy", "fid_ssim")):
        for strat in dict.fromkeys(r["strategy"] for r in rb if r["model"] == model):
            base = [r for r in rb if r["model"] == model and r["strategy"] == strat and r["noise"] == "none"]
            for kind in dict.fromkeys(r["noise"] for r in rb if r["noise"] != "none"):
                cells = [f"{model} ({'hit rate' if metric == 'hit' else 'fidelity SSIM'})", strat, kind]
                for a in amounts:
                    row = base[0] if a == 0 and base else next(
                        (r for r in rb if r["model"] == model and r["strategy"] == strat and r["noise"] == kind
                         and float(r["amount"]) == a), None)
                    cells.append(_f(row[metric], 2) if row else "–")
                out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _training_section(out_dir: Path) -> str:
    lines = ["## 1. The toy model", ""]
    try:
        from safetensors import safe_open
        with safe_open(str(DEFAULT_PATH), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # noqa: BLE001
        meta = {"error": str(e)}
    size = DEFAULT_PATH.stat().st_size if DEFAULT_PATH.is_file() else 0
    cfg = json.loads(meta.get("config", "{}")) if "config" in meta else {}
    lines += [
        f"`fillblank_lab/assets/toy_denoiser.safetensors` ({size / 1e6:.1f} MB): a two-level pixel-space U-Net "
        f"(channels {cfg.get('channels')}, EDM preconditioning, eps space) trained on fresh procedural scenes "
        "(`fillblank_lab.toy.random_scene`).",
        "",
        f"- command: `{meta.get('command', '?').strip()}` (run under `nice` on the 2-core CI-class machine, "
        "one torch thread)",
        f"- {meta.get('steps', '?')} steps × batch {meta.get('batch', '?')} in {float(meta.get('seconds', 'nan')) / 60:.1f} min; "
        f"held-out EMA loss {meta.get('val_loss', '?')}",
        "- loss curve: [results/train_toy_loss.csv](results/train_toy_loss.csv), "
        "![loss](results/train_toy_loss.png)",
        "",
    ]
    return "\n".join(lines)


CROP_COST_TITLE = "### Crop & stitch: Fill-in Insert vs the full-frame chain on 1, 4 and 16 MP scenes"
CROP_COST_NOTE = ("`python benchmarks/crop_cost.py` (what it runs and how it measures: its docstring). Not run: "
                  "the GPU / SDXL-size variant (no GPU and no real weights here).")


def memory_section(rows) -> list:
    """§4's memory table from memory.csv (benchmarks/memory.py): added peak per case and size, for
    each label (e.g. before / after)."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    cell = {(r["label"], r["case"], int(r["size"])): r for r in rows}
    keys = sorted({(r["case"], int(r["size"])) for r in rows},
                  key=lambda k: (memory.CASES.index(k[0]) if k[0] in memory.CASES else 99, k[1]))
    heads = ["case", "scene"] + [f"added peak, {lb}" for lb in labels] + [f"outputs, {labels[-1]}", f"time, {labels[-1]}"]
    out = ["| " + " | ".join(heads) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    for case, size in keys:
        last = cell.get((labels[-1], case, size), {})
        vals = [f"{float(cell[(lb, case, size)]['added_mb']):.0f} MB" if (lb, case, size) in cell else "–"
                for lb in labels]
        bold = lambda v: f"**{v}**" if case == "chain" else v  # noqa: E731
        out.append(f"| {case.replace('_', ' ')} | {size}² ({float(last.get('megapixels', 0) or 0):.1f} MP) | "
                   + " | ".join(bold(v) for v in vals)
                   + f" | {float(last.get('outputs_mb', 'nan')):.0f} MB | {float(last.get('seconds', 'nan')):.2f} s |")
    method = rows[-1].get("method", "")
    reading = []
    top = max(keys, key=lambda k: k[1])[1] if keys else 0
    chain = {lb: cell.get((lb, "chain", top)) for lb in labels}
    if chain.get(labels[-1]):
        c = chain[labels[-1]]
        reading = [f"At {top}² the whole chain adds {float(c['added_mb']):,.0f} MB, of which "
                   f"{float(c['outputs_mb']):,.0f} MB are the outputs themselves"
                   + "".join(f"; {lb}: {float(chain[lb]['added_mb']):,.0f} MB" for lb in labels[:-1] if chain.get(lb))
                   + ". Each node works on the target's box, the hole's box (grown by grow + feather) or the "
                   "seam's reach around it; outside the feathered hole the composite is the scene's bytes.", ""]
    return ["### Memory on big images", "",
            "What the pack's own image work adds to the process's peak memory (`python benchmarks/memory.py`; "
            "`--repo <checkout> --label before` measures another version into the same table). One fresh process "
            "per row, inputs made first (a random square scene, a 64 px RGBA target at its centre, a drawn "
            "96 px hole), a warm-up run on a 256 px scene, then the peak RSS of the run minus the RSS before it "
            f"({method}); 'outputs' is what the node returns (kept by ComfyUI's cache). Target Encoder with a "
            "stub VAE that returns a zero latent: the VAE encode is skipped (its memory is ComfyUI's, and at "
            "16 MP even the tiny test VAE needs GBs of activations). Mask Refiner: union, grow 8, feather 8; "
            "Composite: feather 8, colour matching on; Rank: one candidate, no CLIP; chain: the four in a row "
            f"as in example 1, every output kept. Bound: at most {memory.BOUND_MB / 1000:.1f} GB "
            "added at 16 MP.", "", *out, "", *reading]


def write_report(out_dir: Path, md_path: Path, seconds: dict | None = None, date: str | None = None) -> Path:
    ex = read_csv(out_dir / "ablation_exemplar.csv") if (out_dir / "ablation_exemplar.csv").is_file() else []
    ty = read_csv(out_dir / "ablation_toy.csv") if (out_dir / "ablation_toy.csv").is_file() else []
    rb = read_csv(out_dir / "robustness.csv") if (out_dir / "robustness.csv").is_file() else []
    qu = read_csv(out_dir / "cost_quality.csv") if (out_dir / "cost_quality.csv").is_file() else []
    counts = read_csv(out_dir / "cost_counts.csv") if (out_dir / "cost_counts.csv").is_file() else []
    comfy = json.loads((out_dir / "cost_comfy.json").read_text()) if (out_dir / "cost_comfy.json").is_file() else {}
    plots = make_plots(out_dir, ex, ty, rb, qu)
    rel = lambda p: Path(p).relative_to(md_path.parent) if Path(p).is_relative_to(md_path.parent) else Path(p)  # noqa: E731

    md = ["# fillblank benchmarks", "",
          "Regenerate everything (tables, CSVs, plots) with `python benchmarks/run_all.py`; "
          "`--report-only` rebuilds this page from the CSVs in `benchmarks/results/`. "
          f"Last full run: {date or time.strftime('%Y-%m-%d')}, torch {torch.__version__}, {platform.machine()}, "
          "CPU only, 2 cores shared with other jobs."
          + (" Wall time per part: " + ", ".join(f"{k} {v:.0f}s" for k, v in seconds.items()) if seconds else ""),
          ""]
    if ex and ty:
        md += ["## Summary", "",
               "Repainting the user's hole, 20 steps euler_ancestral; exemplar model: 128 runs per cell, toy model: "
               f"{_r_int(ty[0]['runs'])} tasks per cell. Fidelity is to the target inside its silhouette; "
               "'MSE to lit truth' compares with the object as the scene's light renders it; seam = excess edge "
               "across the hole's border against that truth (lower is better). Details in §2.", "",
               summary_table(ex, ty), ""]
    md.append(_training_section(out_dir))
    if (out_dir / "demo_grid.png").is_file():
        md += ["The demo grid (`python -m fillblank_lab.demo --out benchmarks/results/demo_grid.png`): scene | hole | "
               "target pasted | truth (the object under the scene's light) | results for several λ schedules; rows "
               "r = 1 and r = 4.", "", f"![demo grid]({rel(out_dir / 'demo_grid.png')})", ""]

    md += ["## 2. Ablation: λ schedule × mask strategy × r", "",
           "Mask strategy = the region repainted (the user's hole, the target's silhouette, or its bounding box); "
           "guidance always pulls inside the silhouette. `ctx max` is the largest change outside the repainted "
           "region (must be 0). Fidelity = to the target inside its silhouette (PSNR of the mean MSE, capped at "
           "60 dB; SSIM). Sampler: euler_ancestral, Karras σ 20→0.02, 20 steps, j = 4.", ""]
    if ex:
        md += ["### (a) exemplar model (exact optimal denoiser of 8 scenes that differ only in the object; "
               f"{_r_int(ex[0]['runs'])} runs per cell: 4 worlds × 32 seeds)", "",
               "hit = the result's nearest exemplar (over the object region) is the target's; kept = it is "
               "still the scene's old object; seam = excess edge across the repainted border vs the target's "
               "exemplar.", "",
               _table(ex, [("strategy", 0), ("method", 0), ("r", 0), ("hit", 3), ("kept", 3), ("fid_psnr", 1),
                           ("fid_ssim", 3), ("seam", 3), ("ctx_max", 1)],
                      ["strategy", "method", "r", "hit", "kept", "fid PSNR", "fid SSIM", "seam", "ctx max"]), ""]
        if "ablation_exemplar" in plots:
            md += [f"![exemplar ablation]({rel(plots['ablation_exemplar'])})", ""]
    if ty:
        md += [f"### (b) learned toy model ({_r_int(ty[0]['runs'])} toy insertion tasks per cell)", "",
               "truth MSE = to the object as the scene's light would render it (harmonisation); seam = excess "
               "edge across the repainted border vs that truth; seam (free) = reference-free (border contrast "
               "minus the context's).", "",
               _table(ty, [("strategy", 0), ("method", 0), ("r", 0), ("fid_psnr", 1), ("fid_ssim", 3),
                           ("truth_mse", 4), ("seam", 3), ("seam_free", 3), ("ctx_max", 1)],
                      ["strategy", "method", "r", "fid PSNR", "fid SSIM", "truth MSE", "seam", "seam (free)",
                       "ctx max"]), ""]
        if "ablation_toy" in plots:
            md += [f"![toy ablation]({rel(plots['ablation_toy'])})", ""]
    if rb:
        md += ["## 3. Robustness to a damaged mask", "",
               "The silhouette handed to the sampler is grown, shrunk or shifted by 5–20 % of the object's size "
               "(sqrt of its area; sub-pixel amounts give a soft border), or one of those at random per task; "
               "metrics against the true silhouette. Default schedule, r = 1. 'hole': the hole (∪ the damaged "
               "silhouette) is repainted; 'silhouette': only the damaged silhouette.", "",
               robustness_pivot(rb), "", "All metrics per cell: [results/robustness.csv](results/robustness.csv).", ""]
        for k in ("robustness_exemplar", "robustness_toy"):
            if k in plots:
                md += [f"![{k}]({rel(plots[k])})", ""]
    md += ["## 4. Cost", ""]
    for key, title in (("comfy", "cfg 7"), ("comfy_cfg1", "cfg 1 (no uncond pass: the sampler's share is largest)")):
        c = comfy.get(key)
        if not c:
            continue
        md += [f"### FillBlank path vs KSampler + SetLatentNoiseMask, {title}", "",
               f"Tiny real ComfyUI UNet (tests/custom_nodes/fillblank_test_nodes/tiny.py), latent {c['latent']}, "
               f"{c['steps']} steps {c['sampler']}/{c['scheduler']}, cfg {c['cfg']}, {c['runs']} alternating runs "
               f"each in one process, {c['threads']} torch thread.", "",
               "| | FillBlank (r=1, guidance on) | KSampler | ratio | target |", "|---|---|---|---|---|",
               f"| median wall time | {c['fillblank_wall_s']:.3f} s | {c['ksampler_wall_s']:.3f} s | "
               f"**{c['wall_ratio']:.3f}** (pairwise median {c['wall_ratio_pairwise_median']:.3f}, "
               f"range {c['wall_spread'][0]:.3f}–{c['wall_spread'][1]:.3f}) | ≤ 1.02 |",
               f"| median CPU time | {c['fillblank_cpu_s']:.3f} s | {c['ksampler_cpu_s']:.3f} s | "
               f"{c['cpu_ratio']:.3f} | |",
               f"| peak torch CPU allocation | {c['fillblank_peak_bytes'] / 2**20:.2f} MiB | "
               f"{c['ksampler_peak_bytes'] / 2**20:.2f} MiB | **{c['peak_ratio']:.3f}** | ≤ 1.05 |",
               f"| ratio of the fastest runs |  | | {c.get('wall_ratio_min', float('nan')):.3f} | |",
               f"| known region identical to KSampler's output | {c['known_region_equal']} | | | |", ""]
    ov = comfy.get("overhead")
    if ov:
        md += [f"fillblank's own work per model evaluation, measured without a model (`sampler_overhead`: "
               f"sample_fillblank with guidance and a known-region mask around a free denoiser vs the bare Euler "
               f"sampler, {ov['latent']} latent, fastest of many runs): **{ov['overhead_us_per_step']:.0f} µs per "
               f"step**, against {ov['ksampler_s_per_step'] * 1e3:.0f} ms per step of the tiny UNet at cfg 7 — "
               f"an expected overhead of {100 * ov['overhead_fraction']:.3f} %.", ""]
    if counts:
        md += ["### Model evaluations for r > 1 in ComfyUI", "",
               _table(counts, [("sampler", 0), ("steps", 0), ("j", 0), ("r", 0), ("formula", 0),
                               ("base_sampler_evals", 0), ("unet_calls", 0), ("match", 0)],
                      ["sampler", "steps", "j", "r", "count_model_evaluations", "denoiser calls", "UNet calls",
                       "match"]), ""]
    if qu:
        md += ["### Quality per evaluation on the Gaussian prior", "",
               "8×8 single-channel Gaussian prior (squared-exponential covariance, length 1.5), a 4×4 hole, "

               f"{_r_int(qu[0].get('samples', 0)):,} samples per configuration; error = W2 distance between the samples' Gaussian fit and the "
               "exact conditional law of the hole, and the error of the mean, both relative to sqrt(tr C). "
               "'ddpm' σ = RePaint's linear-β DDPM schedule respaced to T steps; 'karras' σ 80→0.01.", "",
               _table(qu, [("config", 0), ("sampler", 0), ("sigmas", 0), ("evals", 0), ("mean_err", 4), ("w2", 4),
                           ("seconds", 1)],
                      ["config", "sampler", "σ", "evals", "mean error", "W2 error", "time s"]), ""]
        if "quality" in plots:
            md += [f"![quality per evaluation]({rel(plots['quality'])})", ""]
    if (out_dir / "crop_cost.json").is_file():
        md += [CROP_COST_TITLE, "", crop_cost.markdown(json.loads((out_dir / "crop_cost.json").read_text())), "",
               CROP_COST_NOTE, ""]
    mem = read_csv(out_dir / "memory.csv") if (out_dir / "memory.csv").is_file() else []
    if mem:
        md += memory_section(mem)
    # sections written by the other benchmarks (reliability, GPU cost, memory, crop cost): one
    # markdown file each in benchmarks/sections/, included in name order
    for section in sorted((HERE / "sections").glob("*.md")):
        md += [section.read_text().strip(), ""]
    notes = HERE / "notes.md"
    if notes.is_file():
        md += ["## 5. What the numbers say", "", notes.read_text().strip(), ""]
    md_path.write_text("\n".join(md) + "\n")
    return md_path


def main(argv=None):
    p = argparse.ArgumentParser(description="regenerate benchmarks/results.md and its plots")
    p.add_argument("--tiny", action="store_true", help="seconds: structure only")
    p.add_argument("--report-only", action="store_true", help="rebuild the report from existing CSVs")
    p.add_argument("--out-dir", type=Path, default=None, help="CSV/PNG folder (default benchmarks/results)")
    p.add_argument("--md", type=Path, default=None, help="report path (default benchmarks/results.md, or "
                                                         "<out-dir>/results.md with --out-dir)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    out_dir = a.out_dir or RESULTS
    md = a.md or (out_dir / "results.md" if a.out_dir else HERE / "results.md")
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds = {}
    if not a.report_only:
        from fillblank_lab import demo
        t0 = time.perf_counter()
        demo.main(["--out", str(out_dir / "demo_grid.png")] + (["--steps", "4", "--resample", "1"] if a.tiny else []))
        seconds["demo"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ablation.run(a.tiny, out_dir)
        seconds["ablation"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cost.run(a.tiny, out_dir=out_dir)
        seconds["cost"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        crop_cost.run(a.tiny, out_dir=out_dir, quiet=True)
        seconds["crop_cost"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        memory.run(sizes=(512,) if a.tiny else memory.SIZES, out_dir=out_dir, quiet=True)
        seconds["memory"] = time.perf_counter() - t0
    times = out_dir / "run_times.json"
    if seconds:
        times.write_text(json.dumps({k: round(v, 1) for k, v in seconds.items()} | {"date": time.strftime("%Y-%m-%d")}))
    elif times.is_file():
        seconds = json.loads(times.read_text())
    # the date of the last full run: recorded with its times (a --report-only rebuild keeps it; before
    # the date was recorded there, the page's own line holds it)
    date = seconds.pop("date", None) if seconds else None
    if date is None and Path(md).is_file():
        found = re.search(r"Last full run: (\d{4}-\d{2}-\d{2})", Path(md).read_text(encoding="utf-8"))
        date = found.group(1) if found else None
    path = write_report(out_dir, md, seconds or None, date=date or time.strftime("%Y-%m-%d"))
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
