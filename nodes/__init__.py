"""ComfyUI nodes (V3 schema, comfy_api): convert ComfyUI types, call fillblank_core, return."""

from comfy_api.latest import ComfyExtension, io

from .composite import FillBlankComposite
from .crop import FillBlankCrop
from .insert import FillBlankInsert
from .lambda_schedule import FillBlankLambdaSchedule
from .mask_refiner import FillBlankMaskRefiner
from .rank import FillBlankRank
from .sam_loader import FillBlankSAMLoader
from .sampler import FillBlankSampler, FillBlankSamplerSelect
from .target_encoder import FillBlankTargetEncoder
from .web import register_routes

# in the order of the "Add Node" menu: the one-node path first, then the modular chain
NODES: list[type[io.ComfyNode]] = [
    FillBlankInsert,
    FillBlankTargetEncoder,
    FillBlankMaskRefiner,
    FillBlankLambdaSchedule,
    FillBlankSampler,
    FillBlankSamplerSelect,
    FillBlankComposite,
    FillBlankCrop,
    FillBlankSAMLoader,
    FillBlankRank,
]
# node id → class (ids are the class names: what saved workflows store as the node type)
NODES_BY_ID = {cls.__name__: cls for cls in NODES}


class FillBlankExtension(ComfyExtension):
    async def on_load(self) -> None:
        register_routes()  # the placement editor's cut-out preview

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        # ComfyUI 0.3.75 (Dec 2025) never calls on_load; its server adds the route table after this
        register_routes()
        return list(NODES)


async def comfy_entrypoint() -> FillBlankExtension:
    return FillBlankExtension()
