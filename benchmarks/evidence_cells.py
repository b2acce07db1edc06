"""Evaluating the evidence world's cells (``benchmarks/evidence.py``): every run of a set of
methods on a set of cells (``evaluate``), the rates per cell and method (``summarise``), a cell's
verdict (valid? does the default pass?) and the candidate schedules of ``--schedule``."""

from __future__ import annotations

import contextlib
import sys
import time

from evidence_variants import touched_cells
from evidence_world import (BAR, BASELINES, BROKEN, CELL_BY_NAME, CELLS, METHODS, MUST_FAIL, bench_for,
                            load_host, runs_for)


def evaluate(schedule=None, sampler_kwargs=None, cells=None, methods=None, seeds: int = 24,
             progress: bool = True, touched: bool = False) -> list[dict]:
    """Rows of per-run results. ``schedule`` (a LambdaSchedule) and ``sampler_kwargs`` (extra Fill-in
    Sampler inputs, e.g. {"adapt": 0.3}) define the method "candidate" (and the broken variants are
    then broken versions of the candidate); with neither, the broken variants break the default.
    ``touched``: the candidate (and its broken variants) pull every cell the object touches fully
    (``touched_cells``), to try that design on a main without it. A string schedule is parsed by
    ``parse_schedule``."""
    if isinstance(schedule, str):
        schedule = parse_schedule(schedule)
    pack, host_nodes = load_host()
    cells = [CELL_BY_NAME[c] if isinstance(c, str) else c for c in (cells or CELLS)]
    if methods is None:
        methods = ("candidate",) if (schedule is not None or sampler_kwargs) else METHODS
    if schedule is not None and not hasattr(schedule, "kind"):
        raise ValueError("schedule must be a LambdaSchedule")
    if schedule is not None:  # the pack's own class (the node checks isinstance against it)
        LS = sys.modules[pack.__name__ + ".fillblank_core.schedules"].LambdaSchedule
        if not isinstance(schedule, LS):
            schedule = LS(**{k: getattr(schedule, k) for k in ("kind", "axis", "start", "end", "value", "cutoff",
                                                               "rate", "keyframes")})
    rows = []
    for cell in cells:
        b = bench_for(pack, host_nodes, cell)
        t0 = time.time()
        for method in methods:
            for cls, light, seed in runs_for(seeds, b.world.classes):
                cand = method == "candidate" or method in BROKEN
                with touched_cells(pack) if touched and cand else contextlib.nullcontext():
                    out = b.sample(method, cell, cls, light, seed, schedule if cand else None,
                                   sampler_kwargs if cand else None)
                rows.append(dict(cell=cell.name, method=method, cls=cls, light=light, seed=seed,
                                 **b.score(out, cls, light, seed)))
        if progress:
            print(f"[{cell.name}] {len(methods)} methods × {seeds} seeds in {time.time() - t0:.0f} s", flush=True)
            print(format_cell(summarise(rows, cell.name)), flush=True)
    return rows


def summarise(rows: list[dict], cell: str | None = None) -> dict:
    """{(cell, method): stats}: joint / identity / harmony rates, worst class's joint, seam, known."""
    out = {}
    keys = []
    for r in rows:
        k = (r["cell"], r["method"])
        if (cell is None or r["cell"] == cell) and k not in keys:
            keys.append(k)
    for k in keys:
        rs = [r for r in rows if (r["cell"], r["method"]) == k]
        per = {}
        for r in rs:
            per.setdefault(r["cls"], []).append(r["joint"])
        worst_cls = min(per, key=lambda c: sum(per[c]) / len(per[c]))
        out[k] = dict(n=len(rs), joint=rate(rs, "joint"), identity=rate(rs, "identity"),
                      harmony=rate(rs, "harmony"), lit=rate(rs, "lit"), shadow=rate(rs, "shadow"),
                      worst=sum(per[worst_cls]) / len(per[worst_cls]), worst_cls=worst_cls,
                      per_class={c: sum(v) / len(v) for c, v in per.items()},
                      seam=sum(r["seam"] for r in rs) / len(rs),
                      known_max=max(r["known_err"] for r in rs))
    return out


def rate(rs, key):
    return sum(bool(r[key]) for r in rs) / len(rs)


def verdict(stats: dict, cell: str) -> dict:
    """Validity (paste and broken variants below the bar) and whether the default passes."""
    s = {m: v for (c, m), v in stats.items() if c == cell}
    fails = [m for m in MUST_FAIL if m in s and s[m]["joint"] >= BAR]
    baselines = [m for m in s if m in BASELINES]
    best = max(baselines, key=lambda m: s[m]["joint"]) if baselines else None
    out = {"valid": not fails and all(m in s for m in MUST_FAIL), "too_easy": fails, "best_baseline": best}
    for m in ("default", "candidate"):
        if m in s:
            # above the best baseline, or level with it at 1.00 (a perfect score cannot be beaten)
            out[m] = s[m]["joint"] >= BAR and (best is None or s[m]["joint"] > s[best]["joint"]
                                                or s[m]["joint"] == s[best]["joint"] == 1.0)
    return out


def format_cell(stats: dict) -> str:
    lines = []
    for (cell, method), v in stats.items():
        lines.append(f"  {method:20} joint {v['joint']:.2f}  identity {v['identity']:.2f}  harmony {v['harmony']:.2f} "
                     f"(lit {v['lit']:.2f}, shadow {v['shadow']:.2f})  worst {v['worst_cls']} {v['worst']:.2f}  "
                     f"seam {v['seam']:+.3f}  known {v['known_max']:.1e}")
    return "\n".join(lines)


def parse_schedule(text: str):
    """"KIND/AXIS/ARGS": keyframes/run/0:1,0.5:1,0.7:0 · constant/steps/0.5 · linear/noise/1,0 ·
    step/run/1,0.5 (value, cutoff) · cosine/steps/1,0 · exponential/steps/1,0,5."""
    import reliability  # noqa: F401  (host on sys.path)
    pack, _ = load_host()
    LS = sys.modules[pack.__name__ + ".fillblank_core.schedules"].LambdaSchedule
    kind, axis, args = (text.split("/", 2) + ["", ""])[:3]
    kw = {"kind": kind, "axis": axis}
    nums = [float(v) for v in args.split(",") if v.strip()] if kind != "keyframes" else []
    if kind == "keyframes":
        kw["keyframes"] = args
    elif kind == "constant":
        kw["value"] = nums[0]
    elif kind in ("linear", "cosine"):
        kw.update(start=nums[0], end=nums[1])
    elif kind == "exponential":
        kw.update(start=nums[0], end=nums[1], rate=nums[2] if len(nums) > 2 else 5.0)
    elif kind == "step":
        kw.update(value=nums[0], cutoff=nums[1])
    return LS(**kw)
