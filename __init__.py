"""fillblank — "Fill in the ____": target-guided inpainting nodes for ComfyUI (V3 node schema:
ComfyUI loads them through ``comfy_entrypoint``)."""

if not __package__:
    # imported as a plain file, not as a package (pytest collecting a checkout whose folder name is
    # not a Python identifier, e.g. a clone in "fillblank-main"): outside ComfyUI, no nodes
    comfy_entrypoint = None
else:
    try:
        from .nodes import comfy_entrypoint
    except ModuleNotFoundError as exc:  # outside ComfyUI (pytest importing the repo root): no nodes
        if exc.name not in ("comfy", "comfy_api", "latent_preview", "folder_paths"):
            raise
        comfy_entrypoint = None
        if exc.name == "comfy_api":
            import importlib.util
            import logging
            if importlib.util.find_spec("comfy") is not None:  # a ComfyUI older than the V3 node API
                logging.error("fillblank: this ComfyUI has no V3 node API (comfy_api); the pack needs "
                              "ComfyUI 0.3.75 or newer: update ComfyUI to use its nodes")

WEB_DIRECTORY = "./web"

__all__ = ["comfy_entrypoint", "WEB_DIRECTORY"]
