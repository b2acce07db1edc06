"""Render example_workflows/<name>.jpg, the thumbnails ComfyUI's Templates browser shows for the
example workflows (it asks for /api/workflow_templates/<pack>/<name>.jpg).

    COMFYUI_PATH=… .venv/bin/python scripts/make_thumbnails.py [name …]
(scripts/make_workflows.py runs this after writing the workflows.) Each workflow is loaded into the
real frontend that the host serves (tests/host_server.py, headless Chromium through Playwright as in
the browser tests, tests/_browser.py), with sample pictures in its Load Image nodes (photos that
scikit-image ships) and stand-in model files of the names it uses; the view is fitted to the graph
and the screenshot is saved as a JPEG THUMB_WIDTH px wide. The JPEG's comment names the sha256 of
the workflow file it shows, so tests/test_examples.py can tell a stale thumbnail.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import _browser  # noqa: E402
from host_server import ComfyServer  # noqa: E402

EXAMPLES = REPO / "example_workflows"
THUMB_WIDTH = 768
RENDER_SCALE = 0.75  # the graph's zoom in the browser; the screenshot is then scaled down to THUMB_WIDTH
MARGIN = 24  # graph units around the nodes
MAX_ASPECT, MIN_ASPECT = 2.0, 1.25  # width / height of the picture
SETTINGS = {
    "Comfy.TutorialCompleted": True,  # no first-run template browser over the canvas
    "Comfy.Notification.ShowVersionUpdates": False,
    "Comfy.ErrorSystem.ShowMissingModels": False,
    "Comfy.Minimap.Visible": False,
    "Comfy.Graph.CanvasInfo": False,
    "Comfy.Graph.CanvasMenu": False,
    "LiteGraph.Canvas.MinFontSizeForLOD": 0,  # full detail at any zoom
    "Comfy.TextareaWidget.FontSize": 14,  # the notes and prompts a little larger than the default 10
}


def comment(workflow: Path) -> bytes:
    """What a thumbnail's JPEG comment says: the workflow file it was made from."""
    return f"fillblank thumbnail of {workflow.name} sha256={hashlib.sha256(workflow.read_bytes()).hexdigest()}".encode()


def write_inputs(folder: Path):
    """The files the examples' Load Image nodes name: a scene and a photo with a hole painted in
    (transparent, as ComfyUI's mask editor saves it) and RGBA cut-outs of two objects."""
    from skimage import data

    def with_hole(rgb: np.ndarray, box) -> Image.Image:
        h, w = rgb.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        cx, cy, rx, ry = box[0] * w, box[1] * h, box[2] * w, box[3] * h
        alpha = np.where(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1, 0, 255).astype(np.uint8)
        return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")

    coffee = data.coffee()[:, 180:]  # a cup on a table, the table in the middle (where the examples place the object)
    with_hole(coffee, (0.5, 0.62, 0.13, 0.15)).save(folder / "fillblank_scene.png")
    front = np.dstack([coffee, np.full(coffee.shape[:2], 255, np.uint8)])  # a post painted in front of the place
    w = coffee.shape[1]
    front[:, int(0.55 * w):int(0.58 * w), 3] = 0
    Image.fromarray(front, "RGBA").save(folder / "fillblank_front.png")
    with_hole(data.chelsea(), (0.75, 0.75, 0.12, 0.15)).save(folder / "fillblank_photo.png")
    logo = data.logo().copy()  # RGBA on an opaque white ground: make the ground transparent
    logo[..., 3] = np.where(logo[..., :3].min(-1) > 235, 0, 255)
    Image.fromarray(logo).save(folder / "fillblank_target.png")
    horse = ~data.horse()  # the second object: the horse's silhouette, brown, on a transparent ground
    rgba = np.zeros(horse.shape + (4,), np.uint8)
    rgba[horse] = (120, 72, 40, 255)
    Image.fromarray(rgba).save(folder / "fillblank_target_2.png")


def stand_in_models(work: Path, workflows: list[dict]):
    """Empty files named as the loaders' widgets name them, so the loaders show them as chosen."""
    for wf in workflows:
        for node in wf["nodes"]:
            for model in node.get("properties", {}).get("models", []):
                folder = work / "models" / model["directory"]
                folder.mkdir(parents=True, exist_ok=True)
                (folder / model["name"]).touch()


def _bounds(page) -> list[float]:
    """[x0, y0, x1, y1] of all nodes with their titles, in graph units."""
    return page.evaluate("""() => {
        const th = LiteGraph.NODE_TITLE_HEIGHT, b = [Infinity, Infinity, -Infinity, -Infinity];
        for (const n of app.graph.nodes) {
            b[0] = Math.min(b[0], n.pos[0]); b[1] = Math.min(b[1], n.pos[1] - th);
            b[2] = Math.max(b[2], n.pos[0] + n.size[0]); b[3] = Math.max(b[3], n.pos[1] + n.size[1]);
        }
        return b; }""")


def shoot(page, workflow: Path) -> Image.Image:
    wf = json.loads(workflow.read_text())
    page.evaluate("async (wf) => { app.clean(); await app.loadGraphData(wf); }", wf)
    page.wait_for_timeout(1500)  # Load Image previews, the placement editor, the λ curve
    x0, y0, x1, y1 = _bounds(page)
    x0, y0, x1, y1 = x0 - MARGIN, y0 - MARGIN, x1 + MARGIN, y1 + MARGIN
    w, h = x1 - x0, y1 - y0
    aspect = min(max(w / h, MIN_ASPECT), MAX_ASPECT)
    if w / h > aspect:  # too wide: grow the height (centred)
        y0, h = y0 - (w / aspect - h) / 2, w / aspect
    else:
        x0, w = x0 - (h * aspect - w) / 2, h * aspect
    vw, vh = round(w * RENDER_SCALE), round(h * RENDER_SCALE)
    page.set_viewport_size({"width": vw, "height": vh})
    page.wait_for_timeout(300)
    page.evaluate("""([scale, x0, y0]) => { app.canvas.ds.scale = scale; app.canvas.ds.offset = [-x0, -y0];
                     app.canvas.setDirty(true, true); }""", [RENDER_SCALE, x0, y0])
    page.wait_for_timeout(800)
    png = page.screenshot()
    im = Image.open(io.BytesIO(png)).convert("RGB")
    return im.resize((THUMB_WIDTH, round(THUMB_WIDTH * im.height / im.width)), Image.LANCZOS)


def render(names: list[str] | None = None) -> list[Path]:
    """Write example_workflows/<name>.jpg for the named examples (all of them by default)."""
    why = _browser.missing_reason()
    if why:
        raise SystemExit(f"cannot render thumbnails: {why}")
    paths = [EXAMPLES / f"{n}.json" for n in names] if names else sorted(EXAMPLES.glob("*.json"))
    work = Path(tempfile.mkdtemp(prefix="fillblank_thumbnails_"))
    srv = ComfyServer(Path(os.environ["COMFYUI_PATH"]), work)
    srv.input_dir.mkdir(parents=True)
    write_inputs(srv.input_dir)
    stand_in_models(work, [json.loads(p.read_text()) for p in paths])
    srv.start()
    written, errors = [], []
    try:
        status, body = srv.post("/settings", SETTINGS)
        assert status == 200, (status, body)
        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw:
            browser = _browser.launch(pw)
            page = browser.new_page(viewport={"width": 1600, "height": 1000}, device_scale_factor=1)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
                    if m.type in ("error", "warning") and "fillblank" in (m.text + str(m.location)).lower() else None)
            page.goto(srv.url)
            page.wait_for_function("window.app?.graph && window.LiteGraph && app.canvas?.ds", timeout=120_000)
            # focus mode: the canvas alone, without menus, side bars and toolbars
            page.evaluate("() => app.extensionManager.command.execute('Workspace.ToggleFocusMode')")
            page.add_style_tag(content=".no-drag.fixed.top-0.right-0 { display: none !important; }")  # its button
            time.sleep(1)
            for path in paths:
                im = shoot(page, path)
                out = path.with_suffix(".jpg")
                im.save(out, "JPEG", quality=85, optimize=True, progressive=True, comment=comment(path))
                written.append(out)
                print(f"wrote {out} ({im.width}x{im.height}, {out.stat().st_size // 1024} KB)")
            browser.close()
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)
    if errors:
        raise SystemExit("the pack reported errors while rendering:\n" + "\n".join(errors))
    return written


if __name__ == "__main__":
    render(sys.argv[1:] or None)
