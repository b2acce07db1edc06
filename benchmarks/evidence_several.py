"""The evidence world for several targets in one run (``benchmarks/evidence.py --several``; the world
and the metrics are in fillblank_lab/evidence.py, the cells and the host in
benchmarks/evidence_world.py, the room for the shadow in benchmarks/evidence_shadow.py), and the
section both write, sections/32_several_shadow.md.

``--several``: TwoPlaceWorld — the model's data show two places (one in each half of a 128×256
scene), each holding one object of any class (drawn independently) under the scene's one light with
its contact shadow; the exact posterior over every combination, computed factorised. Chain, every
widget at its default: two Fill-in Target Encoders (neutral cut-outs, each ±10 % / ±3 px off its
place), the second with ``add_to`` = the first → Mask Refiner (union of the two drawn holes with the
chained record's silhouettes) → one Fill-in Sampler run. Methods, same seeds: ``default``,
``no_target`` (λ 0), ``paste`` (λ 1), ``img2img_0.3`` (KSampler + Set Latent Noise Mask at denoise 0.3
on VAE Encode of the chained composite, the union hole), ``two_runs`` (what a user does without
``add_to``: the first target alone in one run, then the second alone in a second run on its result,
each with its own drawn hole; twice the model calls), ``broken_no_over`` (``add_to`` kept but the
earlier target not drawn into the record: Target Encoder's ``over`` replaced by "the new target
only" — the first place is in the hole but not guided). Metrics per place, on that place's half:
identity (nearest decoded exemplar over every class, light and variant of the place), harmony (lit
by the scene, and the shadow present wherever the truth has it — over the whole half, not only
inside the hole), joint; ``both`` = joint at both places.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import dataclass

import torch

from evidence_cells import rate
from evidence_report import read_csv
from evidence_shadow import cast_section, shadow_section
from evidence_world import BAR, CELL_BY_NAME, CELLS, HERE, RESULTS, BenchNodes, conditioning, latent_px, load_host
from fillblank_core.spaces import NoiseSpace
from fillblank_lab import evidence as E
from fillblank_lab.denoisers import FactorisedExemplarDenoiser

SEVERAL_METHODS = ("default", "no_target", "paste", "img2img_0.3", "two_runs", "broken_no_over")
SEVERAL_MUST_FAIL = ("paste", "broken_no_over")        # the world must say no to these (joint at both places)


@contextlib.contextmanager
def dropped_over(pack):
    """Target Encoder's ``over`` replaced by "the new target only": the chained record's image and mask
    lose the earlier targets (their composite and placements stay). Raises if never engaged."""
    mod = sys.modules[pack.__name__ + ".nodes.target_encoder"]
    orig, engaged = mod.over, [0]

    def only_new(earlier_image, earlier_mask, image, mask):
        engaged[0] += 1
        return image, mask
    mod.over = only_new
    try:
        yield
    finally:
        mod.over = orig
    if engaged[0] == 0:
        raise RuntimeError("broken_no_over: Target Encoder never called over (renamed?): update the variant")


# --- several targets ----------------------------------------------------------------------------------

@dataclass
class Prepared2:
    record: object              # the chained record (both targets)
    hole: torch.Tensor          # Mask Refiner's output [1, H, W]
    hole_px: torch.Tensor       # the repainted cells at pixel size [1, H, W]
    hole_lat: torch.Tensor
    paste_decoded: torch.Tensor
    placements: tuple


class SeveralBench(BenchNodes):
    """The two-place world of one latent format / noise space, its ComfyUI model and the nodes."""

    def __init__(self, pack, host_nodes, fmt: str, flow: bool):
        self.world = w = E.TwoPlaceWorld(fmt)
        space = NoiseSpace.flow() if flow else NoiseSpace.eps()
        super().__init__(pack, host_nodes, FactorisedExemplarDenoiser(w.parts, [w.group, w.group], space,
                                                                      [w.log_prior, w.log_prior]), fmt, flow)

    @staticmethod
    def placements(seed: int) -> tuple:
        return tuple(E.Placement.for_seed(seed, c, E.WIDE, salt=3 + 2 * p) for p, c in enumerate(E.PLACES))

    def encode(self, cls: str, scene: torch.Tensor, pl, add_to=None):
        img, mask = self.world.targets[cls]
        d = dict(self.defaults["FillBlankTargetEncoder"], x=pl.x, y=pl.y, scale=pl.scale)
        return self.enc.execute(target=img, scene=scene, vae=self.world.vae, target_mask=mask, add_to=add_to, **d)[0]

    def refine(self, drawn: torch.Tensor, record) -> torch.Tensor:
        return self.ref.execute(hole=drawn, target=record, **dict(self.defaults["FillBlankMaskRefiner"]))[0]

    def prepare(self, classes: tuple, light: str, seed: int, broken: bool = False) -> Prepared2:
        key = (classes, light, seed, broken)
        if key not in self._prepared:
            pls = self.placements(seed)
            with dropped_over(self.pack) if broken else contextlib.nullcontext():
                rec = None
                for cls, pl in zip(classes, pls):
                    rec = self.encode(cls, self.world.scenes[light], pl, add_to=rec)
            drawn = sum(E.drawn_hole(c, E.WIDE) for c in E.PLACES).clamp(0, 1)
            hole = self.refine(drawn, rec)
            lat, px = latent_px(hole, E.SCENE, E.WIDE)
            self._prepared[key] = Prepared2(rec, hole, px, lat, self.world.vae.decode(rec.latent), pls)
        return self._prepared[key]

    def run(self, cell, record, hole, latent, seed, schedule=None) -> torch.Tensor:
        kw = dict(self.defaults["FillBlankSampler"])
        kw.update(seed=seed, steps=cell.steps, cfg=cell.cfg, sampler_name=cell.sampler, scheduler=cell.scheduler)
        if schedule is not None:
            kw["schedule"] = schedule
        pos = conditioning(0.5 if cell.cfg != 1.0 else 0.0)
        return self.smp.execute(model=self.model(cell.sampling), positive=pos, negative=conditioning(0.0),
                                latent_image={"samples": latent}, target=record, hole=hole, **kw)[0]["samples"]

    def sample(self, method: str, cell, classes: tuple, light: str, seed: int) -> torch.Tensor:
        w = self.world
        LS = self.schedules.LambdaSchedule
        scene_latent = w.scene_latents[light]
        if method == "two_runs":  # the first alone, then the second alone on the first run's result
            pls = self.placements(seed)
            latent, scene = scene_latent, w.scenes[light]
            for cls, pl, c in zip(classes, pls, E.PLACES):
                rec = self.encode(cls, scene, pl)
                latent = self.run(cell, rec, self.refine(E.drawn_hole(c, E.WIDE), rec), latent, seed)
                scene = w.vae.decode(latent)
            return latent
        p = self.prepare(classes, light, seed, broken=method == "broken_no_over")
        if method.startswith("img2img_"):
            n = self.host_nodes
            lat = n.VAEEncode().encode(w.vae, p.record.composite)[0]
            lat = n.SetLatentNoiseMask().set_mask(lat, p.hole)[0]
            pos = conditioning(0.5 if cell.cfg != 1.0 else 0.0)
            return n.KSampler().sample(self.model(cell.sampling), seed, cell.steps, cell.cfg, cell.sampler,
                                       cell.scheduler, pos, conditioning(0.0), lat,
                                       denoise=float(method.split("_")[1]))[0]["samples"]
        schedule = {"default": None, "broken_no_over": None, "no_target": LS.constant(0.0),
                    "paste": LS.constant(1.0)}
        if method not in schedule:
            raise ValueError(f"unknown method {method!r}")
        return self.run(cell, p.record, p.hole, scene_latent, seed, schedule[method])

    def score(self, out: torch.Tensor, classes: tuple, light: str, seed: int) -> dict:
        p = self.prepare(classes, light, seed)
        w = self.world
        dec = w.vae.decode(out)
        row = {}
        for i, (cls, view) in enumerate(zip(classes, w.views)):
            hole = w.half(p.hole_px, i)
            got = view.identity(w.half(dec, i), hole)
            h = view.harmony(w.half(dec, i), cls, light, w.half(p.paste_decoded, i), w.half(p.record.mask, i), hole,
                             shadow_where="image")
            ident = got[0] == cls
            row.update({f"identity{i}": ident, f"harmony{i}": h["harmony"], f"joint{i}": ident and h["harmony"],
                        f"lit{i}": h["lit"], f"shadow{i}": h["shadow"], f"got{i}": got[0]})
        row["both"] = row["joint0"] and row["joint1"]
        keep = (p.hole_lat == 0).expand_as(out)
        row["known_err"] = float((out - w.scene_latents[light])[keep].abs().max())
        return row


def several_runs(seeds: int, classes) -> list[tuple[tuple, str, int]]:
    """((class at place 0, class at place 1), light, seed): the first class and the light in turn as in
    the main table (24 seeds: every class under every light once), the second drawn by a second
    sequence (each class 3 times in 24 seeds, in changing pairs, the same class at both places too)."""
    n, lights = len(classes), tuple(E.LIGHTS)
    return [((classes[s % n], classes[(3 * s + s // n) % n]), lights[(s // n) % len(lights)], 1000 + s)
            for s in range(seeds)]


_SEVERAL: dict = {}


def several_bench(pack, host_nodes, cell) -> SeveralBench:
    key = (cell.fmt, cell.flow)
    if key not in _SEVERAL:
        _SEVERAL[key] = SeveralBench(pack, host_nodes, cell.fmt, cell.flow)
    return _SEVERAL[key]


def evaluate_several(cells=None, methods=None, seeds: int = 24, progress: bool = True) -> list[dict]:
    pack, host_nodes = load_host()
    cells = [CELL_BY_NAME[c] if isinstance(c, str) else c for c in (cells or CELLS)]
    rows = []
    for cell in cells:
        b = several_bench(pack, host_nodes, cell)
        t0 = time.time()
        for method in methods or SEVERAL_METHODS:
            for classes, light, seed in several_runs(seeds, b.world.classes):
                out = b.sample(method, cell, classes, light, seed)
                rows.append(dict(cell=cell.name, method=method, cls0=classes[0], cls1=classes[1], light=light,
                                 seed=seed, **b.score(out, classes, light, seed)))
        if progress:
            print(f"[{cell.name}] {time.time() - t0:.0f} s", flush=True)
            for line in several_table(rows, [cell.name])[2:]:
                print(line, flush=True)
    return rows


def summarise_several(rows: list[dict]) -> dict:
    out = {}
    for r in rows:
        out.setdefault((r["cell"], r["method"]), []).append(r)
    return {k: {**{f"{m}{i}": rate(rs, f"{m}{i}") for m in ("identity", "joint", "shadow", "lit") for i in (0, 1)},
                "both": rate(rs, "both"), "n": len(rs), "known_max": max(r["known_err"] for r in rs)}
            for k, rs in out.items()}


def several_table(rows: list[dict], cells=None) -> list[str]:
    stats = summarise_several(rows)
    cells = cells or list(dict.fromkeys(r["cell"] for r in rows))
    methods = [m for m in SEVERAL_METHODS if any(r["method"] == m for r in rows)]
    names = {"default": "**default**", "no_target": "no target", "paste": "paste", "img2img_0.3": "paste + img2img 0.3",
             "two_runs": "two runs (one target each)", "broken_no_over": "broken: earlier target dropped"}
    lines = ["| cell | " + " | ".join(names.get(m, m) for m in methods) + " |", "|---|" + "---|" * len(methods)]
    for c in cells:
        entries = []
        for m in methods:
            s = stats.get((c, m))
            if s is None:
                entries.append("–")
                continue
            txt = (f"{s['both']:.2f} — {s['identity0']:.2f}/{s['joint0']:.2f} · {s['identity1']:.2f}/{s['joint1']:.2f}")
            entries.append(f"**{txt}**" if min(s["joint0"], s["joint1"], s["identity0"], s["identity1"]) >= BAR else txt)
        lines.append(f"| {c} | " + " | ".join(entries) + " |")
    return lines


def several_verdict(stats: dict, cell: str) -> dict:
    d = stats.get((cell, "default"))
    ok = d is not None and min(d["identity0"], d["joint0"], d["identity1"], d["joint1"]) >= BAR
    too_easy = [m for m in SEVERAL_MUST_FAIL if (cell, m) in stats and stats[(cell, m)]["both"] >= BAR]
    return {"default": ok, "too_easy": too_easy}


# --- the section ----------------------------------------------------------------------------------------

META = RESULTS / "evidence_several_runs.json"
SECTION = HERE / "sections" / "32_several_shadow.md"


def write_times(name: str, seeds: int, seconds: float, head: str) -> None:
    meta = json.loads(META.read_text()) if META.exists() else {}
    meta[name] = {"seeds": seeds, "minutes": round(seconds / 60, 1), "head": head}
    META.write_text(json.dumps(meta, indent=1) + "\n")


def write_section() -> None:
    """sections/32_several_shadow.md from results/evidence_several.csv and evidence_shadow.csv."""
    meta = json.loads(META.read_text()) if META.exists() else {}
    lines = ["## Evidence: several targets in one run, room for the shadow", ""]
    path = RESULTS / "evidence_several.csv"
    if path.exists():
        rows = read_csv(path)
        m = meta.get("several", {})
        stats = summarise_several(rows)
        cells = list(dict.fromkeys(r["cell"] for r in rows))
        lines += ["### Two chained targets, one run", "",
                  f"`python benchmarks/evidence.py --several --seeds {m.get('seeds', '?')}` ({m.get('minutes', '?')} min "
                  f"on the shared 2-core CPU; code at `{m.get('head', '?')}`). World: `TwoPlaceWorld` "
                  "(fillblank_lab/evidence.py) — the one-place world's data at two places of a 128×256 scene, each "
                  "holding one object of any of the 8 classes (drawn independently) under the scene's one light "
                  "(warm, cool, dim) with its contact shadow: (8 × 27)² × 3 ≈ 140,000 pictures, whose exact posterior "
                  "is computed factorised (the VAE's encoder sees a cell and its neighbours and the places are 6 "
                  "latent cells apart, so a two-object latent is exactly its halves' latents side by side; given "
                  "the light the posterior is the product of the halves': `FactorisedExemplarDenoiser`, checked "
                  "equal to the full sum in tests/test_evidence.py). Targets: two neutral cut-outs, each ±10 % / "
                  "±3 px off its place, chained by two Fill-in Target Encoders (`add_to`); Mask Refiner union of "
                  "the two drawn holes with the chained silhouettes; one Fill-in Sampler run; every widget at its "
                  "default. Runs: the first place's class and the light as in the main table (every class under "
                  "every light once in 24 seeds), the second place's class from a second sequence (each class 3 "
                  "times, changing pairs, the same class at both places once per light).", "",
                  "Entry: **both** — identity / joint at the first place · identity / joint at the second. joint = "
                  "the right object lit by the scene with its shadow; the shadow is asked for wherever the world "
                  "has it (the whole half), not only inside the hole. Bold: identity and joint ≥ "
                  f"{BAR:.2f} at both places. *two runs*: the first target alone, then the second alone on the "
                  "first run's result, each with its own drawn hole (twice the model calls: what a user does without "
                  "`add_to`). *broken: earlier target dropped*: Target Encoder's `over` replaced by \"the new target "
                  "only\" — the first place stays in the hole but is not guided.", ""]
        lines += several_table(rows)
        ok = [c for c in cells if several_verdict(stats, c)["default"]]
        easy = {c: several_verdict(stats, c)["too_easy"] for c in cells}
        lines += ["", f"Default ≥ {BAR:.2f} identity and joint at each place in {len(ok)} of {len(cells)} cells"
                  + (f" (not: {', '.join(c for c in cells if c not in ok)})" if len(ok) < len(cells) else "") + ". "
                  + ("Paste and the dropped earlier target stay below the bar (both places) in every cell."
                     if not any(easy.values()) else "Too easy (a must-fail method reaches the bar): "
                     + "; ".join(f"{c}: {', '.join(v)}" for c, v in easy.items() if v) + "."),
                  f"Known region: largest |output − scene latent| outside the union hole "
                  f"{max(s['known_max'] for (c, mm), s in stats.items() if not mm.startswith('img2img')):.1e} "
                  "(Fill-in Sampler methods, two runs included).", ""]
    lines += shadow_section(meta)
    lines += cast_section(meta)
    SECTION.parent.mkdir(parents=True, exist_ok=True)
    SECTION.write_text("\n".join(lines) + "\n")
    print(f"wrote {SECTION}")
