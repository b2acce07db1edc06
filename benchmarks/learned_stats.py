"""The learned world bench's methods, bar and per-cell summaries (shared by benchmarks/learned.py
and benchmarks/learned_report.py, which import it: no cycle between them)."""

from __future__ import annotations

BAR = 0.9
IMG2IMG = (0.3, 0.5, 0.7)
ADAPTS = (0.1, 0.2, 0.3, 0.4)
# the hand recipe's denoise swept further (``recipe_best``: per run, the best of every level — an
# oracle no user has, the most the recipe family can give with this model)
SWEEP = (0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0)
# the few-step designs of results.md's "few-step limit", tried on the student's cell only
FEW_STEP = ("last_call_input", "context_to_end")
METHODS = ("ceiling", "lit_target", "no_target", "paste", *(f"img2img_{d}" for d in IMG2IMG), "default",
           *(f"adapt_{a}" for a in ADAPTS), *FEW_STEP, *(f"img2img_{d}" for d in SWEEP))
BASELINES = ("no_target", "paste", *(f"img2img_{d}" for d in IMG2IMG))


def _rate(rs, key):
    return sum(bool(r[key]) for r in rs) / max(1, len(rs))


def _mean(rs, key):
    v = [float(r[key]) for r in rs if r[key] == r[key]]
    return sum(v) / max(1, len(v))


def summarise(rows: list[dict]) -> dict:
    out = {}
    for k in dict.fromkeys((r["cell"], r["method"]) for r in rows):
        rs = [r for r in rows if (r["cell"], r["method"]) == k]
        out[k] = dict(n=len(rs), joint=_rate(rs, "joint"), identity=_rate(rs, "identity"), harmony=_rate(rs, "harmony"),
                      lit=_rate(rs, "lit"), shadow=_rate(rs, "shadow"), iou=_mean(rs, "iou"), corr=_mean(rs, "corr"),
                      ratio=sorted(float(r["ratio"]) for r in rs)[len(rs) // 2],
                      ratio_exact=sorted(float(r["ratio_exact"]) for r in rs)[len(rs) // 2], seam=_mean(rs, "seam"),
                      known=max(float(r["known_err"]) for r in rs))
    for cell in dict.fromkeys(r["cell"] for r in rows):  # the recipe's oracle over every denoise level
        rec = [r for r in rows if r["cell"] == cell and r["method"].startswith("img2img_")]
        levels = {r["method"] for r in rec}
        if len(levels) > len(IMG2IMG):
            best = {}
            for r in rec:
                k = (r["joint"], r["identity"], r["harmony"], -float(r["ratio"]))
                if r["seed"] not in best or k > best[r["seed"]][0]:
                    best[r["seed"]] = (k, r)
            out[(cell, "recipe_best")] = summarise([dict(r, method="recipe_best") for _, r in best.values()])[
                (cell, "recipe_best")]
    return out


def format_table(stats: dict) -> str:
    return "\n".join(f"  {m:14} joint {v['joint']:.2f}  identity {v['identity']:.2f} (IoU {v['iou']:.2f}, corr "
                     f"{v['corr']:.2f})  harmony {v['harmony']:.2f} (lit {v['lit']:.2f}, shadow {v['shadow']:.2f}, "
                     f"median ratio {v['ratio']:.2f})  seam {v['seam']:+.3f}  known {v['known']:.1e}"
                     for (_, m), v in stats.items())
