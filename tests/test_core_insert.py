"""Fill-in Insert's core (fillblank_core.insert): fit into the hole, local grow, the hole used and
the crop, option checks before any model work, putting a crop back with a hole of either size."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from fillblank_core import composite as K
from fillblank_core import crop as C
from fillblank_core import insert as I
from fillblank_core import masks as M
from fillblank_core.placement import place_target

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ellipse(h, w, cy=None, cx=None, ry=None, rx=None, soft=False):
    """[1,1,h,w] object mask: an ellipse (optionally with a soft edge) somewhere in the image."""
    cy = h / 2 if cy is None else cy
    cx = w / 2 if cx is None else cx
    ry = h / 3 if ry is None else ry
    rx = w / 3 if rx is None else rx
    yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    d = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
    m = (1.5 - d).clamp(0, 1) if soft else (d < 1).float()
    return m[None, None]


def _scene(H, W, seed=0):
    return torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(seed))


def _box(mask):
    return M.mask_box(M.mask_b1hw(mask))


# --- fit into the hole ------------------------------------------------------------------------

def test_fit_into_hole_lands_inside_the_hole_box_as_large_as_fits_and_centred():
    rng = random.Random(7)
    H, W = 300, 400
    for case in range(150):
        h0, w0 = rng.randint(8, 120), rng.randint(8, 120)
        obj = _ellipse(h0, w0, cy=rng.uniform(0.3, 0.7) * h0, cx=rng.uniform(0.3, 0.7) * w0,
                       ry=rng.uniform(0.15, 0.3) * h0, rx=rng.uniform(0.15, 0.3) * w0, soft=case % 3 == 0)
        bw, bh = rng.randint(10, 250), rng.randint(10, 250)
        bx0, by0 = rng.randint(0, W - bw), rng.randint(0, H - bh)
        box = (bx0, by0, bx0 + bw, by0 + bh)
        flip = case % 2 == 1
        x, y, s = I.fit_into_box(obj, box, (H, W), flip)
        _, pm, _ = place_target(torch.rand(1, 3, h0, w0), obj, (H, W), x, y, s, flip)
        sx0, sy0, sx1, sy1 = _box(pm)
        assert bx0 <= sx0 and by0 <= sy0 and sx1 <= box[2] and sy1 <= box[3], (case, box, (sx0, sy0, sx1, sy1))
        # as large as fits: the limiting side leaves at most the margins plus a few pixels free
        slack = min((bw - (sx1 - sx0)) / bw, (bh - (sy1 - sy0)) / bh)
        assert min(bw - (sx1 - sx0), bh - (sy1 - sy0)) <= 2 * I.FIT_MARGIN_PX + 2 + s * H / h0 + 1e-6 or slack < 0.08, case
        # centred to within the soft edge's asymmetry and a pixel
        cx, cy = (sx0 + sx1) / 2, (sy0 + sy1) / 2
        tol = 1.5 + 0.5 * s * H / h0
        assert abs(cx - (box[0] + box[2]) / 2) <= tol and abs(cy - (box[1] + box[3]) / 2) <= tol, case


def test_fit_of_an_empty_cutout_is_an_error():
    with pytest.raises(ValueError, match="cut-out is empty"):
        I.fit_into_box(torch.zeros(1, 1, 20, 20), (0, 0, 10, 10), (50, 50))


# --- grow near the mask -----------------------------------------------------------------------

@pytest.mark.parametrize("px", [0, 1, 3, 8, 25])
def test_grow_works_near_the_mask_and_equals_a_whole_image_max_pool(px):
    g = torch.Generator().manual_seed(px)
    for H, W, boxes in ((60, 80, [(5, 5, 20, 15)]), (50, 50, [(0, 0, 3, 3), (45, 40, 50, 50)]), (40, 90, [(30, 10, 60, 40)])):
        m = torch.zeros(2, 1, H, W)
        for x0, y0, x1, y1 in boxes:
            m[:, :, y0:y1, x0:x1] = (torch.rand(2, 1, y1 - y0, x1 - x0, generator=g) > 0.6).float()
        before = m.clone()
        whole = F.max_pool2d(m, 2 * px + 1, stride=1, padding=px) if px else m
        assert torch.equal(M.grow(m, px), whole)
        assert torch.equal(M.grow(m, px, M.mask_box(m)), whole)
        assert torch.equal(m, before)
    assert torch.equal(M.grow(torch.zeros(1, 1, 9, 9), 4), torch.zeros(1, 1, 9, 9))


# --- prepare ----------------------------------------------------------------------------------

def _prepare(H=600, W=800, hole_box=(300, 200, 420, 330), **kw):
    scene = _scene(H, W)
    target = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(1))
    obj = _ellipse(64, 48)
    hole = None
    if hole_box is not None:
        hole = torch.zeros(1, 1, H, W)
        x0, y0, x1, y1 = hole_box
        hole[..., y0:y1, x0:x1] = 1.0
    args = dict(working_size=256)
    args.update(kw)
    return scene, target, obj, hole, I.prepare(scene, target, obj, I.scene_hole(hole, (H, W)), **args)


def test_prepare_hole_used_covers_the_hole_and_the_grown_silhouette_and_the_crop_holds_it():
    scene, target, obj, hole, prep = _prepare()
    plan = prep.plan
    H, W = plan.scene_hw
    assert prep.hole.shape == (1, H, W)
    assert bool((prep.hole[0][hole[0, 0] > 0] == 1).all()), "the given hole is kept"
    placed, pm, _ = place_target(target, obj, (H, W), prep.placement.x, prep.placement.y, prep.placement.scale, False)
    assert prep.grow_px >= 1 and prep.grow_px >= 8 / plan.scale - 1, "one latent cell of the working size"
    assert bool((prep.hole[0] >= M.grow((pm > 0).float(), prep.grow_px)[0, 0]).all()), "silhouette grown"
    hb = _box(prep.hole)
    x0, y0, x1, y1 = plan.box
    assert x0 <= hb[0] and y0 <= hb[1] and hb[2] <= x1 and hb[3] <= y1
    ww, wh = plan.working_size
    assert max(ww, wh) == 256 and ww % 8 == 0 and wh % 8 == 0
    assert prep.composite.shape == (1, wh, ww, 3) and prep.work_hole.shape == (1, wh, ww)
    assert prep.silhouette.shape == (1, wh, ww) and prep.target.shape == (1, wh, ww, 3)
    # every latent cell the silhouette touches is repainted
    lat = M.latent_hole(prep.work_hole, (wh // 8, ww // 8))
    touched = torch.nn.functional.max_pool2d((prep.silhouette[:, None] > 0).float(), 8)
    assert bool((lat[touched > 0] == 1).all())
    # the composite is the crop of the scene with the target pasted in (built inside the box only)
    full = M.to_bhwc(scene * (1 - pm) + placed * pm)
    assert torch.allclose(prep.composite, C.crop_image(plan, full), atol=1e-6, rtol=0)


def test_prepare_without_hole_uses_the_silhouette_and_xy_scale():
    scene, target, obj, _, prep = _prepare(hole_box=None, fit="into hole", x=0.25, y=0.3, scale=0.2)
    p = prep.placement
    assert (p.x, p.y, p.scale) == (0.25, 0.3, 0.2)
    hb = _box(prep.hole)
    assert abs((hb[0] + hb[2]) / 2 - 200) <= 2 and abs((hb[1] + hb[3]) / 2 - 180) <= 2
    # an all-zero MASK of another size (LoadImage's 64x64 placeholder) is no hole
    _, _, _, _, prep2 = _prepare(hole_box=None, fit="x-y-scale", x=0.25, y=0.3, scale=0.2)
    placeholder = I.prepare(scene, target, obj, I.scene_hole(torch.zeros(1, 64, 64), (600, 800)), working_size=256,
                            x=0.25, y=0.3, scale=0.2)
    assert torch.equal(placeholder.hole, prep2.hole) and placeholder.plan == prep2.plan


@pytest.mark.parametrize("hole_box,working_size", [((500, 100, 700, 260), 256), ((100, 300, 160, 580), 1024),
                                                    ((10, 10, 790, 120), 512)])
def test_prepare_fit_into_hole_places_the_object_in_the_hole_box(hole_box, working_size):
    scene, target, obj, hole, prep = _prepare(hole_box=hole_box, fit="into hole", x=0.1, y=0.9, scale=2.0,
                                              working_size=working_size)
    _, pm, _ = place_target(target, obj, (600, 800), prep.placement.x, prep.placement.y, prep.placement.scale, False)
    sx0, sy0, sx1, sy1 = _box(pm)
    x0, y0, x1, y1 = hole_box
    g = prep.grow_px
    assert x0 + g <= sx0 and y0 + g <= sy0 and sx1 <= x1 - g and sy1 <= y1 - g, "room for the grow"
    assert min(x1 - g - sx1 + sx0 - x0 - g, y1 - g - sy1 + sy0 - y0 - g) <= 2 * I.FIT_MARGIN_PX + 3, "as large as fits"
    assert torch.equal(prep.hole, hole[:, 0]), "a rectangular hole holds the grown silhouette: the hole used is the hole"


def test_a_crop_that_would_leave_the_image_is_clamped_not_an_error():
    for hb in ((0, 0, 60, 50), (740, 550, 800, 600), (0, 500, 800, 600)):
        _, _, _, _, prep = _prepare(hole_box=hb, context=4.0)
        x0, y0, x1, y1 = prep.plan.box
        assert 0 <= x0 < x1 <= 800 and 0 <= y0 < y1 <= 600


@pytest.mark.parametrize("asked,snapped", [(250, 248), (1001, 1000), (64, 64), (67, 64)])
def test_working_size_is_snapped_to_the_vae_factor(asked, snapped):
    _, _, _, _, prep = _prepare(working_size=asked)
    assert max(prep.plan.working_size) == snapped and all(v % 8 == 0 for v in prep.plan.working_size)
    assert prep.composite.shape[1:3] == prep.plan.working_hw


def test_hole_covering_the_whole_image_is_an_error():
    with pytest.raises(ValueError, match="hole covers the whole image"):
        _prepare(hole_box=(0, 0, 800, 600))


@pytest.mark.parametrize("kw,words", [  # the option values themselves are the node's to check (ranges)
    (dict(fit="x-y-scale", x=1.5, y=1.5, scale=0.05), ["off the canvas", "x"]),
])
def test_bad_options_are_clear_errors_and_change_nothing(kw, words):
    scene, target, obj = _scene(120, 160), torch.rand(1, 3, 32, 32), _ellipse(32, 32)
    hole = torch.zeros(1, 1, 120, 160)
    hole[..., 40:80, 50:90] = 1.0
    before = [t.clone() for t in (scene, target, obj, hole)]
    with pytest.raises(ValueError) as e:
        I.prepare(scene, target, obj, I.scene_hole(hole, (120, 160)), **{"working_size": 128, **kw})
    assert all(w in str(e.value) for w in words), str(e.value)
    for a, b in zip(before, (scene, target, obj, hole)):
        assert torch.equal(a, b)


def test_scene_hole_sizes():
    assert I.scene_hole(None, (10, 20)) is None
    assert I.scene_hole(torch.zeros(1, 64, 64), (10, 20)) is None
    h = torch.zeros(1, 10, 20)
    h[0, 2, 3] = 2.0
    assert I.scene_hole(h, (10, 20)).shape == (1, 1, 10, 20) and float(I.scene_hole(h, (10, 20)).max()) == 1.0
    with pytest.raises(ValueError, match="hole is 20x10 px but the scene is 30x10 px"):
        I.scene_hole(h, (10, 30))
    h[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="hole contains NaN"):
        I.scene_hole(h, (10, 20))


# --- putting a crop back ----------------------------------------------------------------------

def test_stitch_back_takes_the_hole_at_working_or_scene_size():
    H, W = 300, 400
    scene = torch.rand(1, H, W, 3, generator=torch.Generator().manual_seed(3))
    hole = torch.zeros(1, H, W)
    hole[:, 100:150, 200:260] = 1.0
    plan = C.plan_crop(scene, hole, working_size=128)
    work = C.crop_inputs(plan, scene, hole)
    generated = torch.rand(1, *plan.working_hw, 3, generator=torch.Generator().manual_seed(4))
    a = K.stitch_back(plan, scene, generated, work.hole, 6)
    b = K.stitch_back(plan, scene, generated, C.mask_to_scene(plan, work.hole), 6)
    assert torch.equal(a, b) and a.shape == scene.shape
    outside = M.feather(M.mask_b1hw(C.mask_to_scene(plan, work.hole)), 6)[:, 0] == 0
    assert torch.equal(a[outside], scene[outside]) and not torch.equal(a[~outside], scene[~outside])
    with pytest.raises(ValueError, match="mask is 10x10 px but the crop is"):
        K.stitch_back(plan, scene, generated, torch.ones(1, 10, 10))


def test_a_hole_item_covering_the_whole_crop_is_refused_by_item():
    scene, target, obj = _scene(120, 160), torch.rand(1, 3, 32, 32), _ellipse(32, 32)
    hole = torch.zeros(2, 1, 120, 160)
    hole[0] = 1.0
    hole[1, :, 40:80, 50:90] = 1.0
    with pytest.raises(ValueError, match=r"hole \(item 1 of 2\) covers the whole image"):
        I.prepare(scene.expand(2, -1, -1, -1), target, obj, I.scene_hole(hole, (120, 160)), working_size=128)


# --- in_front: what stands in front of the object ---------------------------------------------

def _post(H, W, x0, x1, soft=False):
    """[1,1,H,W] a post standing in front: columns x0..x1 over the whole height (soft: a 0.5 edge)."""
    m = torch.zeros(1, 1, H, W)
    m[..., x0:x1] = 1.0
    if soft:
        m[..., x0 - 1] = 0.5
        m[..., x1] = 0.5
    return m


def test_in_front_cuts_the_object_and_stays_outside_the_hole_every_mask_included():
    H, W = 200, 260
    scene, tgt, obj = _scene(H, W), torch.rand(1, 3, 80, 60), _ellipse(80, 60)
    hole = torch.zeros(1, 1, H, W)
    hole[..., 40:160, 70:190] = 1.0
    post = _post(H, W, 120, 136)
    for shadow in ("none", "cast"):
        prep = I.prepare(scene, tgt, obj, hole, working_size=256, shadow=shadow, in_front=post)
        kept = post[:, 0] == 1
        assert torch.equal(prep.keep, post[:, 0])
        assert not bool((prep.hole[kept] > 0).any())            # the hole, grown silhouette, shadow zone: none there
        assert bool((prep.hole[:, 40:160, 100:120] > 0).all())  # the rest of the drawn hole is still the hole
        plain = I.prepare(scene, tgt, obj, hole, working_size=256, shadow=shadow)
        assert plain.placement == prep.placement                # placed as without it (fit into the drawn hole)
        big = M.resize(M.mask_b1hw(plain.silhouette), plain.plan.box_hw)
        assert bool((M.mask_b1hw(plain.silhouette) > 0).any())
        x0, y0, x1, y1 = prep.plan.box
        box_post = post[..., y0:y1, x0:x1]
        cut = M.resize(M.mask_b1hw(prep.silhouette), prep.plan.box_hw)
        assert float((cut * (box_post == 1)).max()) < float((big * (box_post == 1)).max())  # the object is cut


def test_the_stitch_keeps_in_front_pixels_exactly_feather_and_colour_matching_included():
    H, W = 180, 240
    scene = _scene(H, W, seed=4)
    hole = torch.zeros(1, 1, H, W)
    hole[..., 50:130, 60:180] = 1.0
    for soft in (False, True):
        post = _post(H, W, 110, 124, soft=soft)
        plan = C.plan_crop((H, W), (60, 50, 180, 130), None, context=0.25, context_px=24, working_size=128,
                           vae_factor=8)
        generated = torch.rand(1, *plan.working_hw, 3, generator=torch.Generator().manual_seed(5))
        img = M.to_bhwc(scene)
        cut = M.leave_out(hole, post)  # the hole as prepare makes it: the post left out
        for feather, cm in ((0, False), (16, False), (16, True)):
            out = K.stitch(plan, img, generated, M.mask_bhw(cut), feather, cm, keep=post[:, 0])
            kept = post[0, 0] == 1
            assert torch.equal(out[0][kept], img[0][kept]), (soft, feather, cm)
            beside = out[0][:, 60:110] if not soft else out[0][:, 60:108]
            assert not torch.equal(beside, img[0][:, 60:110] if not soft else img[0][:, 60:108])  # repainted
            without = K.stitch(plan, img, generated, M.mask_bhw(cut), feather, cm)
            if feather:  # without keep the feather reaches into the post
                assert not torch.equal(without[0][kept], img[0][kept])
        # and at the scene's size (Fill-in Composite without a crop)
        dec = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(6))
        out = K.composite(scene, dec, cut, 12, True, keep=post)
        assert torch.equal(out[..., post[0, 0] == 1], scene[..., post[0, 0] == 1])


def test_in_front_over_the_whole_target_is_refused_naming_it():
    H, W = 120, 120
    obj = _ellipse(40, 40)
    with pytest.raises(ValueError, match="in_front covers the whole target"):
        I.prepare(_scene(H, W), torch.rand(1, 3, 40, 40), obj, None, fit="x-y-scale", x=0.5, y=0.5, scale=0.3,
                  working_size=128, in_front=torch.ones(1, 1, H, W))


def test_insert_added_to_a_chain_keeps_the_earlier_targets_in_front():
    """Insert's add_to: the earlier record's kept pixels (its in_front) stay outside the hole and are
    given to the stitch, except where this target is drawn over them."""
    H, W = 160, 200
    scene = _scene(H, W, seed=9)
    post = _post(H, W, 60, 70)[:, 0]                 # in front of the earlier target only
    e_mask = torch.zeros(1, H, W)
    e_mask[:, 40:120, 30:100] = 1.0
    e_mask = e_mask * (1 - post)
    e_comp = M.to_bhwc(scene).clone()
    e_image = torch.zeros(1, H, W, 3)
    earlier = (e_image, e_mask, e_comp, post)
    prep = I.prepare(scene, torch.rand(1, 3, 40, 40), _ellipse(40, 40), None, fit="x-y-scale", x=0.75, y=0.5,
                     scale=0.4, working_size=256, earlier=earlier)
    assert prep.keep is not None and torch.equal(prep.keep, post)   # this target does not reach the post
    assert not bool((prep.hole[post == 1] > 0).any())
    over = I.prepare(scene, torch.rand(1, 3, 40, 40), _ellipse(40, 40, rx=19, ry=19), None, fit="x-y-scale", x=0.33,
                     y=0.5, scale=0.3, working_size=256, earlier=earlier)
    drawn = (M.mask_b1hw(over.silhouette) > 0).any()
    assert drawn and bool((over.keep[:, 70:90, 62:68] == 0).all())  # drawn over the post: not kept there
    assert bool((over.keep[:, 0:20, 60:70] == 1).all())
