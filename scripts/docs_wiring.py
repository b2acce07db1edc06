"""Render docs/wiring.png: example workflow 1 loaded in the real ComfyUI UI (test host, headless
Chromium), with scene/target images in the LoadImage nodes.

    bash scripts/test.sh --co -q >/dev/null   # makes .venv and prints the host path
    COMFYUI_PATH=… .venv/bin/python scripts/docs_wiring.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "scripts"))
import _browser  # noqa: E402
from host_server import ComfyServer  # noqa: E402
from test_web import READY, Page, _write_inputs  # noqa: E402


def main(out: Path = REPO / "docs" / "wiring.png"):
    work = Path(tempfile.mkdtemp(prefix="fillblank_docs_"))
    (work / "models" / "checkpoints").mkdir(parents=True)
    (work / "models" / "checkpoints" / "v1-5-pruned-emaonly.safetensors").write_bytes(b"")
    srv = ComfyServer(Path(os.environ["COMFYUI_PATH"]), work)
    srv.input_dir.mkdir(parents=True)
    _write_inputs(srv.input_dir)
    srv.start()
    import make_workflows
    wf = json.loads(make_workflows.path("fillblank_basic_insertion").read_text())
    for node in wf["nodes"]:  # show the pictures the test inputs provide
        if node["type"] == "LoadImage":
            node["widgets_values"][0] = node["widgets_values"][0].replace("fillblank_", "fillblank_web_")
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw:
            browser = _browser.launch(pw)
            page = browser.new_page(viewport={"width": 2000, "height": 1000}, device_scale_factor=1)
            ui = Page(page, srv)
            page.goto(srv.url)
            page.wait_for_function(READY, timeout=90_000)
            page.evaluate("async (wf) => { await app.loadGraphData(wf); app.canvas.ds.scale = 0.9;"
                          " app.canvas.ds.offset = [20, 50]; app.graph.setDirtyCanvas(true, true); }", wf)
            page.wait_for_timeout(2500)
            page.screenshot(path=str(out))
            browser.close()
            assert not ui.errors, ui.errors
    finally:
        srv.stop()
    print("wrote", out)


if __name__ == "__main__":
    main()
