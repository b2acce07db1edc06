"""The frontend's pure-math modules (web/lambda_math.js, web/placement_math.js) against the core.

The λ curve on FillBlankLambdaSchedule and the drag-to-place editor on FillBlankTargetEncoder
compute in the browser, with no server round-trip; these tests run the same JS modules under
Node.js and check them against fillblank_core: λ values of every kind at sample points and per-step
arrays (|Δ| ≤ 1e-12), the same malformed keyframe strings and out-of-range values rejected, and the
same placed-target box as place_target, pixel for pixel.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import _needs
from fillblank_core.placement import place_target
from fillblank_core.schedules import LambdaSchedule

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"

RUNNER = r"""
import * as L from "./lambda_math.mjs";
import * as P from "./placement_math.mjs";
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const out = {schedules: [], errors: [], boxes: [], rounds: req.rounds.map(P.pyRound)};
for (const c of req.schedules) {
    const s = L.makeSchedule(c.params);
    out.schedules.push({values: c.points.map(s.at), arrays: c.steps.map((n) => s.array(n))});
}
for (const params of req.errors) {
    try { L.makeSchedule(params); out.errors.push(null); }
    catch (e) { out.errors.push(e instanceof L.ScheduleError ? e.message : "not a ScheduleError: " + e); }
}
for (const b of req.boxes) {
    const r = P.placementBox(b.W, b.H, b.tw, b.th, b.x, b.y, b.scale);
    out.boxes.push({box: r.box, size: [r.height, r.width], visible: r.visible});
}
process.stdout.write(JSON.stringify(out));
"""

POINTS = [-0.25, 0.0, 1e-9, 0.05, 0.1, 0.2, 0.25, 0.3, 1 / 3, 0.4, 0.45, 0.5, 0.55, 0.6, 2 / 3, 0.7,
          0.75, 0.8, 0.9, 0.95, 0.999, 1.0, 1.5] + [i / 97 for i in range(98)]
STEPS = [1, 2, 3, 7, 20, 50]

SCHEDULES = [
    dict(kind="constant", value=0.8),
    dict(kind="constant", value=0.0),
    dict(kind="constant", value=1.0),
    dict(kind="linear", start=1.0, end=0.0),
    dict(kind="linear", start=0.2, end=0.9),
    dict(kind="linear", start=0.5, end=0.5),
    dict(kind="cosine", start=1.0, end=0.0),
    dict(kind="cosine", start=0.1, end=0.7),
    dict(kind="exponential", start=1.0, end=0.0, rate=5.0),
    dict(kind="exponential", start=0.9, end=0.1, rate=0.1),
    dict(kind="exponential", start=0.0, end=1.0, rate=50.0),
    dict(kind="exponential", start=1.0, end=0.2, rate=12.3),
    dict(kind="step", value=1.0, cutoff=0.5),
    dict(kind="step", value=0.6, cutoff=0.0),
    dict(kind="step", value=0.6, cutoff=1.0),
    dict(kind="step", value=0.35, cutoff=0.3),
    dict(kind="keyframes", keyframes="0:1.0, 0.4:0.6, 0.7:0"),
    dict(kind="keyframes", keyframes="0.5:0.3"),
    dict(kind="keyframes", keyframes=" 0.1 : 0.2 ; 0.3:0.9,, 0.95:0.05 ,"),
    dict(kind="keyframes", keyframes="0:0,1:1"),
    dict(kind="keyframes", keyframes="+.25:1., 0.5:5e-1, 1e0:0"),
    dict(kind="keyframes", keyframes="0.2:1, 0.2000001:0, 0.9:0.5"),
]

BAD = [
    dict(kind="keyframes", keyframes=""),
    dict(kind="keyframes", keyframes="   "),
    dict(kind="keyframes", keyframes=",,;"),
    dict(kind="keyframes", keyframes="0:1, 0.5"),
    dict(kind="keyframes", keyframes="a:1"),
    dict(kind="keyframes", keyframes="0:1, 0.5:0.5, 0.5:0.2"),
    dict(kind="keyframes", keyframes="0.6:1, 0.4:0"),
    dict(kind="keyframes", keyframes="0:1.5"),
    dict(kind="keyframes", keyframes="-0.1:1"),
    dict(kind="keyframes", keyframes="1.2.3:1"),
    dict(kind="keyframes", keyframes="1e:1"),
    dict(kind="keyframes", keyframes=".:1"),
    dict(kind="keyframes", keyframes="0:1e999"),
    dict(kind="keyframes", keyframes="0 1"),
    dict(kind="wobbly"),
    dict(kind="linear", start=1.2),
    dict(kind="linear", end=-0.01),
    dict(kind="constant", value=2.0),
    dict(kind="step", cutoff=1.5),
    dict(kind="exponential", rate=0.0),
    dict(kind="exponential", rate=-3.0),
]

# (scene W, H, target w, h, x, y, scale): halves that Python's round() sends to even, clipping on
# every side, targets wider and taller than the scene, and entirely off-canvas placements
BOXES = [
    (128, 96, 48, 48, 0.5, 0.5, 0.4),
    (128, 96, 48, 48, 0.5, 0.62, 0.45),
    (100, 50, 30, 20, 0.5, 0.5, 0.5),   # th = 25, tw = 37.5 -> 38 (even)
    (100, 50, 10, 10, 0.505, 0.51, 0.3),
    (64, 64, 17, 33, 0.0, 0.0, 0.5),
    (64, 64, 17, 33, 1.0, 1.0, 0.5),
    (64, 64, 17, 33, -0.2, 0.5, 0.5),
    (64, 64, 17, 33, 1.3, 0.2, 0.7),
    (80, 60, 40, 10, 0.5, 0.5, 2.0),
    (80, 60, 40, 10, 0.25, 0.75, 0.01),
    (37, 23, 5, 7, 0.123, 0.877, 0.333),
    (256, 192, 96, 96, 0.3, 0.7, 0.25),
    (64, 64, 16, 16, -0.5, 0.5, 0.2),   # entirely off the canvas
    (64, 64, 16, 16, 0.5, 1.5, 0.2),    # entirely off the canvas
]
ROUNDS = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001, 37.5, 12.5, -12.5, 0.0, 3.0, -7.49]


def _python_box(W, H, tw, th, x, y, scale):
    target = torch.ones(1, 3, th, tw)
    mask = torch.ones(1, 1, th, tw)
    try:
        _, _, where = place_target(target, mask, (H, W), x, y, scale)
    except ValueError as e:
        assert "off the canvas" in str(e)
        return None
    return {"box": list(where.box), "size": list(where.size), "visible": True}


@pytest.fixture(scope="module")
def js():
    node = shutil.which("node")
    if node is None:
        _needs.missing("node", "the JS/Python parity test runs web/*.js under node")

    def run(tmp: Path, request: dict) -> dict:
        # copies named .mjs so every node version (with or without ES-module detection) loads them
        for name in ("lambda_math", "placement_math"):
            shutil.copy(WEB / f"{name}.js", tmp / f"{name}.mjs")
        (tmp / "runner.mjs").write_text(RUNNER)
        proc = subprocess.run([node, str(tmp / "runner.mjs")], input=json.dumps(request), text=True,
                              capture_output=True, timeout=60, cwd=tmp)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run


@pytest.fixture(scope="module")
def js_out(js, tmp_path_factory):
    request = {
        "schedules": [{"params": s, "points": POINTS, "steps": STEPS} for s in SCHEDULES],
        "errors": BAD,
        "boxes": [dict(W=b[0], H=b[1], tw=b[2], th=b[3], x=b[4], y=b[5], scale=b[6]) for b in BOXES],
        "rounds": ROUNDS,
    }
    return js(tmp_path_factory.mktemp("webjs"), request)


@pytest.mark.parametrize("i", range(len(SCHEDULES)), ids=[f"{s['kind']}-{i}" for i, s in enumerate(SCHEDULES)])
def test_lambda_values_match_core(js_out, i):
    sched = LambdaSchedule(**SCHEDULES[i])
    got = js_out["schedules"][i]
    want = np.array([sched(p) for p in POINTS])
    np.testing.assert_allclose(np.array(got["values"], dtype=float), want, rtol=0, atol=1e-12)
    for n, arr in zip(STEPS, got["arrays"]):
        assert len(arr) == n
        np.testing.assert_allclose(np.array(arr, dtype=float), sched.array(n), rtol=0, atol=1e-12)


def test_every_kind_is_covered():
    from fillblank_core.schedules import KINDS
    assert {s["kind"] for s in SCHEDULES} == set(KINDS)
    assert "export const KINDS = " + json.dumps(list(KINDS)).replace('","', '", "') in (WEB / "lambda_math.js").read_text()


@pytest.mark.parametrize("i", range(len(BAD)), ids=[str(b) for b in BAD])
def test_same_bad_values_rejected(js_out, i):
    with pytest.raises(ValueError) as py_err:
        LambdaSchedule(**BAD[i])
    js_msg = js_out["errors"][i]
    assert js_msg is not None, f"JS accepted {BAD[i]} but the core says: {py_err.value}"
    assert not js_msg.startswith("not a ScheduleError"), js_msg
    # both name the offending setting the same way
    first_word = str(py_err.value).split()[0].rstrip(":")
    assert js_msg.split()[0].rstrip(":") == first_word, (js_msg, str(py_err.value))


@pytest.mark.parametrize("i", range(len(BOXES)), ids=[str(b) for b in BOXES])
def test_placement_box_matches_core(js_out, i):
    want = _python_box(*BOXES[i])
    got = js_out["boxes"][i]
    if want is None:
        assert got["visible"] is False
    else:
        assert got == want


def test_python_rounding_in_js(js_out):
    assert js_out["rounds"] == [round(v) for v in ROUNDS]
    assert all(isinstance(v, int) or float(v).is_integer() for v in js_out["rounds"])
    assert not math.isnan(sum(js_out["rounds"]))
