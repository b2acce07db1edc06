"""How much the learned world's scene tells about its light, and how much an object's own colours vary
against it: the measured reason a denoiser relights a novel object only by forgetting it.

The renderer lights an object by a per-channel gain ``g = tint · (ambient + intensity · shade)``. A
linear fit from the scene's mean colours (whole, wall, ground, left − right) to log g, trained on
``--fit`` training scenes and tested on the next ``--test``, says how well the scene shows the light;
applying the fitted gain to the test objects' albedo says what an explicit relighting read off the
scene would give (error to the exact lit truth over the object / the paste's; one uniform gain
cannot draw the shading across the object, so even the light's exact mean gain leaves an error,
the floor of this kind of relighting). Against it, the
spread of the objects' own mean albedo (log, per channel): a denoiser that has never seen the object
cannot tell its albedo from its light, so its posterior keeps the observed colours until the noise
also hides the object.

    python benchmarks/learned_light.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from fillblank_lab import scenes  # noqa: E402


def _features(ex) -> list[float]:
    sc, h = ex.scene[0], ex.world.horizon
    w = sc.shape[1] // 2
    return [*sc.mean((0, 1)).tolist(), *sc[:h].mean((0, 1)).tolist(), *sc[h:].mean((0, 1)).tolist(),
            *(sc[:, :w].mean((0, 1)) - sc[:, w:].mean((0, 1))).tolist(), 1.0]


def _gain(ex) -> np.ndarray:
    """The light's uniform per-channel gain on the object: tint · (ambient + intensity · the mean shade).
    The shade is linear across the object's box, so its mean over the box is the same for every light
    direction (0.62): the gain carries the light's colour and strength, not its direction."""
    L = ex.world.light
    shade = float(ex.obj.shade(ex.alpha.shape[0], L).mean())
    return (L.tint * (L.ambient + L.intensity * shade)).numpy()


def _ratio(ex, gain: np.ndarray) -> float:
    """Error to the exact lit truth over the object of the albedo × ``gain``, over the paste's."""
    a = ex.alpha[..., None]
    relit = (ex.placed * torch.tensor(gain, dtype=torch.float32)).clamp(0, 1)
    err = float(((relit - ex.truth[0]) ** 2 * a).sum())
    paste = float(((ex.paste[0] - ex.truth[0]) ** 2 * a).sum())
    return err / max(paste, 1e-12)


def light_stats(fit: int = 300, test: int = 100) -> dict:
    exs = [scenes.example(s, "train") for s in range(fit + test)]
    X = np.array([_features(e) for e in exs])
    Y = np.log(np.array([_gain(e) for e in exs]))
    W = np.linalg.lstsq(X[:fit], Y[:fit], rcond=None)[0]
    P, T = X[fit:] @ W, Y[fit:]
    r2 = 1 - ((P - T) ** 2).sum(0) / ((T - T.mean(0)) ** 2).sum(0)
    albedo = np.log(np.array([(e.placed * e.alpha[..., None]).sum((0, 1)).numpy() / float(e.alpha.sum())
                              for e in exs]).clip(1e-3))
    fitted = [_ratio(e, np.exp(p)) for e, p in zip(exs[fit:], P)]
    exact = [_ratio(e, np.exp(t)) for e, t in zip(exs[fit:], T)]
    return {"fit": fit, "test": test, "r2": r2.tolist(), "gain_std": Y.std(0).tolist(), "albedo_std": albedo.std(0).tolist(),
            "fitted_ratio": float(np.median(fitted)), "fitted_pass": float(np.mean(np.array(fitted) <= 0.5)),
            "exact_ratio": float(np.median(exact)), "exact_pass": float(np.mean(np.array(exact) <= 0.5))}


def lines(s: dict) -> list[str]:
    f = lambda v: " / ".join(f"{x:.2f}" for x in v)  # noqa: E731
    return ["### Does the scene show the light? (the renderer, no model)", "",
            f"`python benchmarks/learned_light.py`: a linear fit from the scene's mean colours to the log of the light's "
            f"per-channel gain on the object ({s['fit']} training scenes, tested on the next {s['test']}).", "",
            "| quantity | R / G / B or value |", "|---|---|",
            f"| R² of the fitted log gain (test scenes) | {f(s['r2'])} |",
            f"| spread (std) of the light's log gain | {f(s['gain_std'])} |",
            f"| spread (std) of the objects' own log mean albedo | {f(s['albedo_std'])} |",
            f"| object's error to the exact lit truth / the paste's, albedo × the gain fitted from the scene (median; "
            f"share ≤ 0.5) | {s['fitted_ratio']:.2f}; {s['fitted_pass']:.2f} |",
            f"| the same with the light's exact mean gain (the floor of one uniform gain: it cannot draw the "
            f"shading across the object) | {s['exact_ratio']:.2f}; {s['exact_pass']:.2f} |", ""]


if __name__ == "__main__":
    print("\n".join(lines(light_stats())))
