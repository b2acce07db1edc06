"""Fill-in Sampler with the latent formats of real checkpoints, through the real ComfyUI sampling path.

Test models built on ComfyUI's ``BASE`` use the identity latent format, which hides conversion
bugs: the target latent is VAE-space (Target Encoder's ``vae.encode``), the sampler works in model
space, ``process_latent_in(x) = (x − shift)·scale`` maps one to the other and ``process_latent_out``
back. Here the tiny model gets the formats of SD1.5 (scale 0.18215), SDXL (0.13025), SD3 (scale
1.5305, shift 0.0609, 16 channels, flow with shift 3) and Flux (scale 0.3611, shift 0.1159, 16
channels, Flux's flow sampling), and the VAE 16 channels where the family has them.

With λ = 1 and a hole around the target, checked at every model call, before the final overwrite
(ComfyUI's model_function_wrapper sees the model-space input and the model's own prediction, the
sampler's callback the state and the guided prediction):
  * every latent cell the object touches (inside the hole) is predicted as process_latent_in(T),
    exactly, and the model sees it at its noise level there: a(σ)·T_in + s(σ)·η, one η per pass;
  * the known region is predicted as process_latent_in(latent), exactly, and the model sees
    a(σ)·latent_in + s(σ)·noise with the node's own noise;
and in the node's output (after process_latent_out): the known region is the input latent bit for
bit, the touched cells are the target (process_latent_out of process_latent_in of it, so T within
float32 rounding).
"""

from __future__ import annotations

import importlib
import math

import pytest
import torch

pytestmark = pytest.mark.host

H, W = 64, 96
# (format name in comfy.latent_formats, tiny.py prediction, scale, shift, channels) — DESIGN.md §3
FORMATS = {
    "SD15": ("SD15", "eps", 0.18215, 0.0, 4),
    "SDXL": ("SDXL", "eps", 0.13025, 0.0, 4),
    "SD3": ("SD3", "flow", 1.5305, 0.0609, 16),
    "Flux": ("Flux", "flux", 0.3611, 0.1159, 16),
}
STEPS, JUMP = 4, 2
PASSES = {1: [0, 0, 0, 0], 2: [0, 0, 1, 1, 2, 2]}  # pass number of each call: chunks (0, 2)×2 and (2, 4)×1


def coefficients(prediction: str, sigma: float) -> tuple[float, float]:
    """a(σ), s(σ) (DESIGN.md §2): eps/v a = 1, s = σ; flow (CONST) a = 1 − σ, s = σ."""
    return (1.0, sigma) if prediction in ("eps", "v") else (1.0 - sigma, sigma)


def touched_cells(mask: torch.Tensor, hw) -> torch.Tensor:
    """[h,w] bool: the latent cells the object touches (any pixel of the 8×8 cell with at least one
    8-bit alpha step of coverage), from the rule, independently of the core."""
    h, w = int(hw[0]), int(hw[1])
    return mask[0].reshape(h, H // h, w, W // w).amax(dim=(1, 3)) >= 1.0 / 255.0


def make_inputs():
    g = torch.Generator().manual_seed(8)
    yy = torch.linspace(0, 1, H)[:, None, None]
    scene = (torch.tensor([0.3, 0.45, 0.6]) + 0.2 * yy * torch.tensor([1.0, -0.5, 0.3])
             + 0.1 * torch.rand(H, W, 3, generator=g)).clamp(0, 1)[None]
    ty, tx = torch.meshgrid(torch.arange(40.0), torch.arange(40.0), indexing="ij")
    target = (torch.tensor([0.85, 0.2, 0.1]) * (0.6 + 0.4 * tx / 40)[..., None])[None]
    obj = (((ty - 16) ** 2 + (tx - 20) ** 2) < 11 ** 2) | ((ty >= 20) & (tx >= 19) & (tx < 21))  # a ball on a stick
    tmask = (~obj).float()[None]  # LoadImage: 1 = transparent
    return scene, target, tmask


@pytest.fixture(scope="module", params=list(FORMATS), ids=list(FORMATS))
def fmt(request, pack, tiny, one_torch_thread):
    name, prediction, scale, shift, channels = FORMATS[request.param]
    import comfy.latent_formats
    fmt_cls = getattr(comfy.latent_formats, name)
    model = tiny.tiny_model(prediction=prediction, latent_format=fmt_cls)
    vae = tiny.tiny_vae(latent_channels=channels)
    nodes = pack.nodes.NODES_BY_ID
    scene, target, tmask = make_inputs()
    rec = nodes["FillBlankTargetEncoder"].execute(target, scene, vae, 0.5, 0.5, 0.55, False, "auto", tmask)[0]
    latent = vae.encode(scene).detach().float()
    # The tiny random VAE's latents are ~0.004; a real VAE's are about unit variance in model space.
    # Map both latents (by the same affine map) to where a real VAE of the family puts them.
    k = 1.0 / (scale * float(latent.std()))
    rec = type(rec)(**{**rec.__dict__, "latent": rec.latent.detach() * k + shift})
    latent = latent * k + shift
    hole = torch.zeros(1, H, W)
    ys, xs = torch.nonzero(rec.mask[0] > 0, as_tuple=True)
    hole[:, max(0, int(ys.min()) - 10):int(ys.max()) + 11, max(0, int(xs.min()) - 10):int(xs.max()) + 11] = 1.0
    schedules = importlib.import_module(pack.__name__ + ".fillblank_core.schedules")
    return dict(name=request.param, prediction=prediction, scale=scale, shift=shift, channels=channels, model=model,
                nodes=nodes, rec=rec, latent=latent, hole=hole, cond=tiny.empty_conditioning(),
                hold=schedules.LambdaSchedule.constant(1.0))


def run_node(fmt, r: int, monkeypatch, seed: int = 3):
    """Fill-in Sampler with a spy on every model call and on the sampler's callback."""
    import latent_preview
    calls, steps = [], []

    def wrapper(apply_model, args):
        out = apply_model(args["input"], args["timestep"], **args["c"])
        calls.append((args["input"].clone(), float(args["timestep"].reshape(-1)[0]), out.clone()))
        return out
    model = fmt["model"].clone()
    model.set_model_unet_function_wrapper(wrapper)

    def prepare_callback(model, total, *a, **k):
        return lambda step, x0, x, total_steps: steps.append((x.clone(), x0.clone()))
    monkeypatch.setattr(latent_preview, "prepare_callback", prepare_callback)
    out = fmt["nodes"]["FillBlankSampler"].execute(
        model, fmt["cond"], fmt["cond"], {"samples": fmt["latent"]}, fmt["rec"], fmt["hole"], seed, STEPS, 1.0,
        "euler", "normal", 1.0, JUMP, r, "matched", fmt["hold"])[0]["samples"]
    return out, calls, steps


def test_the_tiny_model_has_the_family_format(fmt):
    lf = fmt["model"].model.latent_format
    x = torch.randn(1, fmt["channels"], 8, 12, generator=torch.Generator().manual_seed(0))
    assert lf.latent_channels == fmt["channels"]
    assert torch.allclose(fmt["model"].model.process_latent_in(x), (x - fmt["shift"]) * fmt["scale"], atol=1e-6)
    assert torch.allclose(fmt["model"].model.process_latent_out(x), x / fmt["scale"] + fmt["shift"], atol=1e-5)
    assert fmt["rec"].latent.shape[1] == fmt["latent"].shape[1] == fmt["channels"]


@pytest.mark.parametrize("r", [1, 2], ids=["no-travel", "resample2"])
def test_lambda_one_and_known_region_in_model_space_and_after_latent_out(fmt, r, monkeypatch):
    import comfy.sample
    from fillblank_core.masks import latent_hole
    out, calls, steps = run_node(fmt, r, monkeypatch)
    lat, T = fmt["latent"], fmt["rec"].latent
    scale, shift = fmt["scale"], fmt["shift"]
    lat_in, T_in = (lat - shift) * scale, (T - shift) * scale  # process_latent_in, from its definition
    hw = lat.shape[-2:]
    hole = latent_hole(fmt["hole"], hw)[0, 0] > 0
    cells = touched_cells(fmt["rec"].mask, hw)
    assert cells.any() and bool((cells <= hole).all()), "the hole covers every touched cell (test setup)"
    held = cells.expand_as(lat[0])[None]
    known = (~hole).expand_as(lat[0])[None]
    assert len(calls) == len(steps) == len(PASSES[r]), "one model call per step (cfg 1: no uncond)"

    # model space, at every call, before the final overwrite
    noise = comfy.sample.prepare_noise(lat, 3)
    etas = {}
    for k, ((x_in, sigma, _), (x, x0), p) in enumerate(zip(calls, steps, PASSES[r])):
        a, s = coefficients(fmt["prediction"], sigma)
        assert torch.equal(x0[held], T_in[held]), f"call {k}: a touched cell is not process_latent_in(target)"
        assert torch.equal(x0[known], lat_in[known]), f"call {k}: the known region is not process_latent_in(latent)"
        mag = float(lat_in.abs().max()) + float(noise.abs().max()) * s
        assert torch.allclose(x_in[known], a * lat_in[known] + s * noise[known], rtol=0, atol=1e-5 * mag), \
            f"call {k}: the model's input in the known region is not the latent at σ {sigma:.4g} with the node's noise"
        eta = (x_in[held] - a * T_in[held]) / s  # the target at the noise level the model is told
        if p in etas:
            assert torch.allclose(eta, etas[p], rtol=0, atol=1e-4 * (1 + float(T_in.abs().max()) / s)), \
                f"call {k}: the target's clean part is not a(σ)·T_in (η changed within pass {p})"
        else:
            n = eta.numel()
            assert abs(float(eta.mean())) <= 5 / math.sqrt(n), f"call {k}: η mean {float(eta.mean())}"
            assert abs(float(eta.std()) - 1.0) <= 5 / math.sqrt(2 * n), f"call {k}: η std {float(eta.std())}"
            etas[p] = eta

    # the node's output, after process_latent_out
    assert out.shape == lat.shape and torch.isfinite(out).all()
    assert torch.equal(out[known], lat[known]), "the known region must be the input latent bit for bit"
    roundtrip = (T_in / scale) + shift  # process_latent_out(process_latent_in(T)): what ComfyUI hands back
    assert torch.equal(out[held], roundtrip[held]), "the touched cells must be the target"
    # four float32 operations (−shift, ·scale, /scale, +shift), each within half an ulp of its result
    bound = 4 * 2.0 ** -24 * 2 * (float(T.abs().max()) + shift)
    assert float((out[held] - T[held]).abs().max()) <= bound, "T within float32 rounding"
    free = (hole & ~cells).expand_as(lat[0])[None]
    assert not torch.allclose(out[free], lat[free], atol=1e-3 * float(lat.abs().max())), \
        "the rest of the hole was not repainted"
