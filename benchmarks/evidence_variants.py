"""Deliberately changed guidance for the evidence world (``benchmarks/evidence_world.py``): the
pack's own modules patched for one run — the touched-cells design (``touched_cells``), the broken
variants the world must say no to (``broken_guidance``) and the few-step limit's last model call
(``last_call_variant``). Each raises if its patch never engaged."""

from __future__ import annotations

import contextlib
import sys

import torch


@contextlib.contextmanager
def touched_cells(pack):
    """For trying designs on a main that lacks it: the guidance weight 1 on every latent cell the
    object touches (the pack's silhouette_latent made binary) instead of the covered fraction."""
    masks = sys.modules[pack.__name__ + ".fillblank_core.masks"]
    if not hasattr(masks, "silhouette_latent"):  # the nodes pull every touched cell already
        yield
        return
    orig = masks.silhouette_latent

    def touched(mask, latent_hw):
        return (orig(mask, latent_hw) > 0).to(torch.float32)
    masks.silhouette_latent = touched
    try:
        yield
    finally:
        masks.silhouette_latent = orig


@contextlib.contextmanager
def broken_guidance(pack, kind: str, latent_out=None):
    """Patch the pack's GuidedDenoiser for one deliberately broken variant; raises if the patch
    never engaged (the attribute it relies on is gone: update the variant).

    broken_no_noise / broken_double_noise: the noise term of the guided model input × 0 / × 2;
    broken_pred_only: the model sees the unguided state, only its prediction is pulled;
    broken_raw_target: the target is used as the VAE gives it (no process_latent_in: ``latent_out``
    maps the model-space target back to the raw latent) — the latent-format bug;
    broken_covered_fraction: the pull weighted by the covered fraction of each latent cell instead
    of 1 on every cell the object touches (the thin-object bug)."""
    mod = sys.modules[pack.__name__ + ".fillblank_core.sampling"]
    gd = mod.GuidedDenoiser
    orig = gd.__call__
    engaged = [0]

    def call(self, x, sigma, **kwargs):
        d = self.__dict__
        if d.get("target") is None:
            return orig(self, x, sigma, **kwargs)
        if kind in ("broken_no_noise", "broken_double_noise"):
            eps = d.get("eps")
            if eps is None:
                return orig(self, x, sigma, **kwargs)
            engaged[0] += 1
            d["eps"] = eps * (0.0 if kind == "broken_no_noise" else 2.0)
            try:
                return orig(self, x, sigma, **kwargs)
            finally:
                d["eps"] = eps
        if kind == "broken_pred_only":
            inner = d["model"]
            engaged[0] += 1
            d["model"] = lambda _guided_input, s, **kw: inner(x, s, **kw)
            try:
                return orig(self, x, sigma, **kwargs)
            finally:
                d["model"] = inner
        if kind == "broken_covered_fraction":
            engaged[0] += 1  # patched below, around the whole node call
            return orig(self, x, sigma, **kwargs)
        if kind == "broken_raw_target":
            target = d["target"]
            engaged[0] += 1
            d["target"] = latent_out(target)
            try:
                return orig(self, x, sigma, **kwargs)
            finally:
                d["target"] = target
        raise ValueError(f"unknown broken variant {kind!r}")

    masks = sys.modules[pack.__name__ + ".fillblank_core.masks"]
    touched = masks.touched_latent

    def covered_fraction(mask, latent_hw):  # the round-2 rule: weight = the fraction of the cell covered
        m = masks.mask_b1hw(mask)
        h, w = int(latent_hw[0]), int(latent_hw[1])
        f = max(1, m.shape[-2] // h)
        oy, ox = (m.shape[-2] - f * h) // 2, (m.shape[-1] - f * w) // 2
        return torch.nn.functional.avg_pool2d(m[..., oy:oy + f * h, ox:ox + f * w], f)
    gd.__call__ = call
    if kind == "broken_covered_fraction":
        masks.touched_latent = covered_fraction
    try:
        yield
    finally:
        gd.__call__ = orig
        masks.touched_latent = touched
    if engaged[0] == 0:
        raise RuntimeError(f"{kind}: the patch of GuidedDenoiser never engaged (no 'eps'/'model' attribute?)")


@contextlib.contextmanager
def last_call_variant(pack, kind: str, steps: int, lit_exemplar=None):
    """Patch the pack's guidance for one of the ``LIMIT`` methods of a run of ``steps`` steps with one
    model call per step. ``lit_exemplar(target, mask) -> [1, C, h, w]``: the right answer in model space
    (for ``last_call_ceiling``)."""
    sampling = sys.modules[pack.__name__ + ".fillblank_core.sampling"]
    schedules = sys.modules[pack.__name__ + ".fillblank_core.schedules"]
    if kind == "context_to_end":
        old = sampling.CONTEXT_KEYFRAMES
        sampling.CONTEXT_KEYFRAMES = schedules.adapt_keyframes(schedules.R.DEFAULT_ADAPT)
        try:
            yield
        finally:
            sampling.CONTEXT_KEYFRAMES = old
        return
    if kind not in ("last_call_ceiling", "last_call_input"):
        raise ValueError(f"unknown limit method {kind!r}")
    gd = sampling.GuidedDenoiser
    orig = gd.__call__
    engaged = [0]

    def call(self, x, sigma, **kwargs):
        d = self.__dict__
        if d.get("target") is None or d.get("span", (0, 0))[0] + d.get("span_calls", 0) != steps - 1:
            return orig(self, x, sigma, **kwargs)
        engaged[0] += 1
        d["span_calls"] += 1
        hole = self.mask if self.context is None else (self.mask + self.context).clamp(0.0, 1.0)
        target = lit_exemplar(self.target, self.mask).to(x) if kind == "last_call_ceiling" else self.target
        a, s = self.space.coefficients_like(sigma, x)
        x_in = torch.lerp(x, (a * target).to(x), hole.to(x)) + (s * self.eps) * torch.sqrt(hole * (2.0 - hole))
        x0 = self.model(x_in, sigma, **kwargs)  # not pulled: the output pull ends inside the run
        d.update(last_x0=x0, last_w=torch.zeros_like(hole))
        return x0
    gd.__call__ = call
    try:
        yield
    finally:
        gd.__call__ = orig
    if engaged[0] == 0:
        raise RuntimeError(f"{kind}: the last model call was never reached (a sampler with several calls per step?)")
