"""
The run's books: what each call came to and cost, and where the run stands.

:class:`Books` counts each call's outcome into the run's :class:`~turkbatch.summary.Summary`
and adds up its money (paid by this run, said or found paid already, known paid in all);
enters every call the feed meets (when the run ends, each call without an outcome is
pending: none goes uncounted, whatever stopped the run); sets each payment's cost against
``--max-spend`` before it is sent; is the retry layer's :class:`~turkbatch.caller.Tally`
(requests and retries); keeps the count of calls handed out and not yet finished (what a
barrier waits on); and makes the :class:`~turkbatch.summary.Snapshot` the progress
reporter shows. Why the run stopped early is the books' to record too: :meth:`Books.stop`
is the run's one stop switch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import anyio
import structlog

from turkbatch import jobs, money
from turkbatch import plan as planning
from turkbatch.catalog import BONUS_AMOUNTS
from turkbatch.limits import AdaptiveLimiter
from turkbatch.summary import OpCounts, Outcome, Snapshot, Summary

log = structlog.get_logger()


#: Outcomes that say a bonus is paid (by this run, before it, or MTurk says already).
_KNOWN_PAID = (Outcome.DONE, Outcome.ALREADY, Outcome.SKIPPED)


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
        self.known: dict[str, int] = {}  # operation → calls the feed met (each call once)
        self.listed = 0  # calls found by listings so far
        self.unlisted = summary.unlisted  # listed lines whose listing has not finished
        self.left = 0  # calls left without an outcome so far (for the snapshot)
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
        """
        Count one call's outcome, and the money of a bonus known paid: paid by this run
        (done), said by MTurk to be paid already (already), or paid earlier (skipped).
        """
        s = self.summary
        s.count(item.op, outcome)
        amount_name = BONUS_AMOUNTS.get(item.op)
        if amount_name is not None and outcome in _KNOWN_PAID:
            amount = money.parse(item.params[amount_name])
            fee = money.bonus_fee(amount)
            s.bonus_total += amount
            s.fees_total += fee
            if outcome is Outcome.DONE:
                s.bonus_paid += amount
                s.fees_paid += fee
            elif outcome is Outcome.ALREADY:
                s.bonus_already += amount
                s.fees_already += fee

    def found_paid(self, item: jobs.Operation) -> None:
        """Count a bonus this run's lookups found paid at MTurk (reconciled): already done."""
        s = self.summary
        s.count(item.op, Outcome.ALREADY)
        amount = money.parse(item.params[BONUS_AMOUNTS[item.op]])
        fee = money.bonus_fee(amount)
        s.bonus_total += amount
        s.fees_total += fee
        s.bonus_reconciled += amount
        s.fees_reconciled += fee

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
            total=s.calls + self.listed,
            done=t.done + t.already,
            failed=t.failed,
            skipped=t.skipped,
            pending=self.left,
            in_flight=self.in_flight,
            requests=self.requests,
            retries=self.retries,
            throttles=limiter.throttles,
            rate_ceiling=limiter.rate,
            bonus_paid=s.bonus_paid,
            fees_paid=s.fees_paid,
            elapsed=time.monotonic() - self.started,
            unlisted=self.unlisted,
        )

    def close(self, limiter: AdaptiveLimiter) -> None:
        """
        Close the books once the run has ended: every call met without an outcome is
        pending (left for the next run), whatever stopped it; write the calls and the pace
        into the summary.
        """
        s = self.summary
        for op, known in self.known.items():
            counts = s.by_op.get(op)
            if counts is None:
                counts = s.by_op[op] = OpCounts()
            pending = known - (counts.done + counts.already + counts.failed + counts.skipped)
            if pending < 0:  # a call counted twice: say so rather than hide it
                log.warning("run.miscounted", op=op, known=known, counted=counts.total)
            counts.pending = max(pending, 0)
        s.calls = sum(self.known.values())
        s.unlisted = self.unlisted
        s.requests, s.retries = self.requests, self.retries
        s.elapsed = time.monotonic() - self.started
        s.throttles = limiter.throttles
