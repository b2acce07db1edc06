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


def tiny_model(seed: int = 0, prediction: str = "eps"):
    """A ModelPatcher around a small SD-style UNet; prediction 'eps' or 'v'."""
    import comfy.model_base
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models_base

    unet_config = {
        "in_channels": 4, "out_channels": 4, "model_channels": 32, "num_res_blocks": 1,
        "channel_mult": [1, 2], "num_heads": 1,
        "num_head_channels": -1, "transformer_depth": [0, 1], "transformer_depth_output": [0, 0, 1, 1], "transformer_depth_middle": 1,
        "context_dim": CONTEXT_DIM, "use_linear_in_transformer": True, "adm_in_channels": None,
        "use_spatial_transformer": True, "dims": 2, "use_checkpoint": False, "image_size": 32,
 "num_classes": None,
    }

    class TinyConfig(comfy.supported_models_base.BASE):
        unet_extra_config = {"num_heads": 1, "num_head_channels": -1}
        sampling_settings = {}

        def model_type(self, state_dict, prefix=""):
            return comfy.model_base.ModelType.V_PREDICTION if prediction == "v" else comfy.model_base.ModelType.EPS

    config = TinyConfig(dict(unet_config))
    model = config.get_model({}, device="cpu")
    model.diffusion_model.load_state_dict(_seeded_state_dict(model.diffusion_model, seed), strict=True)
    model.eval()
    dev = comfy.model_management.get_torch_device()
    return comfy.model_patcher.ModelPatcher(model, load_device=dev,
                                            offload_device=comfy.model_management.unet_offload_device())


def tiny_vae(seed: int = 1):
    """A comfy.sd.VAE: 4 levels (downscale 8), ch=32, 4 latent channels."""
    import comfy.sd
    from comfy.ldm.models.autoencoder import AutoencoderKL

    ddconfig = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3,
                "ch": 32, "ch_mult": [1, 1, 1, 1], "num_res_blocks": 1, "attn_resolutions": [],
                "dropout": 0.0}
    config = {"params": {"ddconfig": ddconfig, "embed_dim": 4}}
    probe = AutoencoderKL(ddconfig=ddconfig, embed_dim=4)
    sd = _seeded_state_dict(probe, seed, scale=0.02)
    return comfy.sd.VAE(sd=sd, config=config)


def empty_conditioning(batch: int = 1):
    return [[torch.zeros(batch, 1, CONTEXT_DIM), {}]]
