"""Safe reading of model files: safetensors, or torch.load with weights_only=True. Never pickles
with code; nothing is downloaded.

A file that cannot be read this way is refused with a reason worded here (see
:func:`why_unreadable`), never with torch's own text: for a pickle with code in it, torch's text
explains how to load it anyway (``weights_only=False``, "you have two options"), sometimes with
terminal escape codes — advice to switch the protection off, for a file that may be booby-trapped.
Reasons: the file is empty; corrupt or truncated; not a plain tensor checkpoint (it holds pickled
Python objects besides tensors); or it holds no tensors at all. Text that comes from the file
itself (tensor names, what a pickle refers to) goes through :func:`printable` first."""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import zipfile
from typing import Callable, Iterable, Optional

import torch

EMPTY = "the file is empty (an interrupted download or copy?)"
CORRUPT = "the file is corrupt or truncated (an interrupted download or copy?)"
PICKLE = ("it is not a plain tensor checkpoint: it holds pickled Python objects besides tensors{refs}, "
          "and loading those could run code")
WEIGHT_EXTENSIONS = (".safetensors", ".pth", ".pt", ".bin", ".ckpt")

# What a pickled state dict of tensors refers to besides torch itself (for naming the rest).
_PLAIN_GLOBALS = {"collections.OrderedDict", "_codecs.encode", "builtins.set", "builtins.frozenset",
                  "builtins.bytearray", "builtins.complex", "builtins.slice"}
# torch's legacy (pre-1.6) format: magic number, protocol, sys info, the object, storage keys;
# then raw storage bytes.
_LEGACY_PICKLES = 5


def printable(text, limit: int = 120) -> str:
    """``text`` safe to show: control characters (terminal escape codes included) as "?", at most
    ``limit`` characters."""
    s = "".join(c if c.isprintable() else "?" for c in str(text))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def file_label(path) -> str:
    """The file's name as messages show it (no folders, printable)."""
    return printable(os.path.basename(os.path.normpath(str(path))) or str(path))


def _pickle_globals(stream) -> tuple[list[str], bool]:
    """(the ``module.name`` globals one pickle refers to, whether it parsed to its STOP), read with
    pickletools, which never imports or calls anything. Strings are followed through the memo far
    enough to name STACK_GLOBAL's (protocol 4) module and name."""
    found, stack, memo = [], [], {}
    try:
        for op, arg, _ in pickletools.genops(stream):
            name = op.name
            if name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
                stack = []
            elif name == "STACK_GLOBAL":
                if len(stack) >= 2 and None not in stack[-2:]:
                    found.append(f"{stack[-2]}.{stack[-1]}")
                stack = []
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1] if stack else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack = (stack + [memo.get(arg)])[-2:]
            elif "UNICODE" in name or "STRING" in name:
                stack = (stack + [str(arg)])[-2:]
            else:
                stack = (stack + [None])[-2:]
        return found, True
    except Exception:  # garbled or truncated opcodes
        return found, False


def _file_pickle_globals(path: str) -> tuple[list[str], bool]:
    """Globals of a torch file's pickle(s) and whether they all parsed (zip or legacy format)."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                pkl = [n for n in z.namelist() if n.endswith("data.pkl")]
                if not pkl:
                    return [], False
                return _pickle_globals(io.BytesIO(z.read(pkl[0])))
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError):
            return [], False
    found, ok = [], True
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if f.read(1) != b"\x80":  # neither format: not a pickle at all
            return [], False
        f.seek(0)
        for _ in range(_LEGACY_PICKLES):  # a plain pickle.dump file ends after the first
            g, ok = _pickle_globals(f)
            found += g
            if not ok or f.tell() >= size:
                break
    return found, ok


def why_unreadable(path, error: Optional[BaseException] = None) -> str:
    """Why a file that failed to load safely failed, worded for the user, from the file itself
    (``error``, what the safe load raised, is used for its type only, never its text)."""
    path = str(path)
    try:
        if os.path.getsize(path) == 0:
            return EMPTY
    except OSError:
        return CORRUPT
    if path.lower().endswith(".safetensors"):
        return CORRUPT
    try:
        found, ok = _file_pickle_globals(path)
    except OSError:
        return CORRUPT
    other = [g for g in dict.fromkeys(found) if not (g == "torch" or g.startswith("torch.")
                                                     or g in _PLAIN_GLOBALS)]
    if other or (ok and isinstance(error, pickle.UnpicklingError)):
        refs = ""
        if other:
            names = ", ".join(printable(g, 60) for g in other[:3])
            refs = f" (it refers to {names}{f' and {len(other) - 3} more' if len(other) > 3 else ''})"
        return PICKLE.format(refs=refs)
    return CORRUPT


def _load(path: str, mmap: bool = False):
    if path.lower().endswith(".safetensors"):
        import safetensors.torch
        return safetensors.torch.load_file(path, device="cpu")
    if mmap and zipfile.is_zipfile(path):
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return torch.load(path, map_location="cpu", weights_only=True)


def check_readable(path) -> Optional[str]:
    """None when ``path`` loads safely, else :func:`why_unreadable`'s reason (for files read by
    another library, e.g. a transformers folder's weights; safetensors headers only)."""
    path = str(path)
    try:
        if path.lower().endswith(".safetensors"):
            import safetensors
            with safetensors.safe_open(path, framework="pt"):
                pass
        else:
            _load(path, mmap=True)
    except Exception as e:
        return why_unreadable(path, e)
    return None


def read_state_dict(path, error: Callable[[object, str], Exception], what: str = "checkpoint") -> dict:
    """A dict of tensors from ``path``; ``error(path, reason)`` makes the exception to raise.
    ``what`` names what the file should be ("SAM checkpoint") in the reason for a file that
    loads but holds no tensors.

    Unwraps {"state_dict": sd} / {"model": sd} wrappings and DataParallel's "module." prefix."""
    if path is None or str(path) == "":
        raise error(path, "no file was given")
    path = str(path)
    if not os.path.isfile(path):
        raise error(path, "the file does not exist")
    try:
        sd = _load(path)
    except Exception as e:  # empty, corrupt or truncated files, pickles with code in them, ...
        raise error(path, why_unreadable(path, e)) from None  # torch's text advises unsafe loading
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict) and not any(
                isinstance(v, torch.Tensor) for v in sd.values()):
            sd = sd[key]
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise error(path, f"it is not a {what}: it holds no state dict of tensors")
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _listed(label: str, items: list, limit: int) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return f"{label} " + ", ".join(printable(i, 80) for i in items[:limit]) + more


def describe_mismatch(expected: dict, sd: dict, limit: int = 3) -> str:
    """What keeps ``sd`` from loading strictly into a module whose state dict has the shapes
    ``expected`` ({name: shape}): "missing …; unexpected …; wrong shape …" ("" when it fits)."""
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    wrong = [f"{k} {tuple(sd[k].shape)} instead of {tuple(expected[k])}" for k in expected
             if k in sd and tuple(sd[k].shape) != tuple(expected[k])]
    parts: Iterable[str] = (_listed(label, items, limit) for label, items in
                            (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
                            if items)
    return "; ".join(parts)
