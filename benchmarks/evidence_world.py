"""The evidence world's runner (``benchmarks/evidence.py``; the world and its metrics are in
fillblank_lab/evidence.py): the methods and cells, the ComfyUI host, the world's exact denoiser as a
ComfyUI model, and one latent format's bench — the user's nodes at their defaults, one method's run
and its score. The broken and limit variants of the guidance are patched in by
``evidence_variants``; evaluating cells is ``evidence_cells``, the report ``evidence_report``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from evidence_variants import broken_guidance, last_call_variant
from fillblank_core.masks import latent_hole
from fillblank_core.spaces import NoiseSpace
from fillblank_lab import evidence as E
from fillblank_lab.denoisers import ExemplarDenoiser

BAR = 0.95
PREV_KEYFRAMES = "0:1, 0.6:1, 0.8:0"
IMG2IMG = (0.3, 0.5, 0.7)
BROKEN = ("broken_no_noise", "broken_double_noise", "broken_pred_only", "broken_raw_target",
          "broken_covered_fraction")
METHODS = ("default", "no_target", "paste", *(f"img2img_{d}" for d in IMG2IMG), "prev_default", *BROKEN)
# Broken variants this world cannot see: with an exact posterior the guided input's noise term only
# adds a zero-mean term to the class evidence (removing or doubling it changes how random the
# decision is, not where the evidence points), and the state converges to the pulled prediction
# either way. They are reported, not used for validity; tests/test_core_dynamics.py and
# scripts/mutants.py check the noise level exactly instead.
UNSEEN = ("broken_no_noise", "broken_double_noise", "broken_pred_only")
MUST_FAIL = ("paste", *(m for m in BROKEN if m not in UNSEEN))  # the cell is valid only if these stay below
BASELINES = ("no_target", "paste", *(f"img2img_{d}" for d in IMG2IMG), "prev_default")  # what a user has
# The limit of a run whose last model call is at high noise (``--limit``): the default's schedule with
# its last model call changed. ``last_call_ceiling``: the whole hole shown the RIGHT answer (the lit
# exemplar of the target's class, with its shadow) at full input weight, the prediction returned
# unpulled — no design whose output pull ends inside the run can give the last call a better input;
# ``last_call_input``: the decoupled design (the last call sees the guidance — target in the object,
# scene continuation around it — at full input weight, its prediction not pulled);
# ``context_to_end``: the rest of the hole held like the object (CONTEXT_KEYFRAMES = the default's).
LIMIT = ("last_call_ceiling", "last_call_input", "context_to_end")
LIMIT_METHODS = ("default", "img2img_0.3", *LIMIT)


@dataclass(frozen=True)
class Cell:
    """One model family × schedule × sampler configuration."""
    name: str
    fmt: str                   # latent format (fillblank_lab.evidence.FORMATS)
    flow: bool
    sampler: str
    scheduler: str
    steps: int
    cfg: float = 1.0
    sampling: tuple = ()       # () | ("sd3", shift) | ("flux", width_height)
    note: str = ""


CELLS = (
    Cell("sd15 euler normal 20", "sd15", False, "euler", "normal", 20),
    Cell("sd15 dpmpp_2m karras 20", "sd15", False, "dpmpp_2m", "karras", 20),
    Cell("sd15 lcm sgm_uniform 4", "sd15", False, "lcm", "sgm_uniform", 4, note="LCM-style 4 steps"),
    Cell("sdxl euler_ancestral normal 20 cfg 5", "sdxl", False, "euler_ancestral", "normal", 20, cfg=5.0,
         note="positive ≠ negative"),
    Cell("sd3 shift 1 euler simple 20", "sd3", True, "euler", "simple", 20, sampling=("sd3", 1.0)),
    Cell("sd3 shift 3 euler simple 20", "sd3", True, "euler", "simple", 20, sampling=("sd3", 3.0)),
    Cell("sd3 shift 3 dpmpp_2m simple 20", "sd3", True, "dpmpp_2m", "simple", 20, sampling=("sd3", 3.0)),
    Cell("flux mu 1.15 euler simple 20", "flux", True, "euler", "simple", 20, sampling=("flux", 1024),
         note="ModelSamplingFlux 1024×1024"),
    Cell("flux shift 3 euler simple 4", "flux", True, "euler", "simple", 4, sampling=("sd3", 3.0),
         note="4-step distilled flow"),
)
# cells outside the table, for --limit / --cells: the few-step runs at 8 steps
EXTRA_CELLS = (
    Cell("sd15 lcm sgm_uniform 8", "sd15", False, "lcm", "sgm_uniform", 8, note="LCM-style 8 steps"),
    Cell("flux shift 3 euler simple 8", "flux", True, "euler", "simple", 8, sampling=("sd3", 3.0)),
)
CELL_BY_NAME = {c.name: c for c in (*CELLS, *EXTRA_CELLS)}


# --- the host ---------------------------------------------------------------------------------------

def load_host():
    """ComfyUI in-process on the CPU, the pack as ComfyUI imports it, and the host's nodes.py."""
    import reliability
    pack = reliability.load_host()
    host_nodes = sys.modules.get("nodes")
    if host_nodes is None or not hasattr(host_nodes, "KSampler"):
        import comfy.samplers
        path = Path(comfy.samplers.__file__).resolve().parents[1] / "nodes.py"
        spec = importlib.util.spec_from_file_location("nodes", path)
        host_nodes = importlib.util.module_from_spec(spec)
        sys.modules["nodes"] = host_nodes
        spec.loader.exec_module(host_nodes)
    return pack, host_nodes


def comfy_model(denoiser, fmt: str, flow: bool):
    """A ComfyUI ModelPatcher with the real latent format whose model call is the exact denoiser."""
    import comfy.latent_formats
    import comfy.model_base
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models_base

    spec = E.FORMATS[fmt]
    c = spec.channels
    unet_config = {"in_channels": c, "out_channels": c, "model_channels": 32, "num_res_blocks": 1,
                   "channel_mult": [1], "num_heads": 1, "num_head_channels": -1,
                   "transformer_depth": [0], "transformer_depth_output": [0, 0],
                   "transformer_depth_middle": 0, "context_dim": 32, "use_linear_in_transformer": True,
                   "adm_in_channels": None, "use_spatial_transformer": True, "dims": 2,
                   "use_checkpoint": False, "image_size": 32, "num_classes": None}

    class Config(comfy.supported_models_base.BASE):
        unet_extra_config = {"num_heads": 1, "num_head_channels": -1}
        sampling_settings = {"shift": 1.0, "multiplier": 1.0} if flow else {}
        latent_format = getattr(comfy.latent_formats, spec.comfy_class)

        def model_type(self, state_dict, prefix=""):
            return comfy.model_base.ModelType.FLOW if flow else comfy.model_base.ModelType.EPS

    model = Config(dict(unet_config)).get_model({}, device="cpu")
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                               offload_device=comfy.model_management.unet_offload_device())

    def exact(apply_model, args):
        return denoiser(args["input"], args["timestep"])
    patcher.set_model_unet_function_wrapper(exact)
    return patcher


def with_sampling(model, sampling: tuple):
    """The model as ComfyUI's ModelSamplingSD3 / ModelSamplingFlux nodes patch it."""
    if not sampling:
        return model
    import comfy_extras.nodes_model_advanced as adv
    if sampling[0] == "sd3":
        return adv.ModelSamplingSD3().patch(model, float(sampling[1]))[0]
    if sampling[0] == "flux":
        side = int(sampling[1])
        return adv.ModelSamplingFlux().patch(model, 1.15, 0.5, side, side)[0]
    raise ValueError(f"unknown sampling patch {sampling!r}")


def conditioning(value: float = 0.0):
    return [[torch.full((1, 1, 32), float(value)), {}]]


# --- one family's bench -----------------------------------------------------------------------------

@dataclass
class Prepared:
    record: object
    hole: torch.Tensor          # [1, H, W] the Mask Refiner's output
    hole_px: torch.Tensor       # [1, H, W] the repainted cells at pixel size
    hole_lat: torch.Tensor      # [1, 1, h, w]
    silhouette: torch.Tensor
    paste_decoded: torch.Tensor


class BenchNodes:
    """What every bench of a world shares: its exact denoiser as a ComfyUI model (one per sampling
    patch), the user's nodes and their default widgets."""

    def __init__(self, pack, host_nodes, denoiser, fmt: str, flow: bool):
        self.pack, self.host_nodes, self.fmt, self.flow = pack, host_nodes, fmt, flow
        self.denoiser = denoiser
        self.base_model = comfy_model(denoiser, fmt, flow)
        self._models = {}
        m = pack.nodes.NODES_BY_ID
        import reliability
        self.enc, self.ref, self.smp = m["FillBlankTargetEncoder"], m["FillBlankMaskRefiner"], m["FillBlankSampler"]
        self.defaults = {k: reliability._defaults(m[k]) for k in
                         ("FillBlankTargetEncoder", "FillBlankMaskRefiner", "FillBlankSampler")}
        self.schedules = sys.modules[pack.__name__ + ".fillblank_core.schedules"]
        self._prepared = {}

    def encoder_widgets(self, seed: int) -> dict:
        """Target Encoder's widgets for a run: its defaults, placed where the seed's cut-out lands."""
        pl = E.Placement.for_seed(seed)
        return dict(self.defaults["FillBlankTargetEncoder"], x=pl.x, y=pl.y, scale=pl.scale)

    def model(self, sampling: tuple):
        if sampling not in self._models:
            self._models[sampling] = with_sampling(self.base_model, sampling)
        return self._models[sampling]


class Bench(BenchNodes):
    """The world of one latent format / noise space, its ComfyUI model and the user's nodes."""

    def __init__(self, pack, host_nodes, fmt: str, flow: bool, shadow: str = "contact", classes=None):
        self.world = E.EvidenceWorld(fmt, classes=classes, shadow=shadow)
        space = NoiseSpace.flow() if flow else NoiseSpace.eps()
        super().__init__(pack, host_nodes, ExemplarDenoiser(self.world.exemplars, space,
                                                            log_prior=self.world.log_prior), fmt, flow)

    def prepare(self, cls: str, light: str, seed: int) -> Prepared:
        key = (cls, light, seed)
        if key not in self._prepared:
            w = self.world
            img, mask = w.targets[cls]
            d = self.encoder_widgets(seed)
            record = self.enc.execute(target=img, scene=w.scenes[light], vae=w.vae, target_mask=mask, **d)[0]
            hole = self.ref.execute(hole=E.drawn_hole(shadow=w.shadow_kind), target=record,
                                    **dict(self.defaults["FillBlankMaskRefiner"]))[0]
            h_lat = latent_hole(hole, (E.SCENE // 8, E.SCENE // 8))
            hole_px = h_lat.repeat_interleave(8, -1).repeat_interleave(8, -2).reshape(1, E.SCENE, E.SCENE)
            self._prepared[key] = Prepared(record, hole, hole_px, h_lat, record.mask,
                                           w.vae.decode(record.latent))
        return self._prepared[key]

    def sample(self, method: str, cell: Cell, cls: str, light: str, seed: int, schedule=None,
               sampler_kwargs=None) -> torch.Tensor:
        """The output latent (raw, as the node gives it) of one method on one run."""
        p = self.prepare(cls, light, seed)
        model = self.model(cell.sampling)
        pos = conditioning(0.5 if cell.cfg != 1.0 else 0.0)
        neg = conditioning(0.0)
        scene_latent = {"samples": self.world.scene_latents[light]}
        if method.startswith("img2img_"):
            n = self.host_nodes
            lat = n.VAEEncode().encode(self.world.vae, p.record.composite)[0]
            lat = n.SetLatentNoiseMask().set_mask(lat, p.hole)[0]
            return n.KSampler().sample(model, seed, cell.steps, cell.cfg, cell.sampler, cell.scheduler, pos, neg,
                                       lat, denoise=float(method.split("_")[1]))[0]["samples"]
        LS = self.schedules.LambdaSchedule
        kw = dict(self.defaults["FillBlankSampler"])
        kw.update(seed=seed, steps=cell.steps, cfg=cell.cfg, sampler_name=cell.sampler, scheduler=cell.scheduler)
        kw.update(sampler_kwargs or {})
        if method == "candidate" or method in BROKEN:  # broken variants of the candidate, if one is given
            if schedule is not None:
                kw["schedule"] = schedule
        elif method == "no_target":
            kw["schedule"] = LS.constant(0.0)
        elif method == "paste":
            kw["schedule"] = LS.constant(1.0)
        elif method == "prev_default":
            kw["schedule"] = LS(kind="keyframes", axis="noise", keyframes=PREV_KEYFRAMES)
        elif method not in ("default", *BROKEN, *LIMIT):
            raise ValueError(f"unknown method {method!r}")
        if method in BROKEN:
            ctx = broken_guidance(self.pack, method, self.world.spec.process_out)
        elif method in LIMIT:
            ctx = last_call_variant(self.pack, method, cell.steps, lambda t, m: self.lit_exemplar(cls, light, t, m))
        else:
            ctx = contextlib.nullcontext()
        with ctx:
            return self.smp.execute(model=model, positive=pos, negative=neg, latent_image=scene_latent,
                                    target=p.record, hole=p.hole, **kw)[0]["samples"]

    def lit_exemplar(self, cls: str, light: str, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The model's datum for this run (class and light), in model space: the variant nearest the
        placed target inside the object's cells."""
        ex = self.denoiser.images
        idx = [self.world.index(cls, light, v) for v in range(len(E.VARIANTS))]
        t, m = target[:1].to(ex), mask[:1].to(ex)
        d = [float((((ex[i] - t[0]) ** 2) * m[0]).sum()) for i in idx]
        return ex[idx[min(range(len(d)), key=d.__getitem__)]][None]

    def score(self, out: torch.Tensor, cls: str, light: str, seed: int) -> dict:
        p = self.prepare(cls, light, seed)
        w = self.world
        dec = w.vae.decode(out)
        got = w.identity(dec, p.hole_px)
        h = w.harmony(dec, cls, light, p.paste_decoded, p.silhouette, p.hole_px)
        keep = (p.hole_lat == 0).expand_as(out)
        err = float((out - w.scene_latents[light])[keep].abs().max())
        ident = got[0] == cls
        return {"identity": ident, "harmony": h["harmony"], "joint": ident and h["harmony"],
                "lit": h["lit"], "shadow": h["shadow"], "got": got[0], "got_light": got[1],
                "seam": w.seam(dec, p.hole_px, light), "known_err": err}


def runs_for(seeds: int, classes) -> list[tuple[str, str, int]]:
    """(class, light, seed): seed s → class s mod n, light (s // n) mod 3, so 24 seeds cover every
    class under every light once."""
    lights = tuple(E.LIGHTS)
    n = len(classes)
    return [(classes[s % n], lights[(s // n) % len(lights)], 1000 + s) for s in range(seeds)]


def latent_px(hole: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(the repainted cells [1,1,h/8,w/8], the same at pixel size [1,h,w])."""
    lat = latent_hole(hole, (h // 8, w // 8))
    return lat, lat.repeat_interleave(8, -1).repeat_interleave(8, -2).reshape(1, h, w)

_BENCHES: dict = {}


def bench_for(pack, host_nodes, cell: Cell, shadow: str = "contact") -> Bench:
    """The cell's bench (cached); ``shadow``: the world's shadow ("cast": the cast-shadow variant)."""
    key = (cell.fmt, cell.flow, shadow)
    if key not in _BENCHES:
        _BENCHES[key] = Bench(pack, host_nodes, cell.fmt, cell.flow, shadow)
    return _BENCHES[key]
