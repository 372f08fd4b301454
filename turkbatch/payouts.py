"""
The SendBonus half of ``turkbatch verify``: what MTurk shows paid, against what a job asks.

A payment is (worker, assignment, amount as a number, reason), as in
:mod:`turkbatch.ledger` (``"1.5"`` is ``"1.50"``). Asked and found payments
are counted as multisets, two identical lines being two payments: per identity, the first
``min(asked, found)`` lines (in job order) are *exact*, the rest *missing*; payments found
beyond those asked are *extra*; a payment on an assignment the job bonuses that no line
asks for is *unexpected* (shown, not a failure).

The call plan: ``ListBonusPayments`` takes a HITId or an AssignmentId. Per HIT the job
bonuses on, listing by HIT costs one page per 100 payments; by assignment, at least one
call per assignment. A job line names the assignment only, so an assignment's HIT is
learnt (:class:`Assignments`): from the HITs the job's own lines name
(``ApproveAssignment`` with ``HITId``), else by *seeding*: ``GetAssignment`` on one
assignment of unknown HIT names its HIT, and ``ListAssignmentsForHIT`` names every other
assignment of that HIT (skipped when the HIT allows one assignment). Seeds go in rounds,
spread over the job (neighbours often share a HIT), sized by how many assignments each
seed has mapped so far (:data:`FIRST_GUESS` before the first round), at most
``concurrency`` a round; seeding goes on while it pays: while at least :data:`MIN_YIELD`
assignments are left, and while seeds have mapped that many each on average. A HIT is
then listed by HIT when that takes fewer pages than its assignments would, and every
other assignment by assignment. For 10,000 bonuses over 200 HITs of 50
assignments: 200 × (GetAssignment + ListAssignmentsForHIT + ListBonusPayments) = 600
calls.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import anyio

from turkbatch.errors import PermanentError
from turkbatch.jobs import Operation
from turkbatch.ledger import Payment, normal_amount
from turkbatch.verdict import Identity

__all__ = [
    "FIRST_GUESS",
    "MIN_YIELD",
    "PAGE_SIZE",
    "Assignments",
    "Entry",
    "Request",
    "Tally",
    "count",
    "identity_of",
    "learn_hits",
    "message",
    "pages",
    "tally",
]

#: MaxResults of every listing: MTurk's maximum.
PAGE_SIZE: Final = 100
#: Job assignments a seed must map, on average, to be worth its calls (a seed costs
#: GetAssignment and ListAssignmentsForHIT, and saves one call per assignment mapped).
MIN_YIELD: Final = 3
#: Job assignments per HIT assumed before the first seeds say: sizes the first round.
FIRST_GUESS: Final = 20

_STAMP: Final = re.compile(r"\s*\(\d{10,}\)$")

Request = Callable[[str, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
"""Make one read call through the retry layer and return its response body."""


def identity_of(params: Mapping[str, Any]) -> Identity | None:
    """
    Return what a payment is (worker, assignment, amount with two decimals, reason), for
    SendBonus parameters or a BonusPayment record; ``None`` when it is not whole.
    """
    payment = Payment.of(params)
    if payment is None:
        return None
    return payment.worker, payment.assignment, normal_amount(payment.amount), payment.reason


def message(exc: PermanentError) -> str:
    """Return MTurk's message without the `` (<epoch-ms>)`` it ends with."""
    return _STAMP.sub("", exc.message)


async def pages(request: Request, op: str, params: Mapping[str, Any], member: str) -> list[Any]:
    """Return every item of a listing, robust to MTurk's trailing NextToken."""
    items: list[Any] = []
    params = {**params, "MaxResults": PAGE_SIZE}
    while True:
        body = await request(op, params)
        page = body.get(member) or []
        items.extend(page)
        token = body.get("NextToken")
        if not page or not token:
            return items
        params = {**params, "NextToken": token}


class Assignments:
    """
    What verify learns about assignments: their HIT and status, each asked at most once.

    Filled by ``GetAssignment`` and ``ListAssignmentsForHIT`` (all statuses), and shared by
    the SendBonus plan and the Approve/RejectAssignment checks.

    Args:
        request: the retrying read call.
    """

    def __init__(self, request: Request) -> None:
        self.request = request
        self.hit_of: dict[str, str] = {}
        self.record: dict[str, Mapping[str, Any]] = {}  # AssignmentId → Assignment
        self.missing: dict[str, str] = {}  # AssignmentId → MTurk's error
        self._listed: dict[str, list[Mapping[str, Any]]] = {}
        self._refused: dict[str, PermanentError] = {}
        self._locks: defaultdict[str, anyio.Lock] = defaultdict(anyio.Lock)

    def _learn(self, assignment: Mapping[str, Any]) -> None:
        ident, hit = assignment.get("AssignmentId"), assignment.get("HITId")
        if isinstance(ident, str) and isinstance(hit, str):
            self.hit_of[ident] = hit
            self.record[ident] = assignment

    async def of_hit(self, hit_id: str) -> list[Mapping[str, Any]]:
        """Return every assignment of a HIT (ListAssignmentsForHIT, all pages, once)."""
        async with self._locks[f"hit:{hit_id}"]:
            if hit_id in self._refused:
                raise self._refused[hit_id]
            if hit_id not in self._listed:
                try:
                    found = await pages(
                        self.request, "ListAssignmentsForHIT", {"HITId": hit_id}, "Assignments"
                    )
                except PermanentError as exc:
                    self._refused[hit_id] = exc
                    raise
                for assignment in found:
                    self._learn(assignment)
                self._listed[hit_id] = found
            return self._listed[hit_id]

    async def get(self, assignment_id: str) -> Mapping[str, Any] | None:
        """
        Return an assignment (GetAssignment once, unless a listing showed it already).

        Returns:
            ``None`` when MTurk refuses (the reason is kept in :attr:`missing`).
        """
        async with self._locks[f"a:{assignment_id}"]:
            if assignment_id in self.record or assignment_id in self.missing:
                return self.record.get(assignment_id)
            try:
                body = await self.request("GetAssignment", {"AssignmentId": assignment_id})
            except PermanentError as exc:
                self.missing[assignment_id] = message(exc)
                return None
            self._learn(body.get("Assignment") or {})
            hit = body.get("HIT") or {}
            if hit.get("MaxAssignments") == 1 and isinstance(hit.get("HITId"), str):
                self._listed.setdefault(hit["HITId"], [body.get("Assignment") or {}])
            return self.record.get(assignment_id)

    async def seed(self, assignment_id: str) -> None:
        """Learn the HIT of an assignment and every other assignment of that HIT."""
        if await self.get(assignment_id) is not None:
            await self.learn(self.hit_of[assignment_id])

    async def learn(self, hit_id: str) -> None:
        """List a HIT's assignments, if MTurk will (its checks report it when not)."""
        with contextlib.suppress(PermanentError):
            await self.of_hit(hit_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One asked or found payment, as a verify row needs it."""

    identity: Identity
    line: int | None = None
    key: str = ""
    grant_time: str = ""


@dataclass(slots=True, kw_only=True)
class Tally:
    """
    The SendBonus verdicts.

    Attributes:
        exact, missing: asked payments (job lines), in job order.
        extra: found payments beyond those asked of the same identity.
        unexpected: found payments of an identity no line asks for.
        hit_of: AssignmentId → HITId, where known.
        errors: AssignmentId → why it could not be listed (its payments count as missing).
        by_hit, by_assignment: the listings made.
    """

    exact: list[Entry] = field(default_factory=list)
    missing: list[Entry] = field(default_factory=list)
    extra: list[Entry] = field(default_factory=list)
    unexpected: list[Entry] = field(default_factory=list)
    hit_of: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    by_hit: int = 0
    by_assignment: int = 0


def _spread(items: Sequence[str], k: int) -> list[str]:
    """Pick ``k`` items evenly spread over ``items`` (neighbours often share a HIT)."""
    step = len(items) / k
    return list(dict.fromkeys(items[int(i * step)] for i in range(k)))


async def learn_hits(
    wanted: Iterable[str], directory: Assignments, hits: Iterable[str], concurrency: int
) -> None:
    """
    Learn the HIT (and status) of as many ``wanted`` assignments as pays for itself.

    Lists ``hits`` first, then seeds (see the module docstring); the Approve/RejectAssignment
    checks use it too, so 10,000 approvals by AssignmentId over 200 HITs take 400 calls.
    """
    wanted = list(dict.fromkeys(wanted))
    async with anyio.create_task_group() as tg:
        for hit in dict.fromkeys(hits):
            tg.start_soon(directory.learn, hit)
    seeds = mapped = 0
    while True:
        unknown = [a for a in wanted if a not in directory.hit_of and a not in directory.missing]
        per_seed = mapped / seeds if seeds else float(FIRST_GUESS)
        if len(unknown) < MIN_YIELD or per_seed < MIN_YIELD:
            return
        k = max(1, min(concurrency, len(unknown) // math.floor(per_seed)))
        round_seeds = _spread(unknown, k)
        async with anyio.create_task_group() as tg:
            for assignment in round_seeds:
                tg.start_soon(directory.seed, assignment)
        seeds += len(round_seeds)
        mapped += sum(1 for a in unknown if a in directory.hit_of)


async def tally(
    bonuses: Sequence[Operation],
    request: Request,
    directory: Assignments,
    *,
    hits: Iterable[str] = (),
    concurrency: int = 16,
    progress: Callable[[int, list[Mapping[str, Any]]], None] | None = None,
) -> Tally:
    """
    Count what MTurk shows paid against the job's SendBonus calls.

    Args:
        bonuses: the job's SendBonus operations, in job order.
        request: the retrying read call.
        directory: what is known of assignments (shared with the review checks).
        hits: HITs the job names elsewhere: listed first, their assignments are mapped.
        concurrency: listings in flight at once.
        progress: called as each listing finishes, with how many job lines it settles
            and the job's payments it found.
    """
    lines: dict[str, list[Operation]] = defaultdict(list)
    for op in bonuses:
        lines[str(op.params["AssignmentId"])].append(op)
    await learn_hits(lines, directory, hits, concurrency)
    result = Tally(hit_of={a: directory.hit_of[a] for a in lines if a in directory.hit_of})
    on_hit: dict[str, list[str]] = defaultdict(list)
    for assignment, hit in result.hit_of.items():
        on_hit[hit].append(assignment)
    listings: list[tuple[str, str, list[str]]] = []  # (parameter, value, assignments)
    for hit, assignments in on_hit.items():
        by_hit = math.ceil(sum(len(lines[a]) for a in assignments) / PAGE_SIZE)
        by_assignment = sum(math.ceil(len(lines[a]) / PAGE_SIZE) for a in assignments)
        if len(assignments) > 1 and by_hit <= by_assignment:
            listings.append(("HITId", hit, assignments))
        else:
            listings.extend(("AssignmentId", a, [a]) for a in assignments)
    listings.extend(("AssignmentId", a, [a]) for a in lines if a not in result.hit_of)
    found: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    limit = anyio.CapacityLimiter(concurrency)

    async def list_one(name: str, value: str, assignments: list[str]) -> None:
        async with limit:
            try:
                payments = await pages(request, "ListBonusPayments", {name: value}, "BonusPayments")
            except PermanentError as exc:
                result.errors.update(
                    (a, directory.missing.get(a, message(exc))) for a in assignments
                )
                payments = []
        wanted = set(assignments)
        payments = [p for p in payments if p.get("AssignmentId") in wanted]
        for payment in payments:
            found[str(payment["AssignmentId"])].append(payment)
        if name == "HITId":
            result.by_hit += 1
        else:
            result.by_assignment += 1
        if progress is not None:
            progress(sum(len(lines[a]) for a in assignments), payments)

    async with anyio.create_task_group() as tg:
        for name, value, assignments in listings:
            tg.start_soon(list_one, name, value, assignments)
    for assignment, ops in lines.items():
        count(ops, found[assignment], result)
    return result


def count(
    asked: Sequence[Operation], found: Sequence[Mapping[str, Any]], into: Tally | None = None
) -> Tally:
    """
    Set asked payments against the payments found, as multisets; add the verdicts to ``into``.

    Args:
        asked: SendBonus operations, in job order.
        found: BonusPayment records (as ListBonusPayments returns them) of the same
            assignments.
        into: the tally to add to; a new one by default.
    """
    into = Tally() if into is None else into
    paid: Counter[Identity] = Counter()
    by_identity: defaultdict[Identity, list[Mapping[str, Any]]] = defaultdict(list)
    for payment in found:
        identity = identity_of(payment)
        if identity is not None:
            paid[identity] += 1
            by_identity[identity].append(payment)
    wanted: Counter[Identity] = Counter()
    for op in asked:
        identity = identity_of(op.params)
        if identity is None:  # cannot happen for a validated line
            continue
        wanted[identity] += 1
        row = Entry(identity=identity, line=op.line, key=op.key)
        (into.exact if wanted[identity] <= paid[identity] else into.missing).append(row)
    for identity, payments in by_identity.items():
        surplus = payments[wanted[identity] :] if identity in wanted else payments
        rows = into.extra if identity in wanted else into.unexpected
        rows.extend(
            Entry(identity=identity, grant_time=str(p.get("GrantTime", ""))) for p in surplus
        )
    return into
