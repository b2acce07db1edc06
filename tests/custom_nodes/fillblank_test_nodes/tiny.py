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
    import comfy.supported_models_base

    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
    fmt = latent_format or comfy.supported_models_base.BASE.latent_format
    channels = int(getattr(fmt, "latent_channels", 4))
    model_types = {"eps": "EPS", "v": "V_PREDICTION", "flow": "FLOW", "flux": "FLUX"}
    settings = {"flow": {"shift": 3.0 if shift is None else shift, "multiplier": 1000},
                "flux": {"shift": 1.15 if shift is None else shift}}.get(prediction, {})
    unet_config = dict(unet_config_for(channels), channel_mult=[1, 2], transformer_depth=[0, 1],
                       transformer_depth_output=[0, 0, 1, 1], transformer_depth_middle=1)

    def seeded(model):
        model.diffusion_model.load_state_dict(_seeded_state_dict(model.diffusion_model, seed), strict=True)
    return model_patcher(fmt, model_types[prediction], settings, unet_config, seeded)


def unet_config_for(channels: int) -> dict:
    """The smallest UNetModel config ComfyUI builds (one level, no attention) for ``channels``."""
    return {"in_channels": channels, "out_channels": channels, "model_channels": 32, "num_res_blocks": 1,
            "channel_mult": [1], "num_heads": 1, "num_head_channels": -1, "transformer_depth": [0],
            "transformer_depth_output": [0, 0], "transformer_depth_middle": 0, "context_dim": CONTEXT_DIM,
            "use_linear_in_transformer": True, "adm_in_channels": None, "use_spatial_transformer": True,
            "dims": 2, "use_checkpoint": False, "image_size": 32, "num_classes": None}


def model_patcher(fmt, kind: str, settings: dict, unet_config: dict, setup=None):
    """A ComfyUI ModelPatcher around the BaseModel that a BASE config with the latent format ``fmt``, the
    model type ``kind`` (a ``comfy.model_base.ModelType`` name: EPS, V_PREDICTION, FLOW, FLUX), sampling
    ``settings`` and UNet config builds, as a checkpoint loader would; ``setup(model)`` runs on the BaseModel first
    (seeded weights, a trained network in place of the UNet). ComfyUI leaves layers uninitialised."""
    import comfy.model_base
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models_base

    class Config(comfy.supported_models_base.BASE):
        unet_extra_config = {"num_heads": 1, "num_head_channels": -1}
        sampling_settings = dict(settings)
        latent_format = fmt

        def model_type(self, state_dict, prefix=""):
            return getattr(comfy.model_base.ModelType, kind)

        def inpaint_model(self):  # BASE takes in_channels > 4 for an inpainting UNet (mask + image concat)
            return False

    model = Config(dict(unet_config)).get_model({}, device="cpu")
    if setup is not None:
        setup(model)
    model.eval()
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
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
