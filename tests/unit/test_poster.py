"""The poster's switch to a client's new connection mid-turn, against botocore's own client and
error classes (botocore's Stubber answers in place of API Gateway): the race is one of timing, so
it is played here in a fixed order."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from order_agent.edge.handlers import Poster


class _Sessions:
    """The edge store's one method a poster uses: the session's current connection."""

    region = "us-east-1"

    def __init__(self, current: str | None) -> None:
        self.current = current

    def session_connection(self, session_id: str) -> str | None:
        return self.current


def _frame(seq, kind, **fields):
    return {"type": kind, "turnId": "t1", "seq": seq, **fields}


def _expect(stubber, connection, frame, gone=False):
    params = {"ConnectionId": connection, "Data": json.dumps(frame).encode()}
    if gone:
        stubber.add_client_error("post_to_connection", "GoneException", http_status_code=410, expected_params=params)
    else:
        stubber.add_response("post_to_connection", {}, params)


@pytest.fixture
def poster():
    made = Poster("http://127.0.0.1:9/poster-test", "old", _Sessions("new"), "s1")
    with Stubber(made.client) as stubber:
        yield made, stubber
        stubber.assert_no_pending_responses()


def test_a_new_connection_gets_the_turns_earlier_frames_before_the_next_one(poster):
    # The message went into the closing connection without an error; only the done found it gone.
    # The client resumed on a new connection: a done reaching it before the message would make it
    # drop the message (it keeps the highest seq it saw), so the message goes again first.
    poster, stubber = poster
    delta, message, done = _frame(1, "delta", text="Hi"), _frame(2, "message", text="Hi!"), _frame(3, "done")
    _expect(stubber, "old", delta)
    _expect(stubber, "old", message)
    _expect(stubber, "old", done, gone=True)
    _expect(stubber, "new", message)  # deltas are not posted again: the message holds their text
    _expect(stubber, "new", done)
    for frame in (delta, message, done):
        poster.post_soon(frame)
    poster.close()
    assert poster.connection_id == "new" and not poster.gone


def test_with_no_new_connection_posting_stops_and_nothing_is_raised(poster):
    poster, stubber = poster
    poster.store.current = "old"  # the session's connection is still the one that is gone
    _expect(stubber, "old", _frame(1, "message"), gone=True)
    assert poster.post(_frame(1, "message")) is False
    assert poster.post(_frame(2, "done")) is False  # not posted at all
    assert poster.gone
