"""Each node's function on a tiny real ComfyUI model and VAE, in-process in the host."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def env(pack, tiny):
    nodes = pack.nodes.NODES_BY_ID
    g = torch.Generator().manual_seed(0)
    scene = torch.rand(1, 64, 96, 3, generator=g) * 0.3 + 0.35
    target = torch.zeros(1, 40, 40, 4)
    target[..., :3] = torch.tensor([0.9, 0.1, 0.1])
    yy, xx = torch.meshgrid(torch.arange(40), torch.arange(40), indexing="ij")
    target[0, ..., 3] = (((yy - 20) ** 2 + (xx - 20) ** 2) < 15 ** 2).float()  # a red disc in alpha
    return dict(nodes=nodes, model=tiny.tiny_model(), vae=tiny.tiny_vae(), cond=tiny.empty_conditioning(),
                scene=scene, target=target, scene_latent=None)


def _encode(env, **kw):
    args = dict(target=env["target"], scene=env["scene"], vae=env["vae"], x=0.5, y=0.5, scale=0.5,
                flip=False, cutout="auto")
    args.update(kw)
    return env["nodes"]["FillBlankTargetEncoder"].execute(**args)


def test_target_encoder_places_alpha_cutout(env):
    scene = env["scene"].clone()
    rec, preview, sil, clip_out = _encode(env, x=0.25, y=0.5, scale=0.5)
    assert clip_out is None and rec.embeds is None
    assert torch.equal(scene, env["scene"]), "scene input must not be modified"
    assert sil.shape == (1, 64, 96) and preview.shape == (1, 64, 96, 3)
    assert rec.latent.shape == (1, 4, 8, 12)
    ys, xs = torch.nonzero(sil[0] > 0.5, as_tuple=True)
    # disc of diameter 30/40 of a 32 px tall target, centred at (24, 32)
    assert abs(xs.float().mean() - 24) < 1.5 and abs(ys.float().mean() - 32) < 1.5
    assert 20 <= int(ys.max() - ys.min()) + 1 <= 26
    outside = (sil[0] == 0)
    assert torch.equal(preview[0][outside], env["scene"][0][outside])
    inside = sil[0] == 1.0
    assert torch.allclose(preview[0][inside], torch.tensor([0.9, 0.1, 0.1]).expand(int(inside.sum()), 3), atol=1e-5)


def test_mask_refiner_modes_and_errors(env):
    rec, _, sil, _ = _encode(env)
    ref = env["nodes"]["FillBlankMaskRefiner"]
    hole = torch.zeros(1, 64, 96)
    hole[:, 2:6, 2:6] = 1.0
    m_sil, prev = ref.execute("silhouette", 0, 0, 0.0, target=rec)
    assert torch.equal(m_sil, (sil > 0).float())
    m_box, _ = ref.execute("box", 0, 0, 0.0, target=rec)
    ys, xs = torch.nonzero(sil[0] > 0, as_tuple=True)
    assert m_box[0, ys.min():ys.max() + 1, xs.min():xs.max() + 1].eq(1).all() and m_box.sum() == (
        (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
    m_union, _ = ref.execute("union", 2, 0, 0.0, hole=hole, target=rec)
    assert m_union[0, 0:8, 0:8].eq(1).all() and m_union[0, 0, 9] == 0
    m_f, _ = ref.execute("hole", 0, 4, 0.0, hole=hole)
    assert m_f[0, 2:6, 2:6].eq(1).all() and 0 < m_f[0, 3, 7] < 1 and m_f[0, 3, 11] == 0
    assert prev.shape == (1, 64, 96, 3)
    with pytest.raises(ValueError, match="needs the hole input"):
        ref.execute("hole", 0, 0, 0.0, target=rec)
    with pytest.raises(ValueError, match="needs the target input"):
        ref.execute("silhouette", 0, 0, 0.0, hole=hole)


def test_lambda_schedule_node(env):
    node = env["nodes"]["FillBlankLambdaSchedule"]
    sched, plot = node.execute("keyframes", 1, 0, 0.8, 0.5, 5.0, "0:1, 0.5:0.2, 1:0", 11)
    assert sched.array(11)[5] == pytest.approx(0.2)
    assert plot.ndim == 4 and plot.shape[-1] == 3 and 0 <= plot.min() and plot.max() <= 1
    with pytest.raises(ValueError, match="keyframes"):
        node.execute("keyframes", 1, 0, 0.8, 0.5, 5.0, "0:1, zebra", 11)


def _sample(env, rec, hole, schedule=None, seed=1, steps=6, j=2, r=1, sampler="euler", blend="matched"):
    if env["scene_latent"] is None:  # the VAE samples its posterior: encode once
        env["scene_latent"] = env["vae"].encode(env["scene"]).detach()
    lat = {"samples": env["scene_latent"]}
    node = env["nodes"]["FillBlankSampler"]
    out = node.execute(env["model"], env["cond"], env["cond"], lat, rec, hole, seed, steps, 1.0, sampler,
                      "normal", 1.0, j, r, blend, schedule=schedule)[0]
    return lat["samples"], out["samples"]


def test_sampler_known_region_schedules_and_seed(env):
    rec, _, sil, _ = _encode(env)
    hole, _ = env["nodes"]["FillBlankMaskRefiner"].execute("silhouette", 8, 0, 0.0, target=rec)
    sched = env["nodes"]["FillBlankLambdaSchedule"]
    lam_a = sched.execute("constant", 1, 0, 1.0, 0.5, 5.0, "", 10)[0]
    lam_b = sched.execute("constant", 1, 0, 0.0, 0.5, 5.0, "", 10)[0]
    lat, a = _sample(env, rec, hole, lam_a, r=2)
    _, a2 = _sample(env, rec, hole, lam_a, r=2)
    _, b = _sample(env, rec, hole, lam_b, r=2)
    from fillblank_core.masks import latent_hole, mask_b1hw
    h_lat = latent_hole(hole, lat.shape[-2:])  # the one repaint rule
    keep = (h_lat == 0).expand_as(lat)
    for out in (a, b):
        assert torch.equal(out[keep], lat[keep]), "outside the hole the latent must be the input's"
        assert not torch.equal(out[~keep], lat[~keep]), "every repainted cell set is actually repainted"
    assert torch.equal(a, a2), "same seed, same output"
    inside = (latent_hole(sil, lat.shape[-2:]) > 0).expand_as(lat)
    assert not torch.allclose(a[inside], b[inside]), "λ must change the result inside the silhouette"
    # λ = 1 lands on the target latent in the silhouette's interior cells, as exactly as the known
    # region lands on the scene (the guidance holds them like ComfyUI's known region)
    full = (torch.nn.functional.avg_pool2d(mask_b1hw(sil), 8) >= 1.0).expand_as(lat)
    assert full.sum() >= 8
    assert (a[full] - rec.latent[full]).abs().max() < 1e-6


def test_sampler_select_in_sampler_custom(env, comfy_host):
    try:
        import comfy_extras.nodes_custom_sampler as cs
    except ModuleNotFoundError as e:  # ComfyUI 0.3.x's comfy_extras imports av (video) at import time
        pytest.skip(f"this host's comfy_extras.nodes_custom_sampler needs {e.name}")
    rec, _, _, _ = _encode(env)
    hole, _ = env["nodes"]["FillBlankMaskRefiner"].execute("silhouette", 8, 0, 0.0, target=rec)
    sampler = env["nodes"]["FillBlankSamplerSelect"].execute("euler", rec, 2, 2, "matched")[0]
    lat = env["vae"].encode(env["scene"])
    from fillblank_core.masks import latent_hole
    h_lat = latent_hole(hole, lat.shape[-2:])
    sig = cs.BasicScheduler().get_sigmas(env["model"], "normal", 6, 1.0)[0]
    out = cs.SamplerCustom().sample(env["model"], True, 5, 1.0, env["cond"], env["cond"], sampler, sig,
                                    {"samples": lat, "noise_mask": h_lat})[0]["samples"]
    keep = (h_lat == 0).expand_as(lat)
    assert torch.equal(out[keep], lat[keep])
    assert not torch.equal(out[~keep], lat[~keep])


def test_sampler_stops_on_interrupt(env, comfy_host):
    import comfy.model_management as mm
    import comfy.utils
    rec, _, _, _ = _encode(env)
    hole, _ = env["nodes"]["FillBlankMaskRefiner"].execute("silhouette", 8, 0, 0.0, target=rec)
    seen = []

    # what ComfyUI's server installs (main.py hijack_progress); ComfyUI 0.3.x (2025) passes
    # prompt_id / node_id by keyword as well
    def hook(value, total, preview, prompt_id=None, node_id=None):
        seen.append((value, total))
        if len(seen) == 3:
            mm.interrupt_current_processing(True)
        mm.throw_exception_if_processing_interrupted()
    old = comfy.utils.PROGRESS_BAR_HOOK
    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        with pytest.raises(mm.InterruptProcessingException):
            _sample(env, rec, hole, steps=8, j=2, r=3)
    finally:
        comfy.utils.set_progress_bar_global_hook(old)
        mm.interrupt_current_processing(False)
    assert len(seen) == 3
    assert all(total == 8 + 3 * 2 * 2 for _, total in seen), "progress counts all resampling passes"


def test_composite_exact_outside_feathered_hole(env):
    scene = env["scene"]
    decoded = torch.rand(1, 64, 96, 3, generator=torch.Generator().manual_seed(5))
    hole = torch.zeros(1, 64, 96)
    hole[:, 20:40, 30:60] = 1.0
    out = env["nodes"]["FillBlankComposite"].execute(scene, decoded, hole, 6, True)[0]
    from fillblank_core.masks import feather, mask_b1hw
    soft = feather(mask_b1hw(hole), 6)[:, 0]
    outside = soft == 0
    assert torch.equal(out[outside], scene[outside])
    assert not torch.equal(out[~outside], scene[~outside])
    assert out[0, 19, 29].sum() != scene[0, 19, 29].sum() and torch.equal(out[0, 0, 0], scene[0, 0, 0])


def _no_evaluation(model):
    """A clone of the model whose every evaluation fails (and is counted)."""
    calls = []

    def wrapper(apply_model, args):
        calls.append(1)
        raise AssertionError("the model was evaluated")
    m = model.clone()
    m.set_model_unet_function_wrapper(wrapper)
    return m, calls


@pytest.mark.parametrize("case", ["no noise mask", "16 channels", "other size", "empty noise mask"])
def test_sampler_select_checks_before_the_first_evaluation(env, comfy_host, case):
    """What only SamplerCustom knows (the latent, its noise mask) is checked when the
    SAMPLER is called, before the model is evaluated once; the message names the input and what
    to do. Through comfy.sample.sample_custom, as SamplerCustom(Advanced) calls it."""
    import comfy.sample
    rec, _, _, _ = _encode(env)
    hole, _ = env["nodes"]["FillBlankMaskRefiner"].execute("silhouette", 8, 0, 0.0, target=rec)
    sampler = env["nodes"]["FillBlankSamplerSelect"].execute("euler", rec, 2, 2, "matched")[0]
    lat = env["vae"].encode(env["scene"]).detach()
    mask, words = hole, []
    if case == "no noise mask":
        mask, words = None, ["Sampler Select", "no noise mask", "Set Latent Noise Mask"]
    elif case == "16 channels":
        lat, words = lat.repeat(1, 4, 1, 1), ["Sampler Select", "latent_image has 16 channels", "4 channels", "VAE"]
    elif case == "other size":
        lat, words = lat[..., :4, :4].contiguous(), ["Sampler Select", "latent_image is 4x4", "32x32 px", "96x64 scene"]
    else:
        mask, words = torch.zeros_like(hole), ["Sampler Select", "noise mask", "empty"]
    model, calls = _no_evaluation(env["model"])
    sigmas = torch.tensor([14.6, 3.0, 1.0, 0.0])
    with pytest.raises(ValueError) as e:
        comfy.sample.sample_custom(model, torch.randn_like(lat), 1.0, sampler, sigmas, env["cond"], env["cond"],
                                   lat, noise_mask=mask, seed=1)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    assert calls == [], "the check must come before the first model evaluation"


def test_object_mask_is_the_other_convention_of_target_mask(env):
    """object_mask (1 = object, as SAM / segmentation nodes give) places exactly what target_mask
    (LoadImage's 1 = transparent) places for the complementary mask; both at once is refused; the
    mask input is not modified."""
    rgb = env["target"][..., :3].contiguous()
    obj = env["target"][..., 3].clone()  # 1 on the disc
    before = obj.clone()
    rec_o, prev_o, sil_o, _ = _encode(env, target=rgb, object_mask=obj, x=0.3, scale=0.6)
    rec_t, prev_t, sil_t, _ = _encode(env, target=rgb, target_mask=1.0 - obj, x=0.3, scale=0.6)
    assert torch.equal(obj, before), "object_mask must not be modified"
    assert torch.equal(sil_o, sil_t) and torch.equal(prev_o, prev_t)
    assert torch.equal(rec_o.latent, rec_t.latent)
    # the disc, not its complement: the silhouette covers ~π/4 of the placed box
    ys, xs = torch.nonzero(sil_o[0] > 0.5, as_tuple=True)
    box = (int(ys.max() - ys.min()) + 1) * (int(xs.max() - xs.min()) + 1)
    assert 0.65 < float((sil_o[0] > 0.5).sum()) / box < 0.85
    with pytest.raises(ValueError, match="target_mask and object_mask are both connected"):
        _encode(env, target=rgb, object_mask=obj, target_mask=1.0 - obj)
    with pytest.raises(ValueError, match="object_mask"):
        _encode(env, target=rgb, object_mask=torch.ones(2, 40, 40), scene=env["scene"].expand(3, -1, -1, -1))


def test_a_hole_thinner_than_a_latent_cell_is_told_apart_from_an_empty_one(env):
    """A 3 px stick between the centres of the 8 px latent cells is a non-empty Mask Refiner hole
    that repaints no latent cell: Fill-in Sampler says so with its size and the fix (grow), not
    "paint it"; grown by 1 px it reaches the cells' centres and samples."""
    rec, _, _, _ = _encode(env)
    stick = torch.zeros(1, 64, 96)
    stick[:, 10:50, 13:16] = 1.0  # columns 13–15: cell 1's centre pixels are 11–12, cell 2's 19–20
    ref = env["nodes"]["FillBlankMaskRefiner"]
    hole, _ = ref.execute("hole", 0, 0, 0.0, hole=stick)
    assert int(hole.sum()) == 120
    with pytest.raises(ValueError) as err:
        _sample(env, rec, hole, steps=2)
    msg = str(err.value)
    assert "no latent cell" in msg and "120 px" in msg and "3x40 px" in msg and "each 8x8 px latent cell" in msg
    assert "grow" in msg and "MaskEditor" not in msg and "paint the hole" not in msg
    grown, _ = ref.execute("hole", 1, 0, 0.0, hole=stick)
    latent, out = _sample(env, rec, grown, steps=2)
    assert not torch.equal(latent, out)
    with pytest.raises(ValueError, match="is empty: paint the hole"):
        _sample(env, rec, torch.zeros(1, 64, 96), steps=2)
