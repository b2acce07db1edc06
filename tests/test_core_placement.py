"""fillblank_core.placement's perspective rule: an object standing on the ground keeps its real size
as it moves, i.e. its height in the picture follows the distance of its base below the horizon."""

from __future__ import annotations

import pytest

from fillblank_core.placement import ground_height, reference_scale


@pytest.mark.parametrize("horizon,scale_ref", [(h, s) for h in (0.2, 0.45, 0.7) for s in (0.1, 0.4, 0.8)
                                                if s / (1 - h) < 2])  # taller ones are refused (below)
def test_moving_along_the_ground_scales_by_the_ground_plane_rule(horizon, scale_ref):
    ys = [horizon + d for d in (0.02, 0.1, 0.25) if horizon + d < 1.0]
    heights = [ground_height(scale_ref, y, horizon) for y in ys]
    bases = [y + h / 2 for y, h in zip(ys, heights)]
    for (h1, b1), (h2, b2) in zip(zip(heights, bases), zip(heights[1:], bases[1:])):
        assert h2 / h1 == pytest.approx((b2 - horizon) / (b1 - horizon), rel=1e-12)  # the rule itself
        assert h2 > h1  # nearer (lower) is larger
    # the reference: with the base on the bottom edge the height is scale_ref
    y_bottom = 1.0 - scale_ref / 2
    assert ground_height(scale_ref, y_bottom, horizon) == pytest.approx(scale_ref, rel=1e-12)


def test_reference_scale_inverts_ground_height():
    for horizon, h, y in ((0.3, 0.2, 0.6), (0.5, 0.05, 0.52), (0.1, 0.5, 0.7)):
        ref = reference_scale(h, y, horizon)
        assert ground_height(ref, y, horizon) == pytest.approx(h, rel=1e-12)
    # turning the horizon on keeps the object's size where it stands; moving it then follows the rule
    ref = reference_scale(0.2, 0.6, 0.3)
    assert ground_height(ref, 0.6, 0.3) == pytest.approx(0.2)
    assert ground_height(ref, 0.8, 0.3) > 0.2 > ground_height(ref, 0.45, 0.3)


def test_perspective_refuses_what_has_no_ground():
    with pytest.raises(ValueError, match="above the horizon"):
        ground_height(0.3, 0.4, 0.5)
    with pytest.raises(ValueError, match="horizon must lie inside the scene"):
        ground_height(0.3, 0.6, 1.0)
    with pytest.raises(ValueError, match="too large for a horizon"):
        ground_height(1.2, 0.9, 0.5)
    with pytest.raises(ValueError, match="below the horizon"):
        reference_scale(0.1, 0.2, 0.5)
