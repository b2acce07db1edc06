"""End to end over HTTP: the host server with the pack loaded runs example (a), the SAM / rank example
and the Fill-in Insert example on a large photo, checks every example workflow against
/object_info, and answers bad input with clear errors while staying up."""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from host_server import ComfyServer, error_text
from workflow_tools import check_workflow, ui_to_api

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import make_workflows as mw  # noqa: E402  (the examples' keys and file names)

pytestmark = pytest.mark.host
EXAMPLES = sorted((REPO / "example_workflows").glob("*.json"))
# the example workflows exactly as saved before the V3 node schema: users' saved graphs
# must keep loading and running whatever the node classes become
SAVED = sorted((REPO / "tests" / "saved_workflows").glob("*.json"))
# the example workflows' API prompts as first released (scripts/old_api_prompts.py recovered them from
# git history): what scripts that drive ComfyUI over HTTP keep sending, whatever inputs came since
OLD_PROMPTS = sorted((REPO / "tests" / "api_prompts").glob("*.json"))
SCENE_HW = (96, 128)
PHOTO_HW = (1536, 2048)  # the large photo of the Fill-in Insert example
PHOTO_HOLE = (1200, 700, 1500, 1100)  # x0, y0, x1, y1 painted transparent
FRONT_X = (60, 67)  # the post painted in front of the place in fillblank_front.png (the behind example)


def _make_inputs(folder: Path):
    """Scene PNG whose transparent pixels are the painted hole (as ComfyUI's mask editor saves it),
    and an RGBA target cut-out."""
    rng = np.random.default_rng(0)
    H, W = SCENE_HW
    yy, xx = np.mgrid[0:H, 0:W]
    scene = np.stack([80 + 100 * xx / W, 120 + 60 * yy / H, 140 + 0 * xx], -1) + rng.normal(0, 6, (H, W, 3))
    rgba = np.concatenate([np.clip(scene, 0, 255), np.full((H, W, 1), 255.0)], -1).astype(np.uint8)
    rgba[50:80, 50:80, 3] = 0  # the hole
    Image.fromarray(rgba, "RGBA").save(folder / "fillblank_scene.png")
    t = np.zeros((48, 48, 4), np.uint8)
    ty, tx = np.mgrid[0:48, 0:48]
    disc = (ty - 24) ** 2 + (tx - 24) ** 2 < 20 ** 2
    t[disc] = (220, 40, 30, 255)
    Image.fromarray(t, "RGBA").save(folder / "fillblank_target.png")
    t2 = np.zeros((40, 24, 4), np.uint8)  # the second object of the two-objects example: a blue bar
    t2[4:36, 4:20] = (30, 60, 210, 255)
    Image.fromarray(t2, "RGBA").save(folder / "fillblank_target_2.png")
    front = np.asarray(Image.open(folder / "fillblank_scene.png")).copy()  # the scene, a post painted in front
    front[..., 3] = 255
    front[:, FRONT_X[0]:FRONT_X[1], 3] = 0
    Image.fromarray(front, "RGBA").save(folder / "fillblank_front.png")
    H, W = PHOTO_HW
    yy, xx = np.mgrid[0:H, 0:W]
    photo = np.stack([60 + 120 * xx / W, 110 + 80 * yy / H, 150 - 40 * xx / W], -1) + rng.normal(0, 5, (H, W, 3))
    rgba = np.concatenate([np.clip(photo, 0, 255), np.full((H, W, 1), 255.0)], -1).astype(np.uint8)
    x0, y0, x1, y1 = PHOTO_HOLE
    rgba[y0:y1, x0:x1, 3] = 0
    Image.fromarray(rgba, "RGBA").save(folder / "fillblank_photo.png", compress_level=1)


@pytest.fixture(scope="module")
def server(comfy_host, tmp_path_factory):
    work = tmp_path_factory.mktemp("comfy")
    # the example's checkpoint name must be a choice of CheckpointLoaderSimple: an empty stand-in
    # file (the tests swap in the tiny test model before running anything)
    (work / "models" / "checkpoints").mkdir(parents=True)
    (work / "models" / "checkpoints" / "v1-5-pruned-emaonly.safetensors").write_bytes(b"")
    (work / "models" / "sams").mkdir(parents=True)
    # a tiny real SAM under the example's file name (its type is detected as "custom")
    import torch
    from test_core_segment import make_tiny_sam
    torch.save(make_tiny_sam(0).state_dict(), work / "models" / "sams" / "sam_vit_b_01ec64.pth")
    srv = ComfyServer(comfy_host, work)
    srv.start()
    _make_inputs(srv.input_dir)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def info(server):
    return server.object_info()


def _tiny(prompt: dict) -> dict:
    """Swap the real checkpoint / text encoders for the test-only tiny ones (no weights here)."""
    p = copy.deepcopy(prompt)
    for node in p.values():
        if node["class_type"] == "CheckpointLoaderSimple":
            node["class_type"] = "FillBlankTestTinyCheckpoint"
            node["inputs"] = {"ckpt_name": "tiny"}
        elif node["class_type"] == "CLIPTextEncode":
            node["class_type"] = "FillBlankTestConditioning"
    return p


def _basic(info, steps=4, seed=42) -> dict:
    wf = json.loads(mw.path("fillblank_basic_insertion").read_text())
    p = _tiny(ui_to_api(wf, info))
    sampler = next(n for n in p.values() if n["class_type"] == "FillBlankSampler")
    sampler["inputs"].update(steps=steps, jump_length=2, seed=seed)
    return p


def _node(p, cls):
    return next(k for k, n in p.items() if n["class_type"] == cls)


def _inputs_digest(server) -> dict:
    """Every file under the input folder (sub-folders too) by its path and content. Folders alone do
    not count: ComfyUI 0.3.x (2025) creates an empty input/3d for its Load3D node."""
    return {str(f.relative_to(server.input_dir)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(server.input_dir.rglob("*")) if f.is_file()}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_workflow_fits_object_info(info, path):
    wf = json.loads(path.read_text())
    # file choices (LoadImage's images, the checkpoint) are the files the fixture put in place
    problems = check_workflow(wf, info)
    assert problems == [], "\n".join(problems)


def test_example_a_end_to_end(server, info, artifacts):
    kind, entry = server.run(_basic(info))
    assert kind == "success", error_text(kind, entry) + server.log_text()[-3000:]
    save = _node(_basic(info), "SaveImage")
    images = entry["outputs"][save]["images"]
    assert len(images) == 1
    out_png = server.output_dir / images[0].get("subfolder", "") / images[0]["filename"]
    result = np.asarray(Image.open(out_png).convert("RGB"))
    (artifacts / "e2e_basic.png").write_bytes(out_png.read_bytes())
    scene_rgba = np.asarray(Image.open(server.input_dir / "fillblank_scene.png"))
    assert result.shape[:2] == scene_rgba.shape[:2] == SCENE_HW
    # the hole used: union of the painted hole and the target's silhouette, grown 8 px, feathered 8 px
    import torch
    from fillblank_core import masks as M
    from fillblank_core.placement import place_target
    from fillblank_core.segment import object_mask_from
    hole = torch.from_numpy((scene_rgba[..., 3] == 0).astype(np.float32))[None, None]
    tgt = torch.from_numpy(np.asarray(Image.open(server.input_dir / "fillblank_target.png")).astype(np.float32) / 255)
    tgt = tgt.permute(2, 0, 1)[None]
    enc = _basic(info)[_node(_basic(info), "FillBlankTargetEncoder")]["inputs"]
    _, sil, _ = place_target(tgt[:, :3], object_mask_from(tgt), SCENE_HW, enc["x"], enc["y"], enc["scale"], enc["flip"])
    soft = M.feather(M.grow(M.union(hole, M.threshold(sil, 0.0)), 8), 8)[0, 0].numpy()
    outside = soft == 0
    assert outside.sum() > 0.3 * outside.size
    assert np.array_equal(result[outside], scene_rgba[..., :3][outside]), "scene bytes must be unchanged outside the hole"
    assert not np.array_equal(result[~outside], scene_rgba[..., :3][~outside])


def _load_image(path: Path):
    """What LoadImage gives for an RGBA PNG: IMAGE [1,H,W,3] and MASK [1,H,W] = 1 − alpha."""
    import torch
    im = Image.open(path)
    rgb = torch.from_numpy(np.asarray(im.convert("RGB")).astype(np.float32) / 255.0)[None]
    mask = 1.0 - torch.from_numpy(np.asarray(im.getchannel("A")).astype(np.float32) / 255.0)[None]
    return rgb, mask


def test_example_insert_large_photo_end_to_end(server, info, artifacts):
    """The 7-node Fill-in Insert example on a 2048x1536 photo: full size out, the photo's bytes
    outside the feathered hole used."""
    wf = json.loads(mw.path("fillblank_insert_large_photo").read_text())
    assert len([n for n in wf["nodes"] if n["type"] not in ("Note", "MarkdownNote")]) == 7
    p = _tiny(ui_to_api(wf, info))
    ins = p[_node(p, "FillBlankInsert")]["inputs"]
    ins.update(steps=4, jump_length=2, working_size=256)
    kind, entry = server.run(p)
    assert kind == "success", error_text(kind, entry) + server.log_text()[-3000:]
    images = entry["outputs"][_node(p, "SaveImage")]["images"]
    assert len(images) == 1
    out_png = server.output_dir / images[0].get("subfolder", "") / images[0]["filename"]
    result = np.asarray(Image.open(out_png).convert("RGB"))
    photo = np.asarray(Image.open(server.input_dir / "fillblank_photo.png"))
    assert result.shape[:2] == photo.shape[:2] == PHOTO_HW
    # the hole the node used, worked out by the core from the same inputs
    from fillblank_core import insert as I
    from fillblank_core import masks as M
    scene, hole = _load_image(server.input_dir / "fillblank_photo.png")
    target, tmask = _load_image(server.input_dir / "fillblank_target.png")
    prep = I.prepare(M.to_bchw(scene), M.to_bchw(target), (1.0 - tmask)[:, None], I.scene_hole(hole, PHOTO_HW),
                     fit=ins["fit"], x=ins["x"], y=ins["y"], scale=ins["scale"], flip=ins["flip"],
                     working_size=ins["working_size"], context=ins["context"], feather=ins["feather"],
                     color_match=ins["color_match"])
    soft = M.feather(M.mask_b1hw(prep.hole), ins["feather"])[0, 0].numpy()
    outside = soft == 0
    assert outside.sum() > 0.9 * outside.size
    assert np.array_equal(result[outside], photo[..., :3][outside]), "photo bytes must be unchanged outside the hole"
    assert not np.array_equal(result[~outside], photo[..., :3][~outside])
    x0, y0, x1, y1 = PHOTO_HOLE
    Image.fromarray(result[y0 - 100:y1 + 100, x0 - 100:x1 + 100]).save(artifacts / "e2e_insert_crop.png")


def _select(info, steps=4) -> dict:
    """Example (b), the SAMPLER variant: Sampler Select in SamplerCustom with Set Latent Noise Mask."""
    wf = json.loads(mw.path("fillblank_samplercustom_resampling").read_text())
    p = _tiny(ui_to_api(wf, info))
    p[_node(p, "BasicScheduler")]["inputs"].update(steps=steps)
    p[_node(p, "FillBlankSamplerSelect")]["inputs"].update(jump_length=2, resample=1)
    return p


def _bad_cases(info):
    """{name: (prompt, words the error must contain, words it must not contain)}."""
    base = _basic(info)
    enc, ref, sam, lam = (_node(base, c) for c in ("FillBlankTargetEncoder", "FillBlankMaskRefiner",
                                                     "FillBlankSampler", "FillBlankLambdaSchedule"))
    cases = {}

    def case(name, words, edit, start=None, never=()):
        p = copy.deepcopy(base if start is None else start)
        edit(p)
        cases[name] = (p, words, never)

    def mask_node(p, w, h, x0, y0, x1, y1, mode="hole", batch=1):
        p["900"] = {"class_type": "FillBlankTestMask",
                    "inputs": dict(width=w, height=h, x0=x0, y0=y0, x1=x1, y1=y1, batch=batch)}
        p[ref]["inputs"].update(mode=mode, hole=["900", 0])

    def image_node(p, key, w, h, c, b):
        p[key] = {"class_type": "FillBlankTestImage", "inputs": dict(width=w, height=h, channels=c, batch=b)}
        return [key, 0]

    H, W = SCENE_HW
    case("hole of another size", ["hole", "size"], lambda p: mask_node(p, 64, 64, 0, 0, 10, 10))
    case("empty hole", ["hole", "empty"], lambda p: mask_node(p, W, H, 0, 0, 0, 0))
    case("hole covering everything", ["hole", "whole image"], lambda p: mask_node(p, W, H, 0, 0, W, H))
    case("target off the canvas", ["off the canvas", "x"], lambda p: p[enc]["inputs"].update(x=1.5, y=1.5, scale=0.1))
    case("scale 0", ["scale"], lambda p: p[enc]["inputs"].update(scale=0.0))
    case("malformed keyframes", ["keyframes", "zebra"],
         lambda p: p[lam]["inputs"].update(kind="keyframes", keyframes="0:1, zebra, 1:0"))
    case("keyframe value out of range", ["keyframes", "[0, 1]"],
         lambda p: p[lam]["inputs"].update(kind="keyframes", keyframes="0:1.5, 1:0"))

    def batches(p):
        p[enc]["inputs"]["scene"] = image_node(p, "901", W, H, 3, 2)
        p[enc]["inputs"]["target"] = image_node(p, "902", 32, 32, 3, 3)
        p[enc]["inputs"].pop("target_mask")
    case("scene batch 2, target batch 3", ["batch", "scene", "target"], batches)

    def gray(p):
        p[enc]["inputs"]["target"] = image_node(p, "903", 32, 32, 1, 1)
        p[enc]["inputs"].pop("target_mask")
    case("grayscale target", ["target", "channel"], gray)
    case("RGBA scene", ["scene", "RGB", "4 channels"], lambda p: p[enc]["inputs"].update(scene=image_node(p, "904", W, H, 4, 1)))

    def latent_size(p):
        p["905"] = {"class_type": "EmptyLatentImage", "inputs": dict(width=64, height=64, batch_size=1)}
        p[sam]["inputs"]["latent_image"] = ["905", 0]
    case("latent of another size", ["latent_image", "scene"], latent_size)

    def nan(p):
        p["906"] = {"class_type": "FillBlankTestPoisonLatent", "inputs": {"samples": p[sam]["inputs"]["latent_image"]}}
        p[sam]["inputs"]["latent_image"] = ["906", 0]
    case("NaN in the latent", ["latent_image", "NaN"], nan)
    case("resample 0", ["resample"], lambda p: p[sam]["inputs"].update(resample=0))
    case("jump_length 0", ["jump_length"], lambda p: p[sam]["inputs"].update(jump_length=0))
    case("refiner mode without its input", ["needs the target input"],
         lambda p: (p[ref]["inputs"].pop("target"), p[ref]["inputs"].update(mode="silhouette")))

    # --- the nine cases that once fell short ------------------------------------------------------
    case("scene empty batch", ["FillBlankTargetEncoder", "scene", "empty batch"],
         lambda p: p[enc]["inputs"].update(scene=image_node(p, "907", W, H, 3, 0)), never=["NoneType"])

    def empty_target(p):
        p[enc]["inputs"]["target"] = image_node(p, "908", 32, 32, 3, 0)
        p[enc]["inputs"].pop("target_mask")
    case("target empty batch", ["FillBlankTargetEncoder", "target", "empty batch"], empty_target,
         never=["object mask is empty"])

    def empty_rank(p):
        save = _node(p, "SaveImage")
        p.pop(save)
        p["909"] = {"class_type": "FillBlankRank", "inputs": {"images": image_node(p, "910", W, H, 3, 0),
                                                              "target": [enc, 0]}}
        p["911"] = {"class_type": "PreviewImage", "inputs": {"images": ["909", 1]}}
    case("rank images empty batch", ["FillBlankRank", "images", "empty batch"], empty_rank,
         never=["candidates"])

    def empty_latent(p):
        p["912"] = {"class_type": "FillBlankTestLatent",
                    "inputs": {"samples": p[sam]["inputs"]["latent_image"], "batch": 0, "channels": 4}}
        p[sam]["inputs"]["latent_image"] = ["912", 0]
    case("latent empty batch", ["FillBlankSampler", "latent_image", "empty batch"], empty_latent)
    case("hole batch 2 with latent batch 1", ["FillBlankSampler", "hole", "batch 2", "latent_image", "batch 1"],
         lambda p: mask_node(p, W, H, 50, 50, 80, 80, mode="union", batch=2), never=["expanded size"])
    case("grow -128 shrinks the hole to nothing", ["FillBlankMaskRefiner", "grow", "-128", "nothing"],
         lambda p: p[ref]["inputs"].update(grow=-128))

    sel = _select(info)
    s_enc, s_noise, s_vae_enc, s_custom = (_node(sel, c) for c in (
        "FillBlankTargetEncoder", "SetLatentNoiseMask", "VAEEncode", "SamplerCustom"))
    case("select without Set Latent Noise Mask", ["Sampler Select", "Set Latent Noise Mask"],
         lambda p: p[s_custom]["inputs"].update(latent_image=[s_vae_enc, 0]), start=sel)

    def sixteen(p):
        p["913"] = {"class_type": "FillBlankTestLatent", "inputs": {"samples": [s_vae_enc, 0], "batch": 1, "channels": 16}}
        p[s_noise]["inputs"]["samples"] = ["913", 0]
    case("select 16-channel latent, 4-channel target", ["Sampler Select", "latent_image", "16 channels",
                                                          "target", "4 channels", "VAE"], sixteen, start=sel,
         never=["[1 or 1"])

    def select_size(p):
        p["914"] = {"class_type": "EmptyLatentImage", "inputs": dict(width=64, height=64, batch_size=1)}
        p[s_noise]["inputs"]["samples"] = ["914", 0]
    case("select latent of another size", ["Sampler Select", "latent_image", "64x64", f"{W}x{H}", "scene"],
         select_size, start=sel, never=["[1 or 1"])
    return cases


BAD_CASES = ["hole of another size", "empty hole", "hole covering everything", "target off the canvas",
             "scale 0", "malformed keyframes", "keyframe value out of range", "scene batch 2, target batch 3",
             "grayscale target", "RGBA scene", "latent of another size", "NaN in the latent", "resample 0",
             "jump_length 0", "refiner mode without its input",
             "scene empty batch", "target empty batch", "rank images empty batch", "latent empty batch",
             "hole batch 2 with latent batch 1", "grow -128 shrinks the hole to nothing",
             "select without Set Latent Noise Mask", "select 16-channel latent, 4-channel target",
             "select latent of another size"]


@pytest.fixture(scope="module")
def bad_cases(info):
    cases = _bad_cases(info)
    assert sorted(cases) == sorted(BAD_CASES)
    return cases


@pytest.fixture(scope="module")
def inputs_before(server):
    return _inputs_digest(server)


@pytest.mark.parametrize("name", BAD_CASES)
def test_bad_input_gives_a_clear_error(server, bad_cases, inputs_before, name):
    prompt, words, never = bad_cases[name]
    kind, body = server.run(prompt)
    text = error_text(kind, body)
    assert kind != "success", f"{name}: ran without an error"
    missing = [w for w in words if w.lower() not in text.lower()]
    assert not missing, f"{name}: the error does not mention {missing}: {text[:600]}"
    found = [w for w in never if w.lower() in text.lower()]
    assert not found, f"{name}: the error still says {found}: {text[:600]}"
    assert not ("Traceback" in text and kind == "rejected"), f"{name}: raw traceback"


def test_server_keeps_running_after_bad_input(server, info, bad_cases, inputs_before):
    """After the bad prompts above (and whatever else ran): a good prompt runs, the server is up,
    no input file changed."""
    kind, entry = server.run(_basic(info, seed=4242))
    assert kind == "success", error_text(kind, entry)
    assert server.proc.poll() is None, "the server must still be running"
    assert _inputs_digest(server) == inputs_before, "input files must not be modified"


def test_example_sam_cutout_rank4_end_to_end(server, info):
    wf = json.loads(mw.path("fillblank_sam_cutout_rank4").read_text())
    p = _tiny(ui_to_api(wf, info))
    p[_node(p, "FillBlankSampler")]["inputs"].update(steps=4, jump_length=2)
    kind, entry = server.run(p)
    assert kind == "success", error_text(kind, entry) + server.log_text()[-3000:]
    best = entry["outputs"][_node(p, "SaveImage")]["images"]
    ranked = entry["outputs"][_node(p, "PreviewImage")]["images"]
    assert len(best) == 1 and len(ranked) == 4
    out = Image.open(server.output_dir / best[0].get("subfolder", "") / best[0]["filename"])
    assert out.size == (SCENE_HW[1], SCENE_HW[0])


def _quick(p: dict) -> dict:
    """Few steps for a test run; everything else as saved."""
    for node in p.values():
        i = node["inputs"]
        if isinstance(i.get("steps"), int):
            i["steps"] = 4
        if isinstance(i.get("jump_length"), int):
            i["jump_length"] = 2
        if isinstance(i.get("resample"), int):
            i["resample"] = min(i["resample"], 2)
        if isinstance(i.get("working_size"), int):
            i["working_size"] = 256
    return p


def test_example_two_objects_end_to_end(server, info, artifacts):
    """The two-objects example in API format: two chained Target Encoders (add_to), one union hole
    with contact shadows, one Fill-in Sampler; it queues and runs, both objects' areas are repainted
    and the scene's bytes stay outside the hole used."""
    wf = json.loads(mw.path("fillblank_two_objects").read_text())
    p = _quick(_tiny(ui_to_api(wf, info)))
    encs = [k for k, n in p.items() if n["class_type"] == "FillBlankTargetEncoder"]
    assert len(encs) == 2 and any(p[k]["inputs"].get("add_to") == [other, 0] for k in encs for other in encs)
    kind, entry = server.run(p)
    assert kind == "success", error_text(kind, entry) + server.log_text()[-3000:]
    images = entry["outputs"][_node(p, "SaveImage")]["images"]
    out_png = server.output_dir / images[0].get("subfolder", "") / images[0]["filename"]
    (artifacts / "e2e_two_objects.png").write_bytes(out_png.read_bytes())
    result = np.asarray(Image.open(out_png).convert("RGB")).astype(int)
    scene = np.asarray(Image.open(server.input_dir / "fillblank_scene.png").convert("RGB")).astype(int)
    changed = np.abs(result - scene).sum(-1) > 0
    H, W = SCENE_HW
    for k in encs:  # each object's centre lies in the repainted area
        e = p[k]["inputs"]
        assert changed[int(e["y"] * H), int(e["x"] * W)], (k, e)
    assert 0 < changed.mean() < 0.9


def test_example_behind_end_to_end(server, info, artifacts):
    """The behind example in API format: in_front (a second Load Image's MASK, a post painted) on Target
    Encoder and Composite; it runs, the post's pixels are the scene's bytes, exactly, the hole beside
    them is repainted."""
    wf = json.loads(mw.path("fillblank_behind").read_text())
    p = _quick(_tiny(ui_to_api(wf, info)))
    uses = [k for k, n in p.items() if "in_front" in n["inputs"]]
    assert sorted(p[k]["class_type"] for k in uses) == ["FillBlankComposite", "FillBlankTargetEncoder"]
    kind, entry = server.run(p)
    assert kind == "success", error_text(kind, entry) + server.log_text()[-3000:]
    images = entry["outputs"][_node(p, "SaveImage")]["images"]
    out_png = server.output_dir / images[0].get("subfolder", "") / images[0]["filename"]
    (artifacts / "e2e_behind.png").write_bytes(out_png.read_bytes())
    result = np.asarray(Image.open(out_png).convert("RGB")).astype(int)
    scene = np.asarray(Image.open(server.input_dir / "fillblank_scene.png").convert("RGB")).astype(int)
    changed = np.abs(result - scene).sum(-1) > 0
    post = np.zeros(SCENE_HW, bool)
    post[:, FRONT_X[0]:FRONT_X[1]] = True
    assert not changed[post].any(), "what stands in front must be the scene's bytes"
    assert changed[50:80, 50:FRONT_X[0]].mean() > 0.5 and changed[50:80, FRONT_X[1]:80].mean() > 0.5


@pytest.mark.parametrize("path", SAVED, ids=[p.stem for p in SAVED])
def test_saved_workflow_still_loads_and_runs(server, info, path):
    """A workflow saved with an earlier version of the pack: it fits today's nodes (same node ids,
    same widget order) and its API form runs to the end, every image output filled."""
    wf = json.loads(path.read_text())
    problems = check_workflow(wf, info)
    assert problems == [], "\n".join(problems)
    p = _quick(_tiny(ui_to_api(wf, info)))
    kind, entry = server.run(p)
    assert kind == "success", error_text(kind, entry) + server.log_text()[-3000:]
    outputs = [k for k, n in p.items() if n["class_type"] in ("SaveImage", "PreviewImage")]
    assert outputs and all(entry["outputs"][k]["images"] for k in outputs)


def test_old_api_prompts_are_the_examples_before_the_inputs_added_since(info):
    """One first-release prompt per example, and they are old: the Lambda Schedule in them has no
    axis (it came later) and every pack node's inputs are a subset of today's."""
    # named by the examples' keys (their first-release file names; the files are named for their titles since)
    # (examples added since, mw.NEWER, have none)
    assert sorted(mw.EXAMPLES) == sorted(mw.key_of(p) for p in EXAMPLES)
    assert sorted(p.stem for p in OLD_PROMPTS) == sorted(set(mw.EXAMPLES) - set(mw.NEWER))
    schedules = []
    for path in OLD_PROMPTS:
        prompt = json.loads(path.read_text())["prompt"]
        for node in prompt.values():
            if node["class_type"].startswith("FillBlank"):
                specs = info[node["class_type"]]["input"]
                assert set(node["inputs"]) <= {*specs.get("required", {}), *specs.get("optional", {})}, path.name
            if node["class_type"] == "FillBlankLambdaSchedule":
                schedules.append(node["inputs"])
    assert len(schedules) == 3 and all("axis" not in s and "kind" in s for s in schedules)


@pytest.mark.parametrize("path", OLD_PROMPTS, ids=[p.stem for p in OLD_PROMPTS])
def test_api_prompt_of_the_first_release_still_queues_and_runs(server, path):
    """An API prompt from before the inputs added since (tests/api_prompts/): queued as it was (only the
    tiny test model in, fewer steps), the server accepts it and runs it to the end, every image
    output filled. A new required input would have it refused ("Required input is missing")."""
    p = _quick(_tiny(json.loads(path.read_text())["prompt"]))
    kind, entry = server.run(p)
    assert kind == "success", error_text(kind, entry) + server.log_text()[-3000:]
    outputs = [k for k, n in p.items() if n["class_type"] in ("SaveImage", "PreviewImage")]
    assert outputs and all(entry["outputs"][k]["images"] for k in outputs)


@pytest.mark.parametrize("name", ["malformed keyframes", "keyframe value out of range"])
def test_bad_keyframes_are_refused_when_the_prompt_is_queued(server, bad_cases, name):
    """validate_inputs of the V3 schema: the prompt is refused before it is queued, and the error
    sits on the Lambda Schedule node's keyframes input."""
    prompt, words, _ = bad_cases[name]
    kind, body = server.run(prompt)
    assert kind == "rejected", f"{name}: expected a refusal before queueing, got {kind}"
    lam = _node(prompt, "FillBlankLambdaSchedule")
    errors = body["node_errors"][lam]["errors"]
    assert any(e["extra_info"]["input_name"] == "keyframes" and all(w in e["details"] for w in words[1:])
               for e in errors), errors


@pytest.mark.parametrize("keyframes, ok", [("0:1, 0.5:1, 0.9:0", True), ("0:1, zebra, 1:0", False)])
def test_keyframes_from_another_node(server, info, keyframes, ok):
    """keyframes linked to a String node (every widget has a socket in today's frontend): the
    value is unknown when the prompt is validated, so it is queued, runs with good keyframes and
    stops with the keyframes error (before sampling) with bad ones."""
    p = _basic(info, seed=77)
    p["fb_string"] = {"class_type": "PrimitiveString", "inputs": {"value": keyframes}}
    lam = p[_node(p, "FillBlankLambdaSchedule")]["inputs"]
    lam.update(kind="keyframes", keyframes=["fb_string", 0])
    kind, entry = server.run(p)
    if ok:
        assert kind == "success", error_text(kind, entry) + server.log_text()[-3000:]
    else:
        assert kind == "error", f"expected a run-time error, got {kind}"
        assert "keyframes" in error_text(kind, entry) and "zebra" in error_text(kind, entry)


def test_learned_checkpoint_node_runs_the_example(server, info):
    """The test-only FillBlankTestLearnedCheckpoint (MODEL, VAE, CONDITIONING of the learned world's
    eps model) in place of the checkpoint loader and the text encoders of the basic example: the
    server lists it and the graph runs to the end with the trained U-Net and VAE."""
    spec = info["FillBlankTestLearnedCheckpoint"]
    assert spec["output"] == ["MODEL", "VAE", "CONDITIONING"]
    p = json.loads(json.dumps(_basic(info, steps=4)))
    ckpt = _node(p, "FillBlankTestTinyCheckpoint")
    p[ckpt] = {"class_type": "FillBlankTestLearnedCheckpoint", "inputs": {"kind": "eps"}}
    texts = [k for k, n in p.items() if n["class_type"] == "FillBlankTestConditioning"]
    for k in texts:
        del p[k]
    for node in p.values():
        for name, v in node["inputs"].items():
            if isinstance(v, list) and len(v) == 2 and v[0] == ckpt:
                node["inputs"][name] = [ckpt, {0: 0, 2: 1}[v[1]]]      # MODEL stays, VAE moves to 1
            elif isinstance(v, list) and len(v) == 2 and v[0] in texts:
                node["inputs"][name] = [ckpt, 2]                       # the empty conditioning
    kind, entry = server.run(p)
    assert kind == "success", error_text(kind, entry) + server.log_text()[-3000:]
    save = _node(p, "SaveImage")
    assert len(entry["outputs"][save]["images"]) == 1
