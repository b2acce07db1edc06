"""FillBlankInsert: the common case in one node — place, crop, encode, guided sampling, decode, stitch."""

from __future__ import annotations

import torch

from ..fillblank_core import insert as I
from ..fillblank_core import placement as P
from ..fillblank_core import ranges as R
from ..fillblank_core.crop import stitch
from ..fillblank_core.placement import CUTOUTS, cut_out
from . import compat
from .common import CATEGORY, LAMBDA
from .sampler import guided_sample, validate
from .target_encoder import target_inputs

WORKING_SIZE_TIP = ("Working resolution: the longest side, in pixels, of the crop around the hole as the model "
                    "sees it (snapped to a multiple of 8, at least 64). Pick your model's own resolution: SD1.5 "
                    "512–768, SDXL / Flux / SD3 1024. The crop is resized to it (a small hole is enlarged at most "
                    "4×, a large one reduced), so any photo size costs the same.")


class FillBlankInsert:
    DESCRIPTION = ("Inserts the target into a photo of any size in one node: places it (into the hole, or at x / y / "
                   "scale), samples only a crop around the hole at your model's resolution, pulled toward the target, "
                   "and stitches the result back; outside the feathered hole the photo's pixels are unchanged.")
    CATEGORY = CATEGORY
    FUNCTION = "insert"
    RETURN_TYPES = ("IMAGE", "IMAGE", "MASK")
    RETURN_NAMES = ("image", "preview", "hole")
    OUTPUT_TOOLTIPS = ("The full-size scene with the inserted object (outside the feathered hole: the scene's own pixels).",
                       "The crop the model works on, at the working resolution, with the target pasted where it is "
                       "guided (before sampling).",
                       "The hole used, at the scene's size (your hole ∪ the target's silhouette grown by one latent cell).")

    @classmethod
    def INPUT_TYPES(cls):
        f = {"min": -0.5, "max": 1.5, "step": 0.005}
        return {
            "required": {
                "model": ("MODEL", {"tooltip": "Your checkpoint's model."}),
                "vae": ("VAE", {"tooltip": "Your checkpoint's VAE (encodes and decodes the crop only)."}),
                "positive": ("CONDITIONING", {"tooltip": "Prompt describing the scene with the object."}),
                "negative": ("CONDITIONING", {"tooltip": "Negative prompt."}),
                "scene": ("IMAGE", {"tooltip": "The photo to insert the object into, any size."}),
                "target": ("IMAGE", {"tooltip": "Image of the object to insert (RGB, or RGBA whose alpha is the cut-out)."}),
                "fit": (list(I.FITS), {"default": "into hole", "tooltip": "into hole: the cut-out's bounding box is fitted into the hole's bounding box (aspect kept, centred; x, y, scale unused). x-y-scale: placed at x, y with height scale. Without a hole, x-y-scale is used either way."}),
                "x": R.X.widget(0.5, "Horizontal centre of the target as a fraction of the scene width (0 = left edge, 1 = right edge); fit x-y-scale."),
                "y": R.Y.widget(0.5, "Vertical centre of the target as a fraction of the scene height (0 = top, 1 = bottom); fit x-y-scale."),
                "scale": R.SCALE.widget(0.4, "Height of the target as a fraction of the scene height; fit x-y-scale."),
                "flip": ("BOOLEAN", {"default": False, "tooltip": "Mirror the target horizontally."}),
                "cutout": (CUTOUTS, {"default": "auto", "tooltip": "How the object is cut out: auto (target_mask, else alpha, else SAM if connected, else whole image), mask or alpha, whole image, border color (plain studio background), sam."}),
                "seed": R.SEED.widget(0, "Noise seed; the same seed gives the same result."),
                "steps": R.STEPS.widget(30, "Denoising steps (before resampling)."),
                "cfg": R.CFG.widget(7.0, "Classifier-free guidance scale."),
                "sampler_name": (compat.sampler_names(), {"tooltip": "Base sampler used inside every chunk."}),
                "scheduler": (compat.scheduler_names(), {"tooltip": "Sigma schedule."}),
                "denoise": R.DENOISE.widget(1.0, "Fraction of the schedule to run (1 = from pure noise in the hole; below 1 the hole starts from the pasted target)."),
                "jump_length": R.JUMP_LENGTH.widget(10, "RePaint's j: steps per chunk before travelling back. Unused when resample is 1."),
                "resample": R.RESAMPLE.widget(1, "RePaint's r: passes over each chunk (1 = no resampling; cost grows about r×)."),
                "working_size": R.WORKING_SIZE.widget(1024, WORKING_SIZE_TIP),
                "context": R.CONTEXT.widget(0.25, "Scene around the hole the model sees, on each side, as a fraction of the hole's longest side (plus a few pixels). More context: better blending, less resolution for the object."),
                "feather": R.FEATHER.widget(8, "Soft edge of the stitch outward over this many scene pixels."),
                "color_match": ("BOOLEAN", {"default": False, "tooltip": "Match the inserted region's colour statistics to the ring around the hole."}),
            },
            "optional": {
                "target_mask": ("MASK", {"tooltip": "LoadImage's MASK of the target (1 = transparent), so the object is 1 − mask."}),
                "hole": ("MASK", {"tooltip": "Where to insert (1 = repaint), at the scene's size, e.g. painted in LoadImage's mask editor. Unconnected or empty: the target's silhouette grown by one latent cell."}),
                "sam": ("SAM_MODEL", {"tooltip": "Optional SAM model for an automatic cut-out of the target."}),
                "schedule": (LAMBDA, {"tooltip": "λ schedule (Fill-in Lambda Schedule). Default: as Fill-in Sampler's."}),
            },
        }

    def insert(self, model, vae, positive, negative, scene, target, fit, x, y, scale, flip, cutout, seed, steps, cfg,
               sampler_name, scheduler, denoise, jump_length, resample, working_size, context, feather, color_match,
               target_mask=None, hole=None, sam=None, schedule=None):
        # every check before any model work (SAM, VAE, sampling)
        R.check_inputs(x=x, y=y, scale=scale, seed=seed, steps=steps, cfg=cfg, denoise=denoise,
                       jump_length=jump_length, resample=resample, working_size=working_size, context=context,
                       feather=feather)
        scene_c, tgt, target_mask = target_inputs(scene, target, cutout, target_mask)
        I.check_options(fit=fit, working_size=working_size, context=context, feather=feather, steps=steps,
                        jump_length=jump_length, resample=resample, denoise=denoise)
        hole = I.scene_hole(hole, tuple(scene_c.shape[-2:]))
        obj = cut_out(tgt, target_mask, cutout, sam)
        prep = I.prepare(scene_c, tgt[:, :3], obj, hole, fit=fit, x=x, y=y, scale=scale, flip=flip,
                         working_size=working_size, context=context, feather=feather, color_match=color_match,
                         vae_factor=compat.vae_downscale(vae))
        # encode the crop once; sample as Fill-in Sampler does; decode; stitch into the full scene.
        # The VAE may sample its posterior from torch's global generator (ComfyUI 2024): seed it, as
        # prepare_noise does right after, so that the same seed gives the same image.
        torch.manual_seed(seed)
        latent = {"samples": vae.encode(prep.composite).float().cpu()}
        record = P.FillBlankTarget(image=prep.target, mask=prep.silhouette, composite=prep.composite,
                                   latent=latent["samples"], placement=prep.placement)
        samples, h_lat = validate(latent, record, prep.work_hole, steps, jump_length, resample, "matched")
        out = guided_sample(model, positive, negative, latent, samples, h_lat, record, seed, steps, cfg,
                            sampler_name, scheduler, denoise, jump_length, resample, "matched", schedule)
        generated = vae.decode(out)
        image = stitch(prep.plan, scene, generated, prep.hole, int(feather), bool(color_match))
        return (image, prep.composite, prep.hole)
