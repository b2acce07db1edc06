"""The example workflows as ComfyUI's Templates browser and a new user meet them, without a host:
a thumbnail beside every workflow (the browser asks for <name>.jpg), readable node titles, the
model files listed with download links where the frontend's missing-models dialog reads them, a
Note that says what to download, where to put it and how to use the example, and all of it as
scripts/make_workflows.py writes it."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from workflow_tools import FRONTEND_ONLY, check_workflow, ui_to_api

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "example_workflows").glob("*.json"))
# loader type -> (its file widget, the ComfyUI models folder its file goes in)
LOADERS = {"CheckpointLoaderSimple": ("ckpt_name", "checkpoints"), "FillBlankSAMLoader": ("sam_name", "sams")}
IDS = [p.stem for p in EXAMPLES]


def _wf(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _loaders(wf: dict):
    """(node, file name, folder) for every model loader of a workflow."""
    for node in wf["nodes"]:
        if node["type"] in LOADERS:
            _widget, folder = LOADERS[node["type"]]
            yield node, node["widgets_values"][0], folder


def _notes(wf: dict) -> list[str]:
    return [n["widgets_values"][0] for n in wf["nodes"] if n["type"] in FRONTEND_ONLY]


def test_there_are_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_thumbnail_is_a_picture_of_this_workflow(path):
    thumb = path.with_suffix(".jpg")
    assert thumb.is_file(), f"{thumb.name} is missing: run scripts/make_workflows.py (or make_thumbnails.py)"
    size = thumb.stat().st_size
    assert 10_000 < size < 150_000, f"{thumb.name}: {size} bytes"
    with Image.open(thumb) as im:
        im.verify()
    with Image.open(thumb) as im:
        assert im.format == "JPEG"
        assert 512 <= im.width <= 1024 and 256 <= im.height <= 1024, im.size
        assert 1.0 <= im.width / im.height <= 2.2, im.size
        made_from = im.info.get("comment", b"").decode()
        rgb = np.asarray(im.convert("RGB")).astype(float)
    # not blank: light and dark, colour, and detail everywhere, not one flat field
    grey = rgb.mean(-1)
    assert grey.std() > 15 and np.ptp(grey) > 150, "the thumbnail looks blank"
    assert (rgb.max(-1) - rgb.min(-1)).max() > 100, "no colour in the thumbnail"
    h, w = grey.shape
    tiles = [grey[y:y + h // 4, x:x + w // 4] for y in range(0, h - h // 4 + 1, h // 4) for x in range(0, w - w // 4 + 1, w // 4)]
    assert sum(t.std() > 8 for t in tiles) >= len(tiles) // 2, "most of the thumbnail is empty"
    # made from the workflow as it is now (make_thumbnails.py writes the file's sha256 into the JPEG)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"sha256={digest}" in made_from, (f"{thumb.name} was not rendered from the current {path.name}: "
                                             "run scripts/make_thumbnails.py")


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_loaders_list_their_model_files_for_the_missing_models_dialog(path):
    loaders = list(_loaders(_wf(path)))
    assert any(n["type"] == "CheckpointLoaderSimple" for n, _, _ in loaders)
    for node, name, folder in loaders:
        models = node.get("properties", {}).get("models")
        assert isinstance(models, list) and models, f"node {node['id']} {node['type']}: no properties.models"
        assert [m["name"] for m in models] == [name]
        for m in models:
            assert set(m) >= {"name", "url", "directory"}
            assert m["directory"] == folder
            url = urlparse(m["url"])
            assert url.scheme == "https" and url.netloc, m["url"]
            assert url.path.rsplit("/", 1)[-1] == name, f"{m['url']} does not download {name}"


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_a_note_says_what_to_download_and_how_to_use_it(path):
    wf = _wf(path)
    notes = [n for n in wf["nodes"] if n["type"] in FRONTEND_ONLY]
    assert notes, f"{path.name} has no Read me note"
    # Markdown notes (the frontend renders them: links are links), not plain-text Notes
    assert {n["type"] for n in notes} == {"MarkdownNote"}, [n["type"] for n in notes]
    for n in notes:
        assert n["inputs"] == [] and n["outputs"] == [] and len(n["widgets_values"]) == 1
        assert isinstance(n["widgets_values"][0], str)
    text = "\n".join(_notes(wf))
    for node, name, folder in _loaders(wf):
        assert name in text, f"the note does not name {name}"
        assert f"models/{folder}" in text, f"the note does not say that {name} goes in models/{folder}"
        url = node["properties"]["models"][0]["url"].split("?")[0]
        assert f"[{name}]({url})" in text, f"the note has no Markdown link for {name}"
    if any(folder == "sams" for _, _, folder in _loaders(wf)):
        assert "create" in text.lower(), "the note must say to create models/sams"
    for node in wf["nodes"]:
        if node["type"] == "LoadImage":
            assert node["widgets_values"][0] in text, f"the note does not name the input {node['widgets_values'][0]}"
    assert "MaskEditor" in text, "the note must say how to paint the hole"


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_every_node_has_a_readable_title(path):
    wf = _wf(path)
    for node in wf["nodes"]:
        title = node.get("title")
        assert isinstance(title, str) and 3 <= len(title.strip()) <= 40, f"node {node['id']} {node['type']}: {title!r}"
    # the Load Image nodes (a scene and one object, or more objects) say which picture goes where
    images = [n["title"] for n in wf["nodes"] if n["type"] == "LoadImage"]
    assert len(set(images)) == len(images) >= 2, images


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_notes_are_not_part_of_the_prompt(path):
    """ui_to_api / check_workflow skip the frontend-only nodes; nothing links to them."""
    wf = _wf(path)
    notes = {n["id"] for n in wf["nodes"] if n["type"] in FRONTEND_ONLY}
    assert notes and not [l for l in wf["links"] if l[1] in notes or l[3] in notes]
    only_notes = {**wf, "nodes": [n for n in wf["nodes"] if n["id"] in notes], "links": []}
    assert ui_to_api(only_notes, {}) == {}
    assert check_workflow(only_notes, {}) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_the_file_is_what_make_workflows_writes(path):
    """scripts/make_workflows.py is the single source: node ids, types, positions, titles, notes,
    model lists, widget values and links of the file are those of its spec. (The input/output
    lists come from the host's /object_info, which this test does not start.)"""
    sys.path.insert(0, str(REPO / "scripts"))
    import make_workflows as mw

    key = mw.key_of(path)
    assert key in mw.EXAMPLES, f"{path.name} has no spec in scripts/make_workflows.py"
    spec_nodes, spec_links = mw.EXAMPLES[key]()
    wf = _wf(path)
    nodes = {n["id"]: n for n in wf["nodes"]}
    assert sorted(nodes) == sorted(spec_nodes)
    for nid, (ntype, pos, widgets, title, *_) in spec_nodes.items():
        node = nodes[nid]
        assert (node["type"], node["pos"], node["title"]) == (ntype, list(pos), title), nid
        if ntype in FRONTEND_ONLY:
            assert node["widgets_values"] == [widgets["text"]]
            continue
        for value in widgets.values():
            assert value in node["widgets_values"], (nid, value)
        if ntype in mw.LOADER_WIDGET:
            assert node["properties"]["models"] == [mw.MODEL_FILES[widgets[mw.LOADER_WIDGET[ntype]]]]
    links = {(src, slot, dst, nodes[dst]["inputs"][dslot]["name"]) for _, src, slot, dst, dslot, _ in wf["links"]}
    assert links == set(spec_links)
    assert len(wf["links"]) == len(spec_links)


# --- what the Templates browser and the first view show -------------------------------------------

def test_file_names_are_titles():
    """Frontend 1.58.1 shows a custom node's template by its file name alone: the name is the title,
    and, with - and _ read as spaces, the description. So: words, no - or _, no snake_case."""
    for path in EXAMPLES:
        stem = path.stem
        assert not re.search(r"[-_]", stem), f"{path.name}: - and _ become spaces in the description"
        assert stem[0].isupper() and " " in stem and 15 <= len(stem) <= 32, stem  # longer is cut short on the card
        assert not re.search(r"[^A-Za-z0-9 ()',.]", stem), f"{path.name}: characters a URL or Windows would escape"
    assert len({p.stem.lower() for p in EXAMPLES}) == len(EXAMPLES)
    assert not (REPO / "example_workflows" / "index.json").exists(), "ComfyUI would list index.json as a template"


# below this zoom frontend 1.58.1 draws every node as a blank box: LiteGraph.Canvas.MinFontSizeForLOD
# (default 8 px) over the 14 px node text
LOW_DETAIL_SCALE = 8 / 14


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_the_whole_graph_fits_a_window_at_a_readable_zoom(path):
    """The view the frontend opens a template with (all nodes fitted, 3/4 of a 1600x1000 window) and
    the saved view (extra.ds) are above the low-detail zoom with a margin."""
    sys.path.insert(0, str(REPO / "scripts"))
    import make_workflows as mw

    wf = _wf(path)
    ds = wf["extra"]["ds"]
    assert ds == mw.view(wf["nodes"])
    assert mw.READABLE_SCALE <= ds["scale"] <= 1.0 and mw.READABLE_SCALE > LOW_DETAIL_SCALE + 0.05, ds
    # the saved view shows every node: all of the graph lies inside the window
    x0, y0, x1, y1 = mw.bounds(wf["nodes"])
    (ox, oy), k = ds["offset"], ds["scale"]
    assert (x0 + ox) * k >= 0 and (y0 + oy) * k >= 0, ds
    assert (x1 + ox) * k <= mw.WINDOW[0] and (y1 + oy) * k <= mw.WINDOW[1], ds


@pytest.mark.parametrize("path", EXAMPLES, ids=IDS)
def test_titles_hold_no_widget_values(path):
    """A title names the node's part; a value in it ("karras, 30 steps") is wrong once the user
    changes the widget."""
    for node in _wf(path)["nodes"]:
        if node["type"] in FRONTEND_ONLY:
            continue
        words = set(re.findall(r"[\w.]+", node["title"].lower()))
        for value in node["widgets_values"]:
            if isinstance(value, bool) or value in ("fixed", "randomize"):
                continue
            v = str(value).lower()
            if isinstance(value, (int, float)):
                assert v not in words, f"node {node['id']} title {node['title']!r} holds the value {value}"
            elif len(v) > 2 and "." not in v:
                assert v not in words, f"node {node['id']} title {node['title']!r} holds the value {value!r}"
