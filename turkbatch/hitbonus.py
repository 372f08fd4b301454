"""
Bonus a whole HIT: list the assignments of every bonus-by-HIT line before anything is sent.

A line ``{"op": "SendBonus", "HITId": ..., "BonusAmount": ..., "Reason": ...}`` pays a
bonus to every assignment of the HIT in its ``statuses`` (default Approved) that passes
its filters. Money moves only after the guards have seen the total, so these lines are
listed (``ListAssignmentsForHIT``, read-only) before the run's guards, its plan and its
settlement, and each becomes one SendBonus per assignment: an ordinary payment, keyed by
what it pays (``pay:<payment id>#n``, see :mod:`turkbatch.ledger`), so the ledger decides
it like any other. Running the job again pays only the assignments that have appeared (or
been approved) since; a killed run's payments are settled by lookup as always.

A payment a bonus-by-HIT line makes is counted after the job's single lines asking for the
same payment (its ``n`` starts past theirs), so a single line and a HIT line for the same
worker, assignment, amount and reason are two payments, as two identical lines are. With
``"unless_paid": true`` the line skips every assignment that ``ListBonusPayments(HITId)``
shows paid for the same reason, whoever paid it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import structlog

from turkbatch import expand, jobs
from turkbatch.bulk import Bulk
from turkbatch.errors import OperationError, Refused
from turkbatch.ledger import PAY_PREFIX, Payment, pid_of_key
from turkbatch.payments import bonus_lines
from turkbatch.reconcile import Request, payments_of

log = structlog.get_logger()

__all__ = ["Listing", "expanded", "list_bonuses"]


@dataclass(slots=True)
class Listing:
    """The payments of every bonus-by-HIT line, by line key, in listing order."""

    calls: dict[str, list[jobs.Operation]] = field(default_factory=dict)
    skipped: int = 0  # assignments ``unless_paid`` found paid already

    @property
    def lines(self) -> int:
        """Bonus-by-HIT lines listed."""
        return len(self.calls)

    @property
    def payments(self) -> int:
        """Payments those lines ask for."""
        return sum(len(calls) for calls in self.calls.values())


def is_hit_bonus(item: jobs.Operation | jobs.Barrier) -> bool:
    """Whether ``item`` is a bonus-by-HIT line."""
    return isinstance(item, jobs.Operation) and item.bulk is Bulk.BONUSES


async def list_bonuses(
    operations: Iterable[jobs.Operation | jobs.Barrier],
    request: Request,
    again: Iterable[jobs.Operation | jobs.Barrier],
) -> Listing:
    """
    List the assignments of every bonus-by-HIT line; return their payments, keyed.

    Args:
        operations: the job, streamed.
        request: the retrying call (read-only calls only).
        again: the job streamed once more, to number the payments after the single
            lines asking for the same ones.

    Raises:
        Refused: a listing failed (an unknown HIT, say); nothing was sent.
    """
    listing = Listing()
    for item in operations:
        if not isinstance(item, jobs.Operation) or item.bulk is not Bulk.BONUSES:
            continue
        listing.calls[item.key] = await _list(item, request, listing)
    singles: dict[str, int] = {}
    wanted = {
        pid
        for calls in listing.calls.values()
        for call in calls
        if (pid := pid_of_key(call.key)) is not None
    }
    for _, pid, n in bonus_lines(again):
        if pid in wanted:
            singles[pid] = max(singles.get(pid, 0), n)
    counted: dict[str, int] = {}
    for key, calls in listing.calls.items():
        listing.calls[key] = [_numbered(call, singles, counted) for call in calls]
    return listing


async def _list(item: jobs.Operation, request: Request, listing: Listing) -> list[jobs.Operation]:
    """List one line's assignments as SendBonus calls keyed by their payment (not numbered)."""
    hit = str(item.params["HITId"])
    filters = item.filters or {}
    paid: set[tuple[str, str, str]] = set()
    calls: list[jobs.Operation] = []
    try:
        if filters.get("unless_paid"):
            for record in await payments_of(request, {"HITId": hit}):
                payment = Payment.of(record)
                if payment is not None:
                    paid.add((payment.worker, payment.assignment, payment.reason))
        async for child in expand.expand_listed(item, request, max_passes=1):
            payment = Payment.of(child.params)
            if payment is None:
                continue
            if (payment.worker, payment.assignment, payment.reason) in paid:
                listing.skipped += 1
                continue
            key = PAY_PREFIX + payment.pid
            calls.append(replace(child, key=key, bulk=None, filters=None))
    except OperationError as exc:
        raise Refused(
            f"line {item.line}: cannot list the assignments of HIT {hit} to bonus them "
            f"({exc.message}); nothing was sent"
        ) from exc
    log.info("hit_bonus.listed", line=item.line, hit=hit, payments=len(calls))
    return calls


def _numbered(
    call: jobs.Operation, singles: dict[str, int], counted: dict[str, int]
) -> jobs.Operation:
    """Give a listed payment its occurrence (past the single lines') and its token."""
    pid = pid_of_key(call.key)
    assert pid is not None, "listed payments are keyed by payment"
    n = counted[pid] = counted.get(pid, singles.get(pid, 0)) + 1
    key = call.key if n == 1 else f"{call.key}#{n}"
    return replace(call, key=key, params={**call.params, jobs.TOKEN: jobs.token_for(key)})


def expanded(
    operations: Iterable[jobs.Operation | jobs.Barrier], listing: Listing
) -> Iterator[jobs.Operation | jobs.Barrier]:
    """Stream the job with every bonus-by-HIT line replaced by the payments it lists."""
    for item in operations:
        if isinstance(item, jobs.Operation) and item.bulk is Bulk.BONUSES:
            yield from listing.calls.get(item.key, ())
        else:
            yield item
