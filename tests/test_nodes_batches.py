"""The batch rule (README "Batches", fillblank_core.masks.broadcast_batch) for every node with
batched inputs, over all combinations of batch sizes 0, 1, 2 and 3, in-process in the host, with
DISTINCT items: every item of every batch has its own scene, target, cut-out, hole and placement,
so a node that hands item j's input to item i (or item 0's to all) gives a wrong output item.

The rule, written here independently of the code: an empty batch is an error that names the
input; otherwise every batch is 1 or N (the largest), a batch of 1 is shared by all N; a node's
result input (the sampler's latent, Rank's images) sets N and is never repeated. Anything else is
an error that names both inputs. Errors come before any model, VAE or SAM work.

What "each output item comes from its own inputs" means, checked per node:
  * deterministic nodes (Target Encoder, Mask Refiner, Composite, Rank): output item i equals the
    node run alone on the items its inputs give position i (item i of a batch of N, item 0 of a
    batch of 1), and output items differ from each other;
  * the samplers, whose noise is drawn for the whole batch at once (so item i > 0 alone gets other
    noise): output item i keeps ITS latent outside ITS hole and holds ITS target in ITS silhouette
    (λ = 1), item 0 equals the run alone, and replacing item i of any input with batch N by a decoy
    changes output item i and no other, while replacing a shared input (batch 1) changes them all.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import re

import pytest
import torch

pytestmark = pytest.mark.host

SIZES = (0, 1, 2, 3)
H, W = 64, 96
TH = TW = 40  # target images
# items 0..2 make the batches; item 3 is the decoy that replaces one item in the routing checks
PLACEMENTS = [(0.5, 0.5, 0.5), (0.3, 0.4, 0.45), (0.7, 0.6, 0.55), (0.45, 0.35, 0.4)]  # x, y, scale
HOLES = [(20, 44, 30, 66), (8, 40, 10, 50), (28, 60, 50, 90), (16, 48, 36, 76)]  # y0, y1, x0, x1
COLOURS = [(0.9, 0.1, 0.1), (0.1, 0.8, 0.2), (0.15, 0.2, 0.9), (0.9, 0.8, 0.1)]
SCENE_BASE = [(0.25, 0.45, 0.6), (0.6, 0.35, 0.25), (0.4, 0.55, 0.35), (0.5, 0.5, 0.5)]
ENCODER_PLACEMENT = (0.5, 0.5, 0.5)  # Target Encoder's x, y, scale are widgets: one per call


def expected(sizes: dict, result: str | None = None):
    """('ok', N) | ('empty', name) | ('mismatch', {names}) by the README's rule."""
    for name, n in sizes.items():
        if n == 0:
            return "empty", name
    if result is not None:
        n = sizes[result]
        for name, b in sizes.items():
            if b not in (1, n):
                return "mismatch", {name, result}
        return "ok", n
    n = max(sizes.values())
    big = [(k, v) for k, v in sizes.items() if v != 1]
    for k, v in big:
        if v != big[0][1]:
            return "mismatch", {big[0][0], k}
    return "ok", n


def assert_refused(err: Exception, want, sizes: dict):
    msg = str(err)
    kind, what = want
    if kind == "empty":
        assert f"{what} is an empty batch" in msg, msg
    else:
        for name in what:
            assert re.search(rf"\b{re.escape(name)} has batch {sizes[name]}\b", msg), (name, msg)
        assert "batch 1" in msg or "one of them 1" in msg, msg


class Spy:
    """Stands in for a model / VAE / SAM: counts uses, forwards to the real one if given."""

    def __init__(self, real=None):
        self.real, self.calls = real, 0

    def encode(self, pixels):
        self.calls += 1
        if self.real is None:
            raise AssertionError("the VAE was used")
        return self.real.encode(pixels)


class NoModel:
    """A MODEL that fails on any use: the checks must come first."""

    def __getattr__(self, name):
        raise AssertionError(f"the model was used ({name})")


# --- the distinct items -----------------------------------------------------------------------------

def make_scene(k: int) -> torch.Tensor:
    """Scene k [1,H,W,3]: its own base colour, gradient and texture."""
    g = torch.Generator().manual_seed(100 + k)
    base = torch.tensor(SCENE_BASE[k])
    yy = torch.linspace(0, 1, H)[:, None, None]
    xx = torch.linspace(0, 1, W)[None, :, None]
    ramp = 0.15 * (yy if k % 2 else xx) * torch.tensor([1.0, -0.5, 0.5])
    return (base + ramp + 0.12 * torch.rand(H, W, 3, generator=g)).clamp(0, 1)[None]


def make_target(k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Target k [1,TH,TW,3] in its own colour with a diagonal shade (so resizing and flipping show),
    and its LoadImage MASK [1,TH,TW] (1 = transparent): a disc, a square, an ellipse, a diamond."""
    yy, xx = torch.meshgrid(torch.arange(TH).float(), torch.arange(TW).float(), indexing="ij")
    img = torch.tensor(COLOURS[k]) * (0.6 + 0.4 * ((yy + 2 * xx) / (3 * TH)))[..., None]
    cy, cx = 20.0, 20.0
    obj = [((yy - cy) ** 2 + (xx - cx) ** 2) < 15 ** 2,
           (yy >= 8) & (yy < 32) & (xx >= 6) & (xx < 30),
           ((yy - cy) / 17) ** 2 + ((xx - cx) / 10) ** 2 < 1,
           (yy - cy).abs() + (xx - 24).abs() < 14][k]
    return img[None].clamp(0, 1), (~obj).float()[None]


def make_hole(k: int) -> torch.Tensor:
    y0, y1, x0, x1 = HOLES[k]
    m = torch.zeros(1, H, W)
    m[:, y0:y1, x0:x1] = 1.0
    return m


@pytest.fixture(scope="module")
def env(pack, tiny, one_torch_thread):
    nodes = pack.nodes.NODES_BY_ID
    vae = tiny.tiny_vae()
    enc = nodes["FillBlankTargetEncoder"]
    scenes = [make_scene(k) for k in range(4)]
    targets, tmasks = zip(*(make_target(k) for k in range(4)))
    holes = [make_hole(k) for k in range(4)]
    # one record per item, each encoded alone at its own placement; batches of records are cut from these
    items = [enc.execute(targets[k], scenes[k], vae, *PLACEMENTS[k], False, "auto", tmasks[k])[0] for k in range(4)]
    for a, b in itertools.combinations(items, 2):
        assert not torch.equal(a.mask, b.mask) and not torch.equal(a.latent, b.latent), "the items must differ"
    schedules = importlib.import_module(pack.__name__ + ".fillblank_core.schedules")
    return dict(pack=pack, nodes=nodes, vae=vae, model=tiny.tiny_model(), cond=tiny.empty_conditioning(),
                scenes=scenes, targets=list(targets), tmasks=list(tmasks), holes=holes, items=items,
                latents=[vae.encode(s).detach().float() for s in scenes],
                hold=schedules.LambdaSchedule.constant(1.0))


def cat_records(recs: list):
    """A batch FILLBLANK_TARGET whose item i is ``recs[i]``."""
    first = recs[0]
    return dataclasses.replace(first, **{f: torch.cat([getattr(r, f) for r in recs])
                                         for f in ("image", "mask", "composite", "latent")})


def empty_record(rec):
    return dataclasses.replace(rec, image=rec.image[:0], mask=rec.mask[:0], composite=rec.composite[:0],
                               latent=rec.latent[:0])


def records(env, n: int):
    return cat_records(env["items"][:n]) if n else empty_record(env["items"][0])


def stack(items: list, n: int) -> torch.Tensor:
    """Items 0..n-1 as a batch (n = 0: an empty batch of item 0's shape)."""
    return torch.cat(items[:n]) if n else items[0][:0]


def at(n: int, i: int) -> int:
    """The item a batch of n gives output position i (a batch of 1 is shared)."""
    return 0 if n == 1 else i


def combos(*names):
    return [dict(zip(names, c)) for c in itertools.product(SIZES, repeat=len(names))]


def _id(c: dict) -> str:
    return "-".join(f"{k}{v}" for k, v in c.items())


def assert_items_differ(out: torch.Tensor, what: str):
    for i, j in itertools.combinations(range(out.shape[0]), 2):
        assert not torch.equal(out[i], out[j]), f"{what}: items {i} and {j} are equal, their inputs are not"


def replace_item(value, i: int, decoy):
    """``value`` (a tensor batch, a LATENT dict or a FILLBLANK_TARGET) with item i replaced by the
    decoy's item 0."""
    if isinstance(value, dict):
        return dict(value, samples=replace_item(value["samples"], i, decoy["samples"]))
    if isinstance(value, tuple):  # inputs that come together (a latent and its noise mask)
        return tuple(replace_item(v, i, d) for v, d in zip(value, decoy))
    if isinstance(value, torch.Tensor):
        out = value.clone()
        out[i] = decoy[0]
        return out
    return dataclasses.replace(value, **{f: replace_item(getattr(value, f), i, getattr(decoy, f))
                                         for f in ("image", "mask", "composite", "latent")})


def batch_len(value) -> int:
    if isinstance(value, tuple):
        value = value[0]
    if isinstance(value, dict):
        value = value["samples"]
    return int(value.shape[0]) if isinstance(value, torch.Tensor) else int(value.latent.shape[0])


def assert_routed(run, inputs: dict, decoys: dict, n: int):
    """Replacing item i of an input with batch n changes output item i only; replacing a shared
    input (batch 1) changes every output item. ``run(inputs)`` -> output batch [n, ...]."""
    base = run(inputs)
    assert base.shape[0] == n
    for name, value in inputs.items():
        b = batch_len(value)
        for i in range(b):
            out = run(dict(inputs, **{name: replace_item(value, i, decoys[name])}))
            for k in range(n):
                moved = not torch.equal(out[k], base[k])
                should = b == 1 or k == i
                assert moved == should, (f"replacing item {i} of {name} (batch {b}) "
                                         f"{'changed' if moved else 'did not change'} output item {k}")


# --- Target Encoder: scene, target, target_mask ----------------------------------------------------

def _encode_alone(env, s: int, t: int, m: int):
    """Target Encoder on scene s, target t, target mask m alone (cached: the combos share them)."""
    cache = env.setdefault("encoded_alone", {})
    if (s, t, m) not in cache:
        cache[s, t, m] = env["nodes"]["FillBlankTargetEncoder"].execute(
            env["targets"][t], env["scenes"][s], env["vae"], *ENCODER_PLACEMENT, False, "auto", env["tmasks"][m])
    return cache[s, t, m]


@pytest.mark.parametrize("sizes", combos("scene", "target", "target_mask"), ids=_id)
def test_target_encoder_batches(env, sizes):
    want = expected(sizes)
    vae = Spy(env["vae"])
    args = dict(target=stack(env["targets"], sizes["target"]), scene=stack(env["scenes"], sizes["scene"]),
                vae=vae, x=ENCODER_PLACEMENT[0], y=ENCODER_PLACEMENT[1], scale=ENCODER_PLACEMENT[2], flip=False,
                cutout="auto", target_mask=stack(env["tmasks"], sizes["target_mask"]))
    node = env["nodes"]["FillBlankTargetEncoder"]
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            node.execute(**args)
        assert_refused(e.value, want, sizes)
        assert vae.calls == 0, "the error must come before the VAE"
        return
    rec, preview, sil, _ = node.execute(**args)
    n = want[1]
    assert rec.latent.shape[0] == n and preview.shape[0] == n and sil.shape[0] == n and rec.image.shape[0] == n
    assert vae.calls == 1
    for i in range(n):
        alone, a_preview, a_sil, _ = _encode_alone(env, at(sizes["scene"], i), at(sizes["target"], i),
                                                   at(sizes["target_mask"], i))
        assert torch.equal(rec.image[i], alone.image[0]), f"placed target of item {i}"
        assert torch.equal(rec.mask[i], alone.mask[0]) and torch.equal(sil[i], a_sil[0]), f"silhouette of item {i}"
        assert torch.equal(rec.composite[i], alone.composite[0]) and torch.equal(preview[i], a_preview[0])
        # the VAE encodes the batch at once: a batch convolution rounds differently (measured 3e-8)
        assert torch.allclose(rec.latent[i], alone.latent[0], rtol=0, atol=1e-6), f"latent of item {i}"
    if n > 1:
        assert_items_differ(rec.composite, "composite")
        assert_items_differ(rec.latent, "latent")
        if sizes["target_mask"] > 1:
            assert_items_differ(sil, "silhouette")


# --- Mask Refiner: hole, target (union, hole + preview), hole and scene (sam) --------------------

@pytest.mark.parametrize("mode", ["union", "hole"])
@pytest.mark.parametrize("sizes", combos("hole", "target"), ids=_id)
def test_mask_refiner_batches(env, sizes, mode):
    want = expected(sizes)
    node = env["nodes"]["FillBlankMaskRefiner"]
    args = dict(hole=stack(env["holes"], sizes["hole"]), target=records(env, sizes["target"]))
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            node.execute(mode, 4, 2, 0.0, **args)
        assert_refused(e.value, want, sizes)
        return
    m, preview = node.execute(mode, 4, 2, 0.0, **args)
    n = want[1]
    assert m.shape == (n, H, W) and preview.shape == (n, H, W, 3)
    for i in range(n):
        hi, ti = at(sizes["hole"], i), at(sizes["target"], i)
        am, ap = node.execute(mode, 4, 2, 0.0, hole=env["holes"][hi], target=env["items"][ti])
        # the feather's blur runs on the box of all items: its rounding differs (measured 1.5e-8)
        assert torch.allclose(m[i], am[0], rtol=0, atol=1e-6), f"mask of item {i}"
        assert torch.allclose(preview[i], ap[0], rtol=0, atol=1e-6), f"preview of item {i}"
        # and it is that item's hole (∪ that item's silhouette), grown
        assert bool((m[i][env["holes"][hi][0] > 0] == 1).all())
        if mode == "union":
            assert bool((m[i][env["items"][ti].mask[0] > 0] == 1).all())
    if n > 1:
        assert_items_differ(preview, "preview")
        if sizes["hole"] > 1 or mode == "union":
            assert_items_differ(m, "mask")


@pytest.mark.parametrize("sizes", combos("hole", "scene"), ids=_id)
def test_mask_refiner_sam_batches(env, sizes, monkeypatch):
    segment = importlib.import_module(env["pack"].__name__ + ".fillblank_core.segment")
    sam = Spy()
    calls = []

    def fake_sam_refine(model, image, rough_mask):  # the batch handling is the node's, not SAM's
        calls.append((image.clone(), rough_mask.clone()))
        # an outline that depends on both: the rough mask where the scene's red is above its median
        red = image[..., 0]
        return ((rough_mask > 0) & (red >= red[rough_mask > 0].median())).float()
    monkeypatch.setattr(segment, "sam_refine", fake_sam_refine)
    want = expected(sizes)
    node = env["nodes"]["FillBlankMaskRefiner"]
    args = dict(hole=stack(env["holes"], sizes["hole"]), scene=stack(env["scenes"], sizes["scene"]), sam=sam)
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            node.execute("sam", 0, 0, 0.0, **args)
        assert_refused(e.value, want, sizes)
        assert calls == [], "the error must come before SAM"
        return
    m, preview = node.execute("sam", 0, 0, 0.0, **args)
    n = want[1]
    assert m.shape[0] == n == len(calls) and preview.shape[0] == n
    for i, (image, rough) in enumerate(calls):  # SAM is asked about item i's own scene and hole
        assert torch.equal(image, env["scenes"][at(sizes["scene"], i)][0]), f"SAM got another scene for item {i}"
        assert torch.equal(rough, env["holes"][at(sizes["hole"], i)][0]), f"SAM got another hole for item {i}"
    for i in range(n):
        am, _ = node.execute("sam", 0, 0, 0.0, hole=env["holes"][at(sizes["hole"], i)],
                             scene=env["scenes"][at(sizes["scene"], i)], sam=sam)
        assert torch.equal(m[i], am[0]), f"mask of item {i}"
    if n > 1:
        assert_items_differ(m, "mask")


# --- Sampler: latent_image (the result), target, hole ----------------------------------------------

def touched_cells(sil: torch.Tensor, hw) -> torch.Tensor:
    """[B,h,w] bool: the latent cells the object touches (any pixel of the 8×8 cell with coverage
    of one 8-bit alpha step or more), written here from the rule, independently of the core."""
    b = sil.shape[0]
    h, w = int(hw[0]), int(hw[1])
    cells = sil.reshape(b, h, H // h, w, W // w)
    return cells.amax(dim=(2, 4)) >= 1.0 / 255.0


def _held_cells(sil: torch.Tensor, hole: torch.Tensor, hw) -> torch.Tensor:
    """The latent cells held to the target at λ = 1: every cell the object touches, inside the hole."""
    from fillblank_core.masks import latent_hole
    return touched_cells(sil, hw)[0] & (latent_hole(hole, hw) > 0)[0, 0]


def _check_sampler_items(out, lat, rec, hole, n, tag):
    """Output item i: its own latent outside its own hole, its own target in its own silhouette."""
    from fillblank_core.masks import latent_hole
    hw = out.shape[-2:]
    for i in range(n):
        li, ri, hi = at(lat.shape[0], i), at(rec.latent.shape[0], i), at(hole.shape[0], i)
        keep = (latent_hole(hole[hi:hi + 1], hw) == 0)[0, 0]
        assert torch.equal(out[i][:, keep], lat[li][:, keep]), f"{tag}: item {i} outside its hole"
        assert not torch.equal(out[i][:, ~keep], lat[li][:, ~keep]), f"{tag}: item {i}'s hole was not repainted"
        held = _held_cells(rec.mask[ri:ri + 1], hole[hi:hi + 1], hw)
        assert ri != hi or held.any(), f"{tag}: item {i} holds no cell (test setup)"  # hole k covers target k
        assert torch.equal(out[i][:, held], rec.latent[ri][:, held]), f"{tag}: item {i} is not its target"


@pytest.mark.parametrize("sizes", combos("latent_image", "target", "hole"), ids=_id)
def test_sampler_batches(env, sizes):
    want = expected(sizes, result="latent_image")
    node = env["nodes"]["FillBlankSampler"]
    lat = {"samples": stack(env["latents"], sizes["latent_image"])}
    hole = stack(env["holes"], sizes["hole"])
    rec = records(env, sizes["target"])

    def run(lat, rec, hole, model=env["model"]):
        return node.execute(model, env["cond"], env["cond"], lat, rec, hole, 1, 2, 1.0, "euler", "normal",
                            1.0, 1, 1, "matched", env["hold"])[0]["samples"]
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            run(lat, rec, hole, NoModel())
        assert_refused(e.value, want, sizes)
        return
    n = want[1]
    out = run(lat, rec, hole)
    assert out.shape[0] == n
    _check_sampler_items(out, lat["samples"], rec, hole, n, "sampler")
    alone = run({"samples": lat["samples"][:1]}, cat_records([env["items"][0]]), hole[:1])
    assert torch.allclose(out[0], alone[0], rtol=0, atol=1e-4), "item 0 differs from item 0 alone"
    if n > 1:
        assert_items_differ(out, "sampler output")
    decoys = {"latent_image": {"samples": env["latents"][3]}, "target": env["items"][3], "hole": env["holes"][3]}
    assert_routed(lambda a: run(a["latent_image"], a["target"], a["hole"]),
                  {"latent_image": lat, "target": rec, "hole": hole}, decoys, n)


# --- Sampler Select: latent_image (the result) and target, checked when the SAMPLER is called ------

@pytest.mark.parametrize("sizes", combos("latent_image", "target"), ids=_id)
def test_sampler_select_batches(env, sizes):
    from fillblank_core.masks import latent_hole
    want = expected(sizes, result="latent_image")
    rec = records(env, sizes["target"])
    node = env["nodes"]["FillBlankSamplerSelect"]
    if sizes["target"] == 0:
        with pytest.raises(ValueError, match="target is an empty batch"):
            node.execute("euler", rec, 2, 1, "matched")
        return
    n_lat = sizes["latent_image"]
    x = stack(env["latents"], n_lat)
    # the hole comes with the latent (Set Latent Noise Mask): one per latent item
    holes = stack(env["holes"], max(n_lat, 1))
    sigmas = torch.tensor([14.6, 1.0, 0.0])
    if want[0] != "ok":
        sampler = node.execute("euler", rec, 2, 1, "matched")[0]
        mask = latent_hole(holes, x.shape[-2:]).expand(x.shape[0], 4, -1, -1)
        with pytest.raises(ValueError) as e:
            sampler.sampler_function(NoModel(), x, sigmas, extra_args={"denoise_mask": mask},
                                     callback=None, disable=True, **sampler.extra_options)
        assert_refused(e.value, want, sizes)
        assert "Sampler Select" in str(e.value)
        return
    import comfy.sample

    def run(x, rec, holes):
        sampler = node.execute("euler", rec, 2, 1, "matched", env["hold"])[0]
        noise = comfy.sample.prepare_noise(x, 1)
        return comfy.sample.sample_custom(env["model"], noise, 1.0, sampler, sigmas, env["cond"], env["cond"], x,
                                          noise_mask=latent_hole(holes, x.shape[-2:]), seed=1)
    n = want[1]
    out = run(x, rec, holes)
    assert out.shape[0] == n
    _check_sampler_items(out, x, rec, holes, n, "sampler select")
    alone = run(x[:1], cat_records([env["items"][0]]), holes[:1])
    assert torch.allclose(out[0], alone[0], rtol=0, atol=1e-4), "item 0 differs from item 0 alone"
    if n > 1:
        assert_items_differ(out, "sampler select output")
    # the latent and its noise mask are one input (one LATENT); the target is the other
    decoys = {"latent_image": (env["latents"][3], env["holes"][3]), "target": env["items"][3]}
    assert_routed(lambda a: run(a["latent_image"][0], a["target"], a["latent_image"][1]),
                  {"latent_image": (x, holes), "target": rec}, decoys, n)


# --- Composite: scene, image, mask --------------------------------------------------------------

@pytest.mark.parametrize("sizes", combos("scene", "image", "mask"), ids=_id)
def test_composite_batches(env, sizes):
    want = expected(sizes)
    images = [torch.rand(1, H, W, 3, generator=torch.Generator().manual_seed(50 + k)) for k in range(3)]
    scene = stack(env["scenes"], sizes["scene"])
    image = stack(images, sizes["image"])
    mask = stack(env["holes"], sizes["mask"])
    node = env["nodes"]["FillBlankComposite"]
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            node.execute(scene, image, mask, 4, False)
        assert_refused(e.value, want, sizes)
        return
    out = node.execute(scene, image, mask, 4, False)[0]
    n = want[1]
    assert out.shape == (n, H, W, 3)
    for i in range(n):
        si, ii, mi = at(sizes["scene"], i), at(sizes["image"], i), at(sizes["mask"], i)
        alone = node.execute(env["scenes"][si], images[ii], env["holes"][mi], 4, False)[0]
        # the feather's blur runs on the box of all items: its rounding differs (measured 1.5e-8)
        assert torch.allclose(out[i], alone[0], rtol=0, atol=1e-6), f"item {i} differs from its inputs alone"
        y0, y1, x0, x1 = HOLES[mi]
        inside = torch.zeros(H, W, dtype=torch.bool)
        inside[y0:y1, x0:x1] = True
        ring = torch.zeros(H, W, dtype=torch.bool)
        ring[max(0, y0 - 5):y1 + 5, max(0, x0 - 5):x1 + 5] = True  # the feathered ring (4 px) and a margin
        assert torch.equal(out[i][inside], images[ii][0][inside]), f"item {i}: its image inside its mask"
        assert torch.equal(out[i][~ring], env["scenes"][si][0][~ring]), f"item {i}: its scene outside its mask"
    if n > 1:
        assert_items_differ(out, "composite")


# --- Rank: images (the result), target, hole -------------------------------------------------------

def _scores(text: str) -> dict[int, str]:
    """{batch index: the score part of its line}."""
    out = {}
    for line in text.splitlines():
        m = re.search(r"batch (\d+)\s+(score .*)$", line)
        out[int(m.group(1))] = m.group(2)
    return out


@pytest.mark.parametrize("sizes", combos("images", "target", "hole"), ids=_id)
def test_rank_batches(env, sizes):
    want = expected(sizes, result="images")
    g = torch.Generator().manual_seed(6)
    cands = [(env["items"][k].composite + 0.2 * torch.rand(1, H, W, 3, generator=g)).clamp(0, 1) for k in range(3)]
    images = stack(cands, sizes["images"])
    hole = stack(env["holes"], sizes["hole"])
    rec = records(env, sizes["target"])
    node = env["nodes"]["FillBlankRank"]
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            node.execute(images, rec, hole)
        assert_refused(e.value, want, sizes)
        return
    best, ordered, scores = node.execute(images, rec, hole)
    n = want[1]
    assert ordered.shape[0] == n and best.shape[0] == 1 and len(scores.splitlines()) == n
    lines = _scores(scores)
    assert sorted(lines) == list(range(n))
    order = [int(re.search(r"batch (\d+)", ln).group(1)) for ln in scores.splitlines()]
    values = [float(re.search(r"score (\S+)", ln).group(1)) for ln in scores.splitlines()]
    assert values == sorted(values, reverse=True), "best first"
    for k, i in enumerate(order):  # sorted as the scores say
        assert torch.equal(ordered[k], images[i])
    assert torch.equal(best[0], images[order[0]])
    for i in range(n):  # candidate i scored against its own target and hole, as it is alone
        alone = node.execute(images[i:i + 1], env["items"][at(sizes["target"], i)],
                             env["holes"][at(sizes["hole"], i)])[2]
        assert lines[i] == _scores(alone)[0], f"candidate {i}"
    if n > 1:
        assert len(set(lines.values())) == n, f"candidates with distinct inputs scored the same: {lines}"


def test_rank_per_candidate_targets_score_each_against_its_own(env):
    """With targets (and holes) batch N each candidate is compared with its own: candidate i made
    from target i scores the same as ranking it alone against target i, and scores higher against
    its own target than against the other's."""
    from fillblank_core.rank import rank_candidates
    recs = records(env, 2)
    images = recs.composite.clone()
    scores = env["nodes"]["FillBlankRank"].execute(images, recs, None)[2]
    lines = _scores(scores)
    for i in range(2):
        alone = rank_candidates(images[i:i + 1], recs.image[i:i + 1], recs.mask[i], target_mask=recs.mask[i])
        assert lines[i].startswith(f"score {alone[0][1]:.3f} ")
        other = rank_candidates(images[i:i + 1], recs.image[1 - i:2 - i], recs.mask[1 - i],
                                target_mask=recs.mask[1 - i])
        assert alone[0][1] > other[0][1], "a candidate must match its own target best"


def test_broadcast_batch_is_the_rule(pack):
    """The core function itself, on the same table (and None = not connected)."""
    from fillblank_core.masks import broadcast_batch
    for names, result in ((("a", "b", "c"), None), (("r", "a", "b"), "r")):
        for c in itertools.product(SIZES, repeat=3):
            sizes = dict(zip(names, c))
            want = expected(sizes, result)
            if want[0] == "ok":
                assert broadcast_batch(result=result, **sizes, unplugged=None) == want[1]
            else:
                with pytest.raises(ValueError) as e:
                    broadcast_batch(result=result, **sizes)
                assert_refused(e.value, want, sizes)


def test_in_front_follows_the_batch_rule(env):
    """in_front (Target Encoder, Composite): batch 1 shared, batch N one per item, anything else an error
    naming in_front, before the VAE."""
    scene, target, tmask = env["scenes"][0], env["targets"][0], env["tmasks"][0]
    H, W = scene.shape[1:3]
    posts = torch.zeros(2, H, W)
    posts[0, :, W // 2 - 4:W // 2] = 1.0
    posts[1, :, W // 2:W // 2 + 4] = 1.0
    node = env["nodes"]["FillBlankTargetEncoder"]
    rec, preview, sil, _ = node.execute(target, scene, env["vae"], *ENCODER_PLACEMENT, False, "auto", tmask,
                                        in_front=posts)
    assert preview.shape[0] == 2 and rec.latent.shape[0] == 2
    for i in range(2):
        alone = node.execute(target, scene, env["vae"], *ENCODER_PLACEMENT, False, "auto", tmask,
                             in_front=posts[i:i + 1])
        assert torch.equal(sil[i], alone[2][0]) and torch.equal(preview[i], alone[1][0]), f"item {i}"
    assert not torch.equal(sil[0], sil[1])
    vae = Spy(env["vae"])
    with pytest.raises(ValueError, match="in_front") as e:
        node.execute(torch.cat([target] * 2), scene, vae, *ENCODER_PLACEMENT, False, "auto", tmask,
                     in_front=torch.zeros(3, H, W))
    assert "batch" in str(e.value) and vae.calls == 0
    comp = env["nodes"]["FillBlankComposite"]
    out = comp.execute(scene, torch.zeros_like(scene), torch.ones(1, H, W), 0, False, in_front=posts)[0]
    assert out.shape[0] == 2
    for i in range(2):
        kept = posts[i] == 1
        assert torch.equal(out[i][kept], scene[0][kept]) and bool((out[i][~kept] == 0).all())
