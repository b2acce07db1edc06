"""The editor's perspective arithmetic (web/placement_math.js) against the core.

With a horizon the placement editor shows the target at its ground-plane height and stores the
reference scale when the user resizes it or turns the horizon on; both run in the browser. These
tests run web/placement_math.js under Node.js and compare groundHeight / referenceScale with
fillblank_core.placement.ground_height / reference_scale (|Δ| ≤ 1e-12), the same inputs refused by
both, and the box the editor draws (placementBox at the ground height) with place_target's box at
the height the nodes place it (nodes/common.py placed_height: scale, or with a horizon ground_height).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import _needs
from fillblank_core.placement import ground_height, place_target, reference_scale

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"

RUNNER = r"""
import * as P from "./placement_math.mjs";
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const tryit = (f) => { try { return {value: f()}; } catch (e) {
    return {error: e instanceof P.GroundError ? e.message : "not a GroundError: " + e}; } };
const out = {
    ground: req.ground.map(([s, y, h]) => tryit(() => P.groundHeight(s, y, h))),
    reference: req.reference.map(([ht, y, h]) => tryit(() => P.referenceScale(ht, y, h))),
    shown: req.ground.map(([s, y, h]) => P.shownHeight(s, y, h)),
    boxes: req.boxes.map((b) => {
        const r = P.placementBox(b.W, b.H, b.tw, b.th, b.x, b.y, P.shownHeight(b.scale, b.y, b.horizon).height);
        return {box: r.box, size: [r.height, r.width]};
    }),
};
process.stdout.write(JSON.stringify(out));
"""

# (scale_ref, y, horizon): ordinary, near the horizon, near the limit k -> 2, and refused ones
GROUND = [
    (0.4, 0.7, 0.3), (0.25, 0.5, 0.4), (0.6, 0.9, 0.2), (0.1, 0.305, 0.3), (0.5, 0.75, 0.5),
    (1.0, 0.8, 0.45), (0.05, 0.99, 0.01), (0.333, 0.6123, 0.2345), (1.8, 0.95, 0.05), (0.3, 1.2, 0.4),
    (0.4, 0.3, 0.3),    # centre on the horizon: refused
    (0.4, 0.2, 0.3),    # above it: refused
    (1.4, 0.8, 0.3),    # k = 2: refused
    (0.4, 0.7, 0.0),    # horizon off is not a horizon: refused
    (0.4, 0.7, 1.0),    # refused
]
REFERENCE = [
    (0.3, 0.7, 0.3), (0.1, 0.45, 0.4), (0.8, 0.6, 0.2), (0.02, 0.31, 0.3), (0.3, 0.6, 0.5),
    (0.2, 0.1, 0.3),    # its base above the horizon: refused
    (0.2, 0.5, 0.0),    # refused
]
# (scene W, H, target w, h, x, y, scale, horizon)
BOXES = [
    (256, 192, 96, 96, 0.5, 0.7, 0.4, 0.3), (256, 192, 96, 96, 0.3, 0.45, 0.4, 0.3),
    (128, 96, 48, 30, 0.62, 0.81, 0.55, 0.42), (640, 480, 33, 77, 0.1, 0.99, 0.2, 0.6),
    (256, 192, 96, 96, 0.5, 0.5, 0.4, 0.0),
]


@pytest.fixture(scope="module")
def js_out(tmp_path_factory):
    node = shutil.which("node")
    if node is None:
        _needs.missing("node", "the JS/Python parity test runs web/*.js under node")
    tmp = tmp_path_factory.mktemp("groundjs")
    shutil.copy(WEB / "placement_math.js", tmp / "placement_math.mjs")
    (tmp / "runner.mjs").write_text(RUNNER)
    req = {"ground": GROUND, "reference": REFERENCE,
           "boxes": [dict(W=b[0], H=b[1], tw=b[2], th=b[3], x=b[4], y=b[5], scale=b[6], horizon=b[7]) for b in BOXES]}
    proc = subprocess.run([node, str(tmp / "runner.mjs")], input=json.dumps(req), text=True,
                          capture_output=True, timeout=60, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _py(f, *args):
    try:
        return {"value": f(*args)}
    except ValueError as e:
        return {"error": str(e)}


@pytest.mark.parametrize("i", range(len(GROUND)), ids=[str(g) for g in GROUND])
def test_ground_height_matches_core(js_out, i):
    want, got = _py(ground_height, *GROUND[i]), js_out["ground"][i]
    if "error" in want:
        assert "error" in got and not got["error"].startswith("not a GroundError"), (GROUND[i], got, want)
        assert got["error"].split()[0] == want["error"].split()[0], (got, want)  # names the same setting
        shown = js_out["shown"][i]
        if GROUND[i][2] > 0:
            assert shown["error"] and shown["height"] == GROUND[i][0]
        else:
            assert shown == {"height": GROUND[i][0], "error": None}  # horizon 0: off, scale as it is
    else:
        assert got["value"] == pytest.approx(want["value"], rel=0, abs=1e-12), (GROUND[i], got, want)
        assert js_out["shown"][i]["height"] == got["value"]


@pytest.mark.parametrize("i", range(len(REFERENCE)), ids=[str(r) for r in REFERENCE])
def test_reference_scale_matches_core(js_out, i):
    want, got = _py(reference_scale, *REFERENCE[i]), js_out["reference"][i]
    if "error" in want:
        assert "error" in got and not got["error"].startswith("not a GroundError"), (REFERENCE[i], got, want)
    else:
        assert got["value"] == pytest.approx(want["value"], rel=0, abs=1e-12)
        # and back: the reference scale shows the height it was made from
        assert ground_height(got["value"], REFERENCE[i][1], REFERENCE[i][2]) == pytest.approx(REFERENCE[i][0], abs=1e-12)


@pytest.mark.parametrize("i", range(len(BOXES)), ids=[str(b) for b in BOXES])
def test_editor_box_with_horizon_is_where_the_node_places_it(js_out, i):
    W, H, tw, th, x, y, scale, horizon = BOXES[i]
    _, _, where = place_target(torch.ones(1, 3, th, tw), torch.ones(1, 1, th, tw), (H, W), x, y,
                               scale if horizon <= 0 else ground_height(scale, y, horizon))  # placed_height
    assert js_out["boxes"][i] == {"box": list(where.box), "size": list(where.size)}
