"""The placed, encoded target that Fill-in Target Encoder hands to the samplers, and the VAE's crop."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .placement import Placement


@dataclass
class FillBlankTarget:
    """What TargetEncoder hands to the sampler (ComfyUI type FILLBLANK_TARGET).

    image: the placed target on an empty canvas [B,H,W,C]; mask: its object mask [B,H,W];
    composite: the scene with the target pasted in [B,H,W,C]; latent: the VAE latent of the
    composite [B,C,h,w]; placement: where it went; embeds: optional CLIP image embedding.
    earlier: the placements of the targets chained before this one (``over``): image, mask and
    composite then hold all of them, the later drawn over the earlier, and the sampler pulls
    toward all of them in one run.
    in_front: None, or [B,H,W] the scene pixels kept exactly because they stand in front of the
    target(s) (each target's ``in_front`` where no target drawn is visible: ``kept``); ``mask`` is
    then the visible part of the silhouette only, and the composite shows the scene there.
    """
    image: torch.Tensor
    mask: torch.Tensor
    composite: torch.Tensor
    latent: torch.Tensor
    placement: Placement
    embeds: object = None
    earlier: tuple = ()
    in_front: torch.Tensor | None = None

    @property
    def scene_hw(self) -> tuple[int, int]:
        return int(self.composite.shape[1]), int(self.composite.shape[2])

    @property
    def placements(self) -> tuple:
        """Every target's placement, the first chained first."""
        return tuple(self.earlier) + (self.placement,)


def over(earlier_image: torch.Tensor, earlier_mask: torch.Tensor, image: torch.Tensor, mask: torch.Tensor):
    """A placed target (image [B,H,W,C], mask [B,H,W]) drawn over the targets placed before it
    (batches 1 or N): (image, mask), alpha-composited ("over") in straight (not premultiplied)
    colour, as a placed image is: where only one of them covers a pixel its colour is kept as it is.
    New tensors."""
    m = mask[..., None].to(image)
    e = earlier_mask[..., None].to(image)
    alpha = m + e * (1.0 - m)
    colour = (image * m + earlier_image.to(image) * e * (1.0 - m)) / alpha.clamp_min(1e-12)
    return torch.where(alpha > 0, colour, torch.zeros_like(colour)), alpha[..., 0].to(mask)


def kept(earlier_kept, earlier_mask, in_front, visible):
    """The pixels a chain of targets keeps exactly (``FillBlankTarget.in_front``), [B,H,W] or None.

    earlier_kept / earlier_mask: the record the new target is added to (None, None for the first);
    in_front: the new target's ``in_front`` [B,H,W] or None; visible: its mask after the cut. Each
    target keeps its own in_front: the earlier kept pixels stay kept except where the new target is
    visible (it stands in front of them), and the new target's in_front is kept except where an
    earlier target is visible (that target is drawn there, not the scene). Batches 1 or N."""
    old = None if earlier_kept is None else earlier_kept * (1.0 - visible.to(earlier_kept))
    new = None
    if in_front is not None:
        new = in_front.to(visible).clamp(0.0, 1.0)
        if earlier_mask is not None:
            new = new * (1.0 - earlier_mask.to(new))
    if old is None or new is None:
        return new if old is None else old
    return torch.maximum(old, new.to(old))


def check_same_scene(earlier: FillBlankTarget, scene: torch.Tensor, name: str = "add_to") -> None:
    """The scene a target is added on must be the one the earlier targets were placed on: equal to
    their composite wherever none of them covers it (IMAGE [B,H,W,C], batches 1 or N)."""
    H, W = earlier.scene_hw
    if tuple(scene.shape[1:3]) != (H, W):
        raise ValueError(f"scene is {scene.shape[2]}x{scene.shape[1]} px but the targets of {name} were placed on a "
                         f"{W}x{H} px scene; chain Target Encoders on the same scene")
    free = (earlier.mask <= 0)[..., None]
    comp = earlier.composite.to(scene)
    if comp.shape[0] != scene.shape[0]:
        n = max(comp.shape[0], scene.shape[0])
        comp, scene, free = (t.expand(n, *t.shape[1:]) for t in (comp, scene, free.expand(-1, -1, -1, 1)))
    if not bool(torch.where(free, (comp - scene).abs() <= 1e-6, True).all()):
        raise ValueError(f"scene is not the scene the targets of {name} were placed on (they differ outside the "
                         "earlier targets); connect the same scene to every chained Fill-in Target Encoder")


def crop_to_multiple(pixels: torch.Tensor, factor: int = 8) -> torch.Tensor:
    """Centre-crop [B,C,H,W] to a multiple of ``factor``, as ComfyUI's VAEEncode does."""
    H, W = pixels.shape[-2:]
    h, w = (H // factor) * factor, (W // factor) * factor
    if (h, w) == (H, W):
        return pixels
    oy, ox = (H % factor) // 2, (W % factor) // 2
    return pixels[..., oy:oy + h, ox:ox + w]
