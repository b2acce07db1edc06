"""CLIP image embeddings from ComfyUI's own CLIP vision model (Fill-in Rank's ``clip_vision`` input).

The lab's transformers-based encoder for tests and benchmarks is ``fillblank_lab.clip_encoder``.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def embed_from_comfy_output(clip_vision_output) -> torch.Tensor:
    """``image_embeds`` of a ComfyUI CLIP_VISION_OUTPUT (attribute or key access), as L2-normalised
    float32 [B,D] on the CPU."""
    emb = None
    for get in (lambda o: getattr(o, "image_embeds"), lambda o: o["image_embeds"]):
        try:
            emb = get(clip_vision_output)
            break
        except (AttributeError, KeyError, TypeError, IndexError):
            continue
    if emb is None or not isinstance(emb, torch.Tensor):
        raise ValueError("expected a CLIP_VISION_OUTPUT with image_embeds (from CLIPVisionEncode or a "
                         f"CLIP vision model), got {type(clip_vision_output).__name__}")
    emb = emb.detach().float().cpu()
    if emb.ndim == 1:
        emb = emb[None]
    return F.normalize(emb.reshape(emb.shape[0], -1), dim=-1)


def comfy_embed_fn(clip_vision) -> Callable[[torch.Tensor], torch.Tensor]:
    """An ``embed_fn`` for ranking from a ComfyUI CLIP_VISION (anything with ``encode_image``)."""
    def embed(images: torch.Tensor) -> torch.Tensor:
        return embed_from_comfy_output(clip_vision.encode_image(images))
    return embed
