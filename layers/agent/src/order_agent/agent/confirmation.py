"""Asking the customer to confirm a proposed change, and reading their answer without a model call.

Only short, unambiguous answers count as yes or no; anything with more in it ("yes, but to my
other address") goes back to the model, so a yes is never read into a sentence that changes
the request.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from order_agent.agent.events import PendingConfirmation, QuickReply

if TYPE_CHECKING:
    from order_agent.agent.graph import Proposal

Decision = Literal["yes", "no", "unclear", "other"]

_YES = {
    "yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "confirm", "confirmed", "correct", "proceed",
    "si", "sí", "oui", "ja", "sim", "da", "hai", "はい", "是", "好",
}  # fmt: skip
_NO = {"no", "n", "nope", "nah", "non", "nein", "não", "nao", "いいえ", "不"}
# Words that may follow a yes or a no without changing its meaning.
_FILLER = {
    "please", "thanks", "thank", "you", "go", "ahead", "do", "it", "that", "is", "right", "fine", "sounds",
    "good", "great", "perfect", "cancel", "return", "change", "proceed", "confirm", "the", "order", "this",
    "one", "of", "course", "definitely", "absolutely", "sir", "madam", "por", "favor", "merci", "danke",
    "bitte", "s'il", "vous", "plaît", "plait", "gracias", "keep", "don't", "dont", "not",
}  # fmt: skip
_UNCLEAR = {"maybe", "hmm", "hm", "not sure", "i don't know", "i dont know", "dunno", "perhaps", "?", "what", "huh"}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?|\?", re.UNICODE)


def classify_confirmation(text: str) -> Decision:
    normalized = " ".join(text.lower().split())
    if normalized.strip(" .!?") in _UNCLEAR or normalized in _UNCLEAR:
        return "unclear"
    if len(normalized) > 60 or re.search(r"\d", normalized):
        return "other"
    words = [w for w in _WORD.findall(normalized) if w != "?"]
    if not words:
        return "unclear"
    first, rest = words[0], words[1:]
    if not all(word in _FILLER for word in rest):
        return "other"
    if first in _YES:
        return "no" if any(w in {"don't", "dont", "not"} for w in rest) else "yes"
    if first in _NO:
        return "no"
    return "other"


# -- how a proposal is put to the customer ---------------------------------------------------------


def confirmation_replies(proposal_hash: str) -> list[QuickReply]:
    """The quick replies a proposal is put with: "Yes" confirms exactly this proposal, "No" declines."""
    return [QuickReply(label="Yes", text="yes", confirm_hash=proposal_hash), QuickReply(label="No", text="no")]


def order_card(preview: dict[str, Any] | None) -> dict[str, Any] | None:
    """The card shown with a proposal: its preview when the change is to an order (not the profile)."""
    return preview if preview and "order_id" in preview else None


def pending_confirmation(proposal: Proposal) -> PendingConfirmation:
    """A saved proposal as the customer was asked it, to ask again (a client that comes back)."""
    return PendingConfirmation(
        tool=proposal["tool"],
        hash=proposal["hash"],
        text=proposal["text"],
        order=order_card(proposal["preview"]),
        quick_replies=confirmation_replies(proposal["hash"]),
    )
