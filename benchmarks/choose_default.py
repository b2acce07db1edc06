"""Choose the default keep ↔ adapt across worlds, with the few-step runs held out of the choice.

Reads what the benches measured, same seeds per candidate:
* the exemplar world's adapt curve (``benchmarks/results/evidence_adapt.csv``, written by
  ``python benchmarks/evidence.py --adapt-curve …``): 9 cells (SD1.5, SDXL, SD3 shift 1 / 3, Flux),
  24 runs each;
* the learned world (``benchmarks/results/learned.csv``, ``python benchmarks/learned.py``): novel
  held-out objects, eps / flow / 4-step student, 48 runs each; ``default`` is adapt 0.2 there;
* held out as a whole world: the confusable world (``benchmarks/results/evidence_confusable.csv``,
  ``python benchmarks/evidence_confusable.py``): the exemplar world plus a class that another class
  becomes under the scene's light.

Choice cells: every 20-step cell of the exemplar and learned worlds. Held out of the choice and
reported apart: every few-step cell (the exemplar world's SD1.5 LCM 4 and Flux shift 3 4, the learned
world's 4-step student — a model and sampler the choice never sees) and the confusable world. Rule
(written with the exemplar and learned tables already known, so it is a stated rule, not a blind
one; the confusable world was measured after it): the highest mean joint over the choice cells; ties (within ``TIE``: one run in 48, half a run in 24 —
less than any one cell can move) go to the higher mean identity, then to the smaller adapt (the one
that re-renders less of the user's object).

    python benchmarks/choose_default.py      # writes benchmarks/sections/35_default_choice.md
"""

from __future__ import annotations

import csv
import re
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fillblank_core.ranges import DEFAULT_ADAPT  # noqa: E402

RESULTS = HERE / "results"
SECTION = HERE / "sections" / "35_default_choice.md"
CANDIDATES = (0.1, 0.2, 0.3, 0.4)
HELD_OUT = "confusable"   # a whole world held out of the choice (benchmarks/evidence_confusable.py)
TIE = 1 / 48


def _truthy(v) -> bool:
    return v is True or v == "True"


def cell_steps(cell: str) -> int:
    """The step count in a cell's name: "sd15 euler normal 20", "sdxl euler_ancestral normal 20 cfg 5"."""
    found = re.search(r"(\d+)(?: cfg [\d.]+)?$", cell)
    if not found:
        raise ValueError(f"no step count at the end of the cell name {cell!r}")
    return int(found.group(1))


def cell_scores(exemplar: Path = RESULTS / "evidence_adapt.csv", learned: Path = RESULTS / "learned.csv",
                confusable: Path | None = RESULTS / "evidence_confusable.csv") -> dict:
    """{(world, cell, steps): {adapt: (joint, identity, runs)}} for the candidates the worlds measured;
    ``confusable`` (optional, a world HELD_OUT of the choice): benchmarks/evidence_confusable.py's CSV."""
    runs = defaultdict(list)
    with open(exemplar, newline="") as f:
        for r in csv.DictReader(f):
            runs[("exemplar", r["cell"], float(r["adapt"]))].append(r)
    named = [("learned", learned)] + ([(HELD_OUT, confusable)] if confusable is not None and confusable.exists() else [])
    for world, path in named:  # rows named by method: "default" (the shipped adapt) or "adapt_A"
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                m = r["method"]
                if m == "default":  # the adapt the run had (its CSV's column), else the shipped one
                    a = float(r["adapt"]) if r.get("adapt") else DEFAULT_ADAPT
                else:
                    a = float(m.split("_")[1]) if m.startswith("adapt_") else None
                if world == HELD_OUT and "base" not in r:
                    raise ValueError(f"{path}: no 'base' column (re-run benchmarks/evidence_confusable.py)")
                if a is not None and r.get("base", "True") == "True":  # the confusable world: its base runs
                    runs[(world, r["cell"], a, m)].append(r)
    out = defaultdict(dict)
    for key, rs in runs.items():
        world, cell, a = key[:3]
        if len(key) == 4 and key[3] == "default" and (world, cell, a, f"adapt_{a:g}") in runs:
            continue  # the learned bench measured adapt 0.2 twice (default and adapt_0.2): the same runs
        if not any(abs(a - c) < 1e-9 for c in CANDIDATES):
            continue
        steps = cell_steps(cell)
        out[(world, cell, steps)][round(a, 3)] = (sum(_truthy(r["joint"]) for r in rs) / len(rs),
                                                  sum(_truthy(r["identity"]) for r in rs) / len(rs), len(rs))
    return dict(out)


def choose(scores: dict) -> tuple[float, dict, list, list]:
    """(the chosen adapt, {adapt: (mean joint, mean identity)} over the choice cells, choice cells, held-out cells)."""
    choice = [k for k in scores if k[2] > 4 and k[0] != HELD_OUT]
    held = [k for k in scores if k not in choice]
    means = {}
    for a in CANDIDATES:
        ks = [k for k in choice if a in scores[k]]
        if len(ks) == len(choice):
            means[a] = (sum(scores[k][a][0] for k in ks) / len(ks), sum(scores[k][a][1] for k in ks) / len(ks))
    best = min(_tied(means)[1])
    return best, means, choice, held


def _tied(means: dict) -> tuple[list, list]:
    """(the candidates tied on mean joint, those of them tied on mean identity)."""
    top = max(v[0] for v in means.values())
    tied = [a for a, v in means.items() if v[0] >= top - TIE]
    top_id = max(means[a][1] for a in tied)
    return tied, [a for a in tied if means[a][1] >= top_id - TIE]


def _decided(means: dict, scores: dict, choice: list) -> str:
    on_joint, on_identity = _tied(means)
    f = lambda xs: ", ".join(f"{a:g}" for a in sorted(xs))  # noqa: E731
    by = "mean joint" if len(on_joint) == 1 else "mean identity" if len(on_identity) == 1 else "the smaller adapt"
    flat = [k[0] + " " + k[1] for k in choice if len({round(v[0], 6) for v in scores[k].values()}) == 1]
    text = f"Tied on mean joint: {f(on_joint)}; of those on mean identity: {f(on_identity)}; decided by {by}."
    if flat:
        text += (f" Cells whose joint is the same for every candidate (they enter the choice through identity "
                 f"only): {'; '.join(flat)}.")
    return text


def lines(scores: dict) -> list[str]:
    best, means, choice, held = choose(scores)
    head = "| world | cell | " + " | ".join(f"adapt {a:g}" for a in CANDIDATES) + " |"
    sep = "|---|---|" + "---|" * len(CANDIDATES)

    def row(k):
        return f"| {k[0]} | {k[1]} | " + " | ".join(
            f"{scores[k][a][0]:.2f} ({scores[k][a][1]:.2f})" if a in scores[k] else "–" for a in CANDIDATES) + " |"

    out = ["## The default, chosen across worlds (few-step runs and one world held out)", "",
           "`python benchmarks/choose_default.py`, from `results/evidence_adapt.csv` (the exemplar world's adapt curve, "
           "24 runs per cell) and `results/learned.csv` (the learned world, 48 novel objects per cell). Choice cells: "
           "every 20-step cell of both worlds. Held out of the choice: every few-step cell (two exemplar 4-step cells and "
           "the learned 4-step student, a model and sampler the choice never saw) and a whole world, the confusable "
           "one (`results/evidence_confusable.csv`: a class that another class becomes under the scene's light). Rule "
           "(written with the exemplar and learned tables already known; the confusable world measured after it): "
           "highest mean joint over the choice cells; ties (within 1/48 of a run rate) to the higher mean "
           "identity, then to the smaller adapt (re-renders less of the user's object). Entry: joint (identity).", "",
           "### Choice cells", "", head, sep, *(row(k) for k in choice), "",
           "| mean over the choice cells | " + " | ".join(f"adapt {a:g}" for a in CANDIDATES) + " |",
           "|---|" + "---|" * len(CANDIDATES),
           "| joint (identity) | " + " | ".join(
               f"{means[a][0]:.3f} ({means[a][1]:.3f})" if a in means else "–" for a in CANDIDATES) + " |", "",
           f"**Chosen: adapt {best:g}** (the shipped default is {DEFAULT_ADAPT:g}: "
           f"{'the same' if abs(best - DEFAULT_ADAPT) < 1e-9 else 'DIFFERENT — change ranges.DEFAULT_ADAPT or say why not'}). "
           f"{_decided(means, scores, choice)}",
           "", "### Held out of the choice (few-step cells, the confusable world)", "", head, sep, *(row(k) for k in held), ""]
    for k in held:
        here = {a: scores[k][a] for a in CANDIDATES if a in scores[k]}
        top = max(here.values())
        winners = [a for a, v in here.items() if v[:2] == top[:2]]
        out.append(f"- {k[0]} {k[1]}: the chosen {best:g} gives {here[best][0]:.2f} ({here[best][1]:.2f}); best here "
                   f"{', '.join(f'{a:g}' for a in winners)} with {top[0]:.2f} ({top[1]:.2f}).")
    return out + [""]


def main():
    scores = cell_scores()
    text = "\n".join(lines(scores)) + "\n"
    SECTION.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
