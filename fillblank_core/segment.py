"""Cutting the target out of its photo, and refining a hole to an object outline.

Two families:

* SAM (Segment Anything, Kirillov et al. 2023) through the ``segment_anything`` package, imported
  only inside the functions that need it: :func:`load_sam` reads an original checkpoint
  (``sam_vit_b_01ec64.pth``, ``sam_vit_l_0b3195.pth``, ``sam_vit_h_4b8939.pth`` or a
  ``.safetensors`` copy of one) and detects its type from the state dict;
  :func:`sam_cutout` cuts the target out of its photo (box prompt), :func:`sam_refine` turns a
  rough hole, points or a box on the scene into an object outline.
* Without SAM: :func:`given_cutout` (the alpha channel / LoadImage's mask) and
  :func:`border_color_cutout`, background removal for studio shots on plain backgrounds.

Images are ComfyUI IMAGE tensors [H,W,C] or [1,H,W,C] float 0..1; masks come back as float32
[H,W] tensors with values 0/1 (1 = object) on the CPU. Everything is deterministic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import torch

import torch.nn.functional as F

from . import masks as M
from .masks import label_components
from .checkpoints import describe_mismatch, file_label, printable, read_state_dict

SAM_FOLDER = "models/sams"
SAM_ADVICE = ("Download the official SAM checkpoint (sam_vit_b_01ec64.pth, sam_vit_l_0b3195.pth or "
              "sam_vit_h_4b8939.pth from facebookresearch/segment-anything) again into ComfyUI's "
              f"{SAM_FOLDER} folder.")

# The three published image encoders (segment_anything/build_sam.py).
SAM_TYPES = {
    "vit_b": dict(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)),
    "vit_l": dict(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23)),
    "vit_h": dict(embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31)),
}
# Not recoverable from tensor shapes; the values every published SAM uses.
SAM_DECODER_HEADS = 8
SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)
SAM_PIXEL_STD = (58.395, 57.12, 57.375)


class SamLoadError(ValueError):
    """A SAM checkpoint could not be loaded; the message names the file and the folder."""


@dataclass
class SamHandle:
    """A loaded SAM: the ``segment_anything.modeling.Sam`` module, its type ("vit_b", "vit_l",
    "vit_h" or "custom"), the file it came from and the architecture read from the state dict."""
    model: Any
    model_type: str
    path: Optional[str] = None
    config: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # keep ComfyUI's debug output short
        return f"SamHandle({self.model_type}, {os.path.basename(self.path or '?')})"


# --- loading ------------------------------------------------------------------------------------

def _load_error(path, reason: str) -> SamLoadError:
    """Which file (its name), why it was not loaded, what to do; never torch's text."""
    name = f" '{file_label(path)}'" if path not in (None, "") else ""
    return SamLoadError(f"Could not load the SAM checkpoint{name}: {reason}. {SAM_ADVICE}")


def _read_state_dict(path) -> dict:
    return read_state_dict(path, _load_error, "SAM checkpoint")


def _not_sam(e: BaseException) -> str:
    what = f"no tensor {e.args[0]}" if isinstance(e, KeyError) and e.args else str(e)
    return ("it is not a SAM checkpoint: its tensors are not those of an original segment-anything "
            f"SAM (vit_b, vit_l or vit_h; {printable(what)})")


def _count(sd: dict, prefix: str) -> int:
    """Number of consecutive numbered children ``prefix{i}.`` in a state dict."""
    n = 0
    while any(k.startswith(f"{prefix}{n}.") for k in sd):
        n += 1
    return n


def detect_sam_config(sd: dict) -> dict:
    """Architecture of an original-format SAM state dict, read from tensor shapes.

    Raises KeyError/ValueError for anything that is not one (the caller words the error).
    Image encoder: embed_dim and patch size from ``patch_embed.proj.weight``, the token grid from
    ``pos_embed`` (image size = grid · patch), depth from the block count, heads from the
    relative-position tables (their width is the head dim), global-attention blocks from the
    tables' length (2·grid − 1 for global blocks, 2·window − 1 for windowed ones).
    Decoder: the prompt dim, mask_in_chans, depth, MLP dim and IoU-head size from shapes; the
    decoder's head count cannot be read from shapes and is 8 as in every published SAM.
    """
    pw = sd["image_encoder.patch_embed.proj.weight"]
    embed_dim, in_chans, patch, _ = pw.shape
    pos = sd.get("image_encoder.pos_embed")
    if pos is None or pos.ndim != 4:
        raise ValueError("no absolute position embedding (image_encoder.pos_embed)")
    grid = int(pos.shape[1])
    depth = _count(sd, "image_encoder.blocks.")
    if depth == 0:
        raise ValueError("no image encoder blocks")
    rel = [sd.get(f"image_encoder.blocks.{i}.attn.rel_pos_h") for i in range(depth)]
    if any(r is None for r in rel):
        raise ValueError("image encoder without relative position tables (not a SAM ViT)")
    head_dim = int(rel[0].shape[1])
    if embed_dim % head_dim:
        raise ValueError("head dim does not divide the embedding dim")
    global_idx = tuple(i for i, r in enumerate(rel) if r.shape[0] == 2 * grid - 1)
    windows = {(int(r.shape[0]) + 1) // 2 for i, r in enumerate(rel) if i not in global_idx}
    if len(windows) > 1:
        raise ValueError(f"blocks with different window sizes {sorted(windows)}")
    window = windows.pop() if windows else 0
    mlp_dim = int(sd["image_encoder.blocks.0.mlp.lin1.weight"].shape[0])
    prompt_dim = int(sd["prompt_encoder.no_mask_embed.weight"].shape[1])
    cfg = dict(
        embed_dim=int(embed_dim), depth=depth, num_heads=int(embed_dim) // head_dim,
        global_attn_indexes=global_idx, window_size=window, patch_size=int(patch),
        img_size=grid * int(patch), in_chans=int(in_chans), mlp_ratio=mlp_dim / int(embed_dim),
        qkv_bias="image_encoder.blocks.0.attn.qkv.bias" in sd,
        out_chans=int(sd["image_encoder.neck.0.weight"].shape[0]),
        prompt_embed_dim=prompt_dim,
        mask_in_chans=int(sd["prompt_encoder.mask_downscaling.3.weight"].shape[0]),
        decoder_depth=_count(sd, "mask_decoder.transformer.layers."),
        decoder_mlp_dim=int(sd["mask_decoder.transformer.layers.0.mlp.lin1.weight"].shape[0]),
        num_multimask_outputs=int(sd["mask_decoder.mask_tokens.weight"].shape[0]) - 1,
        iou_head_depth=_count(sd, "mask_decoder.iou_prediction_head.layers."),
        iou_head_hidden_dim=int(sd["mask_decoder.iou_prediction_head.layers.0.weight"].shape[0]),
    )
    return cfg


def sam_type_of(cfg: dict) -> str:
    """"vit_b" / "vit_l" / "vit_h" for the published architectures, else "custom"."""
    for name, std in SAM_TYPES.items():
        if (cfg["embed_dim"] == std["embed_dim"] and cfg["depth"] == std["depth"]
                and cfg["num_heads"] == std["num_heads"]
                and tuple(cfg["global_attn_indexes"]) == std["global_attn_indexes"]
                and cfg["img_size"] == 1024 and cfg["patch_size"] == 16
                and cfg["prompt_embed_dim"] == 256):
            return name
    return "custom"


def build_sam(cfg: dict, device: str | torch.device = "cpu"):
    """A ``segment_anything.modeling.Sam`` with the architecture ``cfg`` (random weights), assembled
    the way segment_anything/build_sam.py assembles the published ones."""
    from functools import partial
    from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                           TwoWayTransformer)
    img_size, patch = cfg["img_size"], cfg["patch_size"]
    emb = img_size // patch
    with torch.device(device):
        sam = Sam(
            image_encoder=ImageEncoderViT(
                depth=cfg["depth"], embed_dim=cfg["embed_dim"], img_size=img_size,
                mlp_ratio=cfg["mlp_ratio"], norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                num_heads=cfg["num_heads"], patch_size=patch, qkv_bias=cfg.get("qkv_bias", True),
                use_rel_pos=True, global_attn_indexes=tuple(cfg["global_attn_indexes"]),
                window_size=cfg["window_size"], out_chans=cfg["out_chans"],
                in_chans=cfg.get("in_chans", 3)),
            prompt_encoder=PromptEncoder(
                embed_dim=cfg["prompt_embed_dim"], image_embedding_size=(emb, emb),
                input_image_size=(img_size, img_size), mask_in_chans=cfg["mask_in_chans"]),
            mask_decoder=MaskDecoder(
                num_multimask_outputs=cfg["num_multimask_outputs"],
                transformer=TwoWayTransformer(depth=cfg["decoder_depth"],
                                              embedding_dim=cfg["prompt_embed_dim"],
                                              mlp_dim=cfg["decoder_mlp_dim"],
                                              num_heads=SAM_DECODER_HEADS),
                transformer_dim=cfg["prompt_embed_dim"], iou_head_depth=cfg["iou_head_depth"],
                iou_head_hidden_dim=cfg["iou_head_hidden_dim"]),
            pixel_mean=list(SAM_PIXEL_MEAN), pixel_std=list(SAM_PIXEL_STD))
    return sam.eval()


def load_sam(path) -> SamHandle:
    """Load an original-format SAM checkpoint (.pth/.pt with ``weights_only=True``, or .safetensors)
    on the CPU, detect its type from the state dict and load it strictly.

    Raises :class:`SamLoadError` (a ValueError) naming the file and the ``models/sams`` folder for
    a missing, unreadable or unrecognised file (HQ-SAM, MobileSAM and the transformers
    ``facebook/sam-vit-*`` format are not this format)."""
    sd = _read_state_dict(path)
    try:
        cfg = detect_sam_config(sd)
    except (KeyError, ValueError, IndexError, AttributeError) as e:
        raise _load_error(path, _not_sam(e)) from None
    sd = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in sd.items()}
    expected = {}
    try:
        try:  # build on the meta device: no time spent on random init of ~600M parameters
            sam = build_sam(cfg, device="meta")
            expected = {k: tuple(v.shape) for k, v in sam.state_dict().items()}
            sam.load_state_dict(sd, strict=True, assign=True)
            # the two non-persistent buffers are not in the checkpoint
            sam.pixel_mean = torch.tensor(SAM_PIXEL_MEAN).view(-1, 1, 1)
            sam.pixel_std = torch.tensor(SAM_PIXEL_STD).view(-1, 1, 1)
            if any(t.is_meta for t in list(sam.parameters()) + list(sam.buffers())):
                raise RuntimeError("meta tensors left after loading")
        except (TypeError, NotImplementedError):  # very old torch: no meta build / assign
            sam = build_sam(cfg)
            expected = {k: tuple(v.shape) for k, v in sam.state_dict().items()}
            sam.load_state_dict(sd, strict=True)
    except RuntimeError:  # missing / unexpected keys or shape mismatches, worded by us
        detail = describe_mismatch(expected, sd)
        raise _load_error(path, "it is not a complete SAM checkpoint: its tensors do not fit the SAM "
                                "architecture read from it" + (f" ({detail})" if detail else "")) from None
    sam.eval()
    return SamHandle(model=sam, model_type=sam_type_of(cfg), path=str(path), config=cfg)


def as_sam(obj):
    """The ``segment_anything.modeling.Sam`` inside ``obj``: a :class:`SamHandle`, a Sam itself (what
    Impact-Pack's SAMLoader and comfyui_segment_anything's SAMModelLoader output as SAM_MODEL), or
    any object whose ``.model`` is a Sam. Raises TypeError otherwise (e.g. HQ-SAM, whose decoder
    takes different inputs)."""
    from segment_anything.modeling import Sam
    if isinstance(obj, Sam):
        return obj
    inner = getattr(obj, "model", None)
    if isinstance(inner, Sam):
        return inner
    raise TypeError(f"Expected a SAM model (segment_anything Sam), got {type(obj).__name__}. Load an "
                    f"original SAM checkpoint with FillBlankSAMLoader or Impact-Pack's SAMLoader; "
                    f"HQ-SAM and MobileSAM are not supported.")


# --- image and mask helpers ---------------------------------------------------------------------

def _to_uint8(image_hwc: torch.Tensor) -> np.ndarray:
    return (image_hwc[..., :3].clamp(0, 1) * 255.0).round().to(torch.uint8).numpy()


def keep_components(mask: torch.Tensor, seeds: Sequence[tuple[float, float]] = ()) -> torch.Tensor:
    """Keep the connected components (8-connected) that contain one of the seed points (x, y);
    the largest component when no seed lies on the mask."""
    labels, n = label_components(mask, 8)
    if n <= 1:
        return (mask > 0.5).float()
    h, w = labels.shape
    keep = {int(labels[int(y), int(x)]) for x, y in seeds
            if 0 <= int(y) < h and 0 <= int(x) < w and labels[int(y), int(x)] > 0}
    if not keep:
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        sizes[0] = 0
        keep = {int(np.argmax(sizes))}  # ties: the lowest label, i.e. the first in raster order
    return torch.from_numpy(np.isin(labels, sorted(keep))).float()


def largest_component(mask: torch.Tensor) -> torch.Tensor:
    """The largest 8-connected component of a binary [H,W] mask (empty stays empty)."""
    return keep_components(mask)


def fill_holes(mask: torch.Tensor, max_fraction: float = 1.0) -> torch.Tensor:
    """Fill the holes of a binary [H,W] mask (4-connected background regions that do not touch the
    image border) whose area is at most ``max_fraction`` of the mask's area (1.0 or more: all)."""
    m = (mask > 0.5)
    area = int(m.sum())
    if area == 0 or max_fraction <= 0:
        return m.float()
    labels, n = label_components(~m.numpy(), 4)
    if n == 0:
        return m.float()
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    limit = max_fraction * area
    on_border = set(border.tolist())
    holes = [i for i in range(1, n + 1) if i not in on_border and sizes[i] <= limit]
    if not holes:
        return m.float()
    return (m | torch.from_numpy(np.isin(labels, holes))).float()


def clean_mask(mask: torch.Tensor, seeds: Sequence[tuple[float, float]] = (),
               max_hole_fraction: float = 0.01) -> torch.Tensor:
    """Keep the component(s) under the seeds (else the largest) and fill holes up to
    ``max_hole_fraction`` of the object's area."""
    return fill_holes(keep_components((mask > 0.5).float(), seeds), max_hole_fraction)


# --- SAM ------------------------------------------------------------------------------------------

def _box_tuple(box, h: int, w: int) -> np.ndarray:
    b = [float(v) for v in (box.tolist() if isinstance(box, torch.Tensor) else box)]
    if len(b) != 4:
        raise ValueError(f"box must be (x0, y0, x1, y1) in pixels, got {box!r}")
    x0, y0, x1, y1 = min(max(b[0], 0), w), min(max(b[1], 0), h), min(max(b[2], 0), w), min(max(b[3], 0), h)
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise ValueError(f"box {tuple(b)} is empty inside the {w}x{h} px image (need x0 < x1, y0 < y1)")
    return np.array([x0, y0, x1, y1], dtype=np.float32)


def _points(points) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) or (x, y, label) rows -> coords [N,2] float32, labels [N] int (1 = object)."""
    rows = points.tolist() if isinstance(points, (torch.Tensor, np.ndarray)) else list(points)
    coords, labels = [], []
    for r in rows:
        r = list(r)
        if len(r) not in (2, 3):
            raise ValueError(f"points must be (x, y) or (x, y, label) in pixels, got {r!r}")
        coords.append([float(r[0]), float(r[1])])
        labels.append(int(r[2]) if len(r) == 3 else 1)
    return np.array(coords, dtype=np.float32).reshape(-1, 2), np.array(labels, dtype=np.int64)


def sam_predict(sam, image_hwc, points=None, box=None, multimask: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Run SAM once through ``segment_anything.SamPredictor``: all its masks [K,H,W] (bool) and their
    predicted IoUs [K] (K = 3 with ``multimask``, else 1)."""
    from segment_anything import SamPredictor
    model = as_sam(sam)
    img = M.single_image_hwc(image_hwc)
    coords = labels = None
    if points is not None and len(points):
        coords, labels = _points(points)
    if box is not None:
        box = _box_tuple(box, img.shape[0], img.shape[1])
    predictor = SamPredictor(model)
    with torch.inference_mode():
        predictor.set_image(_to_uint8(img), image_format="RGB")
        masks, scores, _ = predictor.predict(point_coords=coords, point_labels=labels,
                                             box=box, multimask_output=multimask)
    return torch.from_numpy(np.asarray(masks)).bool(), torch.from_numpy(np.asarray(scores)).float()


def best_mask(masks: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The mask with the highest predicted IoU (the first one on ties) and its index."""
    i = int(torch.argmax(scores).item())
    return masks[i], i


def default_box(h: int, w: int, margin: float = 0.01) -> np.ndarray:
    """The whole image minus ``margin`` (a fraction of each side, at least one pixel)."""
    mx, my = max(1, round(margin * w)), max(1, round(margin * h))
    return np.array([mx, my, max(mx + 1, w - mx), max(my + 1, h - my)], dtype=np.float32)


def sam_cutout(sam, image_hwc, box=None, margin: float = 0.01, max_hole_fraction: float = 0.01,
               info: Optional[dict] = None) -> torch.Tensor:
    """Cut the target out of its photo with SAM: a box prompt (``box`` = (x0, y0, x1, y1) in pixels,
    default the whole image minus ``margin``), three candidate masks, the one with the best
    predicted IoU, its largest connected component, holes up to ``max_hole_fraction`` of the
    object's area filled. Returns float32 [H,W] (1 = object). ``info`` (a dict) receives the
    predicted IoUs, the chosen index and the box."""
    img = M.single_image_hwc(image_hwc)
    h, w = img.shape[:2]
    b = default_box(h, w, margin) if box is None else _box_tuple(box, h, w)
    masks, scores = sam_predict(sam, img, box=b, multimask=True)
    mask, i = best_mask(masks, scores)
    out = clean_mask(mask.float(), (), max_hole_fraction)
    if info is not None:
        info.update(scores=scores.tolist(), chosen=i, box=b.tolist())
    return out


def _interior_point(mask: torch.Tensor) -> tuple[float, float]:
    """The mask's centroid when it lies on the mask, else the mask pixel nearest to it."""
    ys, xs = torch.nonzero(mask > 0.5, as_tuple=True)
    cy, cx = ys.float().mean(), xs.float().mean()
    iy, ix = int(cy.round()), int(cx.round())
    if mask[min(iy, mask.shape[0] - 1), min(ix, mask.shape[1] - 1)] > 0.5:
        return float(ix), float(iy)
    k = int(torch.argmin((ys.float() - cy) ** 2 + (xs.float() - cx) ** 2))
    return float(xs[k]), float(ys[k])


def sam_refine(sam, image_hwc, rough_mask=None, points=None, box=None,
               max_hole_fraction: float = 0.01, multimask: Optional[bool] = None,
               info: Optional[dict] = None) -> torch.Tensor:
    """Refine a rough hole, points or a box on the scene to an object outline with SAM.

    - ``rough_mask`` [H,W] (1 = roughly the object): its bounding box becomes the box prompt
      (unless ``box`` is given) and, unless ``points`` are given, an interior point at its centroid
      (or the mask pixel nearest to it) becomes a positive point.
    - ``points``: (x, y) or (x, y, label) in pixels, label 1 = object (default), 0 = background.
    - ``box``: (x0, y0, x1, y1) in pixels.
    ``multimask`` (default: only when a single point or a box alone is given, as SAM's authors
    advise for ambiguous prompts) asks for three masks and keeps the best predicted IoU. The result
    keeps the components under the positive points (else the largest) with small holes filled.
    """
    img = M.single_image_hwc(image_hwc)
    h, w = img.shape[:2]
    pts = list(_points(points)[0].tolist()) if points is not None and len(points) else []
    labels = list(_points(points)[1].tolist()) if pts else []
    b = None if box is None else _box_tuple(box, h, w)
    if rough_mask is not None:
        rm = M.mask_hw(rough_mask, "rough_mask")
        if tuple(rm.shape) != (h, w):
            raise ValueError(f"Image and mask must be the same size: the image is {w}x{h} px, the "
                             f"rough mask {rm.shape[1]}x{rm.shape[0]} px")
        if not (rm > 0.5).any():
            raise ValueError("The rough mask is empty: draw the hole over the object to refine")
        if b is None:
            b = np.array(M.mask_box(rm, above=0.5), dtype=np.float32)
        if not pts:
            pts, labels = [list(_interior_point(rm))], [1]
    if not pts and b is None:
        raise ValueError("sam_refine needs a rough mask, points or a box")
    if multimask is None:
        multimask = (len(pts) + (b is not None)) == 1
    prompt = [(x, y, l) for (x, y), l in zip(pts, labels)]
    masks, scores = sam_predict(sam, img, points=prompt or None, box=b, multimask=multimask)
    mask, i = best_mask(masks, scores)
    seeds = [(x, y) for (x, y), l in zip(pts, labels) if l == 1]
    out = clean_mask(mask.float(), seeds, max_hole_fraction)
    if info is not None:
        info.update(scores=scores.tolist(), chosen=i, box=None if b is None else b.tolist(),
                    points=prompt, multimask=multimask)
    return out


# --- without SAM ----------------------------------------------------------------------------------

def _border_pixels(h: int, w: int, width: int) -> torch.Tensor:
    m = torch.zeros(h, w, dtype=torch.bool)
    m[:width], m[-width:], m[:, :width], m[:, -width:] = True, True, True, True
    return m


def _fit_plane(img: torch.Tensor, sel: torch.Tensor) -> Optional[torch.Tensor]:
    """Least-squares background a + b·x + c·y per channel from the pixels ``sel``; [H,W,3]."""
    h, w = sel.shape
    ys, xs = torch.nonzero(sel, as_tuple=True)
    if len(ys) < 12:
        return None
    X = torch.stack([torch.ones_like(xs, dtype=torch.float64), xs.double() / w, ys.double() / h], 1)
    Y = img[ys, xs].double()
    coef = torch.linalg.lstsq(X, Y).solution  # [3, C]
    gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float64) / h,
                            torch.arange(w, dtype=torch.float64) / w, indexing="ij")
    G = torch.stack([torch.ones_like(gx), gx, gy], -1)
    return (G @ coef).float()


def estimate_background(image_hwc, border: Optional[int] = None) -> tuple[torch.Tensor, float]:
    """Background model of a studio shot from its border pixels: a colour that may vary linearly
    across the frame (sweeps, vignetting), fitted robustly so that an object touching the border
    (less than half of it) is ignored. Returns (background [H,W,3], noise level: the median
    colour distance of the border pixels to the model)."""
    img = M.single_image_hwc(image_hwc)[..., :3]
    h, w = img.shape[:2]
    bw = border if border is not None else max(2, round(0.01 * min(h, w)))
    bw = max(1, min(bw, h // 2, w // 2))
    ring = _border_pixels(h, w, bw)
    flat = img[ring].median(dim=0).values
    bg = flat.expand(h, w, 3)
    for _ in range(2):  # inliers of the current model -> plane fit -> again
        d = (img - bg).norm(dim=-1)
        med = float(d[ring].median())
        inl = ring & (d <= max(3.0 * med, 0.02))
        plane = _fit_plane(img, inl)
        if plane is None:
            break
        bg = plane
    d = (img - bg).norm(dim=-1)
    return bg, float(d[ring].median())


BORDER_COLOR_NOTHING_FOUND = (
    "The border-colour cut-out could not separate the object from the background by its border "
    "colour: no part of the target image differs enough from the colour along its edges. Give a "
    "mask of the object (target_mask), an RGBA target whose alpha is the cut-out, or use the SAM "
    "cut-out instead.")


def border_color_cutout(image_hwc, tolerance: float = 0.1, border: Optional[int] = None,
                        max_hole_fraction: float = 0.1, cleanup_px: int = 1) -> torch.Tensor:
    """Background removal for an object photographed on a plain background.

    The background colour (linear gradients allowed) is estimated from the border pixels
    (``border`` px wide, default 1% of the short side, at least 2); a pixel is object when its
    colour is farther than ``max(tolerance, 3.5 × border noise)`` from the
    background (Euclidean RGB distance in 0..1 units; the noise is the border pixels' median
    distance to the background model). Clean-up: a majority vote over a (2·``cleanup_px``+1)²
    window (removes specks, keeps the outline in place), the largest connected component, holes up to
    ``max_hole_fraction`` of the object's area filled (object parts with the background's colour,
    e.g. a white label on white; lower it to keep see-through holes such as a mug handle).
    Returns float32 [H,W] (1 = object). Raises ValueError (:data:`BORDER_COLOR_NOTHING_FOUND`)
    when no pixel stands out from the background."""
    if not (0.0 < float(tolerance) <= 2.0):
        raise ValueError(f"tolerance must be in (0, 2], got {tolerance}")
    img = M.single_image_hwc(image_hwc)[..., :3]
    bg, noise = estimate_background(img, border)
    d = (img - bg).norm(dim=-1)
    thr = max(float(tolerance), 3.5 * noise)
    obj = (d > thr).float()
    if cleanup_px > 0:  # majority vote in a (2r+1)² window: removes specks, keeps edges in place
        k = 2 * int(cleanup_px) + 1
        obj = (F.avg_pool2d(obj[None, None], k, stride=1, padding=int(cleanup_px),
                            count_include_pad=False)[0, 0] > 0.5).float()
    if not (obj > 0.5).any():
        raise ValueError(BORDER_COLOR_NOTHING_FOUND)
    return fill_holes(largest_component(obj), max_hole_fraction)


# --- the cut-out a node asks for ---------------------------------------------------------------

def given_cutout(target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor | None:
    """The cut-out the user gave for a target [B,C,h,w], as [B,1,h,w]: a LoadImage-style MASK
    (1 where transparent, so object = 1 − mask), else the alpha of an RGBA target. None when
    neither carries one (no mask, LoadImage's 64x64 all-zero placeholder, no or opaque alpha)."""
    h, w = target.shape[-2:]
    if mask is not None:
        m = M.mask_b1hw(mask, "target_mask")
        if m.any():
            if tuple(m.shape[-2:]) != (h, w):
                raise ValueError(f"target_mask is {m.shape[-1]}x{m.shape[-2]} px but the target image is "
                                 f"{w}x{h} px; Image and mask must be the same size")
            return (1.0 - m).clamp(0.0, 1.0)
    if target.shape[1] == 4 and bool((target[:, 3] < 1).any()):
        return target[:, 3:4].clamp(0.0, 1.0)
    return None


def object_mask_from(target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Object mask [B,1,h,w]: the given cut-out (mask or alpha), else the whole image."""
    cut = given_cutout(target, mask)
    return torch.ones_like(target[:, :1]) if cut is None else cut


CUTOUTS = ["auto", "mask or alpha", "whole image", "border color", "sam"]


# A border is "one plain colour" when its pixels lie this close to the fitted background: the median
# (the noise) and nine in ten of them. A photo's border (texture, objects, light) is far above both;
# a studio backdrop or a PNG's transparent area (its stored colour, one value) is below. A border
# whose noise is below KEY_NOISE is one exact colour (a PNG's transparent area, a drawn backdrop):
# that colour is keyed out where it reaches the border; the same colour inside the object stays.
PLAIN_BORDER_NOISE = 0.02
PLAIN_BORDER_SPREAD = 0.08
KEY_NOISE = 1.5 / 255
KEY_TOLERANCE = 0.1


def _border_stats(img: torch.Tensor) -> tuple[float, float]:
    """(noise, 90th percentile) of the border pixels' colour distance to the fitted background."""
    h, w = img.shape[:2]
    bg, noise = estimate_background(img)
    bw = max(1, min(max(2, round(0.01 * min(h, w))), h // 2, w // 2))
    d = (img - bg).norm(dim=-1)[_border_pixels(h, w, bw)]
    return noise, float(d.quantile(0.9))


def border_kind(image_hwc) -> str | None:
    """What the border of an RGB image [H,W,C] is: "color key" when at least half of it is one exact
    colour (a PNG's transparent area once LoadImage dropped its alpha: the colour stored there, often
    black or white; the object may touch the other half), "border color" when nearly all of it is one
    plain colour with noise (a studio backdrop, gradients allowed), else None (a photo)."""
    img = M.single_image_hwc(image_hwc)[..., :3]
    if min(img.shape[:2]) < 8:
        return None
    noise, spread = _border_stats(img)
    if noise <= KEY_NOISE:  # the median distance: half the border lies this close to one colour
        return "color key"
    if noise <= PLAIN_BORDER_NOISE and spread <= PLAIN_BORDER_SPREAD:
        return "border color"
    return None


def plain_border(image_hwc) -> bool:
    """True when the border of an RGB image is one plain colour (``border_kind`` is not None)."""
    return border_kind(image_hwc) is not None


def key_color_cutout(image_hwc, tolerance: float = KEY_TOLERANCE) -> torch.Tensor:
    """The object of an image whose background is one exact colour (a PNG's transparent area after its
    alpha was dropped): every pixel except the region of the border's median colour (within
    ``tolerance``) that is connected to the border and the exact key colour anywhere (an enclosed
    transparent hole), all parts kept; a colour merely near the key inside the object stays. [H,W] float32, 1 = object; raises
    ValueError (:data:`BORDER_COLOR_NOTHING_FOUND`) when nothing differs."""
    img = M.single_image_hwc(image_hwc)[..., :3]
    h, w = img.shape[:2]
    bw = max(1, min(max(2, round(0.01 * min(h, w))), h // 2, w // 2))
    key = img[_border_pixels(h, w, bw)].median(dim=0).values
    dist = (img - key).norm(dim=-1)
    near = dist <= float(tolerance)
    # background: the keyed colour where it reaches the border, and the stored colour itself wherever
    # it is (an enclosed transparent hole is stored as exactly that colour); a colour merely near it
    # inside the object (a dark stripe on a PNG stored over black) stays the object's
    labels, _ = label_components(near, 8)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = torch.from_numpy(np.isin(labels, edge[edge > 0])) | (dist <= KEY_NOISE)
    obj = (~background).float()
    if not (obj > 0.5).any():
        raise ValueError(BORDER_COLOR_NOTHING_FOUND)
    return obj


def auto_cutout(target: torch.Tensor, target_mask=None, sam=None) -> str:
    """The cut-out ``auto`` stands for on this target [B,C,h,w]: "mask or alpha" when a mask or alpha
    is given, else "sam" when a SAM model is connected, else, when every image's border is one plain
    colour and something differs from it, "color key" (one exact colour: a PNG's transparent area)
    or "border color" (a studio backdrop), else "whole image"."""
    if given_cutout(target, target_mask) is not None:
        return "mask or alpha"
    if sam is not None:
        return "sam"
    kinds = set()
    for im in M.to_bhwc(target[:, :3]):
        kind = border_kind(im)
        if kind is None:
            return "whole image"
        try:
            (key_color_cutout if kind == "color key" else border_color_cutout)(im)
        except ValueError:  # nothing differs from the border: the image is all backdrop
            return "whole image"
        kinds.add(kind)
    return "border color" if "border color" in kinds else "color key"


def cut_out(target: torch.Tensor, target_mask, cutout: str, sam=None) -> torch.Tensor:
    """Object mask [B,1,h,w]. auto: see ``auto_cutout`` (the mask or alpha if given, else SAM if
    connected, else the border's colour cut away when the border is one plain colour, else the whole
    image)."""
    if cutout == "auto":
        cutout = auto_cutout(target, target_mask, sam)
    if cutout == "whole image":
        return torch.ones_like(target[:, :1])
    if cutout == "mask or alpha":
        return object_mask_from(target, target_mask)
    rgb_hwc = M.to_bhwc(target[:, :3])
    if cutout == "border color":
        return torch.stack([border_color_cutout(im) for im in rgb_hwc])[:, None].float()
    if cutout == "color key":  # only what auto picks (not a choice of the widget)
        return torch.stack([key_color_cutout(im) for im in rgb_hwc])[:, None].float()
    if sam is None:
        raise ValueError("cutout 'sam' needs a SAM model on the sam input (Fill-in SAM Loader)")
    return torch.stack([sam_cutout(sam, im) for im in rgb_hwc])[:, None].float()
