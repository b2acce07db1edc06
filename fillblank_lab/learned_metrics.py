"""Metrics of the learned world (``fillblank_lab/scenes.py``), decided without the guidance.

Every metric reads the decoded result, the renderer's ground truth for the run (``scenes.Example``:
the placed object's silhouette, the lit truth, its shadow) and the references as the run's VAE shows
them (the scene, the plain paste and the lit truth, each encoded and decoded): an 8×-down 4-channel
VAE blurs a 30-px object, and no sampler can give back more than the VAE can draw, so the
references are what the best possible latent would decode to. None of them sees the latent target
the sampler was pulled toward.

* identity: the object is there with the target's shape — the silhouette found in the result (pixels
  of the repainted region within ``NEAR`` px of the placed object that no darkening of the scene
  explains; background the model redraws farther away is not the object) has IoU ≥ ``IOU`` with the
  one found the same way in the decoded paste — and with its texture and colours: the Pearson
  correlation over the placed silhouette's pixels and channels between the result and the decoded
  paste times a per-channel gain (least squares, clamped to what a light can do: overall 0.2…1.6,
  each channel within ×0.6…1.6 of the mean) is ≥ ``CORR``.
* harmony: the object and its shadow re-rendered in the scene's light — the squared error to the
  decoded lit truth over the object and its shadow is at most ``RATIO`` × the decoded paste's, and the
  shadow is there (inside the hole, the luminance drop where the truth's shadow is is at least half
  the truth's). ``ratio_exact`` is the same ratio against the exact lit truth (reported: how far the
  VAE itself is from the truth).
* joint = identity and harmony. The thresholds are calibrated on the renderer
  (tests/test_lab_learned.py): the lit truth through the VAE passes, the paste fails harmony, no
  target fails identity, another object at the same place fails identity.
* seam: the mean luminance jump across the hole's border minus the scene's own there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IOU = 0.45           # silhouette IoU with the decoded paste's
CORR = 0.8           # texture correlation with the decoded paste after per-channel gain
RATIO = 0.5          # error to the decoded lit truth relative to the decoded paste's
OBJ_DIST = 0.10      # RGB distance from the best darkening of the scene above which a pixel is object
DARKEST = 0.25       # the darkest a shadow makes the scene (factor on its colour)
LIGHT_NOISE = 0.15   # darkening outside the truth's shadow (3 px around it) that still counts as scene
SHADE_REACH = 3      # px: how far from the truth's shadow a result's shadow may fall
NEAR = 4             # px: the silhouettes are compared within this distance of the placed object
SHADOW_MIN = 0.25    # the truth's shadow region: more than this fraction of the direct light taken
GAIN = (0.2, 1.6)
CHANNEL = (0.6, 1.6)

__all__ = ["IOU", "CORR", "RATIO", "silhouette", "identity", "harmony", "seam", "score", "lum"]


def lum(img: torch.Tensor) -> torch.Tensor:
    return img[..., 0] * 0.3 + img[..., 1] * 0.59 + img[..., 2] * 0.11


def silhouette(result: torch.Tensor, scene: torch.Tensor, hole: torch.Tensor,
               shade: torch.Tensor | None = None) -> torch.Tensor:
    """[H, W] bool: pixels of the hole the scene (or a darkening of it, a shadow) does not explain.
    result, scene: [1, H, W, 3]; hole: [1, H, W] (1 = repainted); shade: [H, W] bool where a shadow
    may darken the scene down to DARKEST (elsewhere by at most LIGHT_NOISE; None: everywhere)."""
    r, s = result[0].double(), scene[0].double()
    f = (r * s).sum(-1) / (s * s).sum(-1).clamp(min=1e-6)
    lo = torch.full_like(f, DARKEST) if shade is None else torch.where(shade, DARKEST, 1.0 - LIGHT_NOISE)
    f = torch.minimum(torch.maximum(f, lo), torch.ones_like(f))
    d = (r - f[..., None] * s).norm(dim=-1)
    return (d > OBJ_DIST) & (hole.reshape(d.shape) > 0.5)


def texture_corr(result: torch.Tensor, albedo: torch.Tensor, region: torch.Tensor) -> float:
    """Correlation (pixels × channels) between the result and the albedo after a clamped per-channel gain."""
    if int(region.sum()) < 4:
        return float("nan")
    r = result[0][region].double()          # [n, 3]
    t = albedo[region].double()
    g = (r * t).sum(0) / (t * t).sum(0).clamp(min=1e-9)
    m = g.mean().clamp(*GAIN)
    g = (g / g.mean().clamp(min=1e-9)).clamp(*CHANNEL) * m
    a, b = r.flatten(), (t * g).flatten()
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp(min=1e-9))


def identity(result: torch.Tensor, ex, scene_dec: torch.Tensor, hole: torch.Tensor, paste_dec: torch.Tensor) -> dict:
    """{"iou", "corr", "identity"} of a decoded result [1, H, W, 3] for the run ``ex``."""
    shade = _dilate(ex.shadow > 0.05, SHADE_REACH)
    near = _dilate(ex.alpha > 0.05, NEAR)  # what the model redraws farther away is not the object's shape
    found = silhouette(result, scene_dec, hole, shade) & near
    ref = silhouette(paste_dec, scene_dec, hole, shade) & near
    iou = float((found & ref).sum()) / max(1, int((found | ref).sum()))
    corr = texture_corr(result, paste_dec[0], ex.alpha > 0.5)
    return {"iou": iou, "corr": corr, "identity": iou >= IOU and corr >= CORR}


def _dilate(m: torch.Tensor, r: int = 1) -> torch.Tensor:
    return F.max_pool2d(m[None, None].float(), 2 * r + 1, 1, r)[0, 0] > 0


def harmony(result: torch.Tensor, ex, paste_dec: torch.Tensor, scene_dec: torch.Tensor, hole: torch.Tensor,
            truth_dec: torch.Tensor) -> dict:
    """{"ratio", "ratio_exact", "lit", "shadow_dark", "shadow_want", "shadow", "harmony"} of a decoded result."""
    region = _dilate((ex.alpha > 0.05) | (ex.shadow > SHADOW_MIN))

    def err(x, t):
        return float(((x[0] - t[0])[region] ** 2).sum())
    ratio = err(result, truth_dec) / max(err(paste_dec, truth_dec), 1e-12)
    ratio_exact = err(result, ex.truth) / max(err(paste_dec, ex.truth), 1e-12)
    sh = (ex.shadow > SHADOW_MIN) & (ex.alpha < 0.05) & (hole.reshape(ex.alpha.shape) > 0.5)
    if int(sh.sum()) < 4:
        want, dark, shadow_ok = float("nan"), float("nan"), True
    else:
        want = float((lum(ex.scene[0]) - lum(ex.truth[0]))[sh].mean())
        dark = float((lum(scene_dec[0]) - lum(result[0]))[sh].mean())
        shadow_ok = dark >= 0.5 * want
    lit = ratio <= RATIO
    return {"ratio": ratio, "ratio_exact": ratio_exact, "lit": lit, "shadow_dark": dark, "shadow_want": want,
            "shadow": shadow_ok, "harmony": lit and shadow_ok}


def seam(result: torch.Tensor, scene_dec: torch.Tensor, hole: torch.Tensor) -> float:
    """Mean luminance jump across the hole's border minus the scene's own jump at the same pixel pairs."""
    h = hole.reshape(result.shape[1:3]) > 0.5
    la, ls = lum(result[0]), lum(scene_dec[0])
    jumps, base = [], []
    for dim in (0, 1):
        n = h.shape[dim] - 1
        edge = h.narrow(dim, 0, n) != h.narrow(dim, 1, n)
        jumps.append((la.narrow(dim, 0, n) - la.narrow(dim, 1, n)).abs()[edge])
        base.append((ls.narrow(dim, 0, n) - ls.narrow(dim, 1, n)).abs()[edge])
    j = torch.cat(jumps)
    return float(j.mean() - torch.cat(base).mean()) if j.numel() else 0.0


def score(result: torch.Tensor, ex, paste_dec: torch.Tensor, scene_dec: torch.Tensor, hole: torch.Tensor,
          truth_dec: torch.Tensor) -> dict:
    """Every metric of one run: identity, harmony, joint, seam (hole: the repainted region in pixels;
    *_dec: the scene, the paste and the lit truth through the run's VAE)."""
    i = identity(result, ex, scene_dec, hole, paste_dec)
    h = harmony(result, ex, paste_dec, scene_dec, hole, truth_dec)
    return {**i, **h, "joint": i["identity"] and h["harmony"], "seam": seam(result, scene_dec, hole)}
