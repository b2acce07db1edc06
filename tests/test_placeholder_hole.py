"""LoadImage's empty placeholder MASK (64×64 zeros when nothing was painted) means "no hole" on every
node that takes a hole: Mask Refiner's union falls back to the silhouette with one log
line, modes that need a painted hole and Fill-in Sampler say to paint it; an all-zero hole of the
scene's size is refused with the same advice."""

from __future__ import annotations

import logging

import pytest
import torch

from fillblank_core.masks import is_placeholder

pytestmark = pytest.mark.host

PLACEHOLDER = torch.zeros(1, 64, 64)


def test_what_counts_as_the_placeholder():
    assert is_placeholder(PLACEHOLDER, (96, 128))
    assert not is_placeholder(torch.zeros(1, 96, 128), (96, 128)), "the scene's size: an empty hole, not 'none'"
    painted = PLACEHOLDER.clone()
    painted[0, 3, 3] = 1.0
    assert not is_placeholder(painted, (96, 128))
    assert is_placeholder(PLACEHOLDER, None) and not is_placeholder(torch.zeros(1, 32, 32), None)
    assert not is_placeholder(None, (96, 128))


@pytest.fixture(scope="module")
def env(pack, tiny):
    nodes = pack.nodes.NODES_BY_ID
    scene = torch.rand(1, 96, 128, 3, generator=torch.Generator().manual_seed(0)) * 0.3 + 0.35
    target = torch.zeros(1, 40, 40, 4)
    target[..., :3] = torch.tensor([0.9, 0.1, 0.1])
    target[0, 8:32, 8:32, 3] = 1.0
    rec = nodes["FillBlankTargetEncoder"].execute(target=target, scene=scene, vae=tiny.tiny_vae(), x=0.5, y=0.5,
                                                  scale=0.4, flip=False, cutout="auto")[0]
    return nodes, rec, tiny


def test_mask_refiner_union_falls_back_to_the_silhouette(env, caplog):
    nodes, rec, _ = env
    ref = nodes["FillBlankMaskRefiner"]
    with caplog.at_level(logging.INFO):
        got = ref.execute("union", 8, 0, 0.0, hole=PLACEHOLDER, target=rec)[0]
    want = ref.execute("silhouette", 8, 0, 0.0, target=rec)[0]
    assert torch.equal(got, want)
    lines = [r.getMessage() for r in caplog.records if "placeholder" in r.getMessage()]
    assert len(lines) == 1 and "silhouette" in lines[0]


@pytest.mark.parametrize("mode", ["hole", "sam"])
def test_modes_that_need_a_painted_hole_say_to_paint_it(env, mode):
    nodes, rec, _ = env
    with pytest.raises(ValueError, match="placeholder.*Mask Editor"):
        nodes["FillBlankMaskRefiner"].execute(mode, 8, 0, 0.0, hole=PLACEHOLDER, target=rec, sam=object())


@pytest.mark.parametrize("mode", ["hole", "union"])
def test_an_empty_hole_of_the_scenes_size_is_refused(env, mode):
    nodes, rec, _ = env
    with pytest.raises(ValueError, match=r"hole is empty \(all zeros\).*Mask Editor.*silhouette"):
        nodes["FillBlankMaskRefiner"].execute(mode, 8, 0, 0.0, hole=torch.zeros(1, 96, 128), target=rec)


def test_the_sampler_says_to_paint_the_hole(env):
    nodes, rec, tiny = env
    cond = tiny.empty_conditioning()
    with pytest.raises(ValueError, match="placeholder.*Mask Editor.*Mask Refiner"):
        nodes["FillBlankSampler"].execute(model=tiny.tiny_model(), positive=cond, negative=cond, target=rec,
                                          hole=PLACEHOLDER, steps=2)
