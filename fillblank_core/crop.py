"""Crop & stitch: work on the region around the hole at the model's own resolution.

Artists insert objects into photographs of 2–24 megapixels; models work at about one megapixel.
So: plan a crop box around the hole (and the placed target's silhouette) with some context,
resize that crop to a *working size* that the VAE accepts, inpaint there, and stitch the result
back into the original full-resolution scene, changing only the feathered hole.

    plan = plan_crop(scene, hole, silhouette, context=0.25, working_size=1024)
    work = crop_inputs(plan, scene, hole, target_image, silhouette)   # all at plan.working_size
    ... sample at working size, decode -> generated ...
    out = stitch(plan, scene, generated, hole, feather=8)             # full scene size

Conventions: IMAGE [B,H,W,C] float 0..1, MASK [B,H,W] (or [H,W]) float with 1 = repaint/object,
as in ComfyUI. Boxes are (x0, y0, x1, y1), half-open, in scene pixels. Sizes called ``*_size``
are (width, height); sizes called ``*_hw`` are (height, width) as torch wants them. Continuous
coordinates put pixel i on [i, i+1), so pixel centres are at i + 0.5 (``align_corners=False``).

Rules (the choices this module makes):

* Content: every pixel > 0 of the hole or the silhouette, over all batch elements — one box for
  the whole batch, because a ComfyUI batch shares one latent size. Disjoint holes get one box
  covering all of them. The hole (or silhouette) may also be a box (x0, y0, x1, y1), e.g. from a
  BOUNDING_BOX widget. An all-zero MASK of any size (LoadImage's 64x64 placeholder) is no mask.
* Context: each side of the content's bounding box is extended by
  ``ceil(context * longest side of the content) + context_px`` pixels, clipped to the image.
  Keep ``context_px`` at least the stitch's ``feather`` (both default to 8) so the feather fits
  inside the box; where it does not, the feather is cut at the box's edge.
* Working size: ``working_size`` as an int is the longest side, the aspect following the
  context box; as (width, height) it is a fixed size. Each side is snapped to the nearest multiple of
  ``vae_factor`` (at least one factor); its range (at least 64 px) is the node's check.
* Aspect: the box is grown (about the content's centre, then shifted to lie inside the image) to
  the working size's aspect, so the resize does not stretch pixels. Where the image is too small
  for that (the box would have to leave it), the box is clamped to the image and the working size
  follows the box's aspect instead, on the same scale: the working size is then smaller than
  asked on the clamped side. Either way width and height scale alike to within one VAE cell of
  the working size (or one scene pixel, where that is larger: the box is whole pixels). A very
  thin hole can make the short working side a single VAE cell.
* Scale: working / box. Large holes are downscaled (scale < 1). Small holes are upscaled, but at
  most ``max_upscale`` times (default 4): beyond that the box grows (more context) instead, so a
  10 px hole is not blown up into a blurry 1024 px crop. When even the whole image is too small
  for that, the working size shrinks to keep the cap (down to one VAE cell per side).
* Pixels are resampled with bicubic (Keys a = -0.5, as PIL) with antialiasing: when shrinking the
  filter widens with the factor (an area-weighted filter, no aliasing), when enlarging it is plain
  bicubic. The result is clamped to [0, 1]. Never nearest. Same size: an exact copy.
* Masks are resampled by *cover max*: an output pixel takes the largest value of every input
  pixel its footprint overlaps (even partly). The hole therefore never shrinks: every output pixel
  touched by the hole is > 0 and at least its area coverage; the hole grows by less than one
  output pixel on each side. The same rule maps working masks back to the scene (:func:`mask_to_scene`), so a round
  trip covers the original hole. Silhouettes are resized the same way.
* Stitch: the generated crop is resized to the box and blended into the original scene inside
  the hole feathered outward by ``feather`` scene pixels (the pack's :func:`composite.composite`
  on the box region, with its optional colour matching). Outside the feathered hole the output is
  the scene's own values, bit for bit. Hole pixels outside the box stay the scene's.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from . import masks as M
from .ranges import DEFAULT_WORKING_SIZE


Box = tuple[int, int, int, int]


# --- the plan ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CropPlan:
    """Where to crop and at what size to work.

    scene_hw: the full scene's (height, width); box: the crop (x0, y0, x1, y1) in scene pixels,
    half-open, inside the scene; working_size: (width, height) of the crop as the model sees it,
    multiples of ``vae_factor``; capped: True when the upscale cap made the box larger than the
    context alone needed (or the working size smaller than asked).
    """
    scene_hw: tuple[int, int]
    box: Box
    working_size: tuple[int, int]
    vae_factor: int = 8
    capped: bool = False

    @property
    def box_size(self) -> tuple[int, int]:
        """(width, height) of the crop box in scene pixels."""
        x0, y0, x1, y1 = self.box
        return x1 - x0, y1 - y0

    @property
    def box_hw(self) -> tuple[int, int]:
        w, h = self.box_size
        return h, w

    @property
    def working_hw(self) -> tuple[int, int]:
        """(height, width) of the working size, for torch."""
        return self.working_size[1], self.working_size[0]

    @property
    def scale_x(self) -> float:
        """Working pixels per scene pixel, horizontally."""
        return self.working_size[0] / self.box_size[0]

    @property
    def scale_y(self) -> float:
        return self.working_size[1] / self.box_size[1]

    @property
    def scale(self) -> float:
        """Working pixels per scene pixel (the mean of both axes; they agree to within one VAE
        cell over the working size). > 1: the crop is enlarged, < 1: reduced."""
        return 0.5 * (self.scale_x + self.scale_y)

    def to_scene(self, x, y):
        """Working coordinates -> scene coordinates (continuous; numbers, arrays or tensors)."""
        return self.box[0] + x / self.scale_x, self.box[1] + y / self.scale_y

    def to_working(self, x, y):
        """Scene coordinates -> working coordinates (continuous)."""
        return (x - self.box[0]) * self.scale_x, (y - self.box[1]) * self.scale_y

    def box_to_scene(self, box) -> Box:
        """A box in working pixels -> the smallest box of whole scene pixels that covers it,
        clipped to the crop box."""
        x0, y0 = self.to_scene(box[0], box[1])
        x1, y1 = self.to_scene(box[2], box[3])
        bx0, by0, bx1, by1 = self.box
        return (max(bx0, math.floor(x0 + 1e-9)), max(by0, math.floor(y0 + 1e-9)),
                min(bx1, math.ceil(x1 - 1e-9)), min(by1, math.ceil(y1 - 1e-9)))

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(scale=self.scale, scale_x=self.scale_x, scale_y=self.scale_y)
        return d


def _snap(v: float, f: int) -> int:
    """Nearest multiple of f, at least f."""
    return max(f, int(math.floor(v / f + 0.5)) * f)


def _scene_hw(scene) -> tuple[int, int]:
    if isinstance(scene, torch.Tensor):
        if scene.ndim not in (3, 4):
            raise ValueError(f"scene must be an IMAGE [batch, height, width, channels] or a (height, width) "
                             f"pair, got a tensor of shape {tuple(scene.shape)}")
        H, W = int(scene.shape[-3]), int(scene.shape[-2])
    else:
        try:
            H, W = (int(v) for v in scene)
        except (TypeError, ValueError):
            raise ValueError(f"scene must be an IMAGE tensor or a (height, width) pair, got {scene!r}") from None
    if H < 1 or W < 1:
        raise ValueError(f"scene must be at least 1x1 px, got {W}x{H}")
    return H, W


def _scene_mask(mask, name: str, H: int, W: int) -> torch.Tensor | None:
    """[B,1,H,W] float mask of the scene's size, or None for no mask / an all-zero one of any size
    (LoadImage's 64x64 placeholder). A non-empty mask of another size is an error."""
    if mask is None:
        return None
    m = M.mask_b1hw(mask, name)
    M.check_finite(m, name)
    if not bool((m > 0).any()):
        return None
    h, w = m.shape[-2:]
    if (h, w) != (H, W):
        raise ValueError(f"{name} is {w}x{h} but scene is {W}x{H}; they must be the same size")
    return m


def _extent(region, name: str, H: int, W: int) -> Box | None:
    """Bounding box (clipped to the scene) of a MASK's pixels > 0 over the whole batch, or of a
    box (x0, y0, x1, y1) given directly; None when empty."""
    if region is None:
        return None
    if not isinstance(region, torch.Tensor):
        try:
            x0, y0, x1, y1 = (float(v) for v in region)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a MASK [batch, height, width] or a box (x0, y0, x1, y1), "
                             f"got {region!r}") from None
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"{name} box {region!r} is empty; expected x0 < x1 and y0 < y1 (scene pixels)")
        bx0, by0 = max(0, math.floor(x0)), max(0, math.floor(y0))
        bx1, by1 = min(W, math.ceil(x1)), min(H, math.ceil(y1))
        if bx1 <= bx0 or by1 <= by0:
            raise ValueError(f"{name} box {region!r} lies entirely outside the {W}x{H} scene; "
                             f"expected a box overlapping 0..{W} x 0..{H}")
        return bx0, by0, bx1, by1
    m = _scene_mask(region, name, H, W)
    return None if m is None else M.mask_box(m)


def _requested(working_size, f: int):
    """("longest", side) for a number, ("fixed", (w, h)) for a (width, height) pair, snapped to f.
    The value's range is the node's to check (ranges.WORKING_SIZE)."""
    if working_size is None:
        working_size = DEFAULT_WORKING_SIZE
    if isinstance(working_size, numbers.Real) and not isinstance(working_size, bool):
        return "longest", _snap(float(working_size), f)
    try:
        ww, wh = (float(v) for v in working_size)
    except (TypeError, ValueError):
        raise ValueError(f"working_size must be the longest side in px or a (width, height) pair, "
                         f"got {working_size!r}") from None
    return "fixed", (_snap(ww, f), _snap(wh, f))


def plan_crop(scene, hole=None, silhouette=None, *, context: float = 0.25, context_px: int = 8,
              working_size=None, vae_factor: int = 8,
              max_upscale: float = 4.0) -> CropPlan:
    """Plan the crop around ``hole`` ∪ ``silhouette`` (see the module's rules).

    scene: the scene IMAGE (only its size is used) or its (height, width). hole, silhouette:
    MASKs of the scene's size (1 = repaint / object; any value > 0 counts), or boxes
    (x0, y0, x1, y1) in scene pixels; at least one must be non-empty. context: margin as a
    fraction of the content's longest side, plus context_px pixels, on each side.
    working_size: longest side in px (default ranges.DEFAULT_WORKING_SIZE) or (width, height).
    User values (context, working_size) are checked by the node (ranges), not here.
    vae_factor: the working size is a multiple of it. max_upscale: the largest scale (>= 1).
    """
    H, W = _scene_hw(scene)
    try:
        f = int(vae_factor)
    except (TypeError, ValueError):
        f = 0
    if f < 1 or f != vae_factor:
        raise ValueError(f"vae_factor must be a positive integer (8 for SD/SDXL/SD3/Flux VAEs), got {vae_factor!r}")
    context = float(context)
    if int(context_px) != context_px or context_px < 0:
        raise ValueError(f"context_px must be a whole number of pixels >= 0, got {context_px!r}")
    context_px = int(context_px)
    max_upscale = float(max_upscale)
    if not (max_upscale >= 1.0):
        raise ValueError(f"max_upscale must be >= 1 (1 = never enlarge the crop), got {max_upscale:g}")
    kind, req = _requested(working_size, f)

    found = [b for b in (_extent(hole, "hole", H, W), _extent(silhouette, "silhouette", H, W)) if b is not None]
    if not found:
        raise ValueError("hole is empty (and so is the silhouette): nothing to inpaint; expected a MASK of the "
                         "scene's size with 1 where to repaint, or a box (x0, y0, x1, y1) inside the scene")
    cx0, cy0 = min(b[0] for b in found), min(b[1] for b in found)
    cx1, cy1 = max(b[2] for b in found), max(b[3] for b in found)

    # the box the content and its context need, clipped to the image
    margin = math.ceil(context * max(cx1 - cx0, cy1 - cy0) - 1e-9) + context_px
    nx0, ny0, nx1, ny1 = max(0, cx0 - margin), max(0, cy0 - margin), min(W, cx1 + margin), min(H, cy1 + margin)
    nw, nh = nx1 - nx0, ny1 - ny0

    # the working size asked for, at the needed box's aspect unless fixed
    if kind == "fixed":
        ww, wh = req
    else:
        ww, wh = (req, _snap(req * nh / nw, f)) if nw >= nh else (_snap(req * nw / nh, f), req)

    # one scale for both axes: the box holds the needed box in both and has the working aspect
    s = min(ww / nw, wh / nh)
    capped = s > max_upscale
    s = min(s, max_upscale)
    want_w, want_h = math.ceil(ww / s - 1e-9), math.ceil(wh / s - 1e-9)
    bw, bh = min(W, max(nw, want_w)), min(H, max(nh, want_h))

    def clamped_side(b: int) -> int:
        # the box was clamped by the image: the working side follows the box on the same scale
        w = _snap(b * s, f)
        if w > b * max_upscale + 1e-9 and w > f:
            w -= f
        return w

    if bw < want_w:
        ww = clamped_side(bw)
    if bh < want_h:
        wh = clamped_side(bh)

    def place(c0: int, c1: int, n0: int, n1: int, b: int, size: int) -> int:
        lo, hi = max(0, n1 - b), min(n0, size - b)
        return min(max(int(math.floor((c0 + c1 - b) / 2.0 + 0.5)), lo), hi)

    x0 = place(cx0, cx1, nx0, nx1, bw, W)
    y0 = place(cy0, cy1, ny0, ny1, bh, H)
    return CropPlan((H, W), (x0, y0, x0 + bw, y0 + bh), (int(ww), int(wh)), f, bool(capped))


# --- resampling -------------------------------------------------------------------------------

def resize_pixels(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """[B,C,h,w] -> [B,C,H,W]: bicubic with antialiasing (area-weighted when shrinking), clamped
    to [0, 1]. Same size: a copy. Always a new tensor."""
    hw = (int(hw[0]), int(hw[1]))
    if tuple(x.shape[-2:]) == hw:
        return x.clone()
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    out = F.interpolate(work, size=hw, mode="bicubic", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0).to(x.dtype)


def _cover_index(n_in: int, n_out: int, device) -> torch.Tensor:
    """[n_out, K] indices of the input pixels each output pixel's footprint overlaps (rows padded
    by repeating their last index). Output pixel j covers [j*n_in/n_out, (j+1)*n_in/n_out)."""
    j = torch.arange(n_out, device=device, dtype=torch.int64)
    start = (j * n_in) // n_out
    end = -((-(j + 1) * n_in) // n_out)  # ceil, exclusive
    k = int((end - start).max())
    idx = start[:, None] + torch.arange(k, device=device, dtype=torch.int64)[None]
    return torch.minimum(idx, (end - 1)[:, None])


def resize_mask_cover(mask: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """[B,1,h,w] -> [B,1,H,W] by cover max: each output pixel takes the largest value among the
    input pixels its footprint overlaps. Never shrinks a hole. Always a new tensor."""
    out = mask
    for dim, size in ((-1, int(hw[1])), (-2, int(hw[0]))):
        if out.shape[dim] != size:
            idx = _cover_index(out.shape[dim], size, out.device)
            src, out = out, out.index_select(dim, idx[:, 0])
            for k in range(1, idx.shape[1]):  # one slice at a time: no stack of copies
                out = torch.maximum(out, src.index_select(dim, idx[:, k]))
    return out.clone() if out is mask else out


# --- crop -------------------------------------------------------------------------------------

def check_scene_size(plan: CropPlan, hw, name: str) -> None:
    H, W = plan.scene_hw
    if tuple(int(v) for v in hw) != (H, W):
        raise ValueError(f"{name} is {hw[1]}x{hw[0]} but the plan's scene is {W}x{H}; they must be the same size")


def crop_image(plan: CropPlan, image: torch.Tensor, name: str = "image") -> torch.Tensor:
    """IMAGE [B,H,W,C] of the scene's size -> the crop box at the working size [B,h,w,C]."""
    x = M.to_bchw(image, name)
    check_scene_size(plan, x.shape[-2:], name)
    x0, y0, x1, y1 = plan.box
    return M.to_bhwc(resize_pixels(x[..., y0:y1, x0:x1], plan.working_hw))


def crop_mask(plan: CropPlan, mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """MASK [B,H,W] of the scene's size -> the crop box at the working size [B,h,w] (cover max:
    the hole never shrinks). An all-zero mask of any size gives zeros."""
    m = M.mask_b1hw(mask, name)
    if not bool((m > 0).any()):
        return torch.zeros(m.shape[0], *plan.working_hw, dtype=m.dtype, device=m.device)
    check_scene_size(plan, m.shape[-2:], name)
    x0, y0, x1, y1 = plan.box
    return resize_mask_cover(m[..., y0:y1, x0:x1], plan.working_hw)[:, 0].clamp_(0.0, 1.0)


def mask_to_scene(plan: CropPlan, mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """MASK [B,h,w] at the working size -> [B,H,W] at the scene's size (cover max; zero outside
    the box). The round trip crop_mask -> mask_to_scene covers the original hole."""
    m = M.mask_b1hw(mask, name)
    if tuple(m.shape[-2:]) != plan.working_hw:
        raise ValueError(f"{name} is {m.shape[-1]}x{m.shape[-2]} but the plan's working size is "
                         f"{plan.working_size[0]}x{plan.working_size[1]}")
    H, W = plan.scene_hw
    x0, y0, x1, y1 = plan.box
    out = torch.zeros(m.shape[0], H, W, dtype=m.dtype, device=m.device)
    out[:, y0:y1, x0:x1] = resize_mask_cover(m, plan.box_hw)[:, 0]
    return out


@dataclass
class CroppedInputs:
    """The inputs at the working size (None where not given): scene and target [B,h,w,C],
    hole and silhouette [B,h,w]."""
    scene: torch.Tensor
    hole: torch.Tensor | None = None
    target: torch.Tensor | None = None
    silhouette: torch.Tensor | None = None


def crop_inputs(plan: CropPlan, scene: torch.Tensor, hole=None, target=None, silhouette=None) -> CroppedInputs:
    """Crop and resize the scene, hole, placed target image and silhouette to the working size."""
    return CroppedInputs(
        scene=crop_image(plan, scene, "scene"),
        hole=None if hole is None else crop_mask(plan, hole, "hole"),
        target=None if target is None else crop_image(plan, target, "target"),
        silhouette=None if silhouette is None else crop_mask(plan, silhouette, "silhouette"),
    )
