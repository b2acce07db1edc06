"""fillblank_core.masks: room for the shadow (the zone where an object's contact and cast shadow fall)
and the one bounding box / dilation the core uses."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from fillblank_core import masks as M


def _pole(H=96, W=128, x0=60, x1=64, y0=20, y1=70):
    m = torch.zeros(1, 1, H, W)
    m[..., y0:y1, x0:x1] = 1.0
    return m


def test_contact_shadow_lies_under_the_base_and_not_on_the_object():
    m = _pole()
    z = M.shadow_zone(m, cast=False)
    assert not bool((z * m).any())  # the object is not part of the zone
    ys, xs = torch.nonzero(z[0, 0] > 0, as_tuple=True)
    depth = math.ceil(M.CONTACT_FRACTION * 50)
    assert int(ys.min()) == 70 and int(ys.max()) == 69 + depth  # from right under the base, depth rows deep
    assert 60 <= int(xs.min()) and int(xs.max()) < 64  # as wide as the base at most
    assert bool(z[0, 0, 70, 60:64].any())  # right under the base


@pytest.mark.parametrize("angle,direction", [(0, (0, 1)), (180, (0, -1)), (90, (1, 0)), (270, (-1, 0))])
def test_cast_shadow_falls_toward_the_angle_with_its_length(angle, direction):
    m = _pole()
    length = 0.6
    z = M.shadow_zone(m, angle=angle, length=length, cast=True, contact=0.0)
    ys, xs = torch.nonzero(z[0, 0] > 0, as_tuple=True)
    base_y = 69
    # the tip: the top pixel (49 px above the base) lands length · 49 px away (vertical: half of it)
    reach = length * 49
    if direction == (0, 1):
        assert abs(int(xs.max()) - (63 + reach)) <= 2 and int(xs.min()) >= 60 - 2
    elif direction == (0, -1):
        assert abs(int(xs.min()) - (60 - reach)) <= 2 and int(xs.max()) <= 63 + 2
    elif direction == (1, 0):
        assert abs(int(ys.max()) - (base_y + reach / 2)) <= 2
    else:  # away from the viewer: up the picture, behind the object (the object itself is not in the zone)
        assert int(ys.min()) <= base_y - reach / 2 + 2
    # a connected band (gaps closed): every row / column between base and tip is reached
    if direction[0] == 0:
        span = range(int(xs.min()), int(xs.max()) + 1)
        assert all(bool((xs == c).any()) for c in span)
    longer = M.shadow_zone(m, angle=angle, length=2 * length, cast=True, contact=0.0)
    assert int(longer.sum()) > int(z.sum())


def test_shadow_zone_per_item_and_empty():
    m = torch.cat([_pole(), torch.zeros(1, 1, 96, 128), _pole(x0=10, x1=30, y0=50, y1=90)])
    z = M.shadow_zone(m, angle=0, length=0.5)
    assert z.shape == m.shape and z.dtype == torch.float32
    assert not bool(z[1].any())
    assert torch.equal(z[0], M.shadow_zone(m[:1], angle=0, length=0.5)[0])
    assert bool(z[2].any()) and not torch.equal(z[0], z[2])
    assert torch.equal(M.shadow_zone(torch.zeros(1, 1, 8, 8)), torch.zeros(1, 1, 8, 8))


def test_one_bounding_box_and_dilation():
    m = torch.zeros(2, 1, 20, 30)
    m[0, 0, 3:5, 4:9] = 1
    m[1, 0, 10:12, 20:22] = 0.3
    assert M.mask_box(m) == (4, 3, 22, 12)
    assert M.mask_box(m, above=0.5) == (4, 3, 9, 5)
    assert M.mask_box(m, within=(15, 0, 30, 20)) == (20, 10, 22, 12)
    assert M.mask_box(m, pad=2) == (2, 1, 24, 14)
    assert M.mask_box(torch.zeros(3, 3)) is None
    for px in (1, 2, 5):
        assert torch.equal(M.grow(m, px), F.max_pool2d(m, 2 * px + 1, stride=1, padding=px))
        assert torch.equal(M.grow(m, -px), 1 - F.max_pool2d(1 - m, 2 * px + 1, stride=1, padding=px))
    assert M.grow(m, 0) is m


def test_each_stacked_object_stands_on_its_own_base():
    """Two chained objects in the same columns, one above the other: the upper one gets its own
    contact band (between the two) and casts from its own base, not from the lower object's."""
    m = torch.zeros(1, 1, 120, 100)
    m[..., 10:40, 40:60] = 1.0   # upper object, base at row 39
    m[..., 60:100, 40:60] = 1.0  # lower object, base at row 99
    z = M.shadow_zone(m, cast=False)
    assert bool(z[0, 0, 40, 40:60].all())  # right under the upper base
    assert bool(z[0, 0, 100, 40:60].all())  # and under the lower one
    alone = M.shadow_zone(m[..., :50, :], cast=False)
    assert torch.equal(z[..., :50, :], alone)  # the upper object's band as if it stood alone
    cast = M.shadow_zone(m, angle=0, length=1.0, contact=0.0)
    # the upper object's top (29 px above its base) lands 29 px to the right at its own base's row
    assert bool(cast[0, 0, 39, 59 + 29 - 2:59 + 29 + 1].any())


def test_a_hollow_object_casts_from_where_it_stands():
    """A ring's top arc casts from the ring's lowest row (where it meets the ground), not from the
    inner hole's edge in mid-air: with the light level (angle 0) every cast pixel lies on that row."""
    yy, xx = torch.meshgrid(torch.arange(100) + 0.5, torch.arange(140) + 0.5, indexing="ij")
    r = ((yy - 50) ** 2 + (xx - 50) ** 2).sqrt()
    ring = ((r < 30) & (r > 18)).float()[None, None]
    base = int(torch.nonzero(ring[0, 0] > 0)[:, 0].max())
    z = M.shadow_zone(ring, angle=0, length=1.0, contact=0.0)
    ys = torch.nonzero(z[0, 0] > 0)[:, 0]
    assert ys.numel() > 0 and int(ys.min()) >= base - 1 and int(ys.max()) <= base + 1, (int(ys.min()), base)


def test_leave_out_takes_what_stands_in_front_out_of_a_mask():
    from fillblank_core.masks import leave_out
    mask = torch.ones(2, 1, 4, 6)
    keep = torch.zeros(1, 4, 6)  # MASK layout, batch 1 shared
    keep[:, :, 2] = 1.0
    keep[:, :, 3] = 0.25
    before = (mask.clone(), keep.clone())
    out = leave_out(mask, keep)
    assert out.shape == (2, 1, 4, 6)
    assert bool((out[:, :, :, 2] == 0).all()) and bool((out[:, :, :, 3] == 0.75).all()) and bool((out[:, :, :, 0] == 1).all())
    assert torch.equal(mask, before[0]) and torch.equal(keep, before[1])  # inputs unchanged
    assert leave_out(mask, None) is mask
    assert torch.equal(leave_out(mask[:, 0], keep * 3), mask[:, 0] * (1 - (keep * 3).clamp(0, 1)))  # [B,H,W], clamped


def test_leave_out_checked_names_the_item_left_empty():
    """The one check behind in_front's errors (the cut object, the hole): an item that held something
    and holds nothing after the cut raises, naming it in a batch; an item empty before does not."""
    from fillblank_core.masks import leave_out, leave_out_checked
    mask = torch.zeros(3, 1, 4, 6)
    mask[0, :, 1, 1] = 1.0       # item 1: under the kept pixels only → left empty
    mask[1, :, :, 4] = 1.0       # item 2: outside them → kept
    keep = torch.zeros(3, 4, 6)
    keep[:, 1, 1] = 1.0
    msg = "gone{item}"
    with pytest.raises(ValueError, match=r"^gone \(item 1 of 3\)$"):
        leave_out_checked(mask, keep, msg)
    ok = leave_out_checked(mask[1:], keep[1:], msg)  # item 3 of the batch was empty before: no error
    assert torch.equal(ok, leave_out(mask[1:], keep[1:]))
    with pytest.raises(ValueError, match=r"^gone$"):
        leave_out_checked(mask[:1], keep[:1], msg)
    assert leave_out_checked(mask, None, msg) is mask
