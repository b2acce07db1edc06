"""Memory: what the pack's own image work adds to the process's peak memory on big scenes.

    python benchmarks/memory.py                        # 1, 4 and 16 MP; writes benchmarks/results/memory.csv
    python benchmarks/memory.py --sizes 512 --out-dir /tmp/m     # seconds (the smoke test)
    python benchmarks/memory.py --repo /path/to/checkout --label before   # another version of the pack,
                                                       # rows added to the same CSV under its label

One fresh Python process per (case, size): it imports ComfyUI (the test host found like the tests
find it, on the CPU) and the pack, builds the inputs with single allocations (a random square
scene, a 64 px RGBA target placed at its centre, a drawn hole of 96 px around it, a decoded image,
the Target Encoder's record for the nodes after it), resets the kernel's peak-RSS counter
(``/proc/self/clear_refs`` ← 5), runs the node(s), and reports the peak RSS minus the RSS before
(``VmHWM − VmRSS`` of /proc/self/status): everything the node allocated at its highest point,
temporaries and outputs alike. A warm-up run on a 256 px scene first takes the lazy imports and
kernels' first-use memory out of the number. torch's CPU tensors live in malloc'd memory (big ones mmap'd), so
the RSS sees them; tracemalloc would not. Where clear_refs cannot be written, the process's
``ru_maxrss`` after the run minus its RSS before is reported instead (an upper bound; the
``method`` column says which).

The VAE encode is skipped: the Target Encoder gets a stub VAE that returns a zero latent of the
right shape. The VAE's own memory is ComfyUI's (it encodes in batches / tiles as memory allows) and
at 16 MP even the tiny test VAE needs GBs of activations, which would hide the pack's share.

Cases: target_encoder (x 0.5, y 0.5, a 64 px tall target, alpha cut-out), mask_refiner (union of
the drawn hole and the silhouette, grow 8, feather 8), composite (feather 8, colour matching on),
rank (one candidate, the refined hole, no CLIP) and chain (the four in a row as in example 1, every
output kept as ComfyUI's cache keeps it).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
CASES = ("target_encoder", "mask_refiner", "composite", "rank", "chain")
SIZES = (1024, 2048, 4096)  # 1, 4 and 16 MP
TARGET_PX = 64
HOLE_PX = 96
BOUND_MB = 1500  # the memory bound: at most 1.5 GB added at 16 MP
FIELDS = ["label", "case", "size", "megapixels", "added_mb", "outputs_mb", "seconds", "method"]


# --- the measured process ------------------------------------------------------------------------

def _status(key: str) -> int:
    """A /proc/self/status value in bytes (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _import_pack(repo: Path):
    sys.path.insert(0, str(REPO / "scripts"))
    import comfy_host
    return comfy_host.load(repo=repo, progress_bar=True)


class StubVAE:
    """Returns a zero latent of the right shape: the VAE's memory is not the pack's."""
    downscale_ratio = 8

    def encode(self, pixels):
        import torch
        return torch.zeros(pixels.shape[0], 4, pixels.shape[1] // 8, pixels.shape[2] // 8)


def _inputs(pack, size: int) -> dict:
    """Inputs as the nodes would get them, each made by one allocation (no temporaries)."""
    import torch
    T = sys.modules["fillblank_pack.fillblank_core.target"]
    g = torch.Generator().manual_seed(0)
    H = W = size
    scene = torch.rand(1, H, W, 3, generator=g)
    decoded = torch.rand(1, H, W, 3, generator=g)
    target = torch.zeros(1, TARGET_PX, TARGET_PX, 4)
    yy, xx = torch.meshgrid(torch.arange(TARGET_PX), torch.arange(TARGET_PX), indexing="ij")
    disc = ((yy - TARGET_PX / 2 + 0.5) ** 2 + (xx - TARGET_PX / 2 + 0.5) ** 2) < (TARGET_PX / 2 - 2) ** 2
    target[0, ..., 0], target[0, ..., 1], target[0, ..., 3] = 0.9, 0.2, disc.float()
    x0 = y0 = (size - TARGET_PX) // 2
    box = (x0, y0, x0 + TARGET_PX, y0 + TARGET_PX)
    image = torch.zeros(1, H, W, 3)
    image[0, y0:y0 + TARGET_PX, x0:x0 + TARGET_PX] = target[0, ..., :3]
    mask = torch.zeros(1, H, W)
    mask[0, y0:y0 + TARGET_PX, x0:x0 + TARGET_PX] = target[0, ..., 3]
    composite = scene.clone()
    region = composite[0, y0:y0 + TARGET_PX, x0:x0 + TARGET_PX]
    region.mul_(1 - target[0, ..., 3:]).add_(target[0, ..., :3] * target[0, ..., 3:])
    record = T.FillBlankTarget(image=image, mask=mask, composite=composite,
                               latent=torch.zeros(1, 4, H // 8, W // 8),
                               placement=T.Placement(0.5, 0.5, TARGET_PX / H, False, box, (TARGET_PX, TARGET_PX)))
    drawn = torch.zeros(1, H, W)
    h0 = (size - HOLE_PX) // 2
    drawn[0, h0:h0 + HOLE_PX, h0:h0 + HOLE_PX] = 1.0
    hole = torch.zeros(1, H, W)  # the refined hole (drawn ∪ silhouette, grown 8)
    hole[0, h0 - 8:h0 + HOLE_PX + 8, h0 - 8:h0 + HOLE_PX + 8] = 1.0
    return dict(scene=scene, decoded=decoded, target=target, record=record, drawn=drawn, hole=hole)


def _run(pack, case: str, inp: dict) -> list:
    n = pack.nodes.NODES_BY_ID
    H = inp["scene"].shape[1]
    encode = lambda: n["FillBlankTargetEncoder"].execute(inp["target"], inp["scene"], StubVAE(), 0.5, 0.5,  # noqa: E731
                                                          TARGET_PX / H, False, "auto")
    if case == "target_encoder":
        return list(encode())
    if case == "mask_refiner":
        return list(n["FillBlankMaskRefiner"].execute("union", 8, 8, 0.0, hole=inp["drawn"], target=inp["record"]))
    if case == "composite":
        return list(n["FillBlankComposite"].execute(inp["scene"], inp["decoded"], inp["hole"], 8, True))
    if case == "rank":
        return list(n["FillBlankRank"].execute(inp["decoded"], inp["record"], inp["hole"]))
    if case == "chain":  # example 1's order; ComfyUI keeps every output in its cache
        rec, preview, sil, _ = encode()
        mask, mpreview = n["FillBlankMaskRefiner"].execute("union", 8, 0, 0.0, hole=inp["drawn"], target=rec)
        comp, = n["FillBlankComposite"].execute(inp["scene"], inp["decoded"], mask, 8, True)
        best, ordered, scores = n["FillBlankRank"].execute(comp, rec, mask)
        return [rec, preview, sil, mask, mpreview, comp, best, ordered, scores]
    raise ValueError(f"unknown case {case!r}; one of {', '.join(CASES)}")


def _tensors(obj):
    import torch
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif hasattr(obj, "__dataclass_fields__"):
        for k in obj.__dataclass_fields__:
            yield from _tensors(getattr(obj, k))


def _new_bytes(outputs, inputs) -> int:
    """Bytes of the output tensors' storages that are not the inputs' (each storage once)."""
    seen = {t.untyped_storage().data_ptr() for t in _tensors(list(inputs.values()))}
    total = 0
    for t in _tensors(outputs):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in seen:
            seen.add(ptr)
            total += t.untyped_storage().nbytes()
    return total


def measure_one(case: str, size: int, repo: Path) -> dict:
    import torch
    torch.set_num_threads(1)
    pack = _import_pack(repo)
    _run(pack, case, _inputs(pack, 256))  # warm-up: lazy imports and kernels' first-use memory
    inp = _inputs(pack, size)
    gc.collect()
    reset = _reset_peak()
    before = _status("VmRSS")
    t0 = time.perf_counter()
    out = _run(pack, case, inp)
    seconds = time.perf_counter() - t0
    peak = _status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(case=case, size=size, megapixels=round(size * size / 1e6, 1), added_mb=round((peak - before) / 1e6, 1),
                outputs_mb=round(_new_bytes(out, inp) / 1e6, 1), seconds=round(seconds, 2),
                method="VmHWM after clear_refs" if reset else "ru_maxrss (upper bound)")


# --- the driver -----------------------------------------------------------------------------------

def measure(case: str, size: int, repo: Path = REPO, timeout: float = 600) -> dict:
    """Run one case in a fresh process; returns its row."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", case, str(size), "--repo", str(repo)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(REPO))
    if res.returncode != 0:
        raise RuntimeError(f"{case} at {size}px failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def run(sizes=SIZES, cases=CASES, repo: Path = REPO, label: str = "after", out_dir: Path = RESULTS,
        quiet: bool = False) -> list:
    rows = []
    for size in sizes:
        for case in cases:
            row = dict(label=label, **measure(case, size, repo))
            rows.append(row)
            if not quiet:
                print(f"{label:>8} {case:>15} {row['megapixels']:>5} MP  added {row['added_mb']:8.1f} MB  "
                      f"outputs {row['outputs_mb']:8.1f} MB  {row['seconds']:6.2f} s", flush=True)
    path = Path(out_dir) / "memory.csv"
    old = []
    if path.is_file():
        with open(path) as f:
            old = [r for r in csv.DictReader(f) if r["label"] != label]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in old + rows:
            w.writerow({k: r.get(k, "") for k in FIELDS})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="scene sides in px (square)")
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    p.add_argument("--repo", type=Path, default=REPO, help="the pack to measure (a checkout of this repo)")
    p.add_argument("--label", default="after", help="the rows' label in memory.csv (rows of the same label are replaced)")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--one", nargs=2, metavar=("CASE", "SIZE"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        print(json.dumps(measure_one(a.one[0], int(a.one[1]), a.repo.resolve())))
        return 0
    rows = run(a.sizes, a.cases, a.repo.resolve(), a.label, a.out_dir)
    big = [r for r in rows if r["size"] >= 4096]
    if big:
        worst = max(r["added_mb"] for r in big)
        print(f"largest addition at 16 MP: {worst:.0f} MB (bound {BOUND_MB} MB): {'ok' if worst <= BOUND_MB else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
