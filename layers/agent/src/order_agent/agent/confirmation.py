"""Reading a customer's answer to a confirmation without a model call.

Only short, unambiguous answers count as yes or no; anything with more in it ("yes, but to my
other address") goes back to the model, so a yes is never read into a sentence that changes
the request.
"""

from __future__ import annotations

import re
from typing import Literal

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
