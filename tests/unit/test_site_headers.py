"""The local site server sends the chat_site module's CSP, so a page that breaks the deployed
CSP breaks in `make dev` and the browser tests first. Both are written out, so check they agree."""

from __future__ import annotations

import re
from pathlib import Path

from order_agent_dev.local.site import content_security_policy

MODULE = Path(__file__).resolve().parents[2] / "terraform" / "modules" / "chat_site" / "main.tf"


def _module_directives() -> dict[str, str]:
    text = MODULE.read_text(encoding="utf-8")
    block = re.search(r'content_security_policy = join\("; ", \[(.*?)\n  \]\)', text, re.S)
    assert block, "content_security_policy not found in chat_site/main.tf"
    directives = {}
    for line in re.findall(r'^\s*"(.*)",\s*$', block.group(1), re.M):
        name, _, value = line.partition(" ")
        directives[name] = value
    return directives


def test_the_local_csp_is_the_modules():
    module = _module_directives()
    local = dict(d.partition(" ")[::2] for d in content_security_policy("ws://127.0.0.1:1/local").split("; "))
    assert set(local) == set(module)
    # connect-src is built from the WebSocket URL (and, in jwt mode, the identity provider) in both
    assert local.pop("connect-src") == "'self' ws://127.0.0.1:1/local"
    assert module.pop("connect-src").startswith('${join(" ", concat(["\'self\'", var.websocket_url]')
    assert local == module
