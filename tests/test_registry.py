"""What the registry and the frontend show of the pack besides the nodes themselves.

- Node help pages: web/docs/<NodeId>/en.md and web/docs/<NodeId>.md (the frontend's node help panel
  looks for the first, then the second) for exactly the nodes in
  nodes.NODES, equal to what scripts/make_node_docs.py makes from the nodes' declarations
  now (regenerated in memory from the pack imported in-process); every input and output of every
  node is on its page with its tooltip.
- pyproject.toml, read by ComfyUI's own copy of the registry's parser (comfy_config, which mirrors
  comfy-cli's): the icon is a square SVG in this repository named by its raw GitHub URL, the OS
  classifier is understood, the Issues URL and requires-comfyui are there.
"""

from __future__ import annotations

import re
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "web" / "docs"
sys.path.insert(0, str(REPO / "scripts"))
import make_node_docs  # noqa: E402


@pytest.fixture(scope="module")
def generated(pack):
    return make_node_docs.pages(pack)


@pytest.mark.host
def test_every_node_has_a_help_page_and_no_other(pack):
    have = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*"))
    want = sorted([f"{n}.md" for n in pack.nodes.NODES_BY_ID] + [f"{n}/en.md" for n in pack.nodes.NODES_BY_ID]
                  + list(pack.nodes.NODES_BY_ID))  # the folders
    assert len(want) >= 24
    assert have == want, ("web/docs/ does not match the pack's nodes; run "
                          "`COMFYUI_PATH=… .venv/bin/python scripts/make_node_docs.py`")


@pytest.mark.host
def test_help_pages_are_up_to_date(generated):
    stale = [n for n, text in generated.items() if not (DOCS / n).is_file() or (DOCS / n).read_text(encoding="utf-8") != text]
    assert not stale, (f"out of date: {stale}; a node's declaration changed: run "
                       "`COMFYUI_PATH=… .venv/bin/python scripts/make_node_docs.py` and commit web/docs/")


def _row(page: str, name: str) -> str | None:
    """The block of one input or output: its head line and its paragraph, joined to one line."""
    m = re.search(rf"^- \*\*`{re.escape(name)}`\*\*.*?(?=^- |^#|\Z)", page, flags=re.M | re.S)
    return " ".join(m.group(0).split()) if m else None


@pytest.mark.host
def test_pages_hold_every_input_and_output_with_its_tooltip(pack, generated):
    for node_id, cls in pack.nodes.NODES_BY_ID.items():
        page = generated[f"{node_id}.md"]
        info = make_node_docs.node_info(cls)
        assert page.splitlines()[2] == f"# {info['display_name']}"
        assert " ".join(info["description"].split()) in page, node_id
        for section in ("required", "optional"):
            for name, spec in (info["input"].get(section) or {}).items():
                row = _row(page, name)
                assert row, f"{node_id}: input {name} is not on its page"
                opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
                assert opts.get("tooltip"), f"{node_id}: input {name} has no tooltip to show"
                assert " ".join(opts["tooltip"].split()) in row
                if "default" in opts:
                    assert make_node_docs._code(opts["default"]) in row, (node_id, name)
                if "min" in opts and "max" in opts:
                    assert f"{make_node_docs._number(opts['min'])} … {make_node_docs._number(opts['max'])}" in row
        for name, tip in zip(info["output_name"], info["output_tooltips"], strict=True):
            row = _row(page.split("## Outputs", 1)[1], name)
            assert row and " ".join(tip.split()) in row, f"{node_id}: output {name}"


@pytest.mark.host
def test_host_lists_are_named_not_listed(generated):
    """Samplers, schedulers and model files depend on the user's ComfyUI and disk: a page that
    listed them would differ from one install to the next."""
    import comfy.samplers
    select = generated["FillBlankSamplerSelect.md"]
    assert "any sampler of your ComfyUI" in _row(select, "sampler_name")
    assert comfy.samplers.KSampler.SAMPLERS[-1] not in select
    assert "a file of yours from a ComfyUI model folder" in _row(generated["FillBlankSAMLoader.md"], "sam_name")
    # a list of the pack's own is listed
    assert "one of constant, linear, cosine, exponential, step, keyframes" in \
        _row(generated["FillBlankLambdaSchedule.md"], "kind")


def test_render_of_a_v3_style_node():
    """The page of a node as /object_info describes a V3 (comfy_api) node: COMBO options, optional
    inputs, list outputs, pipes in a tooltip."""
    info = {"name": "FillBlankExample", "display_name": "Fill-in Example", "description": "Does a | thing.",
            "category": "fillblank",
            "input": {"required": {"mode": ["COMBO", {"options": ["a", "b"], "default": "b", "tooltip": "A or B."}],
                                   "size": ["INT", {"default": 8, "min": 1, "max": 64, "step": 1, "tooltip": "px"}]},
                      "optional": {"image": ["IMAGE", {"tooltip": "An image."}]}},
            "input_order": {"required": ["size", "mode"], "optional": ["image"]},
            "output": ["IMAGE", "STRING"], "output_name": ["images", "log"], "output_is_list": [True, False],
            "output_tooltips": ["All of them.", "What | happened."]}
    page = make_node_docs.render(info, [])
    assert page.startswith(make_node_docs.HEADER)
    assert "# Fill-in Example" in page and "Node `FillBlankExample` · category `fillblank`" in page
    assert page.index("- **`size`**") < page.index("- **`mode`**") < page.index("## Optional inputs") \
        < page.index("- **`image`**")
    # one short block per input and output: the facts on one line, the tooltip as a paragraph under it
    assert "- **`mode`** · COMBO · default `b` · one of a, b\n\n  A or B.\n" in page
    assert "- **`size`** · INT · default `8` · 1 … 64, step 1\n\n  px\n" in page
    assert "- **`image`** · IMAGE · a link\n\n  An image.\n" in page
    assert "- **`images`** · IMAGE (list)\n\n  All of them.\n" in page
    assert "- **`log`** · STRING\n\n  What | happened.\n" in page
    assert "| Input |" not in page, "no wide tables: the help panel is narrow"


# --- pyproject.toml ---------------------------------------------------------------------------------

def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_icon_is_a_square_svg_of_this_repository():
    cfg = _pyproject()
    repo = cfg["project"]["urls"]["Repository"]
    m = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", repo)
    assert m, repo
    icon = cfg["tool"]["comfy"]["Icon"]
    raw = re.fullmatch(rf"https://raw\.githubusercontent\.com/{re.escape(m[1])}/{re.escape(m[2])}/[\w.-]+/(.+)", icon)
    assert raw, f"Icon {icon} is not a raw URL of {repo}"
    path = REPO / raw[1]
    assert path.suffix == ".svg" and path.is_file(), f"{raw[1]} is not in the repository"
    svg = ET.parse(path).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    x, y, w, h = (float(v) for v in svg.get("viewBox").split())
    assert w == h, "the icon is square"
    if svg.get("width"):
        assert float(svg.get("width")) == float(svg.get("height")) <= 400  # the registry's limit is 800×400
    # the registry archive ships it (it is not under a folder .comfyignore leaves out)
    assert not any(line.strip().rstrip("/").lstrip("/") == raw[1].split("/")[0]
                   for line in (REPO / ".comfyignore").read_text().splitlines() if not line.startswith("#"))


@pytest.mark.host
def test_registry_reads_the_metadata(comfy_host):
    """comfy_config is ComfyUI's copy of the registry's pyproject parser (comfy-cli's types)."""
    try:
        from comfy_config import config_parser
    except ImportError:
        pytest.skip("this ComfyUI host has no comfy_config")
    cfg = config_parser.extract_node_configuration(str(REPO))
    raw = _pyproject()
    assert cfg.project.name == "fillblank"
    assert cfg.tool_comfy.icon == raw["tool"]["comfy"]["Icon"]
    assert cfg.project.supported_comfyui_version == ">=0.3.75"
    assert cfg.project.supported_os == ["OS Independent"]
    assert cfg.project.urls.issues == cfg.project.urls.repository + "/issues"
    # the registry's parser knows only vendor accelerators ("Environment :: GPU :: NVIDIA CUDA", …):
    # the plain trove classifier "Environment :: GPU" is for PyPI and reads there as no restriction
    assert {"Operating System :: OS Independent", "Environment :: GPU"} <= set(raw["project"]["classifiers"])


@pytest.mark.host
def test_the_sampler_pages_say_what_lambda_each_sampler_gets(generated):
    """Samplers with several calls per step get one λ per step; dpm_fast / dpm_adaptive, on noise levels
    of their own, get λ at each call's noise level (tests/test_host_sampler.py checks both)."""
    for page in ("FillBlankSampler.md", "FillBlankSampler/en.md", "FillBlankInsert.md"):
        row = _row(generated[page], "sampler_name")
        assert "heunpp2" in row and "one λ per step" in row, page
        assert "dpm_fast and dpm_adaptive" in row and "λ at its own noise level" in row, page
