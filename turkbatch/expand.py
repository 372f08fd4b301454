"""
Expand bulk lines into single API calls, and read NotifyWorkers' per-worker outcomes.

Every call made for a bulk line is an ordinary :class:`~turkbatch.jobs.Operation`
(``bulk=None``) whose ``line`` is its parent's and whose ``key`` is
``<parent key>/<suffix>``, so the journal records each on its own and a resumed run
skips exactly the calls already done:

=============  ==========================================  ============================
form           calls                                        suffix
=============  ==========================================  ============================
chunks         NotifyWorkers, ≤ 100 WorkerIds each, in      ``c0``, ``c1``, ... (chunk
               line order (de-duplicated)                   index)
workers        one call per distinct worker, ``WorkerId``   the WorkerId
requests       Accept/RejectQualificationRequest per        the QualificationRequestId
               pending request of the type
assignments    Approve/RejectAssignment per Submitted       the AssignmentId
               (and, to override, Rejected) assignment
bonuses        SendBonus per assignment in the line's       the AssignmentId (re-keyed
               statuses (default Approved)                  by payment: ``hitbonus``)
=============  ==========================================  ============================

The first two are known from the line (:func:`expand_static`, :func:`count_static`);
the listed forms are found at run time by paging through ``ListQualificationRequests``
or ``ListAssignmentsForHIT`` (:func:`expand_listed`).

NotifyWorkers reports unreachable workers in its response rather than failing:
:func:`notify` sends one chunk, resends to soft-failed workers up to
:data:`SOFT_RETRIES` times, and returns a :class:`NotifyOutcome` naming every worker's
fate (delivered, SoftFailure or HardFailure with MTurk's message).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

import structlog

from turkbatch.bulk import DEFAULT_BONUS_STATUSES, LISTED, Bulk, as_epoch
from turkbatch.catalog import BULK_FORMS, RECIPIENT_LIMITS
from turkbatch.errors import OperationError
from turkbatch.jobs import Operation
from turkbatch.plan import Expansion

__all__ = [
    "CHUNK_SIZE",
    "LISTINGS",
    "MAX_PASSES",
    "PAGE_SIZE",
    "SOFT_RETRIES",
    "NotifyOutcome",
    "Request",
    "count_static",
    "expand_listed",
    "expand_static",
    "filters_test",
    "notify",
    "notify_outcome",
    "plan_expansion",
]

log = structlog.get_logger()

#: WorkerIds per NotifyWorkers call: MTurk's limit (each chunked operation's is in the
#: catalog, :data:`~turkbatch.catalog.RECIPIENT_LIMITS`).
CHUNK_SIZE: Final = min(limit for _, limit in RECIPIENT_LIMITS.values())
#: MaxResults of every listing: MTurk's maximum (its default is 10).
PAGE_SIZE: Final = 100
#: Listing passes over one parent at most. The first pass yields the items; each later
#: pass lists again from the start (after everything yielded has settled) and yields
#: only items not seen before: acting on items while paging can shift MTurk's pages
#: under the cursor, and items can arrive meanwhile. A pass that finds nothing new ends
#: the expansion, normally the second; more than 10 means the listing keeps changing
#: under us, and the rest is left to the next run.
MAX_PASSES: Final = 10
#: Resends to a worker whose NotifyWorkers delivery failed softly (so at most 4 calls
#: name them); still failing after that, they are reported, never retried forever.
SOFT_RETRIES: Final = 3
#: The List operation that finds the items of each listed form (the catalog's).
LISTINGS: Final[Mapping[Bulk, str]] = {
    form.form: form.listing for form in BULK_FORMS.values() if form.listing
}

Request = Callable[[str, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
"""Make one API call and return its response body (the engine's retrying call)."""


@dataclass(frozen=True, slots=True)
class _Listed:
    result: str  # the output member holding the page's items
    item: str  # the item's id member, and the child call's id parameter
    parent: str  # the parent id parameter, also a member of each item


_LISTED: Final[Mapping[Bulk, _Listed]] = {
    form.form: _Listed(form.member, form.item, form.parent)
    for form in BULK_FORMS.values()
    if form.member
}


def _child(
    parent: Operation,
    suffix: str,
    params: dict[str, Any],
    on: Mapping[str, str] | None = None,
) -> Operation:
    key = f"{parent.key}/{suffix}"
    return Operation(line=parent.line, key=key, op=parent.op, params=params, on=on)


#: The ids of a listed item that name what a call acts on.
_NAMES: Final = (
    "WorkerId",
    "AssignmentId",
    "HITId",
    "QualificationRequestId",
    "QualificationTypeId",
)


def _acted_on(item: Mapping[str, Any]) -> dict[str, str] | None:
    """Return a listed item's ids: its own, its worker's, its HIT's or type's."""
    on = {n: v for n in _NAMES if isinstance(v := item.get(n), str)}
    return on or None


def expand_static(op: Operation) -> Iterator[Operation]:
    """
    Yield the calls of a ``chunks`` or ``workers`` line, in line order.

    Keys are stable across runs: a chunk's is its index in the de-duplicated list, a
    worker's is its WorkerId; the parent's key changes whenever the list does.

    Raises:
        ValueError: ``op`` is not a ``chunks`` or ``workers`` line.
    """
    if op.bulk is Bulk.CHUNKS:
        param, size = RECIPIENT_LIMITS[op.op]
        workers: Sequence[str] = op.params[param]
        for index, start in enumerate(range(0, len(workers), size)):
            chunk = list(workers[start : start + size])
            yield _child(op, f"c{index}", {**op.params, param: chunk})
    elif op.bulk is Bulk.WORKERS:
        rest = {k: v for k, v in op.params.items() if k != "WorkerIds"}
        for worker in op.params["WorkerIds"]:
            yield _child(op, worker, {**rest, "WorkerId": worker})
    else:
        raise ValueError(f"line {op.line} is not a static bulk line (bulk={op.bulk})")


def count_static(op: Operation) -> int:
    """
    Return how many calls a line becomes: 1 for a plain line.

    Raises:
        ValueError: a listed line (``requests``, ``assignments``): only its List calls
            can tell, at run time.
    """
    if op.bulk is None:
        return 1
    if op.bulk is Bulk.CHUNKS:
        param, size = RECIPIENT_LIMITS[op.op]
        return -(-len(op.params[param]) // size)
    if op.bulk is Bulk.WORKERS:
        return len(op.params["WorkerIds"])
    raise ValueError(f"line {op.line}: {op.bulk} are found by {LISTINGS[op.bulk]} at run time")


def plan_expansion(op: Operation) -> Expansion:
    """The bulk-expansion hook of :func:`turkbatch.plan.survey`: calls, and their keys."""
    if op.bulk in LISTED:
        return Expansion(calls=None, listing=LISTINGS[op.bulk])
    if op.bulk is None:
        return Expansion(calls=1)
    return Expansion(calls=count_static(op), children=partial(static_keys, op))


def static_keys(op: Operation) -> Iterator[str]:
    """Yield the keys of a ``chunks`` or ``workers`` line's calls (:func:`expand_static`'s)."""
    if op.bulk is Bulk.CHUNKS:
        for index in range(count_static(op)):
            yield f"{op.key}/c{index}"
    else:
        for worker in op.params["WorkerIds"]:
            yield f"{op.key}/{worker}"


def _keeper(op: Operation, spec: _Listed) -> Callable[[Mapping[str, Any]], bool]:
    """Return the test an item must pass: the line's parent, statuses and filters."""
    parent = op.params[spec.parent]
    statuses = frozenset(_statuses(op))
    passes = filters_test(op)

    def keep(item: Mapping[str, Any]) -> bool:
        if item.get(spec.parent, parent) != parent:
            return False
        if statuses and item.get("AssignmentStatus", "Submitted") not in statuses:
            return False
        return passes(item)

    return keep


def filters_test(op: Operation) -> Callable[[Mapping[str, Any]], bool]:
    """Return the test of a listed line's filters (workers, submit times) on a listed item."""
    filters = op.filters or {}
    after, before = filters.get("submitted_after"), filters.get("submitted_before")
    only = frozenset(filters["workers"]) if "workers" in filters else None
    never = frozenset(filters.get("except_workers", ()))

    def passes(item: Mapping[str, Any]) -> bool:
        worker = item.get("WorkerId")
        if (only is not None and worker not in only) or worker in never:
            return False
        if after is None and before is None:
            return True
        submitted = as_epoch(item.get("SubmitTime"))
        if submitted is None:
            return False
        return (after is None or submitted >= after) and (before is None or submitted < before)

    return passes


def _statuses(op: Operation) -> list[str]:
    if op.bulk is Bulk.BONUSES:
        return list((op.filters or {}).get("statuses") or DEFAULT_BONUS_STATUSES)
    if op.bulk is not Bulk.ASSIGNMENTS:
        return []
    return list(BULK_FORMS[op.op].statuses(op.params))


async def _pages(
    request: Request, listing: str, params: dict[str, Any], result: str
) -> AsyncIterator[Sequence[Mapping[str, Any]]]:
    """Yield every page of a listing; stop on an empty page or a missing NextToken."""
    while True:
        body = await request(listing, params)
        page = body.get(result) or []
        if page:
            yield page
        token = body.get("NextToken")
        if not page or not token:
            return
        params = {**params, "NextToken": token}


async def expand_listed(
    op: Operation,
    request: Request,
    *,
    settle: Callable[[], Awaitable[None]] | None = None,
    max_passes: int = MAX_PASSES,
) -> AsyncIterator[Operation]:
    """
    Yield the calls of a ``requests`` or ``assignments`` line as its listing pages arrive.

    Lists with ``MaxResults`` 100, robust to MTurk's trailing NextToken; keeps only the
    items of the line's parent that pass its filters; yields each item's call once, at
    most one page held at a time (plus the ids already yielded, to skip them later).
    After the listing ends it lists again from the start, up to ``max_passes`` passes in
    all (:data:`MAX_PASSES`), until a pass finds nothing new.

    Args:
        op: a ``requests`` or ``assignments`` line.
        request: makes one call and returns the response body; its errors propagate
            (the engine's retrying call raises :class:`~turkbatch.errors.OperationError`).
        settle: awaited before each pass after the first; the engine passes "wait until
            every call handed out so far has finished", so that a later pass sees a
            listing no call of ours is still changing, and an empty pass proves the
            line complete.
        max_passes: the bound on passes.

    Raises:
        ValueError: ``op`` is not a listed line.
        OperationError: a List call failed (calls already yielded stand).
    """
    if op.bulk not in LISTED:
        raise ValueError(f"line {op.line} is not a listed bulk line (bulk={op.bulk})")
    spec, listing = _LISTED[op.bulk], LISTINGS[op.bulk]
    params: dict[str, Any] = {spec.parent: op.params[spec.parent], "MaxResults": PAGE_SIZE}
    if statuses := _statuses(op):
        params["AssignmentStatuses"] = statuses
    rest = {k: v for k, v in op.params.items() if k != spec.parent}
    keep = _keeper(op, spec)
    paying = op.bulk is Bulk.BONUSES  # a bonus names the worker too
    seen: set[str] = set()
    for number in range(1, max_passes + 1):
        if number > 1 and settle is not None:
            await settle()
        new = 0
        async for page in _pages(request, listing, params, spec.result):
            for item in page:
                ident = item.get(spec.item)
                if not isinstance(ident, str) or ident in seen or not keep(item):
                    continue
                seen.add(ident)
                new += 1
                who = {"WorkerId": item.get("WorkerId")} if paying else {}
                call = {**who, spec.item: ident, **rest}
                yield _child(op, ident, call, _acted_on(item))
        log.debug("expand.pass", key=op.key, listing=listing, number=number, new=new)
        if not new:
            return
    if max_passes == 1:
        return  # one listing asked for (a bonus by HIT, listed before anything is sent)
    log.warning(
        "expand.passes_exhausted",
        key=op.key,
        line=op.line,
        listing=listing,
        passes=max_passes,
        note="the listing kept changing; run again to act on what is left",
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyOutcome:
    """
    What became of each worker of one NotifyWorkers chunk.

    Attributes:
        delivered: workers MTurk reported no failure for, in chunk order.
        soft: worker → MTurk's message, for SoftFailure (worth resending).
        hard: worker → MTurk's message, for HardFailure (and any other code, prefixed
            with it): never resent.
        attempts: calls made for the chunk.
    """

    delivered: tuple[str, ...]
    soft: Mapping[str, str] = field(default_factory=dict)
    hard: Mapping[str, str] = field(default_factory=dict)
    attempts: int = 1

    @property
    def unreached(self) -> dict[str, tuple[str, str]]:
        """Every worker not reached → ``(code, message)``, for the report."""
        out = {w: ("SoftFailure", m) for w, m in self.soft.items()}
        out.update((w, ("HardFailure", m)) for w, m in self.hard.items())
        return out

    def then(self, retry: NotifyOutcome) -> NotifyOutcome:
        """Return this outcome updated by a resend to (some of) its soft-failed workers."""
        settled = set(retry.delivered) | set(retry.soft) | set(retry.hard)
        soft = {w: m for w, m in self.soft.items() if w not in settled}
        return NotifyOutcome(
            delivered=self.delivered + retry.delivered,
            soft={**soft, **retry.soft},
            hard={**self.hard, **retry.hard},
            attempts=self.attempts + retry.attempts,
        )

    def as_record(self) -> dict[str, Any]:
        """Return the outcome as a JSON-ready journal result."""
        return {
            "delivered": list(self.delivered),
            "soft": dict(self.soft),
            "hard": dict(self.hard),
            "attempts": self.attempts,
        }


def notify_outcome(
    worker_ids: Sequence[str], failures: Sequence[Mapping[str, Any]]
) -> NotifyOutcome:
    """
    Read one NotifyWorkers response's ``NotifyWorkersFailureStatuses``.

    A worker not mentioned was delivered to (MTurk reports only failures); failures
    naming workers outside ``worker_ids`` are ignored.
    """
    wanted = frozenset(worker_ids)
    soft: dict[str, str] = {}
    hard: dict[str, str] = {}
    for failure in failures:
        worker = failure.get("WorkerId")
        if worker not in wanted:
            continue
        code = failure.get("NotifyWorkersFailureCode")
        message = str(failure.get("NotifyWorkersFailureMessage") or "")
        if code == "SoftFailure":
            soft[worker] = message
        else:
            hard[worker] = message if code == "HardFailure" else f"{code}: {message}"
    for worker in hard:
        soft.pop(worker, None)
    delivered = tuple(w for w in dict.fromkeys(worker_ids) if w not in soft and w not in hard)
    return NotifyOutcome(delivered=delivered, soft=soft, hard=hard)


async def notify(
    chunk: Operation,
    request: Request,
    *,
    retries: int = SOFT_RETRIES,
    pause: Callable[[int], Awaitable[None]] | None = None,
) -> NotifyOutcome:
    """
    Send one NotifyWorkers chunk; resend to soft-failed workers up to ``retries`` times.

    Args:
        chunk: a chunk from :func:`expand_static`.
        request: as for :func:`expand_listed`.
        retries: resends at most (:data:`SOFT_RETRIES`).
        pause: awaited with the resend number (1, 2, ...) before each resend: the
            engine's backoff; ``None`` resends at once.

    Raises:
        OperationError: the first call failed (nothing is known to be delivered). A
            failed resend does not raise: its workers stay soft failures, with the error
            added to their message.
    """
    params = dict(chunk.params)
    recipients = RECIPIENT_LIMITS[chunk.op][0]
    body = await request(chunk.op, params)
    outcome = notify_outcome(params[recipients], body.get("NotifyWorkersFailureStatuses") or [])
    for number in range(1, retries + 1):
        if not outcome.soft:
            break
        if pause is not None:
            await pause(number)
        again = list(outcome.soft)
        try:
            body = await request(chunk.op, {**params, recipients: again})
        except OperationError as exc:
            note = f" (resend failed: {exc.code}: {exc.message})"
            soft = {w: m + note for w, m in outcome.soft.items()}
            return NotifyOutcome(
                delivered=outcome.delivered,
                soft=soft,
                hard=outcome.hard,
                attempts=outcome.attempts + 1,
            )
        failures = body.get("NotifyWorkersFailureStatuses") or []
        outcome = outcome.then(notify_outcome(again, failures))
    return outcome
