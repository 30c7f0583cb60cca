"""The scenarios the scripted model passes (test_agent_conversations.py), run unchanged through the
anthropic and openai providers: the agent talks to each over its real wire protocol, to a loopback
server that answers from the same script (support/model_wire.py). The database checks, the
model-call budget and the script's `expect` checks all apply; the server also refuses any request
the real API would refuse (roles, unanswered tool calls, tool results out of place)."""

from __future__ import annotations

import pytest

from . import test_agent_conversations as scripted
from .support.conversations import Chat
from .support.model_wire import script_over_wire


@pytest.fixture(params=["anthropic", "openai"])
def chat(request, agent_settings, tau_fresh):
    servers = []
    yield lambda steps: Chat(
        agent_settings, tau_fresh, steps, wire=script_over_wire(request.param, agent_settings, servers)
    )
    for server in servers:
        server.__exit__()


# Collected here again, with the `chat` above; three, to keep `make test` short, that together carry text,
# one and several tool calls per answer, tool results with success and error status, a confirmed write and a
# declined one. (All of test_agent_conversations.py passes this way too: swap the fixture to try.)
test_cancel_confirmed_changes_the_database_once = scripted.test_cancel_confirmed_changes_the_database_once
test_cancel_declined_changes_nothing = scripted.test_cancel_declined_changes_nothing
test_exchange_of_delivered_items = scripted.test_exchange_of_delivered_items
