"""Ranking a batch of inpainting results: which candidate shows the target, without a seam?

score = w_similarity · similarity + w_seam · seam            (default weights 0.7 / 0.3)

similarity — the candidate inside the hole against the target:
  * with ``embed_fn`` (images [B,H,W,C] -> embeddings [B,D], e.g. a
    :class:`fillblank_lab.clip_encoder.ClipImageEncoder` or ``clip.comfy_embed_fn(CLIP_VISION)``): the
    cosine of the embeddings of a square crop around the hole's bounding box and of the same crop
    of the reference — for a placed target with its mask: the candidate itself with the target
    pasted into the silhouette (so 1.0 means "the target is there, unchanged"); for a placed
    target without mask: the target's crop; for a cut-out: a square crop around its object;
  * without: ``0.5 · colour + 0.5 · structure``, both in [0,1]: colour = intersection of the
    8×8×8-bin RGB histograms of the compared regions; structure = correlation of the Sobel
    gradient-orientation fields of the two crops (doubled angle, so independent of contrast
    polarity; negative clipped to 0), i.e. the same edges in the same places and directions
    (for a cut-out target, whose position inside the hole is unknown: the overlap of the
    magnitude-weighted edge-orientation histograms instead, see orientation_similarity).
  The compared region is the hole, narrowed to the target's silhouette when ``target_mask`` is
  given.
seam — how invisible the hole's border is: at each pixel just inside the hole border, the colour
  step between the average of the nearby hole pixels and the average of the nearby known pixels
  (where the target's silhouette reaches the border, the hole side is compared with the target
  instead, since an object edge there is expected). The mean step, minus the same measure on a
  curve a few pixels outside the hole (the scene's own texture level), gives
  ``seam = exp(−excess / 0.05)`` (1 = no visible seam).

The target is either the *placed* target (same size as the candidates: the target on the
scene's canvas, e.g. FILLBLANK_TARGET's placed image or composite; compared at the same place), or
a separate *cut-out* image of any size (compared after resizing its object's bounding box to the
hole's).
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from . import masks as M

DEFAULT_WEIGHTS = {"similarity": 0.7, "seam": 0.3}
SEAM_TAU = 0.05
HIST_BINS = 8


# --- layout helpers -------------------------------------------------------------------------------

def _bchw(images, name: str) -> torch.Tensor:
    t = M.image_bhwc(images, name).to("cpu", torch.float32)[..., :3]
    if t.shape[-1] == 1:
        t = t.expand(*t.shape[:3], 3)
    return t.permute(0, 3, 1, 2).contiguous()


def _mask(mask, hw: tuple[int, int], name: str) -> torch.Tensor:
    """The first [H,W] of a MASK at size hw, float on the CPU; bilinear resize when the size differs
    (not clamped and not copied at its own size: values are compared with 0.5 only)."""
    t = M.mask_hw(mask, name, first=True)
    if tuple(t.shape) != tuple(hw):
        t = F.interpolate(t[None, None], size=hw, mode="bilinear", align_corners=False)[0, 0].clamp(0, 1)
    return t


def _bbox(m: torch.Tensor) -> Optional[tuple[int, int, int, int]]:
    return M.mask_box(m, above=0.5)


def _square(box, h: int, w: int, pad: float = 0.1) -> tuple[int, int, int, int]:
    """A square around box (side = longest side · (1 + pad)), shifted/shrunk to fit the image."""
    x0, y0, x1, y1 = box
    side = min(max(x1 - x0, y1 - y0) * (1 + pad), h, w)
    side = max(1, int(round(side)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    sx = int(round(min(max(cx - side / 2, 0), w - side)))
    sy = int(round(min(max(cy - side / 2, 0), h - side)))
    return sx, sy, sx + side, sy + side


def _crop(t: torch.Tensor, box) -> torch.Tensor:
    x0, y0, x1, y1 = box
    return t[..., y0:y1, x0:x1]


def _resize(t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Resize [B,C,h,w] to hw (bilinear, antialiased when shrinking)."""
    if tuple(t.shape[-2:]) == tuple(hw):
        return t
    return F.interpolate(t, size=hw, mode="bilinear", align_corners=False, antialias=True)


# --- similarity parts ---------------------------------------------------------------------------

def color_histogram(img: torch.Tensor, weight: torch.Tensor, bins: int = HIST_BINS) -> torch.Tensor:
    """Normalised joint RGB histogram [bins³] of img [3,H,W] weighted by weight [H,W]."""
    q = (img.clamp(0, 1) * bins).long().clamp(max=bins - 1)
    idx = (q[0] * bins + q[1]) * bins + q[2]
    h = torch.zeros(bins ** 3, dtype=torch.float64)
    h.index_add_(0, idx.reshape(-1), weight.reshape(-1).double())
    s = h.sum()
    return (h / s).float() if s > 0 else h.float()


def histogram_intersection(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.minimum(a, b).sum())


_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0


def _gradients(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel gradients (gx, gy) [N,H,W] of the luma of [N,3,H,W]."""
    g = (0.299 * img[:, 0] + 0.587 * img[:, 1] + 0.114 * img[:, 2])[:, None]
    g = F.pad(g, (1, 1, 1, 1), mode="replicate")
    kx = _SOBEL_X.view(1, 1, 3, 3)
    return F.conv2d(g, kx)[:, 0], F.conv2d(g, kx.transpose(-1, -2))[:, 0]


def _orientation(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Doubled-angle gradient field |∇|·(cos 2θ, sin 2θ) of [1,3,H,W]: edges in the same place and
    direction agree whatever their contrast polarity (an object on black vs on the scene)."""
    gx, gy = _gradients(img)
    mag = (gx * gx + gy * gy).sqrt().clamp(min=1e-12)
    return ((gx * gx - gy * gy) / mag)[0], (2 * gx * gy / mag)[0]


def gradient_correlation(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor) -> float:
    """Structure similarity in [0,1] of a and b [3,H,W] weighted by weight [H,W]: the correlation
    Σw(u_a·u_b) / sqrt(Σw|u_a|² · Σw|u_b|²) of their doubled-angle Sobel gradient fields u
    (polarity-free edge orientation, weighted by edge strength), negatives clipped to 0; 1 when
    both are flat."""
    ax, ay = _orientation(a[None])
    bx, by = _orientation(b[None])
    w = weight
    ea, eb = float((w * (ax * ax + ay * ay)).sum()), float((w * (bx * bx + by * by)).sum())
    floor = 1e-8 * max(float(w.sum()), 1.0)
    if ea <= floor and eb <= floor:
        return 1.0
    if ea <= floor or eb <= floor:
        return 0.0
    return max(0.0, float((w * (ax * bx + ay * by)).sum()) / math.sqrt(ea * eb))


def orientation_histogram(img: torch.Tensor, weight: torch.Tensor, bins: int = 8) -> torch.Tensor:
    """Edge strength per unit area in ``bins`` orientation bins (0..180°) of img [3,H,W] over the
    region weight [H,W]: a position-free description of the edges."""
    ux, uy = _orientation(img[None])
    mag = (ux * ux + uy * uy).sqrt()
    ang = torch.atan2(uy, ux)  # doubled angle in (-pi, pi]
    idx = ((ang + math.pi) / (2 * math.pi) * bins).long().clamp(0, bins - 1)
    h = torch.zeros(bins, dtype=torch.float64)
    h.index_add_(0, idx.reshape(-1), (mag * weight).reshape(-1).double())
    return (h / max(float(weight.sum()), 1e-6)).float()


def orientation_similarity(a: torch.Tensor, wa: torch.Tensor, b: torch.Tensor, wb: torch.Tensor) -> float:
    """Σ min(h_a, h_b) / max(Σh_a, Σh_b) of the orientation histograms: 1 for the same amount of
    edges in the same directions, lower for other directions or much more/fewer edges."""
    ha, hb = orientation_histogram(a, wa), orientation_histogram(b, wb)
    top = max(float(ha.sum()), float(hb.sum()))
    if top <= 1e-8:
        return 1.0
    return float(torch.minimum(ha, hb).sum()) / top


# --- seam ---------------------------------------------------------------------------------------

def _box_sum(t: torch.Tensor, r: int) -> torch.Tensor:
    """Sum over a (2r+1)² window of [N,C,H,W] (zero outside the image)."""
    k = 2 * r + 1
    return F.avg_pool2d(t, k, stride=1, padding=r, count_include_pad=True) * (k * k)


def _dilate(m: torch.Tensor, r: int) -> torch.Tensor:
    return M.grow(m[None, None], r)[0, 0]


def _steps(img: torch.Tensor, hole: torch.Tensor, r: int, ref: Optional[torch.Tensor] = None,
           ref_mask: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel colour step across the border of ``hole`` (binary [H,W]) in img [N,3,H,W].

    At the inner border pixels (hole pixels with a known pixel within r): |mean of the hole pixels
    within r − mean of the known pixels within r| (RGB norm). Where ``ref_mask`` covers the border
    pixel, the hole side is compared with the same window of ``ref`` [3,H,W] (restricted to
    ref_mask) instead of the known side. Returns (steps [N, P], border selector [H,W])."""
    h = hole[None, None]
    known = 1.0 - h
    cnt_in, cnt_out = _box_sum(h, r), _box_sum(known, r)
    border = (hole > 0.5) & (cnt_out[0, 0] > 0.5)
    mean_in = _box_sum(img * h, r) / cnt_in.clamp(min=1e-6)
    mean_out = _box_sum(img * known, r) / cnt_out.clamp(min=1e-6)
    other = mean_out
    if ref is not None and ref_mask is not None:
        rm = (ref_mask > 0.5).float()[None, None] * h
        cnt_ref = _box_sum(rm, r)
        mean_ref = _box_sum(ref[None] * rm, r) / cnt_ref.clamp(min=1e-6)
        use_ref = (ref_mask > 0.5)[None, None] & (cnt_ref > 0.5)
        other = torch.where(use_ref, mean_ref, mean_out)
    step = (mean_in - other).norm(dim=1)  # [N,H,W]
    return step[:, border], border


def seam_scores(images: torch.Tensor, hole: torch.Tensor, width: int = 2,
                ref: Optional[torch.Tensor] = None, ref_mask: Optional[torch.Tensor] = None,
                tau: float = SEAM_TAU, beyond: bool = False) -> list[dict]:
    """Seam parts for images [N,3,H,W] and a binary hole [H,W]: mean border step, the scene's own
    step on a curve 3·width px outside the hole, and seam = exp(−max(step − base, 0) / tau).
    ``beyond``: the images are a crop of larger ones, which go on (without hole) past its edges;
    the crop must reach 4·width + 1 px beyond the hole where the image does."""
    steps, border = _steps(images, hole, width, ref, ref_mask)
    n = images.shape[0]
    if border.sum() == 0:  # the hole covers the whole image: no border to judge
        return [dict(seam=1.0, seam_step=0.0, seam_base=0.0) for _ in range(n)]
    step = steps.mean(dim=1)
    outer = _dilate(hole, 3 * width)
    if beyond or (outer < 0.5).any():
        base_steps, _ = _steps(images, outer, width)
        base = base_steps.mean(dim=1) if base_steps.numel() else torch.zeros(n)
    else:
        base = torch.zeros(n)
    out = []
    for i in range(n):
        excess = max(0.0, float(step[i] - base[i]))
        out.append(dict(seam=math.exp(-excess / tau), seam_step=float(step[i]), seam_base=float(base[i])))
    return out


# --- ranking ------------------------------------------------------------------------------------

def _weights(weights) -> dict:
    w = dict(DEFAULT_WEIGHTS)
    if weights is not None:
        unknown = set(weights) - set(w)
        if unknown:
            raise ValueError(f"unknown weights {sorted(unknown)}; use 'similarity' and 'seam'")
        w.update({k: float(v) for k, v in weights.items()})
    if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
        raise ValueError(f"weights must be >= 0 and not all 0, got {w}")
    return w


def _embed(embed_fn: Callable, images_bchw: torch.Tensor, n: int) -> torch.Tensor:
    out = embed_fn(images_bchw.permute(0, 2, 3, 1).contiguous())
    out = torch.as_tensor(out).detach().float().cpu().reshape(n, -1)
    return F.normalize(out, dim=-1)


def rank_candidates(candidates, target, hole_mask, embed_fn: Optional[Callable] = None,
                    weights: Optional[dict] = None, target_mask=None, seam_width: int = 2,
                    ) -> list[tuple[int, float, dict]]:
    """Rank a batch of results, best first: a list of (index into the batch, score, parts).

    candidates: IMAGE [N,H,W,C]; target: IMAGE [H,W,C] / [1,H,W,C], either the placed target
    (same size as the candidates) or a cut-out of any other size; hole_mask: MASK [H,W] (the
    first of a batch is used; resized when its size differs); target_mask: the target's object
    mask in the target image's own coordinates (optional; narrows the compared region to the
    silhouette and lets the seam expect the object's edge where the silhouette meets the
    border); embed_fn: images [B,H,W,C] -> [B,D] embeddings (cosine similarity; e.g. a
    ClipImageEncoder); weights: {"similarity": 0.7, "seam": 0.3} by default.
    parts: similarity, seam, colour, structure (always), clip (with embed_fn), seam_step,
    seam_base, method ("clip" or "pixel"). Ties keep the batch order."""
    cand_in = M.image_bhwc(candidates, "candidates")
    n, H, W = cand_in.shape[0], cand_in.shape[1], cand_in.shape[2]
    if n == 0:
        raise ValueError("candidates is an empty batch")
    tgt_in = M.image_bhwc(target, "target")[:1]
    w = _weights(weights)
    r = max(1, int(seam_width))
    # Only the hole's neighbourhood is read: the seam's reach around the hole's box (and the
    # square CLIP sees). The scores are those of working on the whole images.
    hm = _mask(hole_mask, (H, W), "hole_mask")
    hb = _bbox(hm)
    if hb is None:
        raise ValueError("The hole mask is empty: nothing to compare the candidates with the target in")
    m = 4 * r + 1
    wb = (max(0, hb[0] - m), max(0, hb[1] - m), min(W, hb[2] + m), min(H, hb[3] + m))
    sq = _square(hb, H, W)
    if embed_fn is not None:
        wb = (min(wb[0], sq[0]), min(wb[1], sq[1]), max(wb[2], sq[2]), max(wb[3], sq[3]))
    cut = lambda t: t[..., wb[1]:wb[3], wb[0]:wb[2]]  # noqa: E731  ([.., H, W])
    cand = _bchw(cand_in[:, wb[1]:wb[3], wb[0]:wb[2]], "candidates")
    hole = (cut(hm) > 0.5).float()
    placed = tuple(tgt_in.shape[1:3]) == (H, W)
    tgt = _bchw(tgt_in[:, wb[1]:wb[3], wb[0]:wb[2]] if placed else tgt_in, "target")
    tmask = None
    if target_mask is not None:
        tm = _mask(target_mask, tuple(tgt_in.shape[1:3]), "target_mask")
        if float(tm.amax()) > 0.5:
            tmask = ((cut(tm) if placed else tm) > 0.5).float()
    hb = (hb[0] - wb[0], hb[1] - wb[1], hb[2] - wb[0], hb[3] - wb[1])
    sq = (sq[0] - wb[0], sq[1] - wb[1], sq[2] - wb[0], sq[3] - wb[1])
    beyond = wb != (0, 0, W, H)

    # regions and crops for the pixel similarity
    cand_crop = _crop(cand, hb)
    hole_crop = _crop(hole, hb)
    ch, cw = hole_crop.shape
    if placed:
        tgt_crop = _crop(tgt, hb)[0]
        region = hole_crop * (_crop(tmask, hb) if tmask is not None else 1.0)
        if not (region > 0.5).any():
            region = hole_crop
        t_region = region
        struct_w = _dilate(region, 1)
    else:
        tb = _bbox(tmask) if tmask is not None else (0, 0, tgt.shape[-1], tgt.shape[-2])
        tgt_crop = _resize(_crop(tgt, tb), (ch, cw))[0]
        t_region = (_resize(_crop(tmask, tb)[None, None], (ch, cw))[0, 0] > 0.5).float() \
            if tmask is not None else torch.ones(ch, cw)
        region = hole_crop
        struct_w = _dilate(t_region, 1) if tmask is not None else hole_crop
    t_hist = color_histogram(tgt_crop, t_region)
    parts = []
    for i in range(n):
        colour = histogram_intersection(color_histogram(cand_crop[i], region), t_hist)
        if placed:
            structure = gradient_correlation(cand_crop[i], tgt_crop, struct_w)
        else:  # a cut-out's position inside the hole is unknown: position-free edge statistics
            structure = orientation_similarity(cand_crop[i], region, tgt_crop, struct_w)
        parts.append(dict(colour=colour, structure=structure, pixel=0.5 * colour + 0.5 * structure))

    if embed_fn is not None:
        c_sq = _crop(cand, sq)
        if placed and tmask is not None:
            # each candidate against itself with the target pasted into the silhouette: what the
            # placed image holds outside the silhouette (black canvas, old scene) does not matter
            m = _crop(tmask, sq)
            t_sq = c_sq * (1 - m) + _crop(tgt, sq) * m
        elif placed:
            t_sq = _crop(tgt, sq)
        else:
            tb = _bbox(tmask) if tmask is not None else (0, 0, tgt.shape[-1], tgt.shape[-2])
            t_sq = _crop(tgt, _square(tb, tgt.shape[-2], tgt.shape[-1]))
        ec = _embed(embed_fn, c_sq, n)
        et = _embed(embed_fn, t_sq, t_sq.shape[0])
        cos = (ec * et).sum(-1) if et.shape[0] == n else ec @ et[0]
        for p, c in zip(parts, cos.tolist()):
            p.update(clip=float(c), similarity=float(c), method="clip")
    else:
        for p in parts:
            p.update(similarity=p["pixel"], method="pixel")

    seam_ref = seam_mask = None
    if placed and tmask is not None:
        seam_ref, seam_mask = tgt[0], tmask
    for p, s in zip(parts, seam_scores(cand, hole, r, seam_ref, seam_mask, beyond=beyond)):
        p.update(s)

    total = sum(w.values())
    ranked = []
    for i, p in enumerate(parts):
        score = (w["similarity"] * p["similarity"] + w["seam"] * p["seam"]) / total
        ranked.append((i, float(score), p))
    ranked.sort(key=lambda r: (-r[1], r[0]))
    return ranked


def sort_batch(candidates: torch.Tensor, ranked: Sequence[tuple[int, float, dict]]) -> torch.Tensor:
    """The candidates batch reordered best first (the batch itself when it already is)."""
    order = [i for i, _, _ in ranked]
    if order == list(range(candidates.shape[0])):
        return candidates
    return candidates[torch.tensor(order, dtype=torch.long)]


def rank_batch(candidates, targets, holes, target_masks=None, embed_fn: Optional[Callable] = None,
               **options) -> list[tuple[int, float, dict]]:
    """``rank_candidates`` where the target, the hole and the target mask may differ per
    candidate: each is a batch of 1 (shared by all candidates) or of the candidates' N
    (candidate i is scored against item i). The ranking is the same as ``rank_candidates``'s
    when all are shared (each candidate's score depends only on its own inputs)."""
    n = len(candidates)
    per = [t is not None and len(t) > 1 for t in (targets, holes, target_masks)]
    pick = lambda t, i: None if t is None else t[min(i, len(t) - 1)]  # noqa: E731
    if not any(per):
        return rank_candidates(candidates, targets[:1], pick(holes, 0), embed_fn,
                               target_mask=pick(target_masks, 0), **options)
    ranked = []
    for i in range(n):
        (_, score, parts), = rank_candidates(candidates[i:i + 1], pick(targets, i)[None], pick(holes, i),
                                             embed_fn, target_mask=pick(target_masks, i), **options)
        ranked.append((i, score, parts))
    ranked.sort(key=lambda r: (-r[1], r[0]))
    return ranked


def format_scores(ranked: Sequence[tuple[int, float, dict]]) -> str:
    """One line per candidate, best first, e.g.
    ``#1  batch 0  score 0.912  similarity 0.950 (clip)  seam 0.880  [colour 0.91, structure 0.84, step 0.012]``"""
    lines = []
    for rank, (i, score, p) in enumerate(ranked, 1):
        lines.append(f"#{rank}  batch {i}  score {score:.3f}  similarity {p['similarity']:.3f} "
                     f"({p.get('method', '?')})  seam {p['seam']:.3f}  [colour {p['colour']:.2f}, "
                     f"structure {p['structure']:.2f}, step {p['seam_step']:.3f}]")
    return "\n".join(lines)
