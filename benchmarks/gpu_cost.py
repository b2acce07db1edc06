"""GPU cost of FillBlank Sampler against ComfyUI's own KSampler path.

Real-size UNets built from ComfyUI's own model configs (comfy.supported_models SD15 and SDXL)
with random fp16 weights: SD1.5 at 512² batch 8 and SDXL at 1024² batch 4, 20 steps euler/normal,
cfg 7. Baseline A = ComfyUI's KSampler path (comfy.sample.sample with the same noise-masked latent
and the same preview callback as the KSampler node); B = the FillBlank Sampler node at r = 1 with
guidance on (the measured default schedule, a target silhouette inside the hole). Runs are
interleaved A B B A; an A/A null pair measures the noise of the method. Reported: ratio of the
median wall times, peak GPU memory, host–device synchronisations per step (torch's sync debug
mode), and the time of r = 2 / r = 4 runs against their evaluation-count ratio.

    python benchmarks/gpu_cost.py --comfyui /path/to/ComfyUI [--reps 6]
    python benchmarks/gpu_cost.py --comfyui ... --smoke      # CPU, tiny latent: checks the script only

Needs a CUDA GPU (without one it says so and exits 2, unless --smoke). A machine without network
access can run it from the test host's ComfyUI folder plus two pure-Python wheels (torchsde,
trampoline) next to a Python with torch. Writes benchmarks/results/gpu_cost.json and
benchmarks/sections/40_gpu_cost.md (included in results.md by run_all.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

SD15 = {'use_checkpoint': False, 'image_size': 32, 'out_channels': 4, 'use_spatial_transformer': True,
        'legacy': False, 'adm_in_channels': None, 'in_channels': 4, 'model_channels': 320,
        'num_res_blocks': [2, 2, 2, 2], 'transformer_depth': [1, 1, 1, 1, 1, 1, 0, 0],
        'channel_mult': [1, 2, 4, 4], 'transformer_depth_middle': 1, 'use_linear_in_transformer': False,
        'context_dim': 768, 'num_heads': 8, 'transformer_depth_output': [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
        'use_temporal_attention': False, 'use_temporal_resblock': False}
SDXL = {'use_checkpoint': False, 'image_size': 32, 'out_channels': 4, 'use_spatial_transformer': True,
        'legacy': False, 'num_classes': 'sequential', 'adm_in_channels': 2816, 'in_channels': 4,
        'model_channels': 320, 'num_res_blocks': [2, 2, 2], 'transformer_depth': [0, 0, 2, 2, 10, 10],
        'channel_mult': [1, 2, 4], 'transformer_depth_middle': 10, 'use_linear_in_transformer': True,
        'context_dim': 2048, 'num_head_channels': 64,
        'transformer_depth_output': [0, 0, 0, 2, 2, 2, 10, 10, 10], 'use_temporal_attention': False,
        'use_temporal_resblock': False}
CASES = {"sd15": (SD15, 512, 8, 768, None), "sdxl": (SDXL, 1024, 4, 2048, 1280)}


def load_host(path: str):
    sys.path.insert(0, str(REPO / "scripts"))
    import comfy_host
    return comfy_host.load(path, cpu=not torch.cuda.is_available())


def build_model(unet_config: dict, dtype, device):
    """ComfyUI's model config for this UNet (matched as a checkpoint would be) with random weights."""
    import comfy.model_detection
    import comfy.model_management
    import comfy.model_patcher
    cfg = dict(unet_config, dtype=dtype)
    config = comfy.model_detection.model_config_from_unet_config(cfg)
    config.set_inference_dtype(dtype, None)
    model = config.get_model({}, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for p in model.diffusion_model.parameters():  # ComfyUI leaves weights uninitialised
            p.copy_(torch.randn(p.shape, generator=g, device=device, dtype=torch.float32).mul_(0.02).to(p.dtype))
    model.eval()
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=comfy.model_management.unet_offload_device())


def setup(pack, case: str, smoke: bool):
    unet, px, batch, ctx, pooled = CASES[case]
    dev = comfy_device()
    dtype = torch.float16 if dev.type == "cuda" else torch.float32
    if smoke:
        px, batch = 64, 1
    model = build_model(unet, dtype, dev)
    lat_hw = (px // 8, px // 8)
    g = torch.Generator().manual_seed(1)
    latent = torch.randn(batch, 4, *lat_hw, generator=g)
    hole = torch.zeros(1, px, px)
    hole[:, px // 4: 3 * px // 4, px // 4: 3 * px // 4] = 1.0
    extra = {} if pooled is None else {"pooled_output": torch.zeros(1, pooled), "width": px, "height": px}
    cond = [[torch.zeros(1, 77, ctx), extra]]
    T = sys.modules["fillblank_pack.fillblank_core.target"]
    sil = torch.zeros(1, px, px)
    sil[:, 3 * px // 8: 5 * px // 8, 3 * px // 8: 5 * px // 8] = 1.0
    scene = torch.rand(1, px, px, 3, generator=g)
    record = T.FillBlankTarget(image=scene, mask=sil, composite=scene, latent=torch.randn(1, 4, *lat_hw, generator=g),
                               placement=T.Placement(0.5, 0.5, 0.25, False, (0, 0, px, px), (px, px)))
    return model, latent, hole, cond, record


def comfy_device():
    import comfy.model_management
    return comfy.model_management.get_torch_device()


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def run_ksampler(model, latent, hole, cond, steps, seed=0):
    """What the KSampler node does (nodes.common_ksampler) with Set Latent Noise Mask's mask."""
    import comfy.sample
    import latent_preview
    noise = comfy.sample.prepare_noise(latent, seed)
    cb = latent_preview.prepare_callback(model, steps)
    return comfy.sample.sample(model, noise, steps, 7.0, "euler", "normal", cond, cond, latent, denoise=1.0,
                               noise_mask=hole, callback=cb, disable_pbar=True, seed=seed)


def run_fillblank(pack, model, latent, hole, cond, record, steps, resample=1, seed=0):
    node = pack.nodes.NODES_BY_ID["FillBlankSampler"]
    return node.execute(model, cond, cond, {"samples": latent}, record, hole, seed, steps, 7.0, "euler", "normal",
                       1.0, 10, resample, "matched")[0]["samples"]


def timed(fn) -> float:
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def peak(fn) -> int:
    if not torch.cuda.is_available():
        fn()
        return 0
    sync()
    torch.cuda.reset_peak_memory_stats()
    fn()
    sync()
    return torch.cuda.max_memory_allocated()


def count_syncs(fn) -> int:
    """Host–device synchronisations torch reports while fn runs (sync debug mode 'warn')."""
    if not torch.cuda.is_available():
        return -1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def guided_step_is_sync_free(pack) -> bool:
    """The guided denoiser's per-step work on CUDA tensors under sync debug mode 'error'."""
    if not torch.cuda.is_available():
        return False
    S = sys.modules["fillblank_pack.fillblank_core.sampling"]
    sigmas = torch.linspace(14.6, 0.0, 21, device="cuda")
    x = torch.randn(4, 4, 128, 128, device="cuda")
    dm = torch.zeros(4, 4, 128, 128, device="cuda")
    dm[..., 32:96, 32:96] = 1
    tm = torch.zeros(1, 1, 128, 128, device="cuda")
    tm[..., 48:80, 48:80] = 1

    def model(x, sigma, **kw):
        return x / (1 + sigma.reshape(-1, 1, 1, 1) ** 2)

    def base(model, x, sig, extra_args=None, callback=None, disable=None):
        s_in = x.new_ones([x.shape[0]])
        torch.cuda.set_sync_debug_mode("error")
        try:
            for i in range(len(sig) - 1):
                d = model(x, sig[i] * s_in, **extra_args)
                x = x + (x - d) / sig[i] * (sig[i + 1] - sig[i])
        finally:
            torch.cuda.set_sync_debug_mode("default")
        return x

    S.sample_fillblank(model, x * 14.6, sigmas, {"seed": 1, "denoise_mask": dm}, sampler=base,
                       target=torch.randn(1, 4, 128, 128, device="cuda"), target_mask=tm)
    return True


def measure(pack, case: str, reps: int, steps: int, smoke: bool) -> dict:
    model, latent, hole, cond, record = setup(pack, case, smoke)
    A = lambda: run_ksampler(model, latent, hole, cond, steps)  # noqa: E731
    B = lambda: run_fillblank(pack, model, latent, hole, cond, record, steps)  # noqa: E731
    for f in (A, B, A, B):  # warm-up: model load, cudnn autotune, allocator
        f()
    ta, tb, null = [], [], []
    for _ in range(reps):  # A B B A
        ta.append(timed(A))
        tb.append(timed(B))
        tb.append(timed(B))
        ta.append(timed(A))
    for _ in range(max(2, reps // 2)):  # A/A null pair
        a1, a2 = timed(A), timed(A)
        null.append(a2 / a1)
    out = {"case": case, "steps": steps, "reps": reps, "ksampler_s": statistics.median(ta),
           "fillblank_s": statistics.median(tb)}
    out["ratio"] = out["fillblank_s"] / out["ksampler_s"]
    out["pair_ratios"] = [b / a for a, b in zip(ta, tb)]
    out["null_ratio"] = statistics.median(null)
    out["null_spread"] = [min(null), max(null)]
    out["ksampler_peak"] = peak(A)
    out["fillblank_peak"] = peak(B)
    out["peak_ratio"] = out["fillblank_peak"] / out["ksampler_peak"] if out["ksampler_peak"] else float("nan")
    short = 5
    out["syncs_ksampler_5_steps"] = count_syncs(lambda: run_ksampler(model, latent, hole, cond, short))
    out["syncs_fillblank_5_steps"] = count_syncs(
        lambda: run_fillblank(pack, model, latent, hole, cond, record, short))
    evals = sys.modules["fillblank_pack.fillblank_core.sampling"].count_model_evaluations
    for r in (2, 4):
        t = statistics.median(timed(lambda: run_fillblank(pack, model, latent, hole, cond, record, steps, r))
                              for _ in range(max(2, reps // 2)))
        out[f"r{r}_time_ratio"] = t / out["fillblank_s"]
        out[f"r{r}_eval_ratio"] = evals(steps, 10, r) / evals(steps, 10, 1)
    model = None  # release it before the next case
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return out


def write_section(results: list[dict], gpu: str, path: Path):
    lines = ["## GPU cost: FillBlank Sampler vs KSampler (real-size UNets, random fp16 weights)", "",
             f"{gpu}, {time.strftime('%Y-%m-%d')}, torch {torch.__version__}; 20 steps euler/normal, cfg 7, same "
             "noise-masked latent and preview callback; A B B A interleaved, median of each; null = KSampler "
             "against itself. `python benchmarks/gpu_cost.py`.", "",
             "| model | FillBlank r=1 / KSampler | null A/A | peak memory ratio | syncs in 5 steps (KSampler / FillBlank) "
             "| r=2 time / evals | r=4 time / evals |", "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['case']} | **{r['ratio']:.3f}** | {r['null_ratio']:.3f} "
                     f"({r['null_spread'][0]:.3f}–{r['null_spread'][1]:.3f}) | {r['peak_ratio']:.3f} | "
                     f"{r['syncs_ksampler_5_steps']} / {r['syncs_fillblank_5_steps']} | "
                     f"{r['r2_time_ratio']:.2f} / {r['r2_eval_ratio']:.2f} | {r['r4_time_ratio']:.2f} / "
                     f"{r['r4_eval_ratio']:.2f} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--comfyui", default=os.environ.get("COMFYUI_PATH"), help="a ComfyUI folder (or COMFYUI_PATH)")
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cases", default="sd15,sdxl")
    ap.add_argument("--smoke", action="store_true", help="CPU, 64 px, fp32: check that the script runs")
    args = ap.parse_args(argv)
    if not args.comfyui:
        raise SystemExit("give --comfyui /path/to/ComfyUI (or set COMFYUI_PATH)")
    if not torch.cuda.is_available() and not args.smoke:
        print("gpu_cost.py needs a CUDA GPU (torch.cuda.is_available() is False); nothing measured. "
              "Use --smoke to check the script on a CPU.", file=sys.stderr)
        raise SystemExit(2)
    pack = load_host(args.comfyui)
    results = []
    for case in args.cases.split(","):
        r = measure(pack, case, 1 if args.smoke else args.reps, 2 if args.smoke else args.steps, args.smoke)
        print(json.dumps({k: v for k, v in r.items() if k != "pair_ratios"}), flush=True)
        results.append(r)
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU (smoke run, not a measurement)"
    sync_free = guided_step_is_sync_free(pack)
    if args.smoke:
        return results
    out = HERE / "results" / "gpu_cost.json"
    out.write_text(json.dumps({"gpu": gpu, "guided_step_sync_free": sync_free, "results": results}, indent=1))
    write_section(results, gpu, HERE / "sections" / "40_gpu_cost.md")
    print("wrote", out)
    return results


if __name__ == "__main__":
    main()
