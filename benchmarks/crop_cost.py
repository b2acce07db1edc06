"""Crop & stitch cost: the full-frame modular chain vs Fill-in Insert on 1, 4 and 16 MP scenes.

    python benchmarks/crop_cost.py                 # a few minutes on 2 CPU cores: writes results/crop_cost.json
    python benchmarks/crop_cost.py --tiny          # seconds: the structure only (used by the tests)
    python benchmarks/crop_cost.py --full-frame-mp 1 4 16   # also the full-frame chain at 16 MP (long on a CPU)

Both paths run the pack's own node functions in-process in the ComfyUI host (COMFYUI_PATH, else the
pinned test host), on the tiny real ComfyUI model and VAE of tests/custom_nodes/fillblank_test_nodes,
with the same steps, sampler, seed and the same placement of the same target in the same hole
(a rectangle at the same place relative to the scene, so the crop keeps its aspect at every size):

- full frame: the shipped modular chain (example "Fill in an object (basic chain)"): Target Encoder (encodes
  the whole scene with the target) → Mask Refiner (union, grow 8) → VAE Encode of the scene →
  Fill-in Sampler → VAE Decode → Fill-in Composite. The VAE Encode stage is timed on its own: it is
  what leaving the Sampler's latent_image unconnected saves.
- Fill-in Insert at working size 1024: place on the full scene, crop, encode the crop, sample,
  decode, stitch.

Each configuration runs in a fresh interpreter (``--worker``), ComfyUI started with
``--use-pytorch-cross-attention`` (what ComfyUI picks on NVIDIA GPUs; its CPU default, split
attention, would claim up to ~19 GB for one slice of the VAE's attention at 4 MP on this machine).
Fill-in Insert's sizes run interleaved (1, 4, 16, 1, 4, 16, …) in one worker, the medians reported.
Times: wall clock (perf_counter) and the process's CPU time (process_time) per stage. Memory: the process's peak resident set size during one
run (Linux VmHWM, reset before the run through /proc/self/clear_refs) minus its resident size when
the run started (the scene, model and VAE are already loaded then): what the run needed on top.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
MP_SIZES = {1: (864, 1152), 4: (1728, 2304), 16: (3456, 4608)}  # (height, width), 4:3
HOLE = (0.45, 0.35, 0.65, 0.70)  # x0, y0, x1, y1 as fractions of the scene
TINY_SIZES = {0.05: (192, 256), 0.2: (384, 512)}


# --- the worker (a fresh interpreter per configuration) -------------------------------------------

def _rss_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS (VmHWM) to the current RSS (Linux 4.0+)
        return True
    except OSError:
        return False


def _load(threads: int):
    sys.path.insert(0, str(HERE))
    from cost import comfy_path
    path = comfy_path()
    sys.path.insert(0, str(path))
    import comfy.cli_args
    comfy.cli_args.args.use_pytorch_cross_attention = True  # before model_management is imported
    sys.path.insert(0, str(REPO / "scripts"))
    import comfy_host
    comfy_host.import_host(path)  # CPU, ComfyUI's own progress bar off (the node's own is measured)
    import torch
    torch.set_num_threads(threads)
    sys.path.insert(0, str(REPO / "tests" / "custom_nodes" / "fillblank_test_nodes"))
    import tiny
    return comfy_host.import_pack(REPO), tiny, path


def _inputs(hw, seed=0):
    import torch
    H, W = hw
    g = torch.Generator().manual_seed(seed)
    yy = torch.linspace(0, 1, H).view(H, 1, 1)
    xx = torch.linspace(0, 1, W).view(1, W, 1)
    scene = (0.25 + 0.4 * xx * torch.tensor([1.0, 0.6, 0.2]) + 0.3 * yy * torch.tensor([0.2, 0.5, 0.9]))[None]
    scene = (scene + 0.03 * torch.randn(1, H, W, 3, generator=g)).clamp(0, 1).contiguous()
    hole = torch.zeros(1, H, W)
    x0, y0, x1, y1 = HOLE
    hole[:, round(y0 * H):round(y1 * H), round(x0 * W):round(x1 * W)] = 1.0
    th, tw = 512, 384
    target = torch.zeros(1, th, tw, 4)
    target[..., :3] = torch.tensor([0.85, 0.2, 0.15])
    ty, tx = torch.meshgrid(torch.arange(th) + 0.5, torch.arange(tw) + 0.5, indexing="ij")
    target[0, ..., 3] = (((ty - th / 2) / (0.45 * th)) ** 2 + ((tx - tw / 2) / (0.4 * tw)) ** 2 < 1).float()
    return scene, hole, target


class _Timed:
    """Wraps a VAE: time spent in encode / decode goes into ``times``."""

    def __init__(self, vae, times):
        self.vae, self.times = vae, times
        self.downscale_ratio = getattr(vae, "downscale_ratio", 8)

    def _timed(self, key, fn, *a):
        t, c = time.perf_counter(), time.process_time()
        out = fn(*a)
        self.times[key] = self.times.get(key, 0.0) + time.perf_counter() - t
        self.times[key + "_cpu"] = self.times.get(key + "_cpu", 0.0) + time.process_time() - c
        return out

    def encode(self, pixels):
        return self._timed("encode", self.vae.encode, pixels)

    def decode(self, latent):
        return self._timed("decode", self.vae.decode, latent)


def _measure(fn):
    """(result, stage times, wall s, peak MiB above the start) of one run; the run's CPU time goes
    into the stage times as "cpu"."""
    import gc
    gc.collect()
    start = _rss_mib("VmRSS")
    ok = _reset_peak()
    t, c = time.perf_counter(), time.process_time()
    times, out = fn()
    wall = time.perf_counter() - t
    times["cpu"] = time.process_time() - c
    peak = _rss_mib("VmHWM") if ok else None
    return out, times, wall, (None if peak is None or start is None else peak - start)


def _insert_run(pack, model, vae, cond, scene, hole, target, opts):
    import torch
    ins_mod = sys.modules["fillblank_pack.nodes.insert"]
    times = {}
    orig = ins_mod.guided_sample

    def timed_sample(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        out = orig(*a, **k)
        times["sample"], times["sample_cpu"] = time.perf_counter() - t, time.process_time() - c
        return out
    ins_mod.guided_sample = timed_sample
    try:
        with torch.inference_mode():
            out = pack.nodes.NODES_BY_ID["FillBlankInsert"].execute(
                model, _Timed(vae, times), cond, cond, scene, target, "into hole", 0.5, 0.5, 0.4, False, "auto",
                opts["seed"], opts["steps"], opts["cfg"], "euler", "normal", 1.0, opts["steps"], 1,
                opts["working_size"], 0.25, 8, False, hole=hole)
    finally:
        ins_mod.guided_sample = orig
    return times, out


def _full_frame_run(pack, model, vae, cond, scene, hole, target, where, opts):
    import torch
    n = pack.nodes.NODES_BY_ID
    times = {}

    def stage(key, fn):
        t = time.perf_counter()
        out = fn()
        times[key] = time.perf_counter() - t
        return out
    with torch.inference_mode():
        rec = stage("target_encoder", lambda: n["FillBlankTargetEncoder"].execute(
            target, scene, vae, where["x"], where["y"], where["scale"], False, "auto")[0])
        mask = stage("mask_refiner", lambda: n["FillBlankMaskRefiner"].execute("union", 8, 0, 0.0, hole=hole, target=rec)[0])
        lat = stage("vae_encode_scene", lambda: {"samples": vae.encode(scene)})
        out = stage("sample", lambda: n["FillBlankSampler"].execute(
            model, cond, cond, lat, rec, mask, opts["seed"], opts["steps"], opts["cfg"], "euler", "normal", 1.0,
            opts["steps"], 1, "matched")[0])
        dec = stage("decode", lambda: vae.decode(out["samples"]))
        img = stage("composite", lambda: n["FillBlankComposite"].execute(scene, dec, mask, 8, False)[0])
    times["latent"] = list(lat["samples"].shape)
    return times, (img,)


def worker(kind: str, sizes: list, opts: dict) -> dict:
    if opts.get("memory_cap_gib"):  # an allocation beyond the cap fails in this worker, never the machine
        import resource
        cap = int(opts["memory_cap_gib"] * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    pack, tiny, host = _load(opts["threads"])
    model, vae, cond = tiny.tiny_model(), tiny.tiny_vae(), tiny.empty_conditioning()
    table = opts["table"]
    inputs = {mp: _inputs(table[mp]) for mp in sizes}
    shapes = []
    m = model.clone()

    def wrapper(apply_model, args):
        shapes.append(tuple(args["input"].shape))
        return apply_model(args["input"], args["timestep"], **args["c"])
    m.set_model_unet_function_wrapper(wrapper)
    # warm-up on the smallest scene (model loading, first-call costs)
    w_scene, w_hole, w_target = _inputs(opts["warmup_hw"])
    _insert_run(pack, m, vae, cond, w_scene, w_hole, w_target, opts)
    runs = {mp: [] for mp in sizes}
    from fillblank_core import insert as I
    from fillblank_core import masks as M
    for rep in range(opts["repeats"] if kind == "insert" else opts["full_frame_repeats"]):
        for mp in sizes:
            scene, hole, target = inputs[mp]
            shapes.clear()
            if kind == "insert":
                out, times, wall, peak = _measure(lambda: _insert_run(pack, m, vae, cond, scene, hole, target, opts))
            else:
                prep = I.prepare(M.to_bchw(scene), M.to_bchw(target[..., :3]), M.to_bchw(target[..., 3:]),
                                 I.scene_hole(hole, scene.shape[1:3]), working_size=opts["working_size"])
                where = dict(x=prep.placement.x, y=prep.placement.y, scale=prep.placement.scale)
                out, times, wall, peak = _measure(
                    lambda: _full_frame_run(pack, m, vae, cond, scene, hole, target, where, opts))
            assert out[0].shape == scene.shape
            times.update(wall=wall, peak_mib=peak, unet_input=list(shapes[0]) if shapes else None)
            runs[mp].append(times)
            print(f"  {kind} {mp} MP run {rep + 1}: {wall:.2f} s, peak +{peak or float('nan'):.0f} MiB", file=sys.stderr)
    return {"kind": kind, "host": str(host), "runs": {str(k): v for k, v in runs.items()}}


# --- the driver -----------------------------------------------------------------------------------

class WorkerFailed(RuntimeError):
    def __init__(self, why: str, text: str):
        super().__init__(text)
        self.why = why


def _spawn(kind, sizes, opts) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--opts", json.dumps({**opts, "sizes": sizes})]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO))
    if res.returncode != 0:
        why = next((l for l in reversed(res.stderr.splitlines()) if "Error" in l), f"exit status {res.returncode}")
        raise WorkerFailed(why.strip(), f"crop_cost worker {kind} {sizes} failed ({res.returncode}):\n{res.stderr[-4000:]}")
    sys.stderr.write("".join(l + "\n" for l in res.stderr.splitlines() if l.startswith(("  insert", "  full"))))
    return json.loads(res.stdout.strip().splitlines()[-1])


def _median(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarise(insert: dict, full: dict, table: dict, opts: dict) -> dict:
    rows = []
    for mp, (H, W) in table.items():
        row = {"mp": mp, "scene": f"{W}x{H}", "megapixels": round(W * H / 1e6, 2)}
        ins = insert["runs"].get(str(mp), [])
        if ins:
            model = [r["encode"] + r["sample"] + r["decode"] for r in ins]
            model_cpu = [r["encode_cpu"] + r["sample_cpu"] + r["decode_cpu"] for r in ins]
            row.update(insert_wall_s=_median(ins, "wall"), insert_model_s=statistics.median(model),
                       insert_model_fastest_s=min(model),
                       insert_fullsize_s=statistics.median([r["wall"] - m for r, m in zip(ins, model)]),
                       insert_model_cpu_s=statistics.median(model_cpu), insert_cpu_s=_median(ins, "cpu"),
                       insert_fullsize_cpu_s=statistics.median([r["cpu"] - m for r, m in zip(ins, model_cpu)]),
                       insert_encode_s=_median(ins, "encode"), insert_sample_s=_median(ins, "sample"),
                       insert_decode_s=_median(ins, "decode"), insert_peak_mib=_median(ins, "peak_mib"),
                       insert_unet_input=ins[0]["unet_input"], insert_runs=len(ins))
        ff = full["runs"].get(str(mp), []) if full else []
        if ff:
            row.update(full_wall_s=_median(ff, "wall"), full_vae_encode_scene_s=_median(ff, "vae_encode_scene"),
                       full_sample_s=_median(ff, "sample"), full_decode_s=_median(ff, "decode"),
                       full_target_encoder_s=_median(ff, "target_encoder"), full_peak_mib=_median(ff, "peak_mib"),
                       full_unet_input=ff[0]["unet_input"], full_runs=len(ff))
            row["speedup"] = row["full_wall_s"] / row["insert_wall_s"] if row.get("insert_wall_s") else None
        rows.append(row)
    base = next((r for r in rows if "insert_model_s" in r), None)
    flat = None
    if base:
        spread = [r["insert_model_s"] / base["insert_model_s"] for r in rows if "insert_model_s" in r]
        cpu = [r["insert_model_cpu_s"] / base["insert_model_cpu_s"] for r in rows if "insert_model_cpu_s" in r]
        fast = [r["insert_model_fastest_s"] / base["insert_model_fastest_s"] for r in rows if "insert_model_s" in r]
        flat = {"model_work_ratio_to_smallest": spread, "max_deviation": max(abs(s - 1) for s in spread),
                "within_10_percent": max(abs(s - 1) for s in spread) <= 0.10,
                "model_cpu_ratio_to_smallest": cpu, "max_cpu_deviation": max(abs(s - 1) for s in cpu),
                "cpu_within_10_percent": max(abs(s - 1) for s in cpu) <= 0.10,
                "model_fastest_ratio_to_smallest": fast, "max_fastest_deviation": max(abs(s - 1) for s in fast)}
    return {"rows": rows, "flat": flat, "options": {k: v for k, v in opts.items() if k != "table"},
            "host": insert.get("host"), "date": time.strftime("%Y-%m-%d")}


def markdown(res: dict) -> str:
    o = res["options"]

    def f(v, nd=2):
        return "–" if v is None else f"{v:.{nd}f}"
    lines = [(f"Run {res['date']}" + (f" ({res['seconds'] / 60:.0f} min)" if res.get("seconds") else "") + ". ")
             + f"Tiny real ComfyUI UNet and VAE (tests/custom_nodes/fillblank_test_nodes/tiny.py), {o['steps']} steps "
             f"euler/normal, cfg {o['cfg']}, seed {o['seed']}, {o['threads']} torch thread(s), CPU; Fill-in Insert at "
             f"working size {o['working_size']}, medians of {o['repeats']} interleaved runs; the full-frame chain "
             f"{o['full_frame_repeats']} run(s) per size. Hole: the same rectangle relative to the scene "
             f"({int(100 * (HOLE[2] - HOLE[0]))} % × {int(100 * (HOLE[3] - HOLE[1]))} % of it). Peak = resident memory the "
             "run needed above what was loaded when it started. Model work = VAE encode + sampling + VAE decode; "
             "full-size work = the rest of the run (input checks, placing on the full scene, the hole, crop, "
             "stitch).", "",
             "| scene | full-frame chain: wall | its VAE Encode of the scene | its UNet input | its peak | "
             "Fill-in Insert: wall | model work | full-size work | its UNet input | its peak | speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        fu = "×".join(str(v) for v in r["full_unet_input"][-2:]) if r.get("full_unet_input") else "–"
        iu = "×".join(str(v) for v in r["insert_unet_input"][-2:]) if r.get("insert_unet_input") else "–"
        why = res.get("full_frame_failed", {}).get(str(r["mp"]))
        full = (f"{f(r.get('full_wall_s'), 1)} s", f"{f(r.get('full_vae_encode_scene_s'), 1)} s", fu,
                f"{f(r.get('full_peak_mib'), 0)} MiB") if r.get("full_wall_s") else (
                    (f"failed: {why}", "", "", "") if why else ("not run", "", "", ""))
        lines.append(f"| {r['scene']} ({r['megapixels']} MP) | " + " | ".join(full) + " | "
                     f"{f(r.get('insert_wall_s'))} s | {f(r.get('insert_model_s'))} s | {f(r.get('insert_fullsize_s'))} s | "
                     f"{iu} | {f(r.get('insert_peak_mib'), 0)} MiB | "
                     + (f"**{r['speedup']:.1f}×**" if r.get("speedup") else "–") + " |")
    fl = res.get("flat")
    if fl:
        lines += ["", "Fill-in Insert's model work relative to the smallest scene, wall time: "
                  + ", ".join(f"{v:.3f}" for v in fl["model_work_ratio_to_smallest"])
                  + f" (largest deviation {100 * fl['max_deviation']:.1f} %: "
                  + ("within" if fl["within_10_percent"] else "NOT within") + " the 10 % target); CPU time: "
                  + ", ".join(f"{v:.3f}" for v in fl["model_cpu_ratio_to_smallest"])
                  + f" (largest deviation {100 * fl['max_cpu_deviation']:.1f} %: "
                  + ("within" if fl["cpu_within_10_percent"] else "NOT within") + " the 10 % target); wall time of "
                  "the fastest run per size: " + ", ".join(f"{v:.3f}" for v in fl["model_fastest_ratio_to_smallest"])
                  + ". Its "
                  "full-size work (CPU time): " + ", ".join(f"{r['insert_fullsize_cpu_s']:.2f} s" for r in res["rows"]
                                                            if "insert_fullsize_cpu_s" in r) + "."]
    not_run = [f"{mp} MP" for mp in res.get("full_frame_not_run", [])]
    if not_run:
        lines += ["", f"The full-frame chain was not run at {', '.join(not_run)}: on a CPU its VAE's attention over "
                  "the whole frame grows with the square of the pixel count (`--full-frame-mp 1 4 16` runs it)."]
    return "\n".join(lines)


def run(tiny: bool = False, out_dir: Path = RESULTS, full_frame_mp=(1, 4), repeats: int = 5, steps: int = 4,
        threads: int = 1, quiet: bool = False, memory_cap_gib: float | None = 16.0) -> dict:
    table = TINY_SIZES if tiny else MP_SIZES
    if tiny:
        full_frame_mp = list(table)
    opts = dict(steps=2 if tiny else steps, cfg=1.0, seed=1, threads=threads, repeats=1 if tiny else repeats,
                full_frame_repeats=1, working_size=128 if tiny else 1024, warmup_hw=(96, 128) if tiny else (480, 640),
                memory_cap_gib=memory_cap_gib,
                table={str(k): v for k, v in table.items()})
    keys = list(table)
    t0 = time.perf_counter()
    insert = _spawn("insert", keys, opts)
    ff_sizes = [k for k in keys if k in set(full_frame_mp)]
    full, failed = None, {}
    # one interpreter per size (--tiny: one for all): a size's peak does not hide in another's
    for group in ([ff_sizes] if tiny else [[mp] for mp in ff_sizes]):
        try:
            part = _spawn("full", group, opts)
        except WorkerFailed as e:
            if tiny:
                raise
            failed.update({str(mp): e.why for mp in group})
            continue
        full = part if full is None else {**full, "runs": {**full["runs"], **part["runs"]}}
    res = summarise(insert, full, table, opts)
    res["full_frame_not_run"] = [k for k in keys if k not in ff_sizes]
    res["full_frame_failed"] = failed
    res["seconds"] = time.perf_counter() - t0
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "crop_cost.json").write_text(json.dumps(res, indent=1) + "\n")
    if not quiet:
        print(markdown(res))
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="seconds: structure only")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--full-frame-mp", type=int, nargs="*", default=[1, 4],
                   help="scene sizes (MP) of the full-frame chain; 16 takes long on a CPU (default 1 4)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--memory-cap-gib", type=float, default=16.0,
                   help="address-space cap of each worker (an allocation beyond it fails that run, not the machine)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--opts", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        opts = json.loads(a.opts)
        table = {float(k) if "." in k else int(k): tuple(v) for k, v in opts["table"].items()}
        opts["table"] = table
        sizes = [float(s) if isinstance(s, float) else int(s) for s in opts["sizes"]]
        print(json.dumps(worker(a.worker, sizes, opts)))
        return
    run(a.tiny, a.out_dir, a.full_frame_mp, a.repeats, a.steps, a.threads, memory_cap_gib=a.memory_cap_gib)


if __name__ == "__main__":
    main()
