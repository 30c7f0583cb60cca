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
from order_agent.local.site import SiteServer, build_site
from order_agent.local.stack import start_gateway
from order_agent.settings import Settings

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

# Collects Content-Security-Policy violations: the page must run under the CloudFront CSP as is.
CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def chromium_executable() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is not installed: `make test` installs it (apt-get install chromium); or set CHROMIUM_PATH")
    return path


@dataclass
class DevStack:
    settings: Settings
    gateway: Any
    site: SiteServer
    port: int

    def restart_gateway(self) -> None:
        """Stop the gateway (every connection closes, as in a deployment) and start it on the same port."""
        self.gateway.stop()
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
        context.add_init_script(CSP_PROBE)
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
