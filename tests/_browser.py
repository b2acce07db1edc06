"""Headless Chromium for the browser tests: find the system browser and Playwright's Python client,
and tell what the frontend that the ComfyUI host serves does on its own.

Playwright drives the system's Chromium (Debian's `chromium` package, /usr/bin/chromium); its
own browser download (`playwright install`) is never used. Flags: no sandbox (CI runs as root),
no GPU, and no background networking, component updates, sync or QUIC, so that the browser makes
no connections of its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import _needs

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--force-color-profile=srgb", "--hide-scrollbars",
]


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary: $CHROMIUM, else the usual system names."""
    env = os.environ.get("CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = name if Path(name).is_file() else shutil.which(name)
        if path:
            return path
    return None


def missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return _needs.HOW["playwright"] + "; the browser tests drive the system Chromium with it"
    if find_chromium() is None:
        return _needs.HOW["chromium"] + "; the browser tests need a real headless browser"
    return None


def launch(playwright):
    return playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS, headless=True)


# --- the frontend the host serves ----------------------------------------------------------------

def frontend_static() -> Path | None:
    """The static folder of the installed ComfyUI frontend (PyPI's comfyui-frontend-package, which
    ComfyUI 0.3.x+ serves), found without importing it; $FILLBLANK_FRONTEND_STATIC overrides."""
    env = os.environ.get("FILLBLANK_FRONTEND_STATIC")
    if env:
        return Path(env) if (Path(env) / "index.html").is_file() else None
    import importlib.util
    spec = importlib.util.find_spec("comfyui_frontend_package")
    if spec is None or not spec.submodule_search_locations:
        return None
    static = Path(list(spec.submodule_search_locations)[0]) / "static"
    return static if (static / "index.html").is_file() else None


def frontend_version() -> str | None:
    """The installed comfyui-frontend-package's version (what the host serves), or None."""
    from importlib import metadata
    try:
        return metadata.version("comfyui-frontend-package")
    except metadata.PackageNotFoundError:
        return None


_BUNDLE: list[str] = []


def named_by_frontend(url: str) -> bool:
    """True when the frontend's own bundle names this URL literally (without its query).

    The current frontend's default workflow lists its model files with download links, and the
    frontend looks them up when it opens that workflow on start (its missing-model check): such a
    request belongs to the frontend, not to an extension. Nothing of ours is in that bundle.
    """
    if not _BUNDLE:
        static = frontend_static()
        text = ""
        if static is not None:
            text = "\n".join(f.read_text(errors="replace") for f in sorted((static / "assets").glob("*.js")))
        _BUNDLE.append(text)
    base = url.split("?", 1)[0].split("#", 1)[0]
    return len(base) > len("https://") + 3 and base in _BUNDLE[0]


# --- whose error is it --------------------------------------------------------------------------
# The browser tests count the errors the pack causes, not the frontend's own (frontend 1.58.1 on
# ComfyUI 0.8.0 logs a 400 from its GET /api/jobs?status=…, an API newer than that host). An error
# is attributed through what Chromium's DevTools protocol tells about it: the script frames of its
# stack (with their async parents), the resource a failed request asked for and the stack of the
# script that started the request.

PACK_PATH = "/extensions/fillblank/"  # where the server serves web/ (the pack's folder is fillblank)


def is_pack_url(url: str) -> bool:
    return PACK_PATH in (url or "")


def stack_urls(stack: dict | None) -> list[str]:
    """The script URLs of a DevTools StackTrace, innermost first, the async parents' after."""
    out: list[str] = []
    while stack:
        out += [f.get("url", "") for f in stack.get("callFrames", [])]
        stack = stack.get("parent")
    return out


def failed_request_is_ours(url: str, initiator_urls: list[str], status: int | None) -> bool:
    """A failed request: ours when it asked for one of the pack's files, when a pack script is on the
    stack that started it, or when the server failed (5xx: the server runs the pack's Python). A
    request the frontend (or the page's HTML) made for its own purposes and the server refused (4xx,
    e.g. an API this host lacks) is the frontend's."""
    return is_pack_url(url) or any(is_pack_url(u) for u in initiator_urls) or (status or 0) >= 500


def error_is_ours(texts: list[str], urls: list[str]) -> bool:
    """A logged error or an exception: ours when its text (messages, the stacks of Error objects
    logged with it) names the pack or any frame of its stack is a pack script; also when nothing
    tells where it came from (no script URL at all), so that nothing unattributable is dropped. Only
    an error whose frames are all the frontend's (or the test's own evaluate calls) is not ours."""
    if any(is_pack_url(t) or "fillblank" in (t or "").lower() for t in texts) or any(is_pack_url(u) for u in urls):
        return True
    return not any(u for u in urls)
