"""The evidence world's room for the shadow (``benchmarks/evidence.py --shadow [--cast-shadow]``;
the world and the metrics are in fillblank_lab/evidence.py, the cells and the host in
benchmarks/evidence_world.py; the section is written with the several targets' one by
benchmarks/evidence_several.py).

``--shadow``: the one-place world and the default chain, with the hole a user gets without drawing
room for the shadow (Mask Refiner ``silhouette``, or ``union`` with a tight drawn box, default grow
8, ``shadow`` none) against the same with ``shadow`` contact / cast at the default angle (45°) and
length (0.5), and the drawn hole with room (the main table's) as the reference; ``silhouette_grow4*``
(no grow) without and with the zone: whether the metric can say no, and the zone where the hole is
tight. The shadow is asked for wherever the world's truth has it (``harmony(shadow_where="image")``): outside the hole the result is the scene's own
pixels, so a hole without room fails instead of not being asked.

``--shadow --cast-shadow``: the same on the world's cast-shadow variant (``EvidenceWorld(shadow="cast")``:
the data show each object's silhouette projected on the ground from its base, longer than the default
grow), methods CAST_METHODS, the drawn reference with room for the long shadow; results/evidence_shadow_cast.csv.
"""

from __future__ import annotations

import math
import time

import torch

from evidence_cells import rate
from evidence_report import read_csv
from evidence_world import (BAR, CELL_BY_NAME, CELLS, RESULTS, bench_for, conditioning, latent_px, load_host,
                            runs_for)
from fillblank_lab import evidence as E

SHADOW_METHODS = ("drawn", "silhouette", "tight_box", "silhouette_contact", "silhouette_cast", "tight_box_contact",
                  "tight_box_cast", "silhouette_grow4", "silhouette_grow4_contact", "silhouette_grow4_cast", "paste_cast")
# hole variant: (Mask Refiner mode, drawn hole with room? (None: no drawn hole), shadow, grow or None = default)
HOLES = {
    "drawn": ("union", True, "none", None),
    "silhouette": ("silhouette", None, "none", None),
    "tight_box": ("union", False, "none", None),
    "silhouette_contact": ("silhouette", None, "contact", None),
    "silhouette_cast": ("silhouette", None, "cast", None),
    "tight_box_contact": ("union", False, "contact", None),
    "tight_box_cast": ("union", False, "cast", None),
    "silhouette_grow4": ("silhouette", None, "none", 4),
    "silhouette_grow4_contact": ("silhouette", None, "contact", 4),
    "silhouette_grow4_cast": ("silhouette", None, "cast", 4),
    "paste_cast": ("silhouette", None, "cast", None),
}
# the cast-shadow variant of the world (``--shadow --cast-shadow``): the same holes at the default grow; the
# drawn reference leaves room for the long shadow (E.drawn_hole(shadow="cast"))
CAST_METHODS = ("drawn", "silhouette", "tight_box", "silhouette_contact", "silhouette_cast", "tight_box_contact",
                "tight_box_cast", "paste_cast")


def shadow_hole(b, variant: str, cls: str, light: str, seed: int) -> tuple:
    """(record, hole, hole_px, hole_lat) of one hole variant on the one-place bench ``b``."""
    mode, room, shadow, grow = HOLES[variant]
    p = b.prepare(cls, light, seed)
    d = dict(b.defaults["FillBlankMaskRefiner"], mode=mode, shadow=shadow)
    if grow is not None:
        d["grow"] = grow
    hole_in = None if room is None else E.drawn_hole(room=room, shadow=b.world.shadow_kind)
    hole = b.ref.execute(hole=hole_in, target=p.record, **d)[0]
    lat, px = latent_px(hole, E.SCENE, E.SCENE)
    return p.record, hole, px, lat


def evaluate_shadow(cells=None, methods=None, seeds: int = 24, progress: bool = True,
                    shadow: str = "contact") -> list[dict]:
    """Rows of the room-for-the-shadow runs; ``shadow``: the world's shadow ("cast": the cast-shadow
    variant, methods CAST_METHODS by default)."""
    pack, host_nodes = load_host()
    cells = [CELL_BY_NAME[c] if isinstance(c, str) else c for c in (cells or CELLS)]
    rows = []
    for cell in cells:
        b = bench_for(pack, host_nodes, cell, shadow)
        w = b.world
        LS = b.schedules.LambdaSchedule
        t0 = time.time()
        for method in methods or (CAST_METHODS if shadow == "cast" else SHADOW_METHODS):
            for cls, light, seed in runs_for(seeds, w.classes):
                rec, hole, px, lat = shadow_hole(b, method, cls, light, seed)
                kw = dict(b.defaults["FillBlankSampler"])
                kw.update(seed=seed, steps=cell.steps, cfg=cell.cfg, sampler_name=cell.sampler, scheduler=cell.scheduler)
                if method.startswith("paste"):
                    kw["schedule"] = LS.constant(1.0)
                pos = conditioning(0.5 if cell.cfg != 1.0 else 0.0)
                out = b.smp.execute(model=b.model(cell.sampling), positive=pos, negative=conditioning(0.0),
                                    latent_image={"samples": w.scene_latents[light]}, target=rec, hole=hole,
                                    **kw)[0]["samples"]
                dec = w.vae.decode(out)
                got = w.identity(dec, px)
                h = w.harmony(dec, cls, light, b.prepare(cls, light, seed).paste_decoded, rec.mask, px,
                              shadow_where="image")
                keep = (lat == 0).expand_as(out)
                ident = got[0] == cls
                i0 = w.index(cls, light, 0)
                truth = (w.shadow[i0] > 0.1) & (w.alpha[i0] < 0.05)  # where the world's shadow falls
                room = float((truth & (px[0] > 0)).sum()) / max(1, int(truth.sum()))
                rows.append(dict(cell=cell.name, method=method, cls=cls, light=light, seed=seed, identity=ident,
                                 harmony=h["harmony"], joint=ident and h["harmony"], lit=h["lit"], shadow=h["shadow"],
                                 shadow_dark=h["shadow_dark"], shadow_want=h["shadow_want"],
                                 hole_cells=int(lat.sum()), room=room,
                                 known_err=float((out - w.scene_latents[light])[keep].abs().max())))
        if progress:
            print(f"[{cell.name}] {time.time() - t0:.0f} s", flush=True)
            for line in shadow_table(rows, [cell.name])[2:]:
                print(line, flush=True)
    return rows


def evaluate_shadow_cast(cells=None, methods=None, seeds: int = 24, progress: bool = True) -> list[dict]:
    """The room-for-the-shadow runs on the cast-shadow variant of the world."""
    return evaluate_shadow(cells, methods, seeds, progress, shadow="cast")


def shadow_table(rows: list[dict], cells=None) -> list[str]:
    cells = cells or list(dict.fromkeys(r["cell"] for r in rows))
    methods = [m for m in SHADOW_METHODS if any(r["method"] == m for r in rows)]
    names = {"drawn": "drawn with room (reference)", "silhouette": "silhouette, no zone", "tight_box":
             "tight box, no zone", "silhouette_contact": "silhouette + contact", "silhouette_cast": "silhouette + cast",
             "tight_box_contact": "tight box + contact", "tight_box_cast": "tight box + cast",
             "silhouette_grow4": "silhouette, grow 4, no zone", "silhouette_grow4_contact": "silhouette, grow 4 + contact",
             "silhouette_grow4_cast": "silhouette, grow 4 + cast", "paste_cast": "paste (λ 1), silhouette + cast"}
    lines = ["| cell | " + " | ".join(names[m] for m in methods) + " |", "|---|" + "---|" * len(methods)]
    for c in cells:
        entries = []
        for m in methods:
            rs = [r for r in rows if r["cell"] == c and r["method"] == m]
            if not rs:
                entries.append("–")
                continue
            txt = f"{rate(rs, 'shadow'):.2f} / {rate(rs, 'joint'):.2f}"
            entries.append(f"**{txt}**" if rate(rs, "joint") >= BAR else txt)
        lines.append(f"| {c} | " + " | ".join(entries) + " |")
    return lines


def shadow_section(meta: dict) -> list[str]:
    """The subsection of the room for the shadow, from results/evidence_shadow.csv (none if absent)."""
    lines = []
    path = RESULTS / "evidence_shadow.csv"
    if path.exists():
        rows = read_csv(path)
        m = meta.get("shadow", {})
        cells = list(dict.fromkeys(r["cell"] for r in rows))
        room = {mm: [r["room"] for r in rows if r["method"] == mm and r["cell"] == cells[0]] for mm in SHADOW_METHODS}
        room_txt = ", ".join(f"{mm.replace('_', ' ')} {min(v):.2f}–{sum(v) / len(v):.2f}" for mm, v in room.items()
                             if v and not mm.startswith("paste"))
        dy, dx = E.SHADOW_SHIFT
        angle = math.degrees(math.atan2(dy, dx))
        lines += ["### Room for the shadow", "",
                  f"`python benchmarks/evidence.py --shadow --seeds {m.get('seeds', '?')}` ({m.get('minutes', '?')} min; "
                  f"code at `{m.get('head', '?')}`). The one-place world of the main table and its default chain; only "
                  "the hole changes: Mask Refiner `silhouette`, or `union` with a tight drawn box (the object's box + "
                  "4 px, no room for the shadow), at the default grow 8 with `shadow` none, contact or cast (default "
                  "angle 45°, length 0.5); the drawn hole with room for the shadow (the main table's) as the "
                  "reference; `silhouette` grown by only 4 px (half a latent cell) without and with the zone; and "
                  "the paste (λ 1) in the cast hole. The shadow "
                  "is asked for wherever the world's truth has it (`harmony(shadow_where=\"image\")`): outside the "
                  "hole the result keeps the scene's own pixels, so a hole without room fails the shadow instead "
                  "of not being asked.", "",
                  "Entry: shadow present / joint (right object, lit, shadow present). Bold: joint ≥ "
                  f"{BAR:.2f}.", ""]
        lines += shadow_table(rows)
        long = [c for c in cells if CELL_BY_NAME[c].steps >= 20 if c in CELL_BY_NAME] or cells

        def span(method, key="shadow"):
            v = [rate([r for r in rows if r["cell"] == c and r["method"] == method], key) for c in long
                 if any(r["cell"] == c and r["method"] == method for r in rows)]
            return "–" if not v else (f"{min(v):.2f}" if min(v) == max(v) else f"{min(v):.2f}–{max(v):.2f}")
        below = [c for c in long if rate([r for r in rows if r["cell"] == c and r["method"] == "silhouette_grow4"],
                                          "shadow") < BAR]
        missed = sorted({r["cls"] for r in rows if r["method"] == "silhouette_grow4" and r["cell"] in below
                         and not r["shadow"]})
        misses8 = [r for r in rows if r["method"] in ("silhouette", "tight_box") and r["cell"] in long and not r["shadow"]]
        why8 = "" if not misses8 else (" (its misses: " + ", ".join(sorted({
            f"{r['cls']} with {r['room']:.2f} of the shadow inside the hole, object {'kept' if r['identity'] else 'lost'}"
            for r in misses8})) + ")")
        lines += ["", f"The world's shadow is the object's silhouette moved {dy} px down and {dx} px right and "
                  f"blurred {E.SHADOW_BLUR} px: a contact shadow toward {angle:.0f}° clockwise from the right (the "
                  "default `shadow_angle` 45° points to the same side), about a tenth of the object's height long "
                  "(the default `shadow_length` 0.5 reaches further), and — the silhouette moved, not projected on "
                  "the ground — beside a tall thin object up its whole height, where no ground-plane zone reaches. "
                  f"Share of the world's shadow pixels inside the repainted latent cells (min–mean over the runs): "
                  f"{room_txt}.", "",
                  f"In the {len(long)} cells of 20 steps: at the default grow 8 the shadow is present in "
                  f"{span('silhouette')} of the runs with the silhouette and no zone{why8} and {span('tight_box')} with the "
                  f"tight box and no zone, against {span('silhouette_contact')} / {span('silhouette_cast')} with "
                  f"contact / cast and {span('drawn')} with the drawn hole: the silhouette grown by 8 px and repainted "
                  "by whole 8 px latent cells already holds all of this short shadow, so **in this world the zone is "
                  "not what makes the shadow appear at the default settings**. "
                  f"With the hole tight to the object (grow 4, half a latent cell) and no zone the shadow is present "
                  f"in {span('silhouette_grow4')}"
                  + (f" (below the bar in {', '.join(below)}; missed: {', '.join(missed)})" if below else "")
                  + f"; contact gives {span('silhouette_grow4_contact')}, cast {span('silhouette_grow4_cast')}. "
                  "The metric asks for half the world's darkening on average over the shadow's pixels, so a hole "
                  "that holds most of the shadow can pass. The paste in the cast hole (nothing relit, nothing "
                  f"painted) scores joint {span('paste_cast', 'joint')}. The 4-step cells score below the bar "
                  "whatever the hole (the known few-step limit of this world). A shadow longer than the default "
                  "grow — what the zone is for — is not in this world's data; whether a real checkpoint paints one "
                  "into the zone is not measured here.", ""]
    return lines


def cast_section(meta: dict) -> list[str]:
    """The subsection of the cast-shadow variant, from results/evidence_shadow_cast.csv (none if absent)."""
    path = RESULTS / "evidence_shadow_cast.csv"
    if not path.exists():
        return []
    rows = read_csv(path)
    m = meta.get("shadow_cast", {})
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    long = [c for c in cells if c in CELL_BY_NAME and CELL_BY_NAME[c].steps >= 20] or cells
    methods = [mm for mm in CAST_METHODS if any(r["method"] == mm for r in rows)]

    def span(method, key="shadow", among=None):
        v = [rate([r for r in rows if r["cell"] == c and r["method"] == method], key) for c in (among or long)
             if any(r["cell"] == c and r["method"] == method for r in rows)]
        return "–" if not v else (f"{min(v):.2f}" if min(v) == max(v) else f"{min(v):.2f}–{max(v):.2f}")

    def depth(method):  # the share of the world's darkening the result shows (mean over the runs, capped at 1)
        v = [min(1.0, r["shadow_dark"] / r["shadow_want"]) for r in rows if r["method"] == method and r["cell"] in long
             and r["shadow_want"] == r["shadow_want"] and r["shadow_want"] > 0]
        return f"{sum(v) / len(v):.2f}" if v else "–"
    room = {mm: [r["room"] for r in rows if r["method"] == mm and r["cell"] == cells[0]] for mm in methods}
    room_txt = ", ".join(f"{mm.replace('_', ' ')} {min(v):.2f}–{sum(v) / len(v):.2f}" for mm, v in room.items()
                         if v and not mm.startswith("paste"))
    below = [c for c in long if rate([r for r in rows if r["cell"] == c and r["method"] == "silhouette"], "shadow") < BAR]
    missed = sorted({r["cls"] for r in rows if r["method"] == "silhouette" and r["cell"] in long and not r["shadow"]})
    cast_below = [c for c in long if rate([r for r in rows if r["cell"] == c and r["method"] == "silhouette_cast"],
                                           "shadow") < BAR]
    reach = E.shadow_reach("cast")
    far = [0, 0]  # how far the world's cast shadow reaches beyond the object (each class, its main variant)
    for k in E.CLASSES:
        a = E.object_alpha(k)
        sh = (E.cast_shadow_of(a) * (1 - a) > 0.1) & (a < 0.05)
        if sh.any():
            obj, sy, sx = torch.nonzero(a > 0.5), *torch.nonzero(sh, as_tuple=True)
            far = [max(far[0], int(sy.max() - obj[:, 0].max())), max(far[1], int(sx.max() - obj[:, 1].max()))]
    names = {"drawn": "drawn with room for the long shadow (reference)", "silhouette": "silhouette, no zone",
             "tight_box": "tight box, no zone", "silhouette_contact": "silhouette + contact",
             "silhouette_cast": "silhouette + cast", "tight_box_contact": "tight box + contact",
             "tight_box_cast": "tight box + cast", "paste_cast": "paste (λ 1), silhouette + cast"}
    table = shadow_table(rows)
    table[0] = "| cell | " + " | ".join(names[mm] for mm in methods) + " |"
    return [
        "### Room for a long shadow: the cast-shadow variant", "",
        f"`python benchmarks/evidence.py --shadow --cast-shadow --seeds {m.get('seeds', '?')}` ({m.get('minutes', '?')} "
        f"min; code at `{m.get('head', '?')}`). The same world, chain, seeds and holes as above, but the model's data "
        "show each object casting a longer shadow on the ground (`EvidenceWorld(shadow=\"cast\")`, "
        "`cast_shadow_of`): the object stands on the ground at its lowest row; a point h px above that base "
        f"falls {E.CAST_LENGTH:g} × h px from its foot toward {E.CAST_ANGLE:g}° clockwise from the right (down-right, "
        f"a light at the upper left), the vertical part foreshortened by half, blurred {E.CAST_BLUR} px: it reaches "
        f"up to {far[0]} px below the object's lowest row and {far[1]} px beyond its right edge (where it takes "
        "a tenth of the light or more), against 4–6 px for the contact shadow. "
        "The target stays the neutral cut-out without shadow. This is also what `shadow=\"cast\"` assumes at its "
        "defaults (45°, 0.5), except for where each pixel stands: the zone casts from the base of each pixel's own "
        "vertical run, the world from the object's lowest row. The drawn reference leaves room for the whole "
        f"long shadow (`drawn_hole(shadow=\"cast\")`: {reach[0]} px below and {reach[1]} px right of the box more than the "
        "tight one); the tight box is the same as above. The shadow is asked "
        "for wherever the world has it.", "",
        "Entry: shadow present / joint (right object, lit, shadow present). Bold: joint ≥ "
        f"{BAR:.2f}.", "",
        *table, "",
        f"Share of the world's shadow pixels inside the repainted latent cells ({cells[0]}, min–mean over the "
        f"runs): {room_txt}. Share of the world's darkening the result shows over its shadow (mean over the runs "
        "of the 20-step cells, capped at 1): "
        + ", ".join(f"{mm.replace('_', ' ')} {depth(mm)}" for mm in methods) + ".", "",
        f"In the {len(long)} cells of 20 steps: with the silhouette at the default grow 8 and no zone the long "
        f"shadow is present in {span('silhouette')} of the runs"
        + (f" (below the bar in {len(below)} of {len(long)} cells; missed: {', '.join(missed)})" if below else "")
        + f", with `contact` in {span('silhouette_contact')}, with `cast` at the default angle and length in "
        f"{span('silhouette_cast')}"
        + (f" (below the bar in {', '.join(cast_below)})" if cast_below else "")
        + f", and with the drawn hole that leaves room in {span('drawn')}. The tight drawn box (the object's box "
        f"+ 4 px, grown 8 px, repainted by whole latent cells) already reaches this far: {span('tight_box')} "
        f"without a zone, {span('tight_box_cast')} with `cast`. The paste in the cast hole scores joint "
        f"{span('paste_cast', 'joint')}. The metric asks for half the world's darkening on average over the "
        "shadow's pixels, so a hole that holds most of the shadow passes; the shares above show what the "
        "hole leaves out. The 4-step cells are reported, not counted (the known few-step limit).", ""]
