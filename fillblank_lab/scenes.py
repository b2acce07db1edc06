"""The learned world's renderer: procedural scenes with exact ground truth (pure torch / numpy).

A scene (``Scene.draw(seed)``, deterministic by seed) is a wall above a horizon and a ground plane
below it, each a photo crop (scikit-image's bundled photos, flipped and recoloured) or a procedural
texture, lit by one light (direction in the image, colour, intensity, ambient). An object
(``Obj``) is a shape from a large family (superellipses, polygons, rings, sticks, L / T shapes,
unions of two) with a texture (flat, stripes, checks, gradient, photo crop), drawn in a square box
in box coordinates (−1..1), so the same object renders exactly at any size. It stands on the ground:
shaded by the light (the side facing it brighter) and casting a shadow on the ground away from the
light, plus a contact shadow at its base.

For any object placed in any scene the renderer gives
* the **target**: the object in neutral light (its albedo: no tint, no shading, no shadow) as
  LoadImage gives a transparent PNG — IMAGE [1, S, S, 3] and MASK [1, S, S] with 1 = transparent;
* the **lit truth**: the scene with the object lit by the scene's light and its shadows;
* the placement (Target Encoder's x, y, scale) and a hole a user would draw (the object's box and
  room for its shadow).

Split: the model's data (``split="train"``) use the families, textures and object photos in
``TRAIN``; held-out objects (``split="held"``) use only those in ``HELD`` — a held-out object is a
shape family, a texture kind and (for photo textures) a photo the models never saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

SIZE = 64            # px, square scenes: an 8×8 latent at 8× down
TARGET = 64          # px, the cut-out's side
SUPER = 4            # supersampling of shapes
BOX = (0.45, 0.6)    # the object box side as a fraction of the scene (29..38 px at 64: 3.6..4.8 latent cells)
FAMILIES = ("superellipse", "polygon", "stick", "ell", "ring", "tee", "union")
TEXTURES = ("flat", "stripes", "gradient", "photo", "checks")
BG_PHOTOS = ("coffee", "motorcycle_left", "grass", "gravel", "brick", "camera")
OBJ_PHOTOS = ("chelsea", "rocket", "retina", "astronaut", "ihc")
TRAIN = {"families": ("superellipse", "polygon", "stick", "ell"), "textures": ("flat", "stripes", "gradient", "photo"),
         "photos": ("chelsea", "rocket", "retina")}
HELD = {"families": ("ring", "tee", "union"), "textures": ("flat", "checks", "photo"), "photos": ("astronaut", "ihc")}
SPLITS = {"train": TRAIN, "held": HELD}
SHADOW_EPS = 0.05    # a pixel is in a shadow where it takes more than this fraction of the direct light

__all__ = ["SIZE", "TARGET", "FAMILIES", "TEXTURES", "TRAIN", "HELD", "Light", "Obj", "Scene", "Example", "lit_target",
           "example", "photo"]


# --- photos ---------------------------------------------------------------------------------------

@lru_cache(maxsize=16)
def photo(name: str, side: int = 128) -> torch.Tensor:
    """[h, w, 3] float 0..1: a photo scikit-image ships inside its wheel (no download), shorter side
    ``side`` px; grey photos as three equal channels."""
    import os

    import skimage.data
    import skimage.io
    folder = os.path.dirname(skimage.data.__file__)
    fname = next(f for f in os.listdir(folder) if f.split(".")[0] == name and f.endswith((".png", ".jpg")))
    a = np.asarray(skimage.io.imread(os.path.join(folder, fname)), dtype=np.float32)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, -1)
    a = torch.from_numpy(a[..., :3].copy()) / 255.0
    h, w = a.shape[:2]
    k = side / min(h, w)
    t = F.interpolate(a.movedim(-1, 0)[None], size=(max(side, round(h * k)), max(side, round(w * k))),
                      mode="area")
    return t[0].movedim(0, -1).contiguous()


def _crop(name: str, rng: np.random.Generator, h: int, w: int) -> torch.Tensor:
    """A random crop of the photo (random zoom, flip) resized to [h, w, 3]."""
    p = photo(name)
    ph, pw = p.shape[:2]
    zoom = rng.uniform(0.3, 0.8)
    ch, cw = max(4, int(ph * zoom * h / max(h, w))), max(4, int(ph * zoom * w / max(h, w)))
    cw = min(cw, pw)
    y0, x0 = int(rng.integers(0, ph - ch + 1)), int(rng.integers(0, pw - cw + 1))
    c = p[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        c = c.flip(1)
    return F.interpolate(c.movedim(-1, 0)[None], size=(h, w), mode="bilinear", align_corners=False)[0].movedim(0, -1)


def _recolour(img: torch.Tensor, rng: np.random.Generator, sat: tuple = (0.3, 1.0)) -> torch.Tensor:
    """Partly desaturated, per-channel gain, brightness: the same photo gives many albedos."""
    grey = img.mean(-1, keepdim=True)
    s = rng.uniform(*sat)
    gain = torch.tensor(rng.uniform(0.75, 1.2, 3), dtype=torch.float32)
    return ((grey + s * (img - grey)) * gain * rng.uniform(0.7, 1.1)).clamp(0.02, 0.98)


def _colour(rng: np.random.Generator) -> torch.Tensor:
    """A saturated-ish albedo colour (random hue)."""
    h = rng.uniform(0, 1)
    s, v = rng.uniform(0.4, 0.9), rng.uniform(0.45, 0.95)
    k = (torch.tensor([5.0, 3.0, 1.0]) + h * 6) % 6
    return (v - v * s * torch.clamp(torch.minimum(k, 4 - k), 0, 1)).float()


def _grid(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    c = (torch.arange(n, dtype=torch.float32) + 0.5) / n * 2 - 1
    return torch.meshgrid(c, c, indexing="ij")  # y, x in −1..1


# --- objects --------------------------------------------------------------------------------------

def _rot(x, y, a):
    c, s = math.cos(a), math.sin(a)
    return c * x + s * y, -s * x + c * y


def _prim(kind: str, p: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """bool: inside primitive ``kind`` with parameters ``p`` (box coordinates)."""
    x, y = x - p.get("cx", 0.0), y - p.get("cy", 0.0)
    if kind == "superellipse":
        xr, yr = _rot(x, y, p["angle"])
        return (xr.abs() / p["a"]) ** p["n"] + (yr.abs() / p["b"]) ** p["n"] <= 1
    if kind == "polygon":
        inside = torch.ones_like(x, dtype=torch.bool)
        for i in range(p["k"]):
            t = p["angle"] + 2 * math.pi * i / p["k"]
            inside &= x * math.cos(t) + y * math.sin(t) <= p["r"] * math.cos(math.pi / p["k"])
        return inside
    if kind == "ring":
        xr, yr = x / p["a"], y / p["b"]
        r = torch.sqrt(xr * xr + yr * yr)
        return (r <= 1) & (r >= p["inner"])
    if kind == "stick":
        xr, yr = _rot(x, y, p["angle"])
        return (xr.abs() <= p["w"]) & (yr.abs() <= p["h"])
    if kind == "ell":
        t, w = p["t"], p["w"]
        return ((x.abs() <= w) & (y.abs() <= 0.9)) & ((x <= -w + t) | (y >= 0.9 - t))
    if kind == "tee":
        t, w = p["t"], p["w"]
        return (((y >= -0.9) & (y <= -0.9 + t) & (x.abs() <= w)) | ((x.abs() <= t / 2) & (y.abs() <= 0.9)))
    raise ValueError(f"unknown primitive {kind!r}")


def _prim_params(kind: str, rng: np.random.Generator) -> dict:
    if kind == "superellipse":
        return {"a": rng.uniform(0.45, 0.92), "b": rng.uniform(0.55, 0.92), "n": rng.uniform(1.0, 4.0),
                "angle": rng.uniform(-0.4, 0.4)}
    if kind == "polygon":
        return {"k": int(rng.integers(3, 8)), "angle": rng.uniform(0, 2 * math.pi), "r": rng.uniform(0.8, 0.95)}
    if kind == "ring":
        return {"a": rng.uniform(0.6, 0.92), "b": rng.uniform(0.7, 0.92), "inner": rng.uniform(0.45, 0.65)}
    if kind == "stick":
        return {"w": rng.uniform(0.14, 0.28), "h": 0.9, "angle": rng.uniform(-0.5, 0.5)}
    if kind in ("ell", "tee"):
        return {"t": rng.uniform(0.3, 0.55), "w": rng.uniform(0.55, 0.9)}
    raise ValueError(kind)


@dataclass
class Obj:
    """An object: shape family, its primitives, a texture. Drawn in box coordinates −1..1."""
    family: str
    prims: list            # [(kind, params)]
    texture: str
    tex: dict = field(default_factory=dict)

    @classmethod
    def draw(cls, rng: np.random.Generator, split: str = "train") -> Obj:
        sp = SPLITS[split]
        fam = str(rng.choice(sp["families"]))
        if fam == "union":
            k1, k2 = rng.choice(["superellipse", "polygon", "stick"], 2)
            p1, p2 = _prim_params(str(k1), rng), _prim_params(str(k2), rng)
            for p, sgn in ((p1, -1), (p2, 1)):
                p.update(cx=sgn * rng.uniform(0.2, 0.4), cy=sgn * rng.uniform(-0.3, 0.3))
                for key in ("a", "b", "r"):
                    if key in p:
                        p[key] *= 0.6
            prims = [(str(k1), p1), (str(k2), p2)]
        else:
            prims = [(fam, _prim_params(fam, rng))]
        tex_kind = str(rng.choice(sp["textures"]))
        tex = {"c1": _colour(rng), "c2": _colour(rng), "angle": rng.uniform(0, math.pi),
               "period": rng.uniform(0.35, 0.7)}
        if tex_kind == "photo":
            tex["photo"] = str(rng.choice(sp["photos"]))
            tex["seed"] = int(rng.integers(1 << 30))
        return cls(fam, prims, tex_kind, tex)

    def alpha(self, n: int) -> torch.Tensor:
        """[n, n] coverage in 0..1 (supersampled)."""
        y, x = _grid(n * SUPER)
        inside = torch.zeros_like(x, dtype=torch.bool)
        for kind, p in self.prims:
            inside |= _prim(kind, p, x, y)
        return inside.float().reshape(n, SUPER, n, SUPER).mean((1, 3))

    def albedo(self, n: int) -> torch.Tensor:
        """[n, n, 3] the texture over the whole box (neutral light)."""
        y, x = _grid(n)
        t = self.tex
        c1, c2 = t["c1"], t["c2"]
        u = x * math.cos(t["angle"]) + y * math.sin(t["angle"])
        if self.texture == "flat":
            return c1.expand(n, n, 3).clone()
        if self.texture == "stripes":
            k = (torch.floor(u / t["period"]) % 2)[..., None]
            return c1 * (1 - k) + c2 * k
        if self.texture == "checks":
            per = t["period"] * 0.8
            k = ((torch.floor(x / per) + torch.floor(y / per)) % 2)[..., None]
            return c1 * (1 - k) + c2 * k
        if self.texture == "gradient":
            k = ((u + 1.4) / 2.8).clamp(0, 1)[..., None]
            return c1 * (1 - k) + c2 * k
        if self.texture == "photo":
            rng = np.random.default_rng(t["seed"])
            return _recolour(_crop(t["photo"], rng, n, n), rng, sat=(0.7, 1.0))
        raise ValueError(self.texture)

    def shade(self, n: int, light: Light) -> torch.Tensor:
        """[n, n] direct-light factor over the box: the side facing the light brighter."""
        y, x = _grid(n)
        lx, ly = light.direction
        return (0.62 - 0.38 * (x * lx + y * ly)).clamp(0.05, 1.0)


# --- light and scene ------------------------------------------------------------------------------

@dataclass
class Light:
    """One light: direction (lx, ly) in the image it travels along (ly > 0: from above), colour,
    intensity and ambient. Neutral light (tint 1, A + I·shade = 1) shows albedo."""
    direction: tuple
    tint: torch.Tensor
    intensity: float
    ambient: float
    elevation: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Light:
        side = rng.choice([-1.0, 1.0]) * rng.uniform(0.35, 0.95)
        ly = math.sqrt(1 - side * side)
        warm = rng.uniform(-1, 1)  # −1 cool … +1 warm, plus a small random hue
        tint = torch.tensor([1 + 0.2 * warm, 1.0 - 0.02 * abs(warm), 1 - 0.22 * warm]) \
            * torch.tensor(rng.uniform(0.92, 1.08, 3), dtype=torch.float32)
        return cls((float(side), float(ly)), tint.float(), float(rng.uniform(0.45, 0.95)),
                   float(rng.uniform(0.2, 0.45)), float(rng.uniform(0.3, 0.9)))

    def shadow_angle(self) -> float:
        """Degrees clockwise from the image's right: where a cast shadow falls (away from the light)."""
        return 90.0 - 60.0 * self.direction[0]

    def shadow_length(self) -> float:
        return 0.25 + 0.6 * (1 - self.elevation)


def _blur(a: torch.Tensor, r: int) -> torch.Tensor:
    from fillblank_lab.evidence import _blur as blur
    return blur(a, r)


def _cast(alpha: torch.Tensor, light: Light) -> torch.Tensor:
    """[H, W] 0..1: how much of the direct light the object's cast + contact shadow takes."""
    from fillblank_lab.evidence import SHADOW_DARK, cast_shadow_of
    cast = cast_shadow_of(alpha, light.shadow_angle(), light.shadow_length()) / SHADOW_DARK
    contact = _blur(torch.roll(alpha, shifts=(2, 0), dims=(0, 1)), 1)
    rows = torch.nonzero((alpha > 0.5).any(1)).flatten()
    if rows.numel():  # the contact band: the 3 rows below the base, under the object's foot
        base = int(rows.max())
        band = torch.zeros_like(alpha)
        band[base + 1:base + 4] = 1
        contact = contact * band
    return (0.85 * cast + 0.6 * contact).clamp(0, 0.9) * (1 - alpha)


@dataclass
class Scene:
    """Wall and ground albedo, the light, and the horizon row."""
    albedo: torch.Tensor       # [H, W, 3]
    light: Light
    horizon: int

    @classmethod
    def draw(cls, rng: np.random.Generator, size: int = SIZE) -> Scene:
        horizon = int(rng.integers(size * 5 // 16, size * 7 // 16))
        parts = []
        for h in (horizon, size - horizon):
            if rng.random() < 0.6:
                img = _recolour(_crop(str(rng.choice(BG_PHOTOS)), rng, h, size), rng)
            else:  # procedural: a soft two-colour gradient with low-frequency waves
                y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, size), indexing="ij")
                c1, c2 = _colour(rng) * 0.8 + 0.1, _colour(rng) * 0.8 + 0.1
                f = rng.uniform(2, 9, 2)
                k = (0.5 + 0.3 * torch.sin(f[0] * x + f[1] * y) + 0.2 * (x - 0.5))[..., None]
                img = c1 * k + c2 * (1 - k)
            parts.append(img)
        ground = parts[1] * torch.linspace(0.8, 1.05, size - horizon)[:, None, None]
        return cls(torch.cat([parts[0], ground]).clamp(0, 1), Light.draw(rng), horizon)

    def direct(self) -> torch.Tensor:
        """[H, W] direct-light factor of the wall and ground (ground lit more, a gentle gradient)."""
        H, W = self.albedo.shape[:2]
        x = torch.linspace(-1, 1, W)[None].expand(H, W)
        rows = (torch.arange(H) >= self.horizon).float()[:, None]
        return (0.5 + 0.25 * rows - 0.12 * x * self.light.direction[0]).clamp(0.1, 1)

    def lit(self, shadow: torch.Tensor | None = None) -> torch.Tensor:
        L = self.light
        d = self.direct() if shadow is None else self.direct() * (1 - shadow)
        return (self.albedo * L.tint * (L.ambient + L.intensity * d)[..., None]).clamp(0, 1)


# --- one example ----------------------------------------------------------------------------------

@dataclass
class Example:
    """One run's world: the empty lit scene, the target cut-out, the lit truth and what a metric needs."""
    scene: torch.Tensor        # [1, H, W, 3] the scene as the user has it (lit, no object)
    target: torch.Tensor       # [1, T, T, 3] neutral light
    target_mask: torch.Tensor  # [1, T, T] 1 = transparent
    truth: torch.Tensor        # [1, H, W, 3] the object lit by the scene, with its shadows
    alpha: torch.Tensor        # [H, W] the placed object's coverage
    shadow: torch.Tensor       # [H, W] fraction of direct light taken by its shadows
    placed: torch.Tensor       # [H, W, 3] the placed object's albedo (neutral light)
    paste: torch.Tensor        # [1, H, W, 3] the neutral cut-out pasted (no light, no shadow)
    hole: torch.Tensor         # [1, H, W] the hole a user draws: the object's box and room for its shadow
    x: float
    y: float
    scale: float
    obj: Obj
    world: Scene


def example(seed: int, split: str = "held", size: int = SIZE, obj_seed: int | None = None) -> Example:
    """The deterministic world of one seed: a scene, an object of ``split`` standing on its ground.
    ``obj_seed``: the object of another seed in this seed's scene (a wrong object for the metrics)."""
    k = 0 if split == "train" else 1
    rng = np.random.default_rng([int(seed), k])
    world = Scene.draw(rng, size)
    obj = Obj.draw(np.random.default_rng([int(seed if obj_seed is None else obj_seed), k, 5]), split)
    box = int(rng.integers(round(size * BOX[0]), round(size * BOX[1]) + 1))
    a_box = obj.alpha(box)
    rows = torch.nonzero(a_box.max(1).values > 0.5).flatten()
    low = int(rows.max()) if rows.numel() else box - 1
    base = int(rng.integers(max(world.horizon + box // 2, size * 3 // 4), size - 4))
    top = base - low
    left = int(rng.integers(6, size - box - 6))
    alpha = torch.zeros(size, size)
    alb = torch.zeros(size, size, 3)
    shade = torch.zeros(size, size)
    y0, y1 = max(top, 0), min(top + box, size)
    alpha[y0:y1, left:left + box] = a_box[y0 - top:y1 - top]
    alb[y0:y1, left:left + box] = obj.albedo(box)[y0 - top:y1 - top]
    shade[y0:y1, left:left + box] = obj.shade(box, world.light)[y0 - top:y1 - top]
    sh = _cast(alpha, world.light)
    L = world.light
    obj_lit = (alb * L.tint * (L.ambient + L.intensity * shade)[..., None]).clamp(0, 1)
    bg = world.lit(sh)
    truth = bg * (1 - alpha[..., None]) + obj_lit * alpha[..., None]
    scene = world.lit()
    paste = scene * (1 - alpha[..., None]) + alb * alpha[..., None]
    t_alpha = obj.alpha(TARGET)
    t_alb = obj.albedo(TARGET)
    under = (t_alb * t_alpha[..., None]).sum((0, 1)) / t_alpha.sum().clamp(min=1e-6)  # "edge" matte
    target = t_alb * t_alpha[..., None] + under * (1 - t_alpha[..., None])
    reach = (alpha > 0.05) | (sh > SHADOW_EPS)
    ys, xs = torch.nonzero(reach, as_tuple=True)
    hole = torch.zeros(1, size, size)
    hole[:, max(int(ys.min()) - 4, 0):int(ys.max()) + 5, max(int(xs.min()) - 4, 0):int(xs.max()) + 5] = 1
    return Example(scene[None], target[None], (1 - t_alpha)[None], truth[None], alpha, sh, alb, paste[None], hole,
                   x=(left + box / 2) / size, y=(top + box / 2) / size, scale=box / size, obj=obj, world=world)


def lit_target(ex: Example) -> torch.Tensor:
    """[1, T, T, 3]: the run's cut-out as if shot in the scene's light (shaded and tinted like the lit
    truth's object, no shadow), with the same edge matte as the neutral target: the best possible
    input for the target slot (what a perfect relighting of the cut-out would give)."""
    L = ex.world.light
    t_alpha = ex.obj.alpha(TARGET)
    lit = (ex.obj.albedo(TARGET) * L.tint * (L.ambient + L.intensity * ex.obj.shade(TARGET, L))[..., None]).clamp(0, 1)
    under = (lit * t_alpha[..., None]).sum((0, 1)) / t_alpha.sum().clamp(min=1e-6)
    return (lit * t_alpha[..., None] + under * (1 - t_alpha[..., None]))[None]


def training_images(seed: int, n: int, split: str = "train", empty: float = 0.15) -> torch.Tensor:
    """[n, H, W, 3]: the model's data — lit truths of train-split objects (a fraction ``empty`` of
    them empty scenes), deterministic by seed."""
    out = []
    for i in range(n):
        ex = example(seed * 100_003 + i, split)
        rng = np.random.default_rng([seed, i, 7])
        out.append(ex.scene if rng.random() < empty else ex.truth)
    return torch.cat(out)
