"""fillblank — "Fill in the ____": target-guided inpainting nodes for ComfyUI."""

try:
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
except ModuleNotFoundError as exc:  # outside ComfyUI (pytest importing the repo root): no nodes
    if exc.name not in ("comfy", "latent_preview", "folder_paths"):
        raise
    NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = {}, {}

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
