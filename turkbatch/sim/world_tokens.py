"""
MTurk's UniqueRequestToken memory: what a successful call's token produced, for 24 hours.

Tokens are kept per operation on the simulator's clock. A token is remembered only when
its call succeeds, so a failed call (insufficient funds, say) does not burn it; once 24
hours have passed it is forgotten and the same call takes effect again, which is the
danger MTurk documents. Expired tokens are dropped as new ones arrive, so memory stays
bounded by one day of traffic.
"""

from __future__ import annotations

from collections import deque

from turkbatch.sim.clock import Clock

TOKEN_TTL = 86_400.0
"""How long MTurk remembers a UniqueRequestToken, in seconds."""


class TokenStore:
    """
    Tokens of successful calls, each with what it produced (a HITId, an AssignmentId).

    Args:
        clock: the simulator's clock.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str], tuple[float, str]] = {}
        self._queue: deque[tuple[float, tuple[str, str]]] = deque()

    def __getstate__(self) -> dict[str, object]:
        """Pickle without the clock (a snapshot must not copy it); see :meth:`attach`."""
        state = self.__dict__.copy()
        del state["_clock"]
        return state

    def attach(self, clock: Clock) -> None:
        """Give an unpickled store its clock back."""
        self._clock = clock

    def __len__(self) -> int:
        return len(self._tokens)

    def seen(self, operation: str, token: str) -> str | None:
        """Return what ``token`` produced for ``operation`` in the last 24 hours, if any."""
        key = (operation, token)
        entry = self._tokens.get(key)
        if entry is None:
            return None
        if self._clock.time() - entry[0] >= TOKEN_TTL:
            del self._tokens[key]
            return None
        return entry[1]

    def remember(self, operation: str, token: str, result: str) -> None:
        """Record the token of a successful call; drop tokens older than 24 hours."""
        now = self._clock.time()
        key = (operation, token)
        self._tokens[key] = (now, result)
        queue = self._queue
        queue.append((now, key))
        while queue and now - queue[0][0] >= TOKEN_TTL:
            stamp, old = queue.popleft()
            entry = self._tokens.get(old)
            if entry is not None and entry[0] == stamp:
                del self._tokens[old]
