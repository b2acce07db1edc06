"""Fill-in SAM Loader: a Segment Anything checkpoint from ComfyUI's models/sams folder."""

from __future__ import annotations

import os

import folder_paths
from comfy_api.latest import io

from .common import SamModel, schema

SAM_EXTENSIONS = {".pth", ".pt", ".safetensors"}


def register_sams_folder() -> None:
    """models/sams, the folder Impact-Pack and comfyui_segment_anything users already fill.

    extra_model_paths.yaml may have registered "sams" before us with no extensions: keep its paths,
    add the default folder and our extensions."""
    paths, exts = folder_paths.folder_names_and_paths.get("sams", ([], set()))
    default = os.path.join(folder_paths.models_dir, "sams")
    paths = list(paths) + ([default] if default not in paths else [])
    folder_paths.folder_names_and_paths["sams"] = (paths, set(exts) | SAM_EXTENSIONS)


register_sams_folder()


class FillBlankSAMLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "FillBlankSAMLoader", "target",
            "Loads a Segment Anything checkpoint (vit_b / vit_l / vit_h, detected from the file) from ComfyUI's "
            "models/sams folder.",
            inputs=[io.Combo.Input("sam_name", options=folder_paths.get_filename_list("sams"), tooltip=(
                "A SAM checkpoint in models/sams (sam_vit_b_01ec64.pth, sam_vit_l_0b3195.pth or "
                "sam_vit_h_4b8939.pth); create the folder if it is missing."))],
            outputs=[SamModel.Output(display_name="sam", tooltip=(
                "SAM model for Fill-in Target Encoder (cut-out) and Fill-in Mask Refiner (mode sam); the same type "
                "as Impact-Pack's and comfyui_segment_anything's SAM_MODEL."))])

    @classmethod
    def execute(cls, sam_name) -> io.NodeOutput:
        from ..fillblank_core.segment import SamLoadError, load_sam
        path = folder_paths.get_full_path("sams", sam_name)
        if path is None:
            raise SamLoadError(f"SAM checkpoint {sam_name!r} was not found; put a SAM checkpoint "
                               "(e.g. sam_vit_b_01ec64.pth) in ComfyUI's models/sams folder")
        return io.NodeOutput(load_sam(path))
