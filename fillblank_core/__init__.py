"""fillblank_core — the pure library behind the fillblank ComfyUI nodes.

Target-guided RePaint inpainting over any k-diffusion-style sampler. This package never imports
ComfyUI (comfy, folder_paths, nodes, server); it needs torch, numpy and pillow, and imports
transformers / segment_anything only inside their wrappers. The evaluation machinery (toy scenes,
the tiny learned toy model, analytic denoisers, metrics, the demo) lives in ``fillblank_lab``,
which may import this package — never the reverse.
"""

from .spaces import NoiseSpace, find_noise_scaling
from .schedules import LambdaSchedule, parse_keyframes
from .sampling import (
    sample_fillblank,
    count_model_evaluations,
    count_steps,
    plan_chunks,
    GuidedDenoiser,
    KnownRegionDenoiser,
    inpaint,
    sample_euler,
    sample_euler_ancestral,
    SAMPLER_COST,
)

__all__ = [
    "NoiseSpace", "find_noise_scaling", "LambdaSchedule", "parse_keyframes",
    "sample_fillblank", "count_model_evaluations", "count_steps", "plan_chunks",
    "GuidedDenoiser", "KnownRegionDenoiser", "inpaint", "sample_euler",
    "sample_euler_ancestral", "SAMPLER_COST",
]
__version__ = "0.1.0"
