"""SAM loading and candidate ranking nodes (segment-anything / CLIP vision are optional)."""

from __future__ import annotations

import os

import folder_paths

from ..fillblank_core import masks as M
from .common import CATEGORY, TARGET, batch_of, mask_input, rgb

SAM_EXTENSIONS = {".pth", ".pt", ".safetensors"}


def register_sams_folder() -> None:
    """models/sams, the folder Impact-Pack and comfyui_segment_anything users already fill.

    extra_model_paths.yaml may have registered "sams" before us with no extensions (ComfyUI 2024):
    keep its paths, add the default folder and our extensions."""
    paths, exts = folder_paths.folder_names_and_paths.get("sams", ([], set()))
    default = os.path.join(folder_paths.models_dir, "sams")
    paths = list(paths) + ([default] if default not in paths else [])
    folder_paths.folder_names_and_paths["sams"] = (paths, set(exts) | SAM_EXTENSIONS)


register_sams_folder()


class FillBlankSAMLoader:
    DESCRIPTION = ("Loads a Segment Anything checkpoint (vit_b / vit_l / vit_h, detected from the file) "
                   "from ComfyUI's models/sams folder.")
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = ("SAM_MODEL",)
    RETURN_NAMES = ("sam",)
    OUTPUT_TOOLTIPS = ("SAM model for Target Encoder (cut-out) and Mask Refiner (mode sam); the same "
                       "type as Impact-Pack's and comfyui_segment_anything's SAM_MODEL.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sam_name": (folder_paths.get_filename_list("sams"), {
            "tooltip": "A SAM checkpoint in models/sams (sam_vit_b_01ec64.pth, sam_vit_l_0b3195.pth or sam_vit_h_4b8939.pth)."})}}

    def load(self, sam_name):
        from ..fillblank_core.segment import SamLoadError, load_sam
        path = folder_paths.get_full_path("sams", sam_name)
        if path is None:
            raise SamLoadError(f"SAM checkpoint {sam_name!r} was not found; put a SAM checkpoint "
                               "(e.g. sam_vit_b_01ec64.pth) in ComfyUI's models/sams folder")
        return (load_sam(path),)


class FillBlankRank:
    DESCRIPTION = ("Sorts a batch of results best first by likeness to the target inside the hole "
                   "(CLIP when connected) and by how invisible the hole's border is.")
    CATEGORY = CATEGORY
    FUNCTION = "rank"
    RETURN_TYPES = ("IMAGE", "IMAGE", "STRING")
    RETURN_NAMES = ("best", "sorted", "scores")
    OUTPUT_TOOLTIPS = ("The best result.", "All results, best first.", "One line of scores per result.")

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "A batch of results (e.g. Fill-in Composite of a batch)."}),
                "target": (TARGET, {"tooltip": "From Fill-in Target Encoder."}),
            },
            "optional": {
                "hole": ("MASK", {"tooltip": "The hole used for sampling (default: the target's silhouette)."}),
                "clip_vision": ("CLIP_VISION", {"tooltip": "Optional CLIP vision model: similarity by CLIP cosine instead of colour and structure."}),
            },
        }

    def rank(self, images, target, hole=None, clip_vision=None):
        from ..fillblank_core.clip import comfy_embed_fn
        from ..fillblank_core.rank import format_scores, rank_batch, sort_batch
        rgb(images, "images")
        M.broadcast_batch(result="images", images=batch_of(images), target=batch_of(target), hole=batch_of(hole))
        if tuple(images.shape[1:3]) != target.scene_hw:
            raise ValueError(f"images are {images.shape[2]}x{images.shape[1]} px but the target was placed on a "
                             f"{target.scene_hw[1]}x{target.scene_hw[0]} scene; rank the composited results")
        holes = mask_input(hole, "hole", target.scene_hw)[:, 0] if hole is not None else target.mask
        if any(M.mask_box(h) is None for h in holes):
            raise ValueError("hole is empty: connect the hole used for sampling")
        embed = comfy_embed_fn(clip_vision) if clip_vision is not None else None
        ranked = rank_batch(images, target.image, holes, target.mask, embed_fn=embed)
        ordered = sort_batch(images, ranked)
        return (ordered[:1], ordered, format_scores(ranked))
