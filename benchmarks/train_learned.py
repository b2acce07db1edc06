"""Train the learned world's models in one command: the VAE, then the eps and flow latent U-Nets.

    nice python benchmarks/train_learned.py                  # the shipped weights (fillblank_lab/assets/)
    python benchmarks/train_learned.py --smoke --out-dir /tmp/l  # seconds: every phase a few steps

Data: lit truths of train-split objects (``fillblank_lab.scenes.training_images``; held-out families,
textures and photos never appear), 15 % empty scenes, horizontal flips. One thread
(``torch.set_num_threads(1)``). Phases:
1. VAE (``LearnedVAE``): L1 + MSE reconstruction, a small latent-size penalty, noise on the latent
   the decoder sees half the time (so that a sampler's slightly-off latents still decode); afterwards
   the encoder's output std is stored so that process_in(raw) = raw·0.18215 has unit std.
2. eps U-Net: ε-prediction MSE with ComfyUI's SD1.5 discrete schedule (t uniform over 0…999).
3. flow U-Net: velocity (ε − x0) MSE, σ drawn half uniform, half shifted by 3 (what ModelSamplingSD3
   shift 3 samples), timestep σ·1000.
Adam with cosine decay and an EMA of the U-Net weights (saved). Metadata: command, seed, steps,
seconds, final training loss, held-out loss. Loss curves: benchmarks/results/train_learned_loss.csv/.png.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for p in (REPO, HERE):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from fillblank_lab import learned as L  # noqa: E402
from fillblank_lab import scenes  # noqa: E402


def _cosine(opt, steps):
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps))))


def _batch(data: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    idx = torch.randint(0, data.shape[0], (n,), generator=gen)
    return data[idx]


def _update(opt, sched, module, loss) -> None:
    """One optimiser step: gradients of ``loss``, clipped to norm 1, Adam, the learning-rate schedule."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
    opt.step()
    sched.step()


@torch.no_grad()
def _ema(avg, module, decay: float) -> None:
    for pe, pm in zip(avg.parameters(), module.parameters()):
        pe.lerp_(pm, 1 - decay)


class _Progress:
    """A phase's running loss (logged as the mean of every 10 steps), steps done and its time limit."""

    def __init__(self, phase: str, minutes: float, log):
        self.phase, self.limit, self.log = phase, minutes * 60, log
        self.t0, self.run, self.done = time.time(), 0.0, 0

    def step(self, loss) -> bool:
        """Count a step of ``loss``; True when the phase's minutes are spent."""
        self.run += float(loss.detach())
        self.done += 1
        if self.done % 10 == 0:
            self.log(self.phase, self.done, self.run / 10, self.seconds)
            self.run = 0.0
        return self.seconds > self.limit

    @property
    def seconds(self) -> float:
        return time.time() - self.t0


def train_vae(images: torch.Tensor, steps: int, batch: int, lr: float, seed: int, minutes: float, log) -> tuple:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    vae = L.LearnedVAE(tuple(L.VAE_CONFIG["ch"]), L.VAE_CONFIG["latent"])
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    sched = _cosine(opt, steps)
    x_all = images.movedim(-1, 1).contiguous()
    prog = _Progress("vae", minutes, log)
    for i in range(steps):
        x = _batch(x_all, batch, gen)
        flip = torch.rand(batch, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        z = vae.encode_z(x)
        zn = z + torch.randn(z.shape, generator=gen) * 0.1 * z.detach().std() * (torch.rand(batch, 1, 1, 1, generator=gen) < 0.5)
        y = vae.decode_z(zn)
        loss = (y - x).abs().mean() + F.mse_loss(y, x) + 1e-4 * (z ** 2).mean()
        _update(opt, sched, vae, loss)
        if prog.step(loss):
            break
    vae.eval()
    with torch.no_grad():
        z = torch.cat([vae.encode_z(x_all[j:j + 256]) for j in range(0, min(2048, len(x_all)), 256)])
        vae.z_std.fill_(float(z.std()))
    return vae, prog.done, prog.seconds


@torch.no_grad()
def encode_all(vae: L.LearnedVAE, images: torch.Tensor) -> torch.Tensor:
    """Unit-scale latents (process_in of the raw latent) of the images and of their mirror images."""
    out = []
    for j in range(0, len(images), 256):
        x = images[j:j + 256]
        out.append(vae.encode(x) * L.SCALE)
        out.append(vae.encode(x.flip(2)) * L.SCALE)
    return torch.cat(out)


def diffusion_loss(net: L.LatentUNet, z: torch.Tensor, gen: torch.Generator, kind: str) -> torch.Tensor:
    n = z.shape[0]
    eps = torch.randn(z.shape, generator=gen)
    if kind == "eps":
        t = torch.randint(0, 1000, (n,), generator=gen)
        ac = L.sd15_alphas_cumprod().float()[t][:, None, None, None]
        x = ac.sqrt() * z + (1 - ac).sqrt() * eps
        return F.mse_loss(net(x, t.float()), eps)
    u = torch.rand(n, generator=gen)
    shifted = 3 * u / (1 + 2 * u)
    sigma = torch.where(torch.rand(n, generator=gen) < 0.5, u, shifted).clamp(1e-3, 1.0)
    s = sigma[:, None, None, None]
    x = (1 - s) * z + s * eps
    return F.mse_loss(net(x, sigma * 1000.0), eps - z)


def train_unet(latents: torch.Tensor, kind: str, steps: int, batch: int, lr: float, seed: int, minutes: float,
               log, ema_decay: float = 0.999, init: Path | None = None) -> tuple:
    """``init``: start from these weights (a longer run of the same model) instead of from scratch."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    cfg = L.UNET_CONFIG
    net = L.LatentUNet(tuple(cfg["ch"]), cfg["emb"], cfg["latent"], kind)
    if init is not None:
        net.load_state_dict(L.load_unet(kind, init).state_dict())
    ema = L.LatentUNet(tuple(cfg["ch"]), cfg["emb"], cfg["latent"], kind)
    ema.load_state_dict(net.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = _cosine(opt, steps)
    prog = _Progress(kind, minutes, log)
    for i in range(steps):
        loss = diffusion_loss(net, _batch(latents, batch, gen), gen, kind)
        _update(opt, sched, net, loss)
        _ema(ema, net, min(ema_decay, (1 + i) / (10 + i)))
        if prog.step(loss):
            break
    return ema.eval(), prog.done, prog.seconds


def _eps_denoise(net, x, sigma, t):
    """ComfyUI's eps model in k-diffusion space: D(x, σ) = x − σ·ε̂(x/√(σ²+1), t)."""
    s = sigma[:, None, None, None]
    return x - s * net(x / (s * s + 1).sqrt(), t)


def train_student(latents: torch.Tensor, teacher: L.LatentUNet, steps: int, batch: int, lr: float, seed: int,
                  minutes: float, log, skip: int = 20, ema_decay: float = 0.95) -> tuple:
    """Consistency distillation of the eps teacher (Song et al. 2023, Alg. 2; LCM's skipping-step
    schedule, Luo et al. 2023): for timesteps t_{n+1} = t_n + ``skip`` over 0…999, the student's
    denoised prediction at (x_{t_{n+1}}, t_{n+1}) is trained to match its EMA target's at the point a
    DDIM step of the teacher reaches at t_n (σ-space Euler step). Initialised from the teacher; the
    student keeps the eps parameterisation, so ComfyUI's lcm sampler runs it as an SD1.5 model."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 2)
    cfg = L.UNET_CONFIG
    net = L.LatentUNet(tuple(cfg["ch"]), cfg["emb"], cfg["latent"], "student")
    net.load_state_dict(teacher.state_dict())
    target = L.LatentUNet(tuple(cfg["ch"]), cfg["emb"], cfg["latent"], "student")
    target.load_state_dict(teacher.state_dict())
    target.requires_grad_(False)
    teacher.requires_grad_(False)
    sig = L.eps_sigmas()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = _cosine(opt, steps)
    prog = _Progress("student", minutes, log)
    for i in range(steps):
        z = _batch(latents, batch, gen)
        n = torch.randint(0, 1000 // skip, (batch,), generator=gen)
        t_hi = (n + 1) * skip - 1
        t_lo = (n * skip - 1).clamp(min=0)
        s_hi, s_lo = sig[t_hi], sig[t_lo]
        x_hi = z + s_hi[:, None, None, None] * torch.randn(z.shape, generator=gen)
        with torch.no_grad():
            d = _eps_denoise(teacher, x_hi, s_hi, t_hi.float())
            x_lo = d + (s_lo / s_hi)[:, None, None, None] * (x_hi - d)      # DDIM / Euler in σ space
            want = torch.where((n == 0)[:, None, None, None], x_lo, _eps_denoise(target, x_lo, s_lo, t_lo.float()))
        got = _eps_denoise(net, x_hi, s_hi, t_hi.float())
        loss = F.mse_loss(got, want)
        _update(opt, sched, net, loss)
        _ema(target, net, ema_decay)
        if prog.step(loss):
            break
    return net.eval(), prog.done, prog.seconds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=6000)
    ap.add_argument("--vae-steps", type=int, default=2500)
    ap.add_argument("--unet-steps", type=int, default=6000)
    ap.add_argument("--vae-minutes", type=float, default=13.0)
    ap.add_argument("--unet-minutes", type=float, default=14.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", default="eps,flow,student", help="student: distilled from the eps model of this "
                    "run, or of --teacher")
    ap.add_argument("--teacher", type=Path, default=None, help="the eps teacher for the student (default: trained here "
                    "or the shipped one)")
    ap.add_argument("--student-minutes", type=float, default=10.0)
    ap.add_argument("--vae", type=Path, default=None, help="use this trained VAE instead of training one")
    ap.add_argument("--init-dir", type=Path, default=None, help="continue the U-Nets from the weights in this folder")
    ap.add_argument("--smoke", action="store_true", help="a few steps of every phase (CI)")
    ap.add_argument("--out-dir", type=Path, default=L.ASSETS)
    ap.add_argument("--curve", type=Path, default=HERE / "results" / "train_learned_loss")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.smoke:
        a.images, a.vae_steps, a.unet_steps = 32, 10, 10
    command = "python benchmarks/train_learned.py " + " ".join(sys.argv[1:] if argv is None else argv)
    rows = []

    def log(phase, step, loss, secs):
        rows.append({"phase": phase, "step": step, "loss": round(loss, 6), "seconds": round(secs, 1)})
        if step % 200 == 0:
            print(f"[{phase}] step {step} loss {loss:.5f} {secs:.0f}s", flush=True)

    t0 = time.time()
    images = scenes.training_images(a.seed, a.images)
    held = scenes.training_images(a.seed + 1, 64 if not a.smoke else 8, split="held")
    print(f"rendered {len(images)} training scenes in {time.time() - t0:.0f} s", flush=True)
    out = a.out_dir
    if a.vae is None:
        vae, steps, secs = train_vae(images, a.vae_steps, 32, 2e-3, a.seed, a.vae_minutes, log)
        with torch.no_grad():
            rec = float((vae.decode(vae.encode(held)) - held).abs().mean())
        final = sum(r["loss"] for r in rows[-5:]) / max(1, len(rows[-5:]))
        L.save(vae, out / L.VAE_PATH.name, L.VAE_CONFIG,
               {"command": command, "seed": a.seed, "steps": steps, "seconds": round(secs, 1),
                "final_loss": round(final, 5), "held_out_l1": round(rec, 5), "z_std": float(vae.z_std)})
        print(f"VAE: {steps} steps in {secs / 60:.1f} min, final loss {final:.4f}, held-out L1 {rec:.4f}", flush=True)
    else:
        vae = L.load_vae(a.vae)
    latents = encode_all(vae, images)
    held_lat = encode_all(vae, held)
    print(f"latents {tuple(latents.shape)} std {float(latents.std()):.3f}", flush=True)
    trained = {}
    for kind in [k for k in a.kinds.split(",") if k]:
        if kind == "student":
            teacher = trained.get("eps") or L.load_unet("eps", a.teacher or out / L.UNET_PATHS["eps"].name)
            net, steps, secs = train_student(latents, teacher, a.unet_steps, 64, 2e-4, a.seed, a.student_minutes, log)
            kind_loss = "eps"  # held-out loss below: the student's denoising loss as an eps model
        else:
            init = a.init_dir / L.UNET_PATHS[kind].name if a.init_dir else None
            net, steps, secs = train_unet(latents, kind, a.unet_steps, 128, 1e-3, a.seed, a.unet_minutes, log, init=init)
            kind_loss = kind
        trained[kind] = net
        gen = torch.Generator().manual_seed(99)
        with torch.no_grad():
            val = sum(float(diffusion_loss(net, held_lat, gen, kind_loss)) for _ in range(8)) / 8
        mine = [r["loss"] for r in rows if r["phase"] == kind][-5:]
        final = sum(mine) / max(1, len(mine))
        cfg = dict(L.UNET_CONFIG, kind=kind)
        L.save(net, out / L.UNET_PATHS[kind].name, cfg,
               {"command": command, "seed": a.seed, "steps": steps, "seconds": round(secs, 1), "final_loss": round(final, 5),
                "held_out_loss": round(val, 5), "params": sum(p.numel() for p in net.parameters())}, half=True)
        print(f"{kind}: {steps} steps in {secs / 60:.1f} min, final loss {final:.4f}, held-out {val:.4f}", flush=True)
    if not a.smoke and rows:
        write_curve(rows, a.curve)
    print(f"all done in {(time.time() - t0) / 60:.1f} min", flush=True)


def write_curve(rows: list[dict], curve: Path) -> None:
    """The loss curves (CSV + PNG); the phases this run did not train keep their earlier rows."""
    curve.parent.mkdir(parents=True, exist_ok=True)
    if curve.with_suffix(".csv").exists():
        mine = {r["phase"] for r in rows}
        with open(curve.with_suffix(".csv"), newline="") as f:
            old = [dict(r, step=int(r["step"]), loss=float(r["loss"]), seconds=float(r["seconds"]))
                   for r in csv.DictReader(f) if r["phase"] not in mine]
        rows = old + rows
    with open(curve.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    from bench_plot import line_chart
    series = {}
    for ph in dict.fromkeys(r["phase"] for r in rows):
        rs = [r for r in rows if r["phase"] == ph]
        series[ph] = ([r["step"] for r in rs], [r["loss"] for r in rs])
    line_chart(series, "learned world training (one CPU thread)", "step", "loss (mean of 10 steps)",
               curve.with_suffix(".png"), logy=True, markers=False)


if __name__ == "__main__":
    main()
