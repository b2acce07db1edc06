"""The guidance design, each property checked where it can fail:

* λ's default axis is the run the user asked for: it holds the target at the run's first model
  call and has let go by its last, on every schedule (SD1.5-style eps normal / karras / 4-step,
  flow with shift 1, SD3's shift 3, Flux's resolution shift, 4-step distilled flow) — so a 4-step
  shift-3 run is not a paste;
* every latent cell the object touches is the object's (thin parts survive): λ = 1 reproduces the
  target in each of them, a partly covered cell included;
* keep ↔ adapt: 0 is the paste, 1 no target, monotonic in between;
* CFG++ samplers, which step with the unconditional prediction caught in a post-CFG hook, are
  guided in their steps, not only in the returned prediction.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fillblank_core import masks as M
from fillblank_core.sampling import sample_fillblank
from fillblank_core.ranges import DEFAULT_ADAPT
from fillblank_core.schedules import LambdaSchedule, adapt_keyframes
from fillblank_core.spaces import NoiseSpace

PREVIOUS_DEFAULT = LambdaSchedule(kind="keyframes", axis="noise", keyframes="0:1, 0.6:1, 0.8:0")


# --- today's schedules, computed as ComfyUI computes them ---------------------------------------

def karras(n, lo=0.0292, hi=14.6146, rho=7.0):
    ramp = np.linspace(0, 1, n)
    s = (hi ** (1 / rho) + ramp * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
    return list(s) + [0.0]


def eps_normal(n):
    """SD1.5's 'normal' scheduler: n timesteps evenly spaced over the 1000 of the scaled-linear betas."""
    betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000) ** 2
    alphas = np.cumprod(1 - betas)
    sig = np.sqrt((1 - alphas) / alphas)
    t = np.linspace(999, 0, n)
    return [float(np.interp(v, np.arange(1000), sig)) for v in t] + [0.0]


def flow(n, shift=1.0, mu=None):
    """Flow sigmas at n steps: SD3's shift, or Flux's exponential time shift with mu."""
    t = np.linspace(1, 0, n + 1)[:-1]
    if mu is not None:
        s = math.exp(mu) / (math.exp(mu) + (1 / t - 1))
    else:
        s = shift * t / (1 + (shift - 1) * t)
    return [float(v) for v in s] + [0.0]


SCHEDULES = {
    "eps normal 20": ("eps", eps_normal(20)),
    "eps karras 20": ("eps", karras(20)),
    "eps 4-step (LCM-like)": ("eps", [14.6146, 2.5, 0.9, 0.3, 0.0]),
    "eps denoise 0.5": ("eps", eps_normal(40)[20:]),
    "flow shift 1, 20": ("flow", flow(20)),
    "flow shift 3, 20 (SD3)": ("flow", flow(20, 3.0)),
    "flow Flux mu 1.15, 20": ("flow", flow(20, mu=1.15)),
    "flow shift 3, 4 steps (distilled)": ("flow", flow(4, 3.0)),
    "flow Flux mu 1.15, 4 steps": ("flow", flow(4, mu=1.15)),
}


def _space(name):
    return NoiseSpace.eps() if name == "eps" else NoiseSpace.flow()


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_default_holds_first_and_lets_go_by_the_last_model_call(name):
    space_name, sig = SCHEDULES[name]
    space = _space(space_name)
    sched = LambdaSchedule.default()
    calls = [v for v in sig if v > 0]
    lam = [sched.at_sigma(v, sig, space.coefficients) for v in calls]
    assert lam[0] == 1.0, f"{name}: the target is not held at the first model call (λ {lam[0]})"
    assert lam[-1] == 0.0, f"{name}: λ is {lam[-1]:.3f} at the last model call: the pull never ends"
    assert all(a >= b for a, b in zip(lam, lam[1:])), f"{name}: λ rises again: {lam}"
    # the device table the sampler interpolates gives the same values at the calls
    knots, values = sched.table(sig, space.coefficients)
    assert np.allclose(np.interp(calls, knots, values), lam, atol=1e-3)


def test_the_previous_default_never_let_go_on_a_4_step_shift_3_run():
    """Why the axis changed: the fixed noise axis is still at λ = 1 on the last call of these runs."""
    for name in ("flow shift 3, 4 steps (distilled)", "flow Flux mu 1.15, 4 steps"):
        space_name, sig = SCHEDULES[name]
        last = min(v for v in sig if v > 0)
        assert PREVIOUS_DEFAULT.at_sigma(last, sig, _space(space_name).coefficients) == 1.0


class ConstantModel:
    """A model that always predicts its own picture Y (what it would draw) — depends on nothing,
    so what ends up in the silhouette is decided by the guidance alone."""

    def __init__(self, y):
        self.y = y
        self.calls = 0

    def __call__(self, x, sigma, **kwargs):
        self.calls += 1
        return self.y.expand_as(x).clone()


def test_a_4_step_shift_3_run_is_not_a_paste():
    _, sig = SCHEDULES["flow shift 3, 4 steps (distilled)"]
    y = torch.full((1, 4, 8, 8), 0.3)
    target = torch.full((1, 4, 8, 8), -0.7)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:6, 2:6] = 1.0
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    kw = dict(target=target, target_mask=mask, noise_scaling=NoiseSpace.flow(), seed=0)
    out = sample_fillblank(ConstantModel(y), x, torch.tensor(sig), **kw)
    inside = mask.expand_as(out) > 0
    # the last model call is unguided, so the model's own content replaces the pasted target
    assert torch.allclose(out[inside], y.expand_as(out)[inside], atol=1e-5)
    paste = sample_fillblank(ConstantModel(y), x, torch.tensor(sig), schedule=PREVIOUS_DEFAULT, **kw)
    assert torch.equal(paste[inside], target.expand_as(out)[inside]), "the previous default was a paste here"


# --- touched cells --------------------------------------------------------------------------------

def test_every_cell_an_object_touches_is_the_objects():
    m = torch.zeros(1, 64, 64)
    m[:, 8:56, 21:23] = 1.0            # a 2-px stick: a quarter of each cell of column 2
    m[:, 40, 40] = 0.5 / 255           # dust below one step of an 8-bit alpha
    m[:, 60:62, 60:62] = 1.0           # a 2×2-px dot in the corner cell
    t = M.touched_latent(m, (8, 8))
    assert t.shape == (1, 1, 8, 8)
    expect = torch.zeros(1, 1, 8, 8)
    expect[..., 1:7, 2] = 1.0
    expect[..., 7, 7] = 1.0
    assert torch.equal(t, expect)
    assert set(t.unique().tolist()) <= {0.0, 1.0}


def test_lambda_one_reproduces_the_target_in_every_touched_cell_at_every_step():
    """Observed through the per-step callback, before the final overwrite."""
    pix = torch.zeros(1, 64, 64)
    pix[:, 8:56, 21:23] = 1.0
    mask = M.touched_latent(pix, (8, 8))
    gen = torch.Generator().manual_seed(3)
    target = torch.randn(1, 4, 8, 8, generator=gen)
    y = torch.randn(1, 4, 8, 8, generator=gen)

    def model(x, sigma, **kwargs):  # depends on its input
        return 0.5 * x / (1 + sigma.reshape(-1, 1, 1, 1) ** 2) + y

    seen = []
    sig = torch.tensor(karras(10))
    x = torch.randn(1, 4, 8, 8, generator=gen) * sig[0]
    sample_fillblank(model, x, sig, target=target, target_mask=mask, schedule=1.0, seed=1,
                     callback=lambda d: seen.append(d["denoised"].clone()))
    assert len(seen) == 10
    inside = mask.expand_as(target) > 0
    for i, d in enumerate(seen):
        assert torch.equal(d[inside], target[inside]), f"step {i}: a touched cell is not the target"
        assert not torch.allclose(d[~inside], target[~inside]), "outside the silhouette the model is free"


# --- keep ↔ adapt --------------------------------------------------------------------------------

def test_keep_adapt_ends_are_paste_and_no_target_and_it_is_monotonic():
    _, sig = SCHEDULES["eps karras 20"]
    calls = [v for v in sig if v > 0]

    def lam(a):
        s = LambdaSchedule.adapt(a)
        return np.array([s.at_sigma(v, sig) for v in calls])
    assert np.all(lam(0.0) == 1.0)
    assert np.all(lam(1.0) == 0.0)
    prev = lam(0.0)
    for a in np.linspace(0.05, 1.0, 20):
        cur = lam(a)
        assert np.all(cur <= prev + 1e-12), f"adapt {a}: λ rose somewhere"
        prev = cur
    assert LambdaSchedule.default() == LambdaSchedule.adapt(DEFAULT_ADAPT)
    assert lam(DEFAULT_ADAPT)[-1] == 0.0
    with pytest.raises(ValueError, match="adapt must be a number between 0 and 1"):
        adapt_keyframes(1.5)


# --- CFG++ ----------------------------------------------------------------------------------------

def cfg_model(uncond_fn, cond_fn, scale=3.0):
    """A denoiser that does CFG as ComfyUI's sampling_function does, post-CFG hooks included."""
    def model(x, sigma, model_options=None, **kwargs):
        u, c = uncond_fn(x), cond_fn(x)
        out = u + (c - u) * scale
        for fn in (model_options or {}).get("sampler_post_cfg_function", []):
            out = fn({"denoised": out, "uncond_denoised": u, "cond_denoised": c, "sigma": sigma, "input": x})
        return out
    return model


def euler_cfg_pp(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """CFG++ Euler as ComfyUI's: the step direction uses the hook's unconditional prediction, and
    the hook is written into the extra_args dict it is given (in place, as ComfyUI does)."""
    extra_args = {} if extra_args is None else extra_args
    caught = {}

    def hook(args):
        caught["u"] = args["uncond_denoised"]
        return args["denoised"]
    opts = dict(extra_args.get("model_options", {}))
    opts["sampler_post_cfg_function"] = opts.get("sampler_post_cfg_function", []) + [hook]
    extra_args["model_options"] = opts
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "denoised": denoised})
        d = (x - caught["u"]) / sigmas[i]
        x = denoised + d * sigmas[i + 1]
    return x


def test_cfg_pp_steps_are_guided_not_only_the_prediction():
    gen = torch.Generator().manual_seed(5)
    target = torch.randn(1, 4, 8, 8, generator=gen)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:6, 2:6] = 1.0
    model = cfg_model(lambda x: 0.3 * x + 0.2, lambda x: 0.5 * x - 0.1)
    sig = torch.tensor(karras(8))
    xs = []
    x = torch.randn(1, 4, 8, 8, generator=gen) * sig[0]
    sample_fillblank(model, x, sig, sampler=euler_cfg_pp, target=target, target_mask=mask, schedule=1.0,
                     seed=0, callback=lambda d: xs.append(d["x"].clone()))
    inside = mask.expand_as(target) > 0
    # at w = 1 both the prediction and the hook's unconditional prediction are the target, so
    # the state's distance to the target shrinks exactly with sigma, step after step
    for i in range(len(xs) - 1):
        want = (xs[i] - target) * (sig[i + 1] / sig[i])
        assert torch.allclose((xs[i + 1] - target)[inside], want[inside], atol=1e-5), f"step {i} unguided"


@pytest.mark.host
@pytest.mark.parametrize("sampler_name", ["euler_cfg_pp"])
def test_cfg_pp_steps_are_guided_in_comfyui(tiny, sampler_name):
    """ComfyUI's own CFG++ samplers inside sample_fillblank, cfg 3 with a conditioning that
    differs from the unconditional one: in the cells held at λ = 1 the state moves straight to the
    target (distance × σ_next/σ per step), as it would with the target as its prediction; the
    known region is the latent's."""
    import comfy.sample
    import comfy.samplers
    model = tiny.tiny_model()
    gen = torch.Generator().manual_seed(11)
    latent = torch.randn(1, 4, 16, 16, generator=gen)
    target = torch.randn(1, 4, 16, 16, generator=gen)
    tmask = torch.zeros(1, 1, 16, 16)
    tmask[..., 5:11, 4:10] = 1.0
    hole = torch.zeros(1, 1, 16, 16)
    hole[..., 4:12, 3:11] = 1.0
    base = comfy.samplers.ksampler(sampler_name)
    ks = comfy.samplers.KSAMPLER(sample_fillblank, extra_options=dict(
        sampler=base.sampler_function, sampler_options=base.extra_options, target=target, target_mask=tmask,
        schedule=1.0))
    sig = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", 8)
    states = []
    cond = [[torch.randn(1, 1, 32, generator=gen), {}]]
    uncond = [[torch.zeros(1, 1, 32), {}]]
    out = comfy.sample.sample_custom(model, comfy.sample.prepare_noise(latent, 4), 3.0, ks, sig, cond, uncond,
                                     latent, noise_mask=hole, seed=4,
                                     callback=lambda step, x0, x, total: states.append(x.clone()))
    assert len(states) == 8
    inside = tmask.expand_as(target) > 0
    for i in range(len(states) - 1):
        want = (states[i] - target) * (float(sig[i + 1]) / float(sig[i]))
        assert torch.allclose((states[i + 1] - target)[inside], want[inside], atol=1e-4), f"step {i} unguided"
    assert torch.equal(out[hole.expand_as(out) == 0], latent[hole.expand_as(latent) == 0])


# --- the axes, the table and the context hold, exactly ------------------------------------------

def test_noise_and_run_positions_use_the_noise_to_signal_ratio_of_flow():
    from fillblank_core.schedules import noise_position, run_bounds, run_position
    fl = NoiseSpace.flow()
    # flow at σ = 0.5: a = s = 0.5, NSR 1 -> 0.4 on the fixed noise axis (log2 NSR from 4 to −6)
    assert noise_position(*fl.coefficients(0.5)) == pytest.approx(0.4)
    assert noise_position(*fl.coefficients(0.2)) == pytest.approx((4 - math.log2(0.25)) / 10)
    sig = [1.0, 0.75, 0.5, 0.25, 0.0]
    bounds = run_bounds(sig, fl.coefficients)
    assert bounds == pytest.approx((4.0, math.log2(1 / 3)))
    got = [run_position(*fl.coefficients(v), bounds) for v in sig[:-1]]
    want = [(4 - min(4, math.log2(v / (1 - v)) if v < 1 else 4)) / (4 - math.log2(1 / 3)) for v in sig[:-1]]
    assert got == pytest.approx(want)


SGM_UNIFORM_4 = [14.6146, 4.0861, 1.6156, 0.6952, 0.0]  # ComfyUI's sgm_uniform, 4 steps, SD1.5


@pytest.mark.parametrize("space_name,sig", [("eps", SGM_UNIFORM_4), ("flow", flow(4)), ("flow", flow(4, 3.0)),
                                            ("eps", eps_normal(4)), ("eps", karras(4))])
def test_default_holds_through_every_call_before_the_last_of_a_4_step_run(space_name, sig):
    """Measured (benchmarks/evidence.py, reliability.py): a partial release at the penultimate call
    of a few-step run loses the object; the default holds it there and lets go at the last call."""
    space = _space(space_name)
    sched = LambdaSchedule.default()
    calls = [v for v in sig if v > 0]
    assert [sched.at_sigma(v, sig, space.coefficients) for v in calls[:-1]] == [1.0] * (len(calls) - 1)
    assert sched.at_sigma(calls[-1], sig, space.coefficients) == 0.0
    # and on a long run it is letting go over the last quarter of the run axis: λ = 0.5 at 0.875
    assert sched(0.875) == pytest.approx(0.5) and sched(0.75) == 1.0


class LatentFormatModel(ConstantModel):
    """A denoiser that carries ComfyUI's process_latent_in (found as on BaseModel)."""

    model_sampling = object()

    @staticmethod
    def process_latent_in(x):
        return (x - 0.0609) * 1.5305  # SD3's latent format


def test_the_target_is_put_through_the_models_process_latent_in():
    y = torch.zeros(1, 16, 8, 8)
    target = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(2))
    mask = torch.ones(1, 1, 8, 8)
    x = torch.randn(1, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    out = sample_fillblank(LatentFormatModel(y), x, torch.tensor(flow(6)), target=target, target_mask=mask,
                           schedule=1.0, noise_scaling=NoiseSpace.flow(), seed=0)
    assert torch.equal(out, LatentFormatModel.process_latent_in(target))


def test_the_device_table_interpolates_between_the_run_sigmas():
    """Heun/DPM midpoints and time travel fall between the run's sigmas: the device table gives λ
    there as at_sigma does (to 1e-3), not the nearest knot's."""
    from fillblank_core.sampling import GuidedDenoiser
    sig = eps_normal(12)
    sched = LambdaSchedule.linear(1.0, 0.0, axis="steps")  # over steps: λ changes between every pair of sigmas
    space = NoiseSpace.eps()
    table = sched.table(sig, space.coefficients)
    g = GuidedDenoiser(None, torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2), table, space)
    mids = [math.sqrt(a * b) for a, b in zip(sig[:-2], sig[1:-1])]
    got = [float(g.weight(torch.tensor([m]))[0, 0, 0, 0]) for m in mids]
    assert got == pytest.approx([sched.at_sigma(m, sig) for m in mids], abs=1e-3)


def test_the_rest_of_the_hole_is_held_over_the_noisiest_part_of_the_run_only():
    from fillblank_core.sampling import _guide
    sig = karras(40)
    space = NoiseSpace.eps()
    x = torch.zeros(1, 4, 8, 8)
    hole = torch.zeros(1, 1, 8, 8)
    hole[..., 1:7, 1:7] = 1.0
    tmask = torch.zeros(1, 1, 8, 8)
    tmask[..., 3:5, 3:5] = 1.0
    g = _guide(ConstantModel(x), x, sig, space, torch.randn(1, 4, 8, 8), tmask, None, "matched", hole, True, True)
    sched = LambdaSchedule.default()
    bounds_sig = [v for v in sig if v > 0]

    def ctx_weight_at(p):  # the sigma at run position p, then the weight of a context cell there
        hi, lo = math.log2(max(bounds_sig)), math.log2(min(bounds_sig))
        s = 2 ** (hi - p * (hi - lo))
        return float(g.weight(torch.tensor([s]))[0, 0, 1, 1]), sched.at_sigma(s, sig)
    for p, want in ((0.0, 1.0), (0.45, 1.0), (0.55, 0.5), (0.65, 0.0), (0.9, 0.0)):
        w, lam = ctx_weight_at(p)
        assert w == pytest.approx(lam * want, abs=2e-3), f"context weight at run position {p}"


def heun(model, x, sigmas, extra_args=None, callback=None, disable=None, seen=None):
    """k-diffusion's Heun: a predictor call at σ_i and a corrector call at σ_{i+1} per step."""
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        seen.append((i, "predictor", denoised.clone()))
        d = (x - denoised) / sigmas[i]
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == 0:
            x = x + d * dt
            continue
        x2 = x + d * dt
        denoised2 = model(x2, sigmas[i + 1] * s_in, **extra_args)
        seen.append((i, "corrector", denoised2.clone()))
        x = x + (d + (x2 - denoised2) / sigmas[i + 1]) / 2 * dt
    return x


def test_two_call_samplers_get_lambda_of_the_step_for_both_calls():
    """With calls_per_step 2 (as the nodes pass for heun, dpm_2, …) the corrector at σ_{i+1} is pulled
    with λ(σ_i), like its predictor: the prediction of a model that predicts 0, pulled toward a
    target of 1, is exactly the weight w."""
    sig = karras(6)
    sched = LambdaSchedule.linear(1.0, 0.0, axis="steps")  # over steps: a different λ at every step
    mask = torch.ones(1, 1, 4, 4)
    for per_step in (2, 1):
        seen = []
        sample_fillblank(ConstantModel(torch.zeros(1, 4, 4, 4)), torch.zeros(1, 4, 4, 4), torch.tensor(sig),
                         sampler=heun, sampler_options={"seen": seen}, target=torch.ones(1, 4, 4, 4),
                         target_mask=mask, schedule=sched, seed=0, calls_per_step=per_step)
        lam = [sched.at_sigma(v, sig) for v in sig[:-1]]
        got = [(i, role, float(d[0, 0, 0, 0])) for i, role, d in seen]
        if per_step == 2:
            assert got == [(i, role, pytest.approx(lam[i], abs=1e-6)) for i, role, _ in got]
        else:  # keyed by sigma alone: the corrector gets the next step's λ
            assert [g for i, role, g in got if role == "corrector"] == pytest.approx(lam[1:], abs=1e-3)


@pytest.mark.parametrize("hooks,resample", [(1, 1), (2, 1), (1, 3)])
def test_post_cfg_hooks_pull_once_at_partial_weight(hooks, resample):
    """λ = 0.5: what the sampler gets back and what its hook saw as the unconditional prediction are
    both w of the way to the target — with pass-through hooks stacked, and across resampling passes
    (where a CFG++ sampler's hook must not pile up)."""
    sig = torch.tensor(karras(6))
    target = torch.ones(1, 4, 4, 4)
    mask = torch.ones(1, 1, 4, 4)
    counts, seen = [], []

    def model(x, sigma, model_options=None, **kwargs):  # CFG of two zero predictions, hooks run
        fns = (model_options or {}).get("sampler_post_cfg_function", [])
        counts.append(len(fns))
        out, zero = torch.zeros_like(x), torch.zeros_like(x)
        for fn in fns:
            out = fn({"denoised": out, "uncond_denoised": zero, "cond_denoised": zero, "sigma": sigma, "input": x})
        return out
    passthrough = [lambda a: a["denoised"]] * (hooks - 1)

    def sampler(m, x, sigmas, extra_args=None, callback=None, disable=None):
        def record(a):
            seen.append(float(a["uncond_denoised"][0, 0, 0, 0]))
            return a["denoised"]
        opts = dict(extra_args.get("model_options", {}))
        opts["sampler_post_cfg_function"] = opts.get("sampler_post_cfg_function", []) + [record]
        extra_args["model_options"] = opts  # in place, as ComfyUI's CFG++ samplers do
        for i in range(len(sigmas) - 1):
            got = m(x, sigmas[i] * x.new_ones([1]), **extra_args)
            assert float(got[0, 0, 0, 0]) == pytest.approx(0.5), "the returned prediction is pulled more than w"
        return x
    sample_fillblank(model, torch.zeros(1, 4, 4, 4), sig, {"model_options": {"sampler_post_cfg_function": passthrough},
                                                          "seed": 3},
                     sampler=sampler, target=target, target_mask=mask, schedule=0.5, jump_length=2, resample=resample)
    assert set(counts) == {hooks}, f"hooks per call {sorted(set(counts))}: they pile up across passes"
    assert seen and all(v == pytest.approx(0.5) for v in seen)


def test_the_run_axis_ends_at_the_last_model_call_of_a_split_schedule():
    """SplitSigmas / custom sigmas that stop above 0: the model is called at every sigma but the last."""
    sig = [14.6, 6.0, 2.5, 1.0]
    lam = [LambdaSchedule.default().at_sigma(v, sig) for v in sig[:-1]]
    assert lam[0] == 1.0 and lam[-1] == 0.0, lam
