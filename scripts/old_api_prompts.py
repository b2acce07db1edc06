"""Recover the example workflows' API prompts as first released, from git history, into tests/api_prompts/.

    .venv/bin/python scripts/old_api_prompts.py    # (re)write tests/api_prompts/<example>.json

(COMFYUI_PATH names the host, as for the other scripts; needs the repository's git history.)

An API prompt is what a script that drives ComfyUI over HTTP keeps and sends again: node ids, class
types and inputs by name. For each example workflow this takes the file as it was in the commit that
added it, and converts it with tests/workflow_tools.py against the /object_info of a host server that
runs the pack as of that same commit (git archive into a scratch folder): the prompt a user got from
that release. tests/test_e2e_server.py queues these, unchanged but for the tiny test model and fewer
steps, on today's nodes: inputs added since (the Lambda Schedule's axis) must be optional.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "api_prompts"
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "scripts"))
import make_node_docs  # noqa: E402  (default_host)
from host_server import ComfyServer  # noqa: E402
from workflow_tools import ui_to_api  # noqa: E402


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def first_commit(path: str) -> str:
    """The commit that added `path` (following no renames: the first release's name)."""
    added = git("log", "--diff-filter=A", "--format=%H", "--", path).split()
    if not added:
        raise SystemExit(f"{path} is not in the git history")
    return added[-1]


def checkout(commit: str, folder: Path) -> Path:
    """The pack's files at `commit`, written into `folder`."""
    data = subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO, check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def main() -> int:
    host = make_node_docs.default_host()  # COMFYUI_PATH, else the pinned test host
    if host is None or not (host / "comfy").is_dir():
        raise SystemExit("set COMFYUI_PATH to a ComfyUI checkout (bash scripts/test.sh sets it to the test host)")
    # an example was first released as example_workflows/<key>.json (named for its title since, see
    # make_workflows.FILES); its prompt keeps the key's name
    import make_workflows
    examples = [f"{key}.json" for key in make_workflows.EXAMPLES]
    by_commit: dict[str, list[str]] = {}
    for name in examples:
        by_commit.setdefault(first_commit(f"example_workflows/{name}"), []).append(name)
    OUT.mkdir(exist_ok=True)
    for commit, names in by_commit.items():
        with tempfile.TemporaryDirectory(prefix="fillblank-old-") as tmp:
            pack = checkout(commit, Path(tmp) / "fillblank")
            server = ComfyServer(host, Path(tmp) / "server", pack=pack)
            server.start()
            try:
                info = server.object_info()
            finally:
                server.stop()
        date = git("show", "-s", "--format=%cI", commit).strip()
        for name in names:
            wf = json.loads(git("show", f"{commit}:example_workflows/{name}"))
            record = {"source": {"workflow": f"example_workflows/{name}", "commit": commit, "date": date,
                                 "made_by": "scripts/old_api_prompts.py (ui_to_api against that commit's "
                                            "pack on a host server)"},
                      "prompt": ui_to_api(wf, info)}
            (OUT / name).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"wrote {(OUT / name).relative_to(REPO)} (example_workflows/{name} at {commit[:7]}, {date})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
