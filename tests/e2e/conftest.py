"""The chat site in a real browser against the `make dev` stack, on loopback.

The stack is the one `make dev` runs — the local API Gateway with the Lambda handlers of
`lambdas/`, the offline model, and the site server serving `web/dist` with the CloudFront
headers — wired to the test session's scratch τ database and AWS emulator instead of the
developer's `.local` ones, on free ports. The browser is the system's Chromium (the Debian
`chromium` package, which `make test` installs), driven by Playwright through
`executable_path`: Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from order_agent.db.dataset import restore_snapshot
from order_agent.settings import Settings
from order_agent_dev.local.site import SiteServer, build_site
from order_agent_dev.local.stack import start_gateway

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "chat-site"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps trying to reach Google services, which the closed network refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Collects Content-Security-Policy violations (the page must run under the CloudFront CSP as is)
# and records the page's WebSockets and what it sends on them, for the tests to check.
PAGE_PROBE = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
window.__sockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    this.__record = { url: String(url), sent: [] };
    window.__sockets.push(this.__record);
  }
  send(data) {
    this.__record.sent.push(JSON.parse(data));
    return super.send(data);
  }
};
"""


def chromium_executable() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(
            "Chromium is not installed: `make test` installs it (apt-get install chromium); or set CHROMIUM_PATH"
        )
    return path


@dataclass
class DevStack:
    settings: Settings
    gateway: Any
    site: SiteServer
    port: int

    def stop_gateway(self) -> None:
        """Every connection closes (as in a deployment or an outage); new ones are refused."""
        self.gateway.stop()

    def start_gateway(self) -> None:
        """The gateway again, on the same port (the page's configured URL)."""
        self.gateway, _ = start_gateway(self.settings, ROOT / "lambdas", port=self.port)


@pytest.fixture(scope="module")
def dev_stack(agent_settings: Settings, tau_db) -> Iterator[DevStack]:
    restore_snapshot(tau_db)  # the conversation cancels a real order
    dist = build_site(ROOT / "web")
    settings = agent_settings.model_copy(update={"model_provider": "offline"})
    gateway, _ = start_gateway(settings, ROOT / "lambdas")
    site = SiteServer(dist, gateway.url).start()
    stack = DevStack(settings, gateway, site, gateway.port)
    try:
        yield stack
    finally:
        site.stop()
        stack.gateway.stop()
        restore_snapshot(tau_db)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser, dev_stack: DevStack) -> Iterator[Any]:
    """Pages in fresh browser contexts (own sessionStorage); each checked for CSP violations and page errors."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened: list[tuple[Any, list[str]]] = []

    def make(**context_options: Any) -> Any:
        context = browser.new_context(**{"viewport": {"width": 1100, "height": 820}, **context_options})
        context.set_default_timeout(15_000)
        context.add_init_script(PAGE_PROBE)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(dev_stack.site.url)
        opened.append((page, errors))
        return page

    yield make
    for page, errors in opened:
        violations = page.evaluate("window.__cspViolations || []")
        page.context.close()
        assert violations == [], f"the page broke its Content-Security-Policy: {violations}"
        assert errors == [], f"uncaught errors in the page: {errors}"
