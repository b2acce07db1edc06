"""Several objects in one pass, perspective-aware placement and room for the shadow, through the nodes
(Target Encoder's add_to and horizon, Mask Refiner's and Insert's shadow zone) on a tiny real
ComfyUI model and VAE in the host."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def env(pack, tiny):
    g = torch.Generator().manual_seed(0)
    scene = torch.rand(1, 64, 96, 3, generator=g) * 0.3 + 0.35
    disc = torch.zeros(1, 40, 40, 4)
    yy, xx = torch.meshgrid(torch.arange(40), torch.arange(40), indexing="ij")
    disc[0, ..., 3] = (((yy - 20) ** 2 + (xx - 20) ** 2) < 15 ** 2).float()
    red, blue = disc.clone(), disc.clone()
    red[..., :3] = torch.tensor([0.9, 0.1, 0.1])
    blue[..., :3] = torch.tensor([0.1, 0.2, 0.9])
    return dict(nodes=pack.nodes.NODES_BY_ID, model=tiny.tiny_model(), vae=tiny.tiny_vae(),
                cond=tiny.empty_conditioning(), scene=scene, red=red, blue=blue)


def _encode(env, target, **kw):
    args = dict(target=target, scene=env["scene"], vae=env["vae"], x=0.5, y=0.5, scale=0.4, flip=False, cutout="auto")
    args.update(kw)
    return env["nodes"]["FillBlankTargetEncoder"].execute(**args)


def _counting(model):
    m = model.clone()
    calls = []

    def wrapper(apply_model, args):
        calls.append(1)
        return apply_model(args["input"], args["timestep"], **args["c"])
    m.set_model_unet_function_wrapper(wrapper)
    return m, calls


def test_two_chained_targets_are_inserted_in_one_run(env):
    red, _, red_sil, _ = _encode(env, env["red"], x=0.3)
    both, preview, sil, _ = _encode(env, env["blue"], x=0.7, add_to=red)
    alone, _, blue_sil, _ = _encode(env, env["blue"], x=0.7)
    # the record holds both: the union silhouette, both pasted, both placements
    assert torch.equal(sil, torch.maximum(red_sil, blue_sil))
    r_in, b_in = red_sil[0] == 1, blue_sil[0] == 1
    assert torch.allclose(preview[0][r_in], torch.tensor([0.9, 0.1, 0.1]).expand(int(r_in.sum()), 3), atol=1e-5)
    assert torch.allclose(preview[0][b_in], torch.tensor([0.1, 0.2, 0.9]).expand(int(b_in.sum()), 3), atol=1e-5)
    assert [p.x for p in both.placements] == [pytest.approx(0.3), pytest.approx(0.7)]
    # one sampling run: as many model evaluations as for one object, and λ = 1 holds both objects
    refine = env["nodes"]["FillBlankMaskRefiner"]
    hole, _ = refine.execute("silhouette", 8, 0, 0.0, target=both)
    one_hole, _ = refine.execute("silhouette", 8, 0, 0.0, target=alone)
    lam1 = env["nodes"]["FillBlankLambdaSchedule"].execute("constant", 1, 0, 1.0, 0.5, 5.0, "", 10)[0]
    sampler = env["nodes"]["FillBlankSampler"]
    counts = []
    outs = []
    for rec, h in ((both, hole), (alone, one_hole)):
        model, calls = _counting(env["model"])
        out = sampler.execute(model, env["cond"], env["cond"], None, rec, h, 1, 6, 1.0, "euler", "normal", 1.0, 2, 2,
                              "matched", schedule=lam1)[0]["samples"]
        counts.append(len(calls))
        outs.append(out)
    assert counts[0] == counts[1] > 0
    full = (torch.nn.functional.avg_pool2d(sil[:, None], 8) >= 1.0).expand_as(outs[0])
    for obj in (red_sil, blue_sil):  # interior cells of each object land on the record's latent
        cells = full & (torch.nn.functional.avg_pool2d(obj[:, None], 8) >= 1.0).expand_as(outs[0])
        assert int(cells.sum()) >= 4
        assert (outs[0][cells] - both.latent[cells]).abs().max() < 1e-6


def test_chaining_refuses_another_scene(env):
    red, _, _, _ = _encode(env, env["red"], x=0.3)
    other = env["scene"].flip(1)
    with pytest.raises(ValueError, match="add_to"):
        _encode(env, env["blue"], scene=other, add_to=red)
    with pytest.raises(ValueError, match="add_to must be the FILLBLANK_TARGET"):
        _encode(env, env["blue"], add_to="not a target")


def test_horizon_scales_by_the_ground_plane_rule(env):
    from fillblank_core.placement import ground_height
    off, _, _, _ = _encode(env, env["red"], y=0.6, scale=0.3)
    assert off.placement.scale == pytest.approx(0.3)
    heights = []
    for y in (0.55, 0.65, 0.75):
        rec, _, _, _ = _encode(env, env["red"], y=y, scale=0.3, horizon=0.4)
        assert rec.placement.scale == pytest.approx(ground_height(0.3, y, 0.4))
        heights.append((rec.placement.scale, y))
    (h1, y1), (h2, y2) = heights[0], heights[2]
    assert h2 / h1 == pytest.approx((y2 + h2 / 2 - 0.4) / (y1 + h1 / 2 - 0.4))
    with pytest.raises(ValueError, match="above the horizon"):
        _encode(env, env["red"], y=0.3, horizon=0.4)


def test_shadow_zone_in_mask_refiner_and_insert(env):
    rec, _, sil, _ = _encode(env, env["red"], y=0.45, scale=0.4)
    refine = env["nodes"]["FillBlankMaskRefiner"]
    plain, _ = refine.execute("silhouette", 0, 0, 0.0, target=rec)
    contact, _ = refine.execute("silhouette", 0, 0, 0.0, target=rec, shadow="contact")
    cast, _ = refine.execute("silhouette", 0, 0, 0.0, target=rec, shadow="cast", shadow_angle=0, shadow_length=1.0)
    ys, xs = torch.nonzero(sil[0] > 0, as_tuple=True)
    base, right = int(ys.max()), int(xs.max())
    assert int(plain[0, base + 1:].sum()) == 0  # nothing under the base without the zone
    assert int(contact[0, base + 1:].sum()) > 0 and bool((contact >= plain).all())
    assert int(cast[0, :, right + 3:].sum()) > 0 and int(contact[0, :, right + 3:].sum()) == 0  # cast to the right
    with pytest.raises(ValueError, match="shadow 'contact' needs the target input"):
        hole = torch.zeros(1, 64, 96)
        hole[:, 5:20, 5:20] = 1
        refine.execute("hole", 0, 0, 0.0, hole=hole, shadow="contact")
    # Insert: the hole it uses gains the zone under the object
    scene = env["scene"]
    args = dict(fit="x-y-scale", x=0.5, y=0.45, scale=0.4, flip=False, cutout="auto", seed=3, steps=2, cfg=1.0,
                sampler_name="euler", scheduler="normal", denoise=1.0, jump_length=2, resample=1, working_size=128,
                context=0.25, feather=8, color_match=False)
    ins = env["nodes"]["FillBlankInsert"]
    with torch.inference_mode():
        _, _, h0 = ins.execute(env["model"], env["vae"], env["cond"], env["cond"], scene, env["red"], **args)
        _, _, h1 = ins.execute(env["model"], env["vae"], env["cond"], env["cond"], scene, env["red"], **args,
                               shadow="cast", shadow_angle=0, shadow_length=1.0)
    assert bool((h1 >= h0).all()) and int(h1.sum()) > int(h0.sum())
    assert int(h1[0, :, right + 12:].sum()) > int(h0[0, :, right + 12:].sum())


def test_horizon_height_and_add_to_batches_are_refused_clearly(env):
    with pytest.raises(ValueError, match=r"with horizon 0.5, scale 0.9 at y 0.95 makes the object .* the scene height"):
        _encode(env, env["red"], y=0.95, scale=0.9, horizon=0.5)
    red, _, _, _ = _encode(env, env["red"], x=0.3)
    two = torch.cat([red.latent] * 2)
    pair = type(red)(image=red.image.expand(2, -1, -1, -1), mask=red.mask.expand(2, -1, -1),
                     composite=red.composite.expand(2, -1, -1, -1), latent=two, placement=red.placement)
    three = env["blue"].expand(3, -1, -1, -1)
    with pytest.raises(ValueError, match="add_to has batch 2"):
        _encode(env, three, add_to=pair)


def test_chained_targets_keep_each_one_its_own_in_front(env):
    """The red disc stands behind a post, the blue one in front of it (no in_front) and over part of it:
    the post is kept where it is in front of red, and repainted where blue covers it."""
    post = torch.zeros(1, 64, 96)
    post[:, :, 36:42] = 1.0
    red, _, red_sil, _ = _encode(env, env["red"], x=0.35, in_front=post)
    both, preview, sil, _ = _encode(env, env["blue"], x=0.5, y=0.6, add_to=red)
    blue_alone, _, blue_sil, _ = _encode(env, env["blue"], x=0.5, y=0.6)
    on_blue = (post[0] == 1) & (blue_sil[0] > 0)
    off_blue = (post[0] == 1) & (blue_sil[0] == 0)
    assert bool(on_blue.any()) and bool(off_blue.any())
    assert torch.equal(both.in_front[0][off_blue], post[0][off_blue])
    under = on_blue & (blue_sil[0] == 1)  # blue's opaque part (its soft edge keeps the post in part)
    assert bool(under.any()) and not bool((both.in_front[0][under] > 0).any())
    assert torch.allclose(preview[0][under], torch.tensor([0.1, 0.2, 0.9]), atol=1e-5)
    assert torch.equal(preview[0][off_blue], env["scene"][0][off_blue])
    hole, _ = env["nodes"]["FillBlankMaskRefiner"].execute("silhouette", 8, 0, 0.0, target=both)
    assert not bool((hole[0][off_blue] > 0).any()) and bool((hole[0][on_blue] > 0).any())


def test_composite_of_a_chain_keeps_what_the_record_keeps_given_in_front_less_the_silhouette(env):
    """The modular chain with chained targets: Fill-in Composite's in_front must be what the last record
    keeps (``target.kept``), which for 0/1 masks is the encoders' in_front less the last encoder's
    silhouette output (README: Mask Composite subtract). Given the plain in_front, the post would be put
    back over blue where blue stands in front of it."""
    post = torch.zeros(1, 64, 96)
    post[:, :, 36:42] = 1.0
    red, _, _, _ = _encode(env, env["red"], x=0.35, in_front=post)
    both, preview, sil, _ = _encode(env, env["blue"], x=0.5, y=0.6, add_to=red)
    recipe = (post - sil).clamp(0, 1)  # ComfyUI's MaskComposite "subtract" clamps to 0..1
    assert torch.equal((recipe == 1), (both.in_front == 1)) and torch.equal(recipe > 0, both.in_front > 0)
    comp = env["nodes"]["FillBlankComposite"]
    hole = torch.zeros(1, 64, 96)
    hole[:, 8:60, 16:80] = 1.0
    out = comp.execute(env["scene"], preview, hole, 4, False, in_front=recipe)[0]
    on_blue = (post[0] == 1) & (sil[0] == 1)
    assert bool(on_blue.any()) and torch.equal(out[0][on_blue], preview[0][on_blue])          # blue stays in front
    assert torch.equal(out[0][both.in_front[0] == 1], env["scene"][0][both.in_front[0] == 1])  # the post kept
    plain = comp.execute(env["scene"], preview, hole, 4, False, in_front=post)[0]
    assert not torch.equal(plain[0][on_blue], preview[0][on_blue])                           # the trap
