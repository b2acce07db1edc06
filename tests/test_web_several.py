"""The placement editor with several objects and perspective, in a real headless Chromium, in both
of the frontend's renderers (the fixtures and helpers of tests/test_web.py):

- chained targets: an encoder (or Fill-in Insert) whose add_to comes from another Target Encoder
  draws the target placed upstream, greyed and half transparent, where that encoder's widgets put
  it (what the graph knows; no run);
- the horizon: with horizon > 0 the editor draws it as a line across the scene, and dragging the
  line sets the horizon widget; turning the horizon on keeps the placed target's size (scale becomes
  its reference scale);
- with the horizon on, dragging the target up or down shows it at its ground-plane height for the
  new y (fillblank_core.placement.ground_height of the widgets' values, in the drawn pixels too),
  and resizing with the handle stores the reference scale of the height dragged to.
Screenshots: test-artifacts/web/<renderer>_several_*.png.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from fillblank_core.placement import ground_height, reference_scale
import test_web
from test_web import ADD_NODE, CLEAN, PLACEMENT_WIDGET, _cutout_state, _drag, _screen, _wait_editor

# test_web.py's fixtures: the host server, the browser, a page in each renderer
server, browser, ui = test_web.server, test_web.browser, test_web.ui

BOX_RGB = (0x40, 0xC8, 0xFF)  # placement_editor.js BOX
HORIZON_RGB = (0xFF, 0xD0, 0x40)  # placement_editor.js HORIZON

GRAPH = """([first, second, insert]) => {
    """ + CLEAN + ADD_NODE + """
    const scene = add("LoadImage", [20, 40], {image: "fillblank_web_scene.png"});
    const target = add("LoadImage", [20, 420], {image: "fillblank_web_target.png"});
    const ids = {scene: scene.id, target: target.id};
    const enc = (pos, widgets) => {
        const e = add("FillBlankTargetEncoder", pos, widgets);
        target.connect(0, e, "target");
        scene.connect(0, e, "scene");
        return e;
    };
    const a = enc([400, 40], first);
    ids.first = a.id;
    if (second) {
        const b = enc([800, 40], second);
        a.connect(0, b, "add_to");
        ids.second = b.id;
    }
    if (insert) {
        const i = add("FillBlankInsert", [1200, 40], insert);
        target.connect(0, i, "target");
        scene.connect(0, i, "scene");
        a.connect(0, i, "add_to");
        ids.insert = i.id;
    }
    return ids;
}"""


def _layout(ui, nid):
    """The editor's layout with what it adds here: the chained targets, the horizon, the box."""
    return ui.js("""(id) => { const L = app.graph.getNodeById(id).__fillblankEditor;
        return L && L.scene && L.target ? {fit: L.fit, rect: L.rect, handle: L.handle, W: L.W, H: L.H,
            box: L.box, p: L.p, horizon: L.horizon ?? null,
            chained: (L.chained ?? []).map(c => ({id: c.id, rect: c.rect, img: !!c.img}))} : null; }""", nid)


def _settled(ui, nid):
    assert _wait_editor(ui, nid)
    _cutout_state(ui, nid)
    ui.settle(0.5)  # the ticker (200 ms) redraws once the upstream cut-outs are in
    return _layout(ui, nid)


def _crop(img, r, fit_origin=(0, 0)):
    x, y = int(round(r["x"])), int(round(r["y"]))
    return img[y + 2:y + int(r["h"]) - 2, x + 2:x + int(r["w"]) - 2]


def _saturation(img) -> float:
    return float((img.max(-1) - img.min(-1)).mean())


def _near(img, rgb, tol=70):
    return np.abs(img - np.array(rgb)).sum(-1) < tol


def test_chained_target_is_drawn_greyed_in_the_downstream_editor(ui):
    """Two encoders on one scene, the second's add_to from the first: the second's editor draws the
    first target where the first's x / y / scale put it (its own editor's box), greyed; unlinked, it
    does not. Fill-in Insert fed by add_to shows it too."""
    ids = ui.js(GRAPH, [{"x": 0.3, "y": 0.6, "scale": 0.45}, {"x": 0.72, "y": 0.55, "scale": 0.35},
                        {"x": 0.72, "y": 0.55, "scale": 0.35}])
    first, second = ids["first"], ids["second"]
    own = _settled(ui, first)
    L = _settled(ui, second)
    assert [c["id"] for c in L["chained"]] == [first], L["chained"]
    c = L["chained"][0]
    assert c["img"], "the upstream target's picture is drawn"
    for k in ("x", "y", "w", "h"):  # the same place as in the first encoder's own editor
        assert c["rect"][k] == pytest.approx(own["rect"][k], abs=0.01), (c["rect"], own["rect"])
    whole = ui.shot(ui.editor_box(second, PLACEMENT_WIDGET), "several_chained.png")
    first_img = ui.shot(ui.editor_box(first, PLACEMENT_WIDGET), "several_first.png")
    ui.shot(ui.node_box(second, margin=4), "several_chained_node.png")
    chained = _crop(whole, c["rect"])
    colour = _crop(first_img, own["rect"])
    # greyed: the upstream logo is drawn without its colours (the same spot in the first editor has them)
    assert _saturation(chained) < 0.6 * _saturation(colour), (_saturation(chained), _saturation(colour))
    # unlinked, the scene shows there instead
    ui.js("(id) => { const n = app.graph.getNodeById(id); n.disconnectInput(n.findInputSlot('add_to')); }", second)
    ui.settle(0.6)
    assert _layout(ui, second)["chained"] == []
    alone = ui.shot(ui.editor_box(second, PLACEMENT_WIDGET), "several_unchained.png")
    diff = np.abs(_crop(alone, c["rect"]) - chained).sum(-1)
    assert (diff > 40).mean() > 0.1, "the chained target's drawing goes away with the link"
    # Fill-in Insert placing by x / y / scale draws the chained target as well
    ins = ids["insert"]
    assert _wait_editor(ui, ins)
    ui.js("() => { app.canvas.ds.offset = [-1130, -480]; app.canvas.setDirty(true, true); }")  # Insert in view
    ui.settle(0.6)
    Li = _layout(ui, ins)
    assert [c["id"] for c in Li["chained"]] == [first]
    ui.shot(ui.editor_box(ins, PLACEMENT_WIDGET), "several_insert_chained.png")
    assert ui.errors == []


def _horizon_graph(ui, horizon=0.3):
    """One encoder, placed, then its horizon turned on by the widget (as a user types it)."""
    ids = ui.js(GRAPH, [{"x": 0.5, "y": 0.7, "scale": 0.4}, None, None])
    enc = ids["first"]
    before = _settled(ui, enc)
    ui.set_widget(enc, "horizon", horizon)
    ui.settle(0.5)
    return enc, before, _layout(ui, enc)


def _drawn_height(img, r, rgb=BOX_RGB):
    """Height in px of the box outline drawn along the box's left edge."""
    x = int(round(r["x"]))
    rows = np.nonzero(_near(img[:, max(x - 2, 0):x + 3], rgb).any(-1))[0]
    return rows.max() - rows.min() + 1 if len(rows) else 0


def test_horizon_line_drags_and_turning_it_on_keeps_the_size(ui):
    enc, before, L = _horizon_graph(ui)
    w = ui.widgets(enc)
    # turned on: the target keeps its size; scale holds the reference scale (the core's inverse)
    assert w["scale"] == pytest.approx(reference_scale(0.4, 0.7, 0.3), abs=0.0006)
    assert L["rect"]["h"] == pytest.approx(before["rect"]["h"], abs=0.6)
    hz = L["horizon"]
    assert hz and hz["y"] == pytest.approx(L["fit"]["y"] + 0.3 * L["fit"]["h"], abs=0.01)
    img = ui.shot(ui.editor_box(enc, PLACEMENT_WIDGET), "several_horizon.png")
    line = _near(img[int(hz["y"]) - 1:int(hz["y"]) + 2], HORIZON_RGB).any(0)
    assert line.mean() > 0.4, "the horizon is drawn as a line across the scene"
    # drag the line 25 px down: horizon moves by that fraction of the drawn scene
    x = L["fit"]["x"] + 12
    _drag(ui, _screen(ui, enc, x, hz["y"]), _screen(ui, enc, x, hz["y"] + 25), steps=8)
    got = ui.widgets(enc)
    assert got["horizon"] == pytest.approx(0.3 + 25 / L["fit"]["h"], abs=0.006), got
    assert (got["x"], got["y"], got["scale"]) == (w["x"], w["y"], w["scale"]), "only the horizon moves"
    L2 = _layout(ui, enc)
    assert L2["horizon"]["y"] == pytest.approx(hz["y"] + 25, abs=1.0)
    ui.shot(ui.editor_box(enc, PLACEMENT_WIDGET), "several_horizon_dragged.png")
    # saved with the workflow (it is just the widget)
    wf = ui.js("() => app.graph.serialize()")
    node = next(n for n in wf["nodes"] if str(n["id"]) == str(enc))
    assert got["horizon"] in node["widgets_values"]
    assert ui.errors == []


def test_target_drag_with_horizon_follows_the_ground_plane(ui):
    enc, _, L = _horizon_graph(ui)
    H, fit = L["H"], L["fit"]
    img0 = ui.shot(ui.editor_box(enc, PLACEMENT_WIDGET), "several_ground_before.png")
    h0 = _drawn_height(img0, L["rect"])
    r = L["rect"]
    cx, cy = r["x"] + r["w"] / 2, r["y"] + r["h"] / 2
    _drag(ui, _screen(ui, enc, cx, cy), _screen(ui, enc, cx, cy - 35))  # up, toward the horizon
    w = ui.widgets(enc)
    assert w["y"] < 0.7 - 0.1
    want = ground_height(w["scale"], w["y"], w["horizon"])
    L2 = _layout(ui, enc)
    assert L2["box"]["height"] == max(1, round(want * H)), (L2["box"], want)
    assert L2["rect"]["h"] == pytest.approx(want * H * fit["k"], abs=fit["k"])
    img1 = ui.shot(ui.editor_box(enc, PLACEMENT_WIDGET), "several_ground_up.png")
    h1 = _drawn_height(img1, L2["rect"])
    # the drawn outline: shorter by the rule, in pixels
    assert h1 == pytest.approx(want * H * fit["k"], abs=3), (h1, want * H * fit["k"])
    assert h1 < h0 - 8, (h0, h1)
    # the handle with the horizon on: scale becomes the reference scale of the height dragged to
    hd = L2["handle"]
    hx, hy = hd["x"] + hd["w"] / 2, hd["y"] + hd["h"] / 2
    _drag(ui, _screen(ui, enc, hx, hy), _screen(ui, enc, hx + 10, hy + 10), steps=6)
    w2 = ui.widgets(enc)
    assert (w2["x"], w2["y"], w2["horizon"]) == (w["x"], w["y"], w["horizon"])
    r2 = L2["rect"]
    ux, uy = hx - (r2["x"] + r2["w"] / 2), hy - (r2["y"] + r2["h"] / 2)
    along = 10 * (ux + uy) / np.hypot(ux, uy)  # the drag's length along centre -> handle
    dragged = (r2["h"] + along) / (H * fit["k"])  # the height the handle was dragged to
    assert ground_height(w2["scale"], w2["y"], w2["horizon"]) == pytest.approx(dragged, abs=0.006), (w2, dragged)
    ui.shot(ui.node_box(enc, margin=4), "several_ground_node.png")
    assert ui.errors == []


ADD_FRONT = """() => {
    const n = LiteGraph.createNode("LoadImage");
    n.pos = [20, 800];
    app.graph.add(n);
    const w = n.widgets.find(w => w.name === "image");
    w.value = "fillblank_web_front.png";
    w.callback?.(w.value);
    return n.id;
}"""


def _post_columns(ui, nid, r, name):
    """The drawn pixels of rect r (editor px) in the post's columns (test_web.FRONT_X of the scene)."""
    fit = test_web._editor(ui, nid)["fit"]
    img = ui.shot(ui.editor_box(nid, PLACEMENT_WIDGET, [r["x"], r["y"], r["w"], r["h"]]), name).astype(float)
    k = fit["w"] / test_web.SCENE_WH[0]
    a, b = (int(round(fit["x"] + v * k - r["x"])) for v in test_web.FRONT_X)
    return img[4:-4, a + 2:b - 2]


def _wait_front(ui, nid, chained=False, timeout=20):
    test = ("(id) => !!(app.graph.getNodeById(id).__fillblankEditor?.chained ?? []).some(c => c.front?.img)"
            if chained else "(id) => !!app.graph.getNodeById(id).__fillblankEditor?.front?.img")
    deadline = time.time() + timeout
    while time.time() < deadline and not ui.js(test, nid):
        ui.settle(0.2)
    ui.settle(0.5)
    return ui.js(test, nid)


def _insert_over_a_chained_target(ui):
    """An encoder's target in the middle (over the post's columns) and Fill-in Insert (x-y-scale, left of
    the post) added to it, Insert in view: (ids, Insert's id, the chained target's rect in its editor)."""
    ids = ui.js(GRAPH, [{"cutout": "whole image", "scale": 0.6, "x": 0.5}, None,
                        {"fit": "x-y-scale", "cutout": "whole image", "scale": 0.3, "x": 0.2}])
    ins = ids["insert"]
    assert _wait_editor(ui, ins)
    ui.js("() => { app.canvas.ds.offset = [-1130, -480]; app.canvas.setDirty(true, true); }")  # Insert in view
    return ids, ins, _settled(ui, ins)["chained"][0]["rect"]


def test_insert_and_chained_targets_are_drawn_behind_their_own_in_front(ui):
    """Fill-in Insert (x-y-scale) with add_to: the earlier encoder's target, greyed, is cut by that
    encoder's in_front (the scene's post drawn over it); Insert's own in_front is shown and said."""
    ids, ins, chained = _insert_over_a_chained_target(ui)
    before = _post_columns(ui, ins, chained, "several_front_off.png")
    front = ui.js(ADD_FRONT)
    ui.js("([f, e]) => app.graph.getNodeById(f).connect(1, app.graph.getNodeById(e), 'in_front')", [front, ids["first"]])
    assert _wait_front(ui, ins, chained=True), "the chained target's in_front reaches the Insert's editor"
    after = _post_columns(ui, ins, chained, "several_front_on.png")
    assert np.abs(after - before).mean() > 15, np.abs(after - before).mean()
    ui.js("([f, e]) => app.graph.getNodeById(f).connect(1, app.graph.getNodeById(e), 'in_front')", [front, ins])
    assert _wait_front(ui, ins)
    assert "behind in_front" in ui.js("(id) => app.graph.getNodeById(id).__fillblankEditor.front.label", ins)
    assert ui.errors == []


def test_this_targets_in_front_does_not_hide_the_chained_target(ui):
    """Insert's own in_front cuts only Insert's own target: where it crosses an earlier (chained) target
    that target stays drawn, as in the run (target.kept: a target's in_front is not kept where an earlier
    target is visible; the earlier record's composite shows it there)."""
    ids, ins, chained = _insert_over_a_chained_target(ui)
    before = _post_columns(ui, ins, chained, "several_own_front_off.png")
    front = ui.js(ADD_FRONT)
    ui.js("([f, e]) => app.graph.getNodeById(f).connect(1, app.graph.getNodeById(e), 'in_front')", [front, ins])
    assert _wait_front(ui, ins)
    after = _post_columns(ui, ins, chained, "several_own_front_on.png")
    assert np.abs(after - before).mean() < 3, np.abs(after - before).mean()
    assert ui.errors == []
