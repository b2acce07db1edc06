"""What a new user meets in the editor (issue 22), in the real frontend (1.58.1) in both renderers,
with the fixtures of tests/test_web.py (the host server, headless Chromium, one page per renderer):

- the node help pages read in the right side panel's Info tab (about 285 px wide): no part of a
  page scrolls sideways, no wide tables, and every input is a short block;
- the example workflows open at a zoom where their nodes are drawn in full (not the low-detail
  boxes the frontend draws below its font-size threshold), with Markdown notes whose links are
  links;
- the search finds the pack's nodes by the words a user types;
- the placement editor's corner handle resizes calmly, and it previews the cut-out the run uses.

Screenshots go to test-artifacts/web/<renderer>_*.png.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from test_web import (CLEAN, REPO, Page, _fresh_canvas, _shot_path, browser, server, ui)  # noqa: F401 (fixtures)

pytestmark = pytest.mark.host

PINIA = "document.getElementById('vue-app').__vue_app__.config.globalProperties.$pinia"
# frontend 1.58.1 asks for /extensions/<pack>/docs/<NodeId>/<locale>.md first and falls back to
# /extensions/<pack>/docs/<NodeId>.md: the 404 of the first is the frontend's look-up, not an error
LOCALE_FIRST = re.compile(r"failed request \S+/extensions/fillblank/docs/FillBlank\w+/[a-z]{2}(?:-\w+)?\.md \(")


def _errors(ui) -> list[str]:
    return [e for e in ui.errors if not LOCALE_FIRST.match(e)]


# --- help pages ---------------------------------------------------------------------------------

HELP_NODES = ["FillBlankLambdaSchedule", "FillBlankInsert", "FillBlankTargetEncoder"]


@pytest.mark.parametrize("node_type", HELP_NODES)
def test_help_page_reads_in_the_side_panel(ui, node_type):
    """Select the node, open the right side panel's Info tab (the frontend's node help): the page
    is there, nothing in it is wider than the panel, each input is a block no taller than a
    paragraph or two."""
    _fresh_canvas(ui)
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
    assert _errors(ui) == []
