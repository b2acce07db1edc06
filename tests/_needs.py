"""What the suite needs besides its Python packages, how CI provides each, and the one way a test
says that one is missing.

A test that cannot run here skips with a reason that names what is missing and how .ci/run provides
it (`missing(...)`). Under CI=true, which .ci/run exports, tests/conftest.py turns every skip into
a failure: CI never passes with tests that did not run.
"""

from __future__ import annotations

import os

HOW = {
    "host": ("COMFYUI_PATH is not set to a ComfyUI checkout: bash scripts/test.sh (the README's test command, "
             "which .ci/run runs) sets it to the pinned ComfyUI test host"),
    "chromium": ("no Chromium found: .ci/run installs Debian's `chromium` (apt-get install -y chromium); "
                 "elsewhere install it or set CHROMIUM=/path/to/chrome"),
    "node": "Node.js (`node`) not found: .ci/run installs Debian's `nodejs` (apt-get install -y nodejs)",
    "frontend 1.35": ("the older frontend the browser tests also run (comfyui-frontend-package 1.35.9) is not "
                      "unpacked: bash scripts/test.sh unpacks it beside the venv and sets FILLBLANK_FRONTEND_135"),
    "playwright": ("Playwright's Python client is not installed: scripts/test.sh installs it from "
                   "requirements-test.txt (pip install -r requirements-test.txt)"),
}


def ci() -> bool:
    """CI=true (what .ci/run exports, and what GitHub Actions and most CI services set)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def missing(what: str, detail: str = "") -> None:
    """Skip the running test because `what` (a key of HOW) is missing; under CI=true this fails."""
    import pytest
    pytest.skip(HOW[what] + (f" ({detail})" if detail else ""))
