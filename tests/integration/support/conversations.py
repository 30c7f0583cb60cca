"""The τ retail customer the conversations run as, the scripted turns they share, and `Chat`: a
conversation with the real graph whose every turn is checked against the model-call budget."""

from __future__ import annotations

import uuid

from order_agent.agent.service import Agent
from order_agent.tools import ToolRunner
from order_agent_dev.providers.scripted import ScriptedProvider

EMAIL = "aarav.anderson9752@example.com"
PENDING, PROCESSED, DELIVERED = "#W9300146", "#W3220203", "#W4316152"
OTHER_EMAIL, OTHER_PENDING = "ivan.santos3158@example.com", "#W8770097"

IDENTIFY = [
    {"expect": {"stage": "entry_intent"}, "text": "Happy to help. What is the email on your account?"},
    {"tool_use": {"name": "find_user_id_by_email", "input": {"email": EMAIL}}},
]
CANCEL_PROPOSAL = [
    {"expect": {"tool_result": "find_user_id_by_email", "tool_status": "success"},
     "tool_use": {"name": "get_order_details", "input": {"order_id": PENDING}}},
    {"text": "Order #W9300146 (Desk Lamp, $153.23) is pending. I will cancel it because it is no longer needed "
             "and refund $153.23 to your gift card. Shall I go ahead?",
     "tool_use": {"name": "cancel_pending_order", "input": {"order_id": PENDING, "reason": "no longer needed"}}},
]  # fmt: skip
# The model's answer after the customer's yes: the cancellation done.
REPORT = {"expect": {"stage": "resolution", "tool_status": "success"},
          "text": "Done: order #W9300146 is cancelled and $153.23 is back on your gift card. Anything else I can do?"}  # fmt: skip


class Chat:
    def __init__(self, settings, db, steps, wire=None):
        """`wire(script)`: a provider to talk to instead of the script itself, whose server answers from the script
        (support/model_wire.py); the scenarios then run over a model API's wire protocol."""
        self.script = ScriptedProvider(steps)
        self.model = wire(self.script) if wire is not None else self.script
        self.agent = Agent(settings, model=self.model, runner=ToolRunner(db, settings))
        self.session = f"test-{uuid.uuid4()}"
        self.db = db

    def say(self, text, **options):
        events = []
        outcome = self.agent.handle_message(self.session, text, events.append, **options)
        if outcome.done is not None:
            done = outcome.done
            assert done.model_calls <= 1 + done.tool_rounds, "over the model-call budget"
            assert [e.type for e in events][-2:] == ["message", "done"]
            streamed = "".join(e.text for e in events if e.type == "delta")
            assert streamed in outcome.final.text or not streamed
        return outcome

    def state(self):
        return self.agent.state(self.session)

    def script_done(self):
        assert self.script.remaining == 0, f"{self.script.remaining} scripted responses were not used"


def scalar(db, sql, *params):
    with db.transaction() as cur:
        cur.execute(sql, params)
        return next(iter(cur.fetchone().values()))


def order_status(db, order_id):
    return scalar(db, "SELECT status FROM orders WHERE order_id = %s", order_id)
