"""Every node is a V3 node (comfy_api io.ComfyNode) that ComfyUI loads through comfy_entrypoint,
with one display name used everywhere, sub-categories, and the newer schema features (search
aliases, advanced inputs) given exactly where the host has them."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.host
REPO = Path(__file__).resolve().parents[1]
NAME = re.compile(r"\b(FillBlank|Fill-in) ((?:[A-Z][A-Za-z]*)(?: [A-Z][A-Za-z]*)*)")
ADVANCED = {"FillBlankSampler": {"jump_length", "resample", "blend"},
            "FillBlankSamplerSelect": {"jump_length", "resample", "blend"},
            "FillBlankInsert": {"jump_length", "resample"}, "FillBlankMaskRefiner": {"threshold"}}


@pytest.fixture(scope="module")
def nodes(pack):
    from comfy_api.latest import ComfyExtension
    ext = asyncio.run(pack.comfy_entrypoint())
    assert isinstance(ext, ComfyExtension)
    return asyncio.run(ext.get_node_list())


def test_the_pack_registers_through_comfy_entrypoint_only(pack, nodes):
    # with NODE_CLASS_MAPPINGS present ComfyUI would take the V1 path and never call comfy_entrypoint
    assert not hasattr(pack, "NODE_CLASS_MAPPINGS")
    assert pack.WEB_DIRECTORY == "./web"
    assert [c.__name__ for c in nodes] == list(pack.nodes.NODES_BY_ID)
    assert len(nodes) == 10


def test_a_comfyui_without_the_v3_api_is_told_what_version_is_needed(tmp_path):
    """A ComfyUI older than the V3 node API (a `comfy` package but no `comfy_api`): the pack loads no
    nodes and says in the log which ComfyUI it needs, instead of vanishing silently."""
    import subprocess
    import sys
    (tmp_path / "comfy").mkdir()
    (tmp_path / "comfy" / "__init__.py").write_text("")
    code = ("import importlib.util, logging, sys\n"
            "logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')\n"
            f"sys.path.insert(0, {str(tmp_path)!r})\n"
            f"spec = importlib.util.spec_from_file_location('fillblank_old_host', {str(REPO / '__init__.py')!r}, "
            f"submodule_search_locations=[{str(REPO)!r}])\n"
            "mod = importlib.util.module_from_spec(spec); sys.modules[spec.name] = mod; spec.loader.exec_module(mod)\n"
            "print('entrypoint', mod.comfy_entrypoint)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "entrypoint None" in r.stdout
    assert "ERROR fillblank: this ComfyUI has no V3 node API" in r.stderr and "0.3.75 or newer" in r.stderr


def test_every_node_is_a_v3_node_with_its_display_name_and_a_sub_category(pack, nodes):
    from comfy_api.latest import io
    for cls in nodes:
        assert issubclass(cls, io.ComfyNode)
        schema = cls.GET_SCHEMA()
        assert schema.node_id == cls.__name__  # the id saved workflows store
        assert schema.display_name == pack.nodes.common.NAMES[schema.node_id]
        assert schema.display_name.startswith("Fill-in ")
        assert re.fullmatch(r"fillblank/[a-z]+", schema.category), schema.category
        assert schema.description


def _texts(cls) -> list[str]:
    info = cls.GET_NODE_INFO_V1()
    out = [info["description"]] + [t for t in info["output_tooltips"] if t]
    for section in info["input"].values():
        out += [spec[1].get("tooltip", "") for spec in section.values() if len(spec) > 1]
    return out


def _names_in(text: str) -> list[str]:
    return [("FillBlank " if m.group(1) == "FillBlank" else "Fill-in ") + m.group(2) for m in NAME.finditer(text)]


def test_one_display_name_per_node_in_every_tooltip_and_message(pack, nodes):
    """Tooltips and descriptions, the source of every message (nodes, core, web) and the example
    workflows' titles and notes name the nodes only by their display names."""
    names = set(pack.nodes.common.NAMES.values())
    wrong = [(cls.__name__, n) for cls in nodes for t in _texts(cls) for n in _names_in(t) if n not in names]
    sources = [*(REPO / "nodes").glob("*.py"), *(REPO / "fillblank_core").glob("*.py"), *(REPO / "web").glob("*.js"),
               *(REPO / "example_workflows").glob("*.json")]  # node titles and Read me notes
    wrong += [(p.name, n) for p in sources for n in _names_in(p.read_text(encoding="utf-8")) if n not in names]
    assert not wrong, wrong
    assert _names_in("use FillBlank Sampler or Fill-in Target Encoder's output") == [
        "FillBlank Sampler", "Fill-in Target Encoder"]  # the scan itself finds both spellings


def test_search_aliases_and_advanced_inputs_exactly_where_the_host_has_them(pack, nodes):
    from comfy_api.latest import io
    pack_aliases = pack.nodes.common.ALIASES
    # the product's words find the nodes that insert an object, and not the helpers
    assert {n for n, a in pack_aliases.items() if "inpaint" in a and "RePaint" in a} == {
        "FillBlankInsert", "FillBlankTargetEncoder", "FillBlankSampler", "FillBlankSamplerSelect"}
    has_aliases = "search_aliases" in {f.name for f in dataclasses.fields(io.Schema)}
    for cls in nodes:
        info = cls.GET_NODE_INFO_V1()
        if has_aliases:
            assert info["search_aliases"] == pack_aliases[cls.__name__]
        else:
            assert not info.get("search_aliases")
        flagged = {name for section in info["input"].values() for name, spec in section.items()
                   if len(spec) > 1 and spec[1].get("advanced")}
        want = ADVANCED.get(cls.__name__, set())
        if "advanced" in io.Int.Input.__init__.__code__.co_varnames:
            assert flagged == want, cls.__name__
        else:
            assert not flagged


def test_a_newer_host_gets_search_aliases_and_advanced_inputs(pack, monkeypatch):
    """The feature detection with a schema and an input that have the newer fields (as ComfyUI's
    2026 releases): the fields are given; with 0.3.75's they are not (the test above)."""
    from comfy_api.latest import io
    common = pack.nodes.common

    @dataclasses.dataclass
    class NewerSchema(io.Schema):
        search_aliases: list = dataclasses.field(default_factory=list)

    class NewerInt(io.Int.Input):
        def __init__(self, *args, advanced=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.advanced = advanced

    monkeypatch.setattr(common.io, "Schema", NewerSchema)
    s = common.schema("FillBlankRank", "results", "d", inputs=[], outputs=[])
    assert s.search_aliases == ["CLIP score", "best of batch"] and s.category == "fillblank/results"
    s = common.schema("FillBlankInsert", "insert", "d", inputs=[], outputs=[])
    assert s.search_aliases == ["inpaint", "insert object", "object placement", "paste object", "RePaint"]
    assert common._advanced(NewerInt, True) == {"advanced": True}
    assert common._advanced(NewerInt, False) == {} and common._advanced(io.Float.Input, True) == (
        {"advanced": True} if "advanced" in io.Float.Input.__init__.__code__.co_varnames else {})


def test_lambda_schedule_checks_keyframes_before_the_prompt_runs(pack):
    cls = pack.nodes.NODES_BY_ID["FillBlankLambdaSchedule"]
    assert cls.validate_inputs(kind="keyframes", keyframes="0:1, 0.6:1, 0.8:0") is True
    msg = cls.validate_inputs(kind="keyframes", keyframes="0:1, zebra, 1:0")
    assert isinstance(msg, str) and "keyframes" in msg and "zebra" in msg
    assert "[0, 1]" in cls.validate_inputs(kind="keyframes", keyframes="0:1.5, 1:0")
    assert cls.validate_inputs(kind="linear", keyframes="zebra") is True  # unused by linear
    assert "kind" in cls.validate_inputs(kind="wiggle", keyframes="")
    # linked inputs arrive as None while the prompt is validated: left to execute()
    assert cls.validate_inputs(kind="keyframes", keyframes=None) is True
    assert cls.validate_inputs(kind=None, keyframes="zebra") is True


def test_the_core_schedule_defaults_are_the_lambda_schedule_nodes(pack):
    """A script user of the core gets the node user's default: LambdaSchedule()'s field defaults are
    the Lambda Schedule node's widget defaults (axis run, the keep ↔ adapt keyframes), the node at its
    defaults returns LambdaSchedule(), and every node's adapt defaults to the core's default curve."""
    core = pack.fillblank_core.schedules
    fields = {f.name: f.default for f in dataclasses.fields(core.LambdaSchedule) if not f.name.startswith("_")}
    cls = pack.nodes.NODES_BY_ID["FillBlankLambdaSchedule"]
    widgets = {i.id: i.default for i in cls.define_schema().inputs}
    assert {k: widgets[k] for k in fields} == fields
    assert fields["axis"] == "run" and fields["keyframes"] == core.DEFAULT_KEYFRAMES
    schedule, _plot = cls.execute(**{k: v for k, v in widgets.items()}).result
    assert schedule == core.LambdaSchedule() == core.LambdaSchedule.default()
    assert core.LambdaSchedule.linear().axis == core.LambdaSchedule.from_keyframes("0:1, 1:0").axis == "run"
    for node in ("FillBlankSampler", "FillBlankSamplerSelect", "FillBlankInsert"):
        adapt = next(i.default for i in pack.nodes.NODES_BY_ID[node].define_schema().inputs if i.id == "adapt")
        assert core.LambdaSchedule.adapt(adapt) == core.LambdaSchedule(), node
