"""The compatibility snapshot of every node's schema, tests/node_schema.json, and what a change breaks.

    .venv/bin/python scripts/node_schema.py           # compare the nodes with the snapshot (exit 1: differs)
    .venv/bin/python scripts/node_schema.py --write   # write the snapshot: on purpose, in the commit that
                                                      # changes the nodes

(COMFYUI_PATH names the host, as for scripts/make_node_docs.py; without it the pinned test host in the
running Python's site-packages is used. bash scripts/test.sh sets up .venv.)

In the spirit of Comfy-Org's node-diff: what saved workflows (UI format: links by output slot, widget
values by position) and API prompts (inputs by name, checked by the server) rely on is recorded per
node: its id, every input's name, type, required or optional, default, min / max and combo options,
the widgets in the order a saved workflow stores their values, and the outputs' types and names.
tests/test_node_schema.py compares the live nodes with the snapshot: a difference that breaks what
users saved fails as BREAKING, with the reason; any other difference fails until the snapshot is
updated on purpose (the command above), so that every schema change is a reviewed line in a diff.

Lists that the user's ComfyUI fills in (its samplers and schedulers, the files in a model folder) are
named, not listed: the snapshot does not depend on the ComfyUI version or the files on disk.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO / "tests" / "node_schema.json"
WRITE = ".venv/bin/python scripts/node_schema.py --write"
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))
import make_node_docs  # noqa: E402  (load_pack, node_info: the one way scripts read the nodes)
from workflow_tools import combo_choices, input_specs, is_widget, widgets_with_controls  # noqa: E402

CONTROL = "(control_after_generate)"  # the frontend's extra widget slot after a seed
RANGE = ("min", "max")


# --- the snapshot ---------------------------------------------------------------------------------

def host_list_name(choices) -> str | None:
    """The name of a combo list the user's ComfyUI fills in, or None for the pack's own choices."""
    try:
        import comfy.samplers
        if choices == list(comfy.samplers.KSampler.SAMPLERS):
            return "host: KSampler samplers"
        if choices == list(comfy.samplers.KSampler.SCHEDULERS):
            return "host: KSampler schedulers"
    except (ImportError, AttributeError):
        pass
    try:
        import folder_paths
    except ImportError:
        return None
    for name in folder_paths.folder_names_and_paths:
        try:
            if choices == list(folder_paths.get_filename_list(name)):
                # not the folder's name: an empty folder lists the same as any other empty one
                return "host: files in a model folder"
        except Exception:  # a folder the host cannot list: not this one
            continue
    return None


def node_schema(info: dict) -> dict:
    """What saved workflows and API prompts rely on, of one node's /object_info entry."""
    required = set((info.get("input") or {}).get("required") or {})
    inputs = {}
    for name, spec in input_specs(info):
        opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
        choices = combo_choices(spec)
        entry = {"type": "COMBO" if choices is not None else str(spec[0]), "required": name in required}
        if "default" in opts:
            entry["default"] = opts["default"]
        entry.update({k: opts[k] for k in RANGE if opts.get(k) is not None})
        if choices is not None:
            entry["options"] = host_list_name(choices) or list(choices)
        entry["widget"] = is_widget(spec)
        inputs[name] = entry
    outputs = list(info.get("output") or [])
    names = list(info.get("output_name") or outputs)
    return {"inputs": inputs,
            "widgets": [CONTROL if n is None else n for n in widgets_with_controls(info)],
            "outputs": [{"type": "COMBO" if isinstance(t, (list, tuple)) else str(t), "name": n}
                        for t, n in zip(outputs, names)]}


def snapshot(pack) -> dict:
    """{node id: schema} of every node the pack registers."""
    return {node_id: node_schema(make_node_docs.node_info(cls))
            for node_id, cls in sorted(pack.nodes.NODES_BY_ID.items())}


def dumps(snap: dict) -> str:
    """JSON with one line per input, widget list and output list: a change is a one-line diff."""
    def one(value) -> str:
        return json.dumps(value, ensure_ascii=False)
    nodes = []
    for nid, node in snap.items():
        inputs = ",\n".join(f"   {one(name)}: {one(spec)}" for name, spec in node["inputs"].items())
        nodes.append(f" {one(nid)}: {{\n  \"inputs\": {{\n{inputs}\n  }},\n"
                     f"  \"widgets\": {one(node['widgets'])},\n  \"outputs\": {one(node['outputs'])}\n }}")
    return "{\n" + ",\n".join(nodes) + "\n}\n"


# --- the comparison -------------------------------------------------------------------------------

def compare(old: dict, new: dict) -> tuple[list[str], list[str]]:
    """(breaking, other): what of `old` the nodes `new` break for saved workflows and API prompts,
    each with the reason; and every other difference."""
    breaking: list[str] = []
    other: list[str] = []
    for nid in old:
        if nid not in new:
            breaking.append(f"node {nid} was removed or renamed: saved workflows and API prompts that use it "
                            f"no longer load (node ids are never renamed once shipped)")
    for nid in new:
        if nid not in old:
            other.append(f"node {nid} is new")
    for nid in (n for n in old if n in new):
        _compare_node(nid, old[nid], new[nid], breaking, other)
    return breaking, other


def _compare_node(nid: str, o: dict, n: dict, breaking: list, other: list) -> None:
    oi, ni = o["inputs"], n["inputs"]
    for name, was in oi.items():
        where = f"{nid}.{name}"
        now = ni.get(name)
        if now is None:
            breaking.append(f"input {where} was removed or renamed: API prompts that set it and saved "
                            "workflows' links and values to it are lost (inputs are never removed or renamed)")
            continue
        if now["type"] != was["type"]:
            breaking.append(f"input {where} changed type {was['type']} -> {now['type']}: links and values "
                            "saved for the old type no longer fit")
        if now["required"] and not was["required"]:
            breaking.append(f"input {where} turned required: API prompts without it are refused "
                            f"(\"Required input is missing: {name}\")")
        elif was["required"] and not now["required"]:
            other.append(f"input {where} is optional now")
        if "options" in was and "options" in now and was["options"] != now["options"]:
            if isinstance(was["options"], list) and isinstance(now["options"], list):
                gone = [c for c in was["options"] if c not in now["options"]]
                if gone:
                    breaking.append(f"input {where} lost the choices {gone}: prompts and workflows that chose "
                                    "them are refused (\"Value not in list\")")
                added = [c for c in now["options"] if c not in was["options"]]
                if added:
                    other.append(f"input {where} has new choices {added}")
                if not gone and not added:
                    other.append(f"input {where} lists its choices in another order")
            else:
                other.append(f"input {where} choices {was['options']!r} -> {now['options']!r}")
        lo_was, lo_now = was.get("min"), now.get("min")
        hi_was, hi_now = was.get("max"), now.get("max")
        if (lo_now is not None and (lo_was is None or lo_now > lo_was)) or \
                (hi_now is not None and (hi_was is None or hi_now < hi_was)):
            breaking.append(f"input {where} range narrowed [{lo_was}, {hi_was}] -> [{lo_now}, {hi_now}]: saved "
                            "values outside the new range are refused")
        elif (lo_was, hi_was) != (lo_now, hi_now):
            other.append(f"input {where} range widened [{lo_was}, {hi_was}] -> [{lo_now}, {hi_now}]")
        if was.get("default") != now.get("default"):
            other.append(f"input {where} default {was.get('default')!r} -> {now.get('default')!r}")
        if was["widget"] != now["widget"]:
            other.append(f"input {where} {'is a widget now' if now['widget'] else 'is a socket only now'}")
    for name, now in ni.items():
        if name in oi:
            continue
        if now["required"]:
            breaking.append(f"input {nid}.{name} is new and required: API prompts written before it are "
                            f"refused (\"Required input is missing: {name}\"); give it optional=True and a default")
        else:
            other.append(f"input {nid}.{name} is new (optional)")
    # saved workflows store widget values by position: the old slots must stay, in order, at the front
    ow, nw = o["widgets"], n["widgets"]
    if nw[:len(ow)] != ow:
        breaking.append(f"widgets of {nid} moved {ow} -> {nw}: saved workflows store widget values by "
                        "position, so old ones would fill the wrong widgets (add new widgets at the end)")
    elif nw != ow:
        other.append(f"widgets of {nid}: {nw[len(ow):]} added at the end")
    # links are saved by output slot
    oo, no = o["outputs"], n["outputs"]
    for k, out in enumerate(oo):
        if k >= len(no):
            breaking.append(f"output {k} ({out['name']}) of {nid} was removed: links saved from it are lost")
        elif no[k]["type"] != out["type"]:
            breaking.append(f"output {k} of {nid} changed type {out['type']} -> {no[k]['type']}: links saved "
                            "from that slot no longer fit (outputs are linked by position; add new ones at the end)")
        elif no[k]["name"] != out["name"]:
            other.append(f"output {k} of {nid} renamed {out['name']} -> {no[k]['name']}")
    for k in range(len(oo), len(no)):
        other.append(f"output {k} ({no[k]['name']}) of {nid} is new")


def report(breaking: list[str], other: list[str]) -> str:
    """The message for a difference (empty when there is none)."""
    lines = []
    if breaking:
        lines.append(f"BREAKING change of the node schema against {SNAPSHOT.relative_to(REPO)} (saved workflows "
                     "and API prompts written for the released nodes break):")
        lines += [f"  - {b}" for b in breaking]
        lines.append("Make the change compatible; only if breaking users' workflows is really intended, "
                     f"update the snapshot on purpose: {WRITE}")
    if other:
        lines.append(f"The node schema differs from {SNAPSHOT.relative_to(REPO)} (compatible):")
        lines += [f"  - {x}" for x in other]
        lines.append(f"update the snapshot on purpose: {WRITE} (and commit it with the change)")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help=f"write {SNAPSHOT.relative_to(REPO)} from the nodes")
    args = ap.parse_args(argv)
    live = snapshot(make_node_docs.load_pack())
    if not live:
        print("the pack registered no nodes (is ComfyUI importable?)", file=sys.stderr)
        return 2
    old = json.loads(SNAPSHOT.read_text(encoding="utf-8")) if SNAPSHOT.is_file() else {}
    breaking, other = compare(old, live)
    if args.write:
        SNAPSHOT.write_text(dumps(live), encoding="utf-8")
        for line in breaking + other:
            print(f"recorded: {line}")
        print(f"wrote {SNAPSHOT.relative_to(REPO)} ({len(live)} nodes)")
        return 0
    if breaking or other:
        print(report(breaking, other))
        return 1
    print(f"{len(live)} nodes match {SNAPSHOT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
