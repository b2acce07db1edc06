"""No silent skips in CI: under CI=true (which .ci/run exports) a skipped test is a failure whose
message names what was missing and how .ci/run provides it; without CI it stays a skip. An expected
failure (xfail, a stated shortfall) is not a skip and stays what it is. Checked on
small suites run with this repository's conftest (pytester), and on the real skip sites with the
tool or the host taken away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import _browser

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"

SUITE = '''
import pytest
import _needs

def test_runs():
    assert True

def test_needs_node():
    _needs.missing("node", "for the parity check")

def test_plain_skip():
    pytest.skip("something else is missing")

@pytest.fixture
def host():
    _needs.missing("host")

def test_needs_the_host(host):
    pass

@pytest.mark.xfail(strict=True, reason="a known shortfall, stated")
def test_known_shortfall():
    assert False
'''


def _run(pytester, monkeypatch, ci: str | None, source=SUITE):
    pytester.makeconftest((TESTS / "conftest.py").read_text())
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    pytester.makepyfile(test_suite=source)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")


def test_without_ci_a_missing_tool_is_a_skip(pytester, monkeypatch):
    r = _run(pytester, monkeypatch, None)
    r.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert r.ret == 0
    r.stdout.fnmatch_lines(["*Node.js (`node`) not found: .ci/run installs Debian's `nodejs`*"])


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_every_skip_fails_naming_what_is_missing(pytester, monkeypatch, ci):
    r = _run(pytester, monkeypatch, ci)
    # the fixture's skip fails the setup (an error); an expected failure stays one (it is not a skip)
    r.assert_outcomes(passed=1, failed=2, errors=1, xfailed=1)
    assert r.ret != 0
    out = r.stdout.str()
    r.stdout.fnmatch_lines(["FAILED test_suite.py::test_needs_node - CI=true: this test was skipped, and CI runs every test*",
                            "FAILED test_suite.py::test_plain_skip - CI=true: this test was skipped*"], consecutive=False)
    r.stdout.fnmatch_lines(["ERROR test_suite.py::test_needs_the_host - CI=true: this test was skipped*"])
    assert "Why it skipped: Node.js (`node`) not found: .ci/run installs Debian's `nodejs` (apt-get install -y nodejs)" in out
    assert "Why it skipped: something else is missing" in out
    assert "Why it skipped: COMFYUI_PATH is not set to a ComfyUI checkout: bash scripts/test.sh" in out


@pytest.mark.parametrize("ci", ["false", "0", ""])
def test_ci_false_is_not_ci(pytester, monkeypatch, ci):
    _run(pytester, monkeypatch, ci).assert_outcomes(passed=1, skipped=3, xfailed=1)


def test_under_ci_a_module_skipped_at_import_fails(pytester, monkeypatch):
    r = _run(pytester, monkeypatch, "true", "import pytest\npytest.importorskip('no_such_module_fillblank')\n"
             "def test_a():\n    pass\n")
    assert r.ret != 0
    assert "CI=true: this test was skipped" in r.stdout.str() and "no_such_module_fillblank" in r.stdout.str()


def test_browser_reason_names_how_ci_installs_chromium(monkeypatch):
    monkeypatch.setattr(_browser, "find_chromium", lambda: None)
    why = _browser.missing_reason()
    assert why and "apt-get install -y chromium" in why and ".ci/run" in why


def _real(args: list[str], **env) -> subprocess.CompletedProcess:
    """This suite's own tests in a fresh pytest, with the environment changed."""
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", *args],
                          cwd=REPO, capture_output=True, text=True, env={**os.environ, **env}, timeout=300)


def test_the_real_skip_sites_fail_under_ci_when_node_and_the_host_are_missing():
    """test_web_schedule_parity without `node` on PATH and a host test without COMFYUI_PATH: skipped
    without CI, failed under CI=true with the reason."""
    args = ["tests/test_web_schedule_parity.py", "tests/test_v3_schema.py::test_the_pack_registers_through_comfy_entrypoint_only"]
    bare = {"PATH": "/nonexistent", "COMFYUI_PATH": ""}
    local = _real(args + ["-x"], CI="", **bare)
    assert local.returncode == 0 and " skipped" in local.stdout and "failed" not in local.stdout, local.stdout[-2000:]
    r = _real(args, CI="true", **bare)
    assert r.returncode != 0, r.stdout[-2000:]
    assert "Why it skipped: Node.js (`node`) not found: .ci/run installs" in r.stdout
    assert "Why it skipped: COMFYUI_PATH is not set to a ComfyUI checkout" in r.stdout
    summary = r.stdout.strip().splitlines()[-1]
    assert "skipped" not in summary and " error" in summary, summary  # fixture skips fail their setups
