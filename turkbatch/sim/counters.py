"""Request counters of the simulator, per operation and in total."""

from __future__ import annotations

from typing import Any

KINDS = ("received", "succeeded", "errors", "throttled", "faulted", "lost")
"""What is counted: every API request is ``received`` and ends in exactly one other kind
(``succeeded`` 2xx; ``errors`` 4xx from validation, signing or the world; ``throttled``;
``faulted`` 500/503; ``lost``)."""


class OpCounts:
    """The counts of one operation (plain ints: the hot path only adds one)."""

    __slots__ = KINDS

    def __init__(self) -> None:
        self.received = 0
        self.succeeded = 0
        self.errors = 0
        self.throttled = 0
        self.faulted = 0
        self.lost = 0

    def to_json(self) -> dict[str, int]:
        """Return the counts as a dict keyed by kind."""
        return {kind: getattr(self, kind) for kind in KINDS}


class Counters:
    """
    Counts of API requests by operation.

    Requests that name no known operation (bad target, wrong content type) are kept
    apart under ``unrouted`` and included in the totals.
    """

    def __init__(self) -> None:
        self._ops: dict[str, OpCounts] = {}
        self.unrouted = OpCounts()

    def op(self, operation: str) -> OpCounts:
        """Return the counts of ``operation``, created at zero on first use."""
        counts = self._ops.get(operation)
        if counts is None:
            counts = self._ops[operation] = OpCounts()
        return counts

    def totals(self) -> dict[str, int]:
        """Return the sum over every operation and the unrouted requests."""
        every = [*self._ops.values(), self.unrouted]
        return {kind: sum(getattr(c, kind) for c in every) for kind in KINDS}

    def to_json(self) -> dict[str, Any]:
        """Return ``{"operations": {op: counts}, "unrouted": counts, "totals": counts}``."""
        return {
            "operations": {op: c.to_json() for op, c in sorted(self._ops.items())},
            "unrouted": self.unrouted.to_json(),
            "totals": self.totals(),
        }

    def reset(self) -> None:
        """Zero every count."""
        self._ops.clear()
        self.unrouted = OpCounts()
