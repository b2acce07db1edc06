"""A world of real photographs for the README picture .

Pure torch (+ the photos that scikit-image ships; no ComfyUI import). ``scripts/make_readme_picture.py``
runs it through the real nodes.

* The scene: scikit-image's ``coffee`` photo (an espresso cup on a wooden table, 600×400), as is.
* The target: scikit-image's ``logo`` (the round scikit-image badge on white), cut out as LoadImage
  gives a cut-out: IMAGE on white + MASK (1 = transparent). It is in *neutral* light: the badge's own
  colours, no colour cast, no shadow.
* The model's data ("exemplars"; the model is the exact posterior over them, fillblank_lab's
  :class:`~fillblank_lab.denoisers.ExemplarDenoiser`): the table under three lights — the photo's
  own and the same photo re-lit cool and dim — and, for each light, one object at the place, drawn
  as it would look there: its colours multiplied (in linear light) by that scene's light around the
  place (the photo's own light is read from the table around the place), a soft shading across it and
  a soft shadow cast on the table below and to the right (the cup's light comes from the upper left).
  Objects: the badge (the target's class), the badge in another shade (hue turned), a round badge
  cut from scikit-image's ``chelsea`` (the cat; same shape, another object), a plain cream coaster
  (same shape, bright), and no object. Each at three slightly different sizes/places, none exactly
  where the target is placed (a real cut-out is never placed exactly as the model's data show it).
  Nothing in the data shows the badge in neutral light or without its shadow: the paste is off the
  model's data.
* :class:`PhotoVAE`: a fixed, deterministic, non-linear VAE, 8× down, 96 channels per 8×8 cell, in
  a gamma-encoded opponent colour space: the luma of each of its 64 pixels and the two chroma
  channels of each 2×2 block (means taken in linear light, as JPEG subsamples chroma); decode is the
  inverse (chroma upsampled bilinearly). Non-linear: a cell's latent is not the blend of the
  latents of what covers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

from fillblank_core.placement import place_on_scene

__all__ = ["LIGHTS", "OBJECTS", "PhotoVAE", "PhotoWorld", "linear_to_srgb", "photo", "srgb_to_linear"]

# where the badge goes on the coffee table (Target Encoder's x, y, scale)
PLACE = dict(x=0.85, y=0.2, scale=0.24)
# the model's data: each object at these (scale factor, dx px, dy px) around the place
VARIANTS = ((0.95, 3, -2), (1.05, -3, 2), (1.0, -2, -3))
OBJECTS = ("badge", "badge_other_shade", "cat_badge", "cream_coaster", "none")
TARGET_CLASS = "badge"
# other lights of the model's data, relative to the photo's own light: (RGB factor, brightness factor)
LIGHTS = {"scene": ((1.0, 1.0, 1.0), 1.0), "cool": ((0.62, 0.9, 1.45), 1.15), "dim": ((0.95, 0.95, 1.0), 0.45)}
SHADOW = dict(dx=0.10, dy=0.08, blur=0.05, strength=0.62)  # offsets/blur as fractions of the object's size


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


@cache
def _photo_np(name: str) -> np.ndarray:
    from skimage import data
    return np.ascontiguousarray(getattr(data, name)())


def photo(name: str) -> torch.Tensor:
    """A scikit-image photo as a float [H, W, C] tensor in 0..1 (C = 3, or 4 for RGBA)."""
    return torch.from_numpy(_photo_np(name).copy()).float() / 255.0


# --- the VAE ----------------------------------------------------------------------------------------

class PhotoVAE:
    """Deterministic non-linear VAE, 8× down, 96 channels (see the module docstring). Has what the
    nodes and ComfyUI's VAEEncode / VAEDecode use of a VAE: encode, decode, downscale_ratio."""

    downscale_ratio = 8
    # gamma-encoded RGB → opponent (luma, red-green, yellow-blue), scaled to about unit range
    O = torch.tensor([[1 / 3, 1 / 3, 1 / 3], [1.0, -1.0, 0.0], [0.5, 0.5, -1.0]]) * torch.tensor([[2.0], [1.5], [1.5]])
    GAMMA = 1 / 2.2
    latent_channels = 64 + 2 * 16   # luma per pixel, the two chroma channels per 2×2 pixels

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """IMAGE [B, H, W, C] (H, W multiples of 8; extra channels ignored) → latent [B, 96, H/8, W/8]."""
        x = srgb_to_linear(pixels[..., :3].movedim(-1, 1).float())
        g = x.clamp_min(0) ** self.GAMMA                                  # the non-linearity
        luma = torch.einsum("c,bchw->bhw", self.O[0], g - 0.5)[:, None]
        lin2 = F.avg_pool2d(x, 2)                                          # chroma: 2×2 means in linear light
        chroma = torch.einsum("kc,bchw->bkhw", self.O[1:], lin2.clamp_min(0) ** self.GAMMA)
        return torch.cat([F.pixel_unshuffle(luma, 8), F.pixel_unshuffle(chroma, 4)], 1)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """latent [B, 96, h, w] → IMAGE [B, 8h, 8w, 3]."""
        z = latent.float()
        luma = F.pixel_shuffle(z[:, :64], 8)
        chroma = F.interpolate(F.pixel_shuffle(z[:, 64:], 4), scale_factor=2, mode="bilinear", align_corners=False)
        g = torch.einsum("ck,bkhw->bchw", torch.linalg.inv(self.O), torch.cat([luma, chroma], 1)) + 0.5
        return linear_to_srgb(g.clamp(0, 1) ** (1 / self.GAMMA)).movedim(1, -1).contiguous()


# --- objects, lights, shadows -------------------------------------------------------------------

def _disc_alpha(size: int, radius: float = 0.5, supersample: int = 4) -> torch.Tensor:
    n = size * supersample
    c = (torch.arange(n, dtype=torch.float64) + 0.5) / n - 0.5
    y, x = torch.meshgrid(c, c, indexing="ij")
    a = ((x * x + y * y) <= radius * radius).float()
    return a.reshape(size, supersample, size, supersample).mean((1, 3))


def badge_cutout() -> tuple[torch.Tensor, torch.Tensor]:
    """The scikit-image logo as a LoadImage-style cut-out: IMAGE [1, h, w, 3] (white around the
    badge) and MASK [1, h, w] (1 = transparent). The PNG's alpha is opaque everywhere, so the
    cut-out is the badge's disc (found from its non-white pixels)."""
    img = photo("logo")[..., :3]
    nonwhite = img.min(-1).values < 0.9
    ys, xs = torch.nonzero(nonwhite, as_tuple=True)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    side = max(y1 - y0, x1 - x0)
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    h = side // 2 + 2
    crop = img[cy - h:cy + h, cx - h:cx + h]
    alpha = _disc_alpha(crop.shape[0], radius=side / 2 / crop.shape[0])
    white = torch.ones_like(crop)
    crop = crop * alpha[..., None] + white * (1 - alpha[..., None])
    return crop[None].contiguous(), (1.0 - alpha)[None].contiguous()


def _hue_turn_fast(rgb: torch.Tensor, turn: float) -> torch.Tensor:
    """Rotate the hue of RGB [..., 3] by ``turn`` of a full circle (about the grey axis)."""
    ang = 2 * np.pi * turn
    k = torch.ones(3) / np.sqrt(3.0)
    K = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], dtype=torch.float32)
    R = torch.eye(3) + np.sin(ang) * K + (1 - np.cos(ang)) * (K @ K)
    return (rgb @ R.T).clamp(0, 1)


def object_cutouts() -> dict:
    """Every object class as (IMAGE [1, h, w, 3] in neutral light, object mask [1, 1, h, w]); None for 'none'."""
    img, mask = badge_cutout()
    obj = 1.0 - mask
    size = img.shape[1]
    out = {"badge": (img, obj), "badge_other_shade": (_hue_turn_fast(img, 0.42), obj)}
    cat = photo("chelsea")                       # 300×451: the cat's face, a disc around it
    s = 250
    cy, cx = 150, 235
    face = cat[cy - s // 2:cy + s // 2, cx - s // 2:cx + s // 2]
    face = F.interpolate(face.movedim(-1, 0)[None], size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False)[0].movedim(0, -1)
    a = _disc_alpha(size, radius=0.5 * (1 - 4 / size))
    out["cat_badge"] = ((face * a[..., None] + (1 - a[..., None]))[None], a[None])
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    cream = torch.stack([0.93 - 0.03 * yy, 0.9 - 0.03 * yy, 0.82 - 0.02 * yy], -1)
    cream = cream * (1 - 0.05 * ((xx * xx + yy * yy) > 0.8).float()[..., None])  # a rim
    out["cream_coaster"] = ((cream * a[..., None] + (1 - a[..., None]))[None], a[None])
    out["none"] = None
    return {k: (v if v is None else (v[0], v[1].reshape(1, 1, *v[1].shape[-2:]))) for k, v in out.items()}


def scene_light(scene: torch.Tensor, box: tuple[int, int, int, int], ring: int = 24,
                chroma: float = 0.6, albedo: float = 0.5) -> torch.Tensor:
    """The scene's light at a place, as an RGB factor in linear light: from the mean colour of the
    ring of ``ring`` px around ``box`` (x0, y0, x1, y1) — ``chroma`` of its colour cast is taken as
    the light's (the rest as the surface's own colour), its brightness relative to a surface of
    ``albedo``."""
    H, W = scene.shape[1], scene.shape[2]
    x0, y0, x1, y1 = box
    X0, Y0, X1, Y1 = max(0, x0 - ring), max(0, y0 - ring), min(W, x1 + ring), min(H, y1 + ring)
    lin = srgb_to_linear(scene[0])
    m = torch.zeros(H, W, dtype=torch.bool)
    m[Y0:Y1, X0:X1] = True
    m[y0:y1, x0:x1] = False
    c = lin[m].mean(0)
    lum = lambda v: float(0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2])  # noqa: E731
    tint = (c / lum(c)).clamp_min(1e-3) ** chroma
    tint = tint / lum(tint)
    bright = min(1.0, max(0.2, lum(c) / albedo)) ** 0.5
    return tint * bright


@dataclass
class Placed:
    box: tuple[int, int, int, int]
    image: torch.Tensor      # [1, H, W, 3] the object on an empty canvas (neutral light)
    mask: torch.Tensor       # [1, H, W] coverage


def place(scene: torch.Tensor, cut: tuple[torch.Tensor, torch.Tensor], x: float, y: float, scale: float) -> Placed:
    img, obj = cut
    image, mask, _, where = place_on_scene(scene, img.movedim(-1, 1), obj, x, y, scale)
    return Placed(where.box, image, mask)


def lit_composite(background: torch.Tensor, placed: Placed | None, light: torch.Tensor) -> torch.Tensor:
    """The background [1, H, W, 3] with the placed object as lit by ``light`` (linear RGB factor),
    shaded softly from the upper left, and its soft shadow on the background."""
    if placed is None:
        return background.clone()
    bg = srgb_to_linear(background[0])
    a = placed.mask[0]
    x0, y0, x1, y1 = placed.box
    size = max(x1 - x0, y1 - y0)
    dx, dy = round(SHADOW["dx"] * size), round(SHADOW["dy"] * size)
    sh = torch.zeros_like(a)
    H, W = a.shape
    sh[max(0, dy):, max(0, dx):] = a[:H - max(0, dy), :W - max(0, dx)]
    r = max(1, round(SHADOW["blur"] * size))
    k = torch.exp(-torch.arange(-2 * r, 2 * r + 1).float() ** 2 / (2 * (r / 1.5) ** 2))
    k = k / k.sum()
    sh = F.conv2d(F.conv2d(sh[None, None], k.view(1, 1, 1, -1), padding=(0, 2 * r)), k.view(1, 1, -1, 1),
                  padding=(2 * r, 0))[0, 0]
    bg = bg * (1 - SHADOW["strength"] * sh[..., None])
    yy, xx = torch.meshgrid(torch.arange(H).float(), torch.arange(W).float(), indexing="ij")
    u = ((xx - x0) / max(1, x1 - x0) + (yy - y0) / max(1, y1 - y0)) / 2  # 0 upper left .. 1 lower right
    shade = (1.12 - 0.3 * u.clamp(0, 1))[..., None]
    obj = srgb_to_linear(placed.image[0]) * light * shade
    out = bg * (1 - a[..., None]) + obj * a[..., None]
    return linear_to_srgb(out)[None]


class PhotoWorld:
    """The scene, the target cut-out, the model's data (pixel images and latents) and a classifier."""

    def __init__(self, vae: PhotoVAE | None = None):
        self.vae = vae or PhotoVAE()
        self.scene = photo("coffee")[None].contiguous()           # [1, 400, 600, 3]
        self.place = dict(PLACE)
        self.cutouts = object_cutouts()
        self.target = badge_cutout()                               # (IMAGE, MASK 1 = transparent)
        nominal = place(self.scene, self.cutouts["badge"], **self.place)
        self.box = nominal.box
        self.light = scene_light(self.scene, self.box)             # the photo's own light at the place
        lin = srgb_to_linear(self.scene[0])
        self.labels, images = [], []
        for lname, (factor, bright) in LIGHTS.items():
            f = torch.tensor(factor) * bright
            background = linear_to_srgb(lin * f)[None]
            light = self.light * f
            for oname in OBJECTS:
                cut = self.cutouts[oname]
                for vi, (sf, dx, dy) in enumerate(VARIANTS if cut is not None else ((1.0, 0, 0),)):
                    W, H = self.scene.shape[2], self.scene.shape[1]
                    p = None if cut is None else place(
                        self.scene, cut, self.place["x"] + dx / W, self.place["y"] + dy / H, self.place["scale"] * sf)
                    images.append(lit_composite(background, p, light))
                    self.labels.append((oname, lname, vi))
        self.images = torch.cat(images)                            # [K, H, W, 3]
        self.latents = self.vae.encode(self.images)                # [K, 48, h, w]

    def lit_truth(self) -> torch.Tensor:
        """The target's class as the model's data show it in this scene (first variant), IMAGE [1, H, W, 3]."""
        return self.images[self.labels.index((TARGET_CLASS, "scene", 0))][None]

    def classify(self, image: torch.Tensor, region: torch.Tensor) -> list[tuple[str, str, int]]:
        """(object, light, variant) of the nearest exemplar inside ``region`` (latent-size
        [B|1, 1, h, w]) for each IMAGE in ``image`` [B, H, W, 3]; encoded with the world's VAE."""
        z = self.vae.encode(image).double()
        m = region.double()
        d = (((z[:, None] - self.latents[None].double()) * m[:, None]) ** 2).flatten(2).sum(2)
        return [self.labels[int(i)] for i in d.argmin(1)]
