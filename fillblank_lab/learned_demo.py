"""The learned world in seconds, without ComfyUI: novel objects inserted with the shipped eps model.

    python -m fillblank_lab.demo --learned [--out learned_demo.png] [--seeds 3] [--steps 20]

For each seed a held-out object (``scenes.example(seed, "held")``) goes into its scene with the
shipped learned VAE and eps U-Net (``fillblank_lab/assets``), driven by fillblank_core directly
(Euler in the k-diffusion space of ComfyUI's SD1.5 discrete schedule, known region kept exactly):

    scene | novel target | paste (decoded) | paste + img2img 0.5 | fillblank default | lit truth

and each run's metrics (``learned_metrics``: identity, harmony, joint). The paste + img2img column is
the hand recipe as ComfyUI's KSampler + Set Latent Noise Mask runs it: the pasted composite's latent,
sampled with the hole as the mask over the last ``steps`` of ``int(steps / denoise)`` σ (``recipe_sigmas``,
KSampler's denoise). The hole is the user's drawn hole (object, shadow and 4 px) ∪ the object's
silhouette, without Mask Refiner's grow. ``benchmarks/learned.py``
runs the same world through ComfyUI's own nodes and model classes, with every baseline.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from fillblank_core import masks
from fillblank_core.sampling import inpaint, sample_euler
from fillblank_core.schedules import LambdaSchedule

from . import learned as L
from . import learned_metrics as M
from . import scenes

COLUMNS = ("scene", "novel target", "paste (decoded)", "paste + img2img 0.5", "fillblank default", "lit truth")


class EpsDenoiser(torch.nn.Module):
    """The eps U-Net as a k-diffusion denoiser on unit-scale latents: D(x, σ) = x − σ·ε̂(x/√(σ²+1), t),
    t the timestep of σ on the SD1.5 discrete schedule (the nearest in log σ, as ComfyUI's
    ModelSamplingDiscrete.timestep)."""

    def __init__(self, net: L.LatentUNet):
        super().__init__()
        self.net = net
        self.log_sigmas = L.eps_sigmas().log()

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        return (sigma.float().log()[None] - self.log_sigmas[:, None]).abs().argmin(0).float()

    def forward(self, x, sigma, **kwargs):
        s = sigma.reshape(-1, 1, 1, 1).to(x)
        return x - s * self.net(x / (s * s + 1).sqrt(), self.timestep(sigma.reshape(-1)))


def sigmas(steps: int) -> torch.Tensor:
    """ComfyUI's "normal" schedule on the SD1.5 discrete σ: timesteps evenly from 999 to 0, then 0."""
    sig = L.eps_sigmas()
    t = torch.linspace(len(sig) - 1, 0, steps)
    ls = sig.log()
    lo = t.floor().long()
    hi = (lo + 1).clamp(max=len(sig) - 1)
    vals = (ls[lo] + (t - lo) * (ls[hi] - ls[lo])).exp()
    return torch.cat([vals, vals.new_zeros(1)])


def recipe_sigmas(steps: int, denoise: float) -> torch.Tensor:
    """The σ a KSampler with ``denoise`` < 1 runs: the last ``steps`` steps of a schedule of
    int(steps / denoise) steps (ComfyUI's KSampler.set_steps)."""
    return sigmas(int(steps / denoise))[-(steps + 1):]


def run(seeds=(0, 1, 2), steps: int = 20, denoise: float = 0.5) -> list[dict]:
    """One dict per seed: the images of the columns and the metrics of paste, recipe and default."""
    vae, model = L.load_vae(), EpsDenoiser(L.load_unet("eps"))
    sig = sigmas(steps)
    recipe_sig = recipe_sigmas(steps, denoise)
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        ex = scenes.example(seed, "held")
        size = ex.scene.shape[1]
        lat_hw = (size // 8, size // 8)
        z_scene = vae.encode(ex.scene) * L.SCALE
        z_paste = vae.encode(ex.paste) * L.SCALE
        hole = masks.latent_hole(masks.union(ex.hole, ex.alpha[None]), lat_hw)
        silhouette = masks.touched_latent(ex.alpha[None], lat_hw)
        with torch.no_grad():
            default = inpaint(model, z_scene, hole, sig, seed=seed, sampler=sample_euler, target=z_paste,
                              target_mask=silhouette, schedule=LambdaSchedule.default())
            recipe = inpaint(model, z_paste, hole, recipe_sig, seed=seed, sampler=sample_euler)
        dec = {k: vae.decode(v / L.SCALE) for k, v in
               (("scene", z_scene), ("paste", z_paste), ("recipe", recipe), ("default", default))}
        truth_dec = vae.decode(vae.encode(ex.truth))
        hole_px = hole.reshape(1, 1, *lat_hw).repeat_interleave(8, -1).repeat_interleave(8, -2).reshape(1, size, size)
        score = {k: M.score(dec[k], ex, dec["paste"], dec["scene"], hole_px, truth_dec) for k in ("paste", "recipe", "default")}
        known = (hole.reshape(1, 1, *lat_hw) == 0).expand_as(default)
        rows.append({"seed": seed, "example": ex, "images": dec, "scores": score,
                     "known_err": float((default - z_scene)[known].abs().max()) if bool(known.any()) else 0.0,
                     "seconds": time.perf_counter() - t0})
    return rows


def target_on_checker(ex) -> torch.Tensor:
    """[H, W, 3]: the run's cut-out at the scene's size over a grey checker (its transparent part)."""
    hw = ex.scene.shape[1:3]
    tgt = torch.nn.functional.interpolate(ex.target.movedim(-1, 1), size=hw).movedim(1, -1)[0]
    alpha = 1 - torch.nn.functional.interpolate(ex.target_mask[None], size=hw)[0, 0]
    checker = 0.75 + 0.1 * ((torch.arange(hw[0])[:, None] // 8 + torch.arange(hw[1])[None] // 8) % 2)
    return tgt * alpha[..., None] + checker[..., None] * (1 - alpha[..., None])


def captioned_grid(rows: list[torch.Tensor], captions, scale: int = 3):
    """A PIL image: the rows ([H, n·W, 3] each) stacked, upscaled ``scale``× (nearest), one caption per
    column on a white band on top."""
    from PIL import Image, ImageDraw
    img = torch.cat(rows, 0).clamp(0, 1)
    pic = Image.fromarray((img * 255).round().byte().numpy())
    pic = pic.resize((pic.width * scale, pic.height * scale), Image.NEAREST)
    out = Image.new("RGB", (pic.width, pic.height + 22), "white")
    out.paste(pic, (0, 22))
    draw, col = ImageDraw.Draw(out), pic.width // len(captions)
    for i, text in enumerate(captions):
        draw.text((i * col + 6, 5), text, fill=(20, 20, 20))
    return out


def grid(rows: list[dict], scale: int = 3):
    """The PNG grid (PIL image): one row per seed, the columns of ``COLUMNS``, a caption row on top."""
    lines = [torch.cat([r["example"].scene[0], target_on_checker(r["example"]), r["images"]["paste"][0],
                        r["images"]["recipe"][0], r["images"]["default"][0], r["example"].truth[0]], 1) for r in rows]
    return captioned_grid(lines, COLUMNS, scale)


def table(rows: list[dict]) -> str:
    head = f"{'seed':>4} {'object':<14} {'method':<8} {'identity':>8} {'harmony':>7} {'joint':>5} {'ratio':>6}"
    out = [head, "-" * len(head)]
    for r in rows:
        obj = f"{r['example'].obj.family}/{r['example'].obj.texture}"
        for k in ("paste", "recipe", "default"):
            s = r["scores"][k]
            out.append(f"{r['seed']:>4} {obj:<14} {k:<8} {str(bool(s['identity'])):>8} {str(bool(s['harmony'])):>7} "
                       f"{str(bool(s['joint'])):>5} {float(s['ratio']):6.2f}")
    return "\n".join(out)


def main(out: Path, seeds: int = 3, steps: int = 20) -> list[dict]:
    t0 = time.perf_counter()
    rows = run(range(seeds), steps)
    out.parent.mkdir(parents=True, exist_ok=True)
    grid(rows).save(out)
    print(table(rows))
    print(f"known region: largest latent change outside the hole {max(r['known_err'] for r in rows):.1e}")
    print(f"wrote {out} ({time.perf_counter() - t0:.1f} s): columns {', '.join(COLUMNS)}")
    return rows
