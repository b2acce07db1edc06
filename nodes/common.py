"""Shared node declarations: the V3 schema pieces every node uses (types, names, widgets, the
input lists and tooltips that several nodes share), the type checks of IMAGE / MASK inputs that
run before any heavy work, conversions. Node files import this (and ``guidance``, ``compat``),
never each other."""

from __future__ import annotations

import dataclasses
import inspect

import torch

from comfy_api.latest import io  # the V3 node API (ComfyUI 0.3.4x+, 2025); requires-comfyui >= 0.3.75

from ..fillblank_core import masks as M
from ..fillblank_core import ranges as R
from ..fillblank_core.placement import ground_height
from ..fillblank_core.segment import CUTOUTS
from . import compat

CATEGORY = "fillblank"
TARGET = "FILLBLANK_TARGET"
LAMBDA = "FILLBLANK_LAMBDA"
STITCH = "FILLBLANK_STITCH"

# the pack's own socket types (and SAM_MODEL, the type Impact-Pack and comfyui_segment_anything use)
Target = io.Custom(TARGET)
Lambda = io.Custom(LAMBDA)
Stitch = io.Custom(STITCH)
SamModel = io.Custom("SAM_MODEL")

# One display name per node: the node title, and the name every tooltip and message uses.
NAMES = {
    "FillBlankInsert": "Fill-in Insert",
    "FillBlankTargetEncoder": "Fill-in Target Encoder",
    "FillBlankMaskRefiner": "Fill-in Mask Refiner",
    "FillBlankLambdaSchedule": "Fill-in Lambda Schedule",
    "FillBlankSampler": "Fill-in Sampler",
    "FillBlankSamplerSelect": "Fill-in Sampler Select",
    "FillBlankComposite": "Fill-in Composite",
    "FillBlankCrop": "Fill-in Crop",
    "FillBlankSAMLoader": "Fill-in SAM Loader",
    "FillBlankRank": "Fill-in Rank",
}
# What a user types to find a node (search aliases): the nodes that insert an object answer the
# product's words; the helpers answer for their own job, so "inpaint" does not list the SAM loader.
SEARCH_ALIASES = ["inpaint", "insert object", "object placement", "paste object", "RePaint"]
ALIASES = {
    "FillBlankInsert": SEARCH_ALIASES,
    "FillBlankTargetEncoder": SEARCH_ALIASES,
    "FillBlankSampler": SEARCH_ALIASES,
    "FillBlankSamplerSelect": SEARCH_ALIASES,
    "FillBlankMaskRefiner": ["inpaint mask", "grow mask", "feather mask"],
    "FillBlankLambdaSchedule": ["lambda schedule", "guidance schedule"],
    "FillBlankComposite": ["paste back", "stitch", "inpaint composite"],
    "FillBlankCrop": ["inpaint crop", "crop and stitch"],
    "FillBlankSAMLoader": ["segment anything", "SAM model"],
    "FillBlankRank": ["CLIP score", "best of batch"],
}


# ComfyUI after 0.3.75 (2026): Schema.search_aliases and the inputs' ``advanced`` flag (shown
# folded away by the frontend). 0.3.75 (Dec 2025) has neither: they are given only where present.
def _takes(cls, name: str) -> bool:
    if dataclasses.is_dataclass(cls):
        return name in {f.name for f in dataclasses.fields(cls)}
    return name in inspect.signature(cls.__init__).parameters


def schema(node_id: str, sub: str, description: str, inputs: list, outputs: list, **extra) -> io.Schema:
    """A node's V3 schema: its display name from NAMES, category fillblank/<sub>, the pack's search
    aliases where the host knows them."""
    if _takes(io.Schema, "search_aliases"):
        extra.setdefault("search_aliases", list(ALIASES[node_id]))
    return io.Schema(node_id=node_id, display_name=NAMES[node_id], category=f"{CATEGORY}/{sub}",
                     description=description, inputs=inputs, outputs=outputs, **extra)


def _advanced(cls, advanced: bool) -> dict:
    return {"advanced": True} if advanced and _takes(cls, "advanced") else {}


def number(name: str, rng, default, tooltip: str, advanced: bool = False, **extra):
    """An INT / FLOAT widget with its range from fillblank_core.ranges (the one place ranges live)."""
    kind, opts = rng.widget(default, tooltip, **extra)
    cls = io.Int.Input if kind == "INT" else io.Float.Input
    return cls(name, **opts, **_advanced(cls, advanced))


def combo(name: str, options, default: str | None, tooltip: str, advanced: bool = False, optional: bool = False):
    """A combo widget; default None: the first option (as KSampler's sampler and scheduler).
    optional: for a widget added after a release (a prompt saved before it lacks it)."""
    return io.Combo.Input(name, options=list(options), default=default, tooltip=tooltip, optional=optional,
                          **_advanced(io.Combo.Input, advanced))


def boolean(name: str, default: bool, tooltip: str):
    return io.Boolean.Input(name, default=default, tooltip=tooltip)


def error_text(check, *args, **kwargs) -> bool | str:
    """For validate_inputs: True when ``check`` passes, else its message."""
    try:
        check(*args, **kwargs)
    except ValueError as e:
        return str(e)
    return True


def rgb(image: torch.Tensor, name: str, allow_alpha: bool = False) -> torch.Tensor:
    """Check an IMAGE input and return it as [B,C,H,W]."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        raise ValueError(f"{name} must be an IMAGE [batch, height, width, channels], got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    c = image.shape[-1]
    if c != 3 and not (allow_alpha and c == 4):
        want = "RGB or RGBA (3 or 4 channels)" if allow_alpha else "RGB (3 channels)"
        raise ValueError(f"{name} must be an {want} IMAGE, got {c} channel{'s' if c != 1 else ''}"
                         + (" (grayscale: convert it to RGB first)" if c == 1 else "")
                         + (" (RGBA: drop the alpha channel first)" if c == 4 else ""))
    if image.shape[1] < 8 or image.shape[2] < 8:
        raise ValueError(f"{name} is {image.shape[2]}x{image.shape[1]} px; at least 8x8 is needed")
    M.check_finite(image, name)
    return M.to_bchw(image, name)


def batch_of(value) -> int | None:
    """The batch size of an IMAGE, MASK ([H,W] is 1), LATENT dict or FILLBLANK_TARGET; None for
    an input that is not connected."""
    if value is None:
        return None
    if isinstance(value, dict) and "samples" in value:
        value = value["samples"]
    if hasattr(value, "latent") and hasattr(value, "mask"):  # FILLBLANK_TARGET
        value = value.latent
    if isinstance(value, torch.Tensor):
        return 1 if value.ndim == 2 else int(value.shape[0])
    return None


def mask_input(mask: torch.Tensor, name: str, hw: tuple[int, int] | None = None) -> torch.Tensor:
    """Check a MASK input and return it as [B,1,H,W]; with ``hw`` the size must match."""
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{name} must be a MASK, got {type(mask).__name__}")
    m = M.mask_b1hw(mask, name)
    M.check_finite(m, name)
    if hw is not None and tuple(m.shape[-2:]) != tuple(hw):
        raise ValueError(f"{name} is {m.shape[-1]}x{m.shape[-2]} px but the scene is {hw[1]}x{hw[0]} px; "
                         "the mask must have the scene's size")
    if m.numel() and (float(m.amin()) < 0.0 or float(m.amax()) > 1.0):
        return m.clamp(0.0, 1.0)
    return m  # already in 0..1: no copy (the caller must not modify it)


def in_front_input(in_front, hw: tuple[int, int]) -> torch.Tensor | None:
    """Check the optional in_front MASK (1 = scene pixels that stand in front of the object) against
    the scene: None, or [B,1,H,W] in 0..1 of the scene's size (its batch: the node's broadcast_batch)."""
    if in_front is None:
        return None
    if not isinstance(in_front, torch.Tensor):
        raise ValueError(f"in_front must be a MASK (1 = scene pixels in front of the object) of the scene's size, got "
                         f"{type(in_front).__name__}")
    if in_front.ndim == 4 and in_front.shape[-1] in (3, 4) and in_front.shape[1] != 1:
        raise ValueError(f"in_front must be a MASK [batch, height, width], got an IMAGE of shape "
                         f"{tuple(in_front.shape)}; convert it with Convert Image to Mask")
    return mask_input(in_front, "in_front", hw)


def leave_out_in_front(hole: torch.Tensor, in_front: torch.Tensor | None) -> torch.Tensor:
    """The hole [B,1,H,W] with the target's in_front left out (``masks.leave_out``); an item that held
    something and lies entirely inside in_front is an error naming in_front (not "paint the hole")."""
    return M.leave_out_checked(hole, in_front, "the hole{item} lies entirely inside the target's in_front (what "
                               "stands in front of the object is never repainted): draw the hole where the object "
                               "is visible")


IN_FRONT_TIP = ("Optional MASK of the scene's size: 1 = scene pixels IN FRONT of the object (a post, a chair's "
                "arm, a table edge). The object is drawn only where it is 0, behind them; they stay out of the hole "
                "and come out exactly as in the scene (in the modular chain give the same mask to Fill-in Composite). "
                "Get it by painting it in a second LoadImage of the scene (its mask editor), or from SAM: a rough box "
                "over it in Fill-in Mask Refiner mode sam (grow 0) or a SAM 3 node. Any MASK works.")


# --- inputs and tooltips that several nodes declare ----------------------------------------------

TARGET_TIP = "Image of the object to insert (RGB, or RGBA whose alpha is the cut-out)."
CUTOUT_TIP = ("How the object is cut out: auto (object_mask or target_mask, else alpha, else SAM if connected, else "
              "the border's colour when the border is one plain colour — a studio backdrop, or the transparent "
              "area of a PNG whose mask is not connected — else the whole image), mask or alpha, whole image, "
              "border color (plain studio background), sam. The placement editor shows the cut-out the run uses.")
TARGET_MASK_TIP = ("LoadImage's MASK of the target image: 1 = TRANSPARENT (LoadImage gives 1 − alpha), so the object "
                   "is where it is 0. For a mask that is 1 on the object (SAM, segmentation nodes) use object_mask.")
OBJECT_MASK_TIP = ("A mask of the object in the target image: 1 = OBJECT (what SAM, SAM3 and most segmentation nodes "
                   "give). For LoadImage's MASK output (1 = transparent) use target_mask. Connect one of the two.")
SAM_TIP = "Optional SAM model (Fill-in SAM Loader) for an automatic cut-out of the target."
WORKING_SIZE_TIP = ("Working resolution: the longest side, in pixels, of the crop around the hole as the model "
                    "sees it (snapped to a multiple of 8, at least 64). Pick your model's own resolution: SD1.5 "
                    "512–768, SDXL / Flux / SD3 1024. The crop is resized to it (a small hole is enlarged at most "
                    "4×, a large one reduced), so any photo size costs the same.")

_COST_TIP = ("Cost: model evaluations = steps + ⌈(steps − j)/j⌉·(r − 1)·j for one-evaluation samplers "
             "(euler, dpmpp_2m, …; about twice that for heun, dpm_2, …), about r × steps; e.g. 30 steps, "
             "j 10, r 4: 90. Above 5 × steps a warning is logged.")
JUMP_TOOLTIP = ("RePaint's j: steps per chunk before travelling back. Unused when resample is 1; a value above "
                "the step count counts as the step count (one chunk: no travelling back). " + _COST_TIP)
RESAMPLE_TOOLTIP = "RePaint's r: passes over each chunk (1 = no resampling). " + _COST_TIP
BLEND_TOOLTIP = ("matched: the model sees the noised target inside its silhouette (as ComfyUI's known region, "
                 "weighted by λ) and its prediction is pulled there too; keeps the noise level; works with every "
                 "sampler. independent: inject freshly noised target after each step (paper-style; lowers the "
                 "noise in the target).")
SCHEDULE_TOOLTIP = ("λ schedule (Fill-in Lambda Schedule), for experts; when connected it replaces adapt. Unconnected: "
                    "the schedule that adapt sets.")
ADAPT_TOOLTIP = ("Keep ↔ adapt: how much the model may re-render the object. 0 keeps the pasted target exactly "
                 "(no relighting), 1 leaves the model free (the target is not pulled; below denoise 1 a run that starts "
                 "from the pasted scene still shows it). In between the target is held while "
                 "the model decides what the object is, then let go so the model lights, shades and blends it; higher "
                 "lets go earlier. Used when no schedule is connected.")
TARGET_TOOLTIP = "From Fill-in Target Encoder."


def adapt_input():
    """The keep ↔ adapt widget (optional, so prompts written before it existed keep running)."""
    return number("adapt", R.ADAPT, R.DEFAULT_ADAPT, ADAPT_TOOLTIP, optional=True)


SAMPLER_NAME_TIP = ("Base sampler used inside every chunk. Samplers with several model calls per step (heun, "
                    "heunpp2, dpm_2, dpmpp_2s_ancestral, dpmpp_sde, seeds_2/3) get one λ per step, the value at "
                    "the step's start; dpm_fast and dpm_adaptive solve on noise levels of their own, so each of "
                    "their calls gets λ at its own noise level.")


def sampler_inputs(denoise_tip: str) -> list:
    """seed … resample: the same widgets, in the same order, on Sampler and Insert."""
    return [
        number("seed", R.SEED, 0, "Noise seed; the same seed gives the same result.", control_after_generate=True),
        number("steps", R.STEPS, 30, "Denoising steps (before resampling)."),
        number("cfg", R.CFG, 7.0, "Classifier-free guidance scale.", round=0.01),
        combo("sampler_name", compat.sampler_names(), None, SAMPLER_NAME_TIP),
        combo("scheduler", compat.scheduler_names(), None, "Sigma schedule."),
        number("denoise", R.DENOISE, 1.0, denoise_tip),
        number("jump_length", R.JUMP_LENGTH, 10, JUMP_TOOLTIP, advanced=True),
        number("resample", R.RESAMPLE, 1, RESAMPLE_TOOLTIP, advanced=True),
    ]


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
    """target_mask and object_mask (Target Encoder, Insert)."""
    return (io.Mask.Input("target_mask", optional=True, tooltip=TARGET_MASK_TIP),
            io.Mask.Input("object_mask", optional=True, tooltip=OBJECT_MASK_TIP))


ADD_TO_TIP = ("Optional: the target output of another Fill-in Target Encoder on the same scene. This target is "
              "added to it (drawn over the earlier ones) and all of them are inserted in one sampling run.")
HORIZON_TIP = ("Perspective (0 = off): the horizon as a fraction of the scene height from the top. With it on, the "
               "object stands on the ground: scale is its height with its base on the bottom edge, and as you move it "
               "up toward the horizon it shrinks by the ground-plane rule (height ∝ distance of its base below the "
               "horizon).")
SHADOW_TIP = ("Room for the shadow: adds to the hole the region where the object's shadow falls, so the model may "
              "paint it. none; contact (a soft band under its base); cast (contact plus the shadow cast toward "
              "shadow_angle, shadow_length × its height long).")


def perspective_inputs() -> list:
    """horizon (Target Encoder, Insert): optional, added after the first release."""
    return [number("horizon", R.HORIZON, 0.0, HORIZON_TIP, optional=True)]


def shadow_inputs(default: str = "none") -> list:
    """shadow, shadow_angle, shadow_length (Mask Refiner, Insert): optional, added after the first release."""
    return [combo("shadow", M.SHADOW_MODES, default, SHADOW_TIP, optional=True),
            number("shadow_angle", R.SHADOW_ANGLE, 45.0, "Direction the cast shadow falls, in degrees clockwise from "
                   "the right: 0 right, 45 down-right (light from the upper left), 90 toward the viewer, 180 left, "
                   "270 away.", optional=True),
            number("shadow_length", R.SHADOW_LENGTH, 0.5, "Length of the cast shadow as a multiple of the object's "
                   "height (shadow cast).", optional=True)]


def placed_height(scale: float, y: float, horizon: float) -> float:
    """The target's height: scale, or with a horizon the ground-plane height at y (placement.ground_height),
    which must lie in scale's own range."""
    if horizon <= 0:
        return scale
    h = ground_height(scale, y, horizon)
    if h > R.SCALE.high:
        raise ValueError(f"with horizon {horizon:g}, scale {scale:g} at y {y:g} makes the object {h:.3g}× the scene "
                         f"height (at most {R.SCALE.high:g}): lower scale, or move the object up toward the horizon")
    return h


def working_size_input():
    return number("working_size", R.WORKING_SIZE, R.DEFAULT_WORKING_SIZE, WORKING_SIZE_TIP)


def context_input(tooltip: str):
    return number("context", R.CONTEXT, R.DEFAULT_CONTEXT, tooltip)


def feather_input(tooltip: str, default: int = R.DEFAULT_FEATHER):
    return number("feather", R.FEATHER, default, tooltip)
