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
import sys

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
        assert _errors(ui) == []
    finally:
        ui.page.context.unroute(OUTSIDE)
        ui.page.keyboard.press("Escape")
        ui.page.set_viewport_size({"width": 1400, "height": 1000})
        ui.js(f"() => {{ {CLEAN} }}")


# --- the node search ------------------------------------------------------------------------------

def test_search_words_in_the_browser_equal_the_nodes_aliases():
    """web/search_words.js carries nodes/common.py's ALIASES for hosts that do not send them."""
    import ast
    tree = ast.parse((REPO / "nodes" / "common.py").read_text())
    env: dict = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("SEARCH_ALIASES", "ALIASES"):
            env[node.targets[0].id] = eval(compile(ast.Expression(node.value), "common.py", "eval"), {}, env)
    text = (REPO / "web" / "search_words.js").read_text()
    body = re.search(r"export const ALIASES = (\{.*?\n\});", text, flags=re.S).group(1)
    js = json.loads(re.sub(r"(\w+):", r'"\1":', re.sub(r",(\s*[\]}])", r"\1", body)))
    assert js == env["ALIASES"]


def _search(ui, words: str) -> list[str]:
    """The node search box's results for `words`, as a user opens it (double-click on the canvas)."""
    _fresh_canvas(ui)
    box = ui.page.locator("input[placeholder='Add a node...']")
    for _ in range(5):  # a double-click right after the canvas was cleared may go unseen
        ui.page.mouse.dblclick(700, 600)
        try:
            box.wait_for(timeout=3_000)
            break
        except Exception:
            ui.page.keyboard.press("Escape")
            ui.settle(0.5)
    box.fill(words)
    ui.settle(0.8)
    found = ui.js("""() => { const box = document.querySelector("input[placeholder='Add a node...']");
        const list = document.getElementById(box.getAttribute('aria-controls'));
        return [...list.querySelectorAll('[role=option]')].map(e => e.textContent.replace(/\\s+/g, ' ').trim()); }""")
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
    found = _search(ui, words)
    where = next((i for i, t in enumerate(found) if t.startswith(name + "fillblank") or t.startswith(name + " ")), None)
    assert where is not None and where <= place, f"{words!r}: {name} at {where} in {found[:12]}"
    assert _errors(ui) == []
