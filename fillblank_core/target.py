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
    """
    image: torch.Tensor
    mask: torch.Tensor
    composite: torch.Tensor
    latent: torch.Tensor
    placement: Placement
    embeds: object = None

    @property
    def scene_hw(self) -> tuple[int, int]:
        return int(self.composite.shape[1]), int(self.composite.shape[2])


def crop_to_multiple(pixels: torch.Tensor, factor: int = 8) -> torch.Tensor:
    """Centre-crop [B,C,H,W] to a multiple of ``factor``, as ComfyUI's VAEEncode does."""
    H, W = pixels.shape[-2:]
    h, w = (H // factor) * factor, (W // factor) * factor
    if (h, w) == (H, W):
        return pixels
    oy, ox = (H % factor) // 2, (W % factor) // 2
    return pixels[..., oy:oy + h, ox:ox + w]
