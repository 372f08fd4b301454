"""
Settle what is in doubt on resume: ask MTurk what was done before sending anything again.

An *in-doubt* call has a durable intent and no outcome: the process died, or every attempt
was lost or timed out, after the request may have left. Its ``UniqueRequestToken`` makes
a resend safe only while MTurk remembers the token (24 hours, on MTurk's clock, which this
machine cannot read). So the rules do not trust the local clock where they need not:

- **SendBonus: always look it up first**, with the payment the *intent* recorded (never
  the job line as it reads now: it may have been edited since). ``ListBonusPayments
  (AssignmentId)``, every page, counted per payment: the payments found are first set
  against those the ledger already holds (made, reconciled or counted), and only the
  surplus settles in-doubt intents. Found → ``done`` (reconciled); not found → ``unpaid``:
  the call did not take effect, and the line, if the job still asks for that payment, is
  sent again (with the same token, as its key is the payment's). With ``--retry-failed``,
  bonuses recorded as failed are looked up the same way before any is sent again. A
  payment made outside this journal with exactly the same worker, assignment, amount and
  reason is taken as ours: turkbatch would rather underpay visibly than pay twice.
- **CreateHIT, CreateHITWithHITType, CreateAdditionalAssignmentsForHIT: no listing can tell
  whether the call happened,** so the token is the only protection. Intents younger than
  :data:`SAFE_AGE` are resent with the same token; older ones are never resent blindly:
  they are reported, and resent only with ``--resend-expired``.

``run --reconcile`` (recovery after a journal was lost) looks up every bonus the job would
send, the same way (:func:`reconcile_job`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from turkbatch.catalog import PAYMENT_OPERATIONS
from turkbatch.errors import LookupFailed, OperationError
from turkbatch.jobs import Barrier, Operation
from turkbatch.journal import Journal, JournalState
from turkbatch.ledger import PAYMENT_OP, Decision, Payment
from turkbatch.payments import bonus_lines

log = structlog.get_logger()

#: How long MTurk remembers a UniqueRequestToken.
TOKEN_LIFETIME = 24 * 3600.0
#: Safety margin under the lifetime: allows for this machine's clock running behind MTurk's
#: by up to an hour, and for requests delayed in flight; past it, only an explicit flag
#: resends a call that no listing can check.
SAFETY_MARGIN = 3600.0
SAFE_AGE = TOKEN_LIFETIME - SAFETY_MARGIN

Request = Callable[[str, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
"""Call MTurk through the retry layer and return the response body."""


@dataclass(slots=True)
class Settlement:
    """What a resume decided before sending anything."""

    found: Counter[str] = field(default_factory=Counter)  # payment id → found paid by a lookup
    unpaid: int = 0  # bonuses in doubt (or failed) that a lookup found never took effect
    held: set[str] = field(default_factory=set)  # in doubt past the window: not resent


@dataclass(frozen=True, slots=True)
class _Entry:
    """A bonus to look up: its journal key, its payment, and whether it was failed."""

    key: str
    payment: Payment
    failed: bool = False


async def settle(
    journal: Journal,
    request: Request,
    *,
    retry_failed: bool = False,
    resend_expired: bool = False,
) -> Settlement:
    """
    Decide every in-doubt call of a resumed run, from the journal alone, before anything
    is sent; the journal's state (and ledger) are brought up to date.

    Args:
        journal: the run's open journal (its state is what the last run left).
        request: the retrying call, for ListBonusPayments.
        retry_failed: also look up the bonuses recorded as failed (they are sent again).
        resend_expired: resend in-doubt CreateHIT-family calls past :data:`SAFE_AGE`.

    Raises:
        LookupFailed: a lookup failed; nothing was sent and everything stays in doubt.
    """
    state = journal.state
    result = Settlement()
    entries: list[_Entry] = []
    now = time.time()
    for key, intent in state.in_doubt.items():
        payment = Payment.of(intent.params) if intent.op in PAYMENT_OPERATIONS else None
        if payment is not None:
            entries.append(_Entry(key, payment))
        elif now - intent.at >= SAFE_AGE and not resend_expired:
            result.held.add(key)
            log.warning(
                "op.in_doubt_expired",
                key=key,
                op=intent.op,
                note="its token may have expired: check with ListHITs, then run "
                "again with --resend-expired to send it",
            )
    if retry_failed:
        for key, failure in state.failed.items():
            payment = Payment.of(failure.payment) if failure.op in PAYMENT_OPERATIONS else None
            if payment is not None:
                entries.append(_Entry(key, payment, failed=True))
    if not entries:
        return result
    found = await count_payments(request, {e.payment.assignment for e in entries})
    surplus = _surplus(found, state)
    for entry in sorted(entries, key=lambda e: e.key):
        pid = entry.payment.pid
        state.in_doubt.pop(entry.key, None)
        if entry.failed:
            state.failed.pop(entry.key, None)
            state.ledger.remove_failed(pid)
        if surplus[pid] > 0:
            surplus[pid] -= 1
            await journal.done(
                entry.key, op=PAYMENT_OP, reconciled=True, payment=entry.payment.params()
            )
            state.done.add(entry.key)
            state.ledger.add_paid(pid, entry.key)
            result.found[pid] += 1
        else:
            await journal.unpaid(entry.key, op=PAYMENT_OP)
            result.unpaid += 1
    log.info(
        "run.reconciled",
        looked_up=len(entries),
        found_paid=result.found.total(),
        not_paid=result.unpaid,
    )
    return result


async def reconcile_job(
    journal: Journal,
    operations: Iterable[Operation | Barrier],
    request: Request,
    *,
    retry_failed: bool = False,
) -> Counter[str]:
    """
    Look up every bonus the job would send (``run --reconcile``); record those MTurk
    shows paid as reconciled, in the journal and its ledger. Returns how many of each
    payment.

    Raises:
        LookupFailed: a lookup failed; nothing was sent.
    """
    state = journal.state
    ledger = state.ledger
    to_send: list[tuple[Operation, Payment]] = []
    for item, pid, n in bonus_lines(operations):
        payment = Payment.of(item.params)
        decision = ledger.decide(pid, n, retry_failed=retry_failed)
        if payment is not None and decision is Decision.SEND:
            to_send.append((item, payment))
    reconciled: Counter[str] = Counter()
    if not to_send:
        return reconciled
    found = await count_payments(request, {payment.assignment for _, payment in to_send})
    surplus = _surplus(found, state)
    for item, payment in to_send:
        pid = payment.pid
        if surplus[pid] > 0 and item.key not in state.done:
            surplus[pid] -= 1
            await journal.done(item.key, op=item.op, reconciled=True, payment=payment.params())
            state.done.add(item.key)
            ledger.add_paid(pid, item.key)
            reconciled[pid] += 1
    log.info("run.reconciled", looked_up=len(to_send), found_paid=reconciled.total())
    return reconciled


def _surplus(found: Counter[str], state: JournalState) -> Counter[str]:
    """Payments found beyond those the ledger holds already: what in-doubt ones may claim."""
    return Counter({pid: n - state.ledger.paid(pid) for pid, n in found.items()})


async def count_payments(request: Request, assignments: Iterable[str]) -> Counter[str]:
    """
    Count the payments MTurk shows for ``assignments``, by payment id.

    Raises:
        LookupFailed: a listing failed (after the retry layer's attempts).
    """
    found: Counter[str] = Counter()
    for assignment in sorted(set(assignments)):
        try:
            payments = await bonus_payments(request, assignment)
        except OperationError as exc:
            raise LookupFailed(
                f"cannot look up the bonuses of assignment {assignment} "
                f"(ListBonusPayments: {exc.message}); nothing was sent, and what was in "
                "doubt stays in doubt: run again once MTurk answers (the IAM policy needs "
                "mechanicalturk:ListBonusPayments)"
            ) from exc
        for record in payments:
            payment = Payment.of(record)
            if payment is not None:
                found[payment.pid] += 1
    return found


async def bonus_payments(request: Request, assignment_id: str) -> list[Mapping[str, Any]]:
    """Every bonus payment of an assignment, robust to MTurk's trailing NextToken."""
    return await payments_of(request, {"AssignmentId": assignment_id})


async def payments_of(request: Request, where: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every bonus payment of an assignment or a HIT (``where``: its id), every page."""
    payments: list[Mapping[str, Any]] = []
    params: dict[str, Any] = {**where, "MaxResults": 100}
    while True:
        body = await request("ListBonusPayments", params)
        page = body.get("BonusPayments") or []
        payments.extend(page)
        token = body.get("NextToken")
        if not page or not token:
            return payments
        params = {**params, "NextToken": token}
