"""Shared test setup: the repo on sys.path, the ComfyUI test host found through COMFYUI_PATH."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_NODES = REPO / "tests" / "custom_nodes"
ARTIFACTS = REPO / "test-artifacts"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def comfyui_path() -> Path | None:
    p = os.environ.get("COMFYUI_PATH")
    return Path(p) if p else None


@pytest.fixture(scope="session")
def comfy_host():
    """Import the ComfyUI host in-process (CPU) and return its folder."""
    path = comfyui_path()
    if path is None or not (path / "comfy").is_dir():
        pytest.skip("COMFYUI_PATH is not set to a ComfyUI checkout; run the README's test command "
                    "(bash scripts/test.sh), which sets it to the pinned test host")
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    import comfy.cli_args
    comfy.cli_args.args.cpu = True  # before model_management is imported: no GPU on CI
    import comfy.model_management  # noqa: F401
    import comfy.samplers  # noqa: F401
    if str(TEST_NODES / "fillblank_test_nodes") not in sys.path:
        sys.path.insert(0, str(TEST_NODES / "fillblank_test_nodes"))
    return path


@pytest.fixture(scope="session")
def pack(comfy_host):
    """The pack imported the way ComfyUI imports a custom node (a package named after its folder)."""
    name = "fillblank_pack"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "__init__.py",
                                                  submodule_search_locations=[str(REPO)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny(comfy_host):
    """Tiny real ComfyUI model, VAE and conditioning (tests/custom_nodes/fillblank_test_nodes/tiny.py)."""
    import tiny as tiny_mod
    return tiny_mod


@pytest.fixture(scope="module")
def one_torch_thread():
    """For modules of tiny tensors: extra intra-op threads only spin against other jobs on a shared
    CPU (measured: 2 threads made such a module up to 10x slower on a busy 2-core machine)."""
    import torch
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
