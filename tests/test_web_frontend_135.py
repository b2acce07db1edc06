"""The λ node's widgets in an older frontend's Vue nodes: comfyui-frontend-package 1.35.9 (Dec 2025,
the frontend of the ComfyUI releases of that month), where Vue nodes ignore a widget's `hidden` and
leave out the ones whose `options.hidden` is set (web/fillblank_ui.js, showOnly). The same check as
tests/test_web.py's test_lambda_shows_only_the_widgets_its_kind_uses, on the host started with
--front-end-root at that frontend's static folder, which scripts/test.sh unpacks beside the venv
(pip install --no-deps --target) and names in $FILLBLANK_FRONTEND_135; the current frontend's
checks stay in tests/test_web.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import _browser
import _needs
import test_web
from host_server import ComfyServer

VERSION = "1.35.9"


def _static() -> Path:
    path = os.environ.get("FILLBLANK_FRONTEND_135", "")
    if not path or not (Path(path) / "index.html").is_file():
        _needs.missing("frontend 1.35", f"FILLBLANK_FRONTEND_135={path!r} (bash scripts/test.sh unpacks "
                       f"comfyui-frontend-package=={VERSION} and sets it)")
    return Path(path)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    why = _browser.missing_reason()
    if why:
        pytest.skip(why)
    static = _static()
    path = os.environ.get("COMFYUI_PATH")
    if not path or not (Path(path) / "comfy").is_dir():
        _needs.missing("host", f"COMFYUI_PATH={path or ''!r}")
    srv = ComfyServer(Path(path), tmp_path_factory.mktemp("comfy_web_135"), front_end_root=static)
    srv.input_dir.mkdir(parents=True, exist_ok=True)
    test_web._write_inputs(srv.input_dir)
    srv.start()
    yield srv
    srv.stop()


browser = test_web.browser


@pytest.fixture(scope="module")
def ui(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    ui = test_web.Page(page, server, "vue").open()
    ui.renderer = "vue_frontend_135"  # the screenshots' names
    yield ui
    page.close()


def test_the_older_frontend_is_served(ui, server):
    version = ui.js("() => window.__COMFYUI_FRONTEND_VERSION__ ?? null")
    assert version == VERSION, f"the page runs frontend {version}, not {VERSION}"
    assert ui.js("() => !!LiteGraph.vueNodesMode"), "the page is not in the Vue node renderer"


@pytest.mark.parametrize("kind", list(test_web.USES))
def test_lambda_shows_only_the_widgets_its_kind_uses_in_frontend_135(ui, kind):
    test_web.test_lambda_shows_only_the_widgets_its_kind_uses(ui, kind)
