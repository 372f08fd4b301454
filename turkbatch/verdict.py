"""
What ``turkbatch verify`` finds: one :class:`Check` per payment, call or messaged worker,
and the :class:`Verification` that holds them all.

Every view of a verification (text, ``--output json``, ``--report`` CSV, the exit code,
the repay command) is built on these values, in :mod:`turkbatch.cli.verify`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

__all__ = ["PROBLEMS", "Check", "Identity", "Status", "Verification"]

Identity = tuple[str, str, str, str]
"""A payment: worker, assignment, amount with two decimals, reason."""


class Status(StrEnum):
    """What verify found for one payment, call or worker."""

    EXACT = "exact"  # as the job asks
    MISSING = "missing"  # asked, not (or not yet) in effect
    EXTRA = "extra"  # a payment made more times than asked
    UNEXPECTED = "unexpected"  # a payment on a bonused assignment that no line asks for
    ERROR = "error"  # MTurk would not say
    NOT_CHECKABLE = "not_checkable"  # MTurk keeps no record to check it against
    DELIVERED = "delivered"  # NotifyWorkers, from the journal
    SOFT_FAILURE = "soft_failure"
    HARD_FAILURE = "hard_failure"
    FAILED = "failed"  # NotifyWorkers call failed (journal)
    IN_DOUBT = "in_doubt"  # NotifyWorkers call sent, no answer recorded (journal)
    NOT_SENT = "not_sent"  # NotifyWorkers call not in the journal


#: Statuses that make verify exit 1.
PROBLEMS: Final = frozenset({Status.MISSING, Status.EXTRA, Status.ERROR})


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One verdict: a payment, a call, or (for NotifyWorkers) a worker."""

    op: str
    status: Status
    line: int | None = None
    key: str = ""
    worker_id: str = ""
    assignment_id: str = ""
    hit_id: str = ""
    qualification_type_id: str = ""
    qualification_request_id: str = ""
    amount: str = ""
    reason: str = ""
    detail: str = ""
    source: str = "mturk"  # or "journal", or "" (not checkable)


@dataclass(slots=True, kw_only=True)
class Verification:
    """
    What verify found, in job order (extra and unexpected payments after each bonus run).

    Attributes:
        job, endpoint: what was checked against what.
        journal: the journal used (NotifyWorkers outcomes), if any.
        checks: every verdict.
        calls: read calls sent, by operation (retries included).
        asked: SendBonus lines per payment identity (worker, assignment, amount with two
            decimals, reason); ``journal_done`` and ``journal_failed``: how many of them
            the journal records as done and as failed (for the repay command).
        other_lines: job lines other than SendBonus (a repay ``run`` may send them).
        unused_journal: a journal found but not used (it describes another endpoint).
        notes: what the user should know about how the check was made.
    """

    job: str
    endpoint: str = ""
    journal: str | None = None
    checks: list[Check] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    asked: Counter[Identity] = field(default_factory=Counter)
    journal_done: Counter[Identity] = field(default_factory=Counter)
    journal_failed: Counter[Identity] = field(default_factory=Counter)
    other_lines: int = 0
    unused_journal: str | None = None
    notes: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def counts(self) -> dict[str, Counter[Status]]:
        """Return the statuses counted per operation, in job order."""
        out: dict[str, Counter[Status]] = {}
        for check in self.checks:
            out.setdefault(check.op, Counter())[check.status] += 1
        return out

    def problems(self) -> Iterator[Check]:
        """Yield the checks that are not as the job asks."""
        return (c for c in self.checks if c.status in PROBLEMS)

    @property
    def exit_code(self) -> int:
        """0 when everything checkable is as the job asks, else 1."""
        return 1 if any(True for _ in self.problems()) else 0
