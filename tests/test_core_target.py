"""fillblank_core.target: chaining targets (the later drawn over the earlier) and the same-scene rule."""

from __future__ import annotations

import pytest
import torch

from fillblank_core.placement import place_on_scene
from fillblank_core.target import FillBlankTarget, check_same_scene, over


def _record(scene, color, x, y, scale=0.3):
    tgt = torch.zeros(1, 3, 20, 20) + torch.tensor(color).view(1, 3, 1, 1)
    obj = torch.zeros(1, 1, 20, 20)
    obj[..., 4:16, 4:16] = 1.0
    image, mask, comp, where = place_on_scene(scene, tgt, obj, x, y, scale)
    return FillBlankTarget(image=image, mask=mask, composite=comp, latent=torch.zeros(1, 4, 8, 8), placement=where), \
        (tgt, obj)


def test_the_later_target_is_drawn_over_the_earlier():
    scene = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(0))
    first, _ = _record(scene, (1.0, 0.0, 0.0), 0.4, 0.5)
    tgt2 = torch.zeros(1, 3, 20, 20) + torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1)
    obj2 = torch.zeros(1, 1, 20, 20)
    obj2[..., 4:16, 4:16] = 1.0
    image2, mask2, comp2, _ = place_on_scene(first.composite, tgt2, obj2, 0.55, 0.5, 0.3)
    image, mask = over(first.image, first.mask, image2, mask2)
    both = (first.mask > 0) & (mask2 == 1)  # under the later one's opaque part
    only_first = (first.mask > 0) & (mask2 == 0)
    assert bool(both.any()) and bool(only_first.any())
    assert torch.equal(image[both], image2[both])            # the later one on top
    assert torch.equal(image[only_first], first.image[only_first])
    assert torch.allclose(mask, mask2 + first.mask * (1 - mask2))  # alpha "over"
    assert bool((mask >= torch.maximum(first.mask, mask2) - 1e-7).all())  # covers both
    assert torch.equal(comp2[only_first], first.composite[only_first])  # the earlier stays in the composite


def test_a_target_is_added_only_on_the_same_scene():
    scene = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(1))
    first, _ = _record(scene, (1.0, 0.0, 0.0), 0.4, 0.5)
    check_same_scene(first, scene)  # the same scene: fine
    check_same_scene(first, scene.expand(3, -1, -1, -1))  # a batch of it too
    other = scene.clone()
    other[0, 0, 0] += 0.5  # one pixel outside the target
    with pytest.raises(ValueError, match="not the scene the targets of add_to were placed on"):
        check_same_scene(first, other)
    inside = scene.clone()
    inside[first.mask > 0] = 0.0  # under the earlier target the composite differs anyway
    check_same_scene(first, inside)
    with pytest.raises(ValueError, match="scene is 32x64 px but the targets of add_to were placed on a 64x64"):
        check_same_scene(first, scene[:, :, :32])


def test_placements_lists_every_chained_target():
    scene = torch.rand(1, 32, 32, 3)
    a, _ = _record(scene, (1.0, 0.0, 0.0), 0.3, 0.5)
    b, _ = _record(scene, (0.0, 1.0, 0.0), 0.7, 0.5)
    chained = FillBlankTarget(image=b.image, mask=b.mask, composite=b.composite, latent=b.latent,
                              placement=b.placement, earlier=a.placements)
    assert chained.placements == (a.placement, b.placement)


def test_over_keeps_straight_colour_at_soft_edges():
    """A placed image is straight (not premultiplied) colour: where only one target covers a pixel,
    even partly, its colour comes out as it is; where both do, the later one is on top."""
    image = torch.full((1, 4, 4, 3), 0.8)
    mask = torch.zeros(1, 4, 4)
    mask[0, 1, 1] = 0.5  # a soft edge pixel of the later target, nothing earlier under it
    earlier_image = torch.zeros(1, 4, 4, 3)
    earlier_mask = torch.zeros(1, 4, 4)
    earlier_image[0, 2, 2] = 0.2
    earlier_mask[0, 2, 2] = 0.25
    out, m = over(earlier_image, earlier_mask, image, mask)
    assert torch.allclose(out[0, 1, 1], torch.full((3,), 0.8)) and float(m[0, 1, 1]) == 0.5
    assert torch.allclose(out[0, 2, 2], torch.full((3,), 0.2)) and float(m[0, 2, 2]) == 0.25
    assert float(out[0, 0, 0].abs().max()) == 0.0 and float(m[0, 0, 0]) == 0.0
