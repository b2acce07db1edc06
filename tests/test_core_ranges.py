"""Ranges said as they are, each value checked once, and a warning for settings that cost hours.

Every numeric widget of every node has the range of fillblank_core.ranges (one source for the
widget and the message), and a value outside it is refused with a message that states exactly the
widget's range, before any model, VAE or SAM work. Fill-in Sampler logs the evaluation count and
how to lower it when the settings cost more than 5 × the step count, before any model work."""

from __future__ import annotations

import logging

import pytest
import torch

from fillblank_core import ranges as R
from fillblank_core.sampling import SAMPLER_COST, count_model_evaluations, count_steps

pytestmark = pytest.mark.host
H, W = 64, 96


class NoModel:
    """A MODEL / VAE / SAM that fails on any use."""

    def __getattr__(self, name):
        raise AssertionError(f"model work started ({name})")


@pytest.fixture(scope="module")
def env(pack, tiny):
    g = torch.Generator().manual_seed(0)
    scene = torch.rand(1, H, W, 3, generator=g)
    target = torch.zeros(1, 40, 40, 4)
    target[..., :3] = torch.tensor([0.9, 0.1, 0.1])
    target[0, 10:30, 10:30, 3] = 1.0
    nodes = pack.nodes.NODES_BY_ID
    rec = nodes["FillBlankTargetEncoder"].execute(target, scene, tiny.tiny_vae(), 0.5, 0.5, 0.5, False)[0]
    hole = torch.zeros(1, H, W)
    hole[:, 20:44, 30:66] = 1.0
    return dict(nodes=nodes, scene=scene, target=target, rec=rec, hole=hole,
                latent={"samples": rec.latent.clone()}, cond=tiny.empty_conditioning())


def numeric_widgets(nodes):
    for node_id, cls in sorted(nodes.items()):
        spec = cls.INPUT_TYPES()
        for section in ("required", "optional"):
            for name, decl in (spec.get(section) or {}).items():
                if decl[0] in ("INT", "FLOAT"):
                    yield node_id, name, decl[0], decl[1]


def call_with(env, node_id: str, **override):
    """Call a node's function with valid values for everything but ``override`` (models that
    fail on use: the checks must come first)."""
    n = env["nodes"]
    if node_id == "FillBlankTargetEncoder":
        args = dict(target=env["target"], scene=env["scene"], vae=NoModel(), x=0.5, y=0.5, scale=0.4, flip=False,
                    cutout="auto")
        return n[node_id].execute(**{**args, **override})
    if node_id == "FillBlankMaskRefiner":
        args = dict(mode="union", grow=8, feather=0, threshold=0.0, hole=env["hole"], target=env["rec"])
        return n[node_id].execute(**{**args, **override})
    if node_id == "FillBlankLambdaSchedule":
        args = dict(kind="linear", start=1.0, end=0.0, value=0.8, cutoff=0.5, rate=5.0, keyframes="0:1, 1:0",
                    preview_steps=20)
        return n[node_id].execute(**{**args, **override})
    if node_id == "FillBlankSampler":
        args = dict(model=NoModel(), positive=env["cond"], negative=env["cond"], latent_image=env["latent"],
                    target=env["rec"], hole=env["hole"], seed=0, steps=30, cfg=7.0, sampler_name="euler",
                    scheduler="normal", denoise=1.0, jump_length=10, resample=1, blend="matched")
        return n[node_id].execute(**{**args, **override})
    if node_id == "FillBlankSamplerSelect":
        args = dict(sampler_name="euler", target=env["rec"], jump_length=10, resample=1, blend="matched")
        return n[node_id].execute(**{**args, **override})
    if node_id == "FillBlankComposite":
        args = dict(scene=env["scene"], image=env["scene"], mask=env["hole"], feather=8, color_match=False)
        return n[node_id].execute(**{**args, **override})
    if node_id == "FillBlankInsert":
        args = dict(model=NoModel(), vae=NoModel(), positive=env["cond"], negative=env["cond"], scene=env["scene"],
                    target=env["target"], fit="x-y-scale", x=0.5, y=0.5, scale=0.4, flip=False, cutout="auto",
                    seed=0, steps=30, cfg=7.0, sampler_name="euler", scheduler="normal", denoise=1.0,
                    jump_length=10, resample=1, working_size=1024, context=0.25, feather=8, color_match=False,
                    hole=env["hole"])
        return n[node_id].execute(**{**args, **override})
    if node_id == "FillBlankCrop":
        args = dict(scene=env["scene"], hole=env["hole"], working_size=1024, context=0.25)
        return n[node_id].execute(**{**args, **override})
    raise KeyError(f"no caller for {node_id}: add one here")


def test_every_numeric_widget_has_the_core_range(pack):
    seen = []
    for node_id, name, typ, opts in numeric_widgets(pack.nodes.NODES_BY_ID):
        assert name in R.WIDGETS, f"{node_id}.{name} has no range in fillblank_core.ranges.WIDGETS"
        r = R.WIDGETS[name]
        assert (opts["min"], opts["max"]) == (r.low, r.high), f"{node_id}.{name}: widget {opts['min']}..{opts['max']}, core {r.text()}"
        assert (typ == "INT") == r.integer and opts["step"] == r.step, f"{node_id}.{name}"
        seen.append(f"{node_id}.{name}")
    assert len(seen) >= 18


def _out_of_range(typ, opts):
    step = 1 if typ == "INT" else opts.get("step", 0.01)
    low, high = opts["min"] - step, opts["max"] + step
    return (int(low), int(high)) if typ == "INT" else (round(low, 6), round(high, 6))


def test_out_of_range_values_state_exactly_the_widgets_range(pack, env):
    failures = []
    for node_id, name, typ, opts in numeric_widgets(pack.nodes.NODES_BY_ID):
        fmt = (lambda v: str(int(v))) if typ == "INT" else (lambda v: f"{float(v):g}")
        want = f"{name} must be a {'whole number' if typ == 'INT' else 'number'} between {fmt(opts['min'])} and {fmt(opts['max'])}"
        for bad in _out_of_range(typ, opts):
            try:
                call_with(env, node_id, **{name: bad})
                failures.append(f"{node_id}.{name}={bad}: accepted")
            except ValueError as e:
                if want not in str(e):
                    failures.append(f"{node_id}.{name}={bad}: {e}  (wanted: {want!r})")
            except AssertionError as e:
                failures.append(f"{node_id}.{name}={bad}: {e} before the range was checked")
    assert failures == [], "\n".join(failures)


NODES_WITH_CALLERS = ("FillBlankTargetEncoder", "FillBlankMaskRefiner", "FillBlankLambdaSchedule", "FillBlankSampler",
                      "FillBlankSamplerSelect", "FillBlankComposite", "FillBlankInsert", "FillBlankCrop")


@pytest.mark.parametrize("node_id", NODES_WITH_CALLERS)
def test_each_value_is_checked_once(pack, env, monkeypatch, node_id):
    """Every numeric widget and every choice a node checks is checked exactly once on the way to the
    model (the node, the shared glue and the core together): counted at the one range check
    (ranges.Range.check) and the one choice check (ranges.check_choice) of the loaded pack."""
    import importlib
    PR = importlib.import_module(pack.__name__ + ".fillblank_core.ranges")
    counts = {}
    check, choice = PR.Range.check, PR.check_choice

    def counting_check(self, name, value):
        counts[name] = counts.get(name, 0) + 1
        return check(self, name, value)

    def counting_choice(name, value, options):
        counts[name] = counts.get(name, 0) + 1
        return choice(name, value, options)
    monkeypatch.setattr(PR.Range, "check", counting_check)
    monkeypatch.setattr(PR, "check_choice", counting_choice)
    try:
        call_with(env, node_id)
    except AssertionError as e:  # the node reached the model: every check is behind it
        assert "model work started" in str(e), e
    numeric = {name for nid, name, _, _ in numeric_widgets(env["nodes"]) if nid == node_id}
    assert numeric <= set(counts), f"{node_id}: not checked: {sorted(numeric - set(counts))}"
    assert {k: n for k, n in counts.items() if n != 1} == {}, f"{node_id}: checked more than once: {counts}"


# --- cost warning -----------------------------------------------------------------------------------

def _fillblank_warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "model evaluations" in r.getMessage()]


def test_cost_warning_before_any_model_work(env, caplog):
    n = count_model_evaluations(10000, 10, 100, "euler")
    assert n > 900_000
    with caplog.at_level(logging.WARNING):
        with pytest.raises(AssertionError, match="model work started"):
            call_with(env, "FillBlankSampler", steps=10000, jump_length=10, resample=100)
    msgs = _fillblank_warnings(caplog)
    assert len(msgs) == 1, caplog.text
    msg = msgs[0]
    assert f"{n:,} model evaluations" in msg and "steps 10000" in msg and "resample 100" in msg
    assert "steps + ⌈(steps − j)/j⌉·(r − 1)·j" in msg and "To lower it" in msg and "resample 2–4" in msg


def test_no_cost_warning_for_the_defaults(env, caplog, pack):
    spec = pack.nodes.NODES_BY_ID["FillBlankSampler"].INPUT_TYPES()["required"]
    defaults = {k: spec[k][1]["default"] for k in ("steps", "jump_length", "resample")}
    with caplog.at_level(logging.WARNING):
        with pytest.raises(AssertionError, match="model work started"):
            call_with(env, "FillBlankSampler", **defaults)
    assert _fillblank_warnings(caplog) == []


@pytest.mark.parametrize("sampler,steps,j,r,warn", [
    ("euler", 30, 10, 7, False),      # 150 = 5 × 30: not above
    ("euler", 30, 10, 8, True),       # 170
    ("heun", 30, 10, 4, True),        # two evaluations a step
    ("heun", 30, 10, 1, False),
    ("uni_pc", 30, 10, 8, True),      # not in SAMPLER_COST: counts steps
    ("uni_pc", 30, 10, 5, False),
])
def test_cost_warning_threshold_is_five_times_the_steps(pack, caplog, sampler, steps, j, r, warn):
    import importlib
    S = importlib.import_module(pack.__name__ + ".nodes.guidance")
    want = count_model_evaluations(steps, j, r, sampler) if sampler in SAMPLER_COST else count_steps(steps, j, r)
    with caplog.at_level(logging.WARNING):
        assert S.warn_cost("Fill-in Sampler", steps, j, r, sampler) == want
    assert (want > 5 * steps) == warn
    assert bool(_fillblank_warnings(caplog)) == warn, caplog.text


def test_sampler_select_warns_when_called(env, caplog):
    from fillblank_core.masks import latent_hole
    sampler = call_with(env, "FillBlankSamplerSelect", jump_length=10, resample=100)[0]
    x = env["latent"]["samples"]
    mask = latent_hole(env["hole"], x.shape[-2:])
    with caplog.at_level(logging.WARNING):
        with pytest.raises(AssertionError, match="model work started"):
            sampler.sampler_function(NoModel(), x, torch.linspace(14.6, 0.0, 1001), extra_args={"denoise_mask": mask},
                                     callback=None, disable=True, **sampler.extra_options)
    msgs = _fillblank_warnings(caplog)
    assert len(msgs) == 1 and f"{count_model_evaluations(1000, 10, 100, 'euler'):,}" in msgs[0]


def test_jump_length_and_resample_tooltips_state_the_formula(pack):
    for node_id in ("FillBlankSampler", "FillBlankSamplerSelect"):
        spec = pack.nodes.NODES_BY_ID[node_id].INPUT_TYPES()["required"]
        for name in ("jump_length", "resample"):
            tip = spec[name][1]["tooltip"]
            assert "steps + ⌈(steps − j)/j⌉·(r − 1)·j" in tip and "5 × steps" in tip, (node_id, name, tip)


def test_integer_ranges_are_exact_for_64_bit_seeds():
    import numpy as np
    top = 0xffffffffffffffff
    assert R.SEED.check("seed", top) == top == R.SEED.check("seed", np.uint64(top))
    with pytest.raises(ValueError, match=f"between 0 and {top} .*got {top + 1}$"):
        R.SEED.check("seed", top + 1)
