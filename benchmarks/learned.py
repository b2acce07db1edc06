"""The learned world: novel (held-out) objects inserted with learned latent models through the real
nodes, against the user's baselines, same seeds for every method.

World: fillblank_lab/scenes.py (procedural scenes, one light, cast + contact shadow; held-out object
families, textures and photos). Models: fillblank_lab/learned.py trained by
benchmarks/train_learned.py, loaded as ComfyUI objects by
tests/custom_nodes/fillblank_test_nodes/learned_world.py (a real BaseModel / ModelPatcher, SD15
latent format, ModelSamplingDiscrete or ModelSamplingDiscreteFlow; ModelSamplingSD3 shift 3 on the
flow cell). Metrics: fillblank_lab/learned_metrics.py (identity, harmony, joint, seam) plus the
known region's largest latent error.

Chain (every widget at its default except seed / steps / sampler / scheduler / adapt): Target Encoder
(the cut-out as LoadImage gives it, placed where the truth has it) → Mask Refiner (union with the
drawn hole over the object and its shadow) → Fill-in Sampler on VAE Encode of the scene.

Methods: ``no_target`` (λ = 0), ``paste`` (λ = 1), ``img2img_D`` (KSampler + Set Latent Noise Mask
on VAE Encode of the paste, denoise D), ``default`` (schedule unconnected), ``adapt_A`` (the default
schedule at adapt A), ``ceiling`` (the lit truth through the VAE inside the hole, the scene's latent
outside it: no sampling), ``lit_target`` (the default given the cut-out already lit by the scene: the
best possible input, the ceiling *on the learned model*), ``last_call_input`` / ``context_to_end``
(results.md's few-step designs, on the 4-step cell), and the recipe at more denoise levels
(``recipe_best`` in the summary: the best level per run).

    python benchmarks/learned.py [--seeds 48] [--cells ...] [--methods ...]
writes benchmarks/results/learned.csv and benchmarks/sections/34_learned.md (full runs only).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
for p in (REPO, HERE, REPO / "tests" / "custom_nodes" / "fillblank_test_nodes"):
    if str(p) not in sys.path:
        sys.path.append(str(p))

from fillblank_core.masks import latent_hole  # noqa: E402
from fillblank_lab import learned_metrics as M  # noqa: E402
from fillblank_lab import scenes  # noqa: E402

from bench_common import write_csv  # noqa: E402
from learned_stats import BAR, BASELINES, FEW_STEP, METHODS, format_table, summarise  # noqa: E402,F401 (BAR, BASELINES: for callers)


@dataclass(frozen=True)
class Cell:
    name: str
    kind: str
    sampler: str
    scheduler: str
    steps: int
    sampling: tuple = ()


CELLS = (
    Cell("eps euler normal 20", "eps", "euler", "normal", 20),
    Cell("eps dpmpp_2m karras 20", "eps", "dpmpp_2m", "karras", 20),
    Cell("flow shift 3 euler simple 20", "flow", "euler", "simple", 20, ("sd3", 3.0)),
    Cell("student lcm sgm_uniform 4", "student", "lcm", "sgm_uniform", 4),
)
CELL_BY_NAME = {c.name: c for c in CELLS}


def load_host():
    """ComfyUI in-process on the CPU, the pack as ComfyUI imports it, and the host's nodes.py."""
    from evidence_world import load_host as load
    return load()


def with_sampling(model, sampling: tuple):
    from evidence_world import with_sampling as ws
    return ws(model, sampling)


@dataclass
class Prepared:
    ex: object
    record: object
    hole: torch.Tensor        # [1, H, W] Mask Refiner's output
    hole_px: torch.Tensor     # [1, H, W] the repainted latent cells at pixel size
    hole_lat: torch.Tensor    # [1, 1, h, w]
    scene_latent: torch.Tensor
    scene_dec: torch.Tensor
    paste_dec: torch.Tensor
    truth_dec: torch.Tensor   # the lit truth through the VAE (the harmony reference)


class Bench:
    """One learned model's ComfyUI objects, the user's nodes with their default widgets, the runs."""

    def __init__(self, pack, host_nodes, kind: str, weights: Path | None = None):
        import reliability
        from learned_world import learned_checkpoint
        from fillblank_lab import learned as L
        self.pack, self.n = pack, host_nodes
        paths = {} if weights is None else {"unet_path": weights / L.UNET_PATHS[kind].name,
                                            "vae_path": weights / L.VAE_PATH.name}
        self.model, self.vae, self.cond = learned_checkpoint(kind, **paths)
        self._models = {}
        m = pack.nodes.NODES_BY_ID
        self.enc, self.ref, self.smp = m["FillBlankTargetEncoder"], m["FillBlankMaskRefiner"], m["FillBlankSampler"]
        self.defaults = {k: reliability._defaults(m[k]) for k in
                         ("FillBlankTargetEncoder", "FillBlankMaskRefiner", "FillBlankSampler")}
        self._prepared, self._lit = {}, {}

    def sampled_model(self, sampling: tuple):
        if sampling not in self._models:
            self._models[sampling] = with_sampling(self.model, sampling)
        return self._models[sampling]

    def prepare(self, seed: int) -> Prepared:
        if seed not in self._prepared:
            ex = scenes.example(seed, "held")
            d = dict(self.defaults["FillBlankTargetEncoder"], x=ex.x, y=ex.y, scale=ex.scale)
            record = self.enc.execute(target=ex.target, scene=ex.scene, vae=self.vae, target_mask=ex.target_mask, **d)[0]
            hole = self.ref.execute(hole=ex.hole, target=record, **dict(self.defaults["FillBlankMaskRefiner"]))[0]
            size = ex.scene.shape[1]
            h_lat = latent_hole(hole, (size // 8, size // 8))
            hole_px = h_lat.repeat_interleave(8, -1).repeat_interleave(8, -2).reshape(1, size, size)
            z = self.n.VAEEncode().encode(self.vae, ex.scene)[0]["samples"]
            self._prepared[seed] = Prepared(ex, record, hole, hole_px, h_lat, z, self.vae.decode(z),
                                            self.vae.decode(record.latent), self.vae.decode(self.vae.encode(ex.truth)))
        return self._prepared[seed]

    def seeds(self, n: int, first: int = 0) -> list[int]:
        """The first ``n`` seeds from ``first`` whose hole (Mask Refiner's, at latent size) leaves part
        of the scene: Fill-in Sampler refuses a hole over the whole image (about 1 seed in 64 here).
        Decided from the world and the refiner alone: the same seeds for every method and cell."""
        out, seed = [], first
        while len(out) < n:
            if float(self.prepare(seed).hole_lat.min()) == 0.0:
                out.append(seed)
            seed += 1
        return out

    def sample(self, method: str, cell: Cell, seed: int) -> torch.Tensor:
        """The output latent (raw) of one method on one run."""
        p = self.prepare(seed)
        if method == "ceiling":
            truth = self.vae.encode(p.ex.truth)
            return torch.lerp(p.scene_latent, truth, p.hole_lat.to(truth))
        model = self.sampled_model(cell.sampling)
        if method.startswith("img2img_"):
            return self._recipe(model, cell, seed, float(method.split("_")[1]))
        if method in FEW_STEP:  # the default with its last call (or its context) changed
            from evidence_variants import last_call_variant
            with last_call_variant(self.pack, method, cell.steps):
                return self.sample("default", cell, seed)
        LS = sys.modules[self.pack.__name__ + ".fillblank_core.schedules"].LambdaSchedule
        kw = dict(self.defaults["FillBlankSampler"])
        kw.update(seed=seed, steps=cell.steps, cfg=1.0, sampler_name=cell.sampler, scheduler=cell.scheduler)
        record = p.record
        if method == "no_target":
            kw["schedule"] = LS.constant(0.0)
        elif method == "paste":
            kw["schedule"] = LS.constant(1.0)
        elif method.startswith("adapt_"):
            kw["adapt"] = float(method.split("_")[1])
        elif method == "lit_target":
            record = self.lit_record(seed)
        elif method != "default":
            raise ValueError(f"unknown method {method!r}")
        return self.smp.execute(model=model, positive=self.cond, negative=self.cond,
                                latent_image={"samples": p.scene_latent}, target=record, hole=p.hole, **kw)[0]["samples"]

    def lit_record(self, seed: int):
        """The Target Encoder's record of the run's cut-out already lit by the scene (``scenes.lit_target``:
        the best possible input), placed like the neutral one; its silhouette, hence the hole, is the same."""
        if seed not in self._lit:
            ex = self.prepare(seed).ex
            d = dict(self.defaults["FillBlankTargetEncoder"], x=ex.x, y=ex.y, scale=ex.scale)
            self._lit[seed] = self.enc.execute(target=scenes.lit_target(ex), scene=ex.scene, vae=self.vae,
                                               target_mask=ex.target_mask, **d)[0]
        return self._lit[seed]

    def _recipe(self, model, cell: Cell, seed: int, denoise: float) -> torch.Tensor:
        """Paste + KSampler with Set Latent Noise Mask at ``denoise`` (the user's hand recipe)."""
        p = self.prepare(seed)
        lat = self.n.VAEEncode().encode(self.vae, p.record.composite)[0]
        lat = self.n.SetLatentNoiseMask().set_mask(lat, p.hole)[0]
        return self.n.KSampler().sample(model, seed, cell.steps, 1.0, cell.sampler, cell.scheduler, self.cond,
                                        self.cond, lat, denoise=denoise)[0]["samples"]

    def score(self, out: torch.Tensor, seed: int) -> dict:
        p = self.prepare(seed)
        dec = self.vae.decode(out)
        s = M.score(dec, p.ex, p.paste_dec, p.scene_dec, p.hole_px, p.truth_dec)
        keep = (p.hole_lat == 0).expand_as(out)
        s["known_err"] = float((out - p.scene_latent)[keep].abs().max()) if bool(keep.any()) else 0.0
        s["family"], s["texture"] = p.ex.obj.family, p.ex.obj.texture
        return s


def evaluate(cells=None, methods=None, seeds: int = 48, first: int = 0, progress: bool = True,
             weights: Path | None = None) -> list[dict]:
    """Rows of per-run results; ``weights``: a folder of weights instead of fillblank_lab/assets/."""
    pack, host_nodes = load_host()
    torch.set_num_threads(1)
    cells = [CELL_BY_NAME[c] if isinstance(c, str) else c for c in (cells or CELLS)]
    benches, rows = {}, []
    for cell in cells:
        if cell.kind not in benches:
            benches[cell.kind] = Bench(pack, host_nodes, cell.kind, weights)
        b = benches[cell.kind]
        t0 = time.time()
        run_seeds = b.seeds(seeds, first)
        for method in methods or METHODS:
            if method in FEW_STEP and cell.steps > 4 and not methods:
                continue  # the few-step designs: on the 4-step cell only
            for seed in run_seeds:
                out = b.sample(method, cell, seed)
                rows.append(dict(cell=cell.name, method=method, seed=seed, **b.score(out, seed)))
        if progress:
            print(f"[{cell.name}] {time.time() - t0:.0f} s", flush=True)
            print(format_table(summarise([r for r in rows if r["cell"] == cell.name])), flush=True)
    return rows


def picture(seeds, path: Path, cell: str = "eps euler normal 20", recipe: str = "img2img_0.5") -> Path:
    """A grid, one row per seed: scene, the novel target (cut-out), paste, the hand recipe (paste +
    KSampler / Set Latent Noise Mask), the fillblank default, the lit truth (exact). Scenes ×3."""
    from fillblank_lab.learned_demo import captioned_grid, target_on_checker
    pack, host_nodes = load_host()
    c = CELL_BY_NAME[cell]
    b = Bench(pack, host_nodes, c.kind)
    rows = []
    for seed in seeds:
        p = b.prepare(seed)
        outs = [b.vae.decode(b.sample(m, c, seed)) for m in ("paste", recipe, "default")]
        rows.append(torch.cat([p.ex.scene[0], target_on_checker(p.ex), *(o[0] for o in outs), p.ex.truth[0]], 1))
    captions = ["scene", "novel target", "paste (decoded)", f"paste + KSampler {recipe.split('_')[-1]}",
                "fillblank default", "lit truth (exact)"]
    path.parent.mkdir(parents=True, exist_ok=True)
    captioned_grid(rows, captions).save(path)
    print(f"wrote {path}: columns scene, target, paste, {recipe}, default, lit truth ({cell})")
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=48)
    ap.add_argument("--cells", default="")
    ap.add_argument("--methods", default="")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--weights", type=Path, default=None, help="a folder of weights (train_learned.py --out-dir) "
                    "instead of the shipped ones; writes learned_candidate.csv")
    ap.add_argument("--picture", type=Path, default=None, help="write the README grid (seeds 0..--seeds-1) here")
    a = ap.parse_args(argv)
    if a.picture:
        picture(range(a.seeds), a.picture)
        return
    cells = [c.strip() for c in a.cells.split(",") if c.strip()] or None
    methods = tuple(m.strip() for m in a.methods.split(",") if m.strip()) or None
    t0 = time.time()
    rows = evaluate(cells, methods, a.seeds, weights=a.weights)
    secs = time.time() - t0
    full = cells is None and methods is None and a.weights is None
    out = a.out or RESULTS / ("learned.csv" if full else "learned_candidate.csv")
    write_csv(rows, out)
    print(f"{len(rows)} runs in {secs:.0f} s; csv {out}")
    if a.out is None and full:
        import json
        import learned_report
        (RESULTS / "learned_time.json").write_text(json.dumps({"seconds": round(secs, 1), "seeds": a.seeds,
                                                               "head": learned_report._head()}) + "\n")
        learned_report.write_section(rows, a.seeds, secs, head=learned_report._head())


if __name__ == "__main__":
    main()
