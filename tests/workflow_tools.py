"""UI-format workflows (what ComfyUI saves and example_workflows/ holds) ↔ API-format prompts.

Widget values are matched to inputs the way ComfyUI's frontend does: required then optional inputs
(in ``input_order`` when /object_info gives it), a widget for every INT/FLOAT/STRING/BOOLEAN and
combo input that is not ``forceInput``, and an extra "control_after_generate" value after an input
whose options ask for one (or, the legacy convention, after INT inputs named seed / noise_seed).

Combo inputs come in two shapes: ``[[choice, ...], {...}]`` (V1 nodes) and
``["COMBO", {"options": [choice, ...], ...}]`` (V3 nodes, comfy_api; ComfyUI 2025+).
"""

from __future__ import annotations

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
SEED_NAMES = ("seed", "noise_seed")
# nodes that live only in the frontend (text boxes): never part of a prompt, no server class
FRONTEND_ONLY = ("Note", "MarkdownNote")


def _opts(spec) -> dict:
    return (spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}) or {}


def combo_choices(spec):
    """The choices of a combo input (V1 list or V3 COMBO options), or None for other inputs."""
    if isinstance(spec[0], list):
        return spec[0]
    if spec[0] == "COMBO":
        return list(_opts(spec).get("options") or [])
    return None


def is_widget(spec) -> bool:
    t = spec[0]
    return (isinstance(t, list) or t in WIDGET_TYPES) and not _opts(spec).get("forceInput")


def has_control(name: str, spec) -> bool:
    """Whether the frontend adds a control_after_generate widget after this input."""
    control = _opts(spec).get("control_after_generate")
    if control is not None:
        return bool(control)
    return spec[0] == "INT" and name in SEED_NAMES


def input_specs(info: dict):
    """[(name, spec)] of a node's inputs in order (required, then optional)."""
    out = []
    order = info.get("input_order") or {}
    for section in ("required", "optional"):
        specs = info["input"].get(section) or {}
        names = [n for n in order.get(section, []) if n in specs]
        names += [n for n in specs if n not in names]
        out.extend((name, specs[name]) for name in names)
    return out


def widget_names(info: dict) -> list:
    return [n for n, s in input_specs(info) if is_widget(s)]


def widgets_with_controls(info: dict) -> list:
    """Widget slots as the frontend stores them (None marks a control_after_generate slot)."""
    slots = []
    for n, s in input_specs(info):
        if is_widget(s):
            slots.append(n)
            if has_control(n, s):
                slots.append(None)
    return slots


def types_match(given: str, wanted: str) -> bool:
    """A link's type fits an input: equal, "*", or a common type of comma-separated type sets."""
    given = "COMBO" if isinstance(given, list) else given  # a V1 node's combo output
    if "*" in (given, wanted):
        return True
    return bool(set(str(given).split(",")) & set(str(wanted).split(",")))


def ui_to_api(workflow: dict, object_info: dict) -> dict:
    links = {l[0]: l for l in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        if node.get("mode", 0) != 0 or node["type"] in FRONTEND_ONLY:
            continue
        info = object_info[node["type"]]
        inputs = {}
        values = list(node.get("widgets_values") or [])
        slots = widgets_with_controls(info)
        for name, val in zip(slots, values):
            if name is not None:
                inputs[name] = val
        # a widget added after the workflow was saved (always at the end): the frontend gives it
        # its declared default when it loads the workflow, and sends that
        specs = dict(input_specs(info))
        for name in slots[len(values):]:
            if name is not None and "default" in _opts(specs[name]):
                inputs[name] = _opts(specs[name])["default"]
        for inp in node.get("inputs") or []:
            if inp.get("link") is not None:
                l = links[inp["link"]]
                inputs[inp["name"]] = [str(l[1]), l[2]]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def check_value(name: str, spec, value) -> str | None:
    """Why a widget value does not fit its input spec, or None."""
    t, opts = spec[0], _opts(spec)
    choices = combo_choices(spec)
    if choices is not None:
        if opts.get("multiselect") and isinstance(value, list):
            bad = [v for v in value if v not in choices]
            return f"{name}: {bad!r} are not among the choices" if bad else None
        return None if value in choices else f"{name}: {value!r} is not one of the choices"
    if t == "INT":
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{name}: {value!r} is not an INT"
    elif t == "FLOAT":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return f"{name}: {value!r} is not a FLOAT"
    elif t == "STRING":
        return None if isinstance(value, str) else f"{name}: {value!r} is not a STRING"
    elif t == "BOOLEAN":
        return None if isinstance(value, bool) else f"{name}: {value!r} is not a BOOLEAN"
    if "min" in opts and value < opts["min"]:
        return f"{name}: {value} < min {opts['min']}"
    if "max" in opts and value > opts["max"]:
        return f"{name}: {value} > max {opts['max']}"
    return None


def check_workflow(workflow: dict, object_info: dict) -> list:
    """Problems of a UI workflow against a server's /object_info (empty list = fits)."""
    problems = []
    nodes = {n["id"]: n for n in workflow["nodes"]}
    for node in workflow["nodes"]:
        if node["type"] in FRONTEND_ONLY:
            if node.get("inputs") or node.get("outputs"):
                problems.append(f"node {node['id']}: a {node['type']} has no inputs or outputs")
            continue
        if node["type"] not in object_info:
            problems.append(f"node {node['id']}: type {node['type']} does not exist")
            continue
        info = object_info[node["type"]]
        specs = dict(input_specs(info))
        slots = widgets_with_controls(info)
        values = node.get("widgets_values") or []
        optional = set((info["input"].get("optional") or {}))
        # fewer values: a workflow saved before trailing widgets were added; fine when each one
        # missing is optional with a default (the frontend fills it in), a break otherwise
        missing = [n for n in slots[len(values):] if n is not None]
        late = all(n in optional and "default" in _opts(specs[n]) for n in missing)
        if len(values) > len(slots) or (len(values) < len(slots) and not late):
            problems.append(f"node {node['id']} {node['type']}: {len(values)} widget values for {len(slots)} widgets")
        for name, val in zip(slots, values):
            if name is None:
                if val not in ("fixed", "increment", "decrement", "randomize"):
                    problems.append(f"node {node['id']}: bad control_after_generate {val!r}")
                continue
            why = check_value(name, specs[name], val)
            if why:
                problems.append(f"node {node['id']} {node['type']}: {why}")
        for inp in node.get("inputs") or []:
            if inp.get("link") is None:
                if inp["name"] in (info["input"].get("required") or {}) and not is_widget(specs[inp["name"]]):
                    problems.append(f"node {node['id']}: required input {inp['name']} is not connected")
                continue
            if inp["name"] not in specs:
                problems.append(f"node {node['id']}: no input named {inp['name']}")
                continue
    for l in workflow["links"]:
        lid, src, sslot, dst, dslot, ltype = l
        s, d = nodes.get(src), nodes.get(dst)
        if s is None or d is None:
            problems.append(f"link {lid}: missing node")
            continue
        out_types = object_info[s["type"]]["output"]
        if sslot >= len(out_types):
            problems.append(f"link {lid}: {s['type']} has no output {sslot}")
            continue
        inp = d["inputs"][dslot]
        want = dict(input_specs(object_info[d["type"]])).get(inp["name"])
        if want is None:
            problems.append(f"link {lid}: {d['type']} has no input {inp['name']}")
            continue
        want_t = want[0] if not isinstance(want[0], list) else "COMBO"
        if not types_match(out_types[sslot], want_t):
            problems.append(f"link {lid}: {s['type']}[{sslot}] gives {out_types[sslot]} but "
                            f"{d['type']}.{inp['name']} wants {want_t}")
    # every required connection input has a link
    for node in workflow["nodes"]:
        if node["type"] not in object_info:
            continue
        linked = {i["name"] for i in node.get("inputs") or [] if i.get("link") is not None}
        for name, spec in (object_info[node["type"]]["input"].get("required") or {}).items():
            if not is_widget(spec) and name not in linked:
                problems.append(f"node {node['id']} {node['type']}: required input {name} has no link")
    return problems
