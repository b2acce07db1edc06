"""Tiny real ComfyUI models for tests: a UNet BaseModel, a 4-level VAE and empty conditioning.

Built from ComfyUI's own classes (DESIGN.md §3) with seeded weights, so the same objects that
ComfyUI's loaders return are exercised, in milliseconds on a CPU. Imports ComfyUI: test-only.
"""

from __future__ import annotations

import torch

CONTEXT_DIM = 32


def _seeded_state_dict(module: torch.nn.Module, seed: int, scale: float = 0.05) -> dict:
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for name, t in module.state_dict().items():
        if not t.is_floating_point():
            sd[name] = t
        elif name.endswith(".bias"):
            sd[name] = torch.zeros_like(t)
        elif t.ndim == 1:  # norm weights
            sd[name] = torch.ones_like(t)
        else:
            fan_in = max(1, t[0].numel())
            sd[name] = torch.randn(t.shape, generator=gen) * (scale if scale else 1.0) / fan_in ** 0.5 * 4
    return sd


PREDICTIONS = ("eps", "v", "flow", "flux")


def tiny_model(seed: int = 0, prediction: str = "eps", latent_format=None, shift: float | None = None):
    """A ModelPatcher around a small SD-style UNet.

    prediction: 'eps' or 'v' (ModelSamplingDiscrete), 'flow' (SD3's ModelSamplingDiscreteFlow, shift
    default 3.0) or 'flux' (ModelSamplingFlux, shift default 1.15). latent_format: a class of
    comfy.latent_formats (e.g. SD15, SDXL, SD3, Flux; default BASE's, the identity); the UNet gets its
    latent_channels (16 for SD3 / Flux), and the model its process_latent_in / _out, as a real
    checkpoint of that family has."""
    import comfy.model_base
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models_base

    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
    fmt = latent_format or comfy.supported_models_base.BASE.latent_format
    channels = int(getattr(fmt, "latent_channels", 4))
    model_types = {"eps": "EPS", "v": "V_PREDICTION", "flow": "FLOW", "flux": "FLUX"}
    settings = {"flow": {"shift": 3.0 if shift is None else shift, "multiplier": 1000},
                "flux": {"shift": 1.15 if shift is None else shift}}.get(prediction, {})
    unet_config = {
        "in_channels": channels, "out_channels": channels, "model_channels": 32, "num_res_blocks": 1,
        "channel_mult": [1, 2], "num_heads": 1,
        "num_head_channels": -1, "transformer_depth": [0, 1], "transformer_depth_output": [0, 0, 1, 1], "transformer_depth_middle": 1,
        "context_dim": CONTEXT_DIM, "use_linear_in_transformer": True, "adm_in_channels": None,
        "use_spatial_transformer": True, "dims": 2, "use_checkpoint": False, "image_size": 32,
 "num_classes": None,
    }

    class TinyConfig(comfy.supported_models_base.BASE):
        unet_extra_config = {"num_heads": 1, "num_head_channels": -1}
        sampling_settings = settings
        latent_format = fmt

        def model_type(self, state_dict, prefix=""):
            return getattr(comfy.model_base.ModelType, model_types[prediction])

        def inpaint_model(self):  # BASE takes in_channels > 4 for an inpainting UNet (mask + image concat)
            return False

    config = TinyConfig(dict(unet_config))
    model = config.get_model({}, device="cpu")
    model.diffusion_model.load_state_dict(_seeded_state_dict(model.diffusion_model, seed), strict=True)
    model.eval()
    dev = comfy.model_management.get_torch_device()
    return comfy.model_patcher.ModelPatcher(model, load_device=dev,
                                            offload_device=comfy.model_management.unet_offload_device())


def tiny_vae(seed: int = 1, latent_channels: int = 4):
    """A comfy.sd.VAE: 4 levels (downscale 8), ch=32, ``latent_channels`` latent channels (16: as
    SD3's and Flux's VAEs)."""
    import comfy.sd
    from comfy.ldm.models.autoencoder import AutoencoderKL

    c = int(latent_channels)
    ddconfig = {"double_z": True, "z_channels": c, "resolution": 256, "in_channels": 3, "out_ch": 3,
                "ch": 32, "ch_mult": [1, 1, 1, 1], "num_res_blocks": 1, "attn_resolutions": [],
                "dropout": 0.0}
    config = {"params": {"ddconfig": ddconfig, "embed_dim": c}}
    probe = AutoencoderKL(ddconfig=ddconfig, embed_dim=c)
    sd = _seeded_state_dict(probe, seed, scale=0.02)
    return comfy.sd.VAE(sd=sd, config=config)


def empty_conditioning(batch: int = 1):
    return [[torch.zeros(batch, 1, CONTEXT_DIM), {}]]
