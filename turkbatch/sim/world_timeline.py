"""
The world's timeline: what is due to happen at a simulated time, in time order.

MTurk acts on its own as time passes (a HIT expires and its unassigned work is refunded,
a HIT is disposed of after 120 days, simulated workers accept and submit). The simulator
has no timer thread: each event is a ``(time, order, kind, subject)`` entry in a heap, and
whoever is about to look at the world first pops the events that are due (see
:func:`turkbatch.sim.world_lifecycle.catch_up`). When nothing is due that costs one
comparison, so the hot path stays fast however much is scheduled.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any, Protocol

Event = tuple[float, int, str, Any]
"""``(when, order, kind, subject)``: ``order`` keeps equal times first-in, first-out."""


class Actor(Protocol):
    """Something besides the world's own rules that acts on events (the workforce)."""

    def handle(self, state: Any, kind: str, subject: Any, at: float) -> None:
        """Act on one due event of a kind this actor scheduled."""
        ...

    def hit_opened(self, state: Any, hit: Any, at: float) -> None:
        """Hear that a HIT was created, extended or given more assignments."""
        ...

    def type_opened(self, state: Any, qual_type: Any, at: float) -> None:
        """Hear that the requester created a qualification type."""
        ...


class Timeline:
    """A heap of events; picklable with the state that owns it."""

    __slots__ = ("_heap", "_order")

    def __init__(self) -> None:
        self._heap: list[Event] = []
        self._order = 0

    def __len__(self) -> int:
        return len(self._heap)

    def __getstate__(self) -> tuple[list[Event], int]:
        return self._heap, self._order

    def __setstate__(self, state: tuple[list[Event], int]) -> None:
        self._heap, self._order = state

    def push(self, when: float, kind: str, subject: Any) -> None:
        """Schedule ``kind`` for ``subject`` at simulated time ``when``."""
        self._order += 1
        heapq.heappush(self._heap, (when, self._order, kind, subject))

    def next_time(self) -> float | None:
        """Return when the earliest event is due, or None when nothing is scheduled."""
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> Iterator[Event]:
        """
        Pop and yield every event due at or before ``now``, earliest first.

        Events pushed while iterating are yielded too if they are due by ``now``.
        """
        heap = self._heap
        while heap and heap[0][0] <= now:
            yield heapq.heappop(heap)
