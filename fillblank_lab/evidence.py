"""The evidence world: a target OFF the model's data, a non-linear VAE, real latent formats.

Pure torch (no ComfyUI import); ``benchmarks/evidence.py`` runs it through the real nodes.

* The model's data ("exemplars"; the exact posterior over them is the model): for every scene light
  ℓ (warm, cool, dim — none neutral; each tints and dims the background AND the object) and every
  object class k, the background under ℓ with object k under ℓ at the place, casting a soft shadow
  (the background darkened below and to the right of the object).
* Classes chosen to make identity hard: the same shape in another shade (disc / dark disc), the same
  colour in another shape (disc / bar; bead / triangle), a thin ring and a thin
  stick (3 px wide: under half a latent cell), a small bead about 2.5 latent cells wide, and a class
  the unguided model never draws (log prior −12).
* The target: object k in NEUTRAL light (no tint, no shadow), a LoadImage-style cut-out (IMAGE on
  white + MASK, 1 = transparent), placed slightly off as a real cut-out is: scale ±10 %, position
  ±3 px (drawn from the run's seed).
* :class:`EvidenceVAE`: a fixed non-linear VAE, 8× down, with a receptive field over neighbouring
  latent cells: encode = g(A·P·pool4(pixels)) (P: the 2×2 sub-blocks of a cell to C channels, A: a
  neighbour-mixing map over cells, g = asinh, monotonic), raw latent = z / scale + shift of a real
  checkpoint's latent format; decode is the inverse (up to what P drops for 4 channels). A cell the
  object covers partly is therefore NOT the coverage blend of object and background latents.
* Metrics on the decoded result: identity (class of the nearest decoded exemplar over ALL classes
  and ALL lights inside the hole — never sees the guidance target), harmony (the object region nearer
  the object as lit in the scene than the neutral paste, and the shadow present), seam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

__all__ = [
    "BOX",
    "CLASSES",
    "EXTRA_CLASSES",
    "class_spec",
    "FORMATS",
    "LIGHTS",
    "RARE",
    "PLACES",
    "SCENE",
    "TwoPlaceWorld",
    "WIDE",
    "EvidenceVAE",
    "EvidenceWorld",
    "LatentSpec",
    "Placement",
    "shape_alpha",
]

SCENE = 128                 # px, square scene: a 16×16 latent
CELL = 8
BOX = 48                    # every object is drawn in a BOX×BOX square at CENTRE
CENTRE = (60, 62)           # (y, x) px of the object's box centre
SHADOW_SHIFT = (4, 3)       # (dy, dx) px: a contact shadow below and to the right
SHADOW_BLUR = 2             # px
SHADOW_DARK = 0.35          # fraction of light the shadow takes away at its core
SHADOW_SEEN = 0.02          # luminance drop below which a decoded pixel shows no shadow
# the cast-shadow variant (``EvidenceWorld(shadow="cast")``; the tables above use the contact shadow):
# the object's silhouette projected on the ground from its base (its lowest row, where it stands) by a
# light at the upper left — a point h px above the base falls CAST_LENGTH × h px from its foot toward
# CAST_ANGLE (degrees in the image, clockwise from the right), the vertical part foreshortened by half
CAST_ANGLE = 45.0
CAST_LENGTH = 0.5
CAST_BLUR = 3               # px: a cast shadow's soft edge
SHADOWS = ("contact", "cast")
JITTER_SCALE = 0.10         # the cut-out's size is off by up to ±10 %
JITTER_PX = 3               # and its position by up to ±3 px
# the model's data show each object at a few sizes and places around the place: (scale, dy, dx),
# as dense as the cut-out's error, so that a shifted cut-out still has its class's exemplar nearby
VARIANTS = tuple((sc, dy, dx) for sc in (1.0, 0.92, 1.08) for dy in (0, -2, 2) for dx in (0, -2, 2))

# class: (shape, neutral colour). Distractors: disc/disc_dark (shade), disc/bar and bead/triangle
# (colour), ring and stick (3 px wide), bead (20 px: 2.5 cells), ell (rare).
CLASSES = {
    "disc": ("disc", (0.85, 0.20, 0.15)),
    "disc_dark": ("disc", (0.38, 0.09, 0.07)),
    "bar": ("bar", (0.85, 0.20, 0.15)),
    "ring": ("thin_ring", (0.20, 0.40, 0.95)),
    "stick": ("stick", (0.95, 0.85, 0.15)),
    "bead": ("bead", (0.20, 0.80, 0.30)),
    "triangle": ("triangle", (0.20, 0.80, 0.30)),
    "ell": ("ell", (0.70, 0.25, 0.80)),
}
# Classes a variant world adds (``EvidenceWorld(classes=…)``; the default world never draws them).
# disc_mid: the disc's colour as the dim light shows it — in a dim scene, the lit disc is exactly the
# NEUTRAL cut-out of disc_mid, so colour alone cannot tell the two there (benchmarks/evidence_confusable.py).
EXTRA_CLASSES = {
    "disc_mid": ("disc", (0.612, 0.138, 0.099)),
}
RARE = "ell"
RARE_LOG_PRIOR = -12.0
# light: (tint per RGB channel, brightness); every light changes every colour
LIGHTS = {
    "warm": ((1.08, 0.94, 0.80), 1.0),
    "cool": ((0.84, 0.95, 1.08), 1.0),
    "dim": ((0.96, 0.92, 0.88), 0.75),
}


def class_spec(cls: str) -> tuple:
    """(shape, neutral colour) of a class of CLASSES or EXTRA_CLASSES."""
    spec = CLASSES.get(cls) or EXTRA_CLASSES.get(cls)
    if spec is None:
        raise KeyError(f"unknown class {cls!r}; one of {sorted({*CLASSES, *EXTRA_CLASSES})}")
    return spec


@dataclass(frozen=True)
class LatentSpec:
    """A real checkpoint's latent format as ComfyUI applies it: process_in(x) = (x − shift)·scale."""
    name: str
    channels: int
    scale: float
    shift: float = 0.0
    comfy_class: str = ""   # the class in comfy.latent_formats

    def process_in(self, raw: torch.Tensor) -> torch.Tensor:
        return (raw - self.shift) * self.scale

    def process_out(self, z: torch.Tensor) -> torch.Tensor:
        return z / self.scale + self.shift


FORMATS = {
    "sd15": LatentSpec("sd15", 4, 0.18215, 0.0, "SD15"),
    "sdxl": LatentSpec("sdxl", 4, 0.13025, 0.0, "SDXL"),
    "sd3": LatentSpec("sd3", 16, 1.5305, 0.0609, "SD3"),
    "flux": LatentSpec("flux", 16, 0.3611, 0.1159, "Flux"),
}


# --- pictures -------------------------------------------------------------------------------------

def shape_alpha(shape: str, size: int, supersample: int = 4) -> torch.Tensor:
    """Coverage [size, size] in 0..1 of a shape drawn in a size×size box (anti-aliased). Thin parts
    are 3 px wide at size BOX (they scale with the box)."""
    n = size * supersample
    c = (torch.arange(n, dtype=torch.float64) + 0.5) / n * 2.0 - 1.0  # −1..1
    y, x = torch.meshgrid(c, c, indexing="ij")
    r = torch.sqrt(x * x + y * y)
    thin = 3.0 / BOX * 2.0  # 3 px in box units (the box is 2 units wide)
    if shape == "disc":
        inside = r <= 0.9
    elif shape == "bar":  # a wide block
        inside = (x.abs() <= 0.9) & (y.abs() <= 0.4)
    elif shape == "thin_ring":
        inside = (r <= 0.9) & (r >= 0.9 - thin)
    elif shape == "stick":
        inside = (x.abs() <= thin / 2) & (y.abs() <= 0.9)
    elif shape == "bead":  # 20 px across at BOX 48
        inside = r <= 20.0 / BOX
    elif shape == "triangle":  # apex up, filling the box
        inside = (y <= 0.9) & (x.abs() <= (y + 0.9) / 2)
    elif shape == "ell":
        inside = ((x <= -0.3) | (y >= 0.4)) & (x.abs() <= 0.9) & (y.abs() <= 0.9)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return inside.to(torch.float32).reshape(size, supersample, size, supersample).mean((1, 3))


def background(h: int = SCENE, w: int = SCENE) -> torch.Tensor:
    """The room [h, w, 3] in neutral light: a smooth gradient with a soft texture."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    r = 0.55 + 0.15 * xx + 0.05 * torch.sin(9 * yy)
    g = 0.55 + 0.12 * yy + 0.05 * torch.cos(7 * xx)
    b = 0.52 - 0.10 * xx + 0.04 * torch.sin(5 * (xx + yy))
    return torch.stack([r, g, b], -1).clamp(0, 1)


def light(img: torch.Tensor, name: str) -> torch.Tensor:
    tint, bright = LIGHTS[name]
    return (img * torch.tensor(tint) * bright).clamp(0, 1)


def _blur(a: torch.Tensor, radius: int) -> torch.Tensor:
    if radius <= 0:
        return a
    k = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(k ** 2) / (2 * (radius / 2.0) ** 2))
    k = k / k.sum()
    t = a[None, None]
    t = F.conv2d(F.pad(t, (radius, radius, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    t = F.conv2d(F.pad(t, (0, 0, radius, radius), mode="replicate"), k.view(1, 1, -1, 1))
    return t[0, 0]


def object_alpha(cls: str, variant=VARIANTS[0], canvas: int | tuple[int, int] = SCENE,
                 centre: tuple[int, int] = CENTRE) -> torch.Tensor:
    """[H, W] coverage of the class's object drawn at its place (variant: scale, dy, dx); canvas: the
    side of a square or (H, W), centre: (y, x) of the place."""
    scale, dy, dx = variant
    size = round(BOX * scale)
    h, w = (canvas, canvas) if isinstance(canvas, int) else canvas
    a = torch.zeros(h, w)
    y0, x0 = centre[0] + dy - size // 2, centre[1] + dx - size // 2
    a[y0:y0 + size, x0:x0 + size] = shape_alpha(class_spec(cls)[0], size)
    return a


def shadow_of(alpha: torch.Tensor) -> torch.Tensor:
    """[H, W] fraction of light the object's shadow takes from the background (0 = none)."""
    dy, dx = SHADOW_SHIFT
    s = torch.roll(alpha, shifts=(dy, dx), dims=(0, 1))
    return (_blur(s, SHADOW_BLUR) * SHADOW_DARK).clamp(0, 1)


def cast_shadow_of(alpha: torch.Tensor, angle: float = CAST_ANGLE, length: float = CAST_LENGTH,
                   supersample: int = 4) -> torch.Tensor:
    """[H, W] fraction of light a cast shadow on the ground takes (0 = none): the object stands on the
    ground at its base (its lowest row with coverage > 0.5); a point h px above the base at column x
    falls on the ground at (x + length·h·cos θ, base + length·h·sin θ / 2) (θ clockwise from the right;
    the ground foreshortened by half). Drawn by inverse mapping every ground point below the base
    (supersampled), blurred CAST_BLUR px; nothing above the base line (the ground is behind the
    object there)."""
    H, W = alpha.shape
    rows = torch.nonzero((alpha > 0.5).any(1)).flatten()
    if rows.numel() == 0:
        return torch.zeros(H, W)
    base = float(rows.max()) + 0.5                      # the ground line (pixel edges at integers)
    t = math.radians(angle)
    ax, ay = length * math.cos(t), 0.5 * length * math.sin(t)
    n = supersample
    ys = (torch.arange(H * n, dtype=torch.float64) + 0.5) / n
    xs = (torch.arange(W * n, dtype=torch.float64) + 0.5) / n
    Y, X = torch.meshgrid(ys, xs, indexing="ij")
    h = (Y - base) / ay if ay > 0 else torch.full_like(Y, -1.0)
    sx, sy = X - ax * h, base - h                     # the object point whose shadow falls here
    ground = h >= 0
    grid = torch.stack([sx / W * 2 - 1, sy / H * 2 - 1], -1)[None].float()
    cover = F.grid_sample(alpha[None, None].float(), grid, mode="bilinear", padding_mode="zeros",
                          align_corners=False)[0, 0] * ground
    cover = F.avg_pool2d(cover[None, None], n)[0, 0]
    return (_blur(cover, CAST_BLUR) * SHADOW_DARK).clamp(0, 1)


def shadow_for(alpha: torch.Tensor, shadow: str = "contact") -> torch.Tensor:
    """The world's shadow of kind ``shadow``: "contact" (``shadow_of``) or "cast" (``cast_shadow_of``)."""
    if shadow == "contact":
        return shadow_of(alpha)
    if shadow == "cast":
        return cast_shadow_of(alpha)
    raise ValueError(f"unknown shadow {shadow!r}; one of {SHADOWS}")


def exemplar_scene(cls: str, light_name: str, variant=VARIANTS[0],
                   shadow: str = "contact") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image [1,H,W,3], object alpha [H,W], shadow [H,W]): the scene under the light with the
    object under the same light and its shadow (``shadow``: "contact" or "cast")."""
    a = object_alpha(cls, variant)
    sh = shadow_for(a, shadow) * (1 - a)
    bg = light(background(), light_name) * (1 - sh)[..., None]
    col = light(torch.tensor(class_spec(cls)[1]).expand(1, 1, 3), light_name)[0, 0]
    img = bg * (1 - a[..., None]) + col * a[..., None]
    return img[None], a, sh


def empty_scene(light_name: str) -> torch.Tensor:
    """[1,H,W,3]: the scene under the light, nothing at the place (what the user starts from)."""
    return light(background(), light_name)[None]


MATTE = "edge"   # what a cut-out PNG stores under its transparent pixels: "white" or "edge" (its colour)


def target_image(cls: str, size: int = 2 * BOX, matte: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The object in NEUTRAL light as LoadImage gives a transparent PNG: IMAGE [1,s,s,3] and MASK
    [1,s,s] with 1 = transparent. Under the transparent pixels the PNG stores white (matte "white",
    what LoadImage gives for most editors' exports) or the object's own colour ("edge")."""
    a = shape_alpha(class_spec(cls)[0], size)
    col = torch.tensor(class_spec(cls)[1])
    under = torch.ones(3) if (matte or MATTE) == "white" else col
    img = under * (1 - a[..., None]) + col * a[..., None]
    return img[None], (1.0 - a)[None]


@dataclass(frozen=True)
class Placement:
    """Where a run's cut-out goes (Target Encoder's x, y, scale): slightly off the model's place."""
    x: float
    y: float
    scale: float

    @classmethod
    def for_seed(cls, seed: int, centre: tuple[int, int] = CENTRE, width: int = SCENE, salt: int = 3) -> Placement:
        """The run's placement around ``centre`` (y, x px) on a scene ``width`` px wide and SCENE
        high (Target Encoder's x is a fraction of the width, y and scale of the height); ``salt``
        draws another place's error independently."""
        g = torch.Generator().manual_seed(int(seed) * 7 + salt)
        u = torch.rand(3, generator=g, dtype=torch.float64) * 2 - 1
        size = BOX * (1 + JITTER_SCALE * float(u[0]))
        return cls(x=(centre[1] + JITTER_PX * float(u[1])) / width,
                   y=(centre[0] + JITTER_PX * float(u[2])) / SCENE, scale=size / SCENE)


def shadow_reach(shadow: str = "contact") -> tuple[int, int]:
    """(dy, dx) px the world's shadow reaches below / right of the object's box at most."""
    if shadow == "contact":
        return SHADOW_SHIFT[0] + SHADOW_BLUR, SHADOW_SHIFT[1] + SHADOW_BLUR
    t = math.radians(CAST_ANGLE)
    tall = BOX * max(v[0] for v in VARIANTS)              # the tallest object's height, at most
    return (math.ceil(0.5 * CAST_LENGTH * math.sin(t) * tall) + CAST_BLUR,
            math.ceil(CAST_LENGTH * math.cos(t) * tall) + CAST_BLUR)


def drawn_hole(centre: tuple[int, int] = CENTRE, width: int = SCENE, room: bool = True,
               shadow: str = "contact") -> torch.Tensor:
    """The hole a user draws over the place: the object's box, 4 px more, and room for its shadow
    (``room``, as far as the world's ``shadow`` reaches; without it the tight box). [1, H, W] (Mask
    Refiner's default union + grow 8 makes the final hole)."""
    m = torch.zeros(1, SCENE, width)
    y0, x0 = centre[0] - BOX // 2 - 4, centre[1] - BOX // 2 - 4
    ry, rx = shadow_reach(shadow) if room else (0, 0)
    y1 = centre[0] + BOX // 2 + 4 + ry
    x1 = centre[1] + BOX // 2 + 4 + rx
    m[:, y0:y1, x0:x1] = 1.0
    return m


# --- the VAE --------------------------------------------------------------------------------------

def _haar_basis() -> torch.Tensor:
    """[4, 4] orthonormal basis of a 2×2 block (mean, horizontal, vertical, diagonal), rows."""
    return 0.5 * torch.tensor([[1., 1., 1., 1.], [1., -1., 1., -1.], [1., 1., -1., -1.], [1., -1., -1., 1.]])


@lru_cache(maxsize=8)
def _mixing(h: int, w: int, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, A⁻¹) [hw, hw]: v = u + alpha·(mean of the 4 neighbours, zero outside): every latent
    cell sees its neighbours (eigenvalues in [1 − alpha, 1 + alpha]: invertible)."""
    n = h * w
    idx = torch.arange(n).reshape(h, w)
    N = torch.zeros(n, n, dtype=torch.float64)
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        src = idx[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)].reshape(-1)
        dst = idx[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)].reshape(-1)
        N[dst, src] = 0.25
    A = torch.eye(n, dtype=torch.float64) + alpha * N
    return A, torch.linalg.inv(A)


class EvidenceVAE:
    """A fixed non-linear VAE with what ComfyUI and the nodes use of a VAE (encode(pixels BHWC) ->
    raw latent [B,C,h,w], decode(raw latent) -> BHWC in 0..1, downscale_ratio 8).

    encode: pool each 4×4 block; the 12 values of a cell's 2×2 blocks (RGB × Haar basis) -> C
    channels by a fixed P (4 channels: the cell's mean colour and one luminance detail; 16: all 12
    in a fixed rotation); v = A·u mixes every cell with its neighbours; z = asinh(k·v)/k; raw =
    z/scale + shift of the checkpoint's latent format, so process_latent_in(raw) = z (unit-ish).
    decode inverts each step (P by its pseudo-inverse) and upsamples the 4×4 blocks.
    """

    downscale_ratio = 8
    GAIN = 2.5      # pixels − 0.5 to unit-ish
    MIX = 0.5       # neighbour mixing
    K = 1.6         # non-linearity strength (asinh(1.6·v)/1.6)

    def __init__(self, spec: LatentSpec):
        self.spec = spec
        c = spec.channels
        haar = _haar_basis()                                    # [4 basis, 4 blocks]
        full = torch.zeros(12, 12, dtype=torch.float64)         # rows: (channel rgb, basis); cols: (rgb, block)
        for ch in range(3):
            full[ch * 4:(ch + 1) * 4, ch * 4:(ch + 1) * 4] = haar
        if c == 4:
            mean_rows = full[[0, 4, 8]]                        # mean R, G, B
            lum_detail = (full[2] + full[6] + full[10]) / math.sqrt(3)  # vertical luminance detail
            P = torch.cat([mean_rows, lum_detail[None]])
            mix = torch.tensor([[0.9, 0.3, 0.1, 0.2], [0.2, 0.9, 0.3, -0.2], [0.1, 0.2, 0.9, 0.3],
                                [0.3, -0.2, 0.2, 0.8]], dtype=torch.float64)  # channels are not colours
            P = mix @ P
        elif c == 16:
            g = torch.Generator().manual_seed(20)
            Q, _ = torch.linalg.qr(torch.randn(16, 16, generator=g, dtype=torch.float64))
            P = Q[:, :12] @ full
        else:
            raise ValueError(f"EvidenceVAE has 4 or 16 channels, got {c}")
        self.P = P                                              # [C, 12]
        self.P_inv = torch.linalg.pinv(P)                       # [12, C]

    def _cells(self, pixels: torch.Tensor) -> torch.Tensor:
        """BHWC pixels -> [B, 12, h, w] (rgb × 2×2 blocks of each cell)."""
        x = pixels[..., :3].movedim(-1, 1).double() - 0.5
        x = F.avg_pool2d(x, 4) * self.GAIN                       # [B, 3, 2h, 2w]
        b, _, H2, W2 = x.shape
        x = x.reshape(b, 3, H2 // 2, 2, W2 // 2, 2).permute(0, 1, 3, 5, 2, 4)  # b, rgb, dy, dx, h, w
        return x.reshape(b, 12, H2 // 2, W2 // 2)

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        u = torch.einsum("kc,bchw->bkhw", self.P, self._cells(pixels))
        b, c, h, w = u.shape
        A, _ = _mixing(h, w, self.MIX)
        v = (u.reshape(b, c, h * w) @ A.T).reshape(b, c, h, w)
        z = torch.asinh(self.K * v) / self.K
        return self.spec.process_out(z).float()

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        z = self.spec.process_in(latent.double())
        b, c, h, w = z.shape
        v = torch.sinh(self.K * z) / self.K
        _, Ainv = _mixing(h, w, self.MIX)
        u = (v.reshape(b, c, h * w) @ Ainv.T).reshape(b, c, h, w)
        cells = torch.einsum("kc,bchw->bkhw", self.P_inv, u)    # [B, 12, h, w]
        x = cells.reshape(b, 3, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, 3, 2 * h, 2 * w)
        x = x / self.GAIN + 0.5
        x = F.interpolate(x, scale_factor=4, mode="nearest")
        return x.movedim(1, -1).clamp(0, 1).float()


# --- the world ------------------------------------------------------------------------------------

def _blocks(img: torch.Tensor) -> torch.Tensor:
    """[B, H, W, C] -> [B, H/4, W/4, C]: the mean of every 4×4 block."""
    return F.avg_pool2d(img.movedim(-1, 1), 4).movedim(1, -1)


def _lum(img: torch.Tensor) -> torch.Tensor:
    return img[..., 0] * 0.3 + img[..., 1] * 0.59 + img[..., 2] * 0.11


class EvidenceWorld:
    """Exemplars (model space), targets, the hole, and the metrics, for one latent format.

    ``keys[i]`` = (class, light, variant index) of exemplar i. ``log_prior`` makes RARE a class the
    unguided model never draws. ``shadow``: the objects' shadow in the data — "contact" (every table
    but one) or "cast" (the cast-shadow variant: a longer shadow on the ground, ``cast_shadow_of``)."""

    def __init__(self, fmt: str = "sd15", classes: tuple[str, ...] | None = None, shadow: str = "contact"):
        self.spec = FORMATS[fmt]
        self.vae = EvidenceVAE(self.spec)
        self.classes = tuple(classes or CLASSES)
        self.lights = tuple(LIGHTS)
        self.shadow_kind = shadow
        imgs, alphas, shadows, keys = [], [], [], []
        for k in self.classes:
            for ell in self.lights:
                for v, variant in enumerate(VARIANTS):
                    img, a, sh = self._dress(*exemplar_scene(k, ell, variant, shadow), ell)
                    imgs.append(img)
                    alphas.append(a)
                    shadows.append(sh)
                    keys.append((k, ell, v))
        self.keys = keys
        self.pixels = torch.cat(imgs)                         # [K, H, W, 3] the model's data
        self.alpha = torch.stack(alphas)                      # [K, H, W]
        self.shadow = torch.stack(shadows)
        raw = self.vae.encode(self.pixels)
        self.exemplars = self.spec.process_in(raw.double())   # model space [K, C, h, w]
        self.decoded = self.vae.decode(raw)                   # what the classifier compares with
        self._decoded_blocks = _blocks(self.decoded).reshape(len(keys), -1).double()
        prior = torch.zeros(len(keys), dtype=torch.float64)
        for i, (k, _, _) in enumerate(keys):
            if k == RARE:
                prior[i] = RARE_LOG_PRIOR
        self.log_prior = prior
        self.scenes = {ell: self._dress(empty_scene(ell), None, None, ell)[0] for ell in self.lights}
        self.scene_latents = {ell: self.vae.encode(s) for ell, s in self.scenes.items()}
        self.scene_decoded = {ell: self.vae.decode(z) for ell, z in self.scene_latents.items()}
        self.targets = {k: target_image(k) for k in self.classes}

    def _dress(self, img: torch.Tensor, alpha, shadow, light_name: str) -> tuple:
        """A picture of the world (an exemplar with its object's alpha and shadow, or an empty scene with
        None for both) as the world shows it: as drawn here; a variant world adds to it."""
        return img, alpha, shadow

    def index(self, cls: str, light_name: str, variant: int = 0) -> int:
        return self.keys.index((cls, light_name, variant))

    def nearest(self, decoded: torch.Tensor, hole: torch.Tensor, among=None) -> int:
        """Index of the nearest decoded exemplar inside the hole (among: a bool [K] filter).

        Compared on the decoder's 4×4 blocks (it upsamples them: the same ranking as per pixel)."""
        m = (_blocks(hole.reshape(1, SCENE, SCENE, 1).float()) > 0).expand(-1, -1, -1, 3).reshape(1, -1).double()
        x = _blocks(decoded).reshape(1, -1).double()
        y = self._decoded_blocks
        d = (m * x * x).sum(1) - 2.0 * (x * m) @ y.T + (y * y) @ m.T.reshape(-1)
        d = d.reshape(-1)
        if among is not None:
            d = torch.where(among, d, torch.full_like(d, float("inf")))
        return int(d.argmin())

    # -- metrics (decoded pixels [1,H,W,3]; hole [1,H,W] the sampler's repaint region in pixels) --
    def identity(self, decoded: torch.Tensor, hole: torch.Tensor) -> tuple[str, str, int]:
        """(class, light, variant) of the nearest decoded exemplar inside the hole, over every class,
        light and variant: the classifier never sees the guidance target."""
        return self.keys[self.nearest(decoded, hole)]

    def object_region(self, i: int, silhouette: torch.Tensor) -> torch.Tensor:
        """[H, W] bool: where the object is in exemplar i or in the placed cut-out."""
        return (self.alpha[i] > 0.3) | (silhouette.reshape(SCENE, SCENE) > 0.3)

    def harmony(self, decoded: torch.Tensor, cls: str, light_name: str, paste_decoded: torch.Tensor,
                silhouette: torch.Tensor, hole: torch.Tensor, shadow_where: str = "hole") -> dict:
        """The object lit by the scene (nearer the lit exemplar than the neutral paste inside the
        object region) and the shadow present (at least half the exemplar's darkening where the
        exemplar's shadow is, inside the hole — or, ``shadow_where="image"``, wherever it is: a hole
        without room for the shadow then fails instead of not being asked). The exemplar: the
        class's variant under the light nearest to the result."""
        among = torch.tensor([k == cls and ell == light_name for k, ell, _ in self.keys])
        i = self.nearest(decoded, hole, among)
        lit = self.decoded[i]
        reg = self.object_region(i, silhouette)
        d_lit = float(((decoded[0] - lit)[reg] ** 2).sum())
        d_paste = float(((decoded[0] - paste_decoded[0])[reg] ** 2).sum())
        lit_ok = d_lit < d_paste
        scene = self.scene_decoded[light_name][0]
        want_px = _lum(scene) - _lum(lit)  # the shadow as the VAE shows it (it smears thin objects)
        where = hole.reshape(SCENE, SCENE) > 0 if shadow_where == "hole" else torch.ones(SCENE, SCENE, dtype=torch.bool)
        sh_region = (self.shadow[i] > 0.1) & (self.alpha[i] < 0.05) & where & (want_px > SHADOW_SEEN)
        if int(sh_region.sum()) < 4:  # no shadow the decoded exemplar shows: nothing to ask for
            shadow_ok, dark, want = True, float("nan"), float("nan")
        else:
            want = float(want_px[sh_region].mean())
            dark = float((_lum(scene) - _lum(decoded[0]))[sh_region].mean())
            shadow_ok = dark >= 0.5 * want
        return {"lit": lit_ok, "shadow": shadow_ok, "harmony": lit_ok and shadow_ok,
                "lit_margin": (d_paste - d_lit) / max(d_paste + d_lit, 1e-12), "shadow_dark": dark,
                "shadow_want": want}

    def seam(self, decoded: torch.Tensor, hole: torch.Tensor, light_name: str) -> float:
        """Mean luminance jump across the hole's border (pixel pairs in/out), minus the scene's own
        jump at the same pairs (0 = as smooth as the scene there)."""
        h = hole.reshape(SCENE, SCENE) > 0
        lum = _lum(decoded[0])
        ref = _lum(self.scene_decoded[light_name][0])
        jumps, base = [], []
        for dim in (0, 1):
            a, b = h.narrow(dim, 0, SCENE - 1), h.narrow(dim, 1, SCENE - 1)
            edge = a != b
            la, lb = lum.narrow(dim, 0, SCENE - 1), lum.narrow(dim, 1, SCENE - 1)
            ra, rb = ref.narrow(dim, 0, SCENE - 1), ref.narrow(dim, 1, SCENE - 1)
            jumps.append((la - lb).abs()[edge])
            base.append((ra - rb).abs()[edge])
        return float(torch.cat(jumps).mean() - torch.cat(base).mean())


# --- two places, one object each (several targets in one run) ----------------------------------------

WIDE = 2 * SCENE                            # the two-place scene: SCENE high, WIDE wide (16×32 latent)
PLACES = (CENTRE, (CENTRE[0], CENTRE[1] + SCENE))   # (y, x): one place in each half, as far apart as the halves


def place_scene(place: int, cls: str, light_name: str, variant=VARIANTS[0]):
    """(image [1,SCENE,WIDE,3], alpha, shadow): the wide scene under the light with object ``cls``
    (lit, with its shadow) at PLACES[place] and nothing at the other place."""
    a = object_alpha(cls, variant, (SCENE, WIDE), PLACES[place])
    sh = shadow_of(a) * (1 - a)
    bg = light(background(SCENE, WIDE), light_name) * (1 - sh)[..., None]
    col = light(torch.tensor(class_spec(cls)[1]).expand(1, 1, 3), light_name)[0, 0]
    return (bg * (1 - a[..., None]) + col * a[..., None])[None], a, sh


def two_place_picture(classes: tuple[str, str], light_name: str, variants=(VARIANTS[0], VARIANTS[0])) -> torch.Tensor:
    """[1,SCENE,WIDE,3]: one of the model's data — an object at each place, both lit, both shadows."""
    alphas = [object_alpha(k, v, (SCENE, WIDE), c) for k, v, c in zip(classes, variants, PLACES)]
    a = sum(alphas).clamp(0, 1)
    sh = shadow_of(a) * (1 - a)
    img = light(background(SCENE, WIDE), light_name) * (1 - sh)[..., None]
    for k, al in zip(classes, alphas):
        col = light(torch.tensor(class_spec(k)[1]).expand(1, 1, 3), light_name)[0, 0]
        img = img * (1 - al[..., None]) + col * al[..., None]
    return img[None]


class _Decoded:
    """decoded[i] of one place: exemplar i's half, decoded on demand (the wide latent rebuilt)."""

    def __init__(self, world: TwoPlaceWorld, place: int):
        self.world, self.place = world, place

    def __getitem__(self, i: int) -> torch.Tensor:
        w = self.world
        ell = w.keys[i][1]
        z = w.scene_latents[ell].clone()
        half = w.spec.process_out(w.parts[self.place][i:i + 1])
        z[..., w.cols(self.place)] = half.to(z)
        return w.half(w.vae.decode(z), self.place)[0]


class PlaceView(EvidenceWorld):
    """One place of a TwoPlaceWorld seen as a one-place EvidenceWorld of its half (SCENE × SCENE):
    identity and harmony over that place's exemplars (every class, light and variant), on the half of
    the result, the hole and the silhouette that hold the place."""

    def __init__(self, world: TwoPlaceWorld, place: int):  # no super().__init__: the parts come from world
        self.spec, self.vae, self.classes, self.lights = world.spec, world.vae, world.classes, world.lights
        self.keys = world.keys
        self.alpha = world.alpha[place]
        self.shadow = world.shadow[place]
        self.decoded = _Decoded(world, place)
        self._decoded_blocks = world.blocks[place]
        self.scene_decoded = {ell: world.half(d, place) for ell, d in world.scene_decoded.items()}


class TwoPlaceWorld:
    """The evidence world with two places (one in each half of a SCENE × WIDE scene), each holding
    one object of any class (drawn independently) under the scene's one light with its shadow.

    The model's data are every (light, object and variant at place 0, object and variant at place 1):
    (8 classes × 27 variants)² × 3 lights ≈ 140,000 images — too many to sum over per model call,
    so the exact posterior is computed factorised (``FactorisedExemplarDenoiser``): the VAE's encoder
    sees a cell and its 4 neighbours, and every object with its shadow stays ≥ 6 latent cells from
    the halves' border, so the latent of a two-object picture is exactly its halves' latents side by
    side (``tests/test_evidence_several.py`` checks), and the posterior over all combinations is the
    per-half one given the light. ``parts[p]`` [K, C, h, w/2] (model space), ``keys[i]`` = (class,
    light, variant) of exemplar i at each place."""

    def __init__(self, fmt: str = "sd15", classes: tuple[str, ...] | None = None):
        self.spec = FORMATS[fmt]
        self.vae = EvidenceVAE(self.spec)
        self.classes = tuple(classes or CLASSES)
        self.lights = tuple(LIGHTS)
        self.keys = [(k, ell, v) for k in self.classes for ell in self.lights for v in range(len(VARIANTS))]
        self.group = torch.tensor([self.lights.index(ell) for _, ell, _ in self.keys])
        self.log_prior = torch.tensor([RARE_LOG_PRIOR if k == RARE else 0.0 for k, _, _ in self.keys],
                                      dtype=torch.float64)
        self.scenes = {ell: light(background(SCENE, WIDE), ell)[None] for ell in self.lights}
        self.scene_latents = {ell: self.vae.encode(s) for ell, s in self.scenes.items()}
        self.scene_decoded = {ell: self.vae.decode(z) for ell, z in self.scene_latents.items()}
        self.parts, self.alpha, self.shadow, self.blocks = [], [], [], []
        for p in range(len(PLACES)):
            parts, alphas, shadows, blocks = [], [], [], []
            for k in self.classes:  # a class at a time: 81 wide pictures
                imgs, ells = [], []
                for ell in self.lights:
                    for variant in VARIANTS:
                        img, a, sh = place_scene(p, k, ell, variant)
                        imgs.append(img)
                        alphas.append(self.half(a[None], p)[0])
                        shadows.append(self.half(sh[None], p)[0])
                        ells.append(ell)
                raw = self.vae.encode(torch.cat(imgs))
                parts.append(self.spec.process_in(raw.double())[..., self.cols(p)])
                blocks.append(_blocks(self.half(self.vae.decode(raw), p)).reshape(len(imgs), -1).double())
            self.parts.append(torch.cat(parts))
            self.alpha.append(torch.stack(alphas))
            self.shadow.append(torch.stack(shadows))
            self.blocks.append(torch.cat(blocks))
        self.targets = {k: target_image(k) for k in self.classes}
        self.views = [PlaceView(self, p) for p in range(len(PLACES))]

    @staticmethod
    def cols(place: int) -> slice:
        """The latent columns of a place's half."""
        n = SCENE // 8
        return slice(place * n, (place + 1) * n)

    @staticmethod
    def half(t: torch.Tensor, place: int) -> torch.Tensor:
        """The place's half of a [B, H, WIDE, …] picture / mask (or [B, H, WIDE])."""
        dim = 2
        return t.narrow(dim, place * SCENE, SCENE)
