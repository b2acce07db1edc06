"""fillblank — "Fill in the ____": target-guided inpainting nodes for ComfyUI."""

if not __package__:
    # imported as a plain file, not as a package (pytest collecting a checkout whose folder name is
    # not a Python identifier, e.g. a clone in "fillblank-main"): outside ComfyUI, no nodes
    NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = {}, {}
else:
    try:
        from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
    except ModuleNotFoundError as exc:  # outside ComfyUI (pytest importing the repo root): no nodes
        if exc.name not in ("comfy", "latent_preview", "folder_paths"):
            raise
        NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = {}, {}

WEB_DIRECTORY = "./web"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
