"""The web/ extension in a real headless Chromium against the real ComfyUI host server.

The host server (tests/host_server.py) runs with the pack and the test-only nodes loaded and serves
the installed current frontend (comfyui-frontend-package, pinned in requirements-test.txt), which
loads our extension from WEB_DIRECTORY. Playwright's Python client drives the system Chromium.
Every browser test runs twice, on a fresh page in each of the frontend's renderers: the canvas
renderer and the Vue node renderer ("Modern Node Design (Nodes 2.0)", Comfy.VueNodes.Enabled), where
nodes are DOM and only DOM widgets of ours can draw. Every error the pack causes fails a test: an
exception or a logged error with a pack script (/extensions/fillblank/) on its stack or the pack
named in it, a failed request for one of the pack's files or started by a pack script, a server
error, and also a warning that names the pack or a deprecation warning that the frontend raises
from our code. The frontend's own errors (a request it makes that this host refuses, an error it
logs from its own code) are not ours and are only kept for reading (Page.noise, and
test-artifacts/web/<renderer>_frontend_errors.txt). The tests check:

- the page loads the pinned frontend in the wanted renderer, both extensions register, and every
  request the page makes goes to the ComfyUI server itself (no network calls, no external assets),
  except the frontend's own look-ups of the model links its default workflow names;
- FillBlankLambdaSchedule draws its λ curve in both renderers: the curve read back from the
  screenshot's pixels follows the core's LambdaSchedule for the widgets' values and is redrawn when
  a widget changes (a real click on the `kind` control of each renderer: the pixels change), with
  no server round-trip; over the noise level there are no step dots, over the steps a dot per
  preview step (or per step of the Fill-in Sampler it feeds); a malformed keyframe string shows an
  error text instead of a curve; only the widgets the kind uses show, and the drawing fills the node
  below them (no empty area);
- FillBlankTargetEncoder, fed by two LoadImage nodes, shows the scene with the target in both
  renderers; a real mouse drag moves x / y (by the dragged distance), the corner handle scales, the
  wheel alone zooms the graph and leaves scale alone, Shift+wheel scales and leaves the graph's zoom
  alone; the values survive saving and reloading the workflow; the API prompt of the saved workflow
  runs unchanged over HTTP and the result is changed only around the dragged placement.
- what a new user meets: the help pages read in the narrow side panel (no sideways scrolling), each
  example opens from the Templates browser under its title at a zoom where nodes are drawn in full,
  with download links that open on a click, and the node search finds the pack by a user's words on
  a host that sends no search aliases.

Screenshots go to test-artifacts/web/<renderer>_*.png (FILLBLANK_WEB_DOCS=1 also refreshes
docs/web_*.png from the canvas renderer).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import _browser
import _needs
from host_server import ComfyServer

REPO = Path(__file__).resolve().parents[1]
WEB = REPO / "web"
SHOTS = REPO / "test-artifacts" / "web"
DOCS = REPO / "docs"
SCENE_WH = (256, 192)
TARGET_WH = (96, 96)
CURVE_RGB = (0x40, 0xC8, 0xFF)  # lambda_curve.js CURVE
DOTS_RGB = (0xFF, 0xA0, 0x40)  # lambda_curve.js DOTS
EDITOR_BG = (0x16, 0x16, 0x16)  # the editors' background (BG in both files)
CURVE_WIDGET, PLACEMENT_WIDGET = "lambda_curve", "placement"  # the DOM widgets' names
LAMBDA_OPTIONAL = ["start", "end", "value", "cutoff", "rate", "keyframes", "preview_steps"]
USES = {"constant": {"value"}, "linear": {"start", "end"}, "cosine": {"start", "end"},
        "exponential": {"start", "end", "rate"}, "step": {"value", "cutoff"}, "keyframes": {"keyframes"}}
RENDERERS = ["canvas", "vue"]
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

# what the Vue node renderer never calls, or what the frontend marks deprecated
NOT_IN_BOTH_RENDERERS = [
    (r"\bprototype\b", "patching a prototype (node hooks the Vue node renderer never calls)"),
    (r"\bon(?:DrawForeground|DrawBackground|MouseDown|MouseMove|MouseUp|MouseEnter|MouseLeave)\b",
     "a canvas-only node hook"),
    (r"\bcaptureInput\b", "captureInput (deprecated: pointer capture on our own element instead)"),
    (r"\.links?\b", "input.link / output.links (deprecated: getInputLink / getOutputNodes / isInputConnected)"),
    (r"\.computeSize\s*=(?!=)", "replacing computeSize"),
]


def _code(text: str) -> str:
    """JS source without its comments (a rough cut: enough for our files)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"(?m)(^|[^:\"'])//.*$", r"\1", text)


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
        for pattern, what in NOT_IN_BOTH_RENDERERS:
            assert not re.search(pattern, _code(text)), f"{f.name} uses {what}"
    for f in ("lambda_curve.js", "placement_editor.js"):
        text = (WEB / f).read_text()
        assert "app.registerExtension" in text and 'name: "fillblank.' in text
        assert "addCanvasWidget(node" in text, f"{f}: the editor is a DOM widget"
    ui = (WEB / "fillblank_ui.js").read_text()
    assert "node.addDOMWidget(" in ui and "setPointerCapture" in ui


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
        _needs.missing("host", f"COMFYUI_PATH={path or ''!r}")
    srv = ComfyServer(Path(path), tmp_path_factory.mktemp("comfy_web"))
    srv.input_dir.mkdir(parents=True, exist_ok=True)
    _write_inputs(srv.input_dir)  # before the page loads: LoadImage lists the input folder then
    srv.start()
    yield srv
    srv.stop()


def test_node_help_pages_are_served_where_the_frontend_looks(server):
    """The frontend's node help panel asks the server for /extensions/<pack>/docs/<NodeId>/<locale>.md,
    then for /extensions/<pack>/docs/<NodeId>.md, <pack> read off the node's python_module
    (custom_nodes.<folder>), and drops an HTML answer: every node of ours gets its web/docs page at
    both, as markdown (English: the first look-up finds it)."""
    import urllib.request
    info = server.object_info()
    ours = {n: i for n, i in info.items() if i.get("python_module") == "custom_nodes.fillblank"}
    assert len(ours) >= 8 and sorted(f"{n}.md" for n in ours) == sorted(p.name for p in (WEB / "docs").glob("*.md"))
    for name, i in ours.items():
        pack = i["python_module"].split(".")[1].split("@")[0]
        for path in (f"{name}/en.md", f"{name}.md"):
            with urllib.request.urlopen(f"{server.url}/extensions/{pack}/docs/{path}", timeout=30) as r:
                assert r.status == 200
                assert "text/html" not in r.headers.get("Content-Type", ""), r.headers.get("Content-Type")
                assert r.read() == (WEB / "docs" / f"{name}.md").read_bytes() == (WEB / "docs" / path).read_bytes()


USER_STATE = re.compile(r"^https?://127\.0\.0\.1:\d+/(?:api/)?(settings|userdata)(?:/([^?]*))?(?:\?.*)?$")

def foreign_requests(requests: list[str], server_url: str) -> list[str]:
    """Requests that leave the ComfyUI server, less those the frontend's own bundle names."""
    return [u for u in requests if not (u.startswith(server_url) or u.startswith(("data:", "blob:")))
            and not _browser.named_by_frontend(u)]


# Deprecation warnings the frontend raises (LiteGraph.onDeprecationWarning) whose caller is our code:
# recorded in the page, read by Page.errors. The caller is the first frame of the stack below the
# frontend's warning machinery (LiteGraph's bundle and Vue's reactive proxies); a warning the
# frontend raises for its own code is not ours even when our code is further down the stack (a
# saved workflow's configure() passes through our wrapper of it, and the frontend's configure reads
# input.link itself). Repeats are not suppressed, so one the frontend raised first for itself is
# still seen when our code raises it too.
WATCH_DEPRECATIONS = """() => {
    window.__fillblankDeprecations = [];
    LiteGraph.alwaysRepeatWarnings = true;
    LiteGraph.onDeprecationWarning.push((message) => {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 60;
        const stack = new Error().stack ?? "";
        Error.stackTraceLimit = limit;
        const frames = stack.split("\\n").slice(1).filter((line) =>
            !line.includes("eval at evaluate") && !/\\/assets\\/(?:litegraph|vendor)[\\w.-]*\\.js/.test(line));
        if (frames[0]?.includes("/extensions/fillblank/")) window.__fillblankDeprecations.push(`${message}\\n${stack}`);
    });
}"""


# The Vue node's widget rows as [name, bottom on screen]: frontend 1.5x names each row
# (data-widget-name); frontend 1.35.x (Dec 2025) does not — there a row's name is its label, or, for a
# DOM widget (no label), the widget whose element the row holds. Evaluated with `id` in scope.
VUE_ROWS = """(() => {
    const node = document.querySelector(`.lg-node[data-node-id="${id}"]`);
    const named = [...node.querySelectorAll('[data-widget-name]')];
    if (named.length) return named.map(e => [e.dataset.widgetName, e.getBoundingClientRect().bottom]);
    const n = app.graph.getNodeById(id);
    return [...node.querySelectorAll('.lg-node-widget')].map(r => {
        const w = n.widgets.find(w => w.element && r.contains(w.element));
        const label = r.querySelector('.truncate');
        return [w ? w.name : (label ? label.textContent.trim() : ''), r.getBoundingClientRect().bottom];
    });
})()"""


class Page:
    """One browser page on the server's UI in one renderer, recording console errors and requests.

    The UI's settings and user data are kept in the page (answered by a route, never reaching
    the server), so that no browser session writes into the shared host folder's user/ directory
    and no setting saved there by someone's earlier session changes what these tests see.
    """

    def __init__(self, page, server, renderer="canvas"):
        self.page = page
        self.server = server
        self.renderer = renderer
        self.vue = renderer == "vue"
        self._errors: list[str] = []
        self.noise: list[str] = []  # the frontend's own errors (kept for reading, asserted nowhere)
        self.requests: list[str] = []
        self._sent: dict[str, tuple[str, list[str]]] = {}  # DevTools request id -> (url, initiator's stack)
        self._status: dict[str, int] = {}
        self.settings: dict = {
            # a returning user: no first-run template browser over the canvas
            "Comfy.TutorialCompleted": True,
            # an offline user's choices: no release-notes look-up (api.comfy.org) and no missing-model
            # list (its rows look up the default workflow's model files on huggingface.co)
            "Comfy.Notification.ShowVersionUpdates": False,
            "Comfy.ErrorSystem.ShowMissingModels": False,
            # the renderer under test: "Modern Node Design (Nodes 2.0)" on or off
            "Comfy.VueNodes.Enabled": self.vue,
        }
        # errors and their origins from Chromium's DevTools protocol: stacks, requests and initiators
        self.cdp = page.context.new_cdp_session(page)
        for event, handler in (("Network.requestWillBeSent", self._sent_request),
                               ("Network.responseReceived", self._response),
                               ("Log.entryAdded", self._log_entry),
                               ("Runtime.consoleAPICalled", self._console),
                               ("Runtime.exceptionThrown", self._exception)):
            self.cdp.on(event, handler)
        for domain in ("Network", "Log", "Runtime"):
            self.cdp.send(f"{domain}.enable")
        page.on("request", lambda req: self.requests.append(req.url))
        page.route(USER_STATE, self._user_state)

    def open(self):
        self.page.goto(self.server.url)
        self.page.wait_for_function(READY, timeout=120_000)
        self.js(WATCH_DEPRECATIONS)
        self.frames(5)
        return self

    @property
    def errors(self) -> list[str]:
        """The errors the pack caused (exceptions, logged errors, failed requests: see the module
        docstring), warnings that name the pack, and deprecation warnings raised from our code, so far."""
        try:
            ours = self.js("() => window.__fillblankDeprecations ?? []")
        except Exception as exc:  # the page is gone
            ours = [f"could not read the deprecation log: {exc}"]
        return self._errors + [f"deprecated API used by the pack: {d}" for d in ours]

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

    # --- DevTools events -------------------------------------------------------------------------
    def _sent_request(self, p):
        self._sent[p["requestId"]] = (p["request"]["url"], _browser.stack_urls((p.get("initiator") or {}).get("stack")))

    def _response(self, p):
        self._status[p["requestId"]] = p["response"]["status"]

    def _record(self, ours: bool, line: str):
        (self._errors if ours else self.noise).append(line)

    def _log_entry(self, p):
        """Errors the browser logs itself: a failed request ("Failed to load resource"), and others."""
        e = p["entry"]
        if e.get("level") != "error":
            return
        rid = e.get("networkRequestId")
        if rid in self._sent:
            url, initiator = self._sent[rid]
            status = self._status.get(rid)
            by = next((u for u in initiator if u), "the page")
            self._record(_browser.failed_request_is_ours(url, initiator, status),
                         f"failed request {url} ({e.get('text', '')}) started by {by}")
            return
        urls = [e.get("url", "")] + _browser.stack_urls(e.get("stackTrace"))
        self._record(_browser.error_is_ours([e.get("text", "")], urls), f"{e.get('source')} error {urls[0]}: {e.get('text')}")

    @staticmethod
    def _text(obj: dict) -> str:
        """A logged value as text: a string or number itself, an Error its stack (its description)."""
        return str(obj["value"]) if "value" in obj else str(obj.get("description") or obj.get("type", ""))

    def _console(self, p):
        texts = [self._text(a) for a in p.get("args", [])]
        urls = _browser.stack_urls(p.get("stackTrace"))
        where = next((u for u in urls if u), "")
        line = f"console.{p['type']} {where}: {' '.join(texts)}"
        if p["type"] in ("error", "assert"):
            self._record(_browser.error_is_ours(texts, urls), line)
        elif p["type"] == "warning" and ("fillblank" in " ".join(texts).lower() or _browser.is_pack_url(where)):
            self._errors.append(line)

    def _exception(self, p):
        d = p["exceptionDetails"]
        texts = [d.get("text", ""), self._text(d.get("exception") or {})]
        urls = [d.get("url", "")] + _browser.stack_urls(d.get("stackTrace"))
        self._record(_browser.error_is_ours(texts, urls), f"exception: {' '.join(t for t in texts if t)}")

    def mark(self) -> tuple[int, int]:
        return len(self._errors), len(self.noise)

    def take_errors(self, mark: tuple[int, int]) -> tuple[list[str], list[str]]:
        """(ours, the frontend's) recorded since `mark`; ours are forgotten (for the tests of the watch)."""
        self.settle(0.3)  # events still on their way
        ours, theirs = self._errors[mark[0]:], self.noise[mark[1]:]
        del self._errors[mark[0]:]
        return ours, theirs

    def js(self, expr, arg=None):
        return self.page.evaluate(expr, arg)

    def frames(self, n=3):
        self.js("""(n) => new Promise(r => { app.canvas.setDirty(true, true);
                   const step = (k) => k ? requestAnimationFrame(() => step(k - 1)) : r(); step(n); })""", n)

    def settle(self, seconds=0.15):
        """Frames, then a pause: Vue re-renders, ResizeObservers and the editors' 0.2 s check."""
        self.frames()
        time.sleep(seconds)
        self.frames()

    def node_box(self, node_id, local=None, margin=0):
        """Screen rectangle (x, y, w, h) of a node with its title (the DOM node in the Vue
        renderer), or of a node-local rectangle (canvas renderer)."""
        if local is None and self.vue:
            return self.js("""([id, margin]) => {
                const r = document.querySelector(`.lg-node[data-node-id="${id}"]`).getBoundingClientRect();
                return [r.left - margin, r.top - margin, r.width + 2 * margin, r.height + 2 * margin]; }""",
                           [node_id, margin])
        return self.js("""([id, local, margin]) => {
            const n = app.graph.getNodeById(id), c = app.canvas, r = c.canvas.getBoundingClientRect();
            const s = c.ds.scale, o = c.ds.offset, th = LiteGraph.NODE_TITLE_HEIGHT;
            const [lx, ly, lw, lh] = local ?? [0, -th, n.size[0], n.size[1] + th];
            return [r.left + (n.pos[0] + lx + o[0]) * s - margin, r.top + (n.pos[1] + ly + o[1]) * s - margin,
                    lw * s + 2 * margin, lh * s + 2 * margin]; }""", [node_id, local, margin])

    def editor_box(self, node_id, name, local=None, margin=0):
        """Screen rectangle of the canvas of our DOM widget `name`, or of a rectangle in it (in its
        CSS px, as the extension reports its layout). The same in both renderers."""
        return self.js("""([id, name, local, margin]) => {
            const n = app.graph.getNodeById(id), w = n.widgets.find(w => w.name === name);
            const c = w.element.querySelector("canvas"), r = c.getBoundingClientRect();
            const kx = r.width / c.clientWidth, ky = r.height / c.clientHeight;
            const [lx, ly, lw, lh] = local ?? [0, 0, c.clientWidth, c.clientHeight];
            return [r.left + lx * kx - margin, r.top + ly * ky - margin, lw * kx + 2 * margin, lh * ky + 2 * margin];
        }""", [node_id, name, local, margin])

    def shot(self, box, name=None) -> np.ndarray:
        x, y, w, h = box
        png = self.page.screenshot(clip={"x": x, "y": y, "width": w, "height": h})
        if name:
            SHOTS.mkdir(parents=True, exist_ok=True)
            (SHOTS / f"{self.renderer}_{name}").write_bytes(png)
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)

    def set_widget(self, node_id, name, value):
        self.js("""([id, name, value]) => { const n = app.graph.getNodeById(id);
            const w = n.widgets.find(w => w.name === name); w.value = value; w.callback?.(value); }""",
                [node_id, name, value])

    def widgets(self, node_id) -> dict:
        """The node's widget values (without our drawing widgets, which hold none)."""
        return self.js(f"""(id) => Object.fromEntries(app.graph.getNodeById(id).widgets
            .filter(w => w.name !== "{CURVE_WIDGET}" && w.name !== "{PLACEMENT_WIDGET}").map(w => [w.name, w.value]))""",
                       node_id)

    def shown_widgets(self, node_id) -> list[str]:
        """The widget rows the renderer shows, in order (a linked widget's row shows its input): the
        Vue node's widget rows in its DOM, or the rows the canvas renderer lays out and draws
        (LGraphNode.isWidgetRowVisible)."""
        if self.vue:
            return self.js("(id) => " + VUE_ROWS + ".map(([name]) => name)", node_id)
        return self.js("""(id) => { const n = app.graph.getNodeById(id);
            return n.widgets.filter(w => n.isWidgetRowVisible(w)).map(w => w.name); }""", node_id)

    def widget_bottom(self, node_id, name) -> float:
        """Screen y of the bottom of a shown widget's row."""
        if self.vue:
            return self.js("([id, name]) => " + VUE_ROWS + ".find(([n]) => n === name)[1]", [node_id, name])
        x, y, w, h = self.node_box(node_id, self.js("""([id, name]) => { const n = app.graph.getNodeById(id),
            w = n.widgets.find(w => w.name === name); return [0, w.y, 1, LiteGraph.NODE_WIDGET_HEIGHT]; }""",
                                                     [node_id, name]))
        return y + h

    def new_node(self, type_, pos):
        return self.js("""([t, pos]) => { const n = LiteGraph.createNode(t); n.pos = pos; app.graph.add(n);
                          return n.id; }""", [type_, pos])


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


@pytest.fixture(scope="module", params=RENDERERS)
def ui(request, browser, server):
    """A fresh page in one renderer: the canvas renderer, then the Vue node renderer."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    ui = Page(page, server, request.param).open()
    yield ui
    if ui.noise:  # the frontend's own errors, for reading
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / f"{ui.renderer}_frontend_errors.txt").write_text("\n".join(ui.noise) + "\n")
    page.close()


# An empty canvas the way the frontend clears it: app.clean() also drops the last run's outputs,
# which the frontend keys by node id (a bare graph.clear() would leave them to be shown on new
# nodes that reuse those ids: an image preview added to a node changes its layout).
# The view: scale 1 (the pixel checks read the drawing 1:1), shifted down past the graph toolbar
# and the sidebar that float over the canvas's top left corner.
VIEW = "app.canvas.ds.scale = 1; app.canvas.ds.offset = [70, 90];"
CLEAN = "app.clean(); " + VIEW
# a graph builder's helper: a node of a type at a position with widget values (their callbacks run)
ADD_NODE = """
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
    };"""


def _fresh_canvas(ui):
    ui.page.mouse.move(1390, 990)  # away from any node: no tooltip of the last test over the next one
    ui.js(f"() => {{ {CLEAN} }}")
    ui.frames()


def _shot_path(ui, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / f"{ui.renderer}_{name}"


def _drawn(img: np.ndarray, bg=EDITOR_BG, tol=24) -> float:
    """Fraction of pixels that are not the editors' background colour."""
    return float((np.abs(img - np.array(bg)).sum(-1) > tol).mean())


def _assert_fills_node(ui, node_id, name, last_widget):
    """No empty area: our drawing starts right under the last shown widget and reaches down to the
    node's bottom edge (the user's report: 130–170 px of nothing in the Vue node renderer)."""
    ex, ey, ew, eh = ui.editor_box(node_id, name)
    nx, ny, nw, nh = ui.node_box(node_id)
    gap_above = ey - ui.widget_bottom(node_id, last_widget)
    gap_below = (ny + nh) - (ey + eh)
    assert -2 <= gap_above <= 20, f"{ui.renderer}: {gap_above:.0f} px between {last_widget} and the drawing"
    # the Vue node keeps a footer with the node's source badge below its widgets
    assert -2 <= gap_below <= (50 if ui.vue else 20), f"{ui.renderer}: {gap_below:.0f} px empty under the drawing"
    assert ew > 0.8 * nw, f"{ui.renderer}: the drawing is {ew:.0f} px wide in a {nw:.0f} px node"


# --- the tests ------------------------------------------------------------------------------------

def test_page_loads_extensions_without_errors(ui):
    # the host serves the pinned current frontend (requirements-test.txt), not one of its own
    assert ui.js("() => window.__COMFYUI_FRONTEND_VERSION__ ?? null") == _browser.frontend_version()
    assert ui.js("() => !!LiteGraph.vueNodesMode") == ui.vue, f"the page is not in the {ui.renderer} renderer"
    names = ui.js("() => app.extensions.map(e => e.name)")
    assert "fillblank.lambdaCurve" in names and "fillblank.placementEditor" in names
    ui.page.screenshot(path=str(_shot_path(ui, "page.png")))
    assert ui.errors == []
    ours = [u for u in ui.requests if "/extensions/fillblank/" in u]
    assert any(u.endswith("/lambda_curve.js") for u in ours) and any(u.endswith("/placement_editor.js") for u in ours)
    assert all(u.startswith(ui.server.url) for u in ours)
    foreign = foreign_requests(ui.requests, ui.server.url)
    assert foreign == [], f"requests outside the ComfyUI server: {foreign}"


def test_deprecation_watch_names_our_calls_not_the_frontends(ui):
    """The deprecation watch that every browser test reads: a deprecated read made by a pack file is
    reported; the frontend's own reads are not, even when a pack function is further down the stack
    (our configure wrapper around the frontend's configure)."""
    node = "const n = LiteGraph.createNode('FillBlankLambdaSchedule'); app.graph.add(n);"
    probe = (f"(() => {{ {node} n.configure(n.serialize()); return window.__fillblankDeprecations.length; }})()")
    assert ui.js(f"() => {probe}") == 0  # the frontend's configure reads input.link itself
    ours = f"(() => {{ {node} return n.inputs[0].link; }})()"  # run as if it were a file of the pack
    ui.js("(src) => (0, eval)(`${src}\\n//# sourceURL=${location.origin}/extensions/fillblank/probe.js`)", ours)
    found = ui.js("() => window.__fillblankDeprecations.splice(0)")
    assert len(found) == 1 and found[0].startswith("input.link is deprecated"), found
    _fresh_canvas(ui)


# Code run in the page as if it were a script at the given path (its frames carry that URL).
AS_SCRIPT = "([src, path]) => (0, eval)(`${src}\\n//# sourceURL=${location.origin}${path}`)"
PACK_PROBE, FRONTEND_PROBE = "/extensions/fillblank/probe.js", "/assets/probe-frontend.js"


def test_errors_count_only_when_the_pack_causes_them(ui):
    """The error watch that every browser test reads, both ways: the frontend's own failed request
    (as frontend 1.58.1's GET /api/jobs?status=… that ComfyUI 0.8.0 answers 400), exception and
    logged error are not the pack's; the same made by a pack script, a failed request for a pack
    file (whoever asked), and an Error of a pack script that the frontend logs are."""
    mark = ui.mark()
    refused = "/api/no_such_api_probe?status=in_progress&probe="
    run = lambda path, src: ui.js(AS_SCRIPT, [src, path])  # noqa: E731
    run(FRONTEND_PROBE, f"(async () => {{ await fetch('{refused}f1'); }})()")
    run(PACK_PROBE, f"(async () => {{ await fetch('{refused}p1'); }})()")
    run(FRONTEND_PROBE, "(async () => { await fetch('/extensions/fillblank/no_such_file.js?probe=p2'); })()")
    run(FRONTEND_PROBE, "setTimeout(() => { throw new Error('probe f2 thrown by the frontend'); }, 0)")
    run(PACK_PROBE, "setTimeout(() => { throw new Error('probe p3 thrown by a pack script'); }, 0)")
    run(FRONTEND_PROBE, "console.error('probe f3 logged by the frontend')")
    run(PACK_PROBE, "console.error('probe p4 logged by a pack script')")
    run(PACK_PROBE, "window.__probeError = new Error('probe p5 raised in a pack hook')")
    run(FRONTEND_PROBE, "console.error('Error in an extension hook:', window.__probeError)")
    ours, theirs = ui.take_errors(mark)
    probes = lambda lines: sorted(re.findall(r"probe[= ]([fp]\d)", "\n".join(lines)))  # noqa: E731
    assert probes(ours) == ["p1", "p2", "p3", "p4", "p5"], ours
    assert probes(theirs) == ["f1", "f2", "f3"], theirs
    assert ui.errors == []
    _fresh_canvas(ui)


def _curve_from_pixels(img: np.ndarray, plot, box) -> dict[float, float]:
    """λ read back from a screenshot: for every pixel column, the middle of the curve-coloured run.

    plot: the plot rectangle the extension reports (its canvas's CSS px); box: the screenshot's
    screen rect (taken with the plot's origin at pixel (margin, margin)). Returns {progress: λ}.
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


def _plot(ui, nid):
    return ui.js("(id) => app.graph.getNodeById(id).__fillblankPlot ?? null", nid)


def _schedule(w):
    from fillblank_core.schedules import LambdaSchedule
    return LambdaSchedule(kind=w["kind"], axis=w["axis"], start=w["start"], end=w["end"], value=w["value"],
                          cutoff=w["cutoff"], rate=w["rate"], keyframes=w["keyframes"] if w["kind"] == "keyframes" else "")


def _plot_shot(ui, nid, name, margin=3):
    plot = _plot(ui, nid)
    assert plot and plot["w"] > 100 and plot["h"] > 60, plot
    box = ui.editor_box(nid, CURVE_WIDGET, [plot["x"], plot["y"], plot["w"], plot["h"]], margin)
    return plot, box, ui.shot(box, name)


def _assert_curve_matches(ui, node_id, name):
    """The curve drawn on the node, read back from its pixels, is the core's schedule."""
    plot, box, img = _plot_shot(ui, node_id, name)
    sched = _schedule(ui.widgets(node_id))
    seen = _curve_from_pixels(img, plot, box)
    assert len(seen) > 0.6 * plot["w"], f"{name}: curve found in only {len(seen)} of {plot['w']} columns"
    err = np.array([abs(lam - sched(p)) for p, lam in seen.items()])
    # 2 px line on a ~100 px tall plot: 0.03 is about 3 px
    assert np.quantile(err, 0.95) < 0.03, f"{name}: drawn curve differs from the core's (95% err {np.quantile(err, 0.95):.3f})"
    return img


def _dots(img) -> np.ndarray:
    return np.abs(img - np.array(DOTS_RGB)).sum(-1) < 90


def _assert_step_dots(ui, nid, img, steps):
    """An orange dot at λ of each step (progress i / (steps − 1)), and no other orange."""
    plot = _plot(ui, nid)
    sched = _schedule(ui.widgets(nid))
    dots = _dots(img)
    margin = 3
    hit = np.zeros_like(dots)
    for p in sched.progress(steps):
        x = margin + p * plot["w"]
        y = margin + (1 - sched(p)) * plot["h"]
        x0, y0 = int(round(x)), int(round(y))
        win = dots[max(y0 - 3, 0):y0 + 4, max(x0 - 3, 0):x0 + 4]
        assert win.any(), f"no dot for the step at progress {p:.3f} (λ {sched(p):.3f})"
        hit[max(y0 - 4, 0):y0 + 5, max(x0 - 4, 0):x0 + 5] = True
    assert not (dots & ~hit).any(), "dots where no step is"


def _pick_kind(ui, nid, kind):
    """Change `kind` with the renderer's own control, by a real click: the canvas combo's right
    arrow (to the next kind) or the Vue node's select and its option."""
    if ui.vue:
        node = ui.page.locator(f'.lg-node[data-node-id="{nid}"]')
        node.locator('[data-widget-name="kind"] [role=combobox]').click()
        ui.page.locator("[role=option]", has_text=kind).first.click()
    else:
        kinds = ["constant", "linear", "cosine", "exponential", "step", "keyframes"]
        assert kinds[kinds.index(ui.widgets(nid)["kind"]) + 1] == kind
        arrow = ui.js("""(id) => { const n = app.graph.getNodeById(id), w = n.widgets.find(w => w.name === "kind");
                         return [n.size[0] - 20, w.y + LiteGraph.NODE_WIDGET_HEIGHT / 2]; }""", nid)
        x, y, _, _ = ui.node_box(nid, [arrow[0], arrow[1], 1, 1])
        ui.page.mouse.click(x, y)
    ui.page.mouse.move(1390, 990)  # no tooltip over the screenshots
    ui.settle()


def test_lambda_curve_follows_widgets(ui):
    _fresh_canvas(ui)
    nid = ui.new_node("FillBlankLambdaSchedule", [60, 80])
    ui.settle()
    # a fresh node carries the sampler's measured default: keyframes over the run
    w = ui.widgets(nid)
    assert w["kind"] == "keyframes" and w["axis"] == "run"
    img = _assert_curve_matches(ui, nid, "lambda_default.png")
    assert not _dots(img).any(), "over the run's noise levels there are no step dots"
    assert _plot(ui, nid)["axis"] == "run"
    ui.set_widget(nid, "kind", "linear")
    ui.settle()
    ui.shot(ui.node_box(nid, margin=4), "lambda_node_linear.png")
    linear = _assert_curve_matches(ui, nid, "lambda_linear.png")

    # a real click on the renderer's own `kind` control: linear -> cosine, no server involved
    posted_before = len([u for u in ui.requests if "/prompt" in u])
    _pick_kind(ui, nid, "cosine")
    assert ui.widgets(nid)["kind"] == "cosine"
    cosine = _assert_curve_matches(ui, nid, "lambda_cosine.png")
    changed = (np.abs(cosine - linear).sum(-1) > 60).mean()
    assert changed > 0.005, f"the drawn curve did not change with the widget ({changed:.4f} of the pixels)"

    ui.set_widget(nid, "kind", "keyframes")
    ui.set_widget(nid, "keyframes", "0:1.0, 0.3:0.9, 0.6:0.2, 1:0.1")
    ui.settle()
    _assert_curve_matches(ui, nid, "lambda_keyframes.png")
    for kind, extra in (("exponential", {"rate": 12.0, "start": 0.9, "end": 0.1}),
                        ("step", {"value": 0.7, "cutoff": 0.4}), ("constant", {"value": 0.35})):
        for k, v in extra.items():
            ui.set_widget(nid, k, v)
        ui.set_widget(nid, "kind", kind)
        ui.settle()
        _assert_curve_matches(ui, nid, f"lambda_{kind}.png")
    assert len([u for u in ui.requests if "/prompt" in u]) == posted_before

    # malformed keyframes: an error text on the node, no curve, no exception
    ui.set_widget(nid, "kind", "keyframes")
    ui.set_widget(nid, "keyframes", "0:1, zebra")
    ui.settle()
    plot = _plot(ui, nid)
    assert "zebra" in plot.get("error", "")
    ui.shot(ui.node_box(nid, margin=4), "lambda_error.png")
    img = ui.shot(ui.editor_box(nid, CURVE_WIDGET))
    assert (np.abs(img - np.array(CURVE_RGB)).sum(-1) < 90).sum() < 5, "no curve is drawn for a malformed string"
    red = (img[..., 0] > 200) & (img[..., 1] < 140) & (img[..., 2] < 140)
    assert red.sum() > 30, "the error is shown on the node"
    assert ui.errors == []


def test_lambda_steps_axis_dots_and_sampler_steps(ui):
    """Over the steps: a dot per preview step, a note that they are only for the plot; connected to
    a Fill-in Sampler, its step count instead (and preview_steps, unused then, hidden)."""
    _fresh_canvas(ui)
    nid = ui.new_node("FillBlankLambdaSchedule", [60, 80])
    ui.set_widget(nid, "kind", "linear")
    ui.set_widget(nid, "axis", "steps")
    ui.set_widget(nid, "preview_steps", 9)
    ui.settle()
    assert "preview_steps" in ui.shown_widgets(nid)
    plot = _plot(ui, nid)
    assert (plot["steps"], plot["stepsFrom"]) == (9, "preview_steps")
    assert plot["note"] == "dots: 9 preview steps, for this plot only", plot["note"]
    img = _assert_curve_matches(ui, nid, "lambda_steps_9.png")
    _assert_step_dots(ui, nid, img, 9)
    ui.set_widget(nid, "preview_steps", 4)
    ui.settle()
    four = _assert_curve_matches(ui, nid, "lambda_steps_4.png")
    _assert_step_dots(ui, nid, four, 4)
    assert (_dots(img) != _dots(four)).sum() > 20, "the dots follow preview_steps"

    sampler = ui.new_node("FillBlankSampler", [500, 80])
    ui.js("([s, t]) => app.graph.getNodeById(s).connect(0, app.graph.getNodeById(t), 'schedule')", [nid, sampler])
    ui.set_widget(sampler, "steps", 7)
    ui.settle(0.5)
    plot = _plot(ui, nid)
    title = ui.js("(id) => app.graph.getNodeById(id).title", sampler)
    assert (plot["steps"], plot["stepsFrom"]) == (7, title)
    assert plot["note"] == f"dots: the 7 steps of {title}", plot["note"]
    assert "preview_steps" not in ui.shown_widgets(nid), "the sampler's steps are used: preview_steps is hidden"
    seven = _assert_curve_matches(ui, nid, "lambda_steps_sampler.png")
    _assert_step_dots(ui, nid, seven, 7)
    # the sampler's steps change: the plot follows (no widget of the schedule node changed)
    ui.set_widget(sampler, "steps", 3)
    ui.settle(0.5)
    assert _plot(ui, nid)["steps"] == 3
    _assert_step_dots(ui, nid, _assert_curve_matches(ui, nid, "lambda_steps_sampler_3.png"), 3)
    # disconnected: back to preview_steps, shown again
    ui.js("(s) => app.graph.getNodeById(s).disconnectOutput(0)", nid)
    ui.settle(0.5)
    assert _plot(ui, nid)["steps"] == 4 and "preview_steps" in ui.shown_widgets(nid)
    assert ui.errors == []


def test_lambda_linked_widget_stays_shown_and_reloads_at_its_size(ui):
    """A widget fed by a link stays shown whatever the kind (its input must stay reachable), also
    after the workflow is loaded again, at the size it was saved with; unlinked, it hides again."""
    _fresh_canvas(ui)
    nid = ui.new_node("FillBlankLambdaSchedule", [80, 80])
    prim = ui.new_node("PrimitiveFloat", [420, 80])
    ui.js("([p, s]) => app.graph.getNodeById(p).connect(0, app.graph.getNodeById(s), 'start')", [prim, nid])
    ui.settle()
    assert ui.widgets(nid)["kind"] == "keyframes"
    assert {"start", "keyframes"} <= set(ui.shown_widgets(nid)) and "end" not in ui.shown_widgets(nid)
    size = ui.js("(id) => Array.from(app.graph.getNodeById(id).size)", nid)
    ui.js("async () => { await app.loadGraphData(JSON.parse(JSON.stringify(app.graph.serialize()))); }")
    ui.settle(0.5)
    assert {"start", "keyframes"} <= set(ui.shown_widgets(nid)) and "end" not in ui.shown_widgets(nid)
    if not ui.vue:
        assert ui.js("(id) => Array.from(app.graph.getNodeById(id).size)", nid) == pytest.approx(size, abs=1)
    ui.js("(s) => app.graph.getNodeById(s).disconnectInput('start')", nid)
    ui.settle(0.3)
    assert "start" not in ui.shown_widgets(nid)
    _assert_curve_matches(ui, nid, "lambda_after_unlink.png")
    assert ui.errors == []


@pytest.mark.parametrize("kind", list(USES))
def test_lambda_shows_only_the_widgets_its_kind_uses(ui, kind):
    _fresh_canvas(ui)
    nid = ui.new_node("FillBlankLambdaSchedule", [60, 80])
    ui.settle()
    ui.set_widget(nid, "kind", kind)
    ui.settle()
    for axis in ("run", "noise", "steps"):
        ui.set_widget(nid, "axis", axis)
        ui.settle()
        want = USES[kind] | ({"preview_steps"} if axis == "steps" else set())
        shown = ui.shown_widgets(nid)
        hidden = set(LAMBDA_OPTIONAL) - want
        assert set(shown) & set(LAMBDA_OPTIONAL) == want, f"{kind}, axis {axis}: shows {shown}"
        assert {"kind", "axis", CURVE_WIDGET} <= set(shown)
        assert all(ui.js("([id, n]) => app.graph.getNodeById(id).widgets.find(w => w.name === n).hidden", [nid, h])
                   for h in hidden)
        _assert_fills_node(ui, nid, CURVE_WIDGET, [n for n in shown if n != CURVE_WIDGET][-1])
        if axis != "steps":
            _assert_curve_matches(ui, nid, f"lambda_widgets_{kind}_{axis}.png")
        else:  # 20 dots over a 2 px line: the dots, not the line, are what is left to read
            _assert_step_dots(ui, nid, _plot_shot(ui, nid, f"lambda_widgets_{kind}_{axis}.png")[2], 20)
    ui.shot(ui.node_box(nid, margin=4), f"lambda_widgets_{kind}.png")
    # hidden widgets still hold their values and still go to the server
    prompt = ui.js("async () => (await app.graphToPrompt()).output")
    assert set(prompt[str(nid)]["inputs"]) == set(LAMBDA_OPTIONAL) | {"kind", "axis"}
    assert ui.errors == []


def test_lambda_readme_picture(ui):
    """The picture for the README (canvas renderer): a fresh node at its default keyframes."""
    _fresh_canvas(ui)
    nid = ui.new_node("FillBlankLambdaSchedule", [60, 80])
    ui.settle()
    _assert_curve_matches(ui, nid, "lambda_readme.png")
    ui.shot(ui.node_box(nid, margin=6), "lambda_curve_node.png")
    if not ui.vue:
        _docs_copy(ui, "lambda_curve_node.png", "web_lambda_curve.png")
    assert ui.errors == []


def _docs_copy(ui, shot, name):
    """Copy a screenshot of test-artifacts/web/ into docs/ when FILLBLANK_WEB_DOCS=1."""
    if os.environ.get("FILLBLANK_WEB_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        (DOCS / name).write_bytes(_shot_path(ui, shot).read_bytes())


BUILD_PIPELINE = """() => {
    """ + CLEAN + ADD_NODE + """
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
    const venc = add("VAEEncode", [1500, 1060]);
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
    return {enc: enc.id, save: save.id, scene: scene.id, target: target.id, sched: sched.id};
}"""


def _editor(ui, enc):
    """The placement editor's layout (its canvas's CSS px), once it shows scene and target."""
    return ui.js("""(id) => { const L = app.graph.getNodeById(id).__fillblankEditor;
        return L && L.scene && L.target ? {fit: L.fit, rect: L.rect, handle: L.handle, area: L.area,
                                             W: L.W, H: L.H} : null; }""", enc)


def _wait_editor(ui, enc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline and not _editor(ui, enc):
        ui.settle(0.2)
    return _editor(ui, enc)


def _screen(ui, enc, lx, ly):
    x, y, _, _ = ui.editor_box(enc, PLACEMENT_WIDGET, [lx, ly, 1, 1])
    return x, y


def _drag(ui, start, end, steps=12):
    m = ui.page.mouse
    m.move(*start)
    m.down()
    m.move(*end, steps=steps)
    m.up()
    ui.settle(0.1)


def _zoom(ui):
    return ui.js("() => app.canvas.ds.scale")


def _reset_view(ui):
    ui.js(f"() => {{ {VIEW} }}")
    ui.settle(0.2)


@pytest.fixture(scope="module")
def placed(ui):
    """The pipeline built in the browser, the target placed by real mouse drags and wheel turns."""
    _fresh_canvas(ui)
    ids = ui.js(BUILD_PIPELINE)
    enc = ids["enc"]
    L = _wait_editor(ui, enc)
    assert L, "the placement editor shows the scene and the target once the LoadImage previews are known"
    assert (L["W"], L["H"]) == SCENE_WH
    before = ui.widgets(enc)
    assert (before["x"], before["y"], before["scale"]) == (0.5, 0.5, 0.4)
    editor_box = ui.editor_box(enc, PLACEMENT_WIDGET)
    shot_before = ui.shot(editor_box, "placement_before.png")
    ui.shot(ui.node_box(enc, margin=4), "placement_node.png")
    shown = ui.shown_widgets(enc)

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

    # 3. the wheel alone over the scene: the graph zooms as over any node, scale stays
    L3 = _editor(ui, enc)
    over = _screen(ui, enc, L3["fit"]["x"] + 20, L3["fit"]["y"] + 20)
    zoom0 = _zoom(ui)
    ui.page.mouse.move(*over)
    ui.page.mouse.wheel(0, -120)
    ui.settle(0.2)
    plain = ui.widgets(enc)
    zoom_plain = _zoom(ui)
    _reset_view(ui)

    # 4. Shift+wheel over the scene: one notch up = 5 % larger, the graph does not zoom
    L4 = _editor(ui, enc)
    over = _screen(ui, enc, L4["fit"]["x"] + 20, L4["fit"]["y"] + 20)
    zoom1 = _zoom(ui)
    ui.page.mouse.move(*over)
    ui.page.keyboard.down("Shift")
    try:
        ui.page.mouse.wheel(0, -120)
    finally:
        ui.page.keyboard.up("Shift")
    ui.settle(0.2)
    shifted = ui.widgets(enc)
    zoom_shift = _zoom(ui)
    ui.shot(ui.node_box(enc, margin=4), "placement_node_placed.png")
    if not ui.vue:
        ui.shot(_union_box(ui, [ids["scene"], ids["target"], enc]), "placement_nodes.png")
        _docs_copy(ui, "placement_nodes.png", "web_placement.png")
    return dict(ids=ids, L=L, before=before, moved=moved, handled=handled, plain=plain, shifted=shifted,
                zoom_plain=(zoom0, zoom_plain), zoom_shift=(zoom1, zoom_shift), drag=(dx, dy),
                shots=(shot_before, shot_after), L2=L2, shown=shown)


def _union_box(ui, node_ids, margin=6):
    boxes = [ui.node_box(i) for i in node_ids]
    x0 = min(b[0] for b in boxes) - margin
    y0 = min(b[1] for b in boxes) - margin
    x1 = max(b[0] + b[2] for b in boxes) + margin
    y1 = max(b[1] + b[3] for b in boxes) + margin
    return (max(x0, 0), max(y0, 0), x1 - max(x0, 0), y1 - max(y0, 0))


def test_placement_editor_is_drawn_and_fills_the_node(ui, placed):
    a, _ = placed["shots"]
    assert _drawn(a) > 0.6, f"{ui.renderer}: the editor shows the scene ({_drawn(a):.2f} of its pixels drawn)"
    enc = placed["ids"]["enc"]
    assert placed["shown"][-1] == PLACEMENT_WIDGET
    _assert_fills_node(ui, enc, PLACEMENT_WIDGET, placed["shown"][-2])
    assert ui.errors == []


def test_drag_moves_target_and_sets_widgets(placed):
    L, before, moved = placed["L"], placed["before"], placed["moved"]
    dx, dy = placed["drag"]
    assert moved["x"] == pytest.approx(before["x"] + dx / L["fit"]["w"], abs=0.006)
    assert moved["y"] == pytest.approx(before["y"] + dy / L["fit"]["h"], abs=0.006)
    assert moved["scale"] == before["scale"]
    # the overlay moved in the drawing too
    a, b = placed["shots"]
    assert (np.abs(a - b).sum(-1) > 60).mean() > 0.02


def test_handle_scales_target_about_its_centre(placed):
    moved, handled = placed["moved"], placed["handled"]
    assert handled["scale"] > moved["scale"] * 1.08, (moved, handled)
    assert (handled["x"], handled["y"]) == (moved["x"], moved["y"]), "scaling keeps the centre"


def test_wheel_alone_zooms_the_graph_not_the_target(placed):
    handled, plain = placed["handled"], placed["plain"]
    assert plain == handled, "the wheel without Shift must not change the placement"
    zoom0, zoom1 = placed["zoom_plain"]
    assert zoom1 > zoom0, "the wheel over the editor zooms the graph as over any node"


def test_shift_wheel_scales_target_not_the_graph(placed):
    plain, shifted = placed["plain"], placed["shifted"]
    assert shifted["scale"] == pytest.approx(plain["scale"] * 1.05, abs=0.0015)
    assert (shifted["x"], shifted["y"]) == (plain["x"], plain["y"])
    zoom0, zoom1 = placed["zoom_shift"]
    assert zoom0 == zoom1, "Shift+wheel over the editor scales the target, not the graph"


def test_placement_tooltip_names_the_modifier(ui, placed):
    """Hovering the editor tells how to resize: the Vue node's widget tooltip, or the canvas's title."""
    enc = placed["ids"]["enc"]
    x, y, w, h = ui.editor_box(enc, PLACEMENT_WIDGET)
    ui.page.mouse.move(1390, 990)  # from outside (a wheel turn closes a tooltip until the pointer leaves)
    ui.settle()
    ui.page.mouse.move(x + w / 2, y + h / 2, steps=5)
    ui.page.mouse.move(x + w / 2 + 3, y + h / 2 + 3)
    try:
        if ui.vue:
            tip = ui.page.locator("[role=tooltip]").first
            tip.wait_for(timeout=10_000)
            text = tip.inner_text()
        else:
            text = ui.js(f"""(id) => app.graph.getNodeById(id).widgets.find(w => w.name === "{PLACEMENT_WIDGET}")
                             .element.querySelector("canvas").title""", enc)
    finally:
        ui.page.mouse.move(1390, 990)
    assert "Shift" in text and "wheel" in text and "corner handle" in text, text


def test_wheel_elsewhere_still_zooms_canvas(ui, placed):
    before = _zoom(ui)
    ui.page.mouse.move(1200, 900)  # empty canvas
    ui.page.mouse.wheel(0, -120)
    ui.settle(0.2)
    after = _zoom(ui)
    _reset_view(ui)
    assert after != before, "the wheel still zooms the graph away from the editor"


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
    assert {k: v for k, v in got["widgets"].items() if k != PLACEMENT_WIDGET} == want
    # the editor saves nothing of its own: the workflow holds exactly the node's widget values
    assert got["saved"] == [want["x"], want["y"], want["scale"], want["flip"], want["cutout"], want["horizon"]]
    assert _wait_editor(ui, enc), "the editor comes back with the reloaded workflow"
    ui.shot(ui.editor_box(enc, PLACEMENT_WIDGET), "placement_reloaded.png")
    assert ui.errors == []


def test_lambda_schedule_reloads_with_its_widgets(ui, placed):
    """A saved schedule of another kind: after loading, its own widgets show, at the saved size."""
    sched = placed["ids"]["sched"]
    ui.set_widget(sched, "kind", "exponential")
    ui.settle()
    size = ui.js("(id) => Array.from(app.graph.getNodeById(id).size)", sched)
    ui.js("async () => { await app.loadGraphData(JSON.parse(JSON.stringify(app.graph.serialize()))); }")
    ui.settle(0.5)
    shown = ui.shown_widgets(sched)
    assert set(shown) & set(LAMBDA_OPTIONAL) == USES["exponential"], shown
    if not ui.vue:
        assert ui.js("(id) => Array.from(app.graph.getNodeById(id).size)", sched) == pytest.approx(size, abs=1)
    ui.js("(id) => { const n = app.graph.getNodeById(id); app.canvas.ds.offset = [60 - n.pos[0], 80 - n.pos[1]]; }", sched)
    ui.settle(0.3)
    _assert_curve_matches(ui, sched, "lambda_reloaded.png")
    ui.set_widget(sched, "kind", "keyframes")
    _reset_view(ui)
    assert ui.errors == []


def test_saved_workflow_runs_unchanged_over_api(ui, server, placed):
    import torch
    from fillblank_core import masks as M
    from fillblank_core.placement import place_target
    from fillblank_core.segment import object_mask_from

    enc = placed["ids"]["enc"]
    want = ui.widgets(enc)
    prompt = ui.js("async () => (await app.graphToPrompt()).output")
    inputs = prompt[str(enc)]["inputs"]
    assert inputs["x"] == want["x"] and inputs["y"] == want["y"] and inputs["scale"] == want["scale"]
    assert PLACEMENT_WIDGET not in inputs and CURVE_WIDGET not in prompt[str(placed["ids"]["sched"])]["inputs"]
    kind, entry = server.run(prompt, timeout=300)
    assert kind == "success", f"{kind}: {entry}\n{server.log_text()[-3000:]}"
    images = entry["outputs"][str(placed["ids"]["save"])]["images"]
    out_png = server.output_dir / images[0].get("subfolder", "") / images[0]["filename"]
    _shot_path(ui, "placement_run_output.png").write_bytes(out_png.read_bytes())
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
    ui.settle()
    assert _editor(ui, ids["enc"]) is None, "no scene is known before the run"
    ui.js("async () => { await app.queuePrompt(0, 1); }")  # the UI's own Queue Prompt
    L = _wait_editor(ui, ids["enc"], timeout=60)
    assert L and (L["W"], L["H"]) == (200, 120), L
    img = ui.shot(ui.editor_box(ids["enc"], PLACEMENT_WIDGET), "placement_generated_scene.png")
    assert _drawn(img) > 0.5
    assert ui.errors == []


def test_each_drag_is_one_undo_step(ui):
    """The frontend's undo history records a drag when the mouse button comes up (its window
    mouseup listener): Ctrl+Z takes back one drag at a time."""
    _fresh_canvas(ui)
    enc = ui.js(BUILD_PIPELINE)["enc"]
    assert _wait_editor(ui, enc)
    # the history's starting point: the graph as built (the test built it without user input)
    # (and past the 50 ms in which the tracker folds further changes into the state it just took)
    ui.js("() => app.extensionManager.workflow.activeWorkflow.changeTracker.captureCanvasState()")
    ui.settle(0.2)
    xs = [ui.widgets(enc)["x"]]
    for _ in range(2):
        r = _editor(ui, enc)["rect"]
        cx, cy = r["x"] + r["w"] / 2, r["y"] + r["h"] / 2
        _drag(ui, _screen(ui, enc, cx, cy), _screen(ui, enc, cx + 30, cy), steps=5)
        xs.append(ui.widgets(enc)["x"])
    assert xs[0] < xs[1] < xs[2], xs
    ui.page.mouse.move(1390, 990)
    for want in (xs[1], xs[0]):
        ui.page.keyboard.press("Control+z")
        deadline = time.time() + 5
        while time.time() < deadline and ui.js("(id) => app.graph.getNodeById(id)?.widgets.find(w => w.name === 'x').value", enc) != want:
            ui.settle(0.1)
        assert ui.widgets(enc)["x"] == want, xs
    # the undo rebuilt the node: its new editor is the one on screen (the Vue node renderer keeps
    # the node's component, which would go on showing the old node's editor)
    assert _wait_editor(ui, enc), "the editor is back after the undo reloaded the graph"
    assert ui.js(f"(id) => app.graph.getNodeById(id).widgets.find(w => w.name === '{PLACEMENT_WIDGET}').element.isConnected", enc)
    assert ui.page.locator(".fillblank-placement").count() == 1
    ui.shot(ui.editor_box(enc, PLACEMENT_WIDGET), "placement_after_undo.png")
    assert ui.errors == []


# --- workflows saved before the V3 schema ---------------------------------------------------------

SAVED = sorted((REPO / "tests" / "saved_workflows").glob("*.json"))


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
def test_saved_workflow_opens_in_the_frontend_and_queues_as_saved(ui, server, path):
    """A workflow saved with the legacy (V1) nodes opens in both renderers with every node known,
    and the frontend's API prompt of it is the one the server test runs (tests/workflow_tools.py,
    test_e2e_server.py::test_saved_workflow_still_loads_and_runs): same nodes, links and values."""
    from workflow_tools import ui_to_api
    wf = json.loads(path.read_text())
    added = False
    for name in ("fillblank_scene.png", "fillblank_target.png", "fillblank_photo.png"):  # LoadImage's files
        if not (server.input_dir / name).exists():
            Image.new("RGBA", (64, 48), (90, 120, 150, 255)).save(server.input_dir / name)
            added = True
    if added:  # the page read the input folder's file list when it opened
        ui.js("async () => { await app.refreshComboInNodes(); }")
    _fresh_canvas(ui)
    ui.js("async (wf) => { await app.loadGraphData(wf); }", wf)
    ui.settle(0.5)
    known = ui.js("() => app.graph.nodes.map(n => [n.type, !!LiteGraph.registered_node_types[n.type], "
                  "!!n.has_errors])")
    assert [t for t, registered, _ in known if not registered] == []
    assert [t for t, _, bad in known if bad] == []
    prompt = ui.js("async () => (await app.graphToPrompt()).output")
    got = {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}
    assert got == ui_to_api(wf, server.object_info())
    assert ui.errors == []


# === What a new user meets in the editor ===========================================================
# The help pages in the right side panel's Info tab (about 285 px wide), the example workflows opened
# from the Templates browser (titles, zoom above the low-detail threshold, clickable links), the
# node search by a user's words, the placement editor's handle and its cut-out preview.

PINIA = "document.getElementById('vue-app').__vue_app__.config.globalProperties.$pinia"


# --- help pages ---------------------------------------------------------------------------------

HELP_NODES = ["FillBlankLambdaSchedule", "FillBlankInsert", "FillBlankTargetEncoder"]


@pytest.mark.parametrize("node_type", HELP_NODES)
def test_help_page_reads_in_the_side_panel(ui, node_type):
    """Select the node, open the right side panel's Info tab (the frontend's node help): the page
    is there, nothing in it is wider than the panel, each input is a block no taller than a
    paragraph or two."""
    _fresh_canvas(ui)
    mark = ui.mark()
    nid = ui.new_node(node_type, [100, 100])
    ui.js(f"""(id) => {{ app.canvas.selectNode(app.graph.getNodeById(id));
                        {PINIA}._s.get('rightSidePanel').openPanel('info'); }}""", nid)
    ui.page.wait_for_selector(".node-help-content li", timeout=30_000)
    ui.settle(0.5)
    m = ui.js("""() => { const c = document.querySelector('.node-help-content');
        const r = c.getBoundingClientRect();
        const wide = [...c.querySelectorAll('*')].filter(e => e.scrollWidth > e.clientWidth + 1
                                                         || e.getBoundingClientRect().right > r.right + 1)
            .map(e => `${e.tagName} ${e.scrollWidth}/${e.clientWidth}`);
        const items = [...c.querySelectorAll('li')].map(e => [e.textContent.trim().split(' ')[0],
                                                            e.getBoundingClientRect().height]);
        const tables = [...c.querySelectorAll('table')].map(t => t.querySelectorAll('tr')[0].children.length);
        return {width: r.width, height: r.height, wide, items, tables, text: c.textContent}; }""")
    ui.page.screenshot(path=str(_shot_path(ui, f"help_{node_type}.png")))
    ui.js(f"() => {PINIA}._s.get('rightSidePanel').closePanel()")
    assert m["width"] < 400, m["width"]  # the narrow panel this test is about
    assert "Fill-in" in m["text"]
    assert m["wide"] == [], f"parts of the {node_type} page scroll sideways: {m['wide'][:5]}"
    assert all(cols <= 4 for cols in m["tables"]), m["tables"]
    assert len(m["items"]) >= 5
    tall = [(name, h) for name, h in m["items"] if h > 480]
    assert not tall, f"input blocks taller than a long paragraph: {tall}"
    # the frontend asks for <NodeId>/en.md first (frontend 1.58.1): found, so no failed request at all
    ours, _theirs = ui.take_errors(mark)
    assert ours == []
    assert not [e for e in _theirs if "/docs/" in e], _theirs


# --- example workflows in the Templates browser -------------------------------------------------

sys.path.insert(0, str(REPO / "scripts"))
import make_workflows as mw  # noqa: E402

OUTSIDE = re.compile(r"^https://")
LOW_DETAIL_SCALE = 8 / 14  # LiteGraph.Canvas.MinFontSizeForLOD (8 px) over the 14 px node text


@pytest.mark.parametrize("key", list(mw.FILES))
def test_template_opens_titled_readable_with_clickable_links(ui, key):
    """In a 1600x1000 window: the Templates browser lists the example under its title; a click on it
    opens it at a zoom above the low-detail threshold (nodes drawn in full), and the Read me note's
    download links are <a> elements on top (what a click reaches)."""
    title = mw.FILES[key]
    ui.page.set_viewport_size({"width": 1600, "height": 1000})
    try:
        ui.js("() => { app.clean(); app.extensionManager.command.execute('Comfy.BrowseTemplates'); }")
        ui.page.get_by_placeholder(re.compile("Search")).first.fill("Fill in")
        card = ui.page.get_by_text(title, exact=True).first
        card.wait_for(timeout=30_000)
        # the whole title is shown on its card (a long one is cut short with an ellipsis)
        cut = card.evaluate("(e) => e.scrollWidth > e.clientWidth + 1")
        assert not cut, f"the title {title!r} is cut short on its card"
        ui.page.screenshot(path=str(_shot_path(ui, "templates_browser.png")))
        card.click()
        ui.page.wait_for_function("(n) => app.graph.nodes.length === n",
                                  arg=len(mw.EXAMPLES[key]()[0]), timeout=30_000)
        ui.settle(1.0)
        view = ui.js("() => ({scale: app.canvas.ds.scale, low: app.canvas.low_quality, "
                     "tab: document.querySelector('.workflow-tabs, [class*=workflow-tab]')?.textContent ?? ''})")
        ui.page.screenshot(path=str(_shot_path(ui, f"template_{key}.png")))
        assert not view["low"] and view["scale"] > LOW_DETAIL_SCALE + 0.05, view
        urls = {mw.MODEL_FILES[w[mw.LOADER_WIDGET[t]]]["url"].split("?")[0]
                for t, _pos, w, *_ in mw.EXAMPLES[key]()[0].values() if t in mw.LOADER_WIDGET}
        assert urls
        # a real click on each download link opens it (in a new tab; the download site is stubbed:
        # the browser reaches nothing outside)
        ui.page.context.route(OUTSIDE, lambda route: route.fulfill(status=200, body="stub"))
        for url in sorted(urls):
            at = ui.js("""(url) => { const a = [...document.querySelectorAll('a[href]')].find(a => a.href === url);
                if (!a) return null;
                const r = a.getClientRects()[0], x = r.left + r.width / 2, y = r.top + r.height / 2;
                const top = document.elementFromPoint(x, y);
                return {x, y, onTop: !!top && (top === a || a.contains(top))}; }""", url)
            assert at and at["onTop"], f"no clickable link to {url}: {at}"
            with ui.page.context.expect_page(timeout=10_000) as opened:
                ui.page.mouse.click(at["x"], at["y"])
            tab = opened.value
            assert tab.url.split("?")[0] == url, tab.url
            tab.close()
        assert ui.errors == []
    finally:
        ui.page.context.unroute(OUTSIDE)
        ui.page.keyboard.press("Escape")
        ui.page.set_viewport_size({"width": 1400, "height": 1000})
        ui.js(f"() => {{ {CLEAN} }}")


# --- the node search ------------------------------------------------------------------------------

def test_search_words_in_the_browser_equal_the_nodes_aliases(pack):
    """web/search_words.js carries nodes/common.py's ALIASES for hosts that do not send them."""
    text = (REPO / "web" / "search_words.js").read_text()
    body = re.search(r"export const ALIASES = (\{.*?\n\});", text, flags=re.S).group(1)
    js = json.loads(re.sub(r"(\w+):", r'"\1":', re.sub(r",(\s*[\]}])", r"\1", body)))
    assert js == pack.nodes.common.ALIASES


def _search(ui, words: str) -> list[str]:
    """The node search box's results for `words`, as a user opens it (double-click on the canvas)."""
    _fresh_canvas(ui)
    box = ui.page.locator("input[placeholder='Add a node...']")
    ui.settle(0.5)
    for attempt in range(6):  # a double-click right after the canvas was cleared may go unseen
        try:
            ui.page.mouse.dblclick(700, 600)
            box.wait_for(timeout=5_000)
            box.fill(words, timeout=3_000)
            break
        except Exception:
            if attempt == 5:
                ui.page.screenshot(path=str(_shot_path(ui, "search_box_missing.png")))
                raise
            ui.page.keyboard.press("Escape")
            ui.settle(1.0)
    read = """() => { const box = document.querySelector("input[placeholder='Add a node...']");
        const list = document.getElementById(box.getAttribute('aria-controls'));
        return [...list.querySelectorAll('[role=option]')].map(e => e.textContent.replace(/\\s+/g, ' ').trim()); }"""
    ui.settle(0.8)
    found, deadline = ui.js(read), time.time() + 5
    while time.time() < deadline:  # the list is filtered as the frontend gets to it: read it once it holds still
        ui.settle(0.4)
        again = ui.js(read)
        if again == found:
            break
        found = again
    ui.page.keyboard.press("Escape")
    return found


# words -> (a node's display name, the highest place it must have in the results)
SEARCHES = {"inpaint": ("Fill-in Insert", 10), "insert object": ("Fill-in Insert", 2), "repaint": ("Fill-in Insert", 2),
            "segment anything": ("Fill-in SAM Loader", 0), "sam loader": ("Fill-in SAM Loader", 0),
            "sam": ("Fill-in SAM Loader", 20)}


@pytest.mark.parametrize("words", list(SEARCHES))
def test_search_finds_the_pack_by_a_users_words(ui, words):
    """On ComfyUI 0.3.75, which sends no search_aliases, the frontend finds our nodes by the words
    of ALIASES (web/search_words.js). "sam": frontend 1.58.1 ranks by name and display name only
    (a prefix match first: every core Sampler* node), so the SAM Loader comes after those."""
    name, place = SEARCHES[words]
    if words == "inpaint":  # the definitions refreshed (Refresh Node Definitions, R): the words stay
        ui.js("() => app.refreshComboInNodes()")
        ui.settle(0.5)
    found = _search(ui, words)
    where = next((i for i, t in enumerate(found) if t.startswith(name + "fillblank") or t.startswith(name + " ")), None)
    assert where is not None and where <= place, f"{words!r}: {name} at {where} in {found[:12]}"
    assert ui.errors == []


# --- the cut-out the editor shows is the one the run uses -----------------------------------------

CUTOUT_GRAPH = """(scale) => {
    """ + CLEAN + ADD_NODE + """
    const scene = add("LoadImage", [20, 40], {image: "fillblank_web_scene.png"});
    const target = add("LoadImage", [20, 420], {image: "fillblank_web_target.png"});
    const enc = add("FillBlankTargetEncoder", [400, 40], {scale});
    target.connect(0, enc, "target");  // the most natural wiring: IMAGE only, the MASK left off
    scene.connect(0, enc, "scene");
    return {enc: enc.id, scene: scene.id, target: target.id};
}"""


def _cutout_state(ui, enc, want="", timeout=20):
    """The editor's cut-out once the server answered for a query holding `want`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = ui.js("""(id) => { const c = app.graph.getNodeById(id).__fillblankCutout;
            return c && !c.pending ? {label: c.label, img: !!c.img, key: c.key} : null; }""", enc)
        if st and want in urllib.parse.unquote_plus(st["key"]):
            ui.settle(0.3)
            return st
        ui.settle(0.2)
    raise AssertionError("the editor never got its cut-out")


def _corners(ui, enc, name):
    """Mean colour of the four corners of the target's box in the editor (the PNG's transparent area)."""
    r = _editor(ui, enc)["rect"]
    img = ui.shot(ui.editor_box(enc, PLACEMENT_WIDGET, [r["x"], r["y"], r["w"], r["h"]]), name)
    k, m = max(2, img.shape[0] // 12), 4  # inside the dashed outline
    return np.concatenate([img[m:m + k, m:m + k], img[m:m + k, -m - k:-m], img[-m - k:-m, m:m + k],
                           img[-m - k:-m, -m - k:-m]]).reshape(-1, 3).mean(0)


def test_editor_previews_the_cutout_the_run_uses(ui):
    """A transparent PNG on target with only LoadImage's IMAGE connected: the run keys out its
    transparent area (cutout auto, fillblank_core.segment.auto_cutout), and the editor shows that,
    says so, and shows the black box for cutout = whole image, and the mask when it is connected."""
    ids = ui.js(CUTOUT_GRAPH, 0.8)
    enc = ids["enc"]
    assert _wait_editor(ui, enc)
    st = _cutout_state(ui, enc, "cutout=auto")
    assert st["img"] and "keyed out (auto)" in st["label"], st
    keyed = _corners(ui, enc, "cutout_auto.png")
    ui.set_widget(enc, "cutout", "whole image")
    st = _cutout_state(ui, enc, "cutout=whole image")
    assert st["label"] == "whole image", st
    whole = _corners(ui, enc, "cutout_whole.png")
    # the colour LoadImage's IMAGE keeps under the transparency (black here) is what the run pastes
    assert whole.max() < 20, whole
    assert keyed.mean() > whole.mean() + 40, (keyed, whole)  # the scene shows through
    ui.set_widget(enc, "cutout", "auto")
    ui.js("([t, e]) => app.graph.getNodeById(t).connect(1, app.graph.getNodeById(e), 'target_mask')",
          [ids["target"], enc])
    st = _cutout_state(ui, enc, "mask=1")
    assert st["label"].startswith("target_mask"), st
    ui.shot(ui.node_box(enc, margin=4), "cutout_node.png")
    assert ui.errors == []


INSERT_GRAPH = """() => {
    """ + CLEAN + """
    const scene = LiteGraph.createNode("LoadImage"); scene.pos = [20, 40]; app.graph.add(scene);
    const ins = LiteGraph.createNode("FillBlankInsert"); ins.pos = [400, 40]; app.graph.add(ins);
    return {ins: ins.id, scene: scene.id};
}"""


def test_insert_shows_placement_widgets_and_editor_only_when_they_apply(ui):
    """Fill-in Insert: x / y / scale / flip / horizon and the drag-to-place editor show without a hole or with
    fit = x-y-scale; with a hole and fit = into hole they are hidden (the hole places the target)."""
    ids = ui.js(INSERT_GRAPH)
    ins = ids["ins"]
    ui.settle(0.5)
    placing = {"x", "y", "scale", "flip", "horizon", PLACEMENT_WIDGET}
    assert placing <= set(ui.shown_widgets(ins)), "no hole: x / y / scale place the target"
    ui.js("([s, i]) => app.graph.getNodeById(s).connect(1, app.graph.getNodeById(i), 'hole')",
          [ids["scene"], ins])
    ui.settle(0.5)
    assert not placing & set(ui.shown_widgets(ins)), ui.shown_widgets(ins)
    ui.set_widget(ins, "fit", "x-y-scale")
    ui.settle(0.5)
    assert placing <= set(ui.shown_widgets(ins)), ui.shown_widgets(ins)
    ui.shot(ui.node_box(ins, margin=4), "insert_xy.png")
    # saved and loaded again: the same widgets show
    wf = ui.js("() => app.graph.serialize()")
    ui.js("async (wf) => { app.clean(); await app.loadGraphData(wf); }", wf)
    ui.settle(0.5)
    assert placing <= set(ui.shown_widgets(ins))
    ui.set_widget(ins, "fit", "into hole")
    ui.settle(0.5)
    assert not placing & set(ui.shown_widgets(ins))
    assert ui.errors == []


# --- a calm resize handle -----------------------------------------------------------------------

def test_handle_resizes_calmly(ui):
    """A 20 px drag of the corner handle changes the target's drawn height by at most 20 px (it
    changed 0.45 -> 0.70 of the scene, about 50 px, when the size followed the ratio of distances
    from the centre), and dragging back returns to the size it had."""
    enc = ui.js(CUTOUT_GRAPH, 0.2)["enc"]  # a small target: where the old rule jumped most
    assert _wait_editor(ui, enc)
    _cutout_state(ui, enc)
    L = _editor(ui, enc)
    h = L["handle"]
    hx, hy = h["x"] + h["w"] / 2, h["y"] + h["h"] / 2
    s0 = ui.widgets(enc)["scale"]
    start = _screen(ui, enc, hx, hy)
    m = ui.page.mouse
    m.move(*start)
    m.down()
    m.move(start[0] + 14, start[1] + 14, steps=6)  # 19.8 px along the diagonal
    ui.settle(0.1)
    s1 = ui.widgets(enc)["scale"]
    m.move(*start, steps=6)
    m.up()
    ui.settle(0.1)
    s2 = ui.widgets(enc)["scale"]
    grew_px = (s1 - s0) * L["fit"]["h"]
    assert 5 < grew_px <= 20.5, f"a 20 px drag changed the height by {grew_px:.1f} px ({s0} -> {s1})"
    assert abs(s2 - s0) < 0.002, (s0, s1, s2)
    assert ui.errors == []
