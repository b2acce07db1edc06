"""ComfyUI node classes: convert ComfyUI types, call fillblank_core, return."""

from .composite import FillBlankComposite
from .crop import FillBlankCrop
from .insert import FillBlankInsert
from .lambda_schedule import FillBlankLambdaSchedule
from .mask_refiner import FillBlankMaskRefiner
from .segmentation import FillBlankRank, FillBlankSAMLoader
from .sampler import FillBlankSampler, FillBlankSamplerSelect
from .target_encoder import FillBlankTargetEncoder

NODE_CLASS_MAPPINGS = {
    "FillBlankInsert": FillBlankInsert,
    "FillBlankTargetEncoder": FillBlankTargetEncoder,
    "FillBlankMaskRefiner": FillBlankMaskRefiner,
    "FillBlankLambdaSchedule": FillBlankLambdaSchedule,
    "FillBlankSampler": FillBlankSampler,
    "FillBlankSamplerSelect": FillBlankSamplerSelect,
    "FillBlankComposite": FillBlankComposite,
    "FillBlankCrop": FillBlankCrop,
    "FillBlankSAMLoader": FillBlankSAMLoader,
    "FillBlankRank": FillBlankRank,
}
NODE_DISPLAY_NAME_MAPPINGS = {
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
