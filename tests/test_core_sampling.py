"""RePaint sampler core (fillblank_core.sampling / spaces) on CPU, without ComfyUI.

Every test asserts an exact property: known region bit-equal, evaluation counts equal to the
closed formula, noise levels equal to the maths of DESIGN.md §2 within stated statistical
tolerances, determinism, no mutation of inputs, fresh noise per repetition, global progress.
"""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fillblank_core import LambdaSchedule
from fillblank_lab import ExemplarDenoiser, GaussianPrior, smooth_covariance
from fillblank_core.sampling import (
    count_model_evaluations,
    count_steps,
    inpaint,
    plan_chunks,
    sample_euler,
    sample_euler_ancestral,
    sample_fillblank,
)
from fillblank_core.spaces import NoiseSpace

REPO = Path(__file__).resolve().parents[1]
SAMPLERS = {"euler": sample_euler, "euler_ancestral": sample_euler_ancestral}


def karras(n: int, sigma_min: float = 0.05, sigma_max: float = 10.0, rho: float = 7.0) -> torch.Tensor:
    """n Karras sigmas from sigma_max to sigma_min, then 0 (as k-diffusion's get_sigmas_karras)."""
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    s = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([s, torch.zeros(1, dtype=torch.float64)]).float()


def flow_sigmas(n: int) -> torch.Tensor:
    """n flow sigmas from 1.0 down, then 0."""
    return torch.linspace(1.0, 0.0, n + 1)


SPACES = {"eps": (NoiseSpace.eps, karras), "flow": (NoiseSpace.flow, flow_sigmas)}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def formula(steps: int, j: int, r: int) -> int:
    """DESIGN.md §2: steps + ceil((steps - j)/j)·(r - 1)·j for one-evaluation-per-step samplers."""
    return steps + math.ceil((steps - j) / j) * (r - 1) * j


class Counting:
    """Denoiser wrapper that counts its calls."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, x, sigma, **kwargs):
        self.calls += 1
        return self.model(x, sigma, **kwargs)


def shrink(x, sigma, **kwargs):
    """A cheap smooth denoiser: x0 = x / (1 + sigma²) (posterior mean of a unit Gaussian, eps space)."""
    s = sigma.reshape(-1, *([1] * (x.ndim - 1))) if isinstance(sigma, torch.Tensor) else sigma
    return x / (1.0 + s * s)


def scene_setup(space, batch=2, c=4, h=8, w=8, seed=0):
    """Exemplar denoiser over 4 random images, a latent, a hole mask and a target."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(4, c, h, w, generator=g)
    latent = images[:1].repeat(batch, 1, 1, 1) + 0.1 * torch.randn(batch, c, h, w, generator=g)
    hole = torch.zeros(h, w)
    hole[2:6, 1:5] = 1.0
    target = images[2:3].clone()
    return ExemplarDenoiser(images, space), latent, hole, target


def gaussian_setup(space, batch=2, c=2, h=8, w=8, seed=0):
    """Like scene_setup with a smooth Gaussian prior: its samples vary continuously with the noise."""
    g = torch.Generator().manual_seed(seed)
    prior = GaussianPrior(torch.zeros(c, h, w), smooth_covariance((c, h, w), 1.5, channel_correlation=0.3), space)
    latent = prior.sample(batch, g).float()
    hole = torch.zeros(h, w)
    hole[2:6, 1:5] = 1.0
    target = prior.sample(1, g).float()
    return prior, latent, hole, target


# --- known region ------------------------------------------------------------------------------

@pytest.mark.parametrize("space_name", ["eps", "flow"])
@pytest.mark.parametrize("sampler", ["euler", "euler_ancestral"])
@pytest.mark.parametrize("j,r", [(8, 1), (3, 3)])
@pytest.mark.parametrize("blend", ["matched", "independent"])
def test_known_region_equals_input_exactly(space_name, sampler, j, r, blend):
    make_space, make_sigmas = SPACES[space_name]
    space = make_space()
    den, latent, hole, target = scene_setup(space)
    # the target mask covers the whole image: guidance must still never leak outside the hole
    out = inpaint(den, latent, hole, make_sigmas(8), seed=3, noise_scaling=space,
                  sampler=SAMPLERS[sampler], jump_length=j, resample=r, blend=blend,
                  target=target, target_mask=torch.ones(8, 8), schedule=LambdaSchedule.constant(0.7))
    known = (hole == 0).expand_as(latent)
    assert torch.isfinite(out).all()
    assert torch.equal(out[known], latent[known])
    # and the hole was actually repainted
    assert (out[~known] - latent[~known]).abs().max() > 0.1


# --- model-evaluation count ---------------------------------------------------------------------

CASES = [(steps, j, r) for steps in (1, 3, 7, 10, 12, 25) for j in (1, 3, 10) for r in (1, 2, 5) if j <= steps]


@pytest.mark.parametrize("sampler", ["euler", "euler_ancestral"])
def test_model_evaluations_equal_formula(sampler):
    x = torch.randn(1, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    checked = 0
    for steps, j, r in CASES:
        model = Counting(shrink)
        sample_fillblank(model, x * 10.0, karras(steps), extra_args={"seed": 1},
                         sampler=SAMPLERS[sampler], jump_length=j, resample=r)
        want = formula(steps, j, r)
        assert model.calls == want, (steps, j, r)
        assert count_model_evaluations(steps, j, r, sampler) == want, (steps, j, r)
        assert count_steps(steps, j, r) == want, (steps, j, r)
        checked += 1
    assert checked == len(CASES) == 42


@pytest.mark.parametrize("steps,j,r", [(7, 3, 2), (10, 10, 5), (12, 1, 2)])
def test_model_evaluations_with_independent_blend_and_target(steps, j, r):
    """Independent blending runs the base sampler one step at a time: still the same count."""
    x = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 10
    model = Counting(shrink)
    sample_fillblank(model, x, karras(steps), extra_args={"seed": 1}, sampler=sample_euler_ancestral,
                     jump_length=j, resample=r, blend="independent", target=torch.zeros(1, 1, 4, 4),
                     target_mask=torch.ones(4, 4), schedule=0.5)
    assert model.calls == formula(steps, j, r) == count_model_evaluations(steps, j, r, "euler_ancestral")


def test_repaint_default_count():
    assert formula(250, 10, 10) == 2410
    assert count_model_evaluations(250, 10, 10) == 2410
    assert count_steps(250, 10, 10) == 2410


def test_plan_chunks_layout():
    assert plan_chunks(7, 3, 1) == [(0, 7, 1)]
    assert plan_chunks(7, 3, 4) == [(0, 3, 4), (3, 6, 4), (6, 7, 1)]
    assert plan_chunks(6, 3, 2) == [(0, 3, 2), (3, 6, 1)]


def test_counts_take_the_nodes_checked_values_and_blend_is_refused():
    """steps, jump_length and resample are checked once, by the node (ranges; tests/test_core_ranges.py):
    the core's planning takes them as whole numbers >= 1 and does not check them again. An unknown
    blend, which the core could not interpret, is refused by the one choice check."""
    assert plan_chunks(5, 2, 2) == plan_chunks(5.0, 2.0, 2.0)
    assert count_steps(5, 9, 3) == 5  # j above the steps: one chunk, no travelling back
    x = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="blend must be one of 'matched', 'independent', got 'mixed'"):
        sample_fillblank(shrink, x, karras(5), blend="mixed")


@pytest.mark.parametrize("steps", [1, 2, 4, 8])
@pytest.mark.parametrize("r", [1, 3])
def test_few_steps_with_default_jump_length_work(steps, r):
    """Turbo/LCM-style runs: j = 10 > steps never errors; r = 1 ignores j, r > 1 clamps it to steps
    (one chunk, which as RePaint's last chunk is not resampled)."""
    assert plan_chunks(steps, 10, r) == [(0, steps, 1)]
    assert count_steps(steps, 10, r) == steps == count_model_evaluations(steps, 10, r, "euler")
    model = Counting(shrink)
    x = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 10
    out = inpaint(model, x, torch.ones(4, 4) * (torch.arange(4) < 2)[:, None], karras(steps), seed=1,
                  jump_length=10, resample=r, target=torch.zeros(1, 1, 4, 4), target_mask=torch.ones(4, 4))
    assert model.calls == steps and torch.isfinite(out).all()


# --- re-noising ----------------------------------------------------------------------------------

RENOISE = [("eps", 0.0, 1.0), ("eps", 0.5, 3.0), ("eps", 2.0, 2.5),
           ("flow", 0.0, 0.5), ("flow", 0.2, 0.7), ("flow", 0.5, 1.0), ("flow", 0.3, 0.31)]


@pytest.mark.parametrize("space_name,lo,hi", RENOISE)
def test_renoise_gives_exact_marginal(space_name, lo, hi):
    space = SPACES[space_name][0]()
    n = 400_000
    g = torch.Generator().manual_seed(42)
    x0 = torch.rand(n, generator=g, dtype=torch.float64) * 4 - 2
    x_lo = space.noise(x0, lo, torch.randn(n, generator=g, dtype=torch.float64))
    x_hi = space.renoise(x_lo, lo, hi, torch.randn(n, generator=g, dtype=torch.float64))
    a_hi, s_hi = space.coefficients(hi)
    resid = x_hi - a_hi * x0
    # Tolerances: 5 standard errors for n samples. The mean of n N(0, s²) draws has standard error
    # s/√n; the sample std has standard error ≈ s/√(2n); a sample correlation ≈ 1/√n.
    # (n = 400k: 0.79% of s for the mean, 0.56% for the std.)
    assert abs(float(resid.mean())) <= 5 * s_hi / math.sqrt(n)
    assert abs(float(resid.std()) - s_hi) <= 5 * s_hi / math.sqrt(2 * n)
    corr = float(torch.corrcoef(torch.stack([resid, x0]))[0, 1])
    assert abs(corr) <= 5 / math.sqrt(n)
    # and the coefficients are DESIGN.md's closed form
    a_lo, s_lo = space.coefficients(lo)
    scale, std = space.renoise_coefficients(lo, hi)
    assert scale == pytest.approx(a_hi / a_lo)
    assert std == pytest.approx(math.sqrt(s_hi ** 2 - (a_hi / a_lo) ** 2 * s_lo ** 2))


@pytest.mark.parametrize("space_name,lo,hi", [("eps", 3.0, 1.0), ("flow", 0.7, 0.2)])
def test_renoise_downward_is_refused(space_name, lo, hi):
    space = SPACES[space_name][0]()
    with pytest.raises(ValueError, match="less noisy"):
        space.renoise(torch.zeros(3), lo, hi, torch.zeros(3))


@pytest.mark.parametrize("space_name", ["eps", "flow"])
def test_time_travel_renoises_with_exact_fresh_noise(space_name):
    """Inside sample_fillblank, pass p > 0 of a chunk starts from scale·(previous pass's end) + std·ε
    with DESIGN.md's (scale, std) and fresh standard normal ε, new in every pass."""
    space = SPACES[space_name][0]()
    sigmas = SPACES[space_name][1](4)
    calls = []

    def spy(model, x, sig, extra_args=None, callback=None, disable=None, **options):
        x_in = x.clone()
        out = sample_euler(model, x, sig, extra_args=extra_args, callback=callback, disable=disable)
        calls.append((float(sig[0]), float(sig[-1]), x_in, out.clone()))
        return out

    def half(x, sigma, **kwargs):
        return 0.5 * x

    g = torch.Generator().manual_seed(0)
    x = space.noise(torch.zeros(1, 1, 64, 64), sigmas[0], torch.randn(1, 1, 64, 64, generator=g))
    r = 3
    sample_fillblank(half, x, sigmas, extra_args={"seed": 5}, sampler=spy, jump_length=1, resample=r,
                     noise_scaling=space)
    assert len(calls) == formula(4, 1, r)
    n = 64 * 64
    checked = 0
    for chunk in range(3):  # chunks 0..2 get r passes, the last one 1
        passes = calls[chunk * r:(chunk + 1) * r]
        assert all(c[0] == passes[0][0] for c in passes)
        scale, std = space.renoise_coefficients(passes[0][1], passes[0][0])
        a_lo, s_lo = space.coefficients(passes[0][1])
        a_hi, s_hi = space.coefficients(passes[0][0])
        assert scale == pytest.approx(a_hi / a_lo) and std == pytest.approx(math.sqrt(s_hi ** 2 - scale ** 2 * s_lo ** 2))
        eps = [((passes[p][2] - scale * passes[p - 1][3]) / std).flatten() for p in range(1, r)]
        for e in eps:
            # standard normal: 5 standard errors for n = 4096 draws (mean 1/√n, std 1/√(2n))
            assert abs(float(e.mean())) <= 5 / math.sqrt(n)
            assert abs(float(e.std()) - 1.0) <= 5 / math.sqrt(2 * n)
        corr = float(torch.corrcoef(torch.stack(eps))[0, 1])
        assert abs(corr) <= 5 / math.sqrt(n)  # a new draw in every pass
        checked += 1
    assert checked == 3


# --- noise level under guidance --------------------------------------------------------------------

ONE_STEP = {"eps": (2.0, 1.2), "flow": (0.8, 0.5)}


def _one_guided_step(space_name, blend, lam):
    """One Euler step σ0 → σ1 from x = a0·z + s0·ε with a point-mass denoiser returning x0*."""
    space = SPACES[space_name][0]()
    s0_, s1_ = ONE_STEP[space_name]
    b, c, h, w = 256, 4, 8, 8
    g = torch.Generator().manual_seed(7)
    z = torch.randn(1, c, h, w, generator=g, dtype=torch.float64)
    x0_star = torch.randn(1, c, h, w, generator=g, dtype=torch.float64)
    target = torch.randn(1, c, h, w, generator=g, dtype=torch.float64)
    eps = torch.randn(b, c, h, w, generator=g, dtype=torch.float64)
    tmask = torch.zeros(h, w, dtype=torch.float64)
    tmask[:, : w // 2] = 1.0

    def point_mass(x, sigma, **kwargs):
        return x0_star.expand_as(x).clone()

    a0, s0 = space.coefficients(s0_)
    a1, s1 = space.coefficients(s1_)
    x = a0 * z + s0 * eps
    sigmas = torch.tensor([s0_, s1_], dtype=torch.float64)
    out = sample_fillblank(point_mass, x, sigmas, extra_args={"seed": 0}, noise_scaling=space,
                           jump_length=1, target=target, target_mask=tmask,
                           schedule=LambdaSchedule.constant(lam), blend=blend)
    m = tmask[None, None]
    if blend == "matched":
        pred = x0_star * (1 - lam * m) + target * lam * m
        det = a0 * z + (a0 * z - pred) * (s1_ - s0_) / s0_
    else:
        det = (1 - lam * m) * (a0 * z + (a0 * z - x0_star) * (s1_ - s0_) / s0_) + lam * m * a1 * target
    resid = out - det
    inside = (m > 0).expand_as(resid)
    return resid, eps, inside, s1


# n = 256·4·8·4 = 32768 residuals per region; the sample std has standard error ≈ s/√(2n) = 0.39% of s;
# tolerance 5 standard errors (about 2% of s).
STD_TOL = 5 / math.sqrt(2 * 32768)


@pytest.mark.parametrize("space_name", ["eps", "flow"])
@pytest.mark.parametrize("lam", [0.5, 1.0])
def test_matched_blend_keeps_noise_std(space_name, lam):
    resid, eps, inside, s1 = _one_guided_step(space_name, "matched", lam)
    # the state's own noise goes through untouched: residual = s(σ1)·ε exactly (up to rounding)
    assert torch.allclose(resid, s1 * eps, atol=1e-9, rtol=0)
    for region in (inside, ~inside):
        assert abs(float(resid[region].std()) / s1 - 1.0) <= STD_TOL


@pytest.mark.parametrize("space_name", ["eps", "flow"])
def test_independent_blend_lowers_noise_std_as_predicted(space_name):
    lam = 0.5
    resid, eps, inside, s1 = _one_guided_step(space_name, "independent", lam)
    predicted = s1 * math.sqrt((1 - lam) ** 2 + lam ** 2)  # = 0.7071·s1 for λ = 0.5
    assert abs(float(resid[inside].std()) / predicted - 1.0) <= STD_TOL
    assert abs(float(resid[~inside].std()) / s1 - 1.0) <= STD_TOL  # outside the target: untouched
    assert torch.allclose(resid[~inside], s1 * eps[~inside], atol=1e-9, rtol=0)
    # inside: (1 − λ)·s1·ε from the state plus λ·s1·ε' of fresh noise independent of ε
    fresh = (resid[inside] - (1 - lam) * s1 * eps[inside]) / (lam * s1)
    assert abs(float(fresh.std()) - 1.0) <= STD_TOL
    assert abs(float(torch.corrcoef(torch.stack([fresh, eps[inside]]))[0, 1])) <= 5 / math.sqrt(32768)


# --- determinism and inputs -------------------------------------------------------------------------

@pytest.mark.parametrize("blend", ["matched", "independent"])
def test_same_seed_same_output_different_seed_different_output(blend):
    space = NoiseSpace.eps()
    den, latent, hole, target = gaussian_setup(space, batch=3)
    kw = dict(noise_scaling=space, sampler=sample_euler_ancestral, jump_length=2, resample=3, blend=blend,
              target=target, target_mask=hole, schedule=LambdaSchedule.linear(0.6, 0.0))
    a = inpaint(den, latent, hole, karras(6), seed=5, **kw)
    b = inpaint(den, latent, hole, karras(6), seed=5, **kw)
    c = inpaint(den, latent, hole, karras(6), seed=6, **kw)
    assert torch.equal(a, b)
    h = (hole > 0).expand_as(a)
    assert not torch.equal(a[h], c[h])
    assert (a[h] - c[h]).abs().max() > 0.1


def test_deterministic_base_sampler_depends_on_seed_too():
    space = NoiseSpace.flow()
    den, latent, hole, _ = gaussian_setup(space)
    a = inpaint(den, latent, hole, flow_sigmas(6), seed=1, noise_scaling=space, jump_length=2, resample=2)
    b = inpaint(den, latent, hole, flow_sigmas(6), seed=1, noise_scaling=space, jump_length=2, resample=2)
    c = inpaint(den, latent, hole, flow_sigmas(6), seed=2, noise_scaling=space, jump_length=2, resample=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    h = (hole > 0).expand_as(a)
    assert (a[h] - c[h]).abs().max() > 0.1


@pytest.mark.parametrize("blend", ["matched", "independent"])
def test_no_input_tensor_is_modified(blend):
    space = NoiseSpace.eps()
    den, latent, hole, target = gaussian_setup(space)
    tmask = hole * 0.8
    sigmas = karras(6)
    before = [t.clone() for t in (latent, hole, target, tmask, sigmas)]
    inpaint(den, latent, hole, sigmas, seed=2, noise_scaling=space, sampler=sample_euler_ancestral,
            jump_length=2, resample=2, blend=blend, target=target, target_mask=tmask, schedule=0.5)
    for old, new in zip(before, (latent, hole, target, tmask, sigmas)):
        assert torch.equal(old, new)
    # sample_fillblank itself: x, sigmas, extra_args (and the denoise mask in it) untouched
    x = latent * 0 + torch.randn(latent.shape, generator=torch.Generator().manual_seed(0)) * 10
    dm = hole[None, None].expand(latent.shape[0], 1, 8, 8).clone()
    extra = {"seed": 9, "denoise_mask": dm}
    saved = (x.clone(), sigmas.clone(), dm.clone(), target.clone(), tmask.clone())
    sample_fillblank(den, x, sigmas, extra, noise_scaling=space, sampler=sample_euler_ancestral,
                     jump_length=2, resample=3, blend=blend, target=target, target_mask=tmask, schedule=0.5)
    assert set(extra) == {"seed", "denoise_mask"} and extra["seed"] == 9 and extra["denoise_mask"] is dm
    for old, new in zip(saved, (x, sigmas, dm, target, tmask)):
        assert torch.equal(old, new)


# --- fresh noise in every repetition ------------------------------------------------------------------

def _ancestral(s_from: float, s_to: float):
    up = min(s_to, (s_to ** 2 * (s_from ** 2 - s_to ** 2) / s_from ** 2) ** 0.5)
    return (s_to ** 2 - up ** 2) ** 0.5, up


def test_self_seeding_base_sampler_gets_new_noise_in_every_repetition():
    calls = []

    def spy(model, x, sigmas, extra_args=None, callback=None, disable=None, **options):
        x_in = x.clone()
        out = sample_euler_ancestral(model, x, sigmas, extra_args=extra_args, callback=callback,
                                     disable=disable, **options)
        calls.append({"seed": extra_args.get("seed"), "lo": float(sigmas[0]), "hi": float(sigmas[-1]),
                      "x_in": x_in, "out": out.clone()})
        return out

    def zero(x, sigma, **kwargs):
        return torch.zeros_like(x)

    steps, j, r = 4, 1, 3
    x = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 10
    sample_fillblank(zero, x, karras(steps), extra_args={"seed": 1234}, sampler=spy, jump_length=j, resample=r)
    assert len(calls) == formula(steps, j, r) == 10  # one-step chunks: one base call per step
    seeds = [c["seed"] for c in calls]
    assert all(isinstance(s, int) for s in seeds)
    assert len(set(seeds)) == len(seeds), "every base-sampler call must get its own seed"
    for chunk in range(steps - 1):  # chunks ending above sigma 0 (the last ends at 0: no noise)
        reps = [c for c in calls if c["lo"] == pytest.approx(float(karras(steps)[chunk]))]
        assert len(reps) == r
        # with x0 = 0 one ancestral step is x_out = x_in·down/σ + up·n: recover the drawn noise n
        down, up = _ancestral(reps[0]["lo"], reps[0]["hi"])
        noises = [(c["out"] - c["x_in"] * down / c["lo"]) / up for c in reps]
        for n in noises:
            assert abs(float(n.std()) - 1.0) < 0.25  # it is standard normal noise (256 draws)
        for p in range(r):
            for q in range(p + 1, r):
                assert not torch.allclose(noises[p], noises[q], atol=1e-3)
                assert not torch.equal(reps[p]["out"], reps[q]["out"])
                corr = float(torch.corrcoef(torch.stack([noises[p].flatten(), noises[q].flatten()]))[0, 1])
                assert abs(corr) < 0.3  # independent draws (256 values: 5/√256 ≈ 0.31)


# --- progress callback ---------------------------------------------------------------------------------

@pytest.mark.parametrize("blend", ["matched", "independent"])
@pytest.mark.parametrize("steps,j,r", [(7, 3, 3), (5, 5, 1), (6, 1, 2)])
def test_callback_reports_global_progress(blend, steps, j, r):
    seen = []
    x = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 10
    model = Counting(shrink)
    sample_fillblank(model, x, karras(steps), extra_args={"seed": 3}, callback=seen.append,
                     sampler=sample_euler_ancestral, jump_length=j, resample=r, blend=blend,
                     target=torch.zeros(1, 1, 4, 4), target_mask=torch.ones(4, 4), schedule=0.5)
    total = count_steps(steps, j, r)
    assert [d["i"] for d in seen] == list(range(total))
    assert all(d["total"] == total for d in seen)
    assert all({"x", "denoised", "sigma"} <= set(d) for d in seen)
    assert model.calls == total


@pytest.mark.parametrize("steps,j,r", [(7, 3, 3), (10, 2, 5), (4, 4, 1)])
def test_callback_rescaled_progress_stays_within_base_steps(steps, j, r):
    seen = []
    x = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 10
    sample_fillblank(shrink, x, karras(steps), callback=seen.append, jump_length=j, resample=r,
                     rescale_progress=True)
    i = [d["i"] for d in seen]
    assert len(i) == count_steps(steps, j, r)
    assert i[0] == 0 and i[-1] == steps - 1
    assert all(0 <= v <= steps - 1 for v in i)
    assert all(b >= a for a, b in zip(i, i[1:]))
    assert all(d["total"] == steps for d in seen)


# --- no ComfyUI in the core ----------------------------------------------------------------------------

FORBIDDEN = ("comfy", "comfy_extras", "comfy_execution", "folder_paths", "nodes", "server", "execution")


def test_import_without_comfyui_in_subprocess():
    modules = sorted(p.stem for p in (REPO / "fillblank_core").glob("*.py") if p.stem != "__init__")
    code = (
        "import sys, importlib\n"
        f"for name in {FORBIDDEN!r}:\n"
        "    sys.modules[name] = None  # any import of these raises ImportError\n"
        "assert not any('comfyui' in p.lower() for p in sys.path), sys.path\n"
        "import fillblank_core\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module('fillblank_core.' + m)\n"
        "loaded = [n for n in sys.modules if n.split('.')[0] in " + repr(FORBIDDEN) +
        " and sys.modules[n] is not None]\n"
        "assert not loaded, loaded\n"
        "print('ok', len(fillblank_core.__all__))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COMFYUI_PATH")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok ")


def test_no_module_in_core_imports_comfyui():
    offenders = []
    dynamic = re.compile(r"""(import_module|__import__)\(\s*['"](%s)\b""" % "|".join(FORBIDDEN))
    files = sorted((REPO / "fillblank_core").rglob("*.py"))
    assert len(files) >= 5
    for path in files:
        src = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(src, filename=str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN]
        offenders += [f"{path.name}: {m.group(0)}" for m in dynamic.finditer(src)]
    assert not offenders, offenders


# --- the matched blend: what the model sees --------------------------------------------------------

@pytest.mark.parametrize("space_name", ["eps", "flow"])
@pytest.mark.parametrize("lam", [0.3, 0.5, 1.0])
def test_matched_blend_moves_the_models_input_and_keeps_its_noise_level(space_name, lam):
    """The model's input is x' = a·((1 − w)·z + w·t) + s·ε' with Var ε' = 1: the clean component
    moved w of the way to the target, the noise level exactly that of the state (statistically:
    n = 32768 residuals per region, 5 standard errors)."""
    space = SPACES[space_name][0]()
    s0_, s1_ = ONE_STEP[space_name]
    b, c, h, w = 256, 4, 8, 8
    g = torch.Generator().manual_seed(11)
    z = torch.randn(1, c, h, w, generator=g, dtype=torch.float64)
    target = torch.randn(1, c, h, w, generator=g, dtype=torch.float64)
    eps = torch.randn(b, c, h, w, generator=g, dtype=torch.float64)
    tmask = torch.zeros(h, w, dtype=torch.float64)
    tmask[:, : w // 2] = 1.0
    seen = []

    def spy(x, sigma, **kwargs):
        seen.append(x.clone())
        return torch.zeros_like(x)

    a0, s0 = space.coefficients(s0_)
    x = a0 * z + s0 * eps
    sample_fillblank(spy, x, torch.tensor([s0_, s1_], dtype=torch.float64), extra_args={"seed": 0},
                     noise_scaling=space, target=target, target_mask=tmask,
                     schedule=LambdaSchedule.constant(lam))
    m = tmask[None, None]
    wgt = lam * m
    resid = (seen[0] - a0 * ((1 - wgt) * z + wgt * target)) / s0
    inside = (m > 0).expand_as(resid)
    for region in (inside, ~inside):
        assert abs(float(resid[region].std()) - 1.0) <= STD_TOL
        assert abs(float(resid[region].mean())) <= 5 / math.sqrt(32768)
    assert torch.allclose(resid[~inside], eps[~inside], atol=1e-9)  # outside the target: the state itself
    # inside: (1 − λ)·ε of the state plus sqrt(λ(2 − λ))·η of independent noise
    rest = resid[inside] - (1 - lam) * eps[inside]
    assert abs(float(rest.std()) - math.sqrt(lam * (2 - lam))) <= STD_TOL
    assert abs(float(torch.corrcoef(torch.stack([rest, eps[inside]]))[0, 1])) <= 5 / math.sqrt(32768)


@pytest.mark.parametrize("space_name", ["eps", "flow"])
@pytest.mark.parametrize("sampler", ["euler", "euler_ancestral"])
@pytest.mark.parametrize("j,r", [(8, 1), (2, 3)])
def test_lambda_one_holds_the_target_like_the_known_region(space_name, sampler, j, r):
    """At λ = 1 the model always sees the noised target in the silhouette and the result there IS the
    target, exactly as the known region is the scene."""
    make_space, make_sigmas = SPACES[space_name]
    space = make_space()
    den, latent, hole, target = scene_setup(space)
    tmask = torch.zeros(8, 8)
    tmask[3:5, 2:4] = 1.0  # inside the hole
    seen = []

    def spy(x, sigma, **kwargs):
        seen.append((x.clone(), sigma.clone()))
        return den(x, sigma, **kwargs)

    out = inpaint(spy, latent, hole, make_sigmas(8), seed=3, noise_scaling=space, sampler=SAMPLERS[sampler],
                  jump_length=j, resample=r, target=target, target_mask=tmask,
                  schedule=LambdaSchedule.constant(1.0))
    sil = (tmask > 0).expand_as(out)
    known = (hole == 0).expand_as(out)
    assert torch.equal(out[known], latent[known])
    assert torch.equal(out[sil], target.expand_as(out)[sil])
    assert (out[~known & ~sil] - latent[~known & ~sil]).abs().max() > 0.1  # the rest was repainted
    # what the model saw in the silhouette: a(σ)·t + s(σ)·ε with standard noise
    for x_in, sigma in seen:
        a, s = space.coefficients(float(sigma.reshape(-1)[0]))
        e = (x_in - a * target)[sil] / s
        assert e.abs().max() < 6.0 and abs(float(e.mean())) < 1.0


# --- no host reads between model calls ------------------------------------------------------------------

class _HostReads:
    """Counts Python-level reads of tensor values (item/float/int/bool/tolist/numpy) while armed."""

    NAMES = ("item", "tolist", "numpy", "__float__", "__int__", "__bool__", "__index__")

    def __init__(self, monkeypatch):
        self.armed, self.reads = False, []
        for name in self.NAMES:
            orig = getattr(torch.Tensor, name)

            def patched(t, *a, _orig=orig, _name=name, **k):
                if self.armed:
                    self.reads.append(_name)
                return _orig(t, *a, **k)
            monkeypatch.setattr(torch.Tensor, name, patched)


def _read_free(x, sigma, **kwargs):
    """x0 = x / (1 + σ²) with tensor ops only (a base denoiser that reads nothing)."""
    return x / (1.0 + sigma.reshape(-1, 1, 1, 1) ** 2)


@pytest.mark.parametrize("blend", ["matched", "independent"])
@pytest.mark.parametrize("space_name", ["eps", "flow"])
@pytest.mark.parametrize("schedule", [None, LambdaSchedule.linear(1.0, 0.2)])
def test_no_host_read_of_a_tensor_between_model_calls(monkeypatch, blend, space_name, schedule):
    """Everything the guidance needs per step is computed on the device: from the first model call to
    the end of sampling (time travel and the final known-region fix-up included) no tensor value is
    read back to the host. On a GPU every such read would stall the CPU until the queue is empty."""
    make_space, make_sigmas = SPACES[space_name]
    space = make_space()
    reads = _HostReads(monkeypatch)
    g = torch.Generator().manual_seed(0)
    latent = torch.randn(2, 4, 8, 8, generator=g)
    hole = torch.zeros(2, 4, 8, 8)
    hole[..., 2:6, 1:6] = 0.6  # soft, as ComfyUI's resized noise mask
    target = torch.randn(1, 4, 8, 8, generator=g)
    tmask = torch.zeros(1, 1, 8, 8)
    tmask[..., 3:5, 2:5] = 1.0
    sigmas = make_sigmas(6)
    from fillblank_core.sampling import KnownRegionDenoiser
    calls = []

    def arming(x, sigma, **kwargs):
        reads.armed = True  # from the first model call on
        calls.append(1)
        return _read_free(x, sigma)

    model = KnownRegionDenoiser(arming, latent, torch.randn(latent.shape, generator=g), space)
    x = space.noise(latent, float(sigmas[0]), torch.randn(latent.shape, generator=g))
    out = sample_fillblank(model, x, sigmas, extra_args={"seed": 4, "denoise_mask": hole},
                           noise_scaling=space, sampler=sample_euler, jump_length=2, resample=2,
                           target=target, target_mask=tmask, schedule=schedule, blend=blend)
    reads.armed = False
    assert len(calls) == formula(6, 2, 2)
    assert reads.reads == [], f"host reads during sampling: {reads.reads}"
    assert torch.isfinite(out).all()
    # and the counter does see a read when one happens (the test can fail)
    reads.armed = True
    float(out[0, 0, 0, 0])
    assert reads.reads == ["__float__"]


def test_one_repaint_rule_for_soft_noise_masks():
    """A soft (resized) noise mask repaints every cell above 0 fully, as FillBlank Sampler's own
    latent hole does, so the two chains repaint the same cells."""
    from fillblank_core.masks import latent_hole
    space = NoiseSpace.eps()
    den, latent, _, target = scene_setup(space, batch=1)
    pix = torch.zeros(1, 64, 64)
    pix[:, 12:44, 20:36] = 1.0  # edges through the centre of latent cells: soft values there
    soft = torch.nn.functional.interpolate(pix[:, None], size=(8, 8), mode="bilinear")
    binary = latent_hole(pix, (8, 8))
    assert torch.equal(binary, (soft > 0).float()) and bool(((soft > 0) & (soft < 1)).any())
    kw = dict(noise_scaling=space, seed=2, target=target, target_mask=binary)
    a = inpaint(den, latent, soft[:, 0], karras(6), **kw)
    b = inpaint(den, latent, binary[:, 0], karras(6), **kw)
    assert torch.equal(a, b)
    keep = (binary == 0).expand_as(a)
    assert torch.equal(a[keep], latent[keep]) and not torch.equal(a[~keep], latent[~keep])
