"""Procedural toy scenes and insertion tasks, deterministic by seed.

Shared by the tests, the demo (``python -m fillblank_lab.demo``) and ``benchmarks/``. Everything
is a float32 torch tensor in *model space* ([-1, 1], C×H×W, like a pixel-space diffusion model
sees it); :func:`to_unit` / :func:`to_pil` convert for display.

A scene is a background (gradient, horizon or soft stripes) with shapes of several classes and
colours at known places, lit by a per-scene light (brightness and colour cast). An
:class:`InsertTask` adds one more object — the *target* — at a known place:

* ``scene``: the image to edit; ``hole``: the region the user drew (1 = repaint);
* ``target`` / ``target_alpha``: the object cut out and rendered under *neutral* light, placed;
* ``silhouette`` (alpha > 0.5), ``box`` (its bounding box): the mask strategies;
* ``pasted``: the scene with the target hard-pasted (what guidance pulls toward, DESIGN.md §2);
* ``truth``: the scene re-rendered with the object under the scene's own light (what a perfectly
  harmonised insertion looks like — it differs from ``pasted`` wherever the light is not neutral).

:func:`exemplar_task` builds a finite set of scenes with one background that differ only in the
object in one region (the world of :class:`~fillblank_lab.denoisers.ExemplarDenoiser`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

import numpy as np
import torch

CLASSES = ("disc", "square", "triangle", "cross", "ring", "diamond")

PALETTE = {
    "red": (0.90, 0.16, 0.14),
    "orange": (0.96, 0.55, 0.10),
    "yellow": (0.95, 0.88, 0.20),
    "green": (0.20, 0.72, 0.26),
    "cyan": (0.15, 0.80, 0.85),
    "blue": (0.18, 0.30, 0.90),
    "magenta": (0.82, 0.20, 0.78),
    "white": (0.95, 0.95, 0.95),
}
COLOURS = tuple(PALETTE)

BACKGROUNDS = ("gradient", "horizon", "stripes")

__all__ = [
    "CLASSES", "PALETTE", "COLOURS", "BACKGROUNDS", "Shape", "Scene", "InsertTask", "ExemplarTask",
    "shape_alpha", "render_background", "render_scene", "random_scene", "make_task", "make_tasks",
    "exemplar_task", "training_batch", "to_unit", "to_pil", "hole_view", "perturb_mask", "signed_distance",
]


# --- shapes -----------------------------------------------------------------------------------

def strategy_mask(task, strategy: str) -> torch.Tensor:
    """The [H, W] mask of a mask strategy of anything with hole / silhouette / box masks."""
    if strategy in ("hole", "silhouette", "box"):
        return getattr(task, strategy)
    if strategy == "union":
        return torch.maximum(task.hole, task.silhouette)
    raise ValueError(f"mask strategy must be one of hole, silhouette, box, union; got {strategy!r}")


@dataclass(frozen=True)
class Shape:
    """An object: class name, colour name, centre (x, y) and radius in pixels."""

    cls: str
    colour: str
    cx: float
    cy: float
    r: float

    def __post_init__(self):
        if self.cls not in CLASSES:
            raise ValueError(f"shape class must be one of {', '.join(CLASSES)}, got {self.cls!r}")
        if self.colour not in PALETTE:
            raise ValueError(f"colour must be one of {', '.join(COLOURS)}, got {self.colour!r}")
        if not self.r > 0:
            raise ValueError(f"radius must be > 0, got {self.r}")

    @property
    def rgb(self) -> tuple[float, float, float]:
        return PALETTE[self.colour]


def _grid(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5,
                            torch.arange(w, dtype=torch.float32) + 0.5, indexing="ij")
    return xs, ys


def _distance(cls: str, dx: torch.Tensor, dy: torch.Tensor, r: float) -> torch.Tensor:
    """Signed distance (pixels, < 0 inside) of a shape centred at the origin."""
    ax, ay = dx.abs(), dy.abs()
    if cls == "disc":
        return torch.sqrt(dx * dx + dy * dy) - r
    if cls == "square":
        return torch.maximum(ax, ay) - 0.85 * r
    if cls == "diamond":
        return (ax + ay - 1.15 * r) / math.sqrt(2.0)
    if cls == "ring":
        return (torch.sqrt(dx * dx + dy * dy) - 0.68 * r).abs() - 0.32 * r
    if cls == "cross":
        t = 0.34 * r
        bar1 = torch.maximum(ax - r, ay - t)
        bar2 = torch.maximum(ax - t, ay - r)
        return torch.minimum(bar1, bar2)
    if cls == "triangle":  # pointing up, circumradius 1.2 r, centred on the centroid (y grows down)
        k, rr = math.sqrt(3.0), 1.2 * r
        sides = (k * ax - dy) / 2.0 - rr / 2.0
        base = dy - rr / 2.0
        return torch.maximum(sides, base)
    raise ValueError(f"unknown shape class {cls!r}")


def shape_alpha(shape: Shape, size: int | tuple[int, int]) -> torch.Tensor:
    """Anti-aliased coverage [H, W] in [0, 1] of a shape on an image of ``size``."""
    h, w = (size, size) if isinstance(size, int) else size
    xs, ys = _grid(h, w)
    d = _distance(shape.cls, xs - shape.cx, ys - shape.cy, shape.r)
    return (0.5 - d).clamp(0.0, 1.0)


def _shade(shape: Shape, size, light: torch.Tensor) -> torch.Tensor:
    """The object's colour [3, H, W] in [0, 1]: lighter at the top, times the scene's light."""
    h, w = (size, size) if isinstance(size, int) else size
    _, ys = _grid(h, w)
    base = torch.tensor(shape.rgb, dtype=torch.float32)[:, None, None]
    shading = 1.0 + 0.22 * (-(ys - shape.cy) / shape.r).clamp(-1.0, 1.0)
    return (base * shading[None] * light[:, None, None]).clamp(0.0, 1.0)


# --- backgrounds ------------------------------------------------------------------------------

def _random_colour(rng: np.random.Generator, lo: float = 0.15, hi: float = 0.75) -> np.ndarray:
    return rng.uniform(lo, hi, size=3)


def render_background(kind: str, params: dict, size: int | tuple[int, int]) -> torch.Tensor:
    """A background [3, H, W] in [0, 1] from its parameters (see :func:`_background_params`)."""
    h, w = (size, size) if isinstance(size, int) else size
    xs, ys = _grid(h, w)
    c0 = torch.tensor(params["c0"], dtype=torch.float32)[:, None, None]
    c1 = torch.tensor(params["c1"], dtype=torch.float32)[:, None, None]
    ang = params["angle"]
    u = ((xs / w - 0.5) * math.cos(ang) + (ys / h - 0.5) * math.sin(ang)) + 0.5
    if kind == "gradient":
        t = u.clamp(0.0, 1.0)
        img = c0 * (1 - t) + c1 * t
    elif kind == "horizon":
        y0 = params["horizon"] * h
        t = torch.sigmoid((ys - y0) / 0.6)
        sky = c0 * (1.0 - 0.35 * (ys / h))
        ground = c1 * (0.8 + 0.4 * (ys / h))
        img = sky * (1 - t) + ground * t
    elif kind == "stripes":
        period = params["period"]
        s = 0.5 + 0.5 * torch.sin(2 * math.pi * (xs * math.cos(ang) + ys * math.sin(ang)) / period)
        img = c0 * (1 - 0.5 * s) + c1 * (0.5 * s)
    else:
        raise ValueError(f"background kind must be one of {', '.join(BACKGROUNDS)}, got {kind!r}")
    return img.clamp(0.0, 1.0)


def _background_params(rng: np.random.Generator) -> tuple[str, dict]:
    kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    params = {"c0": _random_colour(rng).tolist(), "c1": _random_colour(rng).tolist(),
              "angle": float(rng.uniform(0, 2 * math.pi)), "horizon": float(rng.uniform(0.35, 0.7)),
              "period": float(rng.uniform(7.0, 14.0))}
    return kind, params


# --- scenes -----------------------------------------------------------------------------------

@dataclass
class Scene:
    """A rendered scene: image in model space [3, H, W] plus what was drawn where."""

    image: torch.Tensor
    background: str
    params: dict
    shapes: list[Shape]
    light: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.image.shape[-2:])

    def object_mask(self) -> torch.Tensor:
        """Union of the shapes' coverage [H, W]."""
        out = torch.zeros(self.size)
        for s in self.shapes:
            out = torch.maximum(out, shape_alpha(s, self.size))
        return out


def render_scene(background: str, params: dict, shapes: Sequence[Shape], size,
                 light: Sequence[float] = (1.0, 1.0, 1.0)) -> torch.Tensor:
    """Background, then the shapes in order, all under ``light``; returns model space [3, H, W]."""
    lt = torch.tensor(list(light), dtype=torch.float32)
    img = (render_background(background, params, size) * lt[:, None, None]).clamp(0.0, 1.0)
    for s in shapes:
        a = shape_alpha(s, size)[None]
        img = img * (1 - a) + _shade(s, size, lt) * a
    return img * 2.0 - 1.0


def _random_light(rng: np.random.Generator, strength: float) -> tuple[float, float, float]:
    if strength <= 0:
        return (1.0, 1.0, 1.0)
    level = 1.0 + rng.uniform(-0.25, 0.15) * strength
    cast = rng.uniform(-0.12, 0.12, size=3) * strength
    return tuple(float(v) for v in np.clip(level + cast, 0.55, 1.3))


def _place(rng: np.random.Generator, size: int, r: float, taken: list[tuple[float, float, float]],
           margin: float = 1.0, tries: int = 50) -> Optional[tuple[float, float]]:
    for _ in range(tries):
        cx = float(rng.uniform(r + margin, size - r - margin))
        cy = float(rng.uniform(r + margin, size - r - margin))
        if all(math.hypot(cx - x, cy - y) > r + rr + 1.5 for x, y, rr in taken):
            return cx, cy
    return None


def random_scene(seed: int, size: int = 32, n_shapes: tuple[int, int] = (0, 3),
                 light_strength: float = 1.0, radius: tuple[float, float] = (3.5, 7.0)) -> Scene:
    """A random scene (deterministic by seed): background plus ``n_shapes`` [lo, hi] shapes."""
    rng = np.random.default_rng(int(seed))
    kind, params = _background_params(rng)
    light = _random_light(rng, light_strength)
    shapes: list[Shape] = []
    taken: list[tuple[float, float, float]] = []
    for _ in range(int(rng.integers(n_shapes[0], n_shapes[1] + 1))):
        r = float(rng.uniform(*radius))
        spot = _place(rng, size, r, taken)
        if spot is None:
            continue
        shapes.append(Shape(CLASSES[int(rng.integers(len(CLASSES)))], COLOURS[int(rng.integers(len(COLOURS)))],
                            spot[0], spot[1], r))
        taken.append((spot[0], spot[1], r))
    image = render_scene(kind, params, shapes, size, light)
    return Scene(image, kind, params, shapes, light)


def training_batch(seed: int, n: int, size: int = 32) -> torch.Tensor:
    """n random scenes [n, 3, H, W] in model space (the toy model's training distribution)."""
    return torch.stack([random_scene(int(seed) * 1_000_003 + i, size, n_shapes=(0, 3)).image for i in range(n)])


# --- insertion tasks ---------------------------------------------------------------------------

@dataclass
class InsertTask:
    """Insert ``shape`` into ``scene`` (see the module docstring for the fields)."""

    seed: int
    scene: torch.Tensor
    hole: torch.Tensor          # [H, W] 1 = repaint
    shape: Shape
    target: torch.Tensor        # [3, H, W] object under neutral light (background where alpha = 0: the scene)
    target_alpha: torch.Tensor  # [H, W] soft coverage
    silhouette: torch.Tensor    # [H, W] alpha > 0.5
    box: torch.Tensor           # [H, W] silhouette's bounding box
    pasted: torch.Tensor        # [3, H, W] scene with the target hard-pasted (soft alpha)
    truth: torch.Tensor         # [3, H, W] scene rendered with the object under the scene's light
    light: tuple[float, float, float] = (1.0, 1.0, 1.0)
    meta: dict = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.scene.shape[-2:])

    def mask(self, strategy: str) -> torch.Tensor:
        """The [H, W] mask of a mask strategy: 'hole', 'silhouette', 'box' or 'union' (hole ∪ silhouette)."""
        return strategy_mask(self, strategy)


def _hole_around(rng: np.random.Generator, shape: Shape, size: int) -> torch.Tensor:
    """A user-drawn hole: an ellipse around the spot, 1.3–1.7× the object's radius, a little off-centre."""
    xs, ys = _grid(size, size)
    rx = shape.r * float(rng.uniform(1.35, 1.75))
    ry = shape.r * float(rng.uniform(1.35, 1.75))
    ox, oy = (float(v) for v in rng.uniform(-0.2, 0.2, size=2) * shape.r)
    e = ((xs - shape.cx - ox) / rx) ** 2 + ((ys - shape.cy - oy) / ry) ** 2
    hole = (e <= 1.0).float()
    sil = (shape_alpha(shape, size) > 0.0).float()
    return torch.maximum(hole, sil)  # the hole always covers the whole object


def _box(mask: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(mask)
    ys, xs = torch.nonzero(mask > 0.5, as_tuple=True)
    if ys.numel():
        out[int(ys.min()):int(ys.max()) + 1, int(xs.min()):int(xs.max()) + 1] = 1.0
    return out


def make_task(seed: int, size: int = 32, light_strength: float = 1.0, n_distractors: tuple[int, int] = (0, 2),
              radius: tuple[float, float] = (5.0, 7.5), cls: Optional[str] = None,
              colour: Optional[str] = None) -> InsertTask:
    """A deterministic insertion task: a scene, a spot, the object to put there."""
    rng = np.random.default_rng(10_007 * int(seed) + 17)
    kind, params = _background_params(rng)
    light = _random_light(rng, light_strength)
    r = float(rng.uniform(*radius))
    margin = 1.9 * r
    cx = float(rng.uniform(margin * 0.8, size - margin * 0.8))
    cy = float(rng.uniform(margin * 0.8, size - margin * 0.8))
    shape = Shape(cls or CLASSES[int(rng.integers(len(CLASSES)))],
                  colour or COLOURS[int(rng.integers(len(COLOURS)))], cx, cy, r)
    taken = [(cx, cy, 1.8 * r)]
    others: list[Shape] = []
    for _ in range(int(rng.integers(n_distractors[0], n_distractors[1] + 1))):
        rr = float(rng.uniform(3.0, 5.0))
        spot = _place(rng, size, rr, taken)
        if spot is None:
            continue
        others.append(Shape(CLASSES[int(rng.integers(len(CLASSES)))], COLOURS[int(rng.integers(len(COLOURS)))],
                            spot[0], spot[1], rr))
        taken.append((spot[0], spot[1], rr))
    scene = render_scene(kind, params, others, size, light)
    truth = render_scene(kind, params, others + [shape], size, light)
    alpha = shape_alpha(shape, size)
    target = _shade(shape, size, torch.ones(3)) * 2.0 - 1.0
    target = target * alpha[None] + scene * (1 - alpha[None])
    pasted = target  # scene with the neutral-light object composited by its soft alpha
    hole = _hole_around(rng, shape, size)
    sil = (alpha > 0.5).float()
    return InsertTask(seed=int(seed), scene=scene, hole=hole, shape=shape, target=target, target_alpha=alpha,
                      silhouette=sil, box=_box(sil), pasted=pasted, truth=truth, light=light,
                      meta={"background": kind, "distractors": others})


def make_tasks(n: int, seed: int = 0, **kw) -> list[InsertTask]:
    return [make_task(seed * 100_003 + i, **kw) for i in range(int(n))]


# --- exemplar world ---------------------------------------------------------------------------

@dataclass
class ExemplarTask:
    """K scenes sharing a background, differing only in the object in one region.

    ``exemplars`` [K, 3, H, W]; ``region`` [H, W] covers every exemplar's object; the task is to
    insert ``target`` (an altered copy of exemplar ``target_index``'s object — other colour shade,
    shifted by a pixel — so that it is not itself one of the exemplars) into ``scene``.
    """

    exemplars: torch.Tensor
    shapes: list[Shape]
    scene: torch.Tensor
    region: torch.Tensor
    target_index: int
    target: torch.Tensor
    silhouette: torch.Tensor
    box: torch.Tensor
    hole: torch.Tensor

    def mask(self, strategy: str) -> torch.Tensor:
        return strategy_mask(self, strategy)


def exemplar_task(seed: int = 0, k: int = 8, size: int = 16, target_index: Optional[int] = None,
                  shift: float = 1.0, shade: float = 0.8) -> ExemplarTask:
    """An exemplar world of ``k`` scenes and one insertion task in it (deterministic by seed).

    The exemplars differ in class and colour of one object at a fixed spot. ``scene`` is exemplar
    ``(target_index + 1) % k`` (another object is there now: the task is to replace it); the hole
    is the union of all exemplars' objects grown by a pixel.
    """
    rng = np.random.default_rng(7919 * int(seed) + 3)
    kind, params = _background_params(rng)
    r = size * 0.27
    cx = cy = size / 2.0
    combos = [(c, col) for c in CLASSES for col in COLOURS]
    order = rng.permutation(len(combos))
    chosen, used_cls = [], {}
    for idx in order:  # spread over classes first
        c, col = combos[int(idx)]
        if used_cls.get(c, 0) <= min(used_cls.values(), default=0) or len(used_cls) == len(CLASSES):
            chosen.append((c, col))
            used_cls[c] = used_cls.get(c, 0) + 1
        if len(chosen) == k:
            break
    shapes = [Shape(c, col, cx, cy, r) for c, col in chosen]
    exemplars = torch.stack([render_scene(kind, params, [s], size) for s in shapes])
    ti = int(rng.integers(k)) if target_index is None else int(target_index)
    s = shapes[ti]
    alt = replace(s, cx=s.cx + shift, cy=s.cy)
    alpha = shape_alpha(alt, size)
    colour = torch.tensor(s.rgb) * shade + (1 - shade) * 0.5
    obj = (colour[:, None, None] * (1.0 + 0.22 * (-(_grid(size, size)[1] - alt.cy) / alt.r).clamp(-1, 1))[None]
           ).clamp(0, 1) * 2 - 1
    scene = exemplars[(ti + 1) % k].clone()
    target = obj * alpha[None] + scene * (1 - alpha[None])
    region = torch.zeros(size, size)
    for sh in shapes:
        region = torch.maximum(region, (shape_alpha(sh, size) > 0).float())
    hole = (torch.nn.functional.max_pool2d(region[None, None], 3, 1, 1)[0, 0] > 0).float()
    sil = (alpha > 0.5).float()
    return ExemplarTask(exemplars=exemplars, shapes=shapes, scene=scene, region=region, target_index=ti,
                        target=target, silhouette=sil, box=_box(sil), hole=hole)


# --- masks for robustness runs -----------------------------------------------------------------

def signed_distance(mask: torch.Tensor) -> torch.Tensor:
    """Signed distance [H, W] in pixels to the border of a binary mask (< 0 inside, ±0.5 at the
    pixels next to the border). Brute force over pixel centres: meant for small toy images."""
    m = mask > 0.5
    h, w = m.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    pts = torch.stack([ys.reshape(-1), xs.reshape(-1)], 1)
    flat = m.reshape(-1)
    big = float(h + w)
    inside, outside = pts[flat], pts[~flat]
    d_in = torch.cdist(pts, inside).amin(1) if inside.shape[0] else torch.full((h * w,), big)
    d_out = torch.cdist(pts, outside).amin(1) if outside.shape[0] else torch.full((h * w,), big)
    sd = torch.where(flat, -(d_out - 0.5), d_in - 0.5)
    return sd.reshape(h, w)


def perturb_mask(mask: torch.Tensor, amount: float, kind: str, seed: int = 0) -> torch.Tensor:
    """Damage a binary [H, W] mask by ``amount`` × the object's size (sqrt of its area).

    kind: 'grow' / 'shrink' (move the border out / in by that many pixels), 'jitter' (shift the
    mask that many pixels in a random direction) or 'random' (one of the three, chosen by seed).
    Sub-pixel amounts give a soft border (coverage in [0, 1]), so 5 % of a small object still
    changes the mask. Returns a soft [H, W] mask; amount 0 returns the binary mask.
    """
    if amount < 0:
        raise ValueError(f"amount must be >= 0, got {amount}")
    rng = np.random.default_rng(int(seed))
    if kind == "random":
        kind = ("grow", "shrink", "jitter")[int(rng.integers(3))]
    if kind not in ("grow", "shrink", "jitter"):
        raise ValueError(f"kind must be grow, shrink, jitter or random; got {kind!r}")
    m = (mask > 0.5).float()
    if amount == 0 or m.sum() == 0:
        return m
    px = float(amount) * math.sqrt(float(m.sum()))
    if kind in ("grow", "shrink"):
        sd = signed_distance(m)
        delta = px if kind == "grow" else -px
        return (0.5 - (sd - delta)).clamp(0.0, 1.0)
    ang = float(rng.uniform(0, 2 * math.pi))
    dx, dy = px * math.cos(ang), px * math.sin(ang)
    h, w = m.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    # sample the mask at (x - dx, y - dy), bilinear, zero outside
    gx = (xs - dx + 0.5) / w * 2 - 1
    gy = (ys - dy + 0.5) / h * 2 - 1
    grid = torch.stack([gx, gy], -1)[None]
    return torch.nn.functional.grid_sample(m[None, None], grid, mode="bilinear", padding_mode="zeros",
                                           align_corners=False)[0, 0].clamp(0.0, 1.0)


# --- display ----------------------------------------------------------------------------------

def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Model space [-1, 1] -> [0, 1], clamped."""
    return ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)


def to_pil(x: torch.Tensor, scale: int = 1):
    """A [3, H, W] model-space image (or [H, W] mask in [0, 1]) as a PIL image, nearest-upscaled."""
    from PIL import Image
    if x.ndim == 2:
        arr = (x.float().clamp(0, 1) * 255).round().byte().numpy()
        img = Image.fromarray(arr, mode="L").convert("RGB")
    else:
        arr = (to_unit(x).permute(1, 2, 0) * 255).round().byte().numpy()
        img = Image.fromarray(arr, mode="RGB")
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return img


def hole_view(scene: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """The scene with the hole shown as a grey checkerboard (model space)."""
    h, w = hole.shape
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    checker = (((ys // 2 + xs // 2) % 2).float() * 0.3 - 0.1)[None].expand(3, h, w)
    return scene * (1 - hole[None]) + checker * hole[None]
