"""The sampler's dynamics observed at EVERY model call, before ``sample_fillblank``'s final
overwrite (which sets the known region to the latent and cells held at full weight to the target,
and so hides whatever happened during sampling).

Observed through the per-step callback (the state x the base sampler hands the guided model, and
the prediction it gets back), a spy around the denoiser (the model's input) and a spy around the
base sampler (what it returns, before the overwrite). The denoisers are the analytic ones of
fillblank_lab (exact posterior means), which depend on their input.

* Noise level of the model's input (matched blend, eps and flow, λ 0.3 / 0.5 / 1, without and
  with time travel): at every call, inside the silhouette, the input is
  x' = (1 − w)·x + w·a(σ)·T + sqrt(w(2 − w))·s(σ)·η with η standard normal, one draw per pass, new
  in every pass; outside it, the state itself. And the law of the input at every call (mean and
  std over 512 runs) is the one DESIGN.md §2's equations give when followed step by step for the
  Gaussian prior: guidance, exact denoiser, Euler step, re-noising.
* λ = 1: the prediction in every held cell is the target at every step, the state there is
  a(σ)·T + s(σ)·ε with standard normal ε (the same ε through a pass), and the base sampler itself
  ends at the target (within rounding), before any overwrite.
* The known region at every call: the model sees a(σ)·latent + s(σ)·n with one fixed noise n, its
  prediction there is the latent, and the base sampler ends at the latent (within rounding).

Statistical tolerances are 5 standard errors of the estimate (mean: std/√n; std: std/√(2n);
correlation: 1/√n), n the number of i.i.d. values compared.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fillblank_core import LambdaSchedule
from fillblank_core.sampling import inpaint, sample_euler, sample_fillblank
from fillblank_core.spaces import NoiseSpace
from fillblank_lab import GaussianPrior, smooth_covariance

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STEPS = 10
# RePaint's chunks for steps 10, j 3, r 3, written out from its definition (DESIGN.md §2): chunks
# of j steps, every chunk but the last run r times, re-noised back to its start between passes
TRAVEL = {1: [(0, 10, 1)], 3: [(0, 3, 3), (3, 6, 3), (6, 9, 3), (9, 10, 1)]}
JUMP = 3


def coefficients(space_name: str, sigma: float) -> tuple[float, float]:
    """a(σ), s(σ) written from DESIGN.md §2, independently of fillblank_core.spaces."""
    return (1.0, sigma) if space_name == "eps" else (1.0 - sigma, sigma)


def sigmas_for(space_name: str, steps: int = STEPS) -> torch.Tensor:
    if space_name == "eps":  # Karras 10 → 0.05, then 0
        ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
        s = (10.0 ** (1 / 7) + ramp * (0.05 ** (1 / 7) - 10.0 ** (1 / 7))) ** 7
        return torch.cat([s, torch.zeros(1, dtype=torch.float64)])
    return torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)


def make_space(space_name: str) -> NoiseSpace:
    return NoiseSpace.eps() if space_name == "eps" else NoiseSpace.flow()


def call_passes(r: int) -> list[tuple[int, int]]:
    """(step index, pass number) of every model call, in order (Euler: one call per step)."""
    out, p = [], 0
    for start, end, passes in TRAVEL[r]:
        for _ in range(passes):
            out += [(i, p) for i in range(start, end)]
            p += 1
    return out


class Recorder:
    """Spies: the model's inputs (around the denoiser), the callback's states and predictions, and
    the base sampler's returns."""

    def __init__(self, denoiser):
        self.denoiser, self.inputs, self.states, self.preds, self.sigmas, self.returns = denoiser, [], [], [], [], []

    def model(self, x, sigma, **kwargs):
        self.inputs.append(x.clone())
        self.sigmas.append(float(sigma.reshape(-1)[0]))
        return self.denoiser(x, sigma, **kwargs)

    def callback(self, d):
        self.states.append(d["x"].clone())
        self.preds.append(d["denoised"].clone())

    def sampler(self, model, x, sigmas, extra_args=None, callback=None, disable=None, **options):
        out = sample_euler(model, x, sigmas, extra_args=extra_args, callback=callback, disable=disable)
        self.returns.append(out.clone())
        return out


def within(value: float, want: float, tol: float, what: str):
    assert abs(value - want) <= tol, f"{what}: {value:.5f}, want {want:.5f} ± {tol:.5f}"


def check_standard_normal(e: torch.Tensor, what: str):
    n = e.numel()
    within(float(e.mean()), 0.0, 5 / math.sqrt(n), what + " mean")
    within(float(e.std()), 1.0, 5 / math.sqrt(2 * n), what + " std")


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])


# --- the law of the model's input, followed through the design's equations -----------------------

class Affine:
    """A scalar random variable c + Σ_k coef_k·z_k over independent standard normals z_k."""

    def __init__(self, const=0.0, coef=None):
        self.const, self.coef = float(const), dict(coef or {})

    def __add__(self, other):
        if not isinstance(other, Affine):
            return Affine(self.const + other, self.coef)
        coef = dict(self.coef)
        for k, v in other.coef.items():
            coef[k] = coef.get(k, 0.0) + v
        return Affine(self.const + other.const, coef)

    __radd__ = __add__

    def __mul__(self, f: float):
        return Affine(self.const * f, {k: v * f for k, v in self.coef.items()})

    __rmul__ = __mul__

    def __sub__(self, other):
        return self + other * -1.0

    @property
    def std(self) -> float:
        return math.sqrt(sum(v * v for v in self.coef.values()))


def predicted_inputs(space_name: str, r: int, w: float, mu: float, v: float, t: float,
                     steps: int = STEPS) -> list[Affine]:
    """The model's input at every call, for one pixel of a diagonal Gaussian prior N(mu, v) with
    guidance weight w toward t, by DESIGN.md §2: the matched blend (input and prediction), the
    exact denoiser, the Euler step, RePaint's re-noising, a new η per pass."""
    sig = [float(s) for s in sigmas_for(space_name, steps)]
    chunks = TRAVEL[r] if steps == STEPS else [(0, steps, 1)]
    a0, s0 = coefficients(space_name, sig[0])
    x = Affine(a0 * mu, {"xi": math.sqrt(a0 * a0 * v + s0 * s0)})  # the prior's marginal at σ0
    inputs, p = [], 0
    for start, end, passes in chunks:
        for q in range(passes):
            if q > 0:  # back from σ_end to σ_start
                a_lo, s_lo = coefficients(space_name, sig[end])
                a_hi, s_hi = coefficients(space_name, sig[start])
                scale = a_hi / a_lo
                x = x * scale + Affine(0.0, {f"zeta{p}": math.sqrt(s_hi ** 2 - (scale * s_lo) ** 2)})
            eta = Affine(0.0, {f"eta{p}": 1.0})
            for i in range(start, end):
                a, s = coefficients(space_name, sig[i])
                x_in = x * (1 - w) + a * t * w + eta * (math.sqrt(w * (2 - w)) * s)
                inputs.append(x_in)
                gain = a * v / (a * a * v + s * s)
                d = (x_in - a * mu) * gain + mu
                d = d * (1 - w) + t * w
                x = x + (x - d) * ((sig[i + 1] - sig[i]) / sig[i])
            p += 1
    return inputs


MU, VAR, T = 0.25, 1.0, -1.2
RUNS, C, HW = 512, 2, 8


def _diagonal_run(space_name: str, lam: float, r: int):
    space = make_space(space_name)
    shape = (C, HW, HW)
    prior = GaussianPrior(torch.full(shape, MU), torch.eye(C * HW * HW, dtype=torch.float64) * VAR, space)
    sig = sigmas_for(space_name)
    a0, s0 = coefficients(space_name, float(sig[0]))
    g = torch.Generator().manual_seed(17)
    xi = torch.randn(RUNS, *shape, generator=g, dtype=torch.float64)
    x = a0 * MU + math.sqrt(a0 * a0 * VAR + s0 * s0) * xi
    tmask = torch.zeros(1, 1, HW, HW, dtype=torch.float64)
    tmask[..., : HW // 2] = 1.0
    target = torch.full((1, *shape), T, dtype=torch.float64)
    rec = Recorder(prior)
    sample_fillblank(rec.model, x, sig, extra_args={"seed": 5}, callback=rec.callback, noise_scaling=space,
                     sampler=rec.sampler, jump_length=JUMP, resample=r, target=target, target_mask=tmask,
                     schedule=LambdaSchedule.constant(lam))
    inside = (tmask > 0).expand(RUNS, *shape)
    return rec, xi, inside, target


@pytest.mark.parametrize("r", [1, 3], ids=["no-travel", "resample3"])
@pytest.mark.parametrize("lam", [0.3, 0.5, 1.0])
@pytest.mark.parametrize("space_name", ["eps", "flow"])
def test_model_input_noise_level_at_every_call(space_name, lam, r):
    rec, xi, inside, target = _diagonal_run(space_name, lam, r)
    plan = call_passes(r)
    sig = [float(s) for s in sigmas_for(space_name)]
    assert len(rec.inputs) == len(rec.states) == len(plan)
    assert rec.sigmas == [sig[i] for i, _ in plan], "the model is called at the planned sigmas"
    etas = {}
    w = float(torch.tensor(lam, dtype=torch.float32))  # λ is tabulated in float32 on the device
    for k, ((i, p), x_in, x) in enumerate(zip(plan, rec.inputs, rec.states)):
        a, s = coefficients(space_name, sig[i])
        # outside the silhouette the model sees the state itself
        assert torch.equal(x_in[~inside], x[~inside]), f"call {k}: outside the silhouette"
        # inside: the clean part moved λ of the way to a·T, plus sqrt(λ(2 − λ))·s·η
        eta = (x_in - (1 - w) * x - w * a * target)[inside] / (math.sqrt(w * (2 - w)) * s)
        if p in etas:
            assert torch.allclose(eta, etas[p], rtol=0, atol=1e-6), f"call {k}: η changed within pass {p}"
        else:
            check_standard_normal(eta, f"call {k} (σ {sig[i]:.3g}): η")
            within(correlation(eta, xi[inside]), 0.0, 5 / math.sqrt(eta.numel()), f"call {k}: corr(η, ξ)")
            for q, other in etas.items():
                within(correlation(eta, other), 0.0, 5 / math.sqrt(eta.numel()), f"pass {p}: corr(η, η of pass {q})")
            etas[p] = eta
    assert len(etas) == sum(passes for _, _, passes in TRAVEL[r]), "a new η in every pass"
    # the law of the input at every call: the design's equations followed step by step
    for region, w in ((inside, lam), (~inside, 0.0)):
        want = predicted_inputs(space_name, r, w, MU, VAR, T)
        assert len(want) == len(rec.inputs)
        for k, (x_in, pred) in enumerate(zip(rec.inputs, want)):
            vals = x_in[region]
            n = vals.numel()
            where = f"call {k} (σ {rec.sigmas[k]:.3g}, w {w})"
            within(float(vals.mean()), pred.const, 5 * pred.std / math.sqrt(n), where + ": mean of the input")
            within(float(vals.std()), pred.std, 5 * pred.std / math.sqrt(2 * n), where + ": std of the input")


def test_the_predicted_law_is_the_prior_marginal_where_nothing_pulls():
    """The reference itself: with w = 0 the equations give the model input the prior's marginal
    N(a·mu, a²·v + s²) at every call, up to Euler's discretisation error, which vanishes with the
    step size (measured: std up to 13% off at 10 steps, as the test above uses, 0.3% at 400), so
    the test above compares with a law that means 'the model is at the noise level it is told'."""
    for space_name in ("eps", "flow"):
        for steps, tol in ((STEPS, 0.15), (400, 0.01)):
            sig = [float(s) for s in sigmas_for(space_name, steps)]
            for i, pred in enumerate(predicted_inputs(space_name, 1, 0.0, MU, VAR, T, steps)):
                a, s = coefficients(space_name, sig[i])
                assert pred.const == pytest.approx(a * MU, abs=1e-12)
                assert pred.std == pytest.approx(math.sqrt(a * a * VAR + s * s), rel=tol), (space_name, steps, i)


# --- λ = 1: the held cells converge to the target through the steps -------------------------------

def _inpaint_run(space_name: str, r: int, lam=1.0, runs: int = 256):
    space = make_space(space_name)
    shape = (2, 8, 8)
    prior = GaussianPrior(torch.zeros(shape), smooth_covariance(shape, 1.5, channel_correlation=0.3), space)
    g = torch.Generator().manual_seed(4)
    latent = prior.sample(1, g).expand(runs, *shape).clone()
    target = prior.sample(1, g) * 0.5 + 1.0
    hole = torch.zeros(8, 8, dtype=torch.float64)
    hole[1:7, 1:6] = 1.0
    tmask = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    tmask[..., 2:5, 2:4] = 1.0  # binary, as masks.touched_latent gives it; inside the hole
    rec = Recorder(prior)
    out = inpaint(rec.model, latent, hole, sigmas_for(space_name), seed=9, noise_scaling=space,
                  sampler=rec.sampler, jump_length=JUMP, resample=r, target=target, target_mask=tmask,
                  schedule=LambdaSchedule.constant(lam), callback=rec.callback)
    held = (tmask > 0).expand(runs, *shape)
    known = (hole == 0).expand(runs, *shape)
    return rec, latent, target, held, known, out


def pass_starts(r: int) -> dict[int, bool]:
    """{pass number: whether it starts by re-noising} (a chunk's later passes do; a chunk's first
    pass goes on from where the previous chunk ended)."""
    out, p = {}, 0
    for _, _, passes in TRAVEL[r]:
        for q in range(passes):
            out[p] = q > 0
            p += 1
    return out


@pytest.mark.parametrize("r", [1, 3], ids=["no-travel", "resample3"])
@pytest.mark.parametrize("space_name", ["eps", "flow"])
def test_lambda_one_state_converges_to_the_target_through_the_steps(space_name, r):
    """In the held cells the prediction is T at every call, and the state is a(σ)·T + s(σ)·ε: its
    clean part is the target from the first step on, its noise part ε is kept exactly by every Euler
    step (the state is at the noise level the next call is told), and re-noising mixes in fresh
    noise with RePaint's coefficients: ε' = c·ε + sqrt(1 − c²)·ζ, c = (a_hi/a_lo)·s_lo/s_hi."""
    rec, latent, target, held, known, out = _inpaint_run(space_name, r)
    plan = call_passes(r)
    renoised = pass_starts(r)
    sig = [float(s) for s in sigmas_for(space_name)]
    t = target.expand_as(latent)[held]
    n = int(held.sum())
    assert len(rec.states) == len(plan)
    eps_prev, dist = None, []
    for k, ((i, p), x, d) in enumerate(zip(plan, rec.states, rec.preds)):
        a, s = coefficients(space_name, sig[i])
        assert torch.equal(d[held], t), f"call {k}: the prediction in the held cells is not the target"
        eps = (x[held] - a * t) / s
        if k > 0 and p != plan[k - 1][1] and renoised[p]:
            (i_lo, _) = plan[k - 1]
            a_lo, s_lo = coefficients(space_name, sig[i_lo + 1])
            c = (a / a_lo) * s_lo / s
            fresh = (eps - c * eps_prev) / math.sqrt(1 - c * c)
            check_standard_normal(fresh, f"call {k} (σ {sig[i]:.3g}): the noise re-noising adds")
            within(correlation(fresh, eps_prev), 0.0, 5 / math.sqrt(n), f"call {k}: corr(fresh, ε before)")
        elif k > 0:  # an Euler step toward a fixed prediction keeps ε: the clean part stays T
            assert torch.allclose(eps, eps_prev, rtol=0, atol=1e-8), f"call {k}: ε changed ({space_name})"
        eps_prev = eps
        dist.append(float((x[held] - t).abs().mean()))
    # converging: the distance to T shrinks at every step (re-noising aside)
    for k in range(1, len(plan)):
        if not (plan[k][1] != plan[k - 1][1] and renoised[plan[k][1]]):
            assert dist[k] < dist[k - 1], f"call {k}: the held cells moved away from the target"
    # x − T = s(σ)·ε (eps) or s(σ)·(ε − T) (flow): the distance falls with s, to the last call's share
    share = coefficients(space_name, sig[plan[-1][0]])[1] / coefficients(space_name, sig[0])[1]
    assert dist[-1] < 1.5 * share * dist[0], (dist[-1], dist[0], share)
    # the base sampler itself ends at the target (the overwrite then only removes rounding)
    last = rec.returns[-1]
    assert (last[held] - t).abs().max() < 1e-9, "the sampling, not the overwrite, must put the target there"
    assert torch.equal(out[held], t)


@pytest.mark.parametrize("lam", [0.5, 1.0])
@pytest.mark.parametrize("r", [1, 3], ids=["no-travel", "resample3"])
@pytest.mark.parametrize("space_name", ["eps", "flow"])
def test_known_region_at_every_call(space_name, r, lam):
    rec, latent, _, _, known, out = _inpaint_run(space_name, r, lam)
    plan = call_passes(r)
    sig = [float(s) for s in sigmas_for(space_name)]
    lat = latent[known]
    noise = None
    for k, ((i, _), x_in, d) in enumerate(zip(plan, rec.inputs, rec.preds)):
        a, s = coefficients(space_name, sig[i])
        assert torch.equal(d[known], lat), f"call {k}: the prediction in the known region is not the latent"
        n = (x_in[known] - a * lat) / s  # the model sees the latent noised to σ with one fixed noise
        if noise is None:
            check_standard_normal(n, "the known region's noise")
            noise = n
        else:
            assert torch.allclose(n, noise, rtol=0, atol=1e-8), f"call {k}: the known region's noise changed"
    # the base sampler's last call ends at σ = 0 on the latent (the overwrite then only removes rounding)
    assert (rec.returns[-1][known] - lat).abs().max() < 1e-9, "the sampling left the known region"
    assert torch.equal(out[known], lat)
    # the state there follows the latent: each pass's first state is a(σ)·latent + s(σ)·(standard normal)
    starts = [k for k in range(len(plan)) if k == 0 or plan[k][1] != plan[k - 1][1]]
    for k in starts:
        a, s = coefficients(space_name, sig[plan[k][0]])
        check_standard_normal((rec.states[k][known] - a * lat) / s, f"call {k}: the known region's state")
    assert np.isfinite(out.numpy()).all()
