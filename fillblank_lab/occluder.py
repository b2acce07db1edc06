"""The evidence world with something standing in front of the place: a post or a table edge.

Pure torch (no ComfyUI import); ``benchmarks/evidence_behind.py`` runs it through the real nodes.

The scene of :mod:`fillblank_lab.evidence` with an occluder drawn over it in front of the place: a
``post`` (a vertical bar 8 px wide at x 70–78, over the right part of the place; it straddles two
latent columns, so two cells are partly covered) or a table ``edge`` (a horizontal band 10 px high at
y 74–84, over the lower part of the place); ``none`` is the plain world. The model's data show every
object *behind* it: the object with its shadow under the scene's light, then the occluder drawn over
both (it stands in front: the object's shadow does not fall on it). The occluder has a texture
(a grain and a shading across it), so that a repainted occluder is seen. Its coverage is exactly 0 or
1 per pixel, the ``in_front`` MASK a user paints.
"""

from __future__ import annotations

import torch

from fillblank_lab import evidence as E

OCCLUDERS = ("post", "edge", "none")
POST_X = (70, 78)           # px: the post's columns
EDGE_Y = (74, 84)           # px: the table edge's rows
COLOURS = {"post": (0.36, 0.24, 0.14), "edge": (0.62, 0.50, 0.36)}


def occluder_alpha(kind: str, h: int = E.SCENE, w: int = E.SCENE) -> torch.Tensor:
    """[H, W] 0/1: the pixels the occluder covers (what ``in_front`` is)."""
    a = torch.zeros(h, w)
    if kind == "post":
        a[:, POST_X[0]:POST_X[1]] = 1.0
    elif kind == "edge":
        a[EDGE_Y[0]:EDGE_Y[1], :] = 1.0
    elif kind != "none":
        raise ValueError(f"unknown occluder {kind!r}; one of {OCCLUDERS}")
    return a


def occluder_picture(kind: str, light_name: str, h: int = E.SCENE, w: int = E.SCENE) -> torch.Tensor:
    """[H, W, 3]: the occluder's colours under the light (drawn where ``occluder_alpha`` is 1)."""
    if kind == "none":
        return torch.zeros(h, w, 3)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    across = (xx * w - POST_X[0]) / (POST_X[1] - POST_X[0]) if kind == "post" else \
        (yy * h - EDGE_Y[0]) / (EDGE_Y[1] - EDGE_Y[0])
    grain = 0.04 * torch.sin(23 * (yy if kind == "post" else xx) * 6.283)
    shade = 1.0 - 0.25 * (across - 0.5).abs()
    base = torch.tensor(COLOURS[kind])
    return E.light((base * shade[..., None] + grain[..., None]).clamp(0, 1), light_name)


def with_occluder(img: torch.Tensor, kind: str, light_name: str) -> torch.Tensor:
    """[1, H, W, 3] picture with the occluder drawn over it (in front of everything)."""
    a = occluder_alpha(kind, img.shape[1], img.shape[2])[..., None]
    return img * (1 - a) + occluder_picture(kind, light_name, img.shape[1], img.shape[2]) * a


class OccluderWorld(E.EvidenceWorld):
    """:class:`fillblank_lab.evidence.EvidenceWorld` whose scenes and data have ``occluder`` standing in
    front of the place (``keys``, targets, metrics as there). ``alpha`` and ``shadow`` are the visible
    parts (the occluder's pixels taken out); ``front`` [1, H, W] is the in_front MASK of the scene."""

    def __init__(self, fmt: str = "sd15", occluder: str = "post", classes: tuple[str, ...] | None = None):
        self.occluder = occluder
        self._occ = occluder_alpha(occluder)
        self.front = self._occ[None].clone()
        super().__init__(fmt, classes, shadow="contact")

    def _dress(self, img, alpha, shadow, light_name):
        """The occluder drawn over every picture; the object's alpha and shadow only where it shows."""
        seen = 1 - self._occ
        return (with_occluder(img, self.occluder, light_name), None if alpha is None else alpha * seen,
                None if shadow is None else shadow * seen)

    def occluder_changed(self, image: torch.Tensor, light_name: str) -> int:
        """How many occluder pixels of the final IMAGE [1, H, W, 3] differ from the scene's (exactly)."""
        occ = self.front[0] > 0
        return int(((image[0] != self.scenes[light_name][0]).any(-1) & occ).sum())

    def occluder_error(self, image: torch.Tensor, light_name: str) -> float:
        """Mean |difference| from the scene over the occluder's pixels, in 8-bit levels (0 = intact)."""
        occ = self.front[0] > 0
        if not bool(occ.any()):
            return 0.0
        return float((image[0] - self.scenes[light_name][0]).abs()[occ].mean()) * 255.0
