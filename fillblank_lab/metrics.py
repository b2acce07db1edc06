"""Metrics for judging an object insertion.

Images are C×H×W (or B×C×H×W) float tensors in one value range — model space [-1, 1] for the toy
scenes, for which ``data_range=2`` and ``low=-1`` (the defaults); pass ``data_range=1, low=0``
for ComfyUI images in [0, 1] — and masks are H×W (or B×H×W / B×1×H×W), 1 =
inside. A single image gives a Python float; a batch gives a float tensor [B].

* target fidelity inside the silhouette: :func:`masked_mse`, :func:`masked_psnr` (pixels),
  :func:`masked_ssim` (structure: SSIM with a small Gaussian window, averaged over the mask),
  :func:`clip_similarity` (cosine of image embeddings of the object's crop, when an embedding
  function is given — e.g. a CLIP vision model);
* context preservation outside the hole: :func:`context_preservation`;
* a seam score across the hole's border: :func:`seam_score`;
* the exemplar model's hit rate: :func:`nearest_exemplar`, :func:`hit_rate`;
* :func:`evaluate` bundles them for a :class:`~fillblank_lab.toy.InsertTask`-like object.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

EmbedFn = Callable[[torch.Tensor], torch.Tensor]

__all__ = ["masked_mse", "masked_psnr", "masked_ssim", "ssim_map", "clip_similarity", "target_fidelity",
           "context_preservation", "seam_score", "nearest_exemplar", "hit_rate", "evaluate", "EmbedFn"]


# --- shape handling ---------------------------------------------------------------------------

def _batch(x: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    if x.ndim == 3:
        return x[None].double(), True
    if x.ndim == 4:
        return x.double(), False
    raise ValueError(f"{name} must be C×H×W or B×C×H×W, got shape {tuple(x.shape)}")


def _mask(m: torch.Tensor, like: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Any mask layout -> [B|1, 1, H, W] float64 matching ``like`` [B, C, H, W]."""
    m = torch.as_tensor(m).double()
    if m.ndim == 2:
        m = m[None, None]
    elif m.ndim == 3:  # [B, H, W] like a ComfyUI MASK
        m = m[:, None]
    elif m.ndim == 4:
        m = m[:, :1]
    else:
        raise ValueError(f"{name} must be H×W, B×H×W or B×1×H×W, got shape {tuple(m.shape)}")
    if m.shape[-2:] != like.shape[-2:]:
        raise ValueError(f"{name} must have the image's size {tuple(like.shape[-2:])}, got {tuple(m.shape[-2:])}")
    if m.shape[0] not in (1, like.shape[0]):
        raise ValueError(f"{name} has batch {m.shape[0]}, the images {like.shape[0]}")
    return m.to(like.device)


def _out(v: torch.Tensor, single: bool):
    return float(v[0]) if single else v.float()


def _pair(a: torch.Tensor, b: torch.Tensor, na: str, nb: str):
    a, sa = _batch(a, na)
    b, sb = _batch(b, nb)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"{na} and {nb} must have the same C×H×W, got {tuple(a.shape[1:])} and {tuple(b.shape[1:])}")
    if b.shape[0] == 1 and a.shape[0] > 1:
        b = b.expand_as(a)
    if a.shape[0] == 1 and b.shape[0] > 1:
        a = a.expand_as(b)
    return a, b, sa and sb


# --- pixels -----------------------------------------------------------------------------------

def masked_mse(a: torch.Tensor, b: torch.Tensor, mask: Optional[torch.Tensor] = None):
    """Mean squared difference over the mask's pixels (all channels); NaN for an empty mask."""
    a, b, single = _pair(a, b, "a", "b")
    d = (a - b) ** 2
    if mask is None:
        return _out(d.flatten(1).mean(1), single)
    m = _mask(mask, a).expand(a.shape[0], 1, *a.shape[-2:])
    num = (d * m).flatten(1).sum(1)
    den = m.flatten(1).sum(1) * a.shape[1]
    return _out(torch.where(den > 0, num / den.clamp_min(1e-12), torch.full_like(num, float("nan"))), single)


def masked_psnr(a: torch.Tensor, b: torch.Tensor, mask: Optional[torch.Tensor] = None, data_range: float = 2.0,
                cap: float = 100.0):
    """PSNR in dB over the mask (capped at ``cap`` for identical images)."""
    mse = masked_mse(a, b, mask)
    f = (lambda v: min(cap, 10 * math.log10(data_range ** 2 / v)) if v > 0 else (cap if v == 0 else float("nan")))
    if isinstance(mse, float):
        return f(mse)
    return torch.tensor([f(float(v)) for v in mse])


# --- structure --------------------------------------------------------------------------------

def _gauss(size: int, sigma: float, device) -> torch.Tensor:
    xs = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-xs ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def ssim_map(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0, window: int = 7,
             sigma: float = 1.5, low: float = -1.0) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004) [B, H, W], averaged over channels; reflect padding.

    Values are shifted by ``low`` (the bottom of the value range) first: SSIM's luminance term
    assumes non-negative intensities.
    """
    a, b, _ = _pair(a, b, "a", "b")
    a, b = a - low, b - low
    c = a.shape[1]
    g = _gauss(window, sigma, a.device)
    kh = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    kv = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    pad = window // 2

    def filt(x):
        x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        return F.conv2d(F.conv2d(x, kh, groups=c), kv, groups=c)

    mu_a, mu_b = filt(a), filt(b)
    saa = filt(a * a) - mu_a ** 2
    sbb = filt(b * b) - mu_b ** 2
    sab = filt(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return s.mean(1)


def masked_ssim(a: torch.Tensor, b: torch.Tensor, mask: Optional[torch.Tensor] = None, data_range: float = 2.0,
                low: float = -1.0):
    """SSIM averaged over the mask's pixels (1 = identical structure); NaN for an empty mask."""
    single = a.ndim == 3 and b.ndim == 3
    s = ssim_map(a, b, data_range, low=low)
    if mask is None:
        return _out(s.flatten(1).mean(1), single)
    m = _mask(mask, s[:, None])[:, 0].expand_as(s)
    den = m.flatten(1).sum(1)
    v = (s * m).flatten(1).sum(1) / den.clamp_min(1e-12)
    return _out(torch.where(den > 0, v, torch.full_like(v, float("nan"))), single)


# --- embeddings -------------------------------------------------------------------------------

def _crop_box(mask_hw: torch.Tensor, margin: int) -> tuple[int, int, int, int]:
    ys, xs = torch.nonzero(mask_hw > 0.5, as_tuple=True)
    h, w = mask_hw.shape
    if ys.numel() == 0:
        return 0, 0, w, h
    return (max(0, int(xs.min()) - margin), max(0, int(ys.min()) - margin),
            min(w, int(xs.max()) + 1 + margin), min(h, int(ys.max()) + 1 + margin))


def clip_similarity(result: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, embed_fn: EmbedFn,
                    margin: int = 2, value_range: tuple[float, float] = (-1.0, 1.0)):
    """Cosine similarity of ``embed_fn`` embeddings of the mask's bounding-box crop of both images.

    embed_fn: takes a ComfyUI-layout IMAGE batch [N, h, w, 3] in [0, 1] (it resizes/normalises as
    its model needs) and returns embeddings [N, D] — the same convention as
    ``fillblank_core.rank``, so a :class:`fillblank_lab.clip_encoder.ClipImageEncoder` or
    ``clip.comfy_embed_fn(CLIP_VISION)`` can be passed as is.
    """
    r, t, single = _pair(result, target, "result", "target")
    m = _mask(mask, r)
    lo, hi = value_range
    out = []
    for i in range(r.shape[0]):
        x0, y0, x1, y1 = _crop_box(m[min(i, m.shape[0] - 1), 0], margin)
        pair = torch.stack([r[i, :, y0:y1, x0:x1], t[i, :, y0:y1, x0:x1]])
        pair = ((pair - lo) / (hi - lo)).clamp(0, 1).float().permute(0, 2, 3, 1).contiguous()
        e = torch.as_tensor(embed_fn(pair)).double().reshape(2, -1)
        out.append(F.cosine_similarity(e[0:1], e[1:2]).reshape(()))
    return _out(torch.stack(out), single)


# --- bundles ----------------------------------------------------------------------------------

def target_fidelity(result: torch.Tensor, target: torch.Tensor, silhouette: torch.Tensor,
                    embed_fn: Optional[EmbedFn] = None, data_range: float = 2.0, low: float = -1.0) -> dict:
    """How much of the target is in the result, inside the target's silhouette.

    Keys: ``mse``, ``psnr`` (pixels), ``ssim`` (structure), and ``clip`` when ``embed_fn`` is given.
    """
    out = {"mse": masked_mse(result, target, silhouette),
           "psnr": masked_psnr(result, target, silhouette, data_range),
           "ssim": masked_ssim(result, target, silhouette, data_range, low)}
    if embed_fn is not None:
        out["clip"] = clip_similarity(result, target, silhouette, embed_fn, value_range=(low, low + data_range))
    return out


def context_preservation(result: torch.Tensor, scene: torch.Tensor, hole: torch.Tensor,
                         data_range: float = 2.0) -> dict:
    """How untouched the scene is outside the hole: ``mse``, ``psnr`` and ``max_abs`` there."""
    r, s, single = _pair(result, scene, "result", "scene")
    outside = 1.0 - _mask(hole, r)
    mx = ((r - s).abs() * outside).flatten(1).amax(1)
    return {"mse": masked_mse(result, scene, outside), "psnr": masked_psnr(result, scene, outside, data_range),
            "max_abs": _out(mx, single)}


def _pairs(x: torch.Tensor):
    """Horizontal and vertical neighbour differences |x_p − x_q| averaged over channels."""
    dh = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(1)
    dv = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(1)
    return dh, dv


def seam_score(result: torch.Tensor, mask: torch.Tensor, reference: Optional[torch.Tensor] = None,
               ring: int = 2):
    """How visible the border of ``mask`` is in ``result`` (0 = seamless; model-space units).

    Over neighbouring pixel pairs that straddle the border (one inside, one outside):
    * without ``reference``: mean |Δ| across the border minus mean |Δ| of the pairs just outside
      it (both pixels outside, within ``ring`` px): the border's excess contrast over the
      context's own texture;
    * with ``reference`` (an image of how the border should look, e.g. the truth): the mean
      one-sided excess max(0, |Δ_result| − |Δ_reference|) across the border — edges that should
      not be there.
    """
    r, single = _batch(result, "result")
    m = (_mask(mask, r)[:, 0] > 0.5).double().expand(r.shape[0], *r.shape[-2:])
    dh, dv = _pairs(r)
    bh = (m[..., :, 1:] != m[..., :, :-1]).double()
    bv = (m[..., 1:, :] != m[..., :-1, :]).double()
    nb = bh.flatten(1).sum(1) + bv.flatten(1).sum(1)
    if reference is not None:
        ref, _ = _batch(reference, "reference")
        if ref.shape[1:] != r.shape[1:]:
            raise ValueError(f"reference must have the result's C×H×W {tuple(r.shape[1:])}, got {tuple(ref.shape[1:])}")
        rh, rv = _pairs(ref.expand_as(r) if ref.shape[0] == 1 else ref)
        ex = ((dh - rh).clamp_min(0) * bh).flatten(1).sum(1) + ((dv - rv).clamp_min(0) * bv).flatten(1).sum(1)
        v = ex / nb.clamp_min(1)
        return _out(torch.where(nb > 0, v, torch.zeros_like(v)), single)
    across = ((dh * bh).flatten(1).sum(1) + (dv * bv).flatten(1).sum(1)) / nb.clamp_min(1)
    k = 2 * ring + 1
    near = F.max_pool2d(m[:, None], k, 1, ring)[:, 0]
    ringm = near * (1 - m)
    oh = ringm[..., :, 1:] * ringm[..., :, :-1]
    ov = ringm[..., 1:, :] * ringm[..., :-1, :]
    no = oh.flatten(1).sum(1) + ov.flatten(1).sum(1)
    ctx = ((dh * oh).flatten(1).sum(1) + (dv * ov).flatten(1).sum(1)) / no.clamp_min(1)
    v = across - ctx
    return _out(torch.where(nb > 0, v, torch.zeros_like(v)), single)


# --- exemplar model ---------------------------------------------------------------------------

def nearest_exemplar(images: torch.Tensor, exemplars: torch.Tensor, mask: Optional[torch.Tensor] = None):
    """Index of the nearest exemplar (L2 over ``mask``) for each image: int, or long tensor [B]."""
    x, single = _batch(images, "images")
    ex = torch.as_tensor(exemplars).double()
    if ex.ndim != 4 or ex.shape[1:] != x.shape[1:]:
        raise ValueError(f"exemplars must be [K, {', '.join(map(str, x.shape[1:]))}], got {tuple(ex.shape)}")
    d = (x[:, None] - ex[None]) ** 2  # [B, K, C, H, W]
    if mask is not None:
        d = d * _mask(mask, x)[:, None]
    idx = d.flatten(2).sum(2).argmin(1)
    return int(idx[0]) if single else idx


def hit_rate(images: torch.Tensor, exemplars: torch.Tensor, target_index: int | Sequence[int],
             mask: Optional[torch.Tensor] = None) -> float:
    """Fraction of images whose nearest exemplar (over ``mask``) is ``target_index``."""
    x, _ = _batch(images, "images")
    idx = nearest_exemplar(x, exemplars, mask)
    tgt = torch.as_tensor(target_index).reshape(-1)
    if tgt.numel() not in (1, idx.numel()):
        raise ValueError(f"target_index must be one index or one per image ({idx.numel()}), got {tgt.numel()}")
    return float((idx == tgt).double().mean())


# --- everything for a toy task ----------------------------------------------------------------

def evaluate(result: torch.Tensor, task, hole: Optional[torch.Tensor] = None,
             embed_fn: Optional[EmbedFn] = None) -> dict:
    """All metrics of one result for an insertion task (``scene``, ``hole``, ``target``,
    ``silhouette``; ``truth`` optional): a flat dict of floats.

    fid_* compare with the target inside its silhouette; truth_mse compares with the harmonised
    truth there; ctx_* measure the scene outside ``hole`` (default: the task's hole); seam is
    :func:`seam_score` across the border of ``hole`` against the truth when the task has one,
    seam_free the reference-free variant.
    """
    hole = task.hole if hole is None else hole
    fid = target_fidelity(result, task.target, task.silhouette, embed_fn)
    ctx = context_preservation(result, task.scene, hole)
    out = {f"fid_{k}": v for k, v in fid.items()}
    out.update({f"ctx_{k}": v for k, v in ctx.items()})
    truth = getattr(task, "truth", None)
    if truth is not None:
        out["truth_mse"] = masked_mse(result, truth, task.silhouette)
    out["seam"] = seam_score(result, hole, truth)
    out["seam_free"] = seam_score(result, hole)
    return out
