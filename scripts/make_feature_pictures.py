"""The README's pictures of placing several objects, perspective, the shadow zone and an object behind
another: docs/several_targets.png, docs/horizon.png, docs/shadow_zone.png, docs/behind.png (seconds
on a CPU).

Real photographs (scikit-image's ``coffee`` as the scene, its ``logo`` badge and a disc of
``chelsea`` as cut-outs) through the pack's own placement, chaining and mask code — what Fill-in
Target Encoder (add_to, horizon, in_front) and Mask Refiner / Insert (shadow) compute before any
sampling. The behind picture's in_front is what a user paints roughly over the cup in LoadImage's mask
editor (an ellipse for the rim, a trapezoid for the body).

    .venv/bin/python scripts/make_feature_pictures.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fillblank_core import masks as M  # noqa: E402
from fillblank_core.placement import ground_height, place_on_scene  # noqa: E402
from fillblank_core.target import over  # noqa: E402
from fillblank_lab.photo_world import object_cutouts, photo  # noqa: E402

DOCS = REPO / "docs"
PANEL_W = 420


def _png(image_hwc: torch.Tensor) -> Image.Image:
    arr = (image_hwc.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    img = Image.fromarray(np.ascontiguousarray(arr))
    return img.resize((PANEL_W, round(PANEL_W * img.height / img.width)), Image.LANCZOS)


def _row(panels: list[Image.Image], captions: list[str]) -> Image.Image:
    h = max(p.height for p in panels)
    out = Image.new("RGB", (len(panels) * PANEL_W + (len(panels) - 1) * 8, h + 26), "white")
    d = ImageDraw.Draw(out)
    for i, (p, c) in enumerate(zip(panels, captions)):
        out.paste(p, (i * (PANEL_W + 8), 26))
        d.text((i * (PANEL_W + 8) + 4, 6), c, fill=(20, 20, 20))
    return out


def several_targets(scene, cuts) -> Image.Image:
    (badge, b_obj), (cat, c_obj) = cuts["badge"], cuts["cat_badge"]
    img1, m1, comp1, _ = place_on_scene(scene, badge.movedim(-1, 1), b_obj, 0.72, 0.3, 0.22)
    img2, m2, comp2, _ = place_on_scene(comp1, cat.movedim(-1, 1), c_obj, 0.84, 0.42, 0.22)  # add_to: on the first
    _, mask = over(img1, m1, img2, m2)
    hole = M.refine_hole({"silhouette": mask[:, None]}, 0.0, grow_px=8)[0]
    return _row([_png(comp1[0]), _png(comp2[0]), _png(M.overlay(comp2, hole)[0])],
                ["1 Target Encoder: the badge", "2 a second encoder, add_to = 1: the cat badge drawn over it",
                 "3 one hole for both (Mask Refiner union): one sampling run"])


def horizon(scene, cuts) -> Image.Image:
    badge, obj = cuts["badge"]
    H, W = scene.shape[1:3]
    horizon_y, scale_ref = 0.12, 0.3
    comp = scene
    for x, y in ((0.25, 0.78), (0.5, 0.5), (0.72, 0.3)):
        h = ground_height(scale_ref, y, horizon_y)
        _, _, comp, _ = place_on_scene(comp, badge.movedim(-1, 1), obj, x, y, h)
    img = _png(comp[0])
    d = ImageDraw.Draw(img)
    yy = round(horizon_y * img.height)
    for x0 in range(0, img.width, 14):
        d.line([(x0, yy), (x0 + 8, yy)], fill=(230, 40, 40), width=2)
    d.text((6, yy + 4), "horizon 0.12", fill=(230, 40, 40))
    plain = scene
    for x, y in ((0.25, 0.78), (0.5, 0.5), (0.72, 0.3)):
        _, _, plain, _ = place_on_scene(plain, badge.movedim(-1, 1), obj, x, y, scale_ref)
    return _row([_png(plain[0]), img], ["horizon 0 (off): the same scale everywhere",
                                        "horizon 0.12: height proportional to the base's distance below the horizon"])


def shadow(scene, cuts) -> Image.Image:
    badge, obj = cuts["badge"]
    _, mask, comp, _ = place_on_scene(scene, badge.movedim(-1, 1), obj, 0.6, 0.45, 0.3)
    sil = mask[:, None]
    panels = []
    for mode, angle, length in (("none", 45, 0.5), ("contact", 45, 0.5), ("cast", 30, 0.6)):
        parts = {"silhouette": sil}
        if mode != "none":
            parts["the shadow zone"] = M.shadow_zone(sil, angle, length, cast=mode == "cast")
        hole = M.refine_hole(parts, 0.0, grow_px=8)[0]
        panels.append(_png(M.overlay(comp, hole)[0]))
    return _row(panels, ["shadow none: the silhouette grown", "shadow contact: a band under the base",
                         "shadow cast, angle 30, length 0.6"])


def painted_cup(H: int, W: int) -> torch.Tensor:
    """A rough in_front over coffee's cup (the rim an ellipse, the body a trapezoid), as painted by hand."""
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    sy, sx = H / 400, W / 600
    rim = ((xx - 290 * sx) / (118 * sx)) ** 2 + ((yy - 92 * sy) / (70 * sy)) ** 2 <= 1
    t = ((yy / sy - 92) / (290 - 92)).clamp(0, 1)
    left, right = (176 + 60 * t) * sx, (406 - 60 * t) * sx
    body = (yy >= 92 * sy) & (yy <= 290 * sy) & (xx >= left) & (xx <= right)
    return (rim | body).float()[None]


def behind(scene, cuts) -> Image.Image:
    cat, obj = cuts["cat_badge"]
    front = painted_cup(*scene.shape[1:3])
    args = (scene, cat.movedim(-1, 1), obj, 0.66, 0.3, 0.34)
    _, _, on_top, _ = place_on_scene(*args)
    _, mask, comp, _ = place_on_scene(*args, in_front=front)
    hole = M.leave_out(M.refine_hole({"silhouette": mask[:, None]}, 0.0, grow_px=8)[0], front[:, None])
    return _row([_png(M.overlay(scene, front[:, None], color=(0.2, 0.5, 1.0))[0]), _png(on_top[0]), _png(comp[0]),
                 _png(M.overlay(comp, hole)[0])],
                ["in_front: the cup, painted in LoadImage's mask editor", "without in_front: pasted on top",
                 "with in_front: drawn behind the cup", "the hole (Mask Refiner) leaves the cup out"])


def main() -> None:
    scene = photo("coffee")[None, ..., :3].contiguous()
    cuts = {k: (v[0], v[1]) for k, v in object_cutouts().items() if v is not None}
    for name, make in (("several_targets", several_targets), ("horizon", horizon), ("shadow_zone", shadow),
                       ("behind", behind)):
        path = DOCS / f"{name}.png"
        make(scene, cuts).save(path, optimize=True)
        print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
