"""
What a run did, counted in API calls by operation: the value the engine returns and the
CLI prints.

Every count is a count of calls: a plain line is one call, a NotifyWorkers line one per
100 workers, a ``WorkerIds`` line one per worker, a listed line (``HITId``,
``QualificationTypeId``) one per item its listing found. The outcomes of a run account for
every call it knows of: done + already + failed + skipped + pending = ``calls``.

Also the :class:`Snapshot` of a run in progress the engine hands its progress callback,
and :func:`table`, the plain-text table every turkbatch command prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from turkbatch.money import ZERO, usd
from turkbatch.wording import counted


class Outcome(StrEnum):
    """How one call ended in this run."""

    DONE = "done"  # sent and succeeded in this run
    ALREADY = "already"  # MTurk said it was already done (earlier attempt or run)
    FAILED = "failed"  # permanent error, or transient retries exhausted
    SKIPPED = "skipped"  # not sent: the journal says an earlier run finished it
    PENDING = "pending"  # not finished: the run was interrupted (or stopped) first


class ExitCode:
    """The documented exit codes of ``turkbatch run``."""

    OK = 0
    FAILED = 1
    USAGE = 2
    JOURNAL = 3
    INTERRUPTED = 130


@dataclass(slots=True)
class OpCounts:
    """Counts of outcomes for the calls of one operation."""

    done: int = 0
    already: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0

    def add(self, outcome: Outcome) -> None:
        """Count one outcome."""
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    @property
    def total(self) -> int:
        """All calls of this operation."""
        return self.done + self.already + self.failed + self.skipped + self.pending

    def as_dict(self) -> dict[str, int]:
        """Return the counts keyed by outcome."""
        return {o.value: getattr(self, o.value) for o in Outcome}


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """
    Where a run stands, handed to the progress callback a few times a second.

    Attributes:
        total: the calls known so far (more while ``unlisted``).
        done: done in this run, including ``already``.
        failed: failed, in this run or (not retried) in an earlier one.
        skipped: skipped as done by an earlier run.
        pending: left for the next run (after an interrupt).
        in_flight: calls being made now.
        requests: requests sent; ``retries`` and ``throttles`` among them.
        rate_ceiling: the limiter's current rate, in requests per second.
        bonus_paid: bonuses this run sent and MTurk confirmed; ``fees_paid``: MTurk's
            fees on them.
        elapsed: seconds since the run started.
        unlisted: listed lines whose listing has not finished: their calls are not all
            in ``total`` yet.
    """

    total: int
    done: int
    failed: int
    skipped: int
    pending: int
    in_flight: int
    requests: int
    retries: int
    throttles: int
    rate_ceiling: float
    bonus_paid: Decimal
    fees_paid: Decimal
    elapsed: float
    unlisted: int = 0

    @property
    def finished(self) -> int:
        """Calls with an outcome."""
        return self.done + self.failed + self.skipped

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace of this run so far; ``None`` until there is a pace."""
        worked = self.done + self.failed  # skipping takes no time: leave it out of the pace
        left = self.total - self.finished - self.pending
        if left <= 0:
            return 0.0
        if worked == 0 or self.elapsed <= 0:
            return None
        return left * self.elapsed / worked


@dataclass(slots=True)
class Summary:
    """
    The result of one run.

    ``calls`` is every API call the run knows of (its outcomes add up to it); while
    ``unlisted`` listed lines have not been listed to the end (an interrupt, a stop) more
    calls may be found. ``bonus_paid`` is what this run sent and MTurk confirmed
    (``fees_paid``: MTurk's fees on it); ``bonus_already`` what MTurk answered was paid
    already (an earlier attempt) and ``bonus_reconciled`` what this run's lookups found
    paid: neither is paid by this run. ``bonus_total`` is every SendBonus of the job known
    to be paid (this run, or an earlier run or attempt), so a finished job's
    ``bonus_total`` is the job's whole payout however many runs it took (``fees_total``:
    the fees on it). ``stopped`` says why a run stopped early other than an interrupt (a
    spend cap reached).
    """

    by_op: dict[str, OpCounts] = field(default_factory=dict)
    calls: int = 0
    unlisted: int = 0
    bonus_paid: Decimal = ZERO
    fees_paid: Decimal = ZERO
    bonus_already: Decimal = ZERO
    fees_already: Decimal = ZERO
    bonus_reconciled: Decimal = ZERO
    fees_reconciled: Decimal = ZERO
    bonus_total: Decimal = ZERO
    fees_total: Decimal = ZERO
    failed_earlier: int = 0
    requests: int = 0
    retries: int = 0
    throttles: int = 0
    elapsed: float = 0.0
    unreached: int = 0  # NotifyWorkers recipients not reached (reported, not failed)
    reconciled: int = 0  # bonuses found paid by a lookup before anything was sent
    counted: int = 0  # edited bonus lines an earlier payment now counts for
    in_doubt: int = 0  # token calls whose every attempt may have reached MTurk
    interrupted: bool = False
    stopped: str | None = None
    job_changed: bool = False
    removed: int = 0
    journal: str | None = None
    endpoint: str | None = None

    def count(self, op: str, outcome: Outcome) -> None:
        """Count one call's outcome."""
        counts = self.by_op.get(op)
        if counts is None:
            counts = self.by_op[op] = OpCounts()
        counts.add(outcome)

    def totals(self) -> OpCounts:
        """Return the outcome counts over every call."""
        total = OpCounts()
        for c in self.by_op.values():
            total.done += c.done
            total.already += c.already
            total.failed += c.failed
            total.skipped += c.skipped
            total.pending += c.pending
        return total

    @property
    def exit_code(self) -> int:
        """0 all done, 1 some failed or left undone by a stop, 130 interrupted."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.stopped or self.in_doubt:
            return ExitCode.FAILED
        return ExitCode.FAILED if self.totals().failed else ExitCode.OK

    @property
    def effective_rate(self) -> float:
        """Calls finished in this run (done, already, failed) per second."""
        t = self.totals()
        worked = t.done + t.already + t.failed - self.failed_earlier
        return worked / self.elapsed if self.elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as one JSON-ready object (amounts as strings)."""
        return {
            "by_op": {op: c.as_dict() for op, c in sorted(self.by_op.items())},
            "totals": self.totals().as_dict(),
            "calls": self.calls,
            "unlisted": self.unlisted,
            "bonus_paid": f"{self.bonus_paid:.2f}",
            "fees_paid": f"{self.fees_paid:.2f}",
            "spent": f"{self.bonus_paid + self.fees_paid:.2f}",
            "bonus_already": f"{self.bonus_already:.2f}",
            "fees_already": f"{self.fees_already:.2f}",
            "bonus_reconciled": f"{self.bonus_reconciled:.2f}",
            "fees_reconciled": f"{self.fees_reconciled:.2f}",
            "bonus_total": f"{self.bonus_total:.2f}",
            "fees_total": f"{self.fees_total:.2f}",
            "failed_earlier": self.failed_earlier,
            "unreached": self.unreached,
            "reconciled": self.reconciled,
            "counted": self.counted,
            "in_doubt": self.in_doubt,
            "requests": self.requests,
            "retries": self.retries,
            "throttles": self.throttles,
            "elapsed": round(self.elapsed, 3),
            "effective_rate": round(self.effective_rate, 3),
            "interrupted": self.interrupted,
            "stopped": self.stopped,
            "job_changed": self.job_changed,
            "removed": self.removed,
            "journal": self.journal,
            "endpoint": self.endpoint,
            "exit_code": self.exit_code,
        }

    def render(self) -> str:
        """Return the closing table of calls, one row per operation, then money and pace."""
        header = ("operation", "done", "already", "failed", "skipped", "pending")
        rows = [
            (name, c.done, c.already, c.failed, c.skipped, c.pending)
            for name, c in sorted(self.by_op.items())
        ]
        t = self.totals()
        lines = table(header, rows, ("total", t.done, t.already, t.failed, t.skipped, t.pending))
        lines.append("")
        if self.unlisted:
            lines.append(
                f"calls: {self.calls:,}+ ({counted(self.unlisted, 'listing')} not finished: "
                "a run lists again and makes the calls it finds)"
            )
        else:
            lines.append(f"calls: {self.calls:,}")
        lines.append(
            f"bonus paid this run: {_paid(self.bonus_paid, self.fees_paid)}   "
            f"job bonus paid in all: {_paid(self.bonus_total, self.fees_total)}"
        )
        if self.bonus_already:
            lines.append(
                f"bonus MTurk said was paid already (an earlier attempt; not paid again): "
                f"{_paid(self.bonus_already, self.fees_already)}"
            )
        rate = self.requests / self.elapsed if self.elapsed > 0 else 0.0
        lines.append(
            f"requests: {self.requests} ({rate:.1f}/s), retries: {self.retries}, "
            f"throttled: {self.throttles}, elapsed: {self.elapsed:.1f}s, "
            f"effective rate: {self.effective_rate:.1f} calls/s"
        )
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}; {counted(t.pending, 'call')} not sent")
        if self.job_changed:
            lines.append(
                "the job file changed since the last run: unchanged lines were skipped "
                f"and new lines run; {counted(self.removed, 'call')} done earlier "
                f"{'is' if self.removed == 1 else 'are'} no longer in the job"
            )
        if self.reconciled:
            lines.append(
                f"{counted(self.reconciled, 'bonus')} found already paid at MTurk (looked up "
                "before sending): recorded as reconciled, not paid again"
                + (
                    f" ({_paid(self.bonus_reconciled, self.fees_reconciled)})"
                    if self.bonus_reconciled
                    else ""
                )
            )
        if self.counted:
            lines.append(
                f"{counted(self.counted, 'edited bonus line')} counted as paid by the earlier "
                "payment (--edited-payments counted)"
            )
        if self.in_doubt:
            lines.append(
                f"{counted(self.in_doubt, 'call')} in doubt: an attempt was lost or timed out and "
                "may have reached MTurk; run again to look them up (nothing is paid twice)"
            )
        if self.unreached:
            lines.append(
                f"{counted(self.unreached, 'message recipient')} could not be reached: "
                "turkbatch report says who and why"
            )
        if self.failed_earlier:
            lines.append(
                f"{self.failed_earlier} failed in an earlier run and were not retried "
                "(add --retry-failed to retry them)"
            )
        return "\n".join(lines)


def _paid(amount: Decimal, fees: Decimal) -> str:
    if not fees:
        return f"${amount:.2f}"
    return f"${amount:.2f} + fees ${fees:.2f} = {usd(amount + fees)}"


def table(
    header: Sequence[str], rows: Sequence[Sequence[object]], total: Sequence[object] | None = None
) -> list[str]:
    """
    Return a plain-text table: the first column left-aligned, the others right-aligned,
    a rule under the header and (when given) above the total row.
    """
    cells = [[str(c) for c in row] for row in (header, *rows, *((total,) if total else ()))]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in cells
    ]
    rule = "  ".join("-" * w for w in widths)
    lines.insert(1, rule)
    if total:
        lines.insert(len(lines) - 1, rule)
    return lines
