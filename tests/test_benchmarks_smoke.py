"""Tiny-size runs of every benchmark entry point and the demo, so the harness cannot rot.

Each asserts the structure of what it writes and the properties that must hold at any size
(known region untouched, evaluation counts equal the formula, guidance moves the result toward
the target, the shipped toy model loads and denoises).
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))


def _csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def toy_model():
    from fillblank_lab.toy_model import DEFAULT_PATH, load_toy_denoiser
    assert DEFAULT_PATH.is_file(), "the toy model's weights must be committed"
    assert DEFAULT_PATH.stat().st_size <= 10 * 2 ** 20
    return load_toy_denoiser()


def test_shipped_toy_model_denoises(toy_model):
    from fillblank_lab import toy
    x0 = toy.training_batch(424242, 8)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for sigma in (0.1, 0.5, 2.0):
            noisy = x0 + sigma * torch.randn(x0.shape, generator=g)
            out = toy_model(noisy, torch.full((8,), sigma))
            assert out.shape == x0.shape and out.dtype == x0.dtype
            err_model = float(((out - x0) ** 2).mean())
            err_input = float(((noisy - x0) ** 2).mean())
            assert err_model < 0.5 * err_input, f"sigma {sigma}: the model must denoise"


def test_ablation_tiny(tmp_path, toy_model):
    import ablation
    res = ablation.run(tiny=True, out_dir=tmp_path, toy_model=toy_model)
    for name in ("ablation_exemplar.csv", "ablation_toy.csv", "robustness.csv"):
        assert (tmp_path / name).is_file()
    ex, ty, rb = _csv(tmp_path / "ablation_exemplar.csv"), _csv(tmp_path / "ablation_toy.csv"), \
        _csv(tmp_path / "robustness.csv")
    assert {r["strategy"] for r in ex} == {"hole", "silhouette", "box"} == {r["strategy"] for r in ty}
    kinds = {r["kind"] for r in ex}
    assert kinds == {"none", "guided", "paste"}
    assert {r["r"] for r in ex} == {"1", "2"}
    for r in ex:
        assert 0.0 <= float(r["hit"]) <= 1.0 and 0.0 <= float(r["kept"]) <= 1.0
    for r in ex + ty + rb:
        assert float(r["ctx_max"]) == 0.0, "outside the repainted region nothing may change"
    # guidance pulls the silhouette toward the target even at 4 steps
    for rows in (res["exemplar"], res["toy"]):
        for strat in ("hole", "silhouette", "box"):
            plain = [r for r in rows if r["strategy"] == strat and r["kind"] == "none" and r["r"] == 1][0]
            guided = [r for r in rows if r["strategy"] == strat and r["kind"] == "guided" and r["r"] == 1][0]
            assert guided["fid_mse"] < plain["fid_mse"]
    assert {r["noise"] for r in rb} == {"none", "grow", "jitter"}
    assert {r["model"] for r in rb} == {"toy", "exemplar"}


def test_train_toy_tiny(tmp_path):
    import train_toy
    from safetensors import safe_open
    from fillblank_lab import toy
    from fillblank_lab.toy_model import ToyDenoiser, load_toy_denoiser
    info = train_toy.train(steps=3, batch=4, lr=1e-3, seed=0, out=tmp_path / "m.safetensors",
                           curve=tmp_path / "loss", threads=1, max_minutes=5, ema_decay=0.9, log_every=1, quiet=True)
    assert info["steps"] == 3
    rows = _csv(tmp_path / "loss.csv")
    assert [int(r["step"]) for r in rows] == [1, 2, 3] and all(float(r["loss"]) > 0 for r in rows)
    assert (tmp_path / "loss.png").is_file()
    m = load_toy_denoiser(tmp_path / "m.safetensors")
    with torch.no_grad():
        assert m(torch.zeros(1, 3, 32, 32), torch.tensor([1.0])).shape == (1, 3, 32, 32)
        # val_loss is the EDM loss of the saved (EMA) weights on train_toy's fixed held-out set
        hg = torch.Generator().manual_seed(12345)
        xv = toy.training_batch(987_654_321, 256)
        sv = train_toy.sample_sigmas(256, hg)
        nv = torch.randn(xv.shape, generator=hg)
        assert info["val_loss"] == pytest.approx(float(m.loss(xv, sv, nv)), rel=1e-6)
        # the network's output layer starts at 0, so before training the loss is E[target²] of the
        # preconditioned EDM target (measured 0.8230); 3 Adam steps at lr 1e-3 move the EMA weights
        # down from there, by little (measured 0.8223)
        c_skip, c_out, _ = (v[:, None, None, None] for v in m.scalings(sv))
        zero_output = float((((xv - c_skip * (xv + nv * sv[:, None, None, None])) / c_out) ** 2).mean())
        assert float(ToyDenoiser().loss(xv, sv, nv)) == pytest.approx(zero_output, rel=1e-6)
    assert 0.99 * zero_output <= info["val_loss"] < zero_output
    with safe_open(str(tmp_path / "m.safetensors"), "pt") as f:
        assert float(f.metadata()["val_loss"]) == round(info["val_loss"], 5)


def test_quality_per_eval_tiny():
    import cost
    from fillblank_lab import GaussianPrior, smooth_covariance
    cfgs = [{"steps": 12, "j": 4, "r": 3, "sampler": "euler_ancestral", "sigmas": "ddpm"},
            {"steps": 6, "j": 2, "r": 2, "sampler": "euler", "sigmas": "karras"}]
    n = 128
    rows = cost.quality_per_eval(cfgs, n=n, quiet=True)
    assert rows[0]["evals"] == 0 and "floor" in rows[0]["config"]
    from fillblank_core import count_model_evaluations
    assert [r["evals"] for r in rows[1:]] == [count_model_evaluations(12, 4, 3), count_model_evaluations(6, 2, 2)]
    # Errors are relative to sqrt(tr C), C the exact conditional covariance of the d unknown pixels.
    floor, sampled = rows[0], rows[1:]
    d = 16  # cost.quality_per_eval's hole: the middle 4×4 of 8×8
    # n exact draws: E‖m̂ − m‖² = tr C / n, so mean_err·√n is about 1 (measured 1.25); 3 is far in its tail
    assert floor["mean_err"] * math.sqrt(n) <= 3
    # W2² = ‖m̂ − m‖² + Bures²(Ĉ, C), and for a sample covariance E Bures² ≲ d·tr C / (4n): w2 is about
    # sqrt((1 + d/4)/n) = 0.20 at most on average (measured 0.145); 3 times that is far in its tail
    assert floor["w2"] <= 3 * math.sqrt((1 + d / 4) / n)
    for r in rows:  # W2 contains the mean's error (up to rounding)
        assert math.isfinite(r["w2"]) and r["w2"] >= r["mean_err"] * (1 - 1e-9) > 0
    # the samplers use the known pixels: their mean is closer to the conditional mean than the prior's
    # mean is, by more than the Monte Carlo error of a mean of n draws (≈ 1/√n), even at these few steps
    # (cost.quality_per_eval's problem: smooth prior, length scale 1.5, known pixels drawn with its
    # default seed 2 through the covariance's symmetric square root, the same draw on every machine)
    prior = GaussianPrior(torch.zeros(1, 8, 8), smooth_covariance((1, 8, 8), length_scale=1.5))
    known = prior.sample(1, torch.Generator().manual_seed(2))[0].float()
    mask = torch.zeros(8, 8)
    mask[2:6, 2:6] = 1.0
    cm, cc = prior.conditional(known, mask)
    ignoring = float(cm.reshape(-1)[mask.reshape(-1) > 0].norm() / torch.trace(cc).sqrt())
    assert 2.0 < ignoring < 2.1  # an informative problem: far from the prior's mean (measured 2.03)
    for r in sampled:
        assert r["mean_err"] < ignoring - 3 / math.sqrt(n), r
    s = cost.ddpm_sigmas(250)
    assert len(s) == 251 and s[-1] == 0 and bool((s[:-1][1:] < s[:-1][:-1]).all())
    assert cost.count_model_evaluations(250, 10, 10) == 2410


@pytest.mark.host
def test_cost_in_comfy_tiny(comfy_host, tmp_path):
    import cost
    res = cost.run(tiny=True, parts=("comfy", "counts"), out_dir=tmp_path, quiet=True)
    c = res["comfy"]
    for key in ("fillblank_wall_s", "ksampler_wall_s", "wall_ratio", "cpu_ratio", "peak_ratio",
                "fillblank_peak_bytes", "ksampler_peak_bytes"):
        assert c[key] > 0, key
    assert c["known_region_equal"], "both paths must keep the known region identical"
    assert (tmp_path / "cost_comfy.json").is_file()
    assert res["counts"] and all(r["match"] for r in res["counts"]), res["counts"]
    assert _csv(tmp_path / "cost_counts.csv")[0]["formula"]


@pytest.mark.host
def test_crop_cost_tiny(comfy_host, tmp_path):
    """benchmarks/crop_cost.py --tiny: both paths measured in fresh interpreters; Fill-in Insert's UNet
    sees the working size, the full-frame chain the whole scene; the report section renders."""
    import crop_cost
    import run_all
    res = crop_cost.run(tiny=True, out_dir=tmp_path, quiet=True)
    assert (tmp_path / "crop_cost.json").is_file()
    assert [r["mp"] for r in res["rows"]] == list(crop_cost.TINY_SIZES)
    for r, (H, W) in zip(res["rows"], crop_cost.TINY_SIZES.values()):
        for key in ("insert_wall_s", "insert_model_s", "insert_fullsize_s", "full_wall_s", "full_vae_encode_scene_s"):
            assert r[key] > 0, key
        assert max(r["insert_unet_input"][-2:]) == 128 // 8, "Insert samples at the working size"
        assert r["full_unet_input"][-2:] == [H // 8, W // 8], "the full-frame chain samples the whole scene"
    assert res["flat"]["model_work_ratio_to_smallest"][0] == 1.0
    text = crop_cost.markdown(res)
    assert "Fill-in Insert: wall" in text and text.count("\n| ") == 1 + len(res["rows"])
    md = run_all.main(["--report-only", "--out-dir", str(tmp_path)])
    assert run_all.CROP_COST_TITLE in Path(md).read_text()


def test_run_all_report_tiny(tmp_path, toy_model):
    """--report-only over tiny CSVs: the page and its plots are produced with every section."""
    import ablation
    import cost
    import run_all
    ablation.run(tiny=True, out_dir=tmp_path, toy_model=toy_model)
    cost.write_csv(cost.quality_per_eval([{"steps": 6, "j": 2, "r": 2, "sampler": "euler", "sigmas": "karras"}],
                                         n=64, quiet=True), tmp_path / "cost_quality.csv")
    (tmp_path / "memory.csv").write_text(
        "label,case,size,megapixels,added_mb,outputs_mb,seconds,method\n"
        "before,chain,512,0.3,60.0,18.0,0.5,VmHWM after clear_refs\n"
        "after,chain,512,0.3,20.0,15.0,0.1,VmHWM after clear_refs\n")
    md = run_all.main(["--report-only", "--out-dir", str(tmp_path)])
    text = Path(md).read_text()
    assert "| chain | 512² (0.3 MP) | **60 MB** | **20 MB** | 15 MB | 0.10 s |" in text
    for heading in ("## 1. The toy model", "## 2. Ablation", "### (a) exemplar model", "### (b) learned toy model",
                    "## 3. Robustness", "## 4. Cost", "Quality per evaluation", "### Memory on big images"):
        assert heading in text, heading
    for png in ("ablation_exemplar.png", "ablation_toy.png", "robustness_toy.png", "robustness_exemplar.png",
                "quality_per_eval.png"):
        assert (tmp_path / png).is_file() and (tmp_path / png).stat().st_size > 1000, png
        assert png in text


def test_demo_tiny(tmp_path, capsys):
    from PIL import Image
    from fillblank_lab import demo
    out = tmp_path / "grid.png"
    assert demo.main(["--out", str(out), "--steps", "4", "--resample", "1", "2", "--jump", "2", "--seed", "1"]) == 0
    img = Image.open(out)
    n_cols = 4 + len(demo.DEMO_SCHEDULES)
    assert img.width >= n_cols * 32 * 4 and img.height >= 2 * 32 * 4
    text = capsys.readouterr().out
    rows = [ln for ln in text.splitlines() if ln.split() and ln.split()[0] in
            {"no", "default", "constant", "linear", "cosine", "step"}]
    assert len(rows) == 2 * len(demo.DEMO_SCHEDULES)
    for ln in rows:
        assert "0.0e+00" in ln, "context outside the hole must be untouched"
    res = demo.run_demo(seed=1, steps=4, resamples=(1,), jump=2)
    by = {c["name"]: c["metrics"] for c in res["cells"]}
    assert by["constant 1"]["fid_mse"] < by["no target"]["fid_mse"]
    assert by["default"]["fid_mse"] < by["no target"]["fid_mse"]


def test_demo_and_metrics_with_a_clip_model(tmp_path, capsys):
    """CLIP fidelity is optional: with a (tiny, random) CLIP vision model the demo prints a CLIP column."""
    pytest.importorskip("transformers")
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    from fillblank_lab import demo, metrics, toy
    from fillblank_lab.clip_encoder import ClipImageEncoder
    torch.manual_seed(0)
    cfg = CLIPVisionConfig(hidden_size=64, intermediate_size=128, projection_dim=16, num_hidden_layers=1,
                           num_attention_heads=1, image_size=32, patch_size=8)
    CLIPVisionModelWithProjection(cfg).eval().save_pretrained(tmp_path / "tiny-clip")
    enc = ClipImageEncoder.from_path(tmp_path / "tiny-clip")
    t = toy.make_task(2)
    assert metrics.clip_similarity(t.pasted, t.pasted, t.silhouette, enc) == pytest.approx(1.0, abs=1e-5)
    assert metrics.evaluate(t.scene, t, embed_fn=enc)["fid_clip"] < 1.0 - 1e-4
    assert demo.main(["--out", str(tmp_path / "g.png"), "--steps", "3", "--resample", "1", "--jump", "1",
                      "--clip", str(tmp_path / "tiny-clip")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "CLIP" in [ln for ln in lines if ln.startswith("method")][0]


def test_memory_chain_1mp(tmp_path, comfy_host):
    """benchmarks/memory.py in its own process: the four image nodes on a 1 MP scene add at most the
    16 MP bound scaled to 1 MP plus a fixed allowance (244 MB before the work on regions; after: ~80 MB, of
    which 59 MB are the outputs)."""
    import memory
    rows = memory.run(sizes=(1024,), cases=("chain",), out_dir=tmp_path, quiet=True)
    (row,) = rows
    assert (tmp_path / "memory.csv").is_file() and _csv(tmp_path / "memory.csv")[0]["case"] == "chain"
    assert row["outputs_mb"] > 50, row  # scene-size outputs: preview, masks, composite
    assert row["added_mb"] <= memory.BOUND_MB * row["megapixels"] / 16.8 + 60, row


def test_train_learned_smoke(tmp_path):
    """benchmarks/train_learned.py --smoke: every phase (VAE, eps, flow, student) a few steps; the
    weights load back with their metadata, and the shipped results are not touched."""
    import train_learned
    from fillblank_lab import learned as L
    curve = BENCH / "results" / "train_learned_loss.csv"
    before = curve.read_bytes() if curve.exists() else None
    train_learned.main(["--smoke", "--out-dir", str(tmp_path)])
    vae = L.load_vae(tmp_path / L.VAE_PATH.name)
    assert float(vae.z_std) > 0 and vae.metadata["command"].endswith(f"--smoke --out-dir {tmp_path}")
    for kind in ("eps", "flow", "student"):
        net = L.load_unet(kind, tmp_path / L.UNET_PATHS[kind].name)
        assert net.kind == kind and int(net.metadata["steps"]) == 10
        assert float(net.metadata["final_loss"]) >= 0 and net.metadata["seed"] == "0"
        with torch.no_grad():
            assert net(torch.zeros(2, 4, 8, 8), torch.tensor([10.0, 500.0])).shape == (2, 4, 8, 8)
    assert (curve.read_bytes() if curve.exists() else None) == before


def test_demo_learned_world(tmp_path, capsys):
    """``python -m fillblank_lab.demo --learned``: novel held-out objects with the shipped learned models,
    in seconds; the known region is exact, the default keeps every object of these seeds (measured:
    4 of 4, the hand recipe at 0.5 loses 2 of them) and the grid has the six columns."""
    from PIL import Image
    from fillblank_lab import demo, learned_demo
    out = tmp_path / "learned.png"
    assert demo.main(["--learned", "--out", str(out), "--seeds", "4"]) == 0
    img = Image.open(out)
    assert img.width == 6 * 64 * 3 and img.height == 4 * 64 * 3 + 22
    text = capsys.readouterr().out
    assert "largest latent change outside the hole 0.0e+00" in text
    rows = [ln.split() for ln in text.splitlines() if ln.split()[:1] and ln.split()[0].isdigit()]
    assert len(rows) == 3 * 4
    by = {(int(r[0]), r[2]): r for r in rows}
    assert all(by[(s, "default")][3] == "True" for s in range(4)), "the default keeps the object"
    assert sum(by[(s, "recipe")][3] == "False" for s in range(4)) == 2
    assert all(by[(s, "paste")][5] == "False" for s in range(4)), "the paste does not pass the joint bar"
    assert learned_demo.COLUMNS[-1] == "lit truth"
