"""The batch rule (README "Batches", fillblank_core.masks.broadcast_batch) for every node with
batched inputs, over all combinations of batch sizes 0, 1, 2 and 3, in-process in the host.

The rule, written here independently of the code: an empty batch is an error that names the
input; otherwise every batch is 1 or N (the largest), a batch of 1 is shared by all N; a node's
result input (the sampler's latent, Rank's images) sets N and is never repeated. Anything else is
an error that names both inputs. Errors come before any model, VAE or SAM work."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest
import torch

pytestmark = pytest.mark.host

SIZES = (0, 1, 2, 3)
H, W = 64, 96


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


@pytest.fixture(scope="module")
def env(pack, tiny, one_torch_thread):
    g = torch.Generator().manual_seed(0)
    scene = torch.rand(1, H, W, 3, generator=g) * 0.3 + 0.35
    target = torch.zeros(1, 40, 40, 3)
    target[..., :] = torch.tensor([0.9, 0.1, 0.1])
    yy, xx = torch.meshgrid(torch.arange(40), torch.arange(40), indexing="ij")
    tmask = (((yy - 20) ** 2 + (xx - 20) ** 2) >= 15 ** 2).float()[None]  # LoadImage: 1 = transparent
    nodes = pack.nodes.NODES_BY_ID
    vae = tiny.tiny_vae()
    enc = nodes["FillBlankTargetEncoder"]
    records = {}
    for k in (1, 2, 3):
        records[k] = enc.execute(target, scene.expand(k, -1, -1, -1), vae, 0.5, 0.5, 0.5, False, "auto", tmask)[0]
    r1 = records[1]
    records[0] = dataclasses.replace(r1, image=r1.image[:0], mask=r1.mask[:0], composite=r1.composite[:0],
                                     latent=r1.latent[:0])
    hole = torch.zeros(1, H, W)
    hole[:, 20:44, 30:66] = 1.0
    return dict(pack=pack, nodes=nodes, vae=vae, model=tiny.tiny_model(), cond=tiny.empty_conditioning(),
                scene=scene, target=target, tmask=tmask, records=records, hole=hole,
                latent=vae.encode(scene).detach())


def batch(t: torch.Tensor, n: int) -> torch.Tensor:
    return t[:1].repeat(n, *([1] * (t.ndim - 1)))


def combos(*names):
    return [dict(zip(names, c)) for c in itertools.product(SIZES, repeat=len(names))]


def _id(c: dict) -> str:
    return "-".join(f"{k}{v}" for k, v in c.items())


# --- Target Encoder: scene, target, target_mask ----------------------------------------------------

@pytest.mark.parametrize("sizes", combos("scene", "target", "target_mask"), ids=_id)
def test_target_encoder_batches(env, sizes):
    want = expected(sizes)
    vae = Spy(env["vae"])
    args = dict(target=batch(env["target"], sizes["target"]), scene=batch(env["scene"], sizes["scene"]),
                vae=vae, x=0.5, y=0.5, scale=0.5, flip=False, cutout="auto",
                target_mask=batch(env["tmask"], sizes["target_mask"]))
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


# --- Mask Refiner: hole, target (union, hole + preview), hole and scene (sam) --------------------

@pytest.mark.parametrize("mode", ["union", "hole"])
@pytest.mark.parametrize("sizes", combos("hole", "target"), ids=_id)
def test_mask_refiner_batches(env, sizes, mode):
    want = expected(sizes)
    node = env["nodes"]["FillBlankMaskRefiner"]
    args = dict(hole=batch(env["hole"], sizes["hole"]), target=env["records"][sizes["target"]])
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            node.execute(mode, 4, 2, 0.0, **args)
        assert_refused(e.value, want, sizes)
        return
    m, preview = node.execute(mode, 4, 2, 0.0, **args)
    assert m.shape == (want[1], H, W) and preview.shape == (want[1], H, W, 3)
    assert torch.equal(m[-1], m[0]), "a batch of 1 is shared by all items"


@pytest.mark.parametrize("sizes", combos("hole", "scene"), ids=_id)
def test_mask_refiner_sam_batches(env, sizes, monkeypatch):
    import importlib
    segment = importlib.import_module(env["pack"].__name__ + ".fillblank_core.segment")
    sam = Spy()
    calls = []

    def fake_sam_refine(model, image, rough_mask):  # the batch handling is the node's, not SAM's
        calls.append(image.shape)
        return (rough_mask > 0).float()
    monkeypatch.setattr(segment, "sam_refine", fake_sam_refine)
    want = expected(sizes)
    node = env["nodes"]["FillBlankMaskRefiner"]
    args = dict(hole=batch(env["hole"], sizes["hole"]), scene=batch(env["scene"], sizes["scene"]), sam=sam)
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            node.execute("sam", 0, 0, 0.0, **args)
        assert_refused(e.value, want, sizes)
        assert calls == [], "the error must come before SAM"
        return
    m, preview = node.execute("sam", 0, 0, 0.0, **args)
    assert m.shape[0] == want[1] == len(calls) and preview.shape[0] == want[1]


# --- Sampler: latent_image (the result), target, hole ----------------------------------------------

@pytest.mark.parametrize("sizes", combos("latent_image", "target", "hole"), ids=_id)
def test_sampler_batches(env, sizes):
    want = expected(sizes, result="latent_image")
    node = env["nodes"]["FillBlankSampler"]
    lat = {"samples": batch(env["latent"], sizes["latent_image"])}
    hole = batch(env["hole"], sizes["hole"])
    rec = env["records"][sizes["target"]]
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            node.execute(NoModel(), env["cond"], env["cond"], lat, rec, hole, 1, 2, 1.0, "euler", "normal",
                        1.0, 1, 1, "matched")
        assert_refused(e.value, want, sizes)
        return
    out = node.execute(env["model"], env["cond"], env["cond"], lat, rec, hole, 1, 2, 1.0, "euler", "normal",
                      1.0, 1, 1, "matched")[0]["samples"]
    assert out.shape[0] == want[1]
    from fillblank_core.masks import latent_hole
    keep = (latent_hole(hole, out.shape[-2:]) == 0).expand_as(out)
    assert torch.equal(out[keep], lat["samples"][keep])


# --- Sampler Select: latent_image (the result) and target, checked when the SAMPLER is called ------

@pytest.mark.parametrize("sizes", combos("latent_image", "target"), ids=_id)
def test_sampler_select_batches(env, sizes):
    want = expected(sizes, result="latent_image")
    rec = env["records"][sizes["target"]]
    node = env["nodes"]["FillBlankSamplerSelect"]
    if sizes["target"] == 0:
        with pytest.raises(ValueError, match="target is an empty batch"):
            node.execute("euler", rec, 2, 1, "matched")
        return
    sampler = node.execute("euler", rec, 2, 1, "matched")[0]
    x = batch(env["latent"], sizes["latent_image"])
    from fillblank_core.masks import latent_hole
    mask = latent_hole(env["hole"], x.shape[-2:]).expand(x.shape[0], 4, -1, -1)
    sigmas = torch.tensor([14.6, 1.0, 0.0])
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            sampler.sampler_function(NoModel(), x, sigmas, extra_args={"denoise_mask": mask},
                                     callback=None, disable=True, **sampler.extra_options)
        assert_refused(e.value, want, sizes)
        assert "Sampler Select" in str(e.value)
        return
    import comfy.sample
    out = comfy.sample.sample_custom(env["model"], torch.zeros_like(x), 1.0, sampler, sigmas, env["cond"], env["cond"],
                                     x, noise_mask=latent_hole(env["hole"], x.shape[-2:]), seed=1)
    assert out.shape[0] == want[1]


# --- Composite: scene, image, mask --------------------------------------------------------------

@pytest.mark.parametrize("sizes", combos("scene", "image", "mask"), ids=_id)
def test_composite_batches(env, sizes):
    want = expected(sizes)
    g = torch.Generator().manual_seed(5)
    scene = batch(env["scene"], sizes["scene"])
    image = torch.rand(sizes["image"], H, W, 3, generator=g)
    mask = batch(env["hole"], sizes["mask"])
    node = env["nodes"]["FillBlankComposite"]
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            node.execute(scene, image, mask, 4, False)
        assert_refused(e.value, want, sizes)
        return
    out = node.execute(scene, image, mask, 4, False)[0]
    assert out.shape == (want[1], H, W, 3)
    outside = mask[0] == 0
    outside[16:48, 26:70] = False  # the feathered ring
    for i in range(want[1]):
        assert torch.equal(out[i][outside], scene[min(i, scene.shape[0] - 1)][outside])
        assert torch.equal(out[i][mask[0] > 0], image[min(i, image.shape[0] - 1)][mask[0] > 0])


# --- Rank: images (the result), target, hole -------------------------------------------------------

@pytest.mark.parametrize("sizes", combos("images", "target", "hole"), ids=_id)
def test_rank_batches(env, sizes):
    want = expected(sizes, result="images")
    g = torch.Generator().manual_seed(6)
    images = env["records"][1].composite.repeat(sizes["images"], 1, 1, 1)
    images = (images + 0.2 * torch.rand(images.shape, generator=g)).clamp(0, 1)
    hole = batch(env["hole"], sizes["hole"])
    rec = env["records"][sizes["target"]]
    node = env["nodes"]["FillBlankRank"]
    if want[0] != "ok":
        with pytest.raises(ValueError) as e:
            node.execute(images, rec, hole)
        assert_refused(e.value, want, sizes)
        return
    best, ordered, scores = node.execute(images, rec, hole)
    n = want[1]
    assert ordered.shape[0] == n and best.shape[0] == 1 and len(scores.splitlines()) == n
    assert sorted(int(re.search(r"batch (\d+)", line).group(1)) for line in scores.splitlines()) == list(range(n))


def test_rank_per_candidate_targets_score_each_against_its_own(env):
    """With targets (and holes) batch N each candidate is compared with its own: candidate i made
    from target i scores the same as ranking it alone against target i."""
    from fillblank_core.rank import rank_candidates
    recs = env["records"][2]
    images = recs.composite.clone()
    best, ordered, scores = env["nodes"]["FillBlankRank"].execute(images, recs, None)
    for i in range(2):
        alone = rank_candidates(images[i:i + 1], recs.image[i:i + 1], recs.mask[i], target_mask=recs.mask[i])
        line = next(ln for ln in scores.splitlines() if f"batch {i} " in ln)
        assert f"score {alone[0][1]:.3f}" in line


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
