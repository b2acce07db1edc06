"""Shared test setup: the repo on sys.path, the ComfyUI test host found through COMFYUI_PATH, and
under CI=true no skipped test (a skip is a failure there: see tests/_needs.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import _needs

pytest_plugins = ["pytester"]  # tests/test_ci_no_skips.py runs small suites with this conftest

REPO = Path(__file__).resolve().parents[1]
TEST_NODES = REPO / "tests" / "custom_nodes"
ARTIFACTS = REPO / "test-artifacts"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # a parallel worker (scripts/test.sh runs 2): its share of the cores, so that the workers' torch
    # threads do not spin against each other (threads beyond the cores made small-tensor modules up
    # to 10x slower on a busy 2-core machine; see one_torch_thread)
    import torch
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, workers)))


def _loader():
    """scripts/comfy_host.py, the one host / pack loader (imported when a host fixture is used)."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import comfy_host
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return comfy_host


def comfyui_path() -> Path | None:
    p = os.environ.get("COMFYUI_PATH")
    return Path(p) if p else None


@pytest.fixture(scope="session")
def comfy_host():
    """Import the ComfyUI host in-process (CPU) and return its folder."""
    path = comfyui_path()
    if path is None or not (path / "comfy").is_dir():
        _needs.missing("host", f"COMFYUI_PATH={os.environ.get('COMFYUI_PATH', '')!r}")
    _loader().import_host(path, progress_bar=True)
    if str(TEST_NODES / "fillblank_test_nodes") not in sys.path:
        sys.path.insert(0, str(TEST_NODES / "fillblank_test_nodes"))
    return path


@pytest.fixture(scope="session")
def pack(comfy_host):
    """The pack imported the way ComfyUI imports a custom node (a package named after its folder)."""
    return _loader().import_pack(REPO)


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


# --- CI: a skip is a failure -----------------------------------------------------------------------

CI_SKIP = ("CI=true: this test was skipped, and CI runs every test (the suite fails instead of skipping "
           "when something it needs is missing). Why it skipped: {reason}")


def _skip_reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail_a_skip(rep) -> None:
    if _needs.ci() and rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        rep.longrepr = CI_SKIP.format(reason=_skip_reason(rep.longrepr))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_a_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A whole module skipped at import (pytest.importorskip, allow_module_level): a collection error."""
    outcome = yield
    _fail_a_skip(outcome.get_result())
