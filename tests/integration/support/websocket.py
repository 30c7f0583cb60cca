"""A raw WebSocket client for the gateway tests (the local gateway and the emulator's): every wait
bounded by the module's own WAIT, and the ways a client can go away."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect


@dataclass(frozen=True)
class WsClient:
    wait: float  # seconds: the bound on every wait for the handshake, a frame or a close

    def open_ws(self, url: str, **options: Any) -> ClientConnection:
        options.setdefault("user_agent_header", "order-agent-tests/1.0")
        return connect(
            url, open_timeout=self.wait, close_timeout=self.wait, ping_interval=None, max_size=None, **options
        )

    def recv_json(self, ws: ClientConnection) -> dict[str, Any]:
        return json.loads(ws.recv(timeout=self.wait))

    def wait_closed(self, ws: ClientConnection) -> ConnectionClosed:
        """The close the server initiated, as the client saw it."""
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=self.wait)  # frames sent before the close are skipped; TimeoutError fails the test
        return closed.value

    def connect_status(self, url: str, **options: Any) -> int:
        """The HTTP status a rejected handshake got (fails if the upgrade was accepted)."""
        with pytest.raises(InvalidStatus) as rejected:
            self.open_ws(url, **options).close()
        return rejected.value.response.status_code


def close_without_status(ws: ClientConnection) -> None:
    ws.socket.sendall(b"\x88\x80" + os.urandom(4))  # a masked close frame with an empty payload


def drop_tcp(ws: ClientConnection) -> None:
    ws.socket.shutdown(socket.SHUT_RDWR)  # no close frame at all


def assert_gone(api: Any, connection_id: str) -> None:
    """Every @connections call on a closed connection is 410 Gone."""
    for call in (
        lambda: api.post_to_connection(ConnectionId=connection_id, Data=b"late"),
        lambda: api.get_connection(ConnectionId=connection_id),
        lambda: api.delete_connection(ConnectionId=connection_id),
    ):
        with pytest.raises(api.exceptions.GoneException) as gone:
            call()
        assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
