"""The chat site on one machine: web/dist served on loopback the way CloudFront serves it.

`make dev` and the browser tests use it. Like the Terraform `chat_site` module it answers
`/config.json` with the runtime settings (here: the local gateway's URL, auth mode `none`),
sends hashed files under `assets/` as immutable for a year and everything else `no-cache`
(`config.json` `no-store`), serves `index.html` for paths that are not files (the single-page
app's routes), and sends the same Content-Security-Policy and security headers, so a page that
breaks the CSP (an inline style or script) breaks here first; tests/unit/test_site_headers.py keeps the two in step.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from order_agent_dev.local.aws import free_port

IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {  # as the chat_site module uploads them
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
}


def content_security_policy(websocket_url: str) -> str:
    """The chat_site module's CSP (terraform/modules/chat_site/main.tf) for this WebSocket URL."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {websocket_url}",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SiteNotBuilt(RuntimeError):
    pass


def build_site(web_dir: Path, *, force: bool = False, log: Any = print) -> Path:
    """web/dist, built with npm when it is missing or older than the sources; returns its path."""
    dist = web_dir / "dist"
    sources = [p for p in (web_dir / "src").rglob("*") if p.is_file()]
    sources += [web_dir / name for name in ("index.html", "package-lock.json", "vite.config.ts")]
    sources += [p for p in (web_dir / "public").rglob("*") if p.is_file()]
    built = dist / "index.html"
    if not force and built.exists() and all(p.stat().st_mtime <= built.stat().st_mtime for p in sources if p.exists()):
        return dist
    npm = shutil.which("npm")
    if npm is None:
        raise SiteNotBuilt("npm is not installed (Node.js 20 or later builds the chat site)")
    if not (web_dir / "node_modules" / ".package-lock.json").exists():
        log("installing the chat site's packages (npm ci) ...")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=web_dir, check=True)
    log("building the chat site (npm run build) ...")
    subprocess.run([npm, "run", "build", "--silent"], cwd=web_dir, check=True)
    return dist


class _SiteHandler(SimpleHTTPRequestHandler):
    config_json: bytes = b"{}"
    csp: str = "default-src 'self'"

    def log_message(self, format: str, *args: Any) -> None:  # quiet, like the gateway
        pass

    def guess_type(self, path: str | Path) -> str:
        return CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "strict-origin-when-cross-origin")
        self.send_header("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        super().end_headers()

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        path = self.path.split("?", 1)[0]
        if path == "/config.json":
            cache = "no-store"
        elif path.startswith("/assets/") and code == HTTPStatus.OK:
            cache = IMMUTABLE
        else:
            cache = "no-cache"
        self.send_header("Cache-Control", cache)

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/config.json":
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config_json)))
            self.end_headers()
            if body:
                self.wfile.write(self.config_json)
            return
        target = Path(self.translate_path(path))
        if not target.is_file() and not path.startswith("/assets/"):
            self.path = "/index.html"  # single-page app routes, as CloudFront's 403/404 → index.html
        if body:
            super().do_GET()
        else:
            super().do_HEAD()


class SiteServer:
    """web/dist and /config.json on 127.0.0.1, in a background thread."""

    def __init__(self, dist: Path, websocket_url: str, *, auth: dict[str, Any] | None = None) -> None:
        if not (dist / "index.html").exists():
            raise SiteNotBuilt(f"{dist} has no index.html: build the site first (make web)")
        self.dist = dist
        config = {"websocketUrl": websocket_url, "auth": auth or {"mode": "none"}}
        self._handler = type(
            "SiteHandler",
            (_SiteHandler,),
            {"config_json": json.dumps(config).encode(), "csp": content_security_policy(websocket_url)},
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, port: int | None = None) -> SiteServer:
        self._server = ThreadingHTTPServer(
            ("127.0.0.1", port or free_port()), partial(self._handler, directory=str(self.dist))
        )
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="chat-site", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the site server is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
