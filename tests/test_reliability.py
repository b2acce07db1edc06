"""The product's promise with DEFAULT widgets: the placed target appears where it is placed.

A representative subset of benchmarks/reliability.py (the full grid is in benchmarks/results.md):
an exact-posterior model whose hole can hold one of five objects (one of which the unguided model
never produces), eps and flow noise spaces, FillBlank Sampler and Sampler Select (through
ComfyUI's SamplerCustom path), three kinds of base sampler (ancestral, multistep, two-evaluation)
× two schedulers × 4 and 20 steps; 48 seeds per cell, the five classes in turn; ≥ 95 % hits.
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

SEEDS = 48
SAMPLERS = ("euler_ancestral", "dpmpp_2m", "heun")


@pytest.fixture(scope="module")
def chains(pack):
    import comfy.model_base
    import comfy.utils
    import reliability as R
    if not hasattr(comfy.model_base.ModelType, "FLOW"):
        pytest.fail("the ComfyUI host has no flow models (ModelType.FLOW); the test host is 0.3.75 or newer")
    comfy.utils.PROGRESS_BAR_ENABLED = False
    return R, {space: R.Chain(pack, R.World(space)) for space in ("eps", "flow")}


def _cells():
    for space, schedulers in (("eps", ("normal", "karras")), ("flow", ("simple", "karras"))):
        for node in ("sampler", "select"):
            for sampler in SAMPLERS:
                for scheduler in schedulers:
                    for steps in (4, 20):
                        yield space, node, sampler, scheduler, steps


@pytest.mark.parametrize("space,node,sampler,scheduler,steps", list(_cells()))
def test_target_appears_with_default_widgets(chains, space, node, sampler, scheduler, steps):
    R, ch = chains
    misses = []
    for s in range(SEEDS):
        name = R.CLASSES[s % len(R.CLASSES)]
        hit, _ = ch[space].run(node, name, 1000 + s, steps, sampler, scheduler)
        if not hit:
            misses.append((s, name))
    assert len(misses) <= int(0.05 * SEEDS), f"{len(misses)} of {SEEDS} seeds missed the target: {misses}"


def test_the_rare_class_never_comes_without_guidance(chains):
    """The check above is meaningful: without the target the model never paints the rare class."""
    R, ch = chains
    for space in ("eps", "flow"):
        rates = R.unguided_rates(ch[space].world, ch[space], SEEDS)
        assert rates[R.RARE] == 0.0, rates
        assert max(rates.values()) < 0.95  # and it does not always paint the same thing either


@pytest.mark.parametrize("sampler,scheduler,steps", [("euler", "normal", 10), ("dpmpp_2m", "karras", 6)])
def test_both_chains_repaint_the_same_cells_from_the_same_mask(chains, sampler, scheduler, steps):
    """FillBlank Sampler (hole MASK input) and Sampler Select + Set Latent Noise Mask (the same MASK
    at full size, resized by ComfyUI) follow one repaint rule: same seed, same result."""
    R, ch = chains
    c = ch["eps"]
    hit_a, a = c.run("sampler", "ring", 7, steps, sampler, scheduler)
    hit_b, b = c.run("select", "ring", 7, steps, sampler, scheduler)
    assert hit_a and hit_b
    assert torch.equal(a, b)
    _, hole = c.prepare("ring", "union")
    from fillblank_core.masks import latent_hole
    keep = (latent_hole(hole, a.shape[-2:]) == 0).expand_as(a)
    assert torch.equal(a[keep], c.latent["samples"][keep])
    assert (a[~keep] - c.latent["samples"][~keep]).abs().max() > 0.5  # the ring was painted in
