"""Analytic denoisers for tests and benchmarks: exact posterior means, no weights needed.

Both have the k-diffusion denoiser signature ``model(x, sigma, **kwargs) -> x0`` (extra keyword
arguments such as ``denoise_mask`` or ``seed`` are ignored; ``sigma`` is a tensor [B] or a
scalar) and live in a :class:`~fillblank_core.spaces.NoiseSpace`, where
``x_sigma = a(sigma)·x0 + s(sigma)·eps``:

* :class:`GaussianPrior` — x0 ~ N(mean, cov) over flattened images. Its denoiser is the exact
  posterior mean, and :meth:`GaussianPrior.conditional` gives the exact conditional law of the
  unknown pixels given the known ones, the ground truth an inpainting sampler should reproduce.
* :class:`ExemplarDenoiser` — x0 uniform over a finite set of images. Its denoiser is the exact
  optimal (MMSE) one: a softmax over the exemplars, so a perfect sampler draws one exemplar.

All maths runs in float64; outputs come back in the input's dtype and device.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch

from fillblank_core.spaces import NoiseSpace

__all__ = ["GaussianPrior", "ExemplarDenoiser", "FactorisedExemplarDenoiser", "smooth_covariance"]


def _coefficients(space: NoiseSpace, sigma, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """a(σ), s(σ) as float64 tensors [1] (one level for the batch) or [B] (σ per element)."""
    if isinstance(sigma, torch.Tensor):
        flat = sigma.detach().reshape(-1).to("cpu", torch.float64)
        if flat.numel() > 1 and bool((flat == flat[0]).all()):
            flat = flat[:1]  # the usual case (sigma * s_in): one level for the whole batch
        values = flat.tolist()
    else:
        values = [float(sigma)]
    if len(values) not in (1, batch):
        raise ValueError(f"sigma must be a scalar or have one value per batch element ({batch}), "
                         f"got {len(values)} values")
    pairs = [space.coefficients(v) for v in values]
    a = torch.tensor([p[0] for p in pairs], dtype=torch.float64)
    s = torch.tensor([p[1] for p in pairs], dtype=torch.float64)
    return a, s


def smooth_covariance(shape: Sequence[int], length_scale: float = 2.0, variance: float = 1.0,
                      channel_correlation: float = 0.0, jitter: float = 1e-4) -> torch.Tensor:
    """A smooth image covariance for a C×H×W shape, as a float64 [D, D] matrix (D = C·H·W).

    Squared-exponential kernel over pixel positions,
    ``k(p, q) = variance · exp(−|p − q|² / (2·length_scale²))``, times a channel covariance
    with ``channel_correlation`` off the diagonal (Kronecker product, channel-major like
    ``tensor.reshape(-1)`` of a C×H×W tensor), plus ``jitter`` on the diagonal so that it is
    positive definite.
    """
    if len(shape) != 3:
        raise ValueError(f"shape must be (C, H, W), got {tuple(shape)}")
    c, h, w = (int(v) for v in shape)
    if length_scale <= 0 or variance <= 0 or jitter < 0:
        raise ValueError("length_scale and variance must be > 0 and jitter >= 0")
    if c > 1 and not -1.0 / (c - 1) < channel_correlation < 1.0:
        raise ValueError(f"channel_correlation must make a positive definite matrix for {c} "
                         f"channels, got {channel_correlation}")
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                            indexing="ij")
    pos = torch.stack([ys.reshape(-1), xs.reshape(-1)], dim=1)
    d2 = ((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1)
    spatial = variance * torch.exp(-d2 / (2.0 * length_scale ** 2))
    chan = torch.full((c, c), float(channel_correlation), dtype=torch.float64)
    chan.fill_diagonal_(1.0)
    cov = torch.kron(chan, spatial)
    cov = cov + jitter * torch.eye(cov.shape[0], dtype=torch.float64)
    return (cov + cov.T) / 2.0


class GaussianPrior:
    """x0 ~ N(mean, cov) over flattened C×H×W images; exact denoiser E[x0 | x_σ].

    With x_σ = a·x0 + s·ε:  E[x0 | x_σ] = mean + a·cov·(a²·cov + s²·I)⁻¹·(x_σ − a·mean),
    evaluated through cov = U·diag(e)·Uᵀ as mean + U·diag(a·e / (a²·e + s²))·Uᵀ·(x_σ − a·mean).
    """

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor, space: Optional[NoiseSpace] = None):
        mean = torch.as_tensor(mean)
        if mean.ndim != 3:
            raise ValueError(f"mean must be a C×H×W tensor, got shape {tuple(mean.shape)}")
        d = mean.numel()
        cov = torch.as_tensor(cov, dtype=torch.float64)
        if cov.shape != (d, d):
            raise ValueError(f"cov must be [{d}, {d}] for a mean of shape {tuple(mean.shape)}, "
                             f"got {tuple(cov.shape)}")
        cov = (cov + cov.T) / 2.0
        evals, evecs = torch.linalg.eigh(cov)
        if float(evals.min()) < -1e-8 * max(1.0, float(evals.max())):
            raise ValueError(f"cov is not positive semi-definite (smallest eigenvalue {float(evals.min()):g})")
        self.shape = tuple(mean.shape)
        self.mean = mean.detach().to(torch.float64).reshape(-1).clone()
        self.cov = cov
        self.evals = evals.clamp_min(0.0)
        self.evecs = evecs
        # the symmetric square root of the covariance: unique, unlike the eigenvectors (their signs and
        # the basis of a repeated eigenvalue depend on the CPU's LAPACK path), so draws are the same
        # on every machine
        self.sqrt_cov = (evecs * self.evals.sqrt()[None]) @ evecs.T
        self.space = space if space is not None else NoiseSpace.eps()
        self.calls = 0

    # -- the denoiser --------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor, sigma, **kwargs) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"x must be [B, {', '.join(map(str, self.shape))}], got {tuple(x.shape)}")
        self.calls += 1
        b = x.shape[0]
        a, s = _coefficients(self.space, sigma, b)
        xf = x.detach().to(torch.float64).reshape(b, -1).cpu()
        resid = xf - a[:, None] * self.mean[None]
        denom = a[:, None] ** 2 * self.evals[None] + s[:, None] ** 2
        num = a[:, None] * self.evals[None]
        # denom == 0 only where the eigenvalue is 0 and s == 0: that direction is known exactly (mean)
        gain = torch.where(denom > 0, num / torch.where(denom > 0, denom, torch.ones_like(denom)),
                           torch.zeros_like(denom))
        out = self.mean[None] + ((resid @ self.evecs) * gain) @ self.evecs.T
        return out.reshape(x.shape).to(device=x.device, dtype=x.dtype)

    # -- ground truth for tests ------------------------------------------------------------------
    def _region(self, mask: torch.Tensor) -> torch.Tensor:
        m = torch.as_tensor(mask)
        while m.ndim > 3 and m.shape[0] == 1:
            m = m[0]
        if m.ndim == 2:
            m = m[None].expand(self.shape)
        elif m.ndim == 3 and m.shape[0] == 1:
            m = m.expand(self.shape)
        if tuple(m.shape) != self.shape:
            raise ValueError(f"mask must be H×W, 1×H×W or C×H×W for shape {self.shape}, got {tuple(mask.shape)}")
        return m.reshape(-1) > 0.5

    def conditional(self, known: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact law of the unknown pixels (mask = 1) given the known ones (mask = 0).

        known: a C×H×W (or 1×C×H×W) image whose known pixels are conditioned on.
        Returns (mean, cov): mean as a float64 C×H×W image equal to ``known`` on the known
        pixels and to E[x_u | x_k] on the unknown ones; cov the float64 [U, U] covariance of the
        unknown pixels (in ``tensor.reshape(-1)`` order of the masked positions).
        """
        u = self._region(mask)
        k = ~u
        xk = torch.as_tensor(known).detach().to(torch.float64).reshape(-1)
        if xk.numel() != self.mean.numel():
            raise ValueError(f"known must have shape {self.shape}, got {tuple(known.shape)}")
        c_uk = self.cov[u][:, k]
        c_kk = self.cov[k][:, k]
        c_uu = self.cov[u][:, u]
        if int(k.sum()) == 0:
            cond_mean, cond_cov = self.mean[u], c_uu
        else:
            chol = torch.linalg.cholesky(c_kk)
            sol = torch.cholesky_solve((xk[k] - self.mean[k])[:, None], chol)[:, 0]
            cond_mean = self.mean[u] + c_uk @ sol
            cond_cov = c_uu - c_uk @ torch.cholesky_solve(c_uk.T.contiguous(), chol)
        full = xk.clone()
        full[u] = cond_mean
        return full.reshape(self.shape), (cond_cov + cond_cov.T) / 2.0

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """n draws of x0 as a float64 [n, C, H, W] tensor."""
        z = torch.randn(n, self.mean.numel(), generator=generator, dtype=torch.float64)
        x = self.mean[None] + z @ self.sqrt_cov
        return x.reshape(n, *self.shape)


class ExemplarDenoiser:
    """The exact optimal denoiser of x0 drawn uniformly from a finite set of images y_1..y_K.

    E[x0 | x_σ] = Σ_k w_k·y_k with w = softmax_k(−‖x_σ − a·y_k‖² / (2·s²) + log π_k) (π: uniform, or
    the given prior), computed in float64
    with the log-sum-exp shift, so it stays finite as s → 0 (at s = 0 it returns the nearest
    exemplar; where a = 0 all weights are equal).
    """

    def __init__(self, images: torch.Tensor, space: Optional[NoiseSpace] = None,
                 log_prior: Optional[torch.Tensor] = None):
        images = torch.as_tensor(images)
        if images.ndim != 4 or images.shape[0] < 1:
            raise ValueError(f"images must be a [K, C, H, W] tensor, got shape {tuple(images.shape)}")
        self.images = images.detach().to(torch.float64).cpu().clone()
        # optional log prior weights of the exemplars (default uniform): a class with a very low
        # prior is one the unguided model (practically) never produces
        self.log_prior = None if log_prior is None else \
            torch.as_tensor(log_prior, dtype=torch.float64).reshape(1, -1)
        self.flat = self.images.reshape(images.shape[0], -1)
        self.sq = (self.flat ** 2).sum(1)
        self.space = space if space is not None else NoiseSpace.eps()
        self.calls = 0

    def __len__(self) -> int:
        return self.images.shape[0]

    def _check(self, x: torch.Tensor):
        if tuple(x.shape[1:]) != tuple(self.images.shape[1:]):
            raise ValueError(f"x must be [B, {', '.join(map(str, self.images.shape[1:]))}], got {tuple(x.shape)}")

    def _sq_dist(self, xf: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """‖x − a·y_k‖² for every batch element and exemplar: [B, K]."""
        x2 = (xf ** 2).sum(1, keepdim=True)
        cross = xf @ self.flat.T
        d = x2 - 2.0 * a[:, None] * cross + (a[:, None] ** 2) * self.sq[None]
        return d.clamp_min(0.0)

    def weights(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """Posterior probabilities of the exemplars given x at sigma: float64 [B, K]."""
        self._check(x)
        b = x.shape[0]
        a, s = _coefficients(self.space, sigma, b)
        xf = x.detach().to(torch.float64).reshape(b, -1).cpu()
        d = self._sq_dist(xf, a)
        w = torch.empty_like(d)
        s = s.expand(b)
        pos = s > 0
        if bool(pos.any()):
            logits = -d[pos] / (2.0 * s[pos, None] ** 2)
            if self.log_prior is not None:
                logits = logits + self.log_prior
            w[pos] = torch.softmax(logits, dim=1)
        if bool((~pos).any()):  # s == 0: the posterior is a point mass on the nearest exemplar
            nearest = d[~pos].argmin(1)
            w[~pos] = torch.nn.functional.one_hot(nearest, len(self)).to(torch.float64)
        return w

    def __call__(self, x: torch.Tensor, sigma, **kwargs) -> torch.Tensor:
        self.calls += 1
        w = self.weights(x, sigma)
        out = w @ self.flat
        return out.reshape(x.shape).to(device=x.device, dtype=x.dtype)

    def nearest(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Index of the nearest exemplar for each image in x ([B, C, H, W] or C×H×W): long [B].

        mask (H×W, [C|1,H,W] or [B,C|1,H,W]; 1 = counts) restricts the distance to a region.
        """
        if x.ndim == 3:
            x = x[None]
        self._check(x)
        xf = x.detach().to(torch.float64).cpu()
        diff = xf[:, None] - self.images[None]  # [B, K, C, H, W]
        if mask is not None:
            m = torch.as_tensor(mask).detach().to(torch.float64).cpu()
            if m.ndim == 2:
                m = m[None, None, None]
            elif m.ndim == 3:
                m = m[None, None]
            elif m.ndim == 4:
                m = m[:, None]
            else:
                raise ValueError(f"mask must be H×W, [C,H,W] or [B,C,H,W], got shape {tuple(mask.shape)}")
            diff = diff * m
        return (diff ** 2).flatten(2).sum(2).argmin(1)


class FactorisedExemplarDenoiser:
    """The exact optimal denoiser of x0 drawn uniformly from a PRODUCT set: the image is cut along
    its width into P equal parts; part p is one of K_p exemplars y_{p,i}, each belonging to a group
    g_{p,i} (the scene's light), and the data are every combination whose parts share one group.

    ‖x − a·y‖² is a sum over the parts, so the posterior factorises given the group ℓ:
    log p(ℓ | x) = Σ_p logsumexp_{i: g=ℓ} (−‖x_p − a·y_{p,i}‖²/(2s²) + log π_{p,i}) (+ const), and
    E[x0_p | x] = Σ_ℓ p(ℓ | x) Σ_{i: g=ℓ} softmax(…)_i y_{p,i} — the same posterior mean as an
    ExemplarDenoiser over all Π_p K_p combinations (``tests/test_evidence_several.py`` compares
    them), at the cost of Σ_p K_p. float64, log-sum-exp shifted; at s = 0 the nearest combination.
    """

    def __init__(self, parts: list, groups: list, space: Optional[NoiseSpace] = None, log_prior: Optional[list] = None):
        if len(parts) != len(groups) or not parts:
            raise ValueError("one groups tensor per part, at least one part")
        self.parts = [torch.as_tensor(p).detach().to(torch.float64).cpu().clone() for p in parts]
        shape = self.parts[0].shape[1:]
        if any(p.ndim != 4 or p.shape[1:] != shape for p in self.parts):
            raise ValueError("every part must be a [K_p, C, H, w] tensor of the same C, H, w")
        self.groups = [torch.as_tensor(g, dtype=torch.long).reshape(-1) for g in groups]
        self.n_groups = int(max(int(g.max()) for g in self.groups)) + 1
        self.log_prior = [torch.zeros(len(p), dtype=torch.float64) if log_prior is None or log_prior[i] is None
                          else torch.as_tensor(log_prior[i], dtype=torch.float64).reshape(-1)
                          for i, p in enumerate(self.parts)]
        self.flat = [p.reshape(p.shape[0], -1) for p in self.parts]
        self.sq = [(f ** 2).sum(1) for f in self.flat]
        self.onehot = [torch.nn.functional.one_hot(g, self.n_groups).to(torch.float64) for g in self.groups]
        self.space = space if space is not None else NoiseSpace.eps()
        self.calls = 0

    def _split(self, x: torch.Tensor) -> list:
        w = self.parts[0].shape[-1]
        if tuple(x.shape[1:3]) != tuple(self.parts[0].shape[1:3]) or x.shape[-1] != w * len(self.parts):
            raise ValueError(f"x must be [B, {self.parts[0].shape[1]}, {self.parts[0].shape[2]}, "
                             f"{w * len(self.parts)}], got {tuple(x.shape)}")
        xf = x.detach().to(torch.float64).cpu()
        return [xf[..., i * w:(i + 1) * w].reshape(x.shape[0], -1) for i in range(len(self.parts))]

    def weights(self, x: torch.Tensor, sigma) -> list:
        """Per part, the marginal posterior probabilities of its exemplars: float64 [B, K_p] each."""
        xs = self._split(x)
        b = x.shape[0]
        a, s = _coefficients(self.space, sigma, b)
        s = s.expand(b)
        a = a.expand(b)
        ds = [((xp ** 2).sum(1, keepdim=True) - 2.0 * a[:, None] * (xp @ f.T) + (a[:, None] ** 2) * sq[None]).clamp_min(0.0)
              for xp, f, sq in zip(xs, self.flat, self.sq)]
        out = [torch.zeros_like(d) for d in ds]
        pos = s > 0
        if bool(pos.any()):
            per_group, logits = [], []
            for d, prior, oh in zip(ds, self.log_prior, self.onehot):
                lg = -d[pos] / (2.0 * s[pos, None] ** 2) + prior[None]
                # logsumexp over the exemplars of each group: [b, G] (−inf for a group with none)
                masked = lg[:, :, None] + torch.log(oh)[None]
                per_group.append(torch.logsumexp(masked, dim=1))
                logits.append(lg)
            total = sum(per_group)
            p_group = torch.softmax(total, dim=1)                       # [b, G]
            for i, (lg, pg, g) in enumerate(zip(logits, per_group, self.groups)):
                within = torch.exp(lg - pg[:, g])                       # softmax inside each group
                out[i][pos] = torch.nan_to_num(within * p_group[:, g])
        if bool((~pos).any()):  # s == 0: the nearest combination (the nearest per part within the best group)
            vals, idxs = [], []
            for d, g in zip(ds, self.groups):
                per = [torch.where(g[None] == k, d[~pos], torch.full_like(d[~pos], float("inf"))).min(1)
                       for k in range(self.n_groups)]
                vals.append(torch.stack([v.values for v in per], 1))
                idxs.append(torch.stack([v.indices for v in per], 1))
            k_best = sum(vals).argmin(1)
            for i, idx in enumerate(idxs):
                pick = idx.gather(1, k_best[:, None])[:, 0]
                out[i][~pos] = torch.nn.functional.one_hot(pick, self.parts[i].shape[0]).to(torch.float64)
        return out

    def __call__(self, x: torch.Tensor, sigma, **kwargs) -> torch.Tensor:
        self.calls += 1
        ws = self.weights(x, sigma)
        w = self.parts[0].shape[-1]
        parts = [(wp @ f).reshape(x.shape[0], *self.parts[0].shape[1:3], w) for wp, f in zip(ws, self.flat)]
        return torch.cat(parts, -1).to(device=x.device, dtype=x.dtype)
