"""Test-only ComfyUI nodes (loaded by the end-to-end tests, never shipped): a tiny model/VAE/
conditioning loader standing in for CheckpointLoaderSimple + CLIPTextEncode, and generators of
odd inputs for the bad-input tests."""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import tiny  # noqa: E402
from learned_world import FillBlankTestLearnedCheckpoint  # noqa: E402

_CACHE = {}


class FillBlankTestTinyCheckpoint:
    CATEGORY = "fillblank/testing"
    FUNCTION = "load"
    RETURN_TYPES = ("MODEL", "CLIP", "VAE")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": ("STRING", {"default": "tiny"})}}

    def load(self, ckpt_name):
        if "m" not in _CACHE:
            _CACHE["m"] = (tiny.tiny_model(), None, tiny.tiny_vae())
        return _CACHE["m"]


class FillBlankTestConditioning:
    CATEGORY = "fillblank/testing"
    FUNCTION = "encode"
    RETURN_TYPES = ("CONDITIONING",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"default": ""})}, "optional": {"clip": ("CLIP",)}}

    def encode(self, text, clip=None):
        return (tiny.empty_conditioning(),)


class FillBlankTestImage:
    """A solid-ish test image with chosen channels/batch (grayscale, RGBA, batches, an empty batch)."""
    CATEGORY = "fillblank/testing"
    FUNCTION = "make"
    RETURN_TYPES = ("IMAGE",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"width": ("INT", {"default": 64, "min": 1, "max": 4096}),
                             "height": ("INT", {"default": 64, "min": 1, "max": 4096}),
                             "channels": ("INT", {"default": 3, "min": 1, "max": 4}),
                             "batch": ("INT", {"default": 1, "min": 0, "max": 16})}}

    def make(self, width, height, channels, batch):
        g = torch.Generator().manual_seed(width * 7 + height)
        return (torch.rand(batch, height, width, channels, generator=g),)


class FillBlankTestMask:
    """A rectangle mask: 1 inside [x0,x1)×[y0,y1), at width×height (optionally a batch of them)."""
    CATEGORY = "fillblank/testing"
    FUNCTION = "make"
    RETURN_TYPES = ("MASK",)

    @classmethod
    def INPUT_TYPES(cls):
        i = {"default": 0, "min": 0, "max": 4096}
        return {"required": {"width": ("INT", {"default": 64, "min": 1, "max": 4096}),
                             "height": ("INT", {"default": 64, "min": 1, "max": 4096}),
                             "x0": ("INT", i), "y0": ("INT", i), "x1": ("INT", i), "y1": ("INT", i)},
                "optional": {"batch": ("INT", {"default": 1, "min": 0, "max": 16})}}

    def make(self, width, height, x0, y0, x1, y1, batch=1):
        m = torch.zeros(batch, height, width)
        m[:, y0:y1, x0:x1] = 1.0
        return (m,)


class FillBlankTestPoisonLatent:
    """Puts a NaN into a latent (bad-input test)."""
    CATEGORY = "fillblank/testing"
    FUNCTION = "poison"
    RETURN_TYPES = ("LATENT",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",)}}

    def poison(self, samples):
        s = samples["samples"].clone()
        s[0, 0, 0, 0] = float("nan")
        return ({**samples, "samples": s},)


class FillBlankTestLatent:
    """A latent reshaped for bad-input tests: its batch repeated or cut to ``batch`` (0 = an empty
    batch) and its channels repeated or cut to ``channels`` (e.g. 16, like SD3 / Flux latents)."""
    CATEGORY = "fillblank/testing"
    FUNCTION = "reshape"
    RETURN_TYPES = ("LATENT",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",),
                             "batch": ("INT", {"default": 1, "min": 0, "max": 16}),
                             "channels": ("INT", {"default": 4, "min": 1, "max": 64})}}

    def reshape(self, samples, batch, channels):
        s = samples["samples"]
        reps_b = -(-batch // max(1, s.shape[0]))
        reps_c = -(-channels // s.shape[1])
        s = s.repeat(max(1, reps_b), max(1, reps_c), 1, 1)[:batch, :channels].clone()
        return ({k: v for k, v in samples.items() if k != "noise_mask"} | {"samples": s},)


NODE_CLASS_MAPPINGS = {
    "FillBlankTestTinyCheckpoint": FillBlankTestTinyCheckpoint,
    "FillBlankTestConditioning": FillBlankTestConditioning,
    "FillBlankTestImage": FillBlankTestImage,
    "FillBlankTestMask": FillBlankTestMask,
    "FillBlankTestPoisonLatent": FillBlankTestPoisonLatent,
    "FillBlankTestLatent": FillBlankTestLatent,
    "FillBlankTestLearnedCheckpoint": FillBlankTestLearnedCheckpoint,
}
