"""sample_fillblank inside the real ComfyUI host, through comfy.sample.sample_custom + KSAMPLER."""

from __future__ import annotations

import pytest
import torch

from fillblank_core import LambdaSchedule, count_model_evaluations, sample_fillblank

pytestmark = pytest.mark.host


def _sigmas(model, steps, scheduler="normal"):
    import comfy.samplers
    return comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), scheduler, steps)


def _counting(model):
    """A clone of the ModelPatcher whose UNet calls are counted (ComfyUI's unet wrapper hook)."""
    m = model.clone()
    counter = {"n": 0}

    def wrapper(apply_model, args):
        counter["n"] += 1
        return apply_model(args["input"], args["timestep"], **args["c"])
    m.set_model_unet_function_wrapper(wrapper)
    return m, counter


@pytest.fixture(scope="module")
def setup(tiny):
    torch.manual_seed(0)
    model = tiny.tiny_model()
    latent = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(1))
    hole = torch.zeros(1, 1, 16, 16)
    hole[..., 4:12, 3:11] = 1.0
    target = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(2))
    tmask = torch.zeros(1, 1, 16, 16)
    tmask[..., 5:11, 4:10] = 1.0
    return model, latent, hole, target, tmask


def _run(model, latent, hole, sampler_name, steps, j, r, target=None, tmask=None, seed=3, cfg=1.0,
         schedule=None):
    import comfy.sample
    import comfy.samplers
    base = comfy.samplers.ksampler(sampler_name)
    ks = comfy.samplers.KSAMPLER(sample_fillblank, extra_options=dict(
        sampler=base.sampler_function, sampler_options=base.extra_options, target=target,
        target_mask=tmask, schedule=schedule or LambdaSchedule.linear(1, 0), jump_length=j,
        resample=r))
    # prepare_noise seeds torch's global generator too, as ComfyUI's sampler nodes do (2024
    # ancestral samplers draw from it)
    noise = comfy.sample.prepare_noise(latent, seed)
    cond = [[torch.zeros(1, 1, 32), {}]]
    return comfy.sample.sample_custom(model, noise, cfg, ks, _sigmas(model, steps), cond, cond, latent,
                                      noise_mask=hole, seed=seed)


@pytest.mark.parametrize("sampler_name", ["euler", "euler_ancestral", "dpmpp_2m"])
@pytest.mark.parametrize("steps,j,r", [(6, 2, 1), (6, 2, 3), (7, 3, 2)])
def test_host_known_region_and_eval_count(setup, sampler_name, steps, j, r):
    model, latent, hole, target, tmask = setup
    counted, counter = _counting(model)
    before = [t.clone() for t in (latent, hole, target, tmask)]
    out = _run(counted, latent, hole, sampler_name, steps, j, r, target, tmask)
    assert out.shape == latent.shape
    assert torch.isfinite(out).all()
    known = (hole == 0).expand_as(latent)
    assert torch.equal(out[known], latent[known]), "known region must equal the input latent exactly"
    assert not torch.equal(out[~known], latent[~known]), "the hole must be repainted"
    assert counter["n"] == count_model_evaluations(steps, j, r, sampler_name)
    assert counter["n"] == steps + -(-(steps - j) // j) * (r - 1) * j
    for a, b in zip(before, (latent, hole, target, tmask)):
        assert torch.equal(a, b), "inputs must not be modified"


def test_host_same_seed_same_output_and_target_changes_hole(setup):
    model, latent, hole, target, tmask = setup
    a = _run(model, latent, hole, "euler_ancestral", 6, 2, 2, target, tmask, seed=11)
    b = _run(model, latent, hole, "euler_ancestral", 6, 2, 2, target, tmask, seed=11)
    c = _run(model, latent, hole, "euler_ancestral", 6, 2, 2, target, tmask, seed=12)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # λ = 1 throughout pulls the silhouette to the target exactly at the last step's prediction
    full = _run(model, latent, hole, "euler", 6, 6, 1, target, tmask, seed=11, schedule=LambdaSchedule.constant(1.0))
    inside = (tmask > 0).expand_as(latent)
    none = _run(model, latent, hole, "euler", 6, 6, 1, None, None, seed=11)
    err_guided = (full[inside] - target[inside]).abs().mean()
    err_free = (none[inside] - target[inside]).abs().mean()
    assert err_guided < 0.05 * err_free, (err_guided, err_free)


def test_host_cfg_and_batch_keep_known_region(setup):
    """cfg > 1 (cond and uncond) and batch 2 through the same path keep the known region."""
    model, latent, hole, target, tmask = setup
    lat2 = torch.cat([latent, latent * 0.5])
    out = _run(model, lat2, hole, "dpmpp_2m", 5, 2, 2, target, tmask, cfg=4.0)
    known = (hole == 0).expand_as(lat2)
    assert torch.equal(out[known], lat2[known])


def _recorded(sampler_name, sigmas, schedule, j=100, r=1):
    """(sigma, w) of every model call of sample_fillblank over ComfyUI's own base sampler: a model
    that predicts 0, pulled toward a target of 1 everywhere, returns exactly the weight w."""
    import comfy.samplers
    from fillblank_core.sampling import step_calls
    base = comfy.samplers.ksampler(sampler_name)
    seen = []

    def zero(x, sigma, **kwargs):
        return torch.zeros_like(x)

    def recording(model, x, sig, **kwargs):  # the base sampler, seeing what the guided model returns
        def call(x, sigma, **kw):
            out = model(x, sigma, **kw)
            seen.append((float(sigma.reshape(-1)[0]), float(out[0, 0, 0, 0])))
            return out
        return base.sampler_function(call, x, sig, **kwargs)
    sample_fillblank(zero, torch.zeros(1, 4, 4, 4), sigmas, sampler=recording,
                     sampler_options=dict(base.extra_options), target=torch.ones(1, 4, 4, 4),
                     target_mask=torch.ones(1, 1, 4, 4), schedule=schedule, seed=0, jump_length=j, resample=r,
                     calls_per_step=step_calls(sampler_name) or 1)
    return seen


@pytest.mark.parametrize("j,r", [(100, 1), (3, 2)])
def test_heunpp2_gets_one_lambda_per_step(comfy_host, j, r):
    """heunpp2 calls the model 3 times a step (at σ_i, σ_i+1, σ_i+2), twice on the next-to-last step
    of each base-sampler call and once on its last: every call of step i gets λ(σ_i), over the
    chunks of a time-travel run too, and the calls are exactly count_model_evaluations'."""
    from fillblank_core.sampling import plan_chunks
    sig = torch.tensor([14.6, 9.0, 5.5, 3.2, 1.8, 0.9, 0.4, 0.0])
    sched = LambdaSchedule.linear(1.0, 0.0, axis="steps")  # a different λ at every step
    lam = [sched.at_sigma(float(v), sig.tolist()) for v in sig[:-1]]
    seen = _recorded("heunpp2", sig, sched, j, r)
    def calls(n):  # ComfyUI's sample_heunpp2 over n steps: Heun++, then Heun, then Euler
        return [1] if n == 1 else [3] * (n - 2) + [2, 1]
    want = [lam[lo + k] for lo, hi, passes in plan_chunks(7, j, r) for _ in range(passes)
            for k, c in enumerate(calls(hi - lo)) for _ in range(c)]
    assert len(seen) == len(want) == count_model_evaluations(7, j, r, "heunpp2")
    assert [w for _, w in seen] == pytest.approx(want, abs=1e-6)
    assert len({round(s, 4) for s, _ in seen}) > len(set(want)) - 1, "calls between the steps' sigmas"


@pytest.mark.parametrize("sampler_name", ["dpm_fast", "dpm_adaptive"])
def test_dpm_fast_and_adaptive_get_lambda_by_each_calls_noise_level(comfy_host, sampler_name):
    """dpm_fast and dpm_adaptive solve on noise levels of their own (DPM-Solver's time grid, adaptive
    steps), so there is no step of the run to hold λ over: each call gets λ at its own noise level,
    as the help page says (step_calls gives them no pattern)."""
    from fillblank_core.sampling import step_calls
    assert step_calls(sampler_name) is None
    sig = [14.6, 9.0, 5.5, 3.2, 1.8, 0.9, 0.4, 0.0]
    sched = LambdaSchedule.linear(1.0, 0.0, axis="steps")
    seen = _recorded(sampler_name, torch.tensor(sig), sched)
    assert len(seen) >= 4
    assert [w for _, w in seen] == pytest.approx([sched.at_sigma(s, sig) for s, _ in seen], abs=2e-3)
    assert len({round(s, 4) for s, _ in seen} - {round(s, 4) for s in sig}) >= 2, "its own noise levels"
