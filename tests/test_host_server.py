"""The test harness's host start-up (tests/host_server.py) under parallel workers: scripts/test.sh runs
two pytest-xdist workers, and each module that starts a server makes the host's custom_nodes folders."""

from __future__ import annotations

from pathlib import Path

import host_server


def test_custom_node_folders_made_by_another_worker_meanwhile_are_no_error(tmp_path, monkeypatch):
    """Two workers start a server at once on a fresh host: both see the folder missing, the other makes
    it first; this one's mkdir must not fail (FileExistsError stopped the second worker's module)."""
    host = tmp_path / "ComfyUI"
    host.mkdir()
    (host / "extra_model_paths.yaml").write_text("horde:\n    custom_nodes: ../hordelib/nodes\n")
    folder = tmp_path / "hordelib" / "nodes"
    real_exists = Path.exists

    def racing_exists(self, *a, **k):  # the other worker makes it between our look and our mkdir
        if self == folder and not real_exists(self):
            self.mkdir(parents=True)
            return False
        return real_exists(self, *a, **k)
    monkeypatch.setattr(Path, "exists", racing_exists)
    host_server.ensure_host_custom_node_folders(host)
    assert folder.is_dir()
