"""Evidence that can fail: the CI subset of benchmarks/evidence.py (evidence_cells.evaluate).

A target OFF the model's data (the object in neutral light as a cut-out, ±10 % size and ±3 px off,
without its shadow; the model's data show it under the scene's warm / cool / dim light with a
contact shadow), distractor classes, a non-linear VAE and real latent formats, through the real
nodes with DEFAULT widgets. Four cells: SD1.5 eps 20 steps, SD3 shift 3 at 20 steps, and the two
4-step runs (SD1.5 LCM, shift-3 Flux), which fall short (strict xfails that state why, below). Fails if the default's joint rate (right object AND lit by the scene with its
shadow) is below 0.95 in a cell or not above the hand recipe (paste + KSampler / Set Latent Noise
Mask at denoise 0.3), or if the plain paste or a deliberately broken guidance reaches 0.95 (then
the world is too easy to tell good guidance from bad).

Measured on the round-2 default (keyframes 0:1, 0.6:1, 0.8:0 on the noise axis, main a47b9e4):
the default fails in all three cells (SD1.5: the thin ring and the bead are lost to the stick;
shift 3 / 4 steps: λ is not released, the object keeps the neutral light). Known blind spot: an
exact-posterior model cannot see the noise term of the guided input, so once a design passes a
cell the no-noise / 2×-noise / prediction-only variants may pass with it (see the section's design
probes); that failure is the world's, reported, not hidden.

Several targets and the room for the shadow (benchmarks/evidence_several.py and evidence_shadow.py,
``evidence.py --several --shadow``): two chained Target Encoders in one Sampler run on the two-place world (each place
≥ 0.95 identity and joint; paste and a chained record that drops the earlier target stay below), the
factorised posterior of that world checked against the full sum, the shadow zone on a tight hole
(the shadow asked for over the whole image), and on the cast-shadow variant of the world (``--shadow
--cast-shadow``: a longer shadow on the ground) the zone at the default grow.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

pytestmark = [pytest.mark.host, pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

SEEDS = 24  # every class under every light once
CELLS = ("sd15 euler normal 20", "sd3 shift 3 euler simple 20", "sd15 lcm sgm_uniform 4",
         "flux shift 3 euler simple 4")
BAR = 0.95
# the broken variants this world can see (benchmarks/evidence_world.py UNSEEN: the noise-term ones cannot be
# seen by an exact-posterior model; tests/test_core_dynamics.py checks the noise level exactly)
MUST_FAIL = ("paste", "broken_raw_target", "broken_covered_fraction")
# Known shortfall of the default, measured (benchmarks/evidence.py --limit, results.md "The few-step
# limit"): in a 4-step run the last model call is at noise-to-signal 0.7 (LCM) or 1 (Flux shift 3); with
# the output pull ended inside the run the result is that call's prediction, for an exact posterior a
# mean over every datum still plausible there, which blurs a thin object and its shadow. Strict, so the
# day a design passes, the test says so.
SHORT = {
    "sd15 lcm sgm_uniform 4": pytest.mark.xfail(strict=True, reason=(
        "4-step LCM: default joint 0.79, paste + img2img 0.3 0.92 on these seeds (0.85 / 0.85 over 144 runs); "
        "the bar is out of reach: the last call shown the right answer itself gets 0.92 here, 0.94 over 144 "
        "runs (test_few_step_limit)")),
    "flux shift 3 euler simple 4": pytest.mark.xfail(strict=True, reason=(
        "4-step flow: default joint 0.92, paste + img2img 0.3 0.96 on these seeds (0.94 / 0.96 over 144 runs; "
        "the last call shown the right answer 0.99): passing here needs 24 of 24")),
}


def _cells(short_too=True):
    return [pytest.param(c, marks=SHORT[c]) if c in SHORT and short_too else c for c in CELLS]


@pytest.fixture(scope="module")
def ev(pack):
    import comfy.utils
    import evidence_cells as evidence
    comfy.utils.PROGRESS_BAR_ENABLED = False
    cache = {}

    def stats(cell: str, method: str) -> dict:
        if (cell, method) not in cache:
            rows = evidence.evaluate(cells=[cell], methods=(method,), seeds=SEEDS, progress=False)
            cache[(cell, method)] = evidence.summarise(rows)[(cell, method)]
        return cache[(cell, method)]
    return evidence, stats


def test_the_world_is_fair_and_off_the_data():
    """No sampling: the exemplars are unit-ish in model space for every format, the VAE is not
    linear in coverage, and each neutral cut-out is nearer its own class than any other under the
    scene's light (so a method can win), yet nearer the neutral paste than its lit self (off the data)."""
    from fillblank_core import placement as P
    from fillblank_core.masks import grow, latent_hole
    from fillblank_lab import evidence as E
    for fmt in ("sd15", "sdxl", "sd3", "flux"):
        w = E.EvidenceWorld(fmt, classes=("disc", "ring"))
        z = w.exemplars
        assert 0.2 < float(z.std()) < 1.5 and float(z.mean().abs()) < 0.5, (fmt, float(z.std()), float(z.mean()))
        raw = w.vae.encode(w.pixels)
        assert float(w.spec.process_in(raw.double()).std()) == pytest.approx(float(z.std()), rel=1e-4)
    # a partly covered cell is not the coverage blend of its two latents
    w = E.EvidenceWorld("sd15", classes=("disc",))
    bg, red = torch.full((1, 8, 8, 3), 0.6), torch.zeros(1, 8, 8, 3)
    red[..., 0] = 0.9
    half = bg.clone()
    half[:, :, :4] = red[:, :, :4]
    enc = lambda x: w.spec.process_in(w.vae.encode(x).double())
    assert (enc(half) - (enc(bg) + enc(red)) / 2).abs().max() > 0.05
    # nearest-neighbour solvability of the neutral cut-out, by class, in the model's own space
    w = E.EvidenceWorld("sd3")
    hole = latent_hole(grow(E.drawn_hole()[:, None], 8), (16, 16))
    for light in w.lights:
        for k in w.classes:
            img, mask = w.targets[k]
            pl = E.Placement.for_seed(5)
            _, _, comp, _ = P.place_on_scene(w.scenes[light], img.permute(0, 3, 1, 2), 1 - mask[:, None],
                                             pl.x, pl.y, pl.scale)
            t = w.spec.process_in(w.vae.encode(comp).double())
            d = (((t - w.exemplars) * hole) ** 2).flatten(1).sum(1)
            own = torch.tensor([kk[:2] == (k, light) for kk in w.keys])
            other = torch.tensor([kk[0] != k and kk[1] == light for kk in w.keys])
            assert float(d[own].min()) < 0.9 * float(d[other].min()), (k, light)


@pytest.mark.parametrize("cell", _cells())
def test_default_inserts_the_object_in_the_scene_light(ev, cell):
    _, stats = ev
    s = stats(cell, "default")
    assert s["joint"] >= 0.95, (f"{cell}: default joint {s['joint']:.2f} (identity {s['identity']:.2f}, harmony "
                                f"{s['harmony']:.2f}); worst class {s['worst_cls']} {s['worst']:.2f}; per class "
                                f"{ {k: round(v, 2) for k, v in s['per_class'].items()} }")
    assert s["known_max"] == 0.0  # the scene outside the hole is kept exactly


@pytest.mark.parametrize("cell", _cells())
def test_default_beats_the_hand_recipe(ev, cell):
    """Paste, then KSampler + Set Latent Noise Mask at denoise 0.3 (the best user baseline here):
    above it, or level with it where both are perfect (1.00 cannot be beaten)."""
    _, stats = ev
    d, r = stats(cell, "default"), stats(cell, "img2img_0.3")
    assert d["joint"] > r["joint"] or d["joint"] == r["joint"] == 1.0, \
        f"{cell}: default joint {d['joint']:.2f}, paste + img2img 0.3 {r['joint']:.2f}"


@pytest.mark.parametrize("method", MUST_FAIL)
@pytest.mark.parametrize("cell", CELLS)
def test_paste_and_broken_guidance_stay_below_the_bar(ev, cell, method):
    """The world can say no: without relighting (paste) or with broken guidance it must not pass."""
    _, stats = ev
    s = stats(cell, method)
    assert s["joint"] < 0.95, f"{cell}: {method} reaches joint {s['joint']:.2f}: the world is too easy"


def test_few_step_limit(ev):
    """Why the 4-step LCM xfail is the world's limit and not a design still to find: the default's run
    with its last model call shown the right answer itself (the lit exemplar of the target's class, with
    its shadow, over the whole hole; prediction unpulled: ``last_call_ceiling``) stays below the bar.
    If this fails, the ceiling reaches the bar: a design may pass the cell — revisit SHORT."""
    evidence, stats = ev
    cell = "sd15 lcm sgm_uniform 4"
    ceiling, default = stats(cell, "last_call_ceiling"), stats(cell, "default")
    assert ceiling["joint"] < BAR, f"{cell}: the last call shown the right answer reaches {ceiling['joint']:.2f}"
    assert ceiling["joint"] >= default["joint"], (ceiling["joint"], default["joint"])
    assert ceiling["known_max"] == 0.0


# --- several targets in one run, room for the shadow (benchmarks/evidence_several.py, evidence_shadow.py) ---

SEVERAL_CELLS = ("sd15 euler normal 20", "sd3 shift 3 euler simple 20")


def test_factorised_posterior_is_the_sum_over_every_combination():
    """No sampling: FactorisedExemplarDenoiser (the two-place world's model) gives the posterior mean of
    an ExemplarDenoiser over every combination of the parts that share a group (the light), priors
    included, in both noise spaces and at σ = 0."""
    from fillblank_core.spaces import NoiseSpace
    from fillblank_lab.denoisers import ExemplarDenoiser, FactorisedExemplarDenoiser
    g = torch.Generator().manual_seed(0)
    A = torch.randn(6, 2, 3, 4, generator=g, dtype=torch.float64)
    B = torch.randn(5, 2, 3, 4, generator=g, dtype=torch.float64)
    ga, gb = torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([0, 1, 1, 2, 2])
    pa, pb = torch.tensor([0.0, -3.0, 0.0, 0.0, 0.0, -1.0]), torch.tensor([0.0, 0.0, -2.0, 0.0, 0.0])
    combos = [(i, j) for i in range(6) for j in range(5) if ga[i] == gb[j]]
    full = torch.stack([torch.cat([A[i], B[j]], -1) for i, j in combos])
    prior = torch.tensor([float(pa[i] + pb[j]) for i, j in combos])
    for space, sigmas in ((NoiseSpace.eps(), (0.0, 0.3, 1.0, 5.0)), (NoiseSpace.flow(), (0.0, 0.3, 0.99, 1.0))):
        ref = ExemplarDenoiser(full, space, log_prior=prior)
        fac = FactorisedExemplarDenoiser([A, B], [ga, gb], space, [pa, pb])
        for sig in sigmas:
            x = torch.randn(3, 2, 3, 8, generator=g, dtype=torch.float64) * 2
            assert torch.allclose(ref(x, torch.tensor(sig)), fac(x, torch.tensor(sig)), atol=1e-10), (space, sig)


def test_two_place_latent_is_its_halves_side_by_side():
    """The factorisation is exact: a two-object picture's latent is the two places' exemplar latents side
    by side (the encoder sees a cell and its neighbours; the places are far apart), for the largest
    variants shifted toward each other, in a 4- and a 16-channel format."""
    from fillblank_lab import evidence as E
    for fmt in ("sd15", "flux"):
        w = E.TwoPlaceWorld(fmt, classes=("bar", "ell"))
        for (k0, k1), light, (v0, v1) in ((("bar", "ell"), "warm", (26, 18)), (("ell", "ell"), "dim", (8, 0))):
            z = w.spec.process_in(w.vae.encode(E.two_place_picture((k0, k1), light, (E.VARIANTS[v0], E.VARIANTS[v1]))).double())
            halves = torch.cat([w.parts[0][w.keys.index((k0, light, v0))], w.parts[1][w.keys.index((k1, light, v1))]], -1)
            assert float((z[0] - halves).abs().max()) < 1e-6, (fmt, k0, k1)


@pytest.fixture(scope="module")
def several(pack):
    import comfy.utils
    import evidence_several
    import evidence_shadow
    comfy.utils.PROGRESS_BAR_ENABLED = False
    cache = {}

    def stats(kind: str, cell: str, method: str) -> dict:
        if (kind, cell, method) not in cache:
            run = {"several": evidence_several.evaluate_several, "shadow": evidence_shadow.evaluate_shadow,
                   "shadow_cast": evidence_shadow.evaluate_shadow_cast}[kind]
            rows = run(cells=[cell], methods=(method,), seeds=SEEDS, progress=False)
            if kind == "several":
                cache[(kind, cell, method)] = evidence_several.summarise_several(rows)[(cell, method)]
            else:
                cache[(kind, cell, method)] = {k: sum(bool(r[k]) for r in rows) / len(rows)
                                               for k in ("identity", "joint", "shadow")}
        return cache[(kind, cell, method)]
    return stats


@pytest.mark.parametrize("cell", SEVERAL_CELLS)
def test_two_chained_targets_in_one_run(several, cell):
    """Two Target Encoders chained with add_to, the union hole, ONE Fill-in Sampler run at the defaults:
    both objects there, each lit by the scene with its shadow (≥ 0.95 at each place)."""
    s = several("several", cell, "default")
    for p in (0, 1):
        assert s[f"identity{p}"] >= BAR and s[f"joint{p}"] >= BAR, (cell, p, s)
    assert s["known_max"] == 0.0


@pytest.mark.parametrize("method", ("paste", "broken_no_over"))
@pytest.mark.parametrize("cell", SEVERAL_CELLS)
def test_several_world_says_no(several, cell, method):
    """Paste of both (never relit) and the chained record without the earlier target (Target Encoder's
    ``over`` dropped: the first place in the hole but unguided) stay below the bar."""
    s = several("several", cell, method)
    assert s["both"] < BAR, f"{cell}: {method} reaches {s['both']:.2f} at both places: the world is too easy"
    if method == "broken_no_over":
        assert s["identity0"] < BAR, s


def test_shadow_zone_makes_room_in_a_tight_hole(several):
    """The silhouette grown by only half a latent cell (4 px): without the zone part of the world's shadow
    lies outside the repainted cells (the shadow is asked for over the whole image); shadow contact / cast
    add its room and the default paints it. At the default grow 8 the short shadow of this world already
    fits (section "Room for the shadow"): there the zone must only not hurt."""
    cell = "sd15 euler normal 20"
    none = several("shadow", cell, "silhouette_grow4")
    for zone in ("silhouette_grow4_contact", "silhouette_grow4_cast", "silhouette_contact", "silhouette_cast"):
        s = several("shadow", cell, zone)
        assert s["joint"] >= BAR and s["shadow"] >= BAR, (zone, s)
    assert none["shadow"] < BAR and none["shadow"] < several("shadow", cell, "silhouette_grow4_cast")["shadow"], none
    assert several("shadow", cell, "paste_cast")["joint"] < BAR


def test_cast_shadow_needs_the_zone(several):
    """The cast-shadow variant of the world (its data show each object's shadow projected on the ground,
    45° down-right, half the object's height long, beyond the default grow): the silhouette at the
    default grow 8 without the zone leaves part of it outside the repainted cells and the shadow is
    missing in some runs (below the bar); ``shadow="cast"`` at the default angle and length makes room
    and the default paints it; the paste in that hole paints nothing."""
    cell = "sd15 euler normal 20"
    none = several("shadow_cast", cell, "silhouette")
    cast = several("shadow_cast", cell, "silhouette_cast")
    assert none["shadow"] < BAR, none
    assert cast["shadow"] >= BAR and cast["joint"] >= BAR, cast
    assert several("shadow_cast", cell, "paste_cast")["joint"] < BAR


# --- behind what stands in front (benchmarks/evidence_behind.py) --------------------------------------

BEHIND_CELL = "sd15 euler normal 20"


@pytest.fixture(scope="module")
def behind():
    import evidence_behind
    rows = evidence_behind.evaluate(cells=(BEHIND_CELL,), methods=("default", "no_in_front", "paste"), seeds=SEEDS,
                                    progress=False)
    return {m: v for (c, m), v in evidence_behind.summarise(rows).items()}


def test_in_front_keeps_the_occluder_exact_and_the_visible_object(behind):
    """A post or a table edge in front of the place (a third of the runs each, a third with nothing): with
    in_front every occluder pixel of the final image is the scene's, and the visible part is the right
    object, lit, with its shadow."""
    d = behind["default"]
    assert d["occluded"] == 2 * SEEDS // 3 and d["exact"] == 1.0 and d["changed"] == 0, d
    assert d["identity"] >= BAR and d["joint"] >= BAR, d


@pytest.mark.parametrize("method", ["no_in_front", "paste"])
def test_without_in_front_the_occluder_is_damaged(behind, method):
    """The world can say no: without in_front the hole covers the occluder and the model repaints it;
    the paste on top covers it."""
    v = behind[method]
    assert v["exact"] < 0.5 and v["changed"] > 100, v


# --- a world the default was not tuned on (benchmarks/evidence_confusable.py) -------------------------

def test_confusable_pairs_come_from_the_worlds_colours():
    """The runs where colour points at another object are decided from the world's colours alone: in the
    dim scene the neutral cut-out of disc_mid IS the disc's datum, and disc_dark's is nearest disc_mid's."""
    import evidence_confusable as C
    from fillblank_lab import evidence as E
    pairs = {(k, ell): C.confusable(k, ell) for k in C.CLASSES for ell in E.LIGHTS if C.confusable(k, ell)}
    assert pairs == {("disc_mid", "dim"): "disc", ("disc_dark", "dim"): "disc_mid"}
    lit_disc = E.light(torch.tensor(E.class_spec("disc")[1]).expand(1, 1, 3), "dim")[0, 0]
    torch.testing.assert_close(lit_disc, torch.tensor(E.class_spec("disc_mid")[1]), atol=1e-3, rtol=0)
    assert "disc_mid" not in E.EvidenceWorld("sd15").classes, "the default world never draws the added class"
    with pytest.raises(KeyError, match="unknown class"):
        E.class_spec("teapot")


@pytest.fixture(scope="module")
def confusable():
    import evidence_confusable as C
    rows = C.evaluate(cells=("sd15 euler normal 20",), methods=("default", "paste", "img2img_0.3"), seeds=27,
                      extra=4, progress=False)
    return {m: v for (c, m), v in C.summarise(rows).items()}, rows


def test_confusable_world_default_misses_exactly_the_confusable_runs(confusable):
    """Measured (section 36): the default draws the object whose lit colour the cut-out has in every
    confusable run, and every other run right; the paste fails the joint bar everywhere. A change here
    means the guidance changed what this world measures: re-measure."""
    stats, rows = confusable
    d = stats["default"]
    assert d["confusable"][2] == 2 + 8 and d["confusable"][0] == 0.0, d
    assert d["rest"][0] == 1.0, d
    assert set(d["wrong"]) == {"disc", "disc_mid"}
    assert stats["paste"]["all"][0] == 0.0
    assert max(float(r["known_err"]) for r in rows if r["method"] == "default") == 0.0
