"""Headless Chromium for the browser tests: find the system browser and Playwright's Python client.

Playwright drives the system's Chromium (Debian's `chromium` package, /usr/bin/chromium); its
own browser download (`playwright install`) is never used. Flags: no sandbox (CI runs as root),
no GPU, and no background networking, component updates, sync or QUIC, so that the browser makes
no connections of its own.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
        return ("Playwright's Python client is not installed (pip install playwright, pinned in "
                "requirements-test.txt); the browser tests drive the system Chromium with it")
    if find_chromium() is None:
        return ("no Chromium found (install Debian's `chromium` package, e.g. apt-get install -y chromium, "
                "or set CHROMIUM=/path/to/chrome); the browser tests need a real headless browser")
    return None


def launch(playwright):
    return playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS, headless=True)


# --- the 2025–26 ComfyUI frontend in front of the 2024 test host ---------------------------------

def new_frontend_static() -> Path | None:
    """The static folder of the current ComfyUI frontend (PyPI's comfyui-frontend-package), if installed."""
    env = os.environ.get("FILLBLANK_FRONTEND_STATIC")
    if env:
        return Path(env) if (Path(env) / "index.html").is_file() else None
    import importlib.util
    spec = importlib.util.find_spec("comfyui_frontend_package")
    if spec is None or not spec.submodule_search_locations:
        return None
    static = Path(list(spec.submodule_search_locations)[0]) / "static"
    return static if (static / "index.html").is_file() else None


class FrontendShim:
    """Serve the current frontend's static files and forward its /api/* calls to the 2024 host.

    The 2024 host has no /api prefix and lacks a few later endpoints; the shim adds the prefix,
    answers those endpoints with empty results, adds the node-definition fields the current
    frontend expects (python_module, …) and drops the host's own legacy core extensions (the
    current frontend ships its own). Custom-node extensions (/extensions/fillblank/…) come from
    the host unchanged. Test-only: it lets the browser test run our extension in the current
    frontend, in both its canvas and its Vue node renderer, without a current ComfyUI checkout.
    """

    STUBS = {
        "/features": {}, "/i18n": {}, "/experiment/models": [], "/workflow_templates": {},
        "/userdata": [], "/node_replacements": {}, "/global_subgraphs": {},
        "/jobs": {"jobs": [], "total": 0, "pagination": {"offset": 0, "limit": 100, "total": 0, "has_more": False}},
    }

    def __init__(self, static: Path, backend_url: str):
        self.static = Path(static)
        self.backend = backend_url.rstrip("/")
        self.port = None
        self.url = None
        self._loop = None
        self._thread = None
        self._runner = None

    # -- handlers
    async def _forward(self, request, path):
        from aiohttp import web
        data = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "comfy-user")}
        async with self._session.request(request.method, self.backend + path, params=request.query,
                                         data=data or None, headers=headers) as r:
            body = await r.read()
            return web.Response(status=r.status, body=body,
                                headers={"Content-Type": r.headers.get("Content-Type", "application/octet-stream")})

    async def _ws(self, request):
        import asyncio
        import aiohttp
        from aiohttp import web
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async with self._session.ws_connect(self.backend.replace("http", "ws", 1) + "/ws", params=request.query) as back:
            async def down():
                async for m in back:
                    if m.type == aiohttp.WSMsgType.TEXT:
                        await ws.send_str(m.data)
                    elif m.type == aiohttp.WSMsgType.BINARY:
                        await ws.send_bytes(m.data)
            task = asyncio.ensure_future(down())
            async for m in ws:
                if m.type == aiohttp.WSMsgType.TEXT:
                    await back.send_str(m.data)
            task.cancel()
        return ws

    async def _api(self, request):
        import json
        from aiohttp import web
        path = "/" + request.match_info["tail"]
        if path == "/ws":
            return await self._ws(request)
        if path == "/extensions":
            r = await self._forward(request, path)
            return web.json_response([e for e in json.loads(r.body) if not e.startswith("/extensions/core/")])
        if path.startswith("/object_info") and request.method == "GET":
            r = await self._forward(request, path)
            info = json.loads(r.body)
            for v in info.values():
                if isinstance(v, dict):
                    v.setdefault("python_module", "custom_nodes.fillblank" if str(v.get("category", "")).startswith("fillblank") else "nodes")
                    v.setdefault("description", "")
                    v.setdefault("deprecated", False)
                    v.setdefault("experimental", False)
            return web.json_response(info)
        if path in self.STUBS and request.method == "GET":
            return web.json_response(self.STUBS[path])
        return await self._forward(request, path)

    async def _extensions(self, request):
        return await self._forward(request, request.path)

    async def _static(self, request):
        from aiohttp import web
        rel = request.match_info.get("tail") or "index.html"
        f = (self.static / rel).resolve()
        if self.static.resolve() in f.parents and f.is_file():
            return web.FileResponse(f)
        if rel.startswith("templates/") and rel.endswith(".json"):
            return web.json_response([])
        return web.Response(status=404)

    # -- life cycle
    def start(self) -> "FrontendShim":
        import asyncio
        import threading
        import aiohttp
        from aiohttp import web
        from host_server import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)

            async def setup():
                self._session = aiohttp.ClientSession()
                app = web.Application(client_max_size=64 * 1024 * 1024)
                app.router.add_route("*", "/api/{tail:.*}", self._api)
                app.router.add_route("*", "/extensions/{tail:.*}", self._extensions)
                app.router.add_get("/ws", self._ws)
                app.router.add_get("/{tail:.*}", self._static)
                self._runner = web.AppRunner(app)
                await self._runner.setup()
                await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

            self._loop.run_until_complete(setup())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="frontend-shim", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the frontend shim did not start")
        return self

    def stop(self):
        import asyncio
        if self._loop is None:
            return

        async def close():
            await self._runner.cleanup()
            await self._session.close()

        try:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(15)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
