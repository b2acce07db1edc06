"""The web/ extension in a real headless Chromium against the real ComfyUI host server.

The host server (tests/host_server.py) runs with the pack and the test-only nodes loaded and serves
the installed current frontend (comfyui-frontend-package, pinned in requirements-test.txt), which
loads our extension from WEB_DIRECTORY. Playwright's Python client drives the system Chromium.
Errors that the frontend itself logs against this host, and nothing of ours, are listed one by one
in FRONTEND_NOISE; everything else fails a test. The tests check:

- the page loads the pinned frontend, both extensions register, nothing logs an error, and every
  request the page makes goes to the ComfyUI server itself (no network calls, no external assets),
  except the frontend's own look-ups of the model links its default workflow names;
- FillBlankLambdaSchedule draws its λ curve: the curve read back from the screenshot's pixels
  follows the core's LambdaSchedule for the widgets' values, and changes when a widget changes
  (a real click on the `kind` arrow, then new keyframes), with no server round-trip; a malformed
  keyframe string shows an error text instead of a curve, without any exception;
- FillBlankTargetEncoder, fed by two LoadImage nodes, shows the scene with the target and a real
  mouse drag moves x / y (by the dragged distance), the corner handle and the wheel scale it;
  the values survive saving and reloading the workflow; the API prompt of the saved workflow
  runs unchanged over HTTP and the result is changed only around the dragged placement;
- a fresh page in the canvas renderer and then in the Vue node renderer (Comfy.VueNodes.Enabled).

Screenshots go to test-artifacts/web/ (FILLBLANK_WEB_DOCS=1 also refreshes docs/web_*.png).
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import _browser
from host_server import ComfyServer

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
SHOTS = REPO / "test-artifacts" / "web"
DOCS = REPO / "docs"
SCENE_WH = (256, 192)
TARGET_WH = (96, 96)
CURVE_RGB = (0x40, 0xC8, 0xFF)  # lambda_curve.js CURVE
pytestmark = pytest.mark.host


# --- static checks of the extension's source (no browser needed) ------------------------------

FORBIDDEN = [
    (r"\beval\s*\(", "eval"),
    (r"\bnew\s+Function\b", "new Function"),
    (r"\bfetch\s*\(", "fetch"),
    (r"XMLHttpRequest", "XMLHttpRequest"),
    (r"WebSocket", "WebSocket"),
    (r"\bimport\s*\(", "dynamic import"),
    (r"https?://", "an absolute URL"),
    (r"\bsetTimeout\s*\(\s*['\"]", "setTimeout with a string"),
]


def test_extension_source_is_self_contained():
    files = sorted(WEB.glob("*.js"))
    assert {"lambda_math.js", "placement_math.js", "lambda_curve.js", "placement_editor.js"} <= {f.name for f in files}
    for f in files:
        text = f.read_text()
        for pattern, what in FORBIDDEN:
            assert not re.search(pattern, text), f"{f.name} uses {what}"
        # static imports: only the host's app.js and our own modules, by relative path
        for spec in re.findall(r"^\s*import\b[^;]*?from\s+['\"]([^'\"]+)['\"]", text, flags=re.M):
            assert spec == "../../scripts/app.js" or re.fullmatch(r"\./[a-z_]+\.js", spec), f"{f.name} imports {spec}"
        if f.name in ("lambda_math.js", "placement_math.js"):
            assert "import" not in re.sub(r"//.*", "", text), f"{f.name} must stay pure (node imports it)"
    for f in ("lambda_curve.js", "placement_editor.js"):
        text = (WEB / f).read_text()
        assert "app.registerExtension" in text and 'name: "fillblank.' in text
        # callbacks are chained: every prototype hook we set calls the one it replaces
        for hook in re.findall(r"proto(?:type)?\.(on\w+) = function", text):
            assert re.search(rf"orig\w*\s*=\s*(?:nodeType\.prototype|proto)\.{hook}\b", text), f"{f}: {hook} not chained"


# --- the browser fixtures -----------------------------------------------------------------------

def _write_inputs(folder: Path):
    """A real photo as the scene (skimage's cat, 256×192) and an RGBA cut-out as the target."""
    from skimage import data
    cat = Image.fromarray(data.chelsea())  # 451×300
    w, h = cat.size
    crop_w = h * 4 // 3
    cat = cat.crop(((w - crop_w) // 2, 0, (w - crop_w) // 2 + crop_w, h)).resize(SCENE_WH, Image.LANCZOS)
    cat.convert("RGB").save(folder / "fillblank_web_scene.png")
    logo = data.logo().copy()  # RGBA on an opaque white ground: make the ground transparent
    logo[..., 3] = np.where(logo[..., :3].min(-1) > 235, 0, 255)
    Image.fromarray(logo).resize(TARGET_WH, Image.LANCZOS).save(folder / "fillblank_web_target.png")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    why = _browser.missing_reason()
    if why:
        pytest.skip(why)
    path = os.environ.get("COMFYUI_PATH")
    if not path or not (Path(path) / "comfy").is_dir():
        pytest.skip("COMFYUI_PATH is not set to a ComfyUI checkout; run the README's test command "
                    "(bash scripts/test.sh), which sets it to the pinned test host")
    srv = ComfyServer(Path(path), tmp_path_factory.mktemp("comfy_web"))
    srv.input_dir.mkdir(parents=True, exist_ok=True)
    _write_inputs(srv.input_dir)  # before the page loads: LoadImage lists the input folder then
    srv.start()
    yield srv
    srv.stop()


USER_STATE = re.compile(r"^https?://127\.0\.0\.1:\d+/(?:api/)?(settings|userdata)(?:/([^?]*))?(?:\?.*)?$")

# Console errors of the frontend itself that have nothing to do with the pack, each matched by the
# URL it names (the failed resource, or the script that logged it) and its text. Checked with
# frontend 1.58.1 (2026) on ComfyUI 0.3.75 (2025-12). An error whose text, URL or stack names
# fillblank is never one of these.
FRONTEND_NOISE = [
    # a fresh user directory has no user.css and no saved templates: the server answers 404
    (r"/(?:api/userdata/)?user\.css$", r"status of 404"),
    (r"/api/userdata/comfy\.templates\.json$", r"status of 404"),
    # frontend 1.58.1 lists the queue and the history through /api/jobs, which ComfyUI 0.3.75
    # (2025-12) does not serve yet: the queue and history panels stay empty
    (r"/api/jobs\?", r"status of 404"),
    (r"/assets/[\w.-]+\.js$", r"^(?:\[Jobs API\] Error fetching jobs|Failed to fetch queue): JobsApiError: "
                              r"Failed to fetch jobs: 404\b"),
]


def frontend_noise(url: str, text: str) -> bool:
    """True for a console error listed in FRONTEND_NOISE, or for a failed load of a URL that the
    frontend's own bundle names (offline here); never for one that names fillblank."""
    if "fillblank" in (url + text).lower():
        return False
    if text.startswith("Failed to load resource") and _browser.named_by_frontend(url):
        return True
    return any(re.search(u, url) and re.search(t, text) for u, t in FRONTEND_NOISE)


def foreign_requests(requests: list[str], server_url: str) -> list[str]:
    """Requests that leave the ComfyUI server, less those the frontend's own bundle names."""
    return [u for u in requests if not (u.startswith(server_url) or u.startswith(("data:", "blob:")))
            and not _browser.named_by_frontend(u)]


class Page:
    """One browser page on the server's UI, recording console errors and every request.

    The UI's settings and user data are kept in the page (answered by a route, never reaching
    the server), so that no browser session writes into the shared host folder's user/ directory
    and no setting saved there by someone's earlier session changes what these tests see.
    """

    def __init__(self, page, server):
        self.page = page
        self.server = server
        self.errors: list[str] = []
        self.noise: list[str] = []  # FRONTEND_NOISE seen (kept for reading, asserted nowhere)
        self.requests: list[str] = []
        self.settings: dict = {
            # a returning user: no first-run template browser over the canvas
            "Comfy.TutorialCompleted": True,
            # an offline user's choices: no release-notes look-up (api.comfy.org) and no missing-model
            # list (its rows look up the default workflow's model files on huggingface.co)
            "Comfy.Notification.ShowVersionUpdates": False,
            "Comfy.ErrorSystem.ShowMissingModels": False,
        }
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc} {getattr(exc, 'stack', '') or ''}"))
        page.on("request", lambda req: self.requests.append(req.url))
        page.route(USER_STATE, self._user_state)

    def _user_state(self, route):
        req = route.request
        kind, key = USER_STATE.match(req.url).groups()
        key = urllib.parse.unquote(key) if key else None
        if kind == "settings":
            if req.method == "GET":
                body = self.settings.get(key) if key else self.settings
            else:
                data = req.post_data_json
                if key:
                    self.settings[key] = data
                else:
                    self.settings.update(data or {})
                body = {}
            return route.fulfill(status=200, content_type="application/json", body=json.dumps(body))
        if req.method == "GET":  # userdata: a listing is empty, a file does not exist yet
            if key:
                return route.fulfill(status=404, body="")
            return route.fulfill(status=200, content_type="application/json", body="[]")
        return route.fulfill(status=200, content_type="application/json", body="{}")

    def _console(self, msg):
        if msg.type == "error":
            url = (msg.location or {}).get("url", "")
            if url.endswith("/favicon.ico"):  # the host has no favicon: not ours
                return
            line = f"console.error {url}: {msg.text}"
            (self.noise if frontend_noise(url, msg.text) else self.errors).append(line)

    def js(self, expr, arg=None):
        return self.page.evaluate(expr, arg)

    def frames(self, n=3):
        self.js("""(n) => new Promise(r => { app.graph.setDirtyCanvas(true, true);
                   const step = (k) => k ? requestAnimationFrame(() => step(k - 1)) : r(); step(n); })""", n)

    def node_box(self, node_id, local=None, margin=0):
        """Screen rectangle (x, y, w, h) of a node (with its title) or of a node-local rectangle."""
        return self.js("""([id, local, margin]) => {
            const n = app.graph.getNodeById(id), c = app.canvas, r = c.canvas.getBoundingClientRect();
            const s = c.ds.scale, o = c.ds.offset, th = LiteGraph.NODE_TITLE_HEIGHT;
            const [lx, ly, lw, lh] = local ?? [0, -th, n.size[0], n.size[1] + th];
            return [r.left + (n.pos[0] + lx + o[0]) * s - margin, r.top + (n.pos[1] + ly + o[1]) * s - margin,
                    lw * s + 2 * margin, lh * s + 2 * margin]; }""", [node_id, local, margin])

    def shot(self, box, name=None) -> np.ndarray:
        x, y, w, h = box
        png = self.page.screenshot(clip={"x": x, "y": y, "width": w, "height": h})
        if name:
            SHOTS.mkdir(parents=True, exist_ok=True)
            (SHOTS / name).write_bytes(png)
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)

    def set_widget(self, node_id, name, value):
        self.js("""([id, name, value]) => { const n = app.graph.getNodeById(id);
            const w = n.widgets.find(w => w.name === name); w.value = value; w.callback?.(value); }""",
                [node_id, name, value])

    def widgets(self, node_id) -> dict:
        return self.js("(id) => Object.fromEntries(app.graph.getNodeById(id).widgets.map(w => [w.name, w.value]))", node_id)


READY = ("window.app?.graph && window.LiteGraph && app.canvas?.ds && "
         "app.extensions?.some(e => e.name === 'fillblank.placementEditor')")


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = _browser.launch(pw)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def ui(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    ui = Page(page, server)
    page.goto(server.url)
    page.wait_for_function(READY, timeout=90_000)
    ui.frames(5)
    yield ui
    page.close()


# An empty canvas the way the frontend clears it: app.clean() also drops the last run's outputs,
# which the frontend keys by node id (a bare graph.clear() would leave them to be shown on new
# nodes that reuse those ids: an image preview added to a node changes its layout).
CLEAN = "app.clean(); app.canvas.ds.scale = 1; app.canvas.ds.offset = [0, 0];"


def _fresh_canvas(ui):
    ui.js(f"() => {{ {CLEAN} }}")


# --- the tests ------------------------------------------------------------------------------------

def test_page_loads_extensions_without_errors(ui):
    # the host serves the pinned current frontend (requirements-test.txt), not one of its own
    assert ui.js("() => window.__COMFYUI_FRONTEND_VERSION__ ?? null") == _browser.frontend_version()
    names = ui.js("() => app.extensions.map(e => e.name)")
    assert "fillblank.lambdaCurve" in names and "fillblank.placementEditor" in names
    ui.page.screenshot(path=str(_shot_path("page.png")))
    assert ui.errors == []
    ours = [u for u in ui.requests if "/extensions/fillblank/" in u]
    assert any(u.endswith("/lambda_curve.js") for u in ours) and any(u.endswith("/placement_editor.js") for u in ours)
    assert all(u.startswith(ui.server.url) for u in ours)
    foreign = foreign_requests(ui.requests, ui.server.url)
    assert foreign == [], f"requests outside the ComfyUI server: {foreign}"


def _shot_path(name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / name


def _curve_from_pixels(img: np.ndarray, plot, box) -> dict[float, float]:
    """λ read back from a screenshot: for every pixel column, the middle of the curve-coloured run.

    plot: the node-local plot rectangle the extension reports; box: the screenshot's screen rect
    (taken with the plot's origin at pixel (margin, margin)). Returns {progress: λ}.
    """
    margin = round(box[2] - plot["w"]) // 2
    dist = np.abs(img - np.array(CURVE_RGB)).sum(-1)
    hits = dist < 90
    out = {}
    for col in range(img.shape[1]):
        rows = np.nonzero(hits[:, col])[0]
        if len(rows) == 0 or rows[-1] - rows[0] > 4:  # no curve here, or a vertical jump
            continue
        p = (col - margin + 0.5) / plot["w"]
        if 0.0 <= p <= 1.0:
            out[p] = 1.0 - (rows.mean() - margin + 0.5) / plot["h"]
    return out


def _assert_curve_matches(ui, node_id, name):
    from fillblank_core.schedules import LambdaSchedule
    plot = ui.js("(id) => app.graph.getNodeById(id).__fillblankPlot", node_id)
    assert plot and plot["w"] > 100 and plot["h"] > 60, plot
    margin = 3
    box = ui.node_box(node_id, [plot["x"], plot["y"], plot["w"], plot["h"]], margin)
    img = ui.shot(box, name)
    w = ui.widgets(node_id)
    sched = LambdaSchedule(kind=w["kind"], start=w["start"], end=w["end"], value=w["value"], cutoff=w["cutoff"],
                           rate=w["rate"], keyframes=w["keyframes"] if w["kind"] == "keyframes" else "")
    seen = _curve_from_pixels(img, plot, box)
    assert len(seen) > 0.6 * plot["w"], f"curve found in only {len(seen)} of {plot['w']} columns ({name})"
    err = np.array([abs(lam - sched(p)) for p, lam in seen.items()])
    # 2 px line on a ~100 px tall plot: 0.03 is about 3 px
    assert np.quantile(err, 0.95) < 0.03, f"{name}: drawn curve differs from the core's (95% err {np.quantile(err, 0.95):.3f})"
    return img


def test_lambda_curve_follows_widgets(ui):
    _fresh_canvas(ui)
    nid = ui.js("""() => { const n = LiteGraph.createNode("FillBlankLambdaSchedule"); n.pos = [60, 80];
                   app.graph.add(n); return n.id; }""")
    ui.frames()
    # a fresh node carries the sampler's measured default: keyframes over the noise level
    assert ui.widgets(nid)["kind"] == "keyframes" and ui.widgets(nid)["axis"] == "noise"
    _assert_curve_matches(ui, nid, "lambda_default.png")
    ui.set_widget(nid, "kind", "linear")
    ui.frames()
    node_shot = ui.shot(ui.node_box(nid, margin=4), "lambda_node_linear.png")
    assert node_shot.shape[0] > 300
    linear = _assert_curve_matches(ui, nid, "lambda_linear.png")
    assert ui.widgets(nid)["kind"] == "linear"

    # a real click on the right arrow of the `kind` combo: linear -> cosine, no server involved
    posted_before = len([u for u in ui.requests if "/prompt" in u])
    arrow = ui.js("""(id) => { const n = app.graph.getNodeById(id), w = n.widgets.find(w => w.name === "kind");
                     return [n.size[0] - 20, w.last_y + LiteGraph.NODE_WIDGET_HEIGHT / 2]; }""", nid)
    x, y, _, _ = ui.node_box(nid, [arrow[0], arrow[1], 1, 1])
    ui.page.mouse.click(x, y)
    ui.frames()
    assert ui.widgets(nid)["kind"] == "cosine"
    cosine = _assert_curve_matches(ui, nid, "lambda_cosine.png")
    changed = (np.abs(cosine - linear).sum(-1) > 60).mean()
    assert changed > 0.005, f"the drawn curve did not change with the widget ({changed:.4f} of the pixels)"

    ui.set_widget(nid, "kind", "keyframes")
    ui.set_widget(nid, "keyframes", "0:1.0, 0.3:0.9, 0.6:0.2, 1:0.1")
    ui.frames()
    _assert_curve_matches(ui, nid, "lambda_keyframes.png")
    for kind, extra in (("exponential", {"rate": 12.0, "start": 0.9, "end": 0.1}),
                        ("step", {"value": 0.7, "cutoff": 0.4}), ("constant", {"value": 0.35})):
        for k, v in extra.items():
            ui.set_widget(nid, k, v)
        ui.set_widget(nid, "kind", kind)
        ui.frames()
        _assert_curve_matches(ui, nid, f"lambda_{kind}.png")
    assert len([u for u in ui.requests if "/prompt" in u]) == posted_before

    # malformed keyframes: an error text on the node, no curve, no exception
    ui.set_widget(nid, "kind", "keyframes")
    ui.set_widget(nid, "keyframes", "0:1, zebra")
    ui.frames()
    plot = ui.js("(id) => app.graph.getNodeById(id).__fillblankPlot", nid)
    assert "zebra" in plot.get("error", "")
    ui.shot(ui.node_box(nid, margin=4), "lambda_error.png")
    img = ui.shot(ui.node_box(nid, plot["area"]))
    assert (np.abs(img - np.array(CURVE_RGB)).sum(-1) < 90).sum() < 5, "no curve is drawn for a malformed string"
    red = (img[..., 0] > 200) & (img[..., 1] < 140) & (img[..., 2] < 140)
    assert red.sum() > 30, "the error is shown on the node"
    assert ui.errors == []

    # the picture for the README: a fresh node set to its default keyframes
    _fresh_canvas(ui)
    nid = ui.js("""() => { const n = LiteGraph.createNode("FillBlankLambdaSchedule"); n.pos = [60, 80];
                   app.graph.add(n); return n.id; }""")
    ui.set_widget(nid, "kind", "keyframes")
    ui.frames()
    _assert_curve_matches(ui, nid, "lambda_readme.png")
    _docs_copy(ui, ui.node_box(nid, margin=6), "web_lambda_curve.png")
    assert ui.errors == []


def _docs_copy(ui, box, name):
    """Screenshot into test-artifacts/web/, and into docs/ when FILLBLANK_WEB_DOCS=1."""
    ui.shot(box, name)
    if os.environ.get("FILLBLANK_WEB_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        (DOCS / name).write_bytes((SHOTS / name).read_bytes())


BUILD_PIPELINE = """() => {
    """ + CLEAN + """
    const add = (type, pos, widgets = {}) => {
        const n = LiteGraph.createNode(type);
        n.pos = pos;
        app.graph.add(n);
        for (const [k, v] of Object.entries(widgets)) {
            const w = n.widgets.find(w => w.name === k);
            w.value = v;
            w.callback?.(v);
        }
        return n;
    };
    const ckpt = add("FillBlankTestTinyCheckpoint", [1500, 60]);
    const pos = add("FillBlankTestConditioning", [1500, 200], {text: "a logo on a cat"});
    const neg = add("FillBlankTestConditioning", [1500, 320]);
    const scene = add("LoadImage", [20, 40], {image: "fillblank_web_scene.png"});
    const target = add("LoadImage", [20, 420], {image: "fillblank_web_target.png"});
    const enc = add("FillBlankTargetEncoder", [400, 40]);
    target.connect(0, enc, "target");
    scene.connect(0, enc, "scene");
    ckpt.connect(2, enc, "vae");
    target.connect(1, enc, "target_mask");
    const refine = add("FillBlankMaskRefiner", [1500, 440], {mode: "silhouette"});
    enc.connect(0, refine, "target");
    const sched = add("FillBlankLambdaSchedule", [1500, 640]);
    const venc = add("VAEEncode", [1500, 900]);
    scene.connect(0, venc, "pixels");
    ckpt.connect(2, venc, "vae");
    const sampler = add("FillBlankSampler", [1900, 60], {seed: 7, steps: 4, jump_length: 2, cfg: 2.0});
    ckpt.connect(0, sampler, "model");
    pos.connect(0, sampler, "positive");
    neg.connect(0, sampler, "negative");
    venc.connect(0, sampler, "latent_image");
    enc.connect(0, sampler, "target");
    refine.connect(0, sampler, "hole");
    sched.connect(0, sampler, "schedule");
    const dec = add("VAEDecode", [1900, 500]);
    sampler.connect(0, dec, "samples");
    ckpt.connect(2, dec, "vae");
    const comp = add("FillBlankComposite", [1900, 640]);
    scene.connect(0, comp, "scene");
    dec.connect(0, comp, "image");
    refine.connect(0, comp, "mask");
    const save = add("SaveImage", [2300, 60], {filename_prefix: "fillblank_web"});
    comp.connect(0, save, "images");
    return {enc: enc.id, save: save.id, scene: scene.id, target: target.id};
}"""


def _editor(ui, enc):
    return ui.js("""(id) => { const L = app.graph.getNodeById(id).__fillblankEditor;
        return L && L.scene && L.target ? {fit: L.fit, rect: L.rect, handle: L.handle, area: L.area,
                                             W: L.W, H: L.H} : null; }""", enc)


def _screen(ui, enc, lx, ly):
    x, y, _, _ = ui.node_box(enc, [lx, ly, 1, 1])
    return x, y


def _drag(ui, start, end, steps=12):
    m = ui.page.mouse
    m.move(*start)
    m.down()
    m.move(*end, steps=steps)
    m.up()
    ui.frames()


@pytest.fixture(scope="module")
def placed(ui):
    """The pipeline built in the browser, the target placed by real mouse drags."""
    _fresh_canvas(ui)
    ids = ui.js(BUILD_PIPELINE)
    enc = ids["enc"]
    deadline = time.time() + 30
    while time.time() < deadline:
        ui.frames()
        if _editor(ui, enc):
            break
        time.sleep(0.2)
    L = _editor(ui, enc)
    assert L, "the placement editor shows the scene and the target once the LoadImage previews are known"
    assert (L["W"], L["H"]) == SCENE_WH
    before = ui.widgets(enc)
    assert (before["x"], before["y"], before["scale"]) == (0.5, 0.5, 0.4)
    editor_box = ui.node_box(enc, [L["area"]["x"], L["area"]["y"], L["area"]["w"], L["area"]["h"]])
    shot_before = ui.shot(editor_box, "placement_before.png")

    # 1. drag the target by (-60, +30) screen px: x, y move by that fraction of the drawn scene
    r = L["rect"]
    cx, cy = r["x"] + r["w"] / 2, r["y"] + r["h"] / 2
    dx, dy = -60, 30
    _drag(ui, _screen(ui, enc, cx, cy), _screen(ui, enc, cx + dx, cy + dy))
    moved = ui.widgets(enc)
    shot_after = ui.shot(editor_box, "placement_after_move.png")

    # 2. the corner handle: drag it outward, the target grows about its centre
    L2 = _editor(ui, enc)
    h = L2["handle"]
    hx, hy = h["x"] + h["w"] / 2, h["y"] + h["h"] / 2
    _drag(ui, _screen(ui, enc, hx, hy), _screen(ui, enc, hx + 12, hy + 12), steps=6)
    handled = ui.widgets(enc)

    # 3. the wheel over the scene: one notch up = 5% larger, the canvas does not zoom
    zoom = ui.js("() => app.canvas.ds.scale")
    L3 = _editor(ui, enc)
    ui.page.mouse.move(*_screen(ui, enc, L3["fit"]["x"] + 20, L3["fit"]["y"] + 20))
    ui.page.mouse.wheel(0, -120)
    ui.frames()
    wheeled = ui.widgets(enc)
    zoom_after = ui.js("() => app.canvas.ds.scale")
    _docs_copy(ui, _union_box(ui, [ids["scene"], ids["target"], enc]), "web_placement.png")
    return dict(ids=ids, L=L, before=before, moved=moved, handled=handled, wheeled=wheeled, zoom=(zoom, zoom_after),
                drag=(dx, dy), shots=(shot_before, shot_after), L2=L2)


def _union_box(ui, node_ids, margin=6):
    boxes = [ui.node_box(i) for i in node_ids]
    x0 = min(b[0] for b in boxes) - margin
    y0 = min(b[1] for b in boxes) - margin
    x1 = max(b[0] + b[2] for b in boxes) + margin
    y1 = max(b[1] + b[3] for b in boxes) + margin
    return (max(x0, 0), max(y0, 0), x1 - max(x0, 0), y1 - max(y0, 0))


def test_drag_moves_target_and_sets_widgets(placed):
    L, before, moved = placed["L"], placed["before"], placed["moved"]
    dx, dy = placed["drag"]
    assert moved["x"] == pytest.approx(before["x"] + dx / L["fit"]["w"], abs=0.006)
    assert moved["y"] == pytest.approx(before["y"] + dy / L["fit"]["h"], abs=0.006)
    assert moved["scale"] == before["scale"]
    # the overlay moved on the canvas too
    a, b = placed["shots"]
    assert (np.abs(a - b).sum(-1) > 60).mean() > 0.02


def test_handle_and_wheel_scale_target(placed):
    moved, handled, wheeled = placed["moved"], placed["handled"], placed["wheeled"]
    assert handled["scale"] > moved["scale"] * 1.08, (moved, handled)
    assert (handled["x"], handled["y"]) == (moved["x"], moved["y"]), "scaling keeps the centre"
    assert wheeled["scale"] == pytest.approx(handled["scale"] * 1.05, abs=0.0015)
    assert placed["zoom"][0] == placed["zoom"][1], "the wheel over the editor scales the target, not the canvas"


def test_wheel_elsewhere_still_zooms_canvas(ui, placed):
    before = ui.js("() => app.canvas.ds.scale")
    ui.page.mouse.move(1200, 900)  # empty canvas
    ui.page.mouse.wheel(0, -120)
    ui.frames()
    after = ui.js("() => app.canvas.ds.scale")
    ui.js("() => { app.canvas.ds.scale = 1; app.canvas.ds.offset = [0, 0]; }")
    ui.frames()
    assert after != before, "the chained processMouseWheel still zooms the canvas away from the editor"


def test_placement_survives_save_and_reload(ui, placed):
    enc = placed["ids"]["enc"]
    want = ui.widgets(enc)
    got = ui.js("""async (id) => {
        const wf = JSON.parse(JSON.stringify(app.graph.serialize()));
        await app.loadGraphData(wf);
        const n = app.graph.getNodeById(id);
        return {type: n.type, widgets: Object.fromEntries(n.widgets.map(w => [w.name, w.value])),
                saved: wf.nodes.find(m => String(m.id) === String(id)).widgets_values};
    }""", enc)
    assert got["type"] == "FillBlankTargetEncoder"
    assert got["widgets"] == want
    assert got["saved"][:3] == [want["x"], want["y"], want["scale"]]
    ui.frames()
    assert ui.errors == []


def test_saved_workflow_runs_unchanged_over_api(ui, server, placed):
    import torch
    from fillblank_core import masks as M
    from fillblank_core.placement import object_mask_from, place_target

    enc = placed["ids"]["enc"]
    want = ui.widgets(enc)
    prompt = ui.js("async () => (await app.graphToPrompt()).output")
    assert prompt[str(enc)]["inputs"]["x"] == want["x"] and prompt[str(enc)]["inputs"]["y"] == want["y"]
    assert prompt[str(enc)]["inputs"]["scale"] == want["scale"]
    kind, entry = server.run(prompt, timeout=300)
    assert kind == "success", f"{kind}: {entry}\n{server.log_text()[-3000:]}"
    images = entry["outputs"][str(placed["ids"]["save"])]["images"]
    out_png = server.output_dir / images[0].get("subfolder", "") / images[0]["filename"]
    (SHOTS / "placement_run_output.png").write_bytes(out_png.read_bytes())
    result = np.asarray(Image.open(out_png).convert("RGB"))
    scene = np.asarray(Image.open(server.input_dir / "fillblank_web_scene.png").convert("RGB"))
    assert result.shape == scene.shape
    # changed only around the dragged placement (silhouette, grown 8 px by the refiner, feathered
    # 8 px by the composite): proof that the dragged x / y / scale reached the server
    tgt = torch.from_numpy(np.asarray(Image.open(server.input_dir / "fillblank_web_target.png")).astype(np.float32) / 255)
    tgt = tgt.permute(2, 0, 1)[None]
    H, W = scene.shape[:2]
    _, sil, _ = place_target(tgt[:, :3], object_mask_from(tgt), (H, W), want["x"], want["y"], want["scale"], want["flip"])
    soft = M.feather(M.grow(M.threshold(sil, 0.0), 8), 8)[0, 0].numpy()
    outside = soft == 0
    assert 0.2 * outside.size < outside.sum() < outside.size
    assert np.array_equal(result[outside], scene[outside]), "pixels away from the dragged placement are the scene's own"
    assert not np.array_equal(result[~outside], scene[~outside]), "the target region was repainted"
    assert ui.errors == []


def test_editor_uses_generated_scene_shown_after_a_run(ui):
    """A scene that is not a LoadImage (here a generated test image) is known once a Preview Image
    fed from the same output has shown it after a run queued from the UI."""
    _fresh_canvas(ui)
    ids = ui.js("""() => {
        const add = (type, pos) => { const n = LiteGraph.createNode(type); n.pos = pos; app.graph.add(n); return n; };
        const gen = add("FillBlankTestImage", [20, 40]);
        for (const [k, v] of [["width", 200], ["height", 120]]) gen.widgets.find(w => w.name === k).value = v;
        const preview = add("PreviewImage", [20, 300]);
        gen.connect(0, preview, "images");
        const target = add("LoadImage", [20, 620]);
        const w = target.widgets.find(w => w.name === "image"); w.value = "fillblank_web_target.png"; w.callback?.(w.value);
        const enc = add("FillBlankTargetEncoder", [400, 40]);
        gen.connect(0, enc, "scene");
        target.connect(0, enc, "target");
        return {enc: enc.id, preview: preview.id};
    }""")
    ui.frames()
    assert _editor(ui, ids["enc"]) is None, "no scene is known before the run"
    ui.js("async () => { await app.queuePrompt(0, 1); }")  # the UI's own Queue Prompt
    deadline = time.time() + 60
    while time.time() < deadline and not _editor(ui, ids["enc"]):
        ui.frames()
        time.sleep(0.25)
    L = _editor(ui, ids["enc"])
    assert L and (L["W"], L["H"]) == (200, 120), L
    ui.shot(ui.node_box(ids["enc"], margin=4), "placement_generated_scene.png")
    assert ui.errors == []


# --- both renderers of the current frontend: canvas and Vue nodes ("Nodes 2.0") ------------------

def test_current_frontend_canvas_and_vue_nodes(browser, server):
    """The extension in a fresh page of the frontend the host serves (comfyui-frontend-package,
    pinned), first in its canvas renderer, then with Comfy.VueNodes.Enabled. Canvas renderer: the
    curve is drawn and matches the core, a drag moves x / y. Vue node renderer (nodes drawn as DOM,
    no canvas drawing of ours): no errors, the nodes keep their plain size, widgets still change
    and the workflow still runs."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    nf = Page(page, server)
    # warnings of ours count as well (the errors are all recorded by Page)
    page.on("console", lambda m: nf.errors.append(f"console.{m.type} {(m.location or {}).get('url', '')}: {m.text}")
            if m.type == "warning" and "fillblank" in (m.text + str(m.location)).lower() else None)
    version = None
    try:
        page.goto(server.url)
        page.wait_for_function(READY, timeout=120_000)
        version = page.evaluate("window.__COMFYUI_FRONTEND_VERSION__ ?? null")
        nf.frames(5)

        # canvas renderer
        ids = nf.js(BUILD_PIPELINE)
        enc = ids["enc"]
        sched = nf.js("""() => { const n = LiteGraph.createNode("FillBlankLambdaSchedule"); n.pos = [420, 560];
                         app.graph.add(n); return n.id; }""")
        nf.js("() => { app.canvas.ds.offset = [80, 60]; }")
        deadline = time.time() + 30
        while time.time() < deadline and not _editor(nf, enc):
            nf.frames()
            time.sleep(0.2)
        nf.set_widget(sched, "kind", "cosine")
        nf.frames()
        _assert_curve_matches(nf, sched, "current_frontend_lambda.png")
        L = _editor(nf, enc)
        assert L, f"frontend {version}: the placement editor shows scene and target"
        r = L["rect"]
        cx, cy = r["x"] + r["w"] / 2, r["y"] + r["h"] / 2
        _drag(nf, _screen(nf, enc, cx, cy), _screen(nf, enc, cx + 40, cy - 30))
        moved = nf.widgets(enc)
        assert moved["x"] == pytest.approx(0.5 + 40 / L["fit"]["w"], abs=0.006)
        assert moved["y"] == pytest.approx(0.5 - 30 / L["fit"]["h"], abs=0.006)
        page.screenshot(path=str(_shot_path("current_frontend_canvas.png")))
        canvas_size = nf.js("(id) => Array.from(app.graph.getNodeById(id).computeSize())", sched)

        # Vue node renderer: nothing is drawn by us, nothing breaks
        on = nf.js("""async () => { await app.extensionManager.setting.set("Comfy.VueNodes.Enabled", true);
                                    return !!LiteGraph.vueNodesMode; }""")
        assert on, f"frontend {version}: Comfy.VueNodes.Enabled switches to the Vue node renderer"
        nf.frames(5)
        ids = nf.js(BUILD_PIPELINE)
        enc, save = ids["enc"], ids["save"]
        sched = nf.js("""() => { const n = LiteGraph.createNode("FillBlankLambdaSchedule"); n.pos = [420, 560];
                         app.graph.add(n); return n.id; }""")
        nf.frames(5)
        time.sleep(0.5)
        vue_size = nf.js("(id) => Array.from(app.graph.getNodeById(id).computeSize())", sched)
        assert vue_size[1] < canvas_size[1] - 100, "no room reserved for a drawing the Vue renderer never makes"
        nf.set_widget(sched, "kind", "step")
        nf.set_widget(enc, "x", 0.3)
        nf.set_widget(enc, "y", 0.6)
        nf.frames(3)
        page.screenshot(path=str(_shot_path("current_frontend_vue_nodes.png")))
        prompt = nf.js("async () => (await app.graphToPrompt()).output")
        assert prompt[str(enc)]["inputs"]["x"] == 0.3 and prompt[str(enc)]["inputs"]["y"] == 0.6
        kind, entry = server.run(prompt, timeout=300)
        assert kind == "success", f"{kind}: {entry}"
        assert entry["outputs"][str(save)]["images"]
    finally:
        page.close()
    assert nf.errors == [], f"frontend {version}"
