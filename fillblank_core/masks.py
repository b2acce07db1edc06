"""Masks: the one place for ComfyUI image/mask layout conversion, bounding boxes and dilation.

ComfyUI: IMAGE is [B,H,W,C] float 0..1; MASK is [B,H,W] (or [H,W]) float, 1 = repaint.
Internally we work in [B,C,H,W] / [B,1,H,W]. LoadImage's MASK is 1 where the PNG is transparent,
so a target's object is ``1 - mask``. Every module of the core converts layouts (``to_bchw``,
``image_bhwc``, ``mask_b1hw``, ``mask_hw`` …), finds boxes (``mask_box``) and grows masks
(``grow``) with the functions here.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


# --- layouts ----------------------------------------------------------------------------------

def to_bchw(image: torch.Tensor, name: str = "image") -> torch.Tensor:
    """[B,H,W,C] (or [H,W,C]) ComfyUI IMAGE -> [B,C,H,W]."""
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4:
        raise ValueError(f"{name} must be an IMAGE tensor [batch, height, width, channels], got shape {tuple(image.shape)}")
    return image.permute(0, 3, 1, 2)


def to_bhwc(image: torch.Tensor) -> torch.Tensor:
    """[B,C,H,W] -> [B,H,W,C] (contiguous, as ComfyUI nodes expect)."""
    return image.permute(0, 2, 3, 1).contiguous()


def _tensor(value) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))


def image_bhwc(images, name: str = "image", channels=(1, 3, 4)) -> torch.Tensor:
    """An IMAGE (tensor or array, [B,H,W,C] or [H,W,C]) as [B,H,W,C], detached, not copied."""
    t = _tensor(images)
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[-1] not in channels:
        raise ValueError(f"{name} must be an IMAGE [batch, height, width, channels], got shape {tuple(t.shape)}")
    return t.detach()


def single_image_hwc(image, name: str = "image") -> torch.Tensor:
    """One image ([H,W,C] or a batch of one) as float32 [H,W,3|4] on the CPU; grey is made RGB."""
    t = _tensor(image)
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ValueError(f"{name} must be a single image, got a batch of {t.shape[0]}")
        t = t[0]
    if t.ndim != 3 or t.shape[-1] not in (1, 3, 4):
        raise ValueError(f"{name} must be an IMAGE [height, width, channels], got shape {tuple(t.shape)}")
    t = t.detach().to("cpu", torch.float32)
    return t.expand(*t.shape[:2], 3) if t.shape[-1] == 1 else t


def mask_hw(mask, name: str = "mask", first: bool = False) -> torch.Tensor:
    """One MASK as float32 [H,W] on the CPU (no copy when it already is). Leading dimensions must
    be 1, or with ``first`` the first item of a batch is taken."""
    t = _tensor(mask).detach().to("cpu", torch.float32)
    while t.ndim > 2 and (first or t.shape[0] == 1):
        t = t[0]
    if t.ndim != 2:
        raise ValueError(f"{name} must be a single MASK [height, width], got shape {tuple(_tensor(mask).shape)}")
    return t


def mask_b1hw(mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """[H,W], [B,H,W] or [B,1,H,W] -> [B,1,H,W] float."""
    if mask.ndim == 2:
        mask = mask[None, None]
    elif mask.ndim == 3:
        mask = mask[:, None]
    elif mask.ndim != 4 or mask.shape[1] != 1:
        raise ValueError(f"{name} must be a MASK [batch, height, width], got shape {tuple(mask.shape)}")
    return mask.float()


def mask_bhw(mask: torch.Tensor) -> torch.Tensor:
    """[B,1,H,W] (or anything mask_b1hw accepts) -> [B,H,W] as ComfyUI's MASK."""
    return mask_b1hw(mask)[:, 0].contiguous()


def check_finite(t: torch.Tensor, name: str, chunk: int = 1 << 22) -> None:
    """Error if ``t`` holds a NaN or an infinity. Reads it in slices of at most ``chunk`` elements
    (any memory layout), so a big image costs no full-size temporary."""
    if t.ndim == 0 or t.numel() <= chunk:
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
        return
    per = t.numel() // t.shape[0]
    step = max(1, chunk // max(per, 1))
    for i in range(0, t.shape[0], step):
        part = t[i:i + step]
        check_finite(part[0] if step == 1 else part, name, chunk)


# --- batches ----------------------------------------------------------------------------------

def broadcast_batch(*, result: str | None = None, **sizes: int | None) -> int:
    """The batch rule of every node (README "Batches"); returns the common batch N.

    ``sizes``: the batch size of each batched input, by the input's name (None: not connected,
    ignored). An empty batch (0) is an error naming the input. Every batch is 1 or N: an input
    with batch 1 is shared by all N items, one with batch N gives one per item; anything else is
    an error naming both inputs. ``result`` names the input whose batch is the number of results
    (a sampler's latent, Rank's images): it is never repeated, so the others must have batch 1
    or its batch.
    """
    known = {name: int(n) for name, n in sizes.items() if n is not None}
    for name, n in known.items():
        if n <= 0:
            raise ValueError(f"{name} is an empty batch (batch size {n}): there is nothing to work on. "
                             f"Give {name} at least one item; check the node that feeds it (a batch "
                             "split, filter or loader that produced nothing)")
    if result is not None:
        n = known[result]
        for name, b in known.items():
            if b not in (1, n):
                allowed = "batch 1 too" if n == 1 else f"batch 1 (one shared by all) or {n} (one per item)"
                repeat = "Repeat Latent Batch" if "latent" in result else "Repeat Image Batch"
                raise ValueError(f"{name} has batch {b} but {result} has batch {n}: {name} must have {allowed}. "
                                 f"The batch of {result} is the number of results and is never repeated: give "
                                 f"{name} batch 1" + (f" or {n}" if n > 1 else "")
                                 + f", or give {result} a batch of {b} (e.g. {repeat})")
        return n
    n = max(known.values(), default=1)
    big = [(name, b) for name, b in known.items() if b != 1]
    for name, b in big:
        if b != big[0][1]:
            (a, na) = big[0]
            raise ValueError(f"{a} has batch {na} and {name} has batch {b}; they must be equal or one of "
                             f"them 1 (a batch of 1 is shared by all items): give both the same batch, "
                             "or one of them batch 1")
    return n


def batch_size(a: int, b: int, name_a: str, name_b: str) -> int:
    """Common batch of two inputs (``broadcast_batch`` for two)."""
    if name_a == name_b:
        name_b = name_b + " (second)"
    return broadcast_batch(**{name_a: a, name_b: b})


def repeat_batch(t: torch.Tensor, b: int) -> torch.Tensor:
    return t if t.shape[0] == b else t.expand(b, *t.shape[1:])


# --- morphology -------------------------------------------------------------------------------

def grow(mask: torch.Tensor, px: int, box: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """Grow (px > 0) or shrink (px < 0) a [B,1,H,W] mask by |px| pixels (square neighbourhood; the
    image edge does not shrink it). Growing works only around the mask's pixels > 0 (``box``: their
    ``mask_box`` when known) and separably, rows then columns: the cost of the grown box, not of
    the whole image times (2 px + 1)². px = 0: the mask itself; otherwise a new tensor."""
    px = int(px)
    if px == 0:
        return mask
    k = 2 * abs(px) + 1
    if px < 0:
        return 1.0 - F.max_pool2d(1.0 - mask, k, stride=1, padding=-px)
    box = mask_box(mask) if box is None else box
    if box is None:
        return mask.clone()
    H, W = mask.shape[-2:]
    x0, y0 = max(0, box[0] - px), max(0, box[1] - px)
    x1, y1 = min(W, box[2] + px), min(H, box[3] + px)
    g = F.max_pool2d(mask[..., y0:y1, x0:x1], (1, k), stride=1, padding=(0, px))
    g = F.max_pool2d(g, (k, 1), stride=1, padding=(px, 0))
    out = torch.zeros_like(mask)
    out[..., y0:y1, x0:x1] = g
    return out


def _gauss_kernel(radius: int, device, dtype) -> torch.Tensor:
    sigma = max(radius / 2.0, 0.5)
    xs = torch.arange(-radius, radius + 1, device=device, dtype=torch.float64)
    k = torch.exp(-0.5 * (xs / sigma) ** 2)
    return (k / k.sum()).to(dtype)


def blur(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Separable Gaussian (sigma = radius/2) truncated at ``radius``: exactly 0 farther away."""
    radius = int(radius)
    if radius <= 0:
        return mask
    c = mask.shape[1]
    k = _gauss_kernel(radius, mask.device, mask.dtype)
    x = F.pad(mask, (radius, radius, 0, 0), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    x = F.pad(x, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def feather(mask: torch.Tensor, px: int) -> torch.Tensor:
    """Soft edge outward over ``px`` pixels; the mask's own area stays as it was (1 stays 1)."""
    if int(px) <= 0:
        return mask
    return torch.maximum(mask, blur(mask, int(px)).clamp(0.0, 1.0))


def threshold(mask: torch.Tensor, t: float) -> torch.Tensor:
    """Binary mask: 1 where mask > t. t = 0 keeps any touched pixel."""
    return (mask > float(t)).to(mask.dtype)


def bbox_mask(mask: torch.Tensor) -> torch.Tensor:
    """Each batch item's mask replaced by its filled bounding box."""
    out = torch.zeros_like(mask)
    for i in range(mask.shape[0]):
        box = mask_box(mask[i, 0])
        if box is not None:
            x0, y0, x1, y1 = box
            out[i, 0, y0:y1, x0:x1] = 1.0
    return out


def union(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.maximum(a, b)


# --- work on the region where a mask is -------------------------------------------------------

def mask_box(mask: torch.Tensor, pad: int = 0, above: float = 0.0,
             within: tuple[int, int, int, int] | None = None) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) half-open box of the pixels above ``above`` in any item of a mask
    [..., H, W], grown by ``pad`` and clipped to the image; None when there are none. ``within``:
    look only inside that box (the result is in the whole image's pixels).
    Reads the mask with reductions only (no full-size temporary)."""
    H, W = mask.shape[-2:]
    ox, oy = 0, 0
    if within is not None:
        ox, oy = int(within[0]), int(within[1])
        mask = mask[..., oy:int(within[3]), ox:int(within[2])]
    h, w = mask.shape[-2:]
    if mask.numel() == 0:
        return None
    m = mask.reshape(-1, h, w)
    rows = torch.nonzero(m.amax(dim=(0, 2)) > above).flatten()
    if rows.numel() == 0:
        return None
    cols = torch.nonzero(m.amax(dim=(0, 1)) > above).flatten()
    pad = max(0, int(pad))
    return (max(0, ox + int(cols[0]) - pad), max(0, oy + int(rows[0]) - pad),
            min(W, ox + int(cols[-1]) + 1 + pad), min(H, oy + int(rows[-1]) + 1 + pad))


def _largest_shrink(mask: torch.Tensor, limit: int) -> int:
    """The largest k <= limit for which shrinking a non-empty [1,1,h,w] mask by k leaves something."""
    lo, hi = 0, int(limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if bool((grow(mask, -mid) > 0).any()):
            lo = mid
        else:
            hi = mid - 1
    return lo


def refine_hole(parts: dict, threshold_value: float | None = 0.0, box: bool = False, grow_px: int = 0,
                feather_px: int = 0, what: str = "the hole", batch: int | None = None
                ) -> tuple[torch.Tensor, tuple | None]:
    """The hole [N,1,H,W] from named masks ``parts`` {input name: [B,1,H,W]} (batches 1 or N):
    each thresholded (``threshold_value``; None: as they are), united, optionally replaced by its
    bounding box, grown / shrunk by ``grow_px`` and feathered outward by ``feather_px``.

    Works on the union's bounding box with a margin of grow + feather + 1 px, which gives the
    values of doing it on the whole image (see ``grow`` / ``feather``: beyond the margin
    everything is 0, and at the margin the padding sees the zeros it would see). An item that
    comes out empty is an error that says why (empty input, threshold, shrink) and what to do.
    ``batch``: the node's common batch N when other inputs have one (the mask is given N items).
    Returns (mask, box of the region that can be non-zero, or None)."""
    names = list(parts)
    n = broadcast_batch(**{k: parts[k].shape[0] for k in names}, **({"batch": batch} if batch else {}))
    H, W = parts[names[0]].shape[-2:]
    t = float(threshold_value) if threshold_value is not None else None
    boxes = [b for b in (mask_box(p, 0, t if t is not None else 0.0) for p in parts.values()) if b is not None]
    region = None if not boxes else (min(b[0] for b in boxes), min(b[1] for b in boxes),
                                     max(b[2] for b in boxes), max(b[3] for b in boxes))
    joined = " and ".join(names)
    if region is None:
        raw = max(float(p.max()) if p.numel() else 0.0 for p in parts.values())
        if t is not None and t > 0 and raw > 0:
            raise ValueError(f"threshold {t:g} leaves nothing of {joined} (its largest value is {raw:g}): "
                             f"lower threshold below {raw:g}")
        raise ValueError(f"{joined} {'is' if len(names) == 1 else 'are'} empty: nothing to repaint. Draw "
                         "the region to repaint (e.g. in LoadImage's mask editor) or use another mode")
    pad = max(int(grow_px), 0) + max(int(feather_px), 0) + 1
    x0, y0, x1, y1 = region[0] - pad, region[1] - pad, region[2] + pad, region[3] + pad
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    m = None
    for p in parts.values():
        c = p[..., y0:y1, x0:x1].float()
        c = threshold(c, t) if t is not None else c
        m = c if m is None else union(m, c)
    m = repeat_batch(m, n)
    if box:
        m = bbox_mask(m)
    for i in range(n):
        if not bool((m[i] > 0).any()):
            raise ValueError(f"{joined} is empty in item {i + 1} of {n}: nothing to repaint there; give "
                             "every item a hole")
    shrunk = grow(m, grow_px)
    for i in range(n):
        if not bool((shrunk[i] > 0).any()):
            k = _largest_shrink(m[i:i + 1], abs(int(grow_px)))
            item = f" (item {i + 1} of {n})" if n > 1 else ""
            raise ValueError(f"grow {int(grow_px)} shrinks {what}{item} to nothing: a shrink of more than {k} px "
                             f"removes all of it. Use grow {-k} or more (0 keeps it as it is)")
    out = torch.zeros(n, 1, H, W, dtype=torch.float32, device=m.device)
    out[..., y0:y1, x0:x1] = feather(shrunk, feather_px).clamp(0.0, 1.0)
    return out, (x0, y0, x1, y1)


def leave_out(mask: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """``mask`` with the pixels of ``keep`` left out: mask·(1 − keep) (same layout, batches 1 or N).

    keep: what stands in front of the object (``in_front``; 1 = kept as it is, exactly): where it is
    1 the result is 0, where it is 0 the mask is unchanged, a soft edge in between scales it. Used
    for every mask that must not reach those pixels (the silhouette, the hole, the shadow zone, a
    feathered composite). keep None: ``mask`` itself. A new tensor otherwise; inputs unchanged."""
    if keep is None:
        return mask
    k = keep.to(device=mask.device, dtype=mask.dtype)
    while k.ndim < mask.ndim:
        k = k.unsqueeze(-3)
    return mask * (1.0 - k.clamp(0.0, 1.0))


def leave_out_checked(mask: torch.Tensor, keep: torch.Tensor | None, message: str) -> torch.Tensor:
    """``leave_out``, and a ValueError(``message``) for an item of ``mask`` that held something and
    holds nothing once ``keep`` is left out. ``message`` may name the item with "{item}" (" (item k
    of n)" for a batch, "" for one)."""
    cut = leave_out(mask, keep)
    if keep is None:
        return mask
    gone = (mask.flatten(1) > 0).any(1) & ~(cut.flatten(1) > 0).any(1)
    if bool(gone.any()):
        n = gone.shape[0]
        raise ValueError(message.format(item=f" (item {int(gone.nonzero()[0]) + 1} of {n})" if n > 1 else ""))
    return cut


def visible_part(mask: torch.Tensor, in_front: torch.Tensor | None) -> torch.Tensor:
    """An object's mask [B,1,h,w] cut by what stands in front of it (``leave_out``); a ValueError
    naming in_front when that hides an item of it entirely (nothing of the object would be seen)."""
    return leave_out_checked(mask, in_front, "in_front{item} covers the whole target where it is placed: nothing "
                             "of it would be visible; in_front must be 1 only on the scene pixels in front of the object")


def overlay(base: torch.Tensor, mask: torch.Tensor, color=(1.0, 0.2, 0.2), alpha: float = 0.6,
            box: tuple | None = None) -> torch.Tensor:
    """A preview IMAGE [N,H,W,3]: ``base`` [B,H,W,3] with ``mask`` [N,1,H,W] tinted in (batches 1
    or N). Only ``box`` (where the mask can be non-zero; default: found) is computed; elsewhere
    the base's values are copied unchanged."""
    n = broadcast_batch(image=base.shape[0], mask=mask.shape[0])
    out = repeat_batch(base, n).clone(memory_format=torch.contiguous_format)
    box = mask_box(mask) if box is None else box
    if box is None:
        return out
    x0, y0, x1, y1 = box
    b = out[:, y0:y1, x0:x1].permute(0, 3, 1, 2)
    m = repeat_batch(mask[..., y0:y1, x0:x1], n).to(b)
    tint = torch.tensor(color, dtype=b.dtype, device=b.device).view(1, 3, 1, 1)
    b.copy_(b * (1.0 - alpha * m) + tint * alpha * m)
    return out


# a pixel counts as part of the object from this coverage on (one step of an 8-bit alpha):
# resampling leaves values far below it at the edges of a placed mask
TOUCH_THRESHOLD = 1.0 / 255.0


PAINT_HINT = ("paint the hole in LoadImage's Mask Editor (right-click the scene → Open in MaskEditor) and "
              "connect that LoadImage's MASK")


def is_placeholder(mask, hw: tuple[int, int] | None) -> bool:
    """LoadImage's MASK when nothing was painted: all zeros and not the scene's size (LoadImage
    gives a 64×64 zero mask for an image without alpha). ``hw``: the scene's size; None when it is
    not known, then only an all-zero 64×64 mask counts."""
    if not isinstance(mask, torch.Tensor) or mask.ndim < 2 or bool((mask != 0).any()):
        return False
    size = tuple(int(v) for v in mask.shape[-2:])
    return size != tuple(int(v) for v in hw) if hw is not None else size == (64, 64)


def touched_latent(mask: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
    """The latent cells an object touches, as a binary [B,1,h,w]: 1 where any pixel of the cell
    (centre-cropped to whole cells, as ComfyUI's VAE encode crops) has coverage ≥ TOUCH_THRESHOLD.

    The guidance rule for the target's silhouette. With a real (non-linear) VAE a partly covered
    cell's latent is not a coverage blend of an "object" and a "background" latent: the target
    latent is the encoding of the pixel composite, and pulling such a cell by its covered fraction
    loses thin parts and small objects. Every touched cell is the object's, at full weight.
    """
    m = mask_b1hw(mask)
    H, W = m.shape[-2:]
    h, w = int(latent_hw[0]), int(latent_hw[1])
    f = max(1, H // h)
    oy, ox = (H - f * h) // 2, (W - f * w) // 2
    return (F.max_pool2d(m[..., oy:oy + f * h, ox:ox + f * w], f) >= TOUCH_THRESHOLD).float()


def latent_hole(mask: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
    """The repaint rule, one for every chain: the cells of a latent that a hole MASK repaints.

    As ComfyUI resizes a noise mask (Set Latent Noise Mask → sampling), the mask [B,1,H,W] (or
    [B,H,W]) is resized to latent size bilinearly; every cell whose value is above 0 — whose
    centre pixels touch the hole — is repainted fully (1), the rest kept (0). A cell the hole
    only grazes at its edge is kept: grow the hole by half a latent cell (4 px for an 8× VAE;
    Mask Refiner's default grow is 8) and every drawn pixel lies in a repainted cell.
    ``sample_fillblank`` applies the same rule (``repaint_mask``) to the noise mask it gets.
    """
    m = mask_b1hw(mask).float()
    if tuple(m.shape[-2:]) != (int(latent_hw[0]), int(latent_hw[1])):
        m = F.interpolate(m, size=(int(latent_hw[0]), int(latent_hw[1])), mode="bilinear")
    return (m > 0).float()


def resize(t: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a [B,C,H,W] tensor with antialiasing when shrinking."""
    if tuple(t.shape[-2:]) == tuple(hw):
        return t
    shrink = hw[0] < t.shape[-2] or hw[1] < t.shape[-1]
    return F.interpolate(t, size=hw, mode="bilinear", align_corners=False, antialias=shrink)


def smooth_fill(image: torch.Tensor, hole: torch.Tensor, smooth_iters: int = 24) -> torch.Tensor:
    """The hole of ``image`` [B,C,H,W] filled smoothly from its surroundings (the rest unchanged).

    hole: [B|1,1|C,H,W], > 0 = unknown (batch 1 of either broadcasts). Onion peel (each ring of unknown cells takes the mean of
    its known 3×3 neighbours), then ``smooth_iters`` Jacobi sweeps of the 3×3 mean inside the hole
    with the surroundings fixed: a coarse, seamless continuation of the scene — what the hole
    looks like with its old content gone. Used by the sampler's context guidance. Runs once
    before sampling (it reads the hole's extent on the host); never modifies its inputs.
    """
    b = max(image.shape[0], hole.shape[0])
    image = image.expand(b, *image.shape[1:])
    unknown = (hole[:, :1] > 0).to(image.dtype).expand(b, 1, *image.shape[-2:])
    known = 1.0 - unknown
    out = image * known
    kernel = torch.ones(1, 1, 3, 3, dtype=image.dtype, device=image.device)
    c = image.shape[1]

    def box(t):
        return F.conv2d(F.pad(t, (1, 1, 1, 1), mode="replicate"), kernel.expand(t.shape[1], 1, 3, 3),
                        groups=t.shape[1])

    if bool(known.sum() == 0):  # nothing to continue from: leave the image as it is
        return image.clone()
    for _ in range(max(image.shape[-2:])):  # onion peel, at most the longer side in rings
        if not bool((known == 0).any()):
            break
        s, n = box(out), box(known)
        grow = (n > 0) & (known == 0)
        out = torch.where(grow.expand_as(out), s / n.clamp_min(1e-12).expand_as(s), out)
        known = torch.maximum(known, grow.to(known.dtype))
    inside = unknown.expand(-1, c, -1, -1) > 0
    for _ in range(int(smooth_iters)):
        out = torch.where(inside, box(out) / 9.0, out)
    return torch.where(inside, out, image)


# --- connected components ----------------------------------------------------------------------

def _label_runs(mask: np.ndarray, eight: bool) -> tuple[np.ndarray, int]:
    """Connected-component labels without scipy: union-find over the runs of each row."""
    h, w = mask.shape
    labels = np.zeros((h, w), dtype=np.int32)
    parent: list[int] = [0]

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    prev: list[tuple[int, int, int]] = []
    for y in range(h):
        row = mask[y]
        d = np.diff(np.concatenate(([0], row.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)  # [start, end)
        cur = []
        j = 0
        for s, e in zip(starts.tolist(), ends.tolist()):
            lab = len(parent)
            parent.append(lab)
            lo, hi = (s - 1, e + 1) if eight else (s, e)
            while j < len(prev) and prev[j][1] <= lo:
                j += 1
            k = j
            while k < len(prev) and prev[k][0] < hi:
                ra, rb = find(lab), find(prev[k][2])
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
                k += 1
            cur.append((s, e, lab))
            labels[y, s:e] = lab
        prev = cur
    if len(parent) == 1:
        return labels, 0
    roots = np.array([find(i) for i in range(len(parent))])
    uniq, compact = np.unique(roots, return_inverse=True)
    return compact.astype(np.int32)[labels], len(uniq) - 1


def label_components(mask, connectivity: int = 8) -> tuple[np.ndarray, int]:
    """Connected components of a binary [H,W] mask: (labels int32 [H,W], 0 = background, count).
    Uses scipy.ndimage when present (ComfyUI ships it) and a pure-numpy fallback otherwise."""
    m = np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask) > 0.5
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    try:
        from scipy import ndimage
    except ImportError:
        return _label_runs(m, connectivity == 8)
    structure = np.ones((3, 3), bool) if connectivity == 8 else None
    labels, n = ndimage.label(m, structure=structure)
    return labels.astype(np.int32), int(n)


# --- room for the shadow --------------------------------------------------------------------------

SHADOW_MODES = ("none", "contact", "cast")
CONTACT_FRACTION = 0.12  # the contact shadow's height below the base, as a fraction of the object's height


def shadow_zone(silhouette: torch.Tensor, angle: float = 45.0, length: float = 0.5, cast: bool = True,
                contact: float = CONTACT_FRACTION) -> torch.Tensor:
    """Where an object's shadow can fall, [B,1,H,W] binary: the region the hole must include so the
    model may paint the shadow.

    silhouette [B,1,H,W] (> 0 = object; several chained objects are fine: each connected object on
    its own). Contact shadow: a band under the bottom of every vertical run of the object (so an
    object placed above another in the same columns has its own), ``contact`` × the run's height
    deep (at least 2 px; contact 0: none): deepest under the object's middle, thinning toward its
    ends. Cast shadow (``cast``): the object stands on its lowest row (per connected object, so a
    ring's top arc or a table top casts from where the object meets the ground, not from mid-air);
    each pixel h px above it falls on the ground ``length`` × h px from that row toward ``angle``
    (degrees in the image, clockwise from the right: 0 = to the right, 90 = toward the viewer,
    straight down the picture, 180 = to the left, 270 = away, up the picture), the vertical part
    foreshortened by half as the ground recedes; gaps between the cast pixels are closed. The
    objects themselves are not part of the zone (``zone ∪ silhouette`` is the hole they need). Only
    the objects' box and the shadow's reach are computed; an empty silhouette gives an empty zone."""
    m = mask_b1hw(silhouette) > 0
    out = torch.zeros(m.shape, dtype=torch.float32, device=m.device)
    H, W = m.shape[-2:]
    theta = math.radians(float(angle))
    dx, dy = math.cos(theta), 0.5 * math.sin(theta)
    for b in range(m.shape[0]):
        box = mask_box(m[b, 0])
        if box is None:
            continue
        x0, y0, x1, y1 = box
        sub = m[b, 0, y0:y1, x0:x1]
        zone = torch.zeros(H, W, dtype=torch.bool, device=m.device)
        # contact: under every run's bottom end, as deep as contact × the run's length
        ends = sub & ~torch.cat([sub[1:], torch.zeros_like(sub[:1])])
        ey, ex = torch.nonzero(ends, as_tuple=True)
        run_len = torch.where(sub, 1, 0)
        for y in range(1, sub.shape[0]):  # the length of each run down to each pixel
            run_len[y] = torch.where(sub[y], run_len[y - 1] + 1, 0)
        depth = (contact * run_len[ey, ex].float()).ceil().long().clamp(min=2 if contact > 0 else 0)
        for k in range(1, int(depth.max()) + 1 if depth.numel() else 1):
            sel = depth >= k
            yy = (ey[sel] + y0 + k).clamp(max=H - 1)
            zone[yy, ex[sel] + x0] = True
        if cast and float(length) > 0:
            ys, xs = torch.nonzero(sub, as_tuple=True)
            labels, n = label_components(sub, 8)
            lab = torch.from_numpy(labels).to(sub.device).long()[ys, xs]
            lowest = torch.full((n + 1,), -1, dtype=torch.long, device=sub.device).scatter_reduce(
                0, lab, ys, reduce="amax")  # each object's lowest row: where it stands
            base = lowest[lab]
            h = (base - ys).to(torch.float32)  # px above its object's base
            tx = (xs + x0).to(torch.float32) + float(length) * h * dx
            ty = (base + y0).to(torch.float32) + float(length) * h * dy
            inside = (tx >= 0) & (tx <= W - 1) & (ty >= 0) & (ty <= H - 1)
            zone[ty[inside].round().long(), tx[inside].round().long()] = True
            gap = max(1, math.ceil(float(length) * max(abs(dx), abs(dy))))  # cast pixels this far apart at most
            zone = grow(zone[None, None].float(), gap)[0, 0] > 0
        out[b, 0] = (zone & ~m[b, 0]).float()
    return out
