"""fillblank_lab — the evaluation lab around fillblank_core (not shipped to ComfyUI users).

* :mod:`fillblank_lab.toy` — procedural toy scenes and insertion tasks with known answers;
* :mod:`fillblank_lab.toy_model` — a tiny learned pixel-space denoiser, weights in ``assets/``;
* :mod:`fillblank_lab.denoisers` — exact analytic denoisers (Gaussian prior, finite exemplar set);
* :mod:`fillblank_lab.metrics` — fidelity, context, seam and hit-rate metrics;
* :mod:`fillblank_lab.demo` — ``python -m fillblank_lab.demo``: the pipeline on the toy model;
* :mod:`fillblank_lab.photo_world` — real photos (scikit-image), an exemplar model built from them that
  relights and shadows, and a non-linear VAE: the README picture (``scripts/make_readme_picture.py``).

Used by the tests, ``benchmarks/`` and the demo. It imports ``fillblank_core`` (absolute imports:
run it with the repository root on ``sys.path``); ``fillblank_core`` and ``nodes`` never import it.
"""

from .denoisers import GaussianPrior, ExemplarDenoiser, smooth_covariance

__all__ = ["GaussianPrior", "ExemplarDenoiser", "smooth_covariance"]
