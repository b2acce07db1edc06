"""A world the default was not tuned on: the evidence world plus a class that another class becomes
under the scene's light.

World: fillblank_lab/evidence.py with one class added (``EXTRA_CLASSES``): ``disc_mid``, the disc's
shape in the colour the dim light gives the disc. In a dim scene the model's datum "disc, dim" is
then exactly the NEUTRAL cut-out of disc_mid, while the right answer, "disc_mid, dim", is darker:
colour alone points at the wrong object there, the failure the independent worlds of issue 28 saw
("the default's misses are the wrong object"). Everything else is the evidence world's: the
exact-posterior exemplar model, neutral cut-out targets ±10 % / ±3 px off, the non-linear VAE,
ComfyUI's latent formats, the metrics (identity = the nearest decoded exemplar is the target's class;
harmony = lit by the scene with its shadow; joint = both). Seed s: class s mod 9, light (s // 9)
mod 3: 27 seeds show every class under every light once; ``--extra`` more runs of each confusable
(class, light).

Methods, same seeds, every widget at its default except seed / steps / cfg / sampler / scheduler:
``default``, ``adapt_A`` (the default schedule at adapt A), ``paste``, ``no_target``, ``img2img_D``
(paste + KSampler / Set Latent Noise Mask at denoise D). Reported over every run, over the
*confusable* runs (``confusable``: another class's datum under the scene's light is nearer the
neutral cut-out's colour than the right one's) and over the rest. This world is held out of
``benchmarks/choose_default.py``'s choice and reported beside it.

    COMFYUI_PATH=... .venv/bin/python benchmarks/evidence_confusable.py [--seeds 54] [--cells a,b]

writes benchmarks/results/evidence_confusable.csv and benchmarks/sections/36_confusable.md (a full run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for p in (REPO, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import evidence_world as EV  # noqa: E402
from bench_common import write_csv  # noqa: E402
from fillblank_core.ranges import DEFAULT_ADAPT  # noqa: E402
from fillblank_lab import evidence as E  # noqa: E402

EXTRA = "disc_mid"
CLASSES = (*E.CLASSES, EXTRA)


def confusable(cls: str, light_name: str) -> str | None:
    """The class of the same shape whose datum under this light is nearer (RGB) the NEUTRAL cut-out of
    ``cls`` than ``cls``'s own datum is — the object colour alone would pick — or None. Decided from
    the world's colours, not from any run."""
    shape, col = E.class_spec(cls)
    col = torch.tensor(col)

    def lit(k):
        return E.light(torch.tensor(E.class_spec(k)[1]).expand(1, 1, 3), light_name)[0, 0]
    own = float((lit(cls) - col).norm())
    near = [(float((lit(k) - col).norm()), k) for k in CLASSES if k != cls and E.class_spec(k)[0] == shape]
    best = min(near, default=None)
    return best[1] if best is not None and best[0] < own else None


EXTRA_SEED = 5000   # the extra runs' seeds start here (the base runs' are 1000 + s)


def runs(seeds: int, extra: int) -> list[tuple[str, str, int]]:
    """Every class under every light (``EV.runs_for``), then ``extra`` more runs of each confusable
    (class, light) so that the confusable runs are enough to read."""
    base = EV.runs_for(seeds, CLASSES)
    pairs = [(k, ell) for k in CLASSES for ell in E.LIGHTS if confusable(k, ell)]
    return base + [(k, ell, EXTRA_SEED + 100 * i + j) for i, (k, ell) in enumerate(pairs) for j in range(extra)]
CELLS = ("sd15 euler normal 20", "sdxl euler_ancestral normal 20 cfg 5", "sd3 shift 3 euler simple 20")
ADAPTS = (0.1, 0.3, 0.4)
METHODS = ("default", *(f"adapt_{a}" for a in ADAPTS), "paste", "no_target", "img2img_0.3", "img2img_0.5")
SECTION = HERE / "sections" / "36_confusable.md"
CSV = EV.RESULTS / "evidence_confusable.csv"
TIMES = EV.RESULTS / "evidence_confusable_time.json"


def evaluate(cells=CELLS, methods=METHODS, seeds: int = 54, extra: int = 10, progress: bool = True) -> list[dict]:
    pack, host_nodes = EV.load_host()
    torch.set_num_threads(1)
    rows, benches = [], {}
    for name in cells:
        cell = EV.CELL_BY_NAME[name]
        key = (cell.fmt, cell.flow)
        if key not in benches:
            benches[key] = EV.Bench(pack, host_nodes, cell.fmt, cell.flow, classes=CLASSES)
        b = benches[key]
        t0 = time.time()
        for method in methods:
            adapt = float(method.split("_")[1]) if method.startswith("adapt_") else None
            for cls, light, seed in runs(seeds, extra):
                out = b.sample("candidate" if adapt is not None else method, cell, cls, light, seed, None,
                               {"adapt": adapt} if adapt is not None else None)
                rows.append(dict(cell=name, method=method, cls=cls, light=light, seed=seed,
                                 adapt=adapt if adapt is not None else (DEFAULT_ADAPT if method == "default" else ""),
                                 confusable=confusable(cls, light) is not None, base=seed < EXTRA_SEED,
                                 **b.score(out, cls, light, seed)))
        if progress:
            print(f"[{name}] {len(methods)} methods × {seeds} seeds in {time.time() - t0:.0f} s", flush=True)
            print(format_table(summarise([r for r in rows if r["cell"] == name])), flush=True)
    return rows


def _truthy(v) -> bool:
    return v is True or v == "True"


def _rate(rs, key) -> float:
    return sum(_truthy(r[key]) for r in rs) / max(1, len(rs))


def summarise(rows: list[dict]) -> dict:
    """{(cell, method): {all (the base runs: every class under every light), confusable, rest: (joint,
    identity, runs)}, "wrong": the classes it drew instead in the confusable runs}."""
    out = {}
    for k in dict.fromkeys((r["cell"], r["method"]) for r in rows):
        rs = [r for r in rows if (r["cell"], r["method"]) == k]
        part = {"all": [r for r in rs if _truthy(r["base"])], "confusable": [r for r in rs if _truthy(r["confusable"])],
                "rest": [r for r in rs if not _truthy(r["confusable"])]}
        out[k] = {n: (_rate(v, "joint"), _rate(v, "identity"), len(v)) for n, v in part.items()}
        out[k]["wrong"] = sorted({r["got"] for r in part["confusable"] if not _truthy(r["identity"])})
    return out


def format_table(stats: dict) -> str:
    return "\n".join(f"  {m:12} all {v['all'][0]:.2f} ({v['all'][1]:.2f})  confusable {v['confusable'][0]:.2f} "
                     f"({v['confusable'][1]:.2f}) n={v['confusable'][2]}  rest {v['rest'][0]:.2f} ({v['rest'][1]:.2f})"
                     for (_, m), v in stats.items())


NAMES = {"default": "**fillblank default**", "paste": "paste", "no_target": "no target",
         "img2img_0.3": "paste + KSampler / Set Latent Noise Mask 0.3", "img2img_0.5": "… denoise 0.5",
         **{f"adapt_{a}": f"adapt {a:g}" for a in ADAPTS}}


def write_section(rows: list[dict], seeds: int, seconds: float, head: str, extra: int = 10) -> Path:
    stats = summarise(rows)
    first = next(iter(stats))
    n_conf_base = sum(1 for r in rows if (r["cell"], r["method"]) == first and _truthy(r["base"])
                      and _truthy(r["confusable"]))
    lines = ["## A world the default was not tuned on: a class that another class becomes under the light", "",
             f"`python benchmarks/evidence_confusable.py --seeds {seeds}` ({seconds / 60:.0f} min on the shared 2-core "
             f"CPU, code at `{head}`). The evidence world with one class added: `disc_mid`, the disc's shape in the "
             "colour the dim light gives the disc. In the dim scene the model's datum \"disc, dim\" is exactly the "
             "neutral cut-out of disc_mid, and the right answer \"disc_mid, dim\" is darker: colour alone points at "
             "the wrong object. A run is *confusable* when another class of the same shape, under the scene's light, is "
             "nearer the neutral cut-out's colour than the right class is (decided from the world's colours: "
             f"{'; '.join(f'{k} in {ell} → {confusable(k, ell)}' for k in CLASSES for ell in E.LIGHTS if confusable(k, ell))}). "
             "Every widget at its default but seed / steps / cfg / sampler / scheduler (/ adapt); "
             f"{seeds} seeds per method (every class under every light {seeds // 27} times) and {extra} more of each "
             "confusable pair. Entry: joint (identity); *every class × light* = the base runs (as often as the world "
             f"draws them: {n_conf_base} of {seeds} are confusable), *confusable* = base and extra confusable runs, "
             "*rest* = every other run. Held out of the default's choice (`choose_default.py`).", ""]
    for cell in dict.fromkeys(r["cell"] for r in rows):
        lines += [f"### {cell}", "", "| method | every class × light | confusable runs | the rest | drawn instead (confusable) |",
                  "|---|---|---|---|---|"]
        for m in METHODS:
            v = stats.get((cell, m))
            if v is None:
                continue
            lines.append(f"| {NAMES.get(m, m)} | {v['all'][0]:.2f} ({v['all'][1]:.2f}) | {v['confusable'][0]:.2f} "
                         f"({v['confusable'][1]:.2f}) | {v['rest'][0]:.2f} ({v['rest'][1]:.2f}) | "
                         f"{', '.join(v['wrong']) or '–'} |")
        lines.append("")
    notes = HERE / "confusable_notes.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    SECTION.write_text("\n".join(lines) + "\n")
    print(f"wrote {SECTION}")
    return SECTION


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report-only", action="store_true", help="rewrite the section from the csv")
    ap.add_argument("--seeds", type=int, default=54)
    ap.add_argument("--extra", type=int, default=10, help="more runs of each confusable (class, light)")
    ap.add_argument("--cells", default="")
    ap.add_argument("--methods", default="")
    a = ap.parse_args(argv)
    if a.report_only:
        import csv
        import json
        with open(CSV, newline="") as f:
            rows = list(csv.DictReader(f))
        t = json.loads(TIMES.read_text()) if TIMES.exists() else {}
        write_section(rows, t.get("seeds", 54), t.get("seconds", float("nan")), t.get("head", "?"), t.get("extra", 10))
        return 0
    cells = tuple(c.strip() for c in a.cells.split(",") if c.strip()) or CELLS
    methods = tuple(m.strip() for m in a.methods.split(",") if m.strip()) or METHODS
    t0 = time.time()
    rows = evaluate(cells, methods, a.seeds, a.extra)
    secs = time.time() - t0
    full = cells == CELLS and methods == METHODS
    out = CSV if full else EV.RESULTS / "evidence_confusable_candidate.csv"
    write_csv(rows, out)
    print(f"{len(rows)} runs in {secs:.0f} s; csv {out}")
    if full:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False).stdout.strip()
        import json
        TIMES.write_text(json.dumps({"seconds": round(secs, 1), "seeds": a.seeds, "extra": a.extra, "head": head}) + "\n")
        write_section(rows, a.seeds, secs, head, a.extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
