"""A clock a test moves by hand, for code that takes one (the session lock's lease): time passes
without waiting for it."""

from __future__ import annotations

import time


class FakeClock:
    """Epoch seconds, starting now, that move only when the test advances them."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
