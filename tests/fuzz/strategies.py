"""Hypothesis strategies for what a client (or an attacker) can put in a WebSocket frame."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from order_agent.edge.protocol import ACTIONS

# Any JSON value: scalars of every type (huge integers, floats, unicode, NUL), lists and objects.
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}\Z") | st.text(max_size=12)
FIELDS = ("sessionId", "messageId", "text", "confirmHash", "lastSeq")


@st.composite
def client_messages(draw: st.DrawFn) -> dict:
    """Objects shaped like client messages: mostly a real action (else a near miss or any JSON),
    each field present or not, mostly of the right type, and sometimes an extra field."""
    actions = (
        st.sampled_from(ACTIONS)
        if draw(st.integers(0, 4))
        else st.sampled_from(["SendMessage", "", "$default"]) | json_values
    )
    message = {"action": draw(actions)}
    for field in FIELDS:
        if draw(st.integers(0, 3)):
            right = {"sessionId": ids, "messageId": ids, "text": st.text(max_size=60),
                     "confirmHash": st.from_regex(r"\A[0-9a-f]{64}\Z"), "lastSeq": st.integers(min_value=-5)}[field]  # fmt: skip
            message[field] = draw(right if draw(st.integers(0, 3)) else json_values)
    if draw(st.integers(0, 4)) == 0:
        message[draw(st.text(max_size=10))] = draw(json_values)
    return message


# Well-formed messages with any text (control characters, NUL, emoji, right-to-left marks).
valid_messages = st.one_of(
    st.builds(lambda s, m, t: {"action": "sendMessage", "sessionId": s, "messageId": m, "text": t},
              st.sampled_from(["fuzz-a", "fuzz-b"]), st.uuids().map(str), st.text(max_size=300)),
    st.builds(lambda s, n: {"action": "resume", "sessionId": s, "lastSeq": n},
              st.sampled_from(["fuzz-a", "fuzz-b", "fuzz-new"]), st.integers(0, 2**53 - 1)),
)  # fmt: skip


def _nested(depth: int, opener: str, closer: str, inner: str = "1") -> str:
    return opener * depth + inner + closer * depth


deeply_nested = st.integers(1, 16_000).flatmap(
    lambda n: st.sampled_from(
        [
            _nested(n, "[", "]", ""),
            _nested(n, '{"a":', "}"),
            '{"action": "sendMessage", "sessionId": "s", "messageId": "m", "text": ' + _nested(n, "[", "]", "") + "}",
        ]
    )
)
# Numbers Python's json refuses to convert (over 4300 digits) or converts to huge values.
huge_numbers = st.integers(1, 30_000).map(
    lambda n: '{"action": "resume", "sessionId": "s", "lastSeq": 1' + "0" * n + "}"
)
oversized = st.integers(32 * 1024 - 100, 40 * 1024).map(
    lambda n: json.dumps({"action": "sendMessage", "sessionId": "s", "messageId": "m", "text": "x" * n})
)
# Lone surrogates cannot be encoded as UTF-8; a Lambda event's body (JSON) can still carry them.
surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=4)


# ... and so can valid JSON on the wire: "\\ud800" is ASCII, json.loads makes it a lone surrogate.
escaped_surrogates = st.lists(st.integers(0xD800, 0xDFFF), min_size=1, max_size=3).map(
    lambda points: json.dumps(
        {"action": "sendMessage", "sessionId": "s-surrogate", "messageId": f"m{points[0]:x}", "text": "hi @"}
    ).replace("@", "".join(f"\\u{p:04x}" for p in points))
)


def bodies(*, valid_unicode: bool = False) -> st.SearchStrategy[str]:
    """Any frame body: text, JSON of any shape, message-shaped JSON, nesting, huge numbers, size."""
    options = [
        st.text(max_size=200),
        json_values.map(json.dumps),
        json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
        client_messages().map(json.dumps),
        client_messages().map(json.dumps),
        valid_messages.map(json.dumps),
        valid_messages.map(json.dumps),
        deeply_nested,
        huge_numbers,
        oversized,
        escaped_surrogates,
    ]
    if not valid_unicode:
        options.append(
            st.tuples(client_messages(), surrogates).map(lambda m: json.dumps(m[0])[:-1] + ', "x": "' + m[1] + '"}')
        )
        options.append(surrogates.map(lambda s: '{"action": "ping"' + s + "}"))
    return st.one_of(options)
