"""Does the placed target appear where it is placed, with the DEFAULT node settings?

The world: an exact-posterior model whose hole can hold one of five objects (disc, ring, cross,
triangle, L — shapes with a hole and with concavities, each its own colour) over one shared
background, so the classes differ only inside the hole. The model is ComfyUI's own ModelPatcher
(a tiny BaseModel, eps or flow noise space) whose UNet call is replaced by the exact MMSE denoiser
over the five scene latents (fillblank's ExemplarDenoiser), with a prior that makes the L a class
the unguided model never produces (log prior −12). The VAE is a fixed linear 8× pixel pooling
(deterministic, so the exemplars are exactly the encoded scenes).

A user's chain, with every widget at its default except seed / steps / sampler / scheduler
(and denoise in the denoise row): Target Encoder (the object as a LoadImage RGBA cut-out —
IMAGE plus its MASK — placed over the hole at its own size) → Mask Refiner (mode as given;
default union with a drawn hole covering every class's object) → FillBlank Sampler, or
Sampler Select inside ComfyUI's SamplerCustom path (sample_custom with the full-size hole as the
latent's noise mask, as Set Latent Noise Mask + SamplerCustom do). A hit: the result's nearest
exemplar inside the repainted region is the target's class.

Run (needs a ComfyUI checkout; the test command sets COMFYUI_PATH):
    COMFYUI_PATH=... .venv/bin/python benchmarks/reliability.py [--seeds 48] [--quick]
writes benchmarks/results/reliability.csv and prints the table for results.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "scripts"))
import comfy_host  # noqa: E402  (the one host / pack loader)
from fillblank_lab.denoisers import ExemplarDenoiser  # noqa: E402
from fillblank_core.masks import latent_hole  # noqa: E402
from fillblank_core.spaces import NoiseSpace  # noqa: E402

SCENE = 96          # px, square scene: a 12×12 latent
BOX = 40            # px, every object fits a BOX×BOX square centred in the scene
CLASSES = ("disc", "ring", "cross", "triangle", "ell")
COLOURS = {"disc": (0.85, 0.15, 0.15), "ring": (0.15, 0.75, 0.2), "cross": (0.15, 0.3, 0.9),
           "triangle": (0.95, 0.85, 0.1), "ell": (0.8, 0.2, 0.8)}
RARE = "ell"        # never produced without guidance
RARE_LOG_PRIOR = -12.0
SAMPLERS = ("euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_sde", "heun")


# --- the world ------------------------------------------------------------------------------------

def shape_alpha(name: str, size: int, supersample: int = 4) -> torch.Tensor:
    """Coverage [size, size] in 0..1 of a shape filling a size×size box (anti-aliased)."""
    n = size * supersample
    c = (torch.arange(n, dtype=torch.float64) + 0.5) / n * 2.0 - 1.0  # −1..1
    y, x = torch.meshgrid(c, c, indexing="ij")
    r = torch.sqrt(x * x + y * y)
    if name == "disc":
        inside = r <= 1.0
    elif name == "ring":
        inside = (r <= 1.0) & (r >= 0.5)
    elif name == "cross":
        inside = ((x.abs() <= 0.3) | (y.abs() <= 0.3))
    elif name == "triangle":  # apex up, base at the bottom
        inside = (y <= 1.0) & (x.abs() <= (y + 1.0) / 2.0)
    elif name == "ell":
        inside = ((x <= -0.3) | (y >= 0.4))
    else:
        raise ValueError(f"unknown shape {name!r}")
    a = inside.to(torch.float32).reshape(size, supersample, size, supersample).mean((1, 3))
    return a


def background(h: int = SCENE, w: int = SCENE) -> torch.Tensor:
    """The shared scene [h, w, 3]: a smooth gradient with a soft texture."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    r = 0.45 + 0.2 * xx + 0.05 * torch.sin(9 * yy)
    g = 0.5 + 0.15 * yy + 0.05 * torch.cos(7 * xx)
    b = 0.55 - 0.15 * xx + 0.04 * torch.sin(5 * (xx + yy))
    return torch.stack([r, g, b], -1).clamp(0, 1)


def box_slice():
    o = (SCENE - BOX) // 2
    return slice(o, o + BOX)


def scene_with(name: str | None) -> torch.Tensor:
    """[1, H, W, 3]: the background with the named object in the hole (None: empty)."""
    img = background()
    if name is not None:
        a = shape_alpha(name, BOX)[..., None]
        col = torch.tensor(COLOURS[name])
        s = box_slice()
        img[s, s] = img[s, s] * (1 - a) + col * a
    return img[None]


def target_image(name: str, size: int = 2 * BOX):
    """The object as LoadImage gives a transparent PNG: IMAGE [1,h,w,3] (white where transparent)
    and MASK [1,h,w] with 1 = transparent."""
    a = shape_alpha(name, size)
    col = torch.tensor(COLOURS[name])
    img = torch.ones(size, size, 3) * (1 - a[..., None]) + col * a[..., None]
    return img[None], (1.0 - a)[None]


def drawn_hole(margin: int = 4) -> torch.Tensor:
    """The hole a user draws over the object's place: a square a little larger than BOX. [1,H,W]."""
    m = torch.zeros(1, SCENE, SCENE)
    o = (SCENE - BOX) // 2 - margin
    m[:, o:o + BOX + 2 * margin, o:o + BOX + 2 * margin] = 1.0
    return m


class PixelVAE:
    """A deterministic linear VAE: 8× average pooling, 4 channels (R, G, B, luminance) scaled to
    unit-ish range. Has what the nodes and ComfyUI use of a VAE (encode, decode, downscale_ratio)."""

    downscale_ratio = 8
    W = torch.tensor([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0], [0.9, 0.9, 0.9]])

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels[..., :3].movedim(-1, 1).float() - 0.5
        x = F.avg_pool2d(x, 8)
        return torch.einsum("kc,bchw->bkhw", self.W, x)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        x = torch.einsum("ck,bkhw->bchw", torch.linalg.pinv(self.W), latent.float()) + 0.5
        return F.interpolate(x, scale_factor=8, mode="nearest").movedim(1, -1).clamp(0, 1)


class World:
    def __init__(self, space_name: str):
        self.space_name = space_name
        self.vae = PixelVAE()
        self.scene = scene_with(None)
        self.exemplars = torch.cat([self.vae.encode(scene_with(n)) for n in CLASSES])
        space = NoiseSpace.eps() if space_name == "eps" else NoiseSpace.flow()
        prior = torch.zeros(len(CLASSES), dtype=torch.float64)
        prior[CLASSES.index(RARE)] = RARE_LOG_PRIOR
        self.denoiser = ExemplarDenoiser(self.exemplars, space, log_prior=prior)
        self.targets = {n: target_image(n) for n in CLASSES}

    def classify(self, latent: torch.Tensor, region: torch.Tensor) -> list[int]:
        """Nearest exemplar of each result inside region (latent-size [B|1,1,h,w])."""
        return self.denoiser.nearest(latent, region.to(latent)).tolist()


# --- ComfyUI ----------------------------------------------------------------------------------------

def load_host(path: str | os.PathLike | None = None):
    """Import the ComfyUI host in-process on the CPU and the pack as ComfyUI imports it."""
    return comfy_host.load(path)


def comfy_model(world: World):
    """A ComfyUI ModelPatcher in the world's noise space whose model call is the exact denoiser."""
    import comfy.model_base
    import comfy.model_management
    import comfy.model_patcher
    import comfy.model_sampling
    import comfy.supported_models_base

    unet_config = {"in_channels": 4, "out_channels": 4, "model_channels": 32, "num_res_blocks": 1,
                   "channel_mult": [1], "num_heads": 1, "num_head_channels": -1,
                   "transformer_depth": [0], "transformer_depth_output": [0, 0],
                   "transformer_depth_middle": 0, "context_dim": 32, "use_linear_in_transformer": True,
                   "adm_in_channels": None, "use_spatial_transformer": True, "dims": 2,
                   "use_checkpoint": False, "image_size": 32, "num_classes": None}
    flow = world.space_name == "flow"

    class Config(comfy.supported_models_base.BASE):
        unet_extra_config = {"num_heads": 1, "num_head_channels": -1}
        sampling_settings = {"shift": 1.0, "multiplier": 1.0} if flow else {}

        def model_type(self, state_dict, prefix=""):
            return comfy.model_base.ModelType.FLOW if flow else comfy.model_base.ModelType.EPS

    model = Config(dict(unet_config)).get_model({}, device="cpu")
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                               offload_device=comfy.model_management.unet_offload_device())
    den = world.denoiser

    def exact(apply_model, args):
        return den(args["input"], args["timestep"])
    patcher.set_model_unet_function_wrapper(exact)
    return patcher


def conditioning():
    return [[torch.zeros(1, 1, 32), {}]]


class Chain:
    """The user's node chain with default widgets, in-process."""

    def __init__(self, pack, world: World):
        self.pack, self.world = pack, world
        self.model = comfy_model(world)
        m = pack.nodes.NODES_BY_ID
        self.enc, self.ref = m["FillBlankTargetEncoder"], m["FillBlankMaskRefiner"]
        self.smp, self.sel = m["FillBlankSampler"], m["FillBlankSamplerSelect"]
        self.defaults = {k: _defaults(m[k]) for k in ("FillBlankTargetEncoder", "FillBlankMaskRefiner",
                                                      "FillBlankSampler", "FillBlankSamplerSelect")}
        self.latent = {"samples": world.vae.encode(world.scene)}
        self._prepared = {}

    def prepare(self, name: str, mode: str):
        key = (name, mode)
        if key not in self._prepared:
            img, mask = self.world.targets[name]
            d = dict(self.defaults["FillBlankTargetEncoder"])
            d.update(x=0.5, y=0.5, scale=BOX / SCENE)  # placed over the hole at its own size
            target = self.enc.execute(target=img, scene=self.world.scene, vae=self.world.vae,
                                     target_mask=mask, **d)[0]
            hole = self.ref.execute(hole=drawn_hole(), target=target,
                                   **dict(self.defaults["FillBlankMaskRefiner"], mode=mode))[0]
            self._prepared[key] = (target, hole)
        return self._prepared[key]

    def run(self, node: str, name: str, seed: int, steps: int, sampler: str, scheduler: str,
            denoise: float = 1.0, mode: str = "union") -> tuple[bool, torch.Tensor]:
        import comfy.sample
        target, hole = self.prepare(name, mode)
        if node == "sampler":
            d = dict(self.defaults["FillBlankSampler"])
            d.update(seed=seed, steps=steps, sampler_name=sampler, scheduler=scheduler, denoise=denoise)
            out = self.smp.execute(model=self.model, positive=conditioning(), negative=conditioning(),
                                  latent_image=self.latent, target=target, hole=hole, **d)[0]["samples"]
        else:  # Set Latent Noise Mask + SamplerCustom (add_noise, cfg 8.0 default) + BasicScheduler
            d = dict(self.defaults["FillBlankSamplerSelect"])
            d.update(sampler_name=sampler)
            ks = self.sel.execute(target=target, **d)[0]
            sigmas = self.pack.nodes.compat.sigmas_for(self.model, scheduler, steps, denoise)
            samples = self.latent["samples"]
            noise = comfy.sample.prepare_noise(samples, seed)
            out = comfy.sample.sample_custom(self.model, noise, 8.0, ks, sigmas, conditioning(), conditioning(),
                                             samples, noise_mask=hole.reshape(-1, 1, SCENE, SCENE), seed=seed)
        region = latent_hole(hole, out.shape[-2:])
        return self.world.classify(out, region)[0] == CLASSES.index(name), out


def _defaults(cls) -> dict:
    spec = cls.INPUT_TYPES()
    out = {}
    for section in ("required", "optional"):
        for k, v in spec.get(section, {}).items():
            if len(v) > 1 and isinstance(v[1], dict) and "default" in v[1]:
                out[k] = v[1]["default"]
            elif isinstance(v[0], (list, tuple)) and v[0]:
                out[k] = v[0][0]
    return out


def hit_rate(chain: Chain, node: str, seeds: int, steps: int, sampler: str, scheduler: str,
             denoise: float = 1.0, mode: str = "union", per_class: bool = False) -> tuple[float, float, dict]:
    """(hit rate over all runs, worst class's rate, rate per class). per_class: `seeds` seeds for
    every class; otherwise `seeds` seeds in all, the classes in turn (seed s → class s mod 5)."""
    hits = {n: [] for n in CLASSES}
    runs = [(n, s) for n in CLASSES for s in range(seeds)] if per_class else \
        [(CLASSES[s % len(CLASSES)], s) for s in range(seeds)]
    for name, s in runs:
        hits[name].append(chain.run(node, name, 1000 + s, steps, sampler, scheduler, denoise, mode)[0])
    per = {n: sum(v) / len(v) for n, v in hits.items() if v}
    total = sum(sum(v) for v in hits.values()) / len(runs)
    return total, min(per.values()), per


def unguided_rates(world: World, chain: Chain, seeds: int, steps: int = 20) -> dict:
    """How often plain inpainting (no target: λ = 0) produces each class."""
    sched = sys.modules[chain.pack.__name__ + ".fillblank_core.schedules"].LambdaSchedule.constant(0.0)
    counts = {n: 0 for n in CLASSES}
    target, hole = chain.prepare(CLASSES[0], "hole")
    d = dict(chain.defaults["FillBlankSampler"], steps=steps, sampler_name="euler", scheduler="normal")
    for s in range(seeds):
        out = chain.smp.execute(model=chain.model, positive=conditioning(), negative=conditioning(),
                               latent_image=chain.latent, target=target, hole=hole, schedule=sched,
                               **dict(d, seed=1000 + s))[0]["samples"]
        region = latent_hole(hole, out.shape[-2:])
        counts[CLASSES[world.classify(out, region)[0]]] += 1
    return {n: c / seeds for n, c in counts.items()}


def grid(full: bool):
    """(space, node, sampler, scheduler, steps, denoise, mode) cells."""
    for space in ("eps", "flow"):
        schedulers = ("normal", "karras") if space == "eps" else ("simple", "karras")
        for node in ("sampler", "select"):
            for sampler in SAMPLERS:
                for scheduler in schedulers:
                    for steps, denoise in ((4, 1.0), (10, 1.0), (20, 1.0), (40, 1.0), (20, 0.6)):
                        if not full and steps == 40:
                            continue
                        yield space, node, sampler, scheduler, steps, denoise, "union"
            for mode in ("hole", "silhouette", "box"):
                yield space, node, "euler", schedulers[0], 20, 1.0, mode


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=48)
    ap.add_argument("--quick", action="store_true", help="skip the 40-step column")
    ap.add_argument("--per-class", action="store_true", help="--seeds seeds for every class (5× the runs)")
    ap.add_argument("--out", default=str(RESULTS / "reliability.csv"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    pack = load_host()
    rows, worlds = [], {}
    t0 = time.time()
    for space, node, sampler, scheduler, steps, denoise, mode in grid(not args.quick):
        if space not in worlds:
            w = World(space)
            worlds[space] = (w, Chain(pack, w))
            un = unguided_rates(w, worlds[space][1], args.seeds)
            print(f"{space}: unguided class frequencies " + ", ".join(f"{k} {v:.2f}" for k, v in un.items()))
            rows.append(dict(space=space, node="unguided", sampler="euler", scheduler="normal", steps=20,
                             denoise=1.0, mode="hole", seeds=args.seeds, rate=float("nan"),
                             min_rate=min(un.values()),
                             **{f"rate_{k}": v for k, v in un.items()}))
        rate, worst, per = hit_rate(worlds[space][1], node, args.seeds, steps, sampler, scheduler, denoise, mode,
                                    args.per_class)
        rows.append(dict(space=space, node=node, sampler=sampler, scheduler=scheduler, steps=steps,
                         denoise=denoise, mode=mode, seeds=args.seeds, rate=rate, min_rate=worst,
                         **{f"rate_{k}": v for k, v in per.items()}))
        print(f"{space:4} {node:7} {sampler:16} {scheduler:7} {steps:3} d{denoise:.1f} {mode:10} "
              f"rate {rate:.3f} worst class {worst:.3f}  " + " ".join(f"{v:.2f}" for v in per.values()), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    guided = [r for r in rows if r["node"] != "unguided"]
    print(f"{len(guided)} cells, worst {min(r['rate'] for r in guided):.3f}, "
          f"{sum(r['rate'] >= 0.95 for r in guided)} at >= 0.95; {time.time() - t0:.0f} s")
    write_section(rows, args, time.time() - t0)


def write_section(rows: list[dict], args, seconds: float) -> None:
    """benchmarks/sections/10_reliability.md: the table for results.md."""
    guided = [r for r in rows if r["node"] != "unguided"]
    un = [r for r in rows if r["node"] == "unguided"]
    per = "per class" if args.per_class else "in all, the five classes in turn"
    lines = ["## Reliability: the target appears where it is placed, default widgets", "",
             f"`python benchmarks/reliability.py --seeds {args.seeds}{' --per-class' if args.per_class else ''}`"
             f" ({seconds / 60:.0f} min on the shared 2-core CPU). Exact-posterior model whose hole can hold one "
             "of five objects (disc, ring, cross, triangle, L; the L is never produced without guidance), "
             "eps and flow noise spaces; Target Encoder (LoadImage-style cut-out placed over the hole) → Mask "
             "Refiner → FillBlank Sampler, or Sampler Select in ComfyUI's SamplerCustom path; every widget at "
             f"its default except seed / steps / sampler / scheduler (denoise in the d0.6 column). "
             f"{args.seeds} seeds per cell {per}. Cell = hit rate (the result's nearest object in the hole "
             "is the target's); worst class in brackets when below the cell's rate.", ""]
    for r in un:
        lines.append(f"Without guidance ({r['space']}, euler/normal, 20 steps) the classes come out "
                     + ", ".join(f"{k[5:]} {float(v):.2f}" for k, v in r.items() if k.startswith("rate_")) + ".")
    lines.append("")
    cols = [(4, 1.0), (10, 1.0), (20, 1.0), (40, 1.0), (20, 0.6)]
    head = "| space | node | sampler | scheduler | " + " | ".join(
        f"{s} steps" + (f" d{d}" if d < 1 else "") for s, d in cols) + " |"
    lines += [head, "|" + "---|" * (4 + len(cols))]
    key = lambda r: (r["space"], r["node"], r["sampler"], r["scheduler"])  # noqa: E731
    seen = []
    for r in guided:
        if r["mode"] == "union" and key(r) not in seen:
            seen.append(key(r))
    for k in seen:
        cells = []
        for s, d in cols:
            m = [r for r in guided if key(r) == k and r["mode"] == "union" and r["steps"] == s and r["denoise"] == d]
            cells.append("–" if not m else _cell(m[0]))
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | " + " | ".join(cells) + " |")
    lines += ["", "Mask Refiner modes (euler, 20 steps):", "", "| space | node | scheduler | hole | silhouette | box |",
              "|---|---|---|---|---|---|"]
    for k in sorted({(r["space"], r["node"], r["scheduler"]) for r in guided if r["mode"] != "union"}):
        m = {r["mode"]: r for r in guided if (r["space"], r["node"], r["scheduler"]) == k and r["mode"] != "union"}
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | " + " | ".join(_cell(m[x]) if x in m else "–"
                                                                   for x in ("hole", "silhouette", "box")) + " |")
    worst = min(r["rate"] for r in guided)
    lines += ["", f"{len(guided)} cells; lowest cell {worst:.3f}; "
              f"{sum(r['rate'] >= 0.95 for r in guided)} of {len(guided)} at ≥ 0.95."]
    out = HERE / "sections" / "10_reliability.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def _cell(r: dict) -> str:
    rate, worst = float(r["rate"]), float(r["min_rate"])
    return f"{rate:.2f}" + (f" ({worst:.2f})" if worst < rate - 1e-9 else "")


if __name__ == "__main__":
    main()
