"""ComfyUI node classes: convert ComfyUI types, call fillblank_core, return."""

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
