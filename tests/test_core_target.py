"""fillblank_core.target: chaining targets (the later drawn over the earlier) and the same-scene rule."""

from __future__ import annotations

import pytest
import torch

from fillblank_core.placement import place_on_scene
from fillblank_core.target import FillBlankTarget, check_same_scene, kept, over


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


# --- in_front ---------------------------------------------------------------------------------

def test_in_front_cuts_the_placed_object_and_the_composite_shows_the_scene_there_exactly():
    scene = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(2))
    before = scene.clone()
    tgt = torch.zeros(1, 3, 20, 20) + torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    obj = torch.ones(1, 1, 20, 20)
    post = torch.zeros(1, 64, 64)
    post[:, :, 30:34] = 1.0
    post[:, :, 34] = 0.25  # a soft edge scales the object's alpha
    image, mask, comp, _ = place_on_scene(scene, tgt, obj, 0.5, 0.5, 0.4, in_front=post)
    full_image, full_mask, full_comp, _ = place_on_scene(scene, tgt, obj, 0.5, 0.5, 0.4)
    inside = full_mask > 0
    assert torch.equal(mask, full_mask * (1 - post))
    assert bool((mask[:, 22:42, 30:34] == 0).all()) and bool((full_mask[:, 22:42, 30:34] == 1).all())
    assert torch.equal(comp[:, :, 30:34], scene[:, :, 30:34])  # the scene's bytes in front
    off = inside & (post == 0)
    assert torch.equal(comp[off], full_comp[off])  # elsewhere the object as without in_front
    assert torch.equal(scene, before)
    with pytest.raises(ValueError, match="in_front covers the whole target"):
        place_on_scene(scene, tgt, obj, 0.5, 0.5, 0.4, in_front=torch.ones(1, 64, 64))


def test_each_chained_target_keeps_its_own_in_front():
    H = W = 32
    chair = torch.zeros(1, H, W)
    chair[:, :, 10:14] = 1.0          # the first target stands behind the chair's arm
    first = torch.zeros(1, H, W)
    first[:, 4:20, 4:20] = 1.0
    first_visible = first * (1 - chair)
    k1 = kept(None, None, chair, first_visible)
    assert torch.equal(k1, chair)
    # the second one stands IN FRONT of the chair (no in_front of its own) and covers part of the arm
    second = torch.zeros(1, H, W)
    second[:, 12:28, 12:28] = 1.0
    k2 = kept(k1, first_visible, None, second)
    assert bool((k2[:, 12:28, 12:14] == 0).all())       # the second object is drawn over the arm: not kept
    assert bool((k2[:, 0:12, 10:14] == 1).all())        # the rest of the arm still kept for the first
    # a third, behind a lamp that the first target stands in front of: the lamp kept only off the first
    lamp = torch.zeros(1, H, W)
    lamp[:, 0:8, 0:32] = 1.0
    union = torch.maximum(first_visible, second)
    third = torch.zeros(1, H, W)
    third[:, 0:12, 20:30] = 1.0
    k3 = kept(k2, union, lamp, third * (1 - lamp))
    assert bool((k3[:, 4:8, 4:10] == 0).all())          # the first target is drawn there, not the lamp
    assert bool((k3[:, 0:4, 20:30] == 1).all())         # the lamp in front of the third
    assert kept(None, None, None, third) is None
