"""Fill-in Target Encoder: cut out the target, place it on the scene, encode the composite."""

from __future__ import annotations

from comfy_api.latest import io

from ..fillblank_core import masks as M
from ..fillblank_core import placement as P
from ..fillblank_core import ranges as R
from ..fillblank_core.placement import CUTOUTS, cut_out
from .common import SamModel, Target, batch_of, boolean, combo, mask_input, number, rgb, schema
from .compat import vae_downscale

TARGET_TIP = "Image of the object to insert (RGB, or RGBA whose alpha is the cut-out)."
CUTOUT_TIP = ("How the object is cut out: auto (object_mask or target_mask, else alpha, else SAM if connected, else "
              "the whole image), mask or alpha, whole image, border color (plain studio background), sam.")
TARGET_MASK_TIP = ("LoadImage's MASK of the target image: 1 = TRANSPARENT (LoadImage gives 1 − alpha), so the object "
                   "is where it is 0. For a mask that is 1 on the object (SAM, segmentation nodes) use object_mask.")
OBJECT_MASK_TIP = ("A mask of the object in the target image: 1 = OBJECT (what SAM, SAM3 and most segmentation nodes "
                   "give). For LoadImage's MASK output (1 = transparent) use target_mask. Connect one of the two.")
SAM_TIP = "Optional SAM model (Fill-in SAM Loader) for an automatic cut-out of the target."


def target_inputs(scene, target, cutout: str, target_mask=None, object_mask=None):
    """The checks of a scene / target / cut-out / mask input set (Target Encoder, Insert):
    (scene [B,3,H,W], target [B,3|4,h,w], target_mask [B,1,h,w] (1 = transparent) or None).
    ``object_mask`` (1 = object) is turned into the target_mask convention."""
    scene_c = rgb(scene, "scene")
    tgt = rgb(target, "target", allow_alpha=True)
    if cutout not in CUTOUTS:
        raise ValueError(f"cutout must be one of {', '.join(CUTOUTS)}, got {cutout!r}")
    if target_mask is not None and object_mask is not None:
        raise ValueError("target_mask and object_mask are both connected; connect one: target_mask is LoadImage's "
                         "MASK (1 = transparent), object_mask a mask that is 1 on the object (SAM, segmentation)")
    name, given = ("object_mask", object_mask) if object_mask is not None else ("target_mask", target_mask)
    m = mask_input(given, name) if given is not None else None
    M.broadcast_batch(scene=batch_of(scene), target=batch_of(target), **{name: batch_of(given)})
    if m is not None and name == "object_mask":
        m = 1.0 - m  # a new tensor: the input is untouched
    return scene_c, tgt, m


def placement_inputs(tip_suffix: str = "") -> list:
    """x, y, scale, flip, cutout: the same widgets on Target Encoder and Insert."""
    return [
        number("x", R.X, 0.5, "Horizontal centre of the target as a fraction of the scene width (0 = left edge, "
               "1 = right edge)" + tip_suffix + "."),
        number("y", R.Y, 0.5, "Vertical centre of the target as a fraction of the scene height (0 = top, "
               "1 = bottom)" + tip_suffix + "."),
        number("scale", R.SCALE, 0.4, "Height of the target as a fraction of the scene height" + tip_suffix + "."),
        boolean("flip", False, "Mirror the target horizontally."),
        combo("cutout", CUTOUTS, "auto", CUTOUT_TIP),
    ]


def mask_inputs() -> tuple:
    return (io.Mask.Input("target_mask", optional=True, tooltip=TARGET_MASK_TIP),
            io.Mask.Input("object_mask", optional=True, tooltip=OBJECT_MASK_TIP))


class FillBlankTargetEncoder(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        target_mask, object_mask = mask_inputs()
        return schema(
            "FillBlankTargetEncoder", "target",
            "Cuts the target object out, places it on the scene and encodes the composite with your VAE, so the "
            "sampler can pull the hole toward it.",
            inputs=[
                io.Image.Input("target", tooltip=TARGET_TIP),
                io.Image.Input("scene", tooltip="The scene to insert the object into."),
                io.Vae.Input("vae", tooltip="The VAE of your checkpoint; encodes the scene with the target pasted in."),
                *placement_inputs(),
                target_mask,
                SamModel.Input("sam", optional=True, tooltip=SAM_TIP),
                io.ClipVision.Input("clip_vision", optional=True, tooltip="Optional CLIP vision model: outputs the "
                                    "cut-out target's CLIP_VISION_OUTPUT."),
                # after the inputs of workflows saved before it existed, so their slots stay in place
                object_mask,
            ],
            outputs=[
                Target.Output(display_name="target", tooltip="The placed, encoded target for Fill-in Sampler / "
                              "Fill-in Sampler Select."),
                io.Image.Output(display_name="preview", tooltip="The scene with the target pasted in (before sampling)."),
                io.Mask.Output(display_name="silhouette", tooltip="The target's silhouette on the scene (1 = object)."),
                io.ClipVisionOutput.Output(display_name="clip_vision_output", tooltip="The cut-out target's CLIP image "
                                           "embedding (for unCLIPConditioning, IPAdapter, StyleModelApply); needs the "
                                           "clip_vision input."),
            ])

    @classmethod
    def execute(cls, target, scene, vae, x, y, scale, flip, cutout="auto", target_mask=None, sam=None,
                clip_vision=None, object_mask=None) -> io.NodeOutput:
        R.check_inputs(x=x, y=y, scale=scale)
        scene_c, tgt, target_mask = target_inputs(scene, target, cutout, target_mask, object_mask)
        obj = cut_out(tgt, target_mask, cutout, sam)
        image, mask, comp, where = P.place_on_scene(scene, tgt[:, :3], obj, x, y, scale, flip)
        pixels = P.crop_to_multiple(comp.permute(0, 3, 1, 2), vae_downscale(vae)).permute(0, 2, 3, 1)
        latent = vae.encode(pixels)
        clip_out = None
        if clip_vision is not None:  # the object on neutral grey, so the background does not count
            clip_out = clip_vision.encode_image(M.to_bhwc(tgt[:, :3] * obj + 0.5 * (1.0 - obj)))
        record = P.FillBlankTarget(image=image, mask=mask, composite=comp, latent=latent.float().cpu(),
                                   placement=where, embeds=clip_out)
        return io.NodeOutput(record, record.composite, record.mask, clip_out)
