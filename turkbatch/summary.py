"""What a run did, counted by operation: the value the engine returns and the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Outcome(StrEnum):
    """How one operation ended in this run."""

    DONE = "done"  # sent and succeeded in this run
    ALREADY = "already"  # MTurk said it was already done (earlier attempt or run)
    FAILED = "failed"  # permanent error, or transient retries exhausted
    SKIPPED = "skipped"  # not sent: the journal says an earlier run finished it
    PENDING = "pending"  # not finished: the run was interrupted first


class ExitCode:
    """The documented exit codes of ``turkbatch run``."""

    OK = 0
    FAILED = 1
    USAGE = 2
    JOURNAL = 3
    INTERRUPTED = 130


@dataclass(slots=True)
class OpCounts:
    """Counts of outcomes for one operation."""

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
        """All operations of this kind."""
        return self.done + self.already + self.failed + self.skipped + self.pending


@dataclass(slots=True)
class Summary:
    """
    The result of one run.

    ``bonus_paid`` is what this run paid; ``bonus_total`` is every SendBonus of the job
    known to be paid (this run, or an earlier run or attempt), so a finished job's
    ``bonus_total`` is the job's whole payout however many runs it took.
    """

    by_op: dict[str, OpCounts] = field(default_factory=dict)
    bonus_paid: Decimal = Decimal("0.00")
    bonus_total: Decimal = Decimal("0.00")
    failed_earlier: int = 0
    requests: int = 0
    retries: int = 0
    throttles: int = 0
    elapsed: float = 0.0
    interrupted: bool = False
    job_changed: bool = False
    removed: int = 0
    journal: str | None = None
    endpoint: str | None = None

    def count(self, op: str, outcome: Outcome) -> None:
        """Count one operation's outcome."""
        counts = self.by_op.get(op)
        if counts is None:
            counts = self.by_op[op] = OpCounts()
        counts.add(outcome)

    def totals(self) -> OpCounts:
        """Return the outcome counts over every operation."""
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
        """0 all done, 1 some failed, 130 interrupted."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        return ExitCode.FAILED if self.totals().failed else ExitCode.OK

    def render(self) -> str:
        """Return the closing table, one row per operation."""
        header = ("operation", "done", "already", "failed", "skipped", "pending")
        rows: list[tuple[str, ...]] = [header]
        for name, c in [*sorted(self.by_op.items()), ("total", self.totals())]:
            rows.append((name, *map(str, (c.done, c.already, c.failed, c.skipped, c.pending))))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
        lines.append("")
        lines.append(
            f"bonus paid this run: ${self.bonus_paid:.2f}   "
            f"job bonus paid in all: ${self.bonus_total:.2f}"
        )
        rate = self.requests / self.elapsed if self.elapsed > 0 else 0.0
        lines.append(
            f"requests: {self.requests} ({rate:.1f}/s), retries: {self.retries}, "
            f"throttled: {self.throttles}, elapsed: {self.elapsed:.1f}s"
        )
        if self.job_changed:
            lines.append(
                "the job file changed since the last run: unchanged lines were skipped "
                f"and new lines run; {self.removed} operation(s) done earlier are no "
                "longer in the job"
            )
        if self.failed_earlier:
            lines.append(
                f"{self.failed_earlier} failed in an earlier run and were not retried "
                "(add --retry-failed to retry them)"
            )
        return "\n".join(lines)
