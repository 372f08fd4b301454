"""
Set a job's bonuses against the journal's ledger of payments, before anything is sent.

The ledger (:mod:`turkbatch.ledger`) counts every payment the journal holds by what it
pays. A job's bonuses are set against it as multisets: the n-th occurrence of a payment in
the job is paid when the ledger holds n of them, however the line is spelt, keyed or
placed now. What the ledger holds that no line accounts for any more is *unaccounted*: a
line removed, or edited after it was paid. When a line to send pays the same worker for
the same assignment as an unaccounted payment (with another amount or reason), the line
was most likely edited after it was paid, and paying it could pay that worker twice: a
:class:`Conflict`. ``run`` refuses before sending anything and lists each one, until the
requester says which way it goes (``--edited-payments``, :class:`EditedPayments`):

- ``counted``: the earlier payment counts for the edited line. The line is recorded done,
  ``counted`` from the earlier payment, which then accounts for it from now on.
- ``pay-again``: the edited line is a payment of its own: it is paid too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import structlog

from turkbatch.catalog import PAYMENT_OPERATIONS
from turkbatch.jobs import Barrier, Operation
from turkbatch.journal import KEYS_VERSION, Journal, JournalState
from turkbatch.journal.records import Kind, entries
from turkbatch.keyset import KeySet
from turkbatch.ledger import (
    PAYMENT_OP,
    Decision,
    Ledger,
    Payment,
    normal_amount,
    occurrence,
    pid_of_key,
)
from turkbatch.wording import counted

log = structlog.get_logger()

__all__ = [
    "Conflict",
    "EditedPayments",
    "bonus_lines",
    "find_conflicts",
    "refusal",
    "resolve",
    "unchanged",
]

#: Conflicts listed in full in a refusal; the rest are counted.
SHOWN: Final = 10
#: What a journal line naming the payment operation holds (cheaper than parsing every line).
_PAYMENT_BYTES: Final = f'"{PAYMENT_OP}"'.encode()

Source = Callable[[], Iterable[Operation | Barrier]]


class EditedPayments(StrEnum):
    """How to settle a conflict between an edited line and the payment made for it earlier."""

    COUNTED = "counted"  # the earlier payment counts for the edited line
    PAY_AGAIN = "pay-again"  # the edited line is paid too


@dataclass(frozen=True, slots=True)
class Earlier:
    """A payment the ledger holds that no line of the job accounts for."""

    key: str
    payment: Payment


@dataclass(slots=True)
class Conflict:
    """Job lines to send for a worker and assignment already paid otherwise."""

    worker: str
    assignment: str
    earlier: list[Earlier] = field(default_factory=list)
    lines: list[tuple[int, str, Payment]] = field(default_factory=list)  # (line, key, payment)

    def describe(self, job: str) -> str:
        """Return one line: who, what was paid, what the job asks for now."""
        was = ", ".join(
            f"${normal_amount(e.payment.amount)} {e.payment.reason!r}" for e in self.earlier
        )
        now = ", ".join(
            f"{job}:{line} ${normal_amount(p.amount)} {p.reason!r}" for line, _, p in self.lines
        )
        return (
            f"worker {self.worker}, assignment {self.assignment}: paid earlier {was}; "
            f"the job now asks {now}"
        )


def bonus_lines(operations: Iterable[Operation | Barrier]) -> Iterator[tuple[Operation, str, int]]:
    """Yield every single SendBonus line with its payment id and occurrence number."""
    for item in operations:
        if isinstance(item, Operation) and item.op in PAYMENT_OPERATIONS and item.bulk is None:
            pid = pid_of_key(item.key)
            if pid is not None:
                yield item, pid, occurrence(item.key)


def unchanged(state: JournalState, digest: str) -> bool:
    """
    Whether every run the journal records ran exactly this job, keyed by payment: then the
    ledger holds no payment the job does not account for, and there can be no conflict.
    """
    return state.only_ran(digest, KEYS_VERSION)


def find_conflicts(
    state: JournalState, source: Source, journal: str, *, retry_failed: bool = False
) -> list[Conflict]:
    """
    Return the job's conflicts with the ledger, in line order; nothing is sent.

    One pass over the job finds the payments the ledger holds beyond what the job asks
    (usually none: then that is all); only then is the journal read for them, and the job
    once more for lines to send to the same workers and assignments.

    Args:
        state: the journal's replayed state (its ledger).
        source: streams the job (called once or twice).
        journal: the journal's path, to read the unaccounted payments from.
        retry_failed: failed bonuses are to be sent again.
    """
    ledger = state.ledger
    if not ledger.payments:
        return []
    if ledger.plain() and _every_payment_asked(ledger, state, source):
        return []
    covered = KeySet()  # payment ids the job asks for at least as often as they were paid
    partial: dict[str, int] = {}  # payment id → occurrences so far, while fewer than paid
    for _, pid, n in bonus_lines(source()):
        paid = ledger.paid(pid)
        if paid == 0:
            continue
        if n >= paid:
            covered.add(pid)
            partial.pop(pid, None)
        else:
            partial[pid] = n
    unaccounted = {
        pid: ledger.paid(pid) - partial.get(pid, 0)
        for pid in ledger.paid_ids()
        if pid not in covered
    }
    if not unaccounted:
        return []
    earlier = _earlier(journal, state, unaccounted)
    conflicts: dict[tuple[str, str], Conflict] = {}
    for item, pid, n in bonus_lines(source()):
        payment = Payment.of(item.params)
        if payment is None or payment.pair not in earlier:
            continue
        if ledger.decide(pid, n, retry_failed=retry_failed) is not Decision.SEND:
            continue
        conflict = conflicts.get(payment.pair)
        if conflict is None:
            conflict = conflicts[payment.pair] = Conflict(
                payment.worker, payment.assignment, earlier=earlier[payment.pair]
            )
        conflict.lines.append((item.line, item.key, payment))
    return list(conflicts.values())


def _every_payment_asked(ledger: Ledger, state: JournalState, source: Source) -> bool:
    """
    Whether the job asks for every payment the ledger holds, counted without a set.

    When every payment was made under its plain key ``pay:<id>``, each is one done key,
    and the job's lines have distinct keys: if as many lines have a done key as the ledger
    holds payments, every payment has its line (the usual resume: memory stays flat).
    """
    done = state.done
    asked = sum(1 for item, _, _ in bonus_lines(source()) if item.key in done)
    return asked == ledger.payments


def _earlier(
    journal: str, state: JournalState, unaccounted: dict[str, int]
) -> dict[tuple[str, str], list[Earlier]]:
    """Read the unaccounted payments from the journal, by worker and assignment."""
    seen: dict[str, Payment] = {}  # key → its payment, from its intent or outcome
    found: dict[str, list[Earlier]] = {}
    for _, entry in entries(journal, containing=_PAYMENT_BYTES):
        key = entry.key
        payment = Payment.of(entry.payment) or seen.get(key)
        pid = pid_of_key(key) or (payment.pid if payment else None)
        if pid not in unaccounted or payment is None:
            continue
        seen[key] = payment  # (only these: the journal may hold a million)
        if entry.kind is Kind.DONE and key in state.done:
            found.setdefault(pid, []).append(Earlier(key, payment))
    by_pair: dict[tuple[str, str], list[Earlier]] = {}
    for pid, count in unaccounted.items():
        for earlier in found.get(pid, [])[-count:]:
            by_pair.setdefault(earlier.payment.pair, []).append(earlier)
    return by_pair


def refusal(conflicts: list[Conflict], job: str) -> list[str]:
    """Return the reasons ``run`` refuses, one per conflict shown, and what to do."""
    lines = sum(len(c.lines) for c in conflicts)
    reasons = [
        f"{counted(lines, 'bonus line')} pay a worker for an assignment that this journal shows "
        "paid with another amount or reason, by a line no longer in the job (edited after "
        "it was paid?); nothing was sent"
    ]
    reasons += [c.describe(job) for c in conflicts[:SHOWN]]
    if len(conflicts) > SHOWN:
        more = counted(len(conflicts) - SHOWN, "more worker")
        reasons.append(f"and {more} (turkbatch plan lists them)")
    reasons.append(
        "if each earlier payment was for the line as it now reads, run again with "
        "--edited-payments counted; if the edited lines are payments of their own, pay "
        "them too with --edited-payments pay-again"
    )
    return reasons


async def resolve(journal: Journal, conflicts: list[Conflict], how: EditedPayments) -> int:
    """
    Settle conflicts as the requester said; return how many lines an earlier payment
    now counts for (``counted``), recorded in the journal and its ledger.
    """
    if how is EditedPayments.PAY_AGAIN:
        for conflict in conflicts:
            log.warning("payment.paid_again", conflict=conflict.describe("line"))
        return 0
    state, counted = journal.state, 0
    for conflict in conflicts:
        lines = list(conflict.lines)
        for entry in conflict.earlier:
            if not lines:
                break
            same = [x for x in lines if x[2].value == entry.payment.value]
            line, key, payment = (same or lines)[0]
            lines.remove((line, key, payment))
            await journal.done(
                key,
                op=PAYMENT_OP,
                payment=payment.params(),
                counted=(entry.key, entry.payment.pid),
            )
            state.done.add(key)
            state.ledger.add_paid(payment.pid, key)
            state.ledger.remove_paid(entry.payment.pid)
            counted += 1
            log.info(
                "payment.counted",
                line=line,
                earlier=entry.payment.describe(),
                now=payment.describe(),
            )
    return counted
