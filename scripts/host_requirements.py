"""Print a ComfyUI host's run-time requirements for the test venv (used by scripts/test.sh).

    python scripts/host_requirements.py COMFYUI_DIR > host-requirements.txt

Reads COMFYUI_DIR/requirements.txt and leaves out what the test stack pins itself
(requirements-test.txt): torch, torchvision, torchaudio (torchaudio is not installed at all: the
host's audio nodes then fail to import, which is harmless) and the host's frontend pin
comfyui-frontend-package (the tests use the current frontend). pip options (lines starting with
"-", e.g. an extra index) are left out too: the test venv installs from the usual registry only.
What was left out goes to stderr. Standard library only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

EXCLUDED = ("torch", "torchvision", "torchaudio", "comfyui-frontend-package")
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of -, _ and . as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def host_requirements(text: str) -> tuple[list[str], list[str]]:
    """(kept requirement lines, left-out lines) of a requirements.txt text."""
    kept, left_out = [], []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        m = NAME.match(line)
        if line.startswith("-") or m is None or normalize(m.group(1)) in EXCLUDED:
            left_out.append(line)
        else:
            kept.append(line)
    return kept, left_out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    req = Path(argv[1]) / "requirements.txt"
    if not req.is_file():
        print(f"{req} does not exist: installing no host requirements", file=sys.stderr)
        return 0
    kept, left_out = host_requirements(req.read_text())
    for line in left_out:
        print(f"   left out of the host's requirements: {line}", file=sys.stderr)
    print("\n".join(kept))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
