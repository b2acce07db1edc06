"""Crop & stitch core (fillblank_core.crop): plan properties over many random cases, mask resize
that never shrinks the hole, exact stitch on a 4000x3000 scene, bad inputs."""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from fillblank_core import composite as K
from fillblank_core import crop as C
from fillblank_core import masks as M

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- helpers ----------------------------------------------------------------------------------

def _snap(v, f):
    return max(f, int(math.floor(v / f + 0.5)) * f)


def _rect_mask(H, W, boxes, batch=1, value=1.0):
    m = torch.zeros(batch, H, W)
    for b, (x0, y0, x1, y1) in boxes:
        m[b, y0:y1, x0:x1] = value
    return m


def _rand_rect(rng, H, W, max_frac=0.6):
    w = rng.randint(1, max(1, int(W * max_frac)))
    h = rng.randint(1, max(1, int(H * max_frac)))
    r = rng.random()
    if r < 0.15:
        x0 = 0
    elif r < 0.3:
        x0 = W - w
    else:
        x0 = rng.randint(0, W - w)
    r = rng.random()
    if r < 0.15:
        y0 = 0
    elif r < 0.3:
        y0 = H - h
    else:
        y0 = rng.randint(0, H - h)
    return x0, y0, x0 + w, y0 + h


def _union(boxes):
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _check_plan(plan, H, W, content, context, context_px, f, max_upscale, req):
    """The invariants every plan must satisfy (see the module's rules)."""
    x0, y0, x1, y1 = plan.box
    bw, bh = plan.box_size
    ww, wh = plan.working_size
    assert plan.scene_hw == (H, W)
    # inside the image
    assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
    # contains content + context where the image allows
    cx0, cy0, cx1, cy1 = content
    m = math.ceil(context * max(cx1 - cx0, cy1 - cy0) - 1e-9) + context_px
    need = (max(0, cx0 - m), max(0, cy0 - m), min(W, cx1 + m), min(H, cy1 + m))
    assert x0 <= need[0] and y0 <= need[1] and x1 >= need[2] and y1 >= need[3], (plan, need)
    nw, nh = need[2] - need[0], need[3] - need[1]
    # working size: multiples of the VAE factor
    assert ww % f == 0 and wh % f == 0 and ww >= f and wh >= f
    # no stretching: one scale s maps the box to the working size to within one VAE cell per side
    # (or one scene pixel, when that is larger: the box is whole pixels)
    t = max(f, plan.scale_x, plan.scale_y)
    lo = max((ww - t) / bw, (wh - t) / bh)
    hi = min((ww + t) / bw, (wh + t) / bh)
    assert lo <= hi + 1e-9, plan
    # upscale cap (a side of one VAE cell is the only exception)
    assert plan.scale_x <= max_upscale + 1e-9 or ww == f, plan
    assert plan.scale_y <= max_upscale + 1e-9 or wh == f, plan
    # the requested working size and aspect, as far as the image allows
    kind, r = req
    if kind == "fixed":
        rw, rh = _snap(r[0], f), _snap(r[1], f)
        assert ww <= rw and wh <= rh
        if bw < W:
            assert ww == rw, plan
        if bh < H:
            assert wh == rh, plan
    elif kind == "longest":
        L = _snap(r, f)
        assert max(ww, wh) <= L
        if bw < W and bh < H:
            assert max(ww, wh) == L
            # aspect of the needed box, to within half a VAE cell on the short side (which is at
            # least one VAE cell)
            if nw >= nh:
                assert abs(wh - L * nh / nw) <= f / 2 + 1e-9 or wh == f, (plan, nw, nh)
            else:
                assert abs(ww - L * nw / nh) <= f / 2 + 1e-9 or ww == f, (plan, nw, nh)
    else:
        if bw < W and bh < H:
            assert abs(ww - math.sqrt(r * nw / nh)) <= f / 2 + 1e-9 or ww == f
            assert abs(wh - math.sqrt(r * nh / nw)) <= f / 2 + 1e-9 or wh == f
    # minimal: unless the cap grew it, the box is the needed box along its tighter axis
    if not plan.capped:
        assert bw == nw or bh == nh, (plan, need)
    else:
        assert plan.scale_x <= max_upscale + 1e-9 or ww == f


# --- planning: properties over random cases ---------------------------------------------------

def test_plan_properties_random_cases():
    rng = random.Random(1234)
    n = 0
    kinds = {"fixed": 0, "longest": 0}
    scales = {"down": 0, "up": 0, "capped": 0, "border": 0}
    for case in range(300):
        H, W = rng.randint(16, 360), rng.randint(16, 360)
        f = rng.choice([8, 8, 8, 16])
        batch = rng.randint(1, 3)
        holes = [(rng.randrange(batch), _rand_rect(rng, H, W, rng.choice([0.05, 0.3, 0.9])))
                 for _ in range(rng.randint(1, 2))]
        hole = _rect_mask(H, W, holes, batch, value=rng.choice([1.0, 0.3]))
        boxes = [b for _, b in holes]
        silhouette = None
        if rng.random() < 0.4:
            sb = _rand_rect(rng, H, W, 0.3)
            silhouette = _rect_mask(H, W, [(0, sb)])
            boxes.append(sb)
        context = rng.choice([0.0, 0.1, 0.25, 0.6])
        context_px = rng.choice([0, 4, 16])
        max_upscale = rng.choice([1.0, 2.0, 4.0, 8.0])
        r = rng.random()
        if r < 0.5:
            req = ("longest", rng.randint(64, 1100))
        else:
            req = ("fixed", (rng.randint(64, 1100), rng.randint(64, 1100)))
        kw = dict(working_size=req[1])
        plan = C.plan_crop((H, W), hole, silhouette, context=context, context_px=context_px,
                           vae_factor=f, max_upscale=max_upscale, **kw)
        _check_plan(plan, H, W, _union(boxes), context, context_px, f, max_upscale, req)
        n += 1
        kinds[req[0]] += 1
        scales["down"] += plan.scale < 1
        scales["up"] += plan.scale > 1
        scales["capped"] += plan.capped
        x0, y0, x1, y1 = plan.box
        scales["border"] += x0 == 0 or y0 == 0 or x1 == W or y1 == H
    assert n >= 200
    # the loop really exercised every branch
    assert min(kinds.values()) >= 50 and min(scales.values()) >= 20, (kinds, scales)


def test_plan_boxes_touching_every_border():
    H, W = 300, 500
    f = 8
    cases = {
        "left": (0, 100, 40, 160), "right": (460, 100, 500, 160), "top": (200, 0, 260, 30),
        "bottom": (200, 270, 260, 300), "top-left": (0, 0, 50, 50), "bottom-right": (450, 250, 500, 300),
        "full width": (0, 120, 500, 140), "full height": (240, 0, 250, 300), "whole": (0, 0, 500, 300),
    }
    for name, box in cases.items():
        for ws in (64, 256, 1024, (512, 512), (1024, 384)):
            hole = _rect_mask(H, W, [(0, box)])
            plan = C.plan_crop((H, W), hole, context=0.25, context_px=8, working_size=ws)
            kind = "fixed" if isinstance(ws, tuple) else "longest"
            _check_plan(plan, H, W, box, 0.25, 8, f, 4.0, (kind, ws))


def test_large_hole_is_downscaled():
    # hole larger than the working resolution, on a 24-megapixel scene (given as a box: no tensors)
    plan = C.plan_crop((4000, 6000), (500, 400, 5500, 3600), context=0.1, working_size=1024)
    assert plan.scale < 1 and not plan.capped
    assert max(plan.working_size) == 1024
    _check_plan(plan, 4000, 6000, (500, 400, 5500, 3600), 0.1, 8, 8, 4.0, ("longest", 1024))
    # the same hole as a mask gives the same plan
    hole = torch.zeros(1, 400, 600)
    hole[:, 40:360, 50:550] = 1
    p1 = C.plan_crop((400, 600), hole, context=0.1, working_size=256)
    p2 = C.plan_crop((400, 600), (50, 40, 550, 360), context=0.1, working_size=256)
    assert p1 == p2 and p1.scale < 1


def test_tiny_hole_upscale_is_capped():
    scene_hw = (2000, 3000)
    hole = (1500, 1000, 1510, 1010)
    plan = C.plan_crop(scene_hw, hole, working_size=1024)
    assert plan.capped and plan.scale == 4.0
    assert plan.box_size == (256, 256) and plan.working_size == (1024, 1024)
    x0, y0, x1, y1 = plan.box
    assert x0 <= 1500 and x1 >= 1510 and y0 <= 1000 and y1 >= 1010
    # centred on the hole
    assert abs((x0 + x1) / 2 - 1505) <= 1 and abs((y0 + y1) / 2 - 1005) <= 1
    # other caps
    assert C.plan_crop(scene_hw, hole, working_size=1024, max_upscale=1).box_size == (1024, 1024)
    assert C.plan_crop(scene_hw, hole, working_size=1024, max_upscale=8).box_size == (128, 128)
    # a scene too small for the cap: the working size shrinks instead
    small = C.plan_crop((100, 100), (40, 40, 50, 50), working_size=1024)
    assert small.box == (0, 0, 100, 100) and small.working_size == (400, 400) and small.capped
    # a scene smaller than the working size with a big hole is upscaled below the cap
    mid = C.plan_crop((512, 512), (100, 100, 400, 400), working_size=1024)
    assert 1 < mid.scale < 4 and max(mid.working_size) == 1024 and not mid.capped


def test_two_disjoint_holes_get_one_box():
    H, W = 600, 800
    a, b = (20, 30, 60, 80), (700, 500, 760, 560)
    hole = _rect_mask(H, W, [(0, a), (0, b)])
    plan = C.plan_crop((H, W), hole, context=0.1, working_size=512)
    _check_plan(plan, H, W, _union([a, b]), 0.1, 8, 8, 4.0, ("longest", 512))
    x0, y0, x1, y1 = plan.box
    assert x0 <= 20 and y0 <= 30 and x1 >= 760 and y1 >= 560


def test_batch_gets_one_box_covering_every_element():
    H, W = 400, 600
    a, b = (10, 10, 40, 40), (500, 300, 560, 380)
    hole = _rect_mask(H, W, [(0, a), (2, b)], batch=3)
    plan = C.plan_crop((H, W), hole, context=0.2, working_size=512)
    # the same as the plan for the union of the batch
    assert plan == C.plan_crop((H, W), hole.amax(0, keepdim=True), context=0.2, working_size=512)
    x0, y0, x1, y1 = plan.box
    assert x0 <= 10 and y0 <= 10 and x1 >= 560 and y1 >= 380
    work = C.crop_inputs(plan, torch.rand(3, H, W, 3), hole)
    assert work.scene.shape == (3, plan.working_hw[0], plan.working_hw[1], 3)
    assert work.hole.shape == (3, *plan.working_hw)
    assert work.hole[0].sum() > 0 and work.hole[1].sum() == 0 and work.hole[2].sum() > 0


def test_silhouette_only_and_loadimage_placeholder():
    H, W = 300, 400
    sil = _rect_mask(H, W, [(0, (100, 100, 150, 200))])
    p1 = C.plan_crop((H, W), None, sil, working_size=256)
    p2 = C.plan_crop((H, W), torch.zeros(1, 64, 64), sil, working_size=256)  # LoadImage's empty mask
    assert p1 == p2
    x0, y0, x1, y1 = p1.box
    assert x0 <= 100 and y0 <= 100 and x1 >= 150 and y1 >= 200
    # the scene may be given as an IMAGE
    assert C.plan_crop(torch.zeros(1, H, W, 3), None, sil, working_size=256) == p1


def test_working_size_snapped():
    plan = C.plan_crop((3000, 3000), (0, 0, 3000, 3000), working_size=1003)
    assert plan.working_size == (1000, 1000)
    plan = C.plan_crop((3000, 3000), (1400, 1400, 1500, 1500), working_size=(1000, 700))
    assert plan.working_size == (1000, 704)
    plan = C.plan_crop((3000, 3000), (1400, 1400, 1500, 1500), working_size=(1000, 700), vae_factor=16)
    assert plan.working_size == (1008, 704)
    # a fixed size whose aspect the image cannot give: the working size follows the box's aspect
    plan = C.plan_crop((3000, 3000), (0, 0, 3000, 3000), working_size=(1000, 700))
    assert plan.working_size == (704, 704)


def test_plan_coordinate_mapping():
    plan = C.plan_crop((3000, 4000), (1000, 1000, 2000, 1600), working_size=(1024, 768))
    x0, y0, x1, y1 = plan.box
    assert plan.to_scene(0, 0) == (x0, y0)
    sx, sy = plan.to_scene(*plan.working_size)
    assert abs(sx - x1) < 1e-9 and abs(sy - y1) < 1e-9
    wx, wy = plan.to_working(*plan.to_scene(123.25, 456.5))
    assert abs(wx - 123.25) < 1e-9 and abs(wy - 456.5) < 1e-9
    assert plan.box_to_scene((0, 0, *plan.working_size)) == plan.box
    b = plan.box_to_scene((10, 20, 30, 40))
    assert b[0] <= plan.to_scene(10, 20)[0] and b[2] >= plan.to_scene(30, 40)[0]
    d = plan.as_dict()
    assert d["box"] == plan.box and d["scale"] == plan.scale


# --- resampling ---------------------------------------------------------------------------------

def _overlap_matrix(n_in, n_out):
    """[n_out, n_in] exact overlap of output footprints with input pixels (in 1/(n_in*n_out) units):
    output j spans [j*n_in, (j+1)*n_in), input i spans [i*n_out, (i+1)*n_out)."""
    j = torch.arange(n_out)[:, None]
    i = torch.arange(n_in)[None, :]
    lo = torch.maximum(j * n_in, i * n_out)
    hi = torch.minimum((j + 1) * n_in, (i + 1) * n_out)
    return (hi - lo).clamp_min(0).double()


def test_mask_cover_resize_never_shrinks_the_hole():
    rng = random.Random(7)
    g = torch.Generator().manual_seed(7)
    for case in range(60):
        h, w = rng.randint(1, 90), rng.randint(1, 90)
        H, W = rng.randint(1, 90), rng.randint(1, 90)
        m = (torch.rand(2, 1, h, w, generator=g) < rng.choice([0.002, 0.02, 0.3])).double()
        m = m * torch.rand(2, 1, h, w, generator=g, dtype=torch.float64)  # soft values
        out = C.resize_mask_cover(m, (H, W))
        assert out.shape == (2, 1, H, W)
        Ay, Ax = _overlap_matrix(h, H), _overlap_matrix(w, W)
        touched = torch.einsum("yi,bcij,xj->bcyx", (Ay > 0).double(), (m > 0).double(), (Ax > 0).double()) > 0
        coverage = torch.einsum("yi,bcij,xj->bcyx", Ay, m, Ax) / (Ay.sum(1)[:, None] * Ax.sum(1)[None, :])
        assert torch.equal(out > 0, touched)  # > 0 exactly where the footprint holds hole
        assert (out >= coverage - 1e-12).all()  # at least the area coverage
        assert out.max() <= m.max() and out.min() >= 0


def test_crop_mask_round_trip_covers_the_hole():
    rng = random.Random(11)
    g = torch.Generator().manual_seed(11)
    for case in range(40):
        H, W = rng.randint(40, 300), rng.randint(40, 300)
        hole = (torch.rand(1, H, W, generator=g) < 0.001).float()
        hole[0, rng.randrange(H), rng.randrange(W)] = 1.0
        ws = rng.choice([64, 96, 200, 512, (64, 256)])
        plan = C.plan_crop((H, W), hole, context=rng.choice([0, 0.3]), working_size=ws)
        work = C.crop_mask(plan, hole)
        assert work.shape == (1, *plan.working_hw)
        # every working pixel whose scene footprint holds hole is > 0
        x0, y0, x1, y1 = plan.box
        Ay = _overlap_matrix(y1 - y0, plan.working_hw[0])
        Ax = _overlap_matrix(x1 - x0, plan.working_hw[1])
        touched = (Ay > 0).double() @ (hole[0, y0:y1, x0:x1] > 0).double() @ (Ax > 0).double().T > 0
        assert torch.equal(work[0] > 0, touched)
        back = C.mask_to_scene(plan, work)
        assert back.shape == hole.shape
        assert bool((back[hole > 0] > 0).all())


def test_crop_image_resampling():
    g = torch.Generator().manual_seed(3)
    H, W = 240, 320
    # constant stays constant, up and down
    const = torch.full((1, H, W, 3), 0.37)
    for ws in (64, 1024):
        plan = C.plan_crop((H, W), (100, 100, 140, 140), working_size=ws, max_upscale=8)
        out = C.crop_image(plan, const)
        assert out.shape == (1, *plan.working_hw, 3)
        assert torch.allclose(out, torch.full_like(out, 0.37), atol=1e-6)
    # upscaling is bicubic, not nearest, and clamped to [0, 1] (bicubic overshoots at edges)
    checker = ((torch.arange(H)[:, None] // 4 + torch.arange(W)[None] // 4) % 2).float()
    img = checker[None, :, :, None].repeat(1, 1, 1, 3)
    up = C.plan_crop((H, W), (100, 100, 120, 120), working_size=512)
    assert up.scale > 3
    u = C.crop_image(up, img)
    assert u.min() >= 0 and u.max() <= 1
    assert ((u > 0.05) & (u < 0.95)).float().mean() > 0.2  # smooth transitions
    raw = torch.nn.functional.interpolate(img.permute(0, 3, 1, 2)[..., up.box[1]:up.box[3], up.box[0]:up.box[2]],
                                          size=up.working_hw, mode="bicubic", antialias=True)
    assert raw.min() < 0 or raw.max() > 1  # so the clamp mattered
    # downscaling is antialiased: a 1-px checkerboard averages to grey instead of aliasing
    fine = ((torch.arange(H)[:, None] + torch.arange(W)[None]) % 2).float()[None, :, :, None]
    down = C.plan_crop((H, W), (0, 0, W, H), context=0, working_size=80)
    assert down.scale < 0.3
    d = C.crop_image(down, fine)
    assert (d - 0.5).abs().max() < 0.05
    # scale 1: the exact pixels, as a new tensor
    rnd = torch.rand(1, H, W, 3, generator=g)
    one = C.CropPlan((H, W), (16, 8, 16 + 128, 8 + 64), (128, 64))
    same = C.crop_image(one, rnd)
    assert torch.equal(same, rnd[:, 8:72, 16:144])
    same += 1
    assert rnd.max() <= 1


def test_crop_inputs_and_no_mutation():
    g = torch.Generator().manual_seed(5)
    H, W = 200, 300
    scene, target = torch.rand(1, H, W, 3, generator=g), torch.rand(1, H, W, 3, generator=g)
    hole = _rect_mask(H, W, [(0, (100, 50, 180, 120))])
    sil = _rect_mask(H, W, [(0, (110, 60, 170, 110))], value=0.8)
    copies = [t.clone() for t in (scene, target, hole, sil)]
    plan = C.plan_crop((H, W), hole, sil, working_size=512)
    work = C.crop_inputs(plan, scene, hole, target, sil)
    h, w = plan.working_hw
    assert work.scene.shape == work.target.shape == (1, h, w, 3)
    assert work.hole.shape == work.silhouette.shape == (1, h, w)
    assert work.silhouette.max() == pytest.approx(0.8)
    for a, b in zip(copies, (scene, target, hole, sil)):
        assert torch.equal(a, b)
    assert C.crop_inputs(plan, scene).hole is None


# --- stitch -------------------------------------------------------------------------------------

class _BigAllocations(TorchDispatchMode):
    """Records every op output with a new storage of at least ``numel`` elements."""

    def __init__(self, numel):
        super().__init__()
        self.numel, self.storages, self.ops, self._seen = numel, [], [], set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        inputs = {a.untyped_storage().data_ptr() for a in args if isinstance(a, torch.Tensor)}
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else (out,)):
            if isinstance(t, torch.Tensor) and t.numel() >= self.numel:
                ptr = t.untyped_storage().data_ptr()
                if ptr not in inputs and ptr not in self._seen:
                    self._seen.add(ptr)
                    self.storages.append(ptr)
                    self.ops.append(str(func))
        return out


def test_stitch_exact_outside_the_feathered_hole_4000x3000():
    g = torch.Generator().manual_seed(0)
    H, W = 3000, 4000
    scene = torch.rand(1, H, W, 3, generator=g)
    hole = torch.zeros(1, H, W)
    yy, xx = torch.meshgrid(torch.arange(1200, 1800), torch.arange(2100, 2900), indexing="ij")
    hole[0, 1200:1800, 2100:2900] = (((yy - 1500) / 300.0) ** 2 + ((xx - 2500) / 400.0) ** 2 <= 1).float()
    hole[0, 1700:1760, 2950:3010] = 0.5  # a second, soft, disjoint hole
    scene_copy, hole_copy = scene.clone(), hole.clone()
    feather = 8
    plan = C.plan_crop(scene, hole, context=0.1, context_px=feather, working_size=1024)
    assert plan.scale < 1
    colour = torch.tensor([0.2, 0.7, 0.4])
    generated = colour.view(1, 1, 1, 3).expand(1, *plan.working_hw, 3).clone()
    gen_copy = generated.clone()
    assert plan.box_size[0] * plan.box_size[1] * 3 < H * W
    with _BigAllocations(H * W) as big:
        out = K.stitch(plan, scene, generated, hole, feather=feather)
    # memory: the output is the only new tensor as large as a full-size mask or larger
    assert big.storages == [out.untyped_storage().data_ptr()], big.ops
    assert out.shape == scene.shape and out.dtype == scene.dtype
    assert torch.equal(scene, scene_copy) and torch.equal(hole, hole_copy) and torch.equal(generated, gen_copy)
    # outside the crop box: the scene, bit for bit (four strips)
    x0, y0, x1, y1 = plan.box
    assert torch.equal(out[:, :y0], scene[:, :y0]) and torch.equal(out[:, y1:], scene[:, y1:])
    assert torch.equal(out[:, :, :x0], scene[:, :, :x0]) and torch.equal(out[:, :, x1:], scene[:, :, x1:])
    # inside the box: the scene wherever the feathered hole is 0, i.e. outside the hole grown by
    # `feather` px (the truncated Gaussian is nonzero exactly within its radius); separable max
    h_box = (hole[:, None, y0:y1, x0:x1] > 0).float()
    k = 2 * feather + 1
    grown = F.max_pool2d(F.max_pool2d(h_box, (1, k), 1, (0, feather)), (k, 1), 1, (feather, 0))[0, 0] > 0
    out_box, scene_box = out[0, y0:y1, x0:x1], scene[0, y0:y1, x0:x1]
    assert torch.equal(out_box[~grown], scene_box[~grown])
    # inside the hole's core the generated colour (a constant survives resampling)
    core = hole[0, y0:y1, x0:x1] >= 1
    assert torch.allclose(out_box[core], colour.expand(int(core.sum()), 3), atol=1e-5)
    # the feather ring is blended (changed, between the scene and the colour)
    ring = grown & (hole[0, y0:y1, x0:x1] == 0)
    assert bool((out_box[ring] != scene_box[ring]).all(-1).float().mean() > 0.5)


def test_stitch_round_trip_is_aligned():
    # cropping and stitching back the crop itself reproduces a smooth scene: no half-pixel shifts
    H, W = 300, 420
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    scene = torch.stack([xx / W, yy / H, 0.5 + 0.3 * torch.sin(xx / 40.0) * torch.cos(yy / 50.0)], -1)[None]
    for box in ((150, 100, 260, 190), (0, 0, 60, 50), (380, 240, 420, 300)):  # inside, at borders
        hole = _rect_mask(H, W, [(0, box)])
        for ws in (96, 200, 768):  # down, about 1:1, up
            plan = C.plan_crop(scene, hole, context=0.3, working_size=ws)
            work = C.crop_image(plan, scene)
            out = K.stitch(plan, scene, work, hole, feather=4)
            err = (out - scene).abs()[0][hole[0] > 0].max()
            assert err < 0.02, (box, ws, float(err))
            far = M.grow(hole[:, None], 4)[0, 0] == 0
            assert torch.equal(out[0][far], scene[0][far])


def test_stitch_batch_colour_match_and_box_size_input():
    g = torch.Generator().manual_seed(9)
    H, W = 160, 200
    scene = 0.5 + 0.05 * torch.rand(1, H, W, 3, generator=g)
    hole = _rect_mask(H, W, [(0, (60, 50, 120, 110))])
    plan = C.plan_crop(scene, hole, working_size=128)
    gen = torch.zeros(2, *plan.working_hw, 3)
    gen[..., 0] = 1.0  # red
    out = K.stitch(plan, scene, gen, hole, feather=4)
    assert out.shape == (2, H, W, 3)
    core = hole[0] > 0
    assert torch.allclose(out[1][core], torch.tensor([1.0, 0.0, 0.0]).expand(int(core.sum()), 3), atol=1e-5)
    matched = K.stitch(plan, scene, gen, hole, feather=4, color_match=True)
    far = M.grow(hole[:, None], 4)[0, 0] == 0
    assert torch.equal(matched[0][far], scene[0][far])
    # colour matching pulls the red fill toward the grey surroundings
    assert (matched[0][core] - 0.5).abs().mean() < (out[0][core] - 0.5).abs().mean()
    # a generated crop already at the box's size is taken as is
    boxed = torch.full((1, *plan.box_hw, 3), 0.25)
    o2 = K.stitch(plan, scene, boxed, hole, feather=0)
    assert torch.equal(o2[0][core], torch.full((int(core.sum()), 3), 0.25))
    assert torch.equal(o2[0][~core], scene[0][~core])


# --- bad input ----------------------------------------------------------------------------------

HOLE = _rect_mask(100, 200, [(0, (50, 20, 80, 60))])


@pytest.mark.parametrize("kwargs, name", [  # the user's values (working_size, context) are the node's to check
    (dict(working_size="big"), "working_size"),
    (dict(context_px=-1), "context_px"),
    (dict(max_upscale=0.5), "max_upscale"),
    (dict(vae_factor=0), "vae_factor"),
])
def test_bad_plan_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        C.plan_crop((100, 200), HOLE, **kwargs)


def test_bad_holes():
    with pytest.raises(ValueError, match="hole is empty"):
        C.plan_crop((100, 200), torch.zeros(1, 100, 200))
    with pytest.raises(ValueError, match="hole is empty"):
        C.plan_crop((100, 200), torch.zeros(1, 100, 200), torch.zeros(1, 100, 200))
    with pytest.raises(ValueError, match="hole is empty"):
        C.plan_crop((100, 200), None, None)
    with pytest.raises(ValueError, match="hole box .* entirely outside the 200x100 scene"):
        C.plan_crop((100, 200), (300, 10, 350, 50))
    with pytest.raises(ValueError, match="hole box .* is empty"):
        C.plan_crop((100, 200), (30, 10, 30, 50))
    with pytest.raises(ValueError, match="hole is 100x50 but scene is 200x100"):
        C.plan_crop((100, 200), torch.ones(1, 50, 100))
    with pytest.raises(ValueError, match="silhouette is 100x50 but scene is 200x100"):
        C.plan_crop((100, 200), HOLE, torch.ones(1, 50, 100))
    with pytest.raises(ValueError, match="hole contains NaN"):
        C.plan_crop((100, 200), torch.full((1, 100, 200), float("nan")))


def test_bad_crop_and_stitch_inputs():
    plan = C.plan_crop((100, 200), HOLE, working_size=128)
    scene = torch.rand(1, 100, 200, 3)
    with pytest.raises(ValueError, match="scene is 100x100 but the plan's scene is 200x100"):
        C.crop_inputs(plan, torch.rand(1, 100, 100, 3))
    with pytest.raises(ValueError, match="hole is 100x50 but the plan's scene is 200x100"):
        C.crop_inputs(plan, scene, torch.ones(1, 50, 100))
    gen = torch.rand(1, *plan.working_hw, 3)
    with pytest.raises(ValueError, match="generated is 64x64 but the plan's working size is"):
        K.stitch(plan, scene, torch.rand(1, 64, 64, 3), HOLE)
    with pytest.raises(ValueError, match="hole is 100x50 but the plan's scene is 200x100"):
        K.stitch(plan, scene, gen, torch.ones(1, 50, 100))
    with pytest.raises(ValueError, match="mask is 64x64 but the plan's working size is"):
        C.mask_to_scene(plan, torch.ones(1, 64, 64))
