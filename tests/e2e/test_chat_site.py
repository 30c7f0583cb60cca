"""The chat site end to end: a customer in Chromium, the real local stack behind it."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "chat-site"
EMAIL = "aarav.anderson9752@example.com"
ORDER = "#W9300146"  # pending in the τ data: it can be cancelled
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
FINAL_REPLIES = '[data-testid="agent-message"]:not([data-stage=""])'


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Your message")
    box.fill(text)
    box.press("Enter")


def replies(page: Page):
    return page.locator(FINAL_REPLIES)


def wait_for_replies(page: Page, count: int) -> None:
    expect(replies(page)).to_have_count(count)
    expect(page.get_by_test_id("typing")).to_have_count(0)


def shot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def online(page: Page) -> None:
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-status", "open")


def serious_accessibility_violations(page: Page) -> list[dict]:
    # Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') does not block it.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [v for v in result if v["impact"] in {"serious", "critical"}]


def test_customer_authenticates_checks_status_and_cancels_with_the_quick_reply(new_page):
    page = new_page()
    online(page)
    expect(page.get_by_role("log", name="Conversation")).to_be_visible()
    shot(page, "01-welcome")
    assert serious_accessibility_violations(page) == []

    send(page, f"Where is my order {ORDER}?")
    wait_for_replies(page, 1)
    expect(replies(page).nth(0)).to_contain_text("email")
    expect(page.get_by_test_id("user-message").nth(0)).to_have_attribute("data-status", "sent")

    send(page, EMAIL)
    wait_for_replies(page, 2)
    card = replies(page).nth(1).locator(".order-card")
    expect(card).to_contain_text(ORDER)
    expect(card.get_by_test_id("order-status")).to_have_text("pending")
    expect(card.get_by_role("list", name="Items").get_by_role("listitem")).not_to_have_count(0)
    expect(card).to_contain_text("Items total")
    expect(page.get_by_test_id("offline-note")).to_be_visible()
    expect(replies(page).nth(1)).to_contain_text("offline model")
    shot(page, "02-order-status")

    send(page, f"Please cancel order {ORDER}, I no longer need it")
    wait_for_replies(page, 3)
    proposal = replies(page).nth(2)
    expect(proposal).to_have_attribute("data-stage", "order_confirmation")
    expect(proposal.locator(".order-card")).to_contain_text("If you confirm")  # a preview, not the order as it is
    suggestions = page.get_by_role("group", name="Suggested replies")
    yes = suggestions.get_by_role("button", name=re.compile(r"^Yes", re.I))
    expect(yes).to_be_visible()
    shot(page, "03-confirmation")
    assert serious_accessibility_violations(page) == []

    yes.click()
    wait_for_replies(page, 4)
    outcome = replies(page).nth(3)
    expect(outcome.get_by_test_id("order-status")).to_have_text("cancelled")
    expect(outcome).to_contain_text("Refunded")
    expect(page.get_by_test_id("user-message").nth(3)).to_have_text(re.compile(r"yes", re.I))
    # The screen reader heard the reply (the polite live region), not the raw stream.
    expect(page.get_by_test_id("announcer")).not_to_be_empty()
    shot(page, "04-cancelled")
    page.set_viewport_size({"width": 1100, "height": 1500})
    replies(page).nth(1).scroll_into_view_if_needed()
    shot(page, "chat-site")  # the README's screenshot (docs/chat-site.png) is a copy of this one


def test_a_reload_mid_conversation_resumes_the_same_conversation(new_page):
    page = new_page()
    online(page)
    send(page, f"Hi, I'm checking on order {ORDER}. My email is {EMAIL}")
    wait_for_replies(page, 1)
    session_id = page.evaluate("JSON.parse(sessionStorage.getItem('order-agent.conversation')).sessionId")

    # Reload while the next turn is on its way: its answer must arrive exactly once.
    send(page, f"What is the status of {ORDER}?")
    page.reload()
    online(page)
    first = sockets(page)[0]["sent"][0]  # the reloaded page's first words: resume this conversation
    assert first["action"] == "resume" and first["sessionId"] == session_id and first["lastSeq"] > 0
    wait_for_replies(page, 2)
    expect(page.get_by_test_id("user-message")).to_have_count(2)
    assert page.evaluate("JSON.parse(sessionStorage.getItem('order-agent.conversation')).sessionId") == session_id
    # Still the same conversation on the server: the customer is not asked who they are again.
    expect(replies(page).nth(1).locator(".order-card")).to_contain_text(ORDER)
    time.sleep(0.5)  # a duplicate replay would show up now
    expect(replies(page)).to_have_count(2)
    shot(page, "05-after-reload")


def sockets(page: Page) -> list[dict]:
    """The page's WebSockets, oldest first, with what it sent on each (recorded by the page probe)."""
    return page.evaluate("window.__sockets")


def test_the_gateway_restarting_mid_conversation_reconnects_and_resumes(new_page, dev_stack):
    page = new_page()
    online(page)
    send(page, f"My email is {EMAIL}")
    wait_for_replies(page, 1)
    # The turn's `done` may come a moment after its message: stop the gateway once the turn is over.
    expect(page.get_by_text("The agent is replying.")).to_have_count(0)
    last_seq = page.evaluate("JSON.parse(sessionStorage.getItem('order-agent.conversation')).lastSeq")
    assert last_seq > 0

    dev_stack.stop_gateway()
    try:
        status = page.get_by_test_id("connection-status")
        expect(status).to_have_attribute("data-status", "offline")
        expect(status).to_contain_text("Offline")
        expect(status.get_by_role("button", name="Retry now")).to_be_visible()
        # Written while offline: kept as "sending" and sent once the connection is back.
        send(page, f"Where is my order {ORDER}?")
        expect(page.get_by_test_id("user-message").nth(1)).to_have_attribute("data-status", "sending")
        shot(page, "06-offline")
    finally:
        dev_stack.start_gateway()  # also when a check above failed: the module's other tests need it
    # The page reconnects (backoff) and resumes by itself, then sends what waited.
    online(page)
    wait_for_replies(page, 2)
    reconnected = sockets(page)[-1]
    assert len(sockets(page)) >= 2
    assert reconnected["sent"][0]["action"] == "resume" and reconnected["sent"][0]["lastSeq"] == last_seq
    assert reconnected["sent"][1]["action"] == "sendMessage"
    expect(replies(page).nth(1).locator(".order-card")).to_contain_text(ORDER)  # still authenticated: same session
    expect(page.get_by_test_id("user-message").nth(1)).to_have_attribute("data-status", "sent")
    shot(page, "07-after-gateway-restart")


def test_a_message_over_the_limit_gets_a_clear_error_and_keeps_the_text(new_page):
    page = new_page()
    online(page)
    text = "a" * 4001
    send(page, text)
    failed = page.get_by_test_id("user-message").nth(0)
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed.get_by_role("alert")).to_contain_text("Messages are limited to 4000 characters (4001 sent)")
    expect(failed.get_by_role("button", name="Retry")).to_have_count(0)  # not retryable: it would fail again
    shot(page, "08-too-long")

    failed.get_by_role("button", name="Edit").click()
    expect(page.get_by_label("Your message")).to_have_value(text)  # nothing is lost
    expect(page.get_by_test_id("user-message")).to_have_count(0)


def test_a_function_failing_mid_turn_gets_a_clear_retryable_state_and_the_retry_is_answered(new_page, monkeypatch):
    # The message function raises once, after its ack and typing: the gateway answers with its own
    # typeless {"message": "Internal server error", ...} frame, as API Gateway does.
    from order_agent.agent.service import Agent

    handle_message = Agent.handle_message
    runs: list[str] = []

    def fails_once(self, *args, **kwargs):
        runs.append(kwargs["message_id"])
        if len(runs) == 1:
            raise RuntimeError("injected failure: the function dies mid-turn")
        return handle_message(self, *args, **kwargs)

    monkeypatch.setattr(Agent, "handle_message", fails_once)
    page = new_page()
    online(page)
    text = f"Where is my order {ORDER}? My email is {EMAIL}"
    send(page, text)
    message = page.get_by_test_id("user-message").nth(0)
    expect(message).to_have_attribute("data-status", "interrupted")
    expect(message.get_by_role("alert")).to_contain_text("No reply yet: Something went wrong on our side.")
    expect(page.get_by_test_id("typing")).to_have_count(0)  # no endless typing indicator
    expect(message).to_contain_text(text)  # the customer's text is kept
    expect(page.get_by_label("Your message")).to_have_attribute("placeholder", "Write a message…")
    shot(page, "10-gateway-error")

    message.get_by_role("button", name="Retry").click()
    wait_for_replies(page, 1)
    expect(message).to_have_attribute("data-status", "sent")
    expect(message.get_by_role("alert")).to_have_count(0)
    sent = [m for socket in sockets(page) for m in socket["sent"] if m["action"] == "sendMessage"]
    assert [m["messageId"] for m in sent] == [sent[0]["messageId"]] * 2  # the retry is the same message
    assert runs == [sent[0]["messageId"]] * 2  # the failed run was forgotten, so the retry ran it
    shot(page, "11-after-retry")


def test_phone_layout_in_dark_mode(new_page):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, color_scheme="dark")
    online(page)
    send(page, f"Where is my order {ORDER}? My email is {EMAIL}")
    wait_for_replies(page, 1)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    background = page.evaluate("getComputedStyle(document.querySelector('.app')).backgroundColor")
    assert background != "rgb(255, 255, 255)", "dark mode did not apply"
    expect(page.get_by_label("Your message")).to_be_in_viewport()
    shot(page, "09-phone-dark")


def test_the_site_is_served_with_the_cloudfront_headers(dev_stack):
    import urllib.error
    import urllib.request

    base = dev_stack.site.url
    with urllib.request.urlopen(base) as index:  # noqa: S310 - loopback URL of the test server
        html = index.read().decode()
        assert index.headers["Cache-Control"] == "no-cache"
        assert index.headers["Content-Type"] == "text/html; charset=utf-8"
        csp = index.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
        assert f"connect-src 'self' {dev_stack.gateway.url}" in csp
    assets = re.findall(r'(?:src|href)="/(assets/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert re.search(r"-[A-Za-z0-9_-]{8}\.(js|css)$", asset), f"{asset} is not content-hashed"
        with urllib.request.urlopen(base + asset) as response:  # noqa: S310
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    with urllib.request.urlopen(base + "config.json") as config:  # noqa: S310
        assert config.headers["Cache-Control"] == "no-store"
        assert json.load(config) == {"websocketUrl": dev_stack.gateway.url, "auth": {"mode": "none"}}
    head = urllib.request.Request(base + "config.json", method="HEAD")  # noqa: S310
    with urllib.request.urlopen(head) as config:  # noqa: S310
        assert config.status == 200 and config.read() == b""
    with urllib.request.urlopen(base + "orders/W9300146") as route:  # noqa: S310 - a client-side route
        assert route.read().decode() == html  # the app shell, as CloudFront's 404 → index.html
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(base + "assets/index-00000000.js")  # noqa: S310
    assert missing.value.code == 404  # a missing asset is not answered with HTML
