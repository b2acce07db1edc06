"""The node schema against its committed snapshot, tests/node_schema.json (scripts/node_schema.py).

Users' saved workflows and API prompts name node ids and input names, store widget values by
position and links by output slot. The live schema of every node is compared with the snapshot: a
change that breaks what users saved fails as BREAKING with the reason, any other change fails until
the snapshot is updated on purpose in the same commit. The comparison itself is checked here without
a host, on the committed snapshot with one change at a time.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import node_schema  # noqa: E402

SNAP = json.loads(node_schema.SNAPSHOT.read_text(encoding="utf-8"))


@pytest.mark.host
def test_the_nodes_match_the_snapshot(pack):
    live = node_schema.snapshot(pack)
    breaking, other = node_schema.compare(SNAP, live)
    assert not breaking and not other, node_schema.report(breaking, other)


@pytest.mark.host
def test_the_snapshot_file_is_what_write_makes(pack):
    """--write's output is the committed file byte for byte (no hand edits that the check would read
    differently from the script)."""
    assert node_schema.dumps(node_schema.snapshot(pack)) == node_schema.SNAPSHOT.read_text(encoding="utf-8")


@pytest.mark.host
def test_host_lists_are_named_not_listed(pack):
    snap = node_schema.snapshot(pack)
    assert snap["FillBlankSampler"]["inputs"]["sampler_name"]["options"] == "host: KSampler samplers"
    assert snap["FillBlankSampler"]["inputs"]["scheduler"]["options"] == "host: KSampler schedulers"
    assert snap["FillBlankSAMLoader"]["inputs"]["sam_name"]["options"] == "host: files in a model folder"


# inputs added after the first release (git history of nodes/: axis in 47fe917, adapt in 2b5e156,
# the optional sockets clip_vision, stitch and object_mask; several targets, perspective and the shadow zone)
SHADOW = ["shadow", "shadow_angle", "shadow_length"]
LATER = {"FillBlankLambdaSchedule": ["axis"], "FillBlankSampler": ["adapt"], "FillBlankSamplerSelect": ["adapt"],
         "FillBlankInsert": ["object_mask", "adapt", "add_to", "horizon", *SHADOW],
         "FillBlankTargetEncoder": ["clip_vision", "object_mask", "add_to", "horizon"],
         "FillBlankMaskRefiner": SHADOW, "FillBlankComposite": ["stitch"]}


@pytest.mark.parametrize("node", list(LATER))
def test_inputs_added_after_the_first_release_are_optional(node):
    """Optional; the widgets among them have a default and come after every widget of the release."""
    inputs, widgets = SNAP[node]["inputs"], SNAP[node]["widgets"]
    assert all(inputs[name]["required"] is False for name in LATER[node]), node
    late = [name for name in LATER[node] if inputs[name]["widget"]]
    assert all("default" in inputs[name] for name in late), node
    assert sorted(widgets[len(widgets) - len(late):]) == sorted(late), widgets


def _changed(edit):
    new = copy.deepcopy(SNAP)
    edit(new)
    return node_schema.compare(SNAP, new)


BREAKING = {
    "node removed": (lambda s: s.pop("FillBlankCrop"), "node FillBlankCrop was removed or renamed"),
    "node renamed": (lambda s: s.__setitem__("FillBlankCropper", s.pop("FillBlankCrop")),
                     "node FillBlankCrop was removed or renamed"),
    "input removed": (lambda s: s["FillBlankComposite"]["inputs"].pop("stitch"),
                      "input FillBlankComposite.stitch was removed or renamed"),
    "input renamed": (lambda s: s["FillBlankMaskRefiner"]["inputs"].__setitem__(
        "sam_model", s["FillBlankMaskRefiner"]["inputs"].pop("sam")), "input FillBlankMaskRefiner.sam was removed"),
    "type changed": (lambda s: s["FillBlankSampler"]["inputs"]["hole"].__setitem__("type", "IMAGE"),
                     "FillBlankSampler.hole changed type MASK -> IMAGE"),
    "input turned required": (lambda s: s["FillBlankLambdaSchedule"]["inputs"]["axis"].__setitem__("required", True),
                              "FillBlankLambdaSchedule.axis turned required: API prompts without it are refused"),
    "new required input": (lambda s: s["FillBlankRank"]["inputs"].__setitem__(
        "top_k", {"type": "INT", "required": True, "default": 1, "widget": True}),
        "input FillBlankRank.top_k is new and required: API prompts written before it are refused"),
    "choice removed": (lambda s: s["FillBlankMaskRefiner"]["inputs"]["mode"]["options"].remove("box"),
                       "FillBlankMaskRefiner.mode lost the choices ['box']"),
    "range narrowed": (lambda s: s["FillBlankSampler"]["inputs"]["steps"].__setitem__("max", 150),
                       "FillBlankSampler.steps range narrowed"),
    "widget inserted before others": (lambda s: s["FillBlankComposite"]["widgets"].insert(0, "strength"),
                                      "widgets of FillBlankComposite moved"),
    "widgets swapped": (lambda s: s["FillBlankCrop"].__setitem__("widgets", ["context", "working_size"]),
                        "saved workflows store widget values by position"),
    "output removed": (lambda s: s["FillBlankCrop"]["outputs"].pop(), "output 4 (stitch) of FillBlankCrop was removed"),
    "output type changed": (lambda s: s["FillBlankRank"]["outputs"][2].__setitem__("type", "INT"),
                            "output 2 of FillBlankRank changed type STRING -> INT"),
}

COMPATIBLE = {
    "new node": (lambda s: s.__setitem__("FillBlankNew", copy.deepcopy(s["FillBlankRank"])), "node FillBlankNew is new"),
    "new optional input": (lambda s: s["FillBlankRank"]["inputs"].__setitem__(
        "top_k", {"type": "INT", "required": False, "default": 1, "widget": True}),
        "input FillBlankRank.top_k is new (optional)"),
    "changed default": (lambda s: s["FillBlankComposite"]["inputs"]["feather"].__setitem__("default", 4),
                        "FillBlankComposite.feather default 8 -> 4"),
    "widget added at the end": (lambda s: s["FillBlankComposite"]["widgets"].append("strength"),
                                "widgets of FillBlankComposite: ['strength'] added at the end"),
    "required turned optional": (lambda s: s["FillBlankSampler"]["inputs"]["hole"].__setitem__("required", False),
                                 "input FillBlankSampler.hole is optional now"),
    "new choice": (lambda s: s["FillBlankMaskRefiner"]["inputs"]["mode"]["options"].append("lasso"),
                   "FillBlankMaskRefiner.mode has new choices ['lasso']"),
    "range widened": (lambda s: s["FillBlankSampler"]["inputs"]["steps"].__setitem__("max", 20000),
                      "FillBlankSampler.steps range widened"),
    "output renamed": (lambda s: s["FillBlankRank"]["outputs"][2].__setitem__("name", "score_text"),
                       "output 2 of FillBlankRank renamed scores -> score_text"),
    "output added": (lambda s: s["FillBlankRank"]["outputs"].append({"type": "INT", "name": "best_index"}),
                     "output 3 (best_index) of FillBlankRank is new"),
}


def test_the_snapshot_has_every_case_the_tables_edit():
    assert len(SNAP) == 10 and {"FillBlankCrop", "FillBlankRank", "FillBlankSampler"} <= set(SNAP)
    assert node_schema.compare(SNAP, copy.deepcopy(SNAP)) == ([], [])


@pytest.mark.parametrize("case", list(BREAKING))
def test_a_breaking_change_fails_as_breaking_with_the_reason(case):
    edit, words = BREAKING[case]
    breaking, other = _changed(edit)
    assert any(words in b for b in breaking), (case, breaking, other)
    msg = node_schema.report(breaking, other)
    assert msg.startswith("BREAKING change of the node schema") and "saved workflows and API prompts" in msg
    assert words in msg


@pytest.mark.parametrize("case", list(COMPATIBLE))
def test_a_compatible_change_asks_for_the_snapshot_to_be_updated(case):
    edit, words = COMPATIBLE[case]
    breaking, other = _changed(edit)
    assert breaking == [], (case, breaking)
    assert any(words in o for o in other), (case, other)
    msg = node_schema.report(breaking, other)
    assert "BREAKING" not in msg
    assert f"update the snapshot on purpose: {node_schema.WRITE}" in msg and words in msg


@pytest.mark.host
def test_an_optional_input_left_out_gets_its_default(pack):
    """What ComfyUI passes for an optional input that a prompt leaves out: nothing. execute() then runs
    with the schema's default (the prompt of a workflow saved before `axis` existed)."""
    cls = pack.nodes.NODES_BY_ID["FillBlankLambdaSchedule"]
    schema = node_schema.snapshot(pack)["FillBlankLambdaSchedule"]["inputs"]
    old = {k: v["default"] for k, v in schema.items() if k != "axis"}
    assert not schema["axis"]["required"]
    for kind in ("linear", "keyframes"):
        old["kind"] = kind
        without = cls.execute(**old)
        given = cls.execute(**old, axis=schema["axis"]["default"])
        assert without.args[0].axis == given.args[0].axis == schema["axis"]["default"]
        assert without.args[0].array(7).tolist() == given.args[0].array(7).tolist()
