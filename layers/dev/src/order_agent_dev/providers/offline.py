"""The `offline` model provider: deterministic rules that stand in for Claude, with no cloud access.

It is labelled as what it is (name and model id "offline") and it is stateless: every reply is
derived from the Converse transcript (`request.messages`) and `request.context["customer_id"]`.
Each reply is one assistant message: optional text plus at most one toolUse (or several reads
of orders at once, to offer a choice between them), and only tools offered in `request.tools`
are used. English only; matching is tolerant of case, punctuation
and order ids written "#W1000001" or "W1000001".

What it can do:
- identify the customer by an email address, or by "first last" and a 5-digit zip code, and
  ask for that first (remembering the request) before anything about orders;
- tell an order's status, items, tracking numbers and shipping city; without an order id it
  reads all the customer's orders at once and takes the only one the request applies to, or
  lists those, numbered, and asks which (answered by id, by place: "the first one", or by an
  item: "the lamp one"; an item several orders have narrows the list);
- propose, with the exact action spelled out and an explicit yes/no asked, the cancellation of
  a pending order (reason 'no longer needed' or 'ordered by mistake'), a new shipping address
  for a pending order ("address1, [address2,] city, ST 12345[, country]"), and the return of
  named items (or everything) of a delivered order, refunded to the original payment method or
  to the customer's gift card;
- report a confirmed write's outcome, and treat a reply that is not a plain "no" to a
  confirmation as a new request;
- offer, then make, a transfer to a human agent for anything else, or at once when asked for a
  human; close the conversation (`end_conversation`) on a clear goodbye.

How it never loops: a question the request cannot go on without (`_Question`) offers its answers
as quick replies (`ModelResponse.suggested_replies`) and has three wordings: as first put,
rephrased with the answers spelled out, and as choices with a human agent among them. Each
answer it cannot use moves to the next wording; words said before are never said again; after
the third, the customer is transferred. A plain "no" to such a question drops the request.

How it stays stateless: the open request is read from the customer's messages since the last
reply of its own that closed one (a reply ending with one of ANYTHING_ELSES, or the transfer notice), so
"#W1000001" or "ordered by mistake" answer the question asked, while a request that was done is
not resumed; tool results already in the transcript are reused instead of being read again, and
a look-up that failed is not repeated with the same arguments. How often a question was put, and
which list "the second one" refers to, are read from its own earlier replies. `context["pending"]`
is not needed: a write's outcome arrives as its toolResult.

What it cannot do: exchanges, item or payment-method changes, profile changes, product
questions, arithmetic, several orders or actions in one message, non-US address formats,
languages other than English, or anything that needs understanding rather than patterns.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from order_agent.model.base import (
    END_CONVERSATION,
    ModelRequest,
    ModelResponse,
    SuggestedReply,
    TextCallback,
    Usage,
)
from order_agent.tools import ToolRunner
from order_agent.tools.registry import ToolKind

if TYPE_CHECKING:
    from order_agent.settings import Settings

MODEL_ID = "offline"

# Fixed phrases; the closing questions and the transfer notice also mark, statelessly, where a
# finished request ends in the transcript.
ANYTHING_ELSE = "Is there anything else I can help you with?"
# The closing question in the wording used least so far in the conversation: never twice the same
# until all have been said.
ANYTHING_ELSES = (
    ANYTHING_ELSE,
    "Can I help you with anything else?",
    "Is there something else I can do for you?",
    "Anything else I can help with today?",
)
TRANSFERRED = "I have passed your conversation to a human agent"
HANDOFF_OFFER = "Would you like me to transfer you to a human agent?"
IDENTIFY = "please tell me your email address, or your first name, last name and zip code."
CAPABILITIES = (
    "check an order's status, cancel a pending order, change the shipping address of a pending order, "
    "or return items of a delivered order"
)
_CLOSERS = (*ANYTHING_ELSES, TRANSFERRED)

# Quick replies: (label shown, text sent). Every text is one the rules understand.
Choice = tuple[str, str]
HUMAN_CHOICE: Choice = ("Talk to a human agent", "Please transfer me to a human agent")
CAPABILITY_CHOICES: list[Choice] = [
    ("Check an order's status", "I want to check an order's status"),
    ("Cancel an order", "I want to cancel an order"),
    ("Change a shipping address", "I want to change the shipping address of an order"),
    ("Return items", "I want to return items"),
]
NOTHING_ELSE_CHOICE: Choice = ("No, that's all", "No, that's all, thanks")
# How a confirmation is asked the first, second and third time (after the proposal's own text).
CONFIRM_WORDINGS = (
    "Shall I go ahead? Please answer yes or no.",
    "Before I change anything I need a clear yes: shall I go ahead?",
    "Please tap Yes to go ahead or No to leave everything as it is, or ask for a human agent.",
)
# How a transfer to a human is offered the first, second and third time.
HANDOFF_OFFERS = (
    HANDOFF_OFFER,
    "Shall I pass your request to a human agent? Please answer yes or no.",
    "Please tap 'Yes, transfer me' to reach a human agent, or 'No' to carry on here.",
)
# What each request needs of an order's status: (test, what the change is called, the rule).
_ALLOWED = {
    "cancel": (lambda status: status == "pending", "cancelled", "only pending orders can be cancelled"),
    "address": (lambda status: "pending" in status, "changed", "only the address of a pending order can be changed"),
    "return": (lambda status: status == "delivered", "returned", "only delivered orders can be returned"),
}

FIND_TOOLS = frozenset({"find_user_id_by_email", "find_user_id_by_name_zip"})
# The tools whose result the model reports (a write or a handoff), as the tools declare it.
WRITE_TOOLS = frozenset(d.name for d in ToolRunner.definitions() if d.kind is not ToolKind.READ)
HANDOFF_TOOLS = frozenset(d.name for d in ToolRunner.definitions() if d.kind is ToolKind.HANDOFF)
_INTENT_OF_WRITE = {
    "cancel_pending_order": "cancel",
    "modify_pending_order_address": "address",
    "return_delivered_order_items": "return",
}
_WRITE_OF_INTENT = {intent: write for write, intent in _INTENT_OF_WRITE.items()}
_VERB = {
    "status": "check on",
    "cancel": "cancel",
    "address": "change the shipping address of",
    "return": "return items from",
    "general": "help you with",
}

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ORDER_ID = re.compile(r"#?\bw(\d{7})\b|\border\s*(?:id|number|no\.?)?\s*[:#]?\s*(\d{7})\b", re.I)
_ZIP = re.compile(r"\b\d{5}\b")
_NAME_INTRO = re.compile(
    r"\b(?:i am|i'm|im|this is|my name is|name is|name's|name:)\s+([a-z][a-z'-]+)\s+([a-z][a-z'-]+)", re.I
)
_NAME_LEAD = re.compile(r"^\W*([a-z][a-z'-]+)\s+([a-z][a-z'-]+)\W*(?:zip(?:\s*code)?(?:\s*is)?\W*)?\d{5}\b", re.I)
_NOT_NAMES = frozenset({
    "a", "an", "and", "at", "from", "here", "hi", "hello", "hey", "in", "looking", "moving", "my", "not", "order",
    "the", "to", "trying", "writing", "zip",
})  # fmt: skip
_ADDRESS = re.compile(
    r"(?<![\w#])(?P<address1>\d+[^,\n]*?),\s*(?:(?P<address2>[^,\n]+?),\s*)?(?P<city>[a-z][a-z .'-]*?),\s*"
    r"(?P<state>[a-z]{2})\.?\s+(?P<zip>\d{5})(?:-\d{4})?(?:\s*,\s*(?P<country>[a-z][a-z. ]*[a-z.]))?",
    re.I,
)
_COUNTRIES = {"usa": "USA", "us": "USA", "u.s.": "USA", "u.s.a.": "USA", "united states": "USA"}
_COUNTRIES |= {"united states of america": "USA", "canada": "Canada", "mexico": "Mexico"}

_NO_LONGER_NEEDED = re.compile(r"no longer need|(?:do not|don't|dont) (?:really )?(?:need|want)|not needed|no need")
_MISTAKE = re.compile(r"mistake|by accident|accidental|wrong (?:order|item)|ordered (?:it )?twice|didn't mean to")
_YES = re.compile(r"^\W*(?:yes|yeah|yep|yup|sure|ok|okay|please do|go ahead|confirm|do it|correct|y)\b")
_NO = re.compile(r"^\W*(?:no|nope|nah|not now|never ?mind|don't|do not|n)\b(?! longer)")
_THANKS = re.compile(r"\b(?:thanks|thank you|thx|cheers)\b")
_GREETING = re.compile(r"^\W*(?:hi|hello|hey|good (?:morning|afternoon|evening))\b")
_GOODBYE = re.compile(
    r"\b(?:bye|goodbye|good bye|see you|see ya|that's all|that is all|that's it|that is it|nothing else|all set"
    r"|have a (?:good|nice|great) (?:day|one|evening))\b"
)
_CONTINUES = re.compile(r"\?|\b(?:but|also|can you|could you|would you|how|what|why|when|where)\b")
_REQUESTY = re.compile(r"\?|\b(?:can|could|would|will|want|need|please|help|how|what|why|i'd like|do you)\b")
_ALL_ITEMS = re.compile(
    r"\b(?:everything|all of (?:it|them)|all (?:the )?items|both|whole order|entire order)\b|^\W*all\W*$"
)
_GIFT_CARD = re.compile(r"gift ?card")
_PRONOUN = re.compile(r"\b(?:it|that|this|same)\b")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8}
_ORDINALS |= {"ninth": 9, "1st": 1, "2nd": 2, "3rd": 3, "last": -1} | {f"{n}th": n for n in range(4, 10)}
_ORDINAL = re.compile(
    rf"\b({'|'.join(_ORDINALS)})\b"  # "the first one", "the last"
    r"|\b(?:number|no\.?|option)\s*#?\s*([1-9])\b|#([1-9])\b"  # "number 2", "#2"
    r"|^\W*(?:the\s+)?([1-9])\W*$"  # "2" alone
)
_INTENTS = (  # checked in this order; the first that matches is the text's intent
    ("human", re.compile(
        r"\b(?:human|real person|live (?:agent|person)|representative|supervisor|manager|operator|transfer me"
        r"|(?:talk|speak) (?:to|with) (?:someone|somebody|a person|an agent|agent))\b")),
    ("unsupported", re.compile(
        r"\b(?:exchange|swap|replace|replacement|different (?:size|colou?r|model)|another (?:size|colou?r)"
        r"|payment method|pay (?:with|by|using)|(?:change|modify|update) (?:the |my )?(?:payment|card|items?|size"
        r"|colou?r|quantity|email|name|phone)|(?:default|profile|account|billing|home) address|address on file"
        r"|coupon|discount|price match|warranty|polic(?:y|ies))\b")),
    ("cancel", re.compile(r"\bcancel(?!led)")),
    ("address", re.compile(
        r"\baddress\b.*\b(?:change|update|wrong|new|different|correct|fix|modify|edit|move)\b"
        r"|\b(?:change|update|wrong|new|different|correct|fix|modify|edit)\b.*\baddress\b"
        r"|\b(?:ship|send|deliver) (?:it|them|this|the order|my order)(?: instead)? to\b")),
    ("return", re.compile(r"\breturn(?!ed)|\bsend (?:it|them|this|these|those) back\b")),
    ("status", re.compile(
        r"\b(?:where|status|track|tracking|shipped|arrive|arrived|arriving|arrival|delivery|delivered|when will"
        r"|eta|update on|check|what happened)\b")),
)  # fmt: skip
_GENERAL = re.compile(r"\b(?:orders?|package|parcel|purchase|shipment)\b")


def _norm(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").lower().split())


def _key(name: str, arguments: dict[str, Any]) -> str:
    return name + json.dumps(arguments, sort_keys=True, default=str)


def _money(amount: Any) -> str:
    return f"${float(amount):,.2f}"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _sentence(text: str) -> str:
    text = str(text).strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _item_names(items: list[dict[str, Any]]) -> str:
    counts = Counter(item.get("name", item.get("item_id", "?")) for item in items)
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in counts.items()) or "no items"


def _format_address(address: dict[str, Any]) -> str:
    parts = [address.get(k, "") for k in ("address1", "address2", "city")]
    state_zip = f"{address.get('state', '')} {address.get('zip', '')}".strip()
    return ", ".join(p for p in [*parts, state_zip, address.get("country", "")] if p)


# -- what the customer wrote -----------------------------------------------------------------------


def order_id_in(text: str) -> str | None:
    """The last order id in the text, as '#W' and seven digits."""
    matches = list(_ORDER_ID.finditer(text))
    return f"#W{matches[-1].group(1) or matches[-1].group(2)}" if matches else None


def reason_in(text: str) -> str | None:
    text = _norm(text)
    if _MISTAKE.search(text):
        return "ordered by mistake"
    if _NO_LONGER_NEEDED.search(text):
        return "no longer needed"
    return None


def address_in(text: str) -> dict[str, str] | None:
    """A US address written "address1, [address2,] city, ST 12345[, country]"."""
    match = _ADDRESS.search(_ORDER_ID.sub(" ", text))
    if match is None:
        return None
    country = _COUNTRIES.get((match["country"] or "usa").lower().strip(), "USA")
    return {
        "address1": match["address1"].strip(),
        "address2": (match["address2"] or "").strip(),
        "city": match["city"].strip(),
        "state": match["state"].upper(),
        "country": country,
        "zip": match["zip"],
    }


def identification_in(text: str) -> tuple[str, dict[str, str]] | None:
    """A look-up the text allows: by email, else by first name, last name and zip."""
    text = text.replace("\u2019", "'")
    email = _EMAIL.search(text)
    if email:
        return "find_user_id_by_email", {"email": email.group(0).rstrip(".")}
    cleaned = _ORDER_ID.sub(" ", text)
    zip_code = _ZIP.search(cleaned)
    name = _NAME_INTRO.search(cleaned) or _NAME_LEAD.search(cleaned)
    if not (zip_code and name) or {name.group(1).lower(), name.group(2).lower()} & _NOT_NAMES:
        return None
    first, last = (word[0].upper() + word[1:] for word in name.groups())
    return "find_user_id_by_name_zip", {"first_name": first, "last_name": last, "zip": zip_code.group(0)}


def has_details(text: str) -> bool:
    """Whether the text carries facts a request needs (who, which order, why, where)."""
    return bool(
        order_id_in(text)
        or reason_in(text)
        or address_in(text)
        or identification_in(text)
        or _GIFT_CARD.search(_norm(text))
    )


def ordinal_in(text: str) -> int | None:
    """Which entry of a list the text picks ("the first one", "number 2", "2", "the last"), from 1; -1 is the last."""
    match = _ORDINAL.search(_norm(text))
    if match is None:
        return None
    word, *numbers = match.groups()
    return _ORDINALS[word] if word else int(next(n for n in numbers if n))


def intent_of(text: str) -> str | None:
    """What the customer asks for in this text, or None when it only answers a question."""
    text = _norm(text)
    for intent, pattern in _INTENTS:
        if pattern.search(text):
            return intent
    if has_details(text) or _YES.search(text) or _NO.search(text) or _GREETING.search(text):
        return None
    if _GENERAL.search(text):
        return "general"
    if _GOODBYE.search(text) and not _CONTINUES.search(text):
        return "goodbye"
    if _ALL_ITEMS.search(text):
        return None
    # Any other question or request ("thanks, but can you ..." too); very short ones ("why not?") are
    # taken as replies in the flow.
    return "unsupported" if _REQUESTY.search(text) and len(text.split()) > 2 else None


def _is_plain_no(text: str, write: str = "", arguments: dict[str, Any] | None = None) -> bool:
    """A refusal that asks for nothing new: "no", "nope, don't cancel it", but not "no, cancel #W1000003
    instead" or "no, the reason is that I ordered it by mistake" (to a proposed `write` with `arguments`)."""
    text, arguments = _norm(text), arguments or {}
    if not text:
        return True
    intent = intent_of(text)
    if not _NO.search(text) or intent not in (None, "general", _INTENT_OF_WRITE.get(write)):
        return False
    order_id, reason = order_id_in(text), reason_in(text)
    new_order = order_id is not None and order_id != arguments.get("order_id")
    new_reason = intent is None and reason is not None and reason != arguments.get("reason")
    other = address_in(text) or identification_in(text) or _GIFT_CARD.search(text)
    return not (new_order or new_reason or other)


# -- the transcript ----------------------------------------------------------------------------------


@dataclass
class _Result:
    name: str
    input: dict[str, Any]
    ok: bool
    payload: Any  # the json body, or the text
    message_index: int

    @property
    def error(self) -> str:
        return self.payload.get("error", "error") if isinstance(self.payload, dict) else "error"

    @property
    def message(self) -> str:
        if not isinstance(self.payload, dict):
            return "The tool failed."
        return _sentence(self.payload.get("message") or self.error)

    @property
    def retryable(self) -> bool:
        return isinstance(self.payload, dict) and bool(self.payload.get("retryable"))


def _payload(result: dict[str, Any]) -> Any:
    for block in result.get("content", []):
        if "json" in block:
            return block["json"]
    return "".join(block.get("text", "") for block in result.get("content", []))


@dataclass
class _Reply:
    text: str = ""
    tool: str | None = None
    input: dict[str, Any] = field(default_factory=dict)
    more_inputs: list[dict[str, Any]] = field(default_factory=list)  # further calls of `tool`, made at once
    choices: list[Choice] = field(default_factory=list)  # offered as quick replies


@dataclass
class _Question:
    """A question the request cannot go on without, in three wordings: as first put, rephrased with
    its answers spelled out, and as choices with a human agent among them. Each answer the rules
    cannot use moves it on by one; it is never put a fourth time (the customer is transferred)."""

    wordings: tuple[str, str, str]
    topic: str  # what is asked, for the transfer's summary: "the reason for cancelling order #W1000001"
    lead: str = ""  # said before the first wording only
    detail: str = ""  # said after every wording: the orders to choose from, say
    choices: list[Choice] = field(default_factory=list)
    human_choice: bool = True  # whether the last wording adds "Talk to a human agent" to the choices


class _Conversation:
    """Everything the rules need, read from the request; no state outside it."""

    def __init__(self, request: ModelRequest) -> None:
        self.messages = request.messages
        self.tools = {spec["toolSpec"]["name"] for spec in request.tools if "toolSpec" in spec}
        calls: dict[str, tuple[str, dict[str, Any]]] = {}
        self.results: list[_Result] = []
        self.texts: list[tuple[int, str, str]] = []  # (message index, role, text)
        for index, message in enumerate(self.messages):
            for block in message.get("content", []):
                if "text" in block:
                    self.texts.append((index, message.get("role", ""), block["text"]))
                elif "toolUse" in block:
                    use = block["toolUse"]
                    calls[use.get("toolUseId", "")] = (use.get("name", ""), use.get("input") or {})
                elif "toolResult" in block:
                    result = block["toolResult"]
                    name, arguments = calls.get(result.get("toolUseId", ""), ("", {}))
                    ok = result.get("status") != "error"
                    self.results.append(_Result(name, arguments, ok, _payload(result), index))
        self.last = len(self.messages) - 1
        self.last_results = [r for r in self.results if r.message_index == self.last]
        self.new_text = " ".join(t for i, role, t in self.texts if i == self.last and role == "user").strip()
        self.prev_text = next((t for i, role, t in reversed(self.texts) if role == "assistant" and i < self.last), "")
        closed = max(
            (i for i, role, t in self.texts if role == "assistant" and any(c in t for c in _CLOSERS)), default=-1
        )
        self.window = [t for i, role, t in self.texts if role == "user" and i > closed]
        self.said = [t for _, role, t in self.texts if role == "assistant"]
        self.window_said = [t for i, role, t in self.texts if role == "assistant" and i > closed]
        # Each customer text of the open request with what was said to them just before it.
        self.exchanges: list[tuple[str, str]] = []
        asked = ""
        for i, role, t in self.texts:
            if role == "assistant":
                asked = t
            elif i > closed:
                self.exchanges.append((asked, t))
        self.earlier = [(i, t) for i, role, t in self.texts if role == "user" and i <= closed]
        self.orders: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.failed: dict[str, _Result] = {}
        found = None
        for r in self.results:
            if r.ok and isinstance(r.payload, dict) and "order_id" in r.payload and "items" in r.payload:
                self.orders[r.payload["order_id"]] = r.payload
            elif r.ok and isinstance(r.payload, dict) and "payment_methods" in r.payload:
                self.users[r.payload.get("user_id", "")] = r.payload
            elif r.ok and r.name in FIND_TOOLS:
                found = str(r.payload).strip()
            elif not r.ok and not r.retryable and r.error != "not_confirmed":
                self.failed[_key(r.name, r.input)] = r
        self.customer_id: str | None = request.context.get("customer_id") or found

    # -- replies that use a tool -----------------------------------------------------------------

    def read(self, name: str, arguments: dict[str, Any]) -> _Reply:
        failed = self.failed.get(_key(name, arguments))
        if failed is not None:
            return _Reply(f"Sorry, I couldn't look that up: {failed.message} {ANYTHING_ELSE}")
        if name not in self.tools:
            return _Reply(f"Sorry, I can't look that up at this step (no {name} tool). {ANYTHING_ELSE}")
        if any(r.name == name and r.input == arguments for r in self.last_results):  # answered, yet not understood
            return _Reply(f"Sorry, I could not read the answer of {name}. {HANDOFF_OFFER}")
        return _Reply(tool=name, input=arguments)

    def read_all(self, name: str, inputs: list[dict[str, Any]]) -> _Reply:
        """Several look-ups with one tool at once (the graph runs them in one round)."""
        if len(inputs) == 1 or name not in self.tools:
            return self.read(name, inputs[0])
        if any(r.name == name and r.input in inputs for r in self.last_results):  # answered, yet not understood
            return _Reply(f"Sorry, I could not read the answer of {name}. {HANDOFF_OFFER}")
        return _Reply(tool=name, input=inputs[0], more_inputs=inputs[1:])

    def propose(self, name: str, arguments: dict[str, Any], text: str) -> _Reply:
        if name not in self.tools:
            return _Reply(f"Sorry, I can't make that change at this step. {HANDOFF_OFFER}")
        # Put again (the customer answered neither yes nor no), it is worded anew each time.
        question = _Question(tuple(f"{text} {w}" for w in CONFIRM_WORDINGS), f"a yes or no to: {text}")
        reply = self.ask(question)
        if reply.tool is None:
            reply.tool, reply.input, reply.choices = name, arguments, []  # the agent adds Yes and No
        return reply

    def ask(self, question: _Question) -> _Reply:
        """The question in its next wording, never in words said before; a human agent once all are used."""
        asked = sum(any(w in t for w in question.wordings) for t in self.window_said)
        for level, wording in enumerate(question.wordings):
            text = " ".join(p for p in (question.lead if level == 0 else "", wording, question.detail) if p)
            if level >= asked and not any(text in t for t in self.said):
                human = [HUMAN_CHOICE] if question.human_choice and level == len(question.wordings) - 1 else []
                return _Reply(text, choices=[*question.choices, *human])
        return self.transfer(question.topic)

    def transfer(self, unsettled: str | None = None) -> _Reply:
        """Hand the conversation over; `unsettled` is what the customer's answers never gave."""
        if "transfer_to_human_agents" not in self.tools:
            return _Reply("Sorry, I can't transfer you from here; please contact our support team directly.")
        request = next((t for t in reversed(self.window) if intent_of(t) not in (None, "human", "goodbye")), None)
        request = " ".join((request or self.new_text or "no details given").split())[:200]
        who = f"Customer {self.customer_id}" if self.customer_id else "An unverified customer"
        why = "the offline assistant cannot handle it"
        if unsettled:
            why = f"the offline assistant could not get {unsettled} from the customer's answers"
        summary = f'{who} needs help with: "{request}" ({why}).'
        text = "I'll transfer you to a human agent now."
        if unsettled:
            text = "I'm sorry we couldn't settle that here. I'll transfer you to a human agent, who will take it on."
        return _Reply(text, "transfer_to_human_agents", {"summary": summary})

    def goodbye(self) -> _Reply:
        text = "Thank you for contacting us. Goodbye!"
        return _Reply(text, END_CONVERSATION, {}) if END_CONVERSATION in self.tools else _Reply(text)

    # -- what the customer wants ---------------------------------------------------------------

    def current_intent(self) -> str | None:
        """The latest request in the open part of the conversation; earlier goodbyes do not count."""
        for position, text in enumerate(reversed(self.window)):
            intent = intent_of(text)
            if intent is not None and (intent != "goodbye" or position == 0):
                return intent
        return None

    def latest(self, extract: Any) -> Any:
        """The most recent value `extract` finds in the open part of the conversation."""
        for text in reversed(self.window):
            value = extract(text)
            if value:
                return value
        return None

    def order_id(self) -> str | None:
        for asked, text in reversed(self.exchanges):
            found = order_id_in(text) or self.chosen_order(asked, text)
            if found:
                return found
        if not any(_PRONOUN.search(_norm(t)) for t in self.window):
            return None
        # "cancel it": the order discussed most recently before this request, by the customer or a tool
        # (orders read together to offer a choice were not discussed)
        mentions = [(i, order_id_in(t)) for i, t in self.earlier if order_id_in(t)]
        read_together = Counter(r.message_index for r in self.results if r.input.get("order_id"))
        for r in self.results:
            if r.ok and read_together[r.message_index] == 1 and isinstance(r.payload, dict) and "order_id" in r.payload:
                mentions.append((r.message_index, r.payload["order_id"]))
        return max(mentions)[1] if mentions else None

    def chosen_order(self, asked: str, text: str) -> str | None:
        """The order a reply to "which order?" picks by position in the list or by an item in it."""
        if not _asks_which_order(asked):
            return None
        listed = _listed_orders(asked)
        position = ordinal_in(text)
        if position is not None and listed and -1 <= position <= len(listed) and position != 0:
            return listed[position - 1] if position > 0 else listed[-1]
        named = [i for i in listed if i in self.orders and _items_by_name(text, self.orders[i]["items"])]
        return named[0] if len(named) == 1 else None

    # -- the rules ------------------------------------------------------------------------------

    def reply(self) -> _Reply:
        """The reply, its closing question worded as least said so far, with quick replies after it."""
        reply = self.decide()
        if reply.text.endswith(ANYTHING_ELSE):
            closer = min(ANYTHING_ELSES, key=lambda wording: sum(wording in t for t in self.said))
            reply.text = reply.text[: -len(ANYTHING_ELSE)] + closer
            reply.choices = reply.choices or [*CAPABILITY_CHOICES, NOTHING_ELSE_CHOICE]
        return reply

    def decide(self) -> _Reply:
        write = next((r for r in self.last_results if r.name in WRITE_TOOLS), None)
        if write is not None:
            reply = self.after_write(write)
            if reply is not None:
                return reply
        failed_read = next((r for r in self.last_results if not r.ok and r.name not in WRITE_TOOLS), None)
        if failed_read is not None:
            return self.after_read_error(failed_read)
        return self.plan()

    def plan(self) -> _Reply:
        text = _norm(self.new_text)
        intent = self.current_intent()
        if text and any(w in self.prev_text for w in HANDOFF_OFFERS) and intent_of(text) is None:
            if _YES.search(text):
                return self.transfer()
            if _NO.search(text):
                return _Reply(f"OK, I won't transfer you. {ANYTHING_ELSE}")
        if text and any(c in self.prev_text for c in ANYTHING_ELSES) and _is_plain_no(text):
            return self.goodbye()
        if intent == "human":
            return self.transfer()
        if intent == "goodbye":
            return self.goodbye()
        if intent == "unsupported":
            lead = f"I'm sorry, I can't do that in offline mode: here I can only {CAPABILITIES}."
            choices = [("Yes, transfer me", "Yes, please transfer me"), ("No", "No")]
            topic = "whether they want a human agent"
            return self.ask(_Question(HANDOFF_OFFERS, topic, lead, choices=choices, human_choice=False))
        if text and _THANKS.search(text) and intent is None and not has_details(text):
            return _Reply(f"You're welcome! {ANYTHING_ELSE}")
        if self.customer_id is None:
            return self.identify(intent)
        handlers = {"status": self.status, "cancel": self.cancel, "address": self.address, "return": self.return_items}
        if intent in handlers:
            if text and _is_plain_no(text, _WRITE_OF_INTENT.get(intent, "")):  # "no" to the request's question
                return _Reply(f"OK, I'll leave it there; nothing was changed. {ANYTHING_ELSE}")
            return handlers[intent](intent)
        greeting = "Thanks, I found your account." if any(r.name in FIND_TOOLS for r in self.last_results) else ""
        wordings = (
            f"How can I help you today? I can {CAPABILITIES}.",
            "What would you like me to do: check an order's status, cancel an order, change a shipping address, "
            "or return items?",
            "I still can't tell what you need. Please tap one of the choices below.",
        )
        return self.ask(_Question(wordings, "what they need", greeting, choices=CAPABILITY_CHOICES))

    def identify(self, intent: str | None) -> _Reply:
        wordings = (
            IDENTIFY,
            "To look up your orders I first need to know who you are. Please write the email address of your "
            "account (like name@example.com), or your first name, last name and 5-digit zip code.",
            "I still couldn't find an email address, or a name with a zip code, in your messages. Please type the "
            "email address of your account.",
        )
        for text in reversed([t for _, role, t in self.texts if role == "user"]):
            found = identification_in(text)
            if found is None:
                continue
            failed = self.failed.get(_key(*found))
            if failed is None:
                return self.read(*found)
            if failed.error == "too_many_attempts":
                return _Reply(f"Sorry, I couldn't verify you: {failed.message} {HANDOFF_OFFER}")
            lead = "I still couldn't find your account with those details. To verify you,"
            return self.ask(_Question(wordings, "who they are", lead))
        if intent is None:
            lead = f"Hello! I can {CAPABILITIES}. To get started,"
        else:
            lead = f"I can {_VERB[intent]} your order. First I need to verify who you are:"
        return self.ask(_Question(wordings, "who they are", lead))

    def target_order(self, intent: str) -> dict[str, Any] | _Reply:
        """The order the request is about, or the reply that asks or looks it up."""
        order_id = self.order_id()
        if order_id is None:
            return self.choose_order(intent)
        if order_id in self.orders:
            return self.orders[order_id]
        failed = self.failed.get(_key("get_order_details", {"order_id": order_id}))
        if failed is not None and failed.error == "not_found":
            wordings = (
                f"I couldn't find order {order_id} among your orders. Could you check the order id?",
                f"Order {order_id} is not on your account. Please check its id: it looks like #W1234567.",
                f"I still can't find order {order_id}. Please write the id as it appears in your order email.",
            )
            return self.ask(_Question(wordings, "the id of an order of theirs"))
        return self.read("get_order_details", {"order_id": order_id})

    def choose_order(self, intent: str) -> dict[str, Any] | _Reply:
        """With no order named: the customer's only order, or only one the request applies to, else
        the question which, listing the orders it applies to (read together first)."""
        user = self.users.get(self.customer_id or "")
        if user is None:
            return self.read("get_user_details", {"user_id": self.customer_id})
        ids = user.get("orders", [])
        if not ids:
            return _Reply(f"I don't see any orders on your account. {ANYTHING_ELSE}")
        unread = [
            i for i in ids if i not in self.orders and _key("get_order_details", {"order_id": i}) not in self.failed
        ]
        if len(ids) > 1 and unread:
            return self.read_all("get_order_details", [{"order_id": i} for i in unread])
        if len(ids) == 1:
            return self.orders.get(ids[0]) or self.read("get_order_details", {"order_id": ids[0]})
        orders = [self.orders[i] for i in ids if i in self.orders]
        allowed, done, rule = _ALLOWED.get(intent, (lambda status: True, "", ""))
        eligible = [o for o in orders if allowed(o["status"])]
        if len(eligible) == 1:
            return eligible[0]
        if not eligible:
            listing = _join([f"{o['order_id']} ({o['status']})" for o in orders])
            return _Reply(f"None of your orders can be {done}: {rule}. Your orders are {listing}. {ANYTHING_ELSE}")
        candidates = self.order_candidates(eligible)
        kind = {"cancel": "pending ", "address": "pending ", "return": "delivered "}.get(intent, "")
        entries = [
            f"{n}) {o['order_id']} ({_item_names(o['items'])}{'' if kind else '; ' + o['status']})"
            for n, o in enumerate(candidates, 1)
        ]
        intro = "The ones that match are" if len(candidates) < len(eligible) else f"Your {kind}orders are"
        verb = _VERB[intent]
        wordings = (
            f"Which order would you like me to {verb}?",
            # no example order id here: the ids in the question are its choices, in their order
            f"Please tell me which order to {verb}: its number, its place in the list ('the first one') "
            "or an item in it.",
            "I still can't tell which order you mean. Please tap one of them below.",
        )
        choices = [(_order_label(o), o["order_id"]) for o in candidates]
        detail = f"{intro}: {'; '.join(entries)}."
        return self.ask(_Question(wordings, f"which order to {verb}", detail=detail, choices=choices))

    def order_candidates(self, eligible: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The orders still in question: those the latest "which order?" listed, narrowed to the ones
        whose items the answer named when it named items of several ("the kettle one")."""
        candidates = eligible
        for asked, text in self.exchanges:
            if _asks_which_order(asked):
                listed = [o for o in candidates if o["order_id"] in asked] or candidates
                named = [o for o in listed if _items_by_name(text, o["items"])]
                candidates = named if len(named) >= 2 else listed
        return candidates

    def status(self, intent: str) -> _Reply:
        order = self.target_order(intent)
        if isinstance(order, _Reply):
            return order
        status = order.get("status", "unknown")
        phrase = {"return requested": "has a return requested", "exchange requested": "has an exchange requested"}
        tracking = [t for f in order.get("fulfillments", []) for t in f.get("tracking_id", [])]
        address = order.get("address", {})
        text = (
            f"Order {order['order_id']} {phrase.get(status, 'is ' + status)}. Items: {_item_names(order['items'])}. "
            + (f"Tracking number: {', '.join(tracking)}. " if tracking else "It has no tracking number yet. ")
            + f"It ships to {address.get('city', 'an unknown city')}, {address.get('state', '')}. {ANYTHING_ELSE}"
        )
        return _Reply(text.replace(", .", "."))

    def cancel(self, intent: str) -> _Reply:
        order = self.target_order(intent)
        if isinstance(order, _Reply):
            return order
        order_id, items = order["order_id"], _item_names(order["items"])
        if order["status"] != "pending":
            return self.not_possible(order, "cancel")
        reason = self.latest(reason_in)
        if reason is None:
            wordings = (
                f"Why would you like to cancel order {order_id} ({items})? "
                "Is it no longer needed, or was it ordered by mistake?",
                f"To cancel order {order_id} I need one of two reasons: is it no longer needed, "
                "or was it ordered by mistake?",
                f"I still can't tell which reason applies to order {order_id}. Please tap 'No longer needed' "
                "or 'Ordered by mistake' below.",
            )
            choices = [("No longer needed", "No longer needed"), ("Ordered by mistake", "Ordered by mistake")]
            return self.ask(_Question(wordings, f"the reason for cancelling order {order_id}", choices=choices))
        refunds = self.refund_text(self.paid_in(order))
        text = f"To confirm: I will cancel order {order_id} ({items}) with the reason '{reason}'. {refunds}"
        return self.propose("cancel_pending_order", {"order_id": order_id, "reason": reason}, text)

    def address(self, intent: str) -> _Reply:
        order = self.target_order(intent)
        if isinstance(order, _Reply):
            return order
        order_id = order["order_id"]
        if not _ALLOWED["address"][0](order["status"]):
            return self.not_possible(order, "address")
        new = self.latest(address_in)
        if new is None:
            wordings = (
                f"What is the new shipping address for order {order_id}? Please write it as: street, "
                "apartment (if any), city, state and zip, e.g. 12 Oak Street, Apt 3, Boston, MA 02110.",
                f"I couldn't read a complete address for order {order_id} in that. Please write it on one line, "
                "separated by commas: street, city, two-letter state and 5-digit zip, e.g. 500 Pine St, Seattle, "
                "WA 98101.",
                f"I still couldn't read the new address for order {order_id}. Please write it like "
                "'12 Oak Street, Boston, MA 02110'.",
            )
            return self.ask(_Question(wordings, f"the new shipping address for order {order_id}"))
        old = order.get("address", {})
        if all(str(old.get(k, "")).lower() == v.lower() for k, v in new.items()):
            return _Reply(f"Order {order_id} already ships to {_format_address(new)}. {ANYTHING_ELSE}")
        text = (
            f"To confirm: I will change the shipping address of order {order_id} ({_item_names(order['items'])}) "
            f"from {_format_address(old)} to {_format_address(new)}."
        )
        return self.propose("modify_pending_order_address", {"order_id": order_id, **new}, text)

    def return_items(self, intent: str) -> _Reply:
        order = self.target_order(intent)
        if isinstance(order, _Reply):
            return order
        order_id, items = order["order_id"], order["items"]
        if order["status"] != "delivered":
            return self.not_possible(order, "return")
        # An item named to pick the order ("the kettle one") is not, by that, the item to return.
        named = (_items_named(text, items) for asked, text in reversed(self.exchanges) if not _asks_which_order(asked))
        chosen = next((found for found in named if found), None) or (items if len(items) == 1 else None)
        if not chosen:
            names = _item_names(items)
            wordings = (
                f"Which items of order {order_id} would you like to return: {names}? You can also say 'everything'.",
                f"Please name the items of order {order_id} to return as the order lists them ({names}), "
                "or say 'everything'.",
                f"I still can't tell which items of order {order_id} to return. Please tap an item or "
                "'Everything' below.",
            )
            distinct = dict.fromkeys(item.get("name", item.get("item_id", "?")) for item in items)
            choices = [(name, f"The {name}") for name in distinct] + [("Everything", "Everything")]
            return self.ask(_Question(wordings, f"which items of order {order_id} to return", choices=choices))
        history = order.get("payment_history", [])
        method = history[0]["payment_method_id"] if history else ""
        note = ""
        if any(_GIFT_CARD.search(_norm(t)) for t in self.window):
            user = self.users.get(self.customer_id or "")
            if user is None:
                return self.read("get_user_details", {"user_id": self.customer_id})
            gift_cards = [
                pm["id"] for pm in user.get("payment_methods", {}).values() if pm.get("source") == "gift_card"
            ]
            if gift_cards:
                method = gift_cards[0]
            else:
                note = "You have no gift card on file, so the refund goes to the original payment method. "
        amount = sum(float(item.get("price", 0)) for item in chosen)
        text = (
            f"To confirm: I will request the return of {_item_names(chosen)} from order {order_id}. {note}"
            f"The refund of {_money(amount)} goes to {self.method_text(method)} once the items are received, "
            "and you will get an email explaining how to send them back."
        )
        arguments = {
            "order_id": order_id,
            "item_ids": [item["item_id"] for item in chosen],
            "payment_method_id": method,
        }
        return self.propose("return_delivered_order_items", arguments, text)

    def not_possible(self, order: dict[str, Any], intent: str) -> _Reply:
        _, done, rule = _ALLOWED[intent]
        if order["status"] == done:
            return _Reply(f"Order {order['order_id']} is already {done}. {ANYTHING_ELSE}")
        return _Reply(f"Order {order['order_id']} is {order['status']}, so it can't be {done}: {rule}. {ANYTHING_ELSE}")

    # -- money -----------------------------------------------------------------------------------

    @staticmethod
    def paid_in(order: dict[str, Any]) -> dict[str, float]:
        """What each payment method still has paid in (what a cancellation refunds)."""
        paid: dict[str, float] = {}
        for entry in order.get("payment_history", []):
            sign = 1 if entry.get("transaction_type") == "payment" else -1
            method = entry.get("payment_method_id", "")
            paid[method] = paid.get(method, 0.0) + sign * float(entry.get("amount", 0))
        return {method: amount for method, amount in paid.items() if amount > 0.004}

    def refund_text(self, refunds: dict[str, float]) -> str:
        if not refunds:
            return "Nothing was paid, so there is nothing to refund."
        parts = []
        for method, amount in refunds.items():
            timing = "and is credited immediately" if method.startswith("gift_card") else "within 5-7 business days"
            parts.append(f"the refund of {_money(amount)} goes to {self.method_text(method)} {timing}")
        text = "; ".join(parts)
        return text[0].upper() + text[1:] + "."

    def method_text(self, method_id: str) -> str:
        method = self.users.get(self.customer_id or "", {}).get("payment_methods", {}).get(method_id)
        if method and method.get("source") == "credit_card" and method.get("last_four"):
            brand = str(method.get("brand") or "credit").title()
            card = brand if brand.lower().endswith("card") else f"{brand} card"
            return f"the {card} ending in {method['last_four']} ({method_id})"
        kind = method_id.rsplit("_", 1)[0].replace("_", " ")
        kind = {"paypal": "PayPal account"}.get(kind, kind)
        return f"your {kind} {method_id}"

    # -- outcomes ---------------------------------------------------------------------------------

    def after_write(self, result: _Result) -> _Reply | None:
        if result.ok:
            return _Reply(self.report(result))
        if result.error == "not_confirmed":
            text = self.new_text
            thanks_only = _THANKS.search(_norm(text)) and intent_of(text) is None and not has_details(text)
            if thanks_only or _is_plain_no(text, result.name, result.input):
                return _Reply(f"OK, I have not changed anything. {ANYTHING_ELSE}")
            return None  # the customer's reply is a new request: plan from the transcript
        if result.retryable:
            return _Reply(f"Sorry, that did not go through: {result.message} Nothing was changed. Shall I try again?")
        return _Reply(f"Sorry, I could not do that: {result.message} Nothing was changed. {ANYTHING_ELSE}")

    def report(self, result: _Result) -> str:
        order = result.payload if isinstance(result.payload, dict) else {}
        order_id = order.get("order_id", result.input.get("order_id", ""))
        if result.name in HANDOFF_TOOLS:
            return f"{TRANSFERRED}, who will continue with you here shortly."
        if result.name == "cancel_pending_order":
            refunds: dict[str, float] = {}
            for entry in reversed(order.get("payment_history", [])):  # the refunds this cancellation added
                if entry.get("transaction_type") != "refund":
                    break
                method_id = entry.get("payment_method_id", "")
                refunds[method_id] = refunds.get(method_id, 0.0) + float(entry.get("amount", 0))
            refund = self.refund_text(dict(reversed(refunds.items())))
            return f"Order {order_id} is cancelled. {refund} {ANYTHING_ELSE}"
        if result.name == "modify_pending_order_address":
            return (
                f"Done: order {order_id} will now ship to {_format_address(order.get('address', {}))}. {ANYTHING_ELSE}"
            )
        if result.name == "return_delivered_order_items":
            by_id = {item["item_id"]: item for item in order.get("items", [])}
            returned = [by_id[i] for i in result.input.get("item_ids", []) if i in by_id]
            amount = sum(float(item.get("price", 0)) for item in returned)
            method = self.method_text(result.input.get("payment_method_id", ""))
            return (
                f"The return of {_item_names(returned)} from order {order_id} is requested. You will get an email "
                f"explaining how to send the items back, and the refund of {_money(amount)} goes to {method}. "
                f"{ANYTHING_ELSE}"
            )
        return f"Done ({result.name}). {ANYTHING_ELSE}"

    def after_read_error(self, result: _Result) -> _Reply:
        if result.name in FIND_TOOLS and result.error == "not_found":
            if result.name == "find_user_id_by_email":
                what, other = (
                    f"the email address {result.input.get('email')}",
                    "your first name, last name and zip code",
                )
            else:
                name = f"{result.input.get('first_name')} {result.input.get('last_name')}"
                what, other = f"the name {name} and zip code {result.input.get('zip')}", "your email address"
            return _Reply(f"I couldn't find an account with {what}. Could you check it, or give me {other} instead?")
        if result.name in FIND_TOOLS and result.error == "too_many_attempts":
            return _Reply(f"Sorry, I couldn't verify you: {result.message} {HANDOFF_OFFER}")
        if result.name == "get_order_details" and result.error == "not_found":
            order_id = result.input.get("order_id")
            return _Reply(f"I couldn't find order {order_id}. Could you check the order id? It looks like #W1234567.")
        text = f"Sorry, I couldn't do that: {result.message}"
        if result.error == "not_authenticated":
            text += f" To verify you, {IDENTIFY}"
        elif result.retryable:
            text += " Please try again in a moment."
        return _Reply(text)


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _items_named(text: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The order's items the text names by their full name or head noun ("the shoes"), or all of them."""
    if _ALL_ITEMS.search(_norm(text)):
        return list(items)
    return _items_by_name(text, items)


def _items_by_name(text: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = _norm(text)
    words = {_stem(w) for w in re.findall(r"[a-z]+", text)}
    chosen = []
    for item in items:
        name = item.get("name", "").lower()
        head = _stem(name.split()[-1]) if name else ""
        if name and (name in text or head in words):
            chosen.append(item)
    return chosen


def _asks_which_order(text: str) -> bool:
    return "which order" in text.lower()  # every wording of the question says so


def _listed_orders(text: str) -> list[str]:
    """The order ids a question listed, in the order it listed them."""
    return list(dict.fromkeys(f"#W{a or b}" for a, b in _ORDER_ID.findall(text)))


def _order_label(order: dict[str, Any], limit: int = 40) -> str:
    label = f"{order['order_id']}: {_item_names(order['items'])}"
    return label if len(label) <= limit else label[: limit - 1].rstrip(" ,") + "…"


def _chunks(text: str, words_per_chunk: int = 4) -> list[str]:
    words = re.findall(r"\s*\S+", text)
    return ["".join(words[i : i + words_per_chunk]) for i in range(0, len(words), words_per_chunk)]


class OfflineProvider:
    """Deterministic, rule-based stand-in for Claude; see the module docstring for what it handles."""

    name = "offline"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings  # nothing to configure: no model id, no credentials, no network

    def converse(self, request: ModelRequest, on_text: TextCallback | None = None) -> ModelResponse:
        started = time.perf_counter()
        reply = _Conversation(request).reply()
        reply.text = reply.text.strip()
        content: list[dict[str, Any]] = []
        first_token_ms = None
        if reply.text:
            for chunk in _chunks(reply.text):
                if first_token_ms is None:
                    first_token_ms = (time.perf_counter() - started) * 1000
                if on_text is not None:
                    on_text(chunk)
            content.append({"text": reply.text})
        for arguments in [reply.input, *reply.more_inputs] if reply.tool else []:
            tool_use_id = f"offline-{len(request.messages)}-{len(content)}"
            content.append({"toolUse": {"toolUseId": tool_use_id, "name": reply.tool, "input": arguments}})
        return ModelResponse(
            content=content,
            suggested_replies=[SuggestedReply(label, text) for label, text in reply.choices],
            stop_reason="tool_use" if reply.tool else "end_turn",
            usage=Usage(),
            model_id=MODEL_ID,
            latency_ms=(time.perf_counter() - started) * 1000,
            first_token_ms=first_token_ms,
        )
