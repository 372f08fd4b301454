"""
Settle in-doubt token calls on resume: find out what was done before sending again.

An *in-doubt* item has a durable intent and no outcome: the process died (or the response
was lost) after the request may have left. Its ``UniqueRequestToken`` makes a resend safe
only while MTurk remembers the token (24 hours, on MTurk's clock, which this machine cannot
read). So the rules do not trust the local clock where they need not:

- **SendBonus: always look it up first.** ``ListBonusPayments(AssignmentId)``, every page,
  matched on WorkerId, amount and Reason. Payments are *counted*, not just matched: when
  several job lines legitimately pay the same worker the same amount for the same
  assignment and reason, the payments found are first set against the ones the journal
  already records as done, and only the surplus settles in-doubt items. Found → done
  (recorded as reconciled); not found → resent with the same token. A payment made outside
  this journal with exactly the same worker, assignment, amount and reason is taken as
  ours: turkbatch would rather underpay visibly (it is reported) than pay twice.
- **CreateHIT, CreateHITWithHITType, CreateAdditionalAssignmentsForHIT: no listing can tell
  whether the call happened,** so the token is the only protection. Intents younger than
  :data:`SAFE_AGE` are resent with the same token; older ones are never resent blindly:
  they are reported, and resent only with ``--resend-expired``.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import structlog

from turkbatch.jobs import Barrier, Operation
from turkbatch.journal import Journal
from turkbatch.keyset import KeySet

log = structlog.get_logger()

#: How long MTurk remembers a UniqueRequestToken.
TOKEN_LIFETIME = 24 * 3600.0
#: Safety margin under the lifetime: allows for this machine's clock running behind MTurk's
#: by up to an hour, and for requests delayed in flight; past it, only an explicit flag
#: resends a call that no listing can check.
SAFETY_MARGIN = 3600.0
SAFE_AGE = TOKEN_LIFETIME - SAFETY_MARGIN

#: The SendBonus parameters an intent record keeps ("p"): a payment's identity.
BONUS_FIELDS = ("WorkerId", "AssignmentId", "BonusAmount", "Reason")

BonusKey = tuple[str, str, Decimal, str]
"""What identifies a payment in ListBonusPayments: worker, assignment, amount, reason."""

Lookup = Callable[[str], Awaitable[list[Mapping[str, Any]]]]
"""Return every BonusPayment of an assignment (all pages)."""

Request = Callable[[str, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
"""Call MTurk through the retry layer and return the response body."""


@dataclass(slots=True)
class Settlement:
    """What a resume decided before sending anything."""

    settled: set[str] = field(default_factory=set)  # in doubt, and found done: not resent
    held: set[str] = field(default_factory=set)  # in doubt past the window: not resent


async def settle(
    journal: Journal,
    operations: Iterable[Operation | Barrier],
    request: Request,
    *,
    everything: bool = False,
    resend_expired: bool = False,
) -> Settlement:
    """
    Decide every in-doubt item of a resumed run before anything is sent.

    Args:
        journal: the run's open journal (its state is what the last run left).
        operations: the job's operations, in order.
        request: the retrying call, for ListBonusPayments.
        everything: look up every SendBonus not recorded as done, not only those in doubt
            (``run --reconcile``: recovery after a journal was lost).
        resend_expired: resend in-doubt CreateHIT-family calls past :data:`SAFE_AGE`.
    """
    state = journal.state
    result = Settlement()
    if not state.in_doubt and not everything:
        return result
    bonuses: list[Operation] = []
    now = time.time()
    for item in operations:
        if not isinstance(item, Operation) or item.key in state.done:
            continue
        intent = state.in_doubt.get(item.key)
        if item.op == "SendBonus" and (intent is not None or everything):
            bonuses.append(item)
        elif intent is not None and now - intent.at >= SAFE_AGE and not resend_expired:
            result.held.add(item.key)
            log.warning(
                "op.in_doubt_expired",
                key=item.key,
                op=item.op,
                line=item.line,
                note="its token may have expired: check with ListHITs, then run "
                "again with --resend-expired to send it",
            )
    if bonuses:
        wanted = {k for k in map(bonus_key, (b.params for b in bonuses)) if k}
        accounted = accounted_payments(journal.path, state.done, wanted)

        async def lookup(assignment_id: str) -> list[Mapping[str, Any]]:
            return await bonus_payments(request, assignment_id)

        for op in await settle_bonuses(bonuses, accounted, lookup):
            await journal.done(op.key, op=op.op, reconciled=True)
            result.settled.add(op.key)
        log.info("run.reconciled", looked_up=len(bonuses), found_paid=len(result.settled))
    return result


async def bonus_payments(request: Request, assignment_id: str) -> list[Mapping[str, Any]]:
    """Every bonus payment of an assignment, robust to MTurk's trailing NextToken."""
    payments: list[Mapping[str, Any]] = []
    params: dict[str, Any] = {"AssignmentId": assignment_id, "MaxResults": 100}
    while True:
        body = await request("ListBonusPayments", params)
        page = body.get("BonusPayments") or []
        payments.extend(page)
        token = body.get("NextToken")
        if not page or not token:
            return payments
        params = {**params, "NextToken": token}


def _amount(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def bonus_key(params: Mapping[str, Any]) -> BonusKey | None:
    """Return the payment identity of SendBonus parameters or a BonusPayment record."""
    amount = _amount(params.get("BonusAmount"))
    if amount is None:
        return None
    return (
        str(params.get("WorkerId")),
        str(params.get("AssignmentId")),
        amount,
        str(params.get("Reason", "")),
    )


async def settle_bonuses(
    in_doubt: Iterable[Operation],
    accounted: Counter[BonusKey],
    lookup: Lookup,
) -> list[Operation]:
    """
    Return the in-doubt SendBonus operations that MTurk shows as paid.

    Args:
        in_doubt: the in-doubt SendBonus operations.
        accounted: for each payment identity, how many payments the journal already
            records as done (they are in the listing too, and are not these).
        lookup: lists an assignment's bonus payments, every page.
    """
    by_assignment: dict[str, list[Operation]] = defaultdict(list)
    for op in sorted(in_doubt, key=lambda o: o.key):
        by_assignment[str(op.params["AssignmentId"])].append(op)
    settled: list[Operation] = []
    for assignment_id, ops in by_assignment.items():
        found: Counter[BonusKey] = Counter()
        for payment in await lookup(assignment_id):
            key = bonus_key(payment)
            if key is not None:
                found[key] += 1
        surplus = {key: found[key] - accounted.get(key, 0) for key in found}
        for op in ops:
            key = bonus_key(op.params)
            if key is not None and surplus.get(key, 0) > 0:
                surplus[key] -= 1
                settled.append(op)
    return settled


def accounted_payments(
    journal: str, done: Container[str], wanted: set[BonusKey]
) -> Counter[BonusKey]:
    """
    Count the payments the journal records as done, for the payment identities in ``wanted``.

    Read from the journal's own intent records (each keeps its payment's identity), so a
    job line edited out of the job since it was paid still counts.
    """
    counted: Counter[BonusKey] = Counter()
    seen = KeySet()  # one a payment: as many as the journal's done keys
    with open(journal, "rb") as f:
        for line in f:
            if b'"intent"' not in line or b'"p"' not in line:
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn last line; the journal was checked when opened
            key = record.get("k")
            if record.get("t") != "intent" or key not in done or not seen.add(key):
                continue
            identity = bonus_key(record.get("p") or {})
            if identity in wanted:
                counted[identity] += 1
    return counted
