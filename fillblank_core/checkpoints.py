"""Safe reading of model files: safetensors, or torch.load with weights_only=True. Never pickles
with code; nothing is downloaded."""

from __future__ import annotations

import os
from typing import Callable

import torch


def first_line(e: BaseException) -> str:
    """The exception's first line: torch's unpickling errors go on to advise weights_only=False,
    which we never do (an untrusted checkpoint could run code)."""
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


def read_state_dict(path, error: Callable[[object, str], Exception], what: str = "checkpoint") -> dict:
    """A dict of tensors from ``path``; ``error(path, reason)`` makes the exception to raise.

    Unwraps {"state_dict": sd} / {"model": sd} wrappings and DataParallel's "module." prefix."""
    if path is None or str(path) == "":
        raise error(path, "no file was given")
    path = str(path)
    if not os.path.isfile(path):
        raise error(path, "the file does not exist")
    try:
        if path.lower().endswith(".safetensors"):
            import safetensors.torch
            sd = safetensors.torch.load_file(path, device="cpu")
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt zip, garbage bytes, pickles with code in them, ...
        raise error(path, f"the file is not a readable {what} ({first_line(e)})") from e
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict) and not any(
                isinstance(v, torch.Tensor) for v in sd.values()):
            sd = sd[key]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise error(path, "the file does not hold a state dict of tensors")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd
