"""The server side of the placement editor: the cut-out a run will use, as a picture.

GET /fillblank/cutout_preview?image=<LoadImage's value>&cutout=<choice>&mask=0|1&sam=0|1 answers
{"rule", "label", "width", "height", "png"} (png: a data URL of the cut-out target as RGBA, at most
PREVIEW_PX on its long side) or {"error"}. The image is read the way LoadImage reads it (its IMAGE
drops the alpha: the colour stored under the transparency stays; its MASK is 1 − alpha), and the
rule is the core's own (fillblank_core.segment.auto_cutout / cut_out), so the editor shows what the
run pastes. SAM is shown as the box it is prompted with: running the model belongs to the run.
"""

from __future__ import annotations

import base64
import io
import logging
import os
from collections import OrderedDict

import numpy as np
import torch

from ..fillblank_core import segment as S

PREVIEW_PX = 512
LABELS = {
    "mask or alpha": "target_mask (LoadImage's MASK)",
    "color key": "the border's one colour keyed out",
    "border color": "border colour",
    "whole image": "whole image",
    "sam": "SAM: its box until a run",
}
_CACHE: OrderedDict = OrderedDict()


def _load(image: str):
    """(RGB [1,3,H,W], LoadImage's MASK [1,H,W] or None) of an annotated input/output/temp name."""
    import folder_paths
    from PIL import Image, ImageOps

    path = folder_paths.get_annotated_filepath(image)
    roots = [os.path.abspath(folder_paths.get_directory_by_type(t)) for t in ("input", "output", "temp")]
    real = os.path.abspath(path)
    if not any(os.path.commonpath([real, r]) == r for r in roots if r) or not os.path.isfile(real):
        raise FileNotFoundError(image)
    with Image.open(real) as im:
        im = ImageOps.exif_transpose(im)
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        alpha = None
        if "A" in im.getbands():
            alpha = np.asarray(im.getchannel("A"), dtype=np.float32) / 255.0
        elif im.mode == "P" and "transparency" in im.info:
            alpha = np.asarray(im.convert("RGBA").getchannel("A"), dtype=np.float32) / 255.0
    target = torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous()
    mask = None if alpha is None else 1.0 - torch.from_numpy(alpha)[None]
    return target, mask, os.path.getmtime(real)


def cutout_preview(image: str, cutout: str, mask: bool, sam: bool) -> dict:
    """What the editor shows: the rule the run will use on this target and the cut-out as RGBA."""
    if cutout not in S.CUTOUTS:
        return {"error": f"cutout must be one of {', '.join(S.CUTOUTS)}"}
    target, loaded_mask, mtime = _load(image)
    key = (image, mtime, cutout, mask, sam)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    given = loaded_mask if mask else None
    rule = S.auto_cutout(target, given, sam=True if sam else None) if cutout == "auto" else cutout
    h, w = target.shape[-2:]
    if rule == "sam":
        x0, y0, x1, y1 = (int(round(v)) for v in S.default_box(h, w))
        obj = torch.zeros(1, 1, h, w)
        obj[..., y0:y1, x0:x1] = 1.0
    else:
        try:
            obj = S.cut_out(target, given, rule)
        except ValueError as e:
            return {"rule": rule, "label": LABELS.get(rule, rule), "error": str(e)}
    rgba = torch.cat([target, obj.to(target)], 1)[0].permute(1, 2, 0).clamp(0, 1)
    from PIL import Image
    pic = Image.fromarray((rgba.numpy() * 255.0 + 0.5).astype(np.uint8), "RGBA")
    k = min(1.0, PREVIEW_PX / max(w, h))
    if k < 1.0:
        pic = pic.resize((max(1, round(w * k)), max(1, round(h * k))), Image.LANCZOS)
    buf = io.BytesIO()
    pic.save(buf, "PNG")
    out = {"rule": rule, "label": LABELS.get(rule, rule) + (" (auto)" if cutout == "auto" else ""),
           "width": int(w), "height": int(h), "png": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()}
    _CACHE[key] = out
    while len(_CACHE) > 16:
        _CACHE.popitem(last=False)
    return out


def register_routes() -> bool:
    """Add the route to ComfyUI's server (once); False where there is no server (tests, scripts)."""
    try:
        from aiohttp import web
        from server import PromptServer
    except ImportError:
        return False
    srv = getattr(PromptServer, "instance", None)
    if srv is None or getattr(srv, "_fillblank_routes", False):
        return False

    @srv.routes.get("/fillblank/cutout_preview")
    async def _cutout_preview(request):
        q = request.rel_url.query
        try:
            body = cutout_preview(q.get("image", ""), q.get("cutout", "auto"), q.get("mask") == "1",
                                  q.get("sam") == "1")
        except FileNotFoundError:
            return web.json_response({"error": "no such image"}, status=404)
        except Exception as e:  # noqa: BLE001 (a preview must never break the page)
            logging.exception("fillblank: cut-out preview")
            return web.json_response({"error": str(e)}, status=500)
        return web.json_response(body)

    srv._fillblank_routes = True
    return True
