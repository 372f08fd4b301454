"""
The run's books: what each call came to and cost, and where the run stands.

:class:`Books` counts each call's outcome into the run's :class:`~turkbatch.summary.Summary`
and adds up its money, sets each payment's cost against ``--max-spend`` before it is sent,
is the retry layer's :class:`~turkbatch.caller.Tally` (requests and retries), keeps the
count of calls handed out and not yet finished (what a barrier waits on), and makes the
:class:`~turkbatch.summary.Snapshot` the progress reporter shows. Why the run stopped
early is the books' to record too: :meth:`Books.stop` is the run's one stop switch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import anyio
import structlog

from turkbatch import jobs, money
from turkbatch import plan as planning
from turkbatch.limits import AdaptiveLimiter
from turkbatch.summary import Outcome, Snapshot, Summary

log = structlog.get_logger()


class Books:
    """
    One run's books.

    Args:
        summary: the run's summary, counted into as calls end.
        max_spend: the spend cap (``None``: none).
        halt: called once when the run stops: stop taking new calls.
    """

    def __init__(
        self, summary: Summary, *, max_spend: Decimal | None, halt: Callable[[], None]
    ) -> None:
        self.summary = summary
        self.max_spend = max_spend
        self.reserved = money.ZERO  # what payments sent so far may cost, for max_spend
        self.requests = summary.requests  # (the Tally: the calls made before the run too)
        self.retries = summary.retries
        self.in_flight = 0  # calls being made now
        self.queued = 0  # calls handed out to the workers and not finished
        self.started = time.monotonic()
        self.stopping = False
        self._halt = halt
        self._idle: anyio.Event | None = None

    def stop(self, reason: str | None = None) -> None:
        """Take no new calls; let in-flight calls finish. ``reason``: not an interrupt."""
        if not self.stopping:
            self.stopping = True
            if reason is None:
                self.summary.interrupted = True
            else:
                self.summary.stopped = reason
            self._halt()

    def finish(self, item: jobs.Operation, outcome: Outcome) -> None:
        """Count one call's outcome, and the money of a bonus known paid."""
        self.summary.count(item.op, outcome)
        if item.op == "SendBonus" and outcome in (Outcome.DONE, Outcome.ALREADY, Outcome.SKIPPED):
            amount = money.parse(item.params["BonusAmount"])
            fee = money.bonus_fee(amount)
            self.summary.bonus_total += amount
            self.summary.fees_total += fee
            if outcome is not Outcome.SKIPPED:
                self.summary.bonus_paid += amount
                self.summary.fees_paid += fee

    def reserve(self, item: jobs.Operation) -> bool:
        """Set a payment's cost against ``max_spend``; stop the run rather than pass it."""
        cap = self.max_spend
        if cap is None:
            return True
        cost = planning.price(item)
        if cost is not None and self.reserved + cost <= cap:
            self.reserved += cost
            return True
        why = "its cost is unknown" if cost is None else f"it costs {money.usd(cost)}"
        log.error("run.spend_cap", key=item.key, op=item.op, line=item.line, cap=str(cap))
        self.stop(
            f"--max-spend {money.usd(cap)} reached: {money.usd(self.reserved)} committed, "
            f"line {item.line} not sent ({why})"
        )
        return False

    def settled(self) -> None:
        """Count one call handed out as finished (whatever came of it)."""
        self.queued -= 1
        if self.queued == 0 and self._idle is not None:
            self._idle.set()

    async def idle(self) -> None:
        """Wait until every call handed out so far has finished (a barrier)."""
        while self.queued:
            self._idle = anyio.Event()
            await self._idle.wait()

    def snapshot(self, limiter: AdaptiveLimiter) -> Snapshot:
        """Return where the run stands, for the progress callback."""
        s = self.summary
        t = s.totals()
        return Snapshot(
            total=s.operations,
            done=t.done + t.already,
            failed=t.failed,
            skipped=t.skipped,
            pending=t.pending,
            in_flight=self.in_flight,
            requests=self.requests,
            retries=self.retries,
            throttles=limiter.throttles,
            rate_ceiling=limiter.rate,
            bonus_paid=s.bonus_paid,
            fees_paid=s.fees_paid,
            elapsed=time.monotonic() - self.started,
        )

    def close(self, limiter: AdaptiveLimiter) -> None:
        """Write the run's pace into its summary, once the run has ended."""
        s = self.summary
        s.requests, s.retries = self.requests, self.retries
        s.elapsed = time.monotonic() - self.started
        s.throttles = limiter.throttles
