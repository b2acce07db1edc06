"""Fill-in Insert, Fill-in Crop and Composite's stitch in-process in the host, with the tiny real
ComfyUI model and VAE: large scenes sampled at the working size, the scene kept byte for byte
outside the feathered hole, the modular Crop → … → Composite round trip, bad input before any
model work."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def env(pack, tiny):
    return dict(nodes=pack.nodes.NODES_BY_ID, model=tiny.tiny_model(), vae=tiny.tiny_vae(),
                cond=tiny.empty_conditioning())


def _target(h=120, w=90):
    """RGBA target: a red ellipse in the alpha channel, transparent margins around it."""
    t = torch.zeros(1, h, w, 4)
    t[..., :3] = torch.tensor([0.9, 0.15, 0.1])
    yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    t[0, ..., 3] = (((yy - h / 2) / (0.4 * h)) ** 2 + ((xx - w / 2) / (0.35 * w)) ** 2 < 1).float()
    return t


def _scene(H, W, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, H, W, 3, generator=g) * 0.3 + 0.35


def _rect(H, W, x0, y0, x1, y1):
    m = torch.zeros(1, H, W)
    m[:, y0:y1, x0:x1] = 1.0
    return m


def _recording(model):
    """A clone of the model whose UNet input shapes are recorded (ComfyUI's unet wrapper hook)."""
    m = model.clone()
    shapes = []

    def wrapper(apply_model, args):
        shapes.append(tuple(args["input"].shape))
        return apply_model(args["input"], args["timestep"], **args["c"])
    m.set_model_unet_function_wrapper(wrapper)
    return m, shapes


def _insert(env, scene, target, model=None, vae=None, **kw):
    args = dict(fit="into hole", x=0.5, y=0.5, scale=0.4, flip=False, cutout="auto", seed=3, steps=4, cfg=1.0,
                sampler_name="euler", scheduler="normal", denoise=1.0, jump_length=2, resample=1,
                working_size=256, context=0.25, feather=8, color_match=False)
    args.update(kw)
    with torch.inference_mode():  # as ComfyUI runs nodes
        return env["nodes"]["FillBlankInsert"].execute(model or env["model"], vae or env["vae"], env["cond"],
                                                         env["cond"], scene, target, **args)


def _outside(hole, feather):
    """[B,H,W] True outside the hole feathered by ``feather`` px (masks.feather, worked out around the
    hole's box: farther away the feather is 0 anyway)."""
    from fillblank_core import masks as M
    m = M.mask_b1hw(hole)
    H, W = m.shape[-2:]
    out = torch.ones(m.shape[0], H, W, dtype=torch.bool)
    box = _box(m)
    if box is not None:
        p = int(feather) + 2
        x0, y0, x1, y1 = max(0, box[0] - p), max(0, box[1] - p), min(W, box[2] + p), min(H, box[3] + p)
        out[:, y0:y1, x0:x1] = M.feather(m[..., y0:y1, x0:x1], feather)[:, 0] == 0
    return out


def _same_where(a, b, where):
    """a equals b exactly wherever ``where`` [B,H,W] is True (without copying full-size selections)."""
    return not bool(((a != b).any(-1) & where).any())


def _box(mask):
    from fillblank_core import masks as M
    return M.mask_box(M.mask_b1hw(mask))


def test_insert_on_a_4096x3072_scene_samples_at_the_working_size_and_keeps_the_scene(env):
    H, W = 3072, 4096
    scene, target = _scene(H, W), _target()
    hole = _rect(H, W, 2300, 1200, 2700, 1800)
    before = [t.clone() for t in (scene, target, hole)]
    model, shapes = _recording(env["model"])
    image, preview, used = _insert(env, scene, target, model=model, hole=hole, working_size=320, feather=8)
    # the sampler only ever saw the crop's latent: no side longer than working size / 8
    assert shapes and all(max(s[-2:]) == 320 // 8 for s in shapes), set(shapes)
    assert preview.shape[1:3] == (shapes[0][-2] * 8, shapes[0][-1] * 8)
    # full size out; outside the feathered hole the scene's own values, bit for bit
    assert image.shape == scene.shape and used.shape == (1, H, W)
    outside = _outside(used, 8)
    assert _same_where(image, scene, outside)
    assert not _same_where(image, scene, ~outside)
    assert bool((used[hole > 0] == 1).all()), "the hole used contains the given hole"
    # fit into the hole: the object, grown by one latent cell, stays inside the rectangular hole
    assert torch.equal(used, hole), "the hole used is the hole"
    for a, b in zip(before, (scene, target, hole)):
        assert torch.equal(a, b), "inputs must not be modified"


class _RecordingVAE:
    """The tiny VAE, recording what it encodes and the latent it decodes."""
    def __init__(self, vae):
        self.vae, self.seen = vae, {}
        self.downscale_ratio = vae.downscale_ratio

    def encode(self, pixels):
        self.seen["pixels"] = pixels.clone()
        self.seen["encoded"] = self.vae.encode(pixels).clone()
        return self.seen["encoded"]

    def decode(self, latent):
        self.seen["decoded"] = latent.clone()
        return self.vae.decode(latent)


def test_insert_lands_on_the_target_with_lambda_1_and_encodes_once(env):
    """λ = 1 throughout: inside the silhouette's interior latent cells the sampled latent is the
    encoded crop (scene with the red target pasted in), as Fill-in Sampler guarantees."""
    H, W = 1200, 1600
    scene, target, hole = _scene(H, W, 7), _target(), _rect(H, W, 700, 400, 1000, 800)
    lam1 = env["nodes"]["FillBlankLambdaSchedule"].execute("constant", 1, 0, 1.0, 0.5, 5.0, "", 10)[0]
    vae = _RecordingVAE(env["vae"])
    calls = []
    orig = vae.encode
    vae.encode = lambda px: calls.append(1) or orig(px)
    _insert(env, scene, target, vae=vae, hole=hole, schedule=lam1, working_size=256)
    assert len(calls) == 1, "one VAE encode"
    px, enc, dec = vae.seen["pixels"], vae.seen["encoded"], vae.seen["decoded"]
    assert max(px.shape[1:3]) == 256
    red = (px - torch.tensor([0.9, 0.15, 0.1])).abs().amax(-1) < 1e-4  # [1,h,w] the target's interior
    cells = torch.nn.functional.avg_pool2d(red.float()[:, None], 8)[:, 0] == 1.0
    assert int(cells.sum()) >= 8
    cells = cells[:, None].expand_as(enc)
    assert float((dec[cells] - enc[cells]).abs().max()) < 1e-5


def test_insert_without_hole_at_the_corner_crops_inside_the_image(env):
    """No hole: the silhouette grown by one latent cell; a target at the corner with wide context
    makes a crop that would leave the image: it is clamped, never an error."""
    H, W = 480, 640
    scene, target = _scene(H, W, 1), _target(60, 40)
    model, shapes = _recording(env["model"])
    image, preview, used = _insert(env, scene, target, model=model, fit="into hole", x=0.03, y=0.04, scale=0.2,
                                   context=4.0, working_size=192, color_match=True)
    hb = _box(used)
    assert hb[0] == 0 and hb[1] == 0 and hb[2] < 100 and hb[3] < 100, hb  # at the corner, clipped
    assert all(max(s[-2:]) <= 192 // 8 for s in shapes)
    outside = _outside(used, 8)  # colour matching changes only what is blended in
    assert torch.equal(image[outside], scene[outside])
    assert image.shape == scene.shape


def test_insert_same_seed_same_output_other_seed_differs(env):
    H, W = 256, 320
    scene, target, hole = _scene(H, W, 2), _target(40, 30), _rect(H, W, 100, 80, 180, 200)
    a = _insert(env, scene, target, hole=hole, seed=5, working_size=128)[0]
    b = _insert(env, scene, target, hole=hole, seed=5, working_size=128)[0]
    c = _insert(env, scene, target, hole=hole, seed=6, working_size=128)[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_crop_sampler_composite_round_trip_exact_outside_the_hole(env):
    """The modular chain on a large scene: Crop → Target Encoder → Mask Refiner → Sampler (no LATENT:
    the target's own latent, one VAE encode) → VAE Decode → Composite with the stitch."""
    n = env["nodes"]
    H, W = 1536, 2048
    scene, hole = _scene(H, W, 3), _rect(H, W, 900, 600, 1200, 1000)
    before = scene.clone()
    with torch.inference_mode():
        c_scene, c_hole, c_target, c_sil, plan = n["FillBlankCrop"].execute(scene, hole, 256, 0.25)
        assert max(c_scene.shape[1:3]) == 256 and c_hole.shape == c_scene.shape[:3]
        assert torch.equal(c_target, c_scene) and not bool(c_sil.any())
        rec, _, _, _ = n["FillBlankTargetEncoder"].execute(_target(), c_scene, env["vae"], 0.5, 0.5, 0.45, False, "auto")
        refined, _ = n["FillBlankMaskRefiner"].execute("union", 8, 0, 0.0, hole=c_hole, target=rec)
        sampler = n["FillBlankSampler"]
        args = (3, 4, 1.0, "euler", "normal", 1.0, 2, 1, "matched")
        own = sampler.execute(env["model"], env["cond"], env["cond"], None, rec, refined, *args)[0]
        given = sampler.execute(env["model"], env["cond"], env["cond"], {"samples": rec.latent}, rec, refined, *args)[0]
        assert torch.equal(own["samples"], given["samples"]), "no LATENT = the target's own latent"
        assert own["samples"].shape[-2:] == (c_scene.shape[1] // 8, c_scene.shape[2] // 8)
        decoded = env["vae"].decode(own["samples"])
        out = n["FillBlankComposite"].execute(scene, decoded, refined, 8, False, stitch=plan)[0]
    from fillblank_core import crop as C
    scene_hole = C.mask_to_scene(plan, refined)
    assert bool((scene_hole[hole > 0] > 0).all()), "the cropped hole maps back over the original"
    outside = _outside(scene_hole, 8)
    assert out.shape == scene.shape
    assert torch.equal(out[outside], scene[outside])
    assert not torch.equal(out[~outside], scene[~outside])
    assert torch.equal(scene, before)


def test_crop_node_passes_target_and_silhouette_through_the_same_crop(env):
    H, W = 300, 400
    scene, hole = _scene(H, W, 4), _rect(H, W, 100, 100, 140, 150)
    layer = _scene(H, W, 5)
    sil = _rect(H, W, 200, 180, 260, 240)
    c_scene, c_hole, c_target, c_sil, plan = env["nodes"]["FillBlankCrop"].execute(scene, hole, 128, 0.1, layer, sil)
    x0, y0, x1, y1 = plan.box
    assert x0 <= 100 and y0 <= 100 and x1 >= 260 and y1 >= 240, "the box holds the hole and the silhouette"
    from fillblank_core import crop as C
    assert torch.equal(c_target, C.crop_image(plan, layer)) and torch.equal(c_sil, C.crop_mask(plan, sil))


class _NoModelWork:
    """Stands in for the VAE and the model: any use before the checks fail is a test failure."""
    downscale_ratio = 8

    def __getattr__(self, name):
        raise AssertionError(f"model work ({name}) before the input checks")


def _bad_insert_cases():
    H, W = 96, 128
    scene, target, hole = _scene(H, W), _target(40, 30), _rect(H, W, 40, 30, 80, 70)
    nan_hole = hole.clone()
    nan_hole[0, 0, 0] = float("nan")
    return [
        ("working size below 64", dict(working_size=32), ["working_size", "64"]),
        ("negative context", dict(context=-0.25), ["context", "between 0 and 4"]),
        ("hole of another size", dict(hole=_rect(64, 48, 0, 0, 10, 10)), ["hole", "48x64", "scene"]),
        ("target off the canvas", dict(hole=None, fit="x-y-scale", x=1.5, y=1.5, scale=0.05), ["off the canvas", "x"]),
        ("hole covering everything", dict(hole=_rect(H, W, 0, 0, W, H)), ["hole", "whole image"]),
        ("NaN in the hole", dict(hole=nan_hole), ["hole", "NaN"]),
        ("steps 0", dict(steps=0), ["steps"]),
        ("jump_length 0", dict(jump_length=0), ["jump_length"]),
        ("resample 0", dict(resample=0), ["resample"]),
        ("unknown fit", dict(fit="anywhere"), ["fit", "into hole"]),
        ("unknown cutout", dict(cutout="scissors"), ["cutout"]),
        ("RGBA scene", dict(scene=torch.rand(1, H, W, 4)), ["scene", "4 channels"]),
        ("target_mask of another size", dict(target_mask=_rect(10, 10, 0, 0, 5, 5)), ["target_mask", "size"]),
        ("scene batch 2, target batch 3", dict(scene=scene.repeat(2, 1, 1, 1), target=target.repeat(3, 1, 1, 1)),
         ["batch", "scene", "target"]),
        ("sam cut-out without SAM", dict(cutout="sam"), ["sam"]),
    ], scene, target, hole


def test_insert_bad_input_is_a_clear_error_before_any_model_work(env):
    cases, scene, target, hole = _bad_insert_cases()
    before = [t.clone() for t in (scene, target, hole)]
    stub = _NoModelWork()
    failures = []
    for name, kw, words in cases:
        args = dict(scene=scene, target=target, hole=hole)
        args.update(kw)
        try:
            _insert(env, args.pop("scene"), args.pop("target"), model=stub, vae=stub, **args)
            failures.append(f"{name}: no error")
        except ValueError as e:
            if not all(w.lower() in str(e).lower() for w in words):
                failures.append(f"{name}: {e} does not mention {words}")
    assert failures == [], "\n".join(failures)
    for a, b in zip(before, (scene, target, hole)):
        assert torch.equal(a, b)


def test_crop_and_composite_stitch_bad_input(env):
    n = env["nodes"]
    H, W = 96, 128
    scene, hole = _scene(H, W), _rect(H, W, 40, 30, 80, 70)
    crop = n["FillBlankCrop"]
    for kw, words in ((dict(hole=_rect(64, 64, 0, 0, 9, 9)), ["hole", "scene"]),
                      (dict(hole=torch.zeros(1, H, W)), ["hole is empty"]),
                      (dict(working_size=32), ["working_size", "64"]),
                      (dict(context=-1.0), ["context"]),
                      (dict(target=_scene(50, 50)), ["target", "scene's size"]),
                      (dict(silhouette=_rect(50, 50, 0, 0, 5, 5)), ["silhouette", "scene"])):
        args = dict(scene=scene, hole=hole, working_size=128, context=0.25)
        args.update(kw)
        with pytest.raises(ValueError) as e:
            crop.execute(**args)
        assert all(w in str(e.value) for w in words), str(e.value)
    c_scene, c_hole, _, _, plan = crop.execute(scene, hole, 64, 0.25)
    comp = n["FillBlankComposite"]
    with pytest.raises(ValueError, match="stitch must be the FILLBLANK_STITCH"):
        comp.execute(scene, c_scene, c_hole, 8, False, stitch={"box": 1})
    with pytest.raises(ValueError, match="mask is 10x10 px but the crop is"):
        comp.execute(scene, c_scene, torch.ones(1, 10, 10), 8, False, stitch=plan)
    with pytest.raises(ValueError, match="scene"):
        comp.execute(_scene(H, W + 8), c_scene, c_hole, 8, False, stitch=plan)


def test_sampler_without_latent_and_without_target_names_the_target(env):
    with pytest.raises(ValueError, match="target must be the FILLBLANK_TARGET"):
        env["nodes"]["FillBlankSampler"].execute(env["model"], env["cond"], env["cond"], None, None,
                                                  torch.ones(1, 8, 8))


def test_insert_takes_an_object_mask_like_the_complementary_target_mask(env):
    H, W = 256, 320
    scene = _scene(H, W, 5)
    t = _target()
    obj = t[..., 3].clone()
    a = _insert(env, scene, t[..., :3].contiguous(), object_mask=obj)
    b = _insert(env, scene, t[..., :3].contiguous(), target_mask=1.0 - obj)
    assert torch.equal(obj, t[..., 3]), "object_mask must not be modified"
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_insert_with_in_front_keeps_those_pixels_bit_for_bit_after_crop_and_stitch(env):
    """A post in front of the place: Insert draws the object only beside it, leaves it out of the hole
    and the stitch's feather, and the full-size result has the scene's bytes there."""
    H, W = 600, 800
    scene, target, hole = _scene(H, W, 11), _target(), _rect(H, W, 300, 200, 520, 460)
    post = torch.zeros(1, H, W)
    post[:, :, 400:428] = 1.0
    post[:, :, 399] = 0.5  # a soft edge: blended, not kept exactly
    before = post.clone()
    kept = post[0] == 1
    image, preview, used = _insert(env, scene, target, hole=hole, working_size=256, feather=16, color_match=True,
                                   in_front=post)
    assert torch.equal(post, before)
    assert torch.equal(image[0][kept], scene[0][kept])            # bit for bit after crop, resize and stitch
    assert not bool((used[0][kept] > 0).any())                    # the hole used leaves them out
    assert bool((used[0, 200:460, 300:399] > 0).all())
    assert not torch.equal(image[0, 220:440, 320:390], scene[0, 220:440, 320:390])  # the object beside the post
    # without in_front the same run repaints the post
    plain, _, plain_hole = _insert(env, scene, target, hole=hole, working_size=256, feather=16, color_match=True)
    assert not torch.equal(plain[0][kept], scene[0][kept])
    with pytest.raises(ValueError, match="in_front is 80x60 px but the scene is 800x600"):
        _insert(env, scene, target, hole=hole, working_size=256, in_front=torch.zeros(1, 60, 80))
