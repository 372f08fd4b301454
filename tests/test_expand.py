"""Tests for turkbatch.expand: bulk lines become single calls, against the strict simulator."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from turkbatch import expand, jobs
from turkbatch.bulk import Bulk
from turkbatch.client import ClientSettings, MTurkClient
from turkbatch.errors import OperationError, PermanentError
from turkbatch.expand import (
    CHUNK_SIZE,
    SOFT_RETRIES,
    NotifyOutcome,
    Request,
    count_static,
    expand_listed,
    expand_static,
    notify,
    notify_outcome,
)
from turkbatch.jobs import Operation
from turkbatch.plan import Expansion
from turkbatch.sim import Clock, Simulator, World

TYPE_A, TYPE_B = "3TYPEAAAAAAAAAAAAAAAAAAAAAAAAA", "3TYPEBBBBBBBBBBBBBBBBBBBBBBBBB"
HIT, OTHER_HIT = "3HITAAAAAAAAAAAAAAAAAAAAAAAAAA", "3HITBBBBBBBBBBBBBBBBBBBBBBBBBB"
BASE = 1_790_000_000  # 2026-09-21, epoch seconds
Calls = list[tuple[str, dict[str, Any]]]


def one(record: Mapping[str, Any]) -> Operation:
    """Validate one job record and return its operation."""
    jobs.check_items([record])
    (op,) = list(jobs.iter_items([record]))
    assert isinstance(op, Operation)
    return op


def qual_world(a: int = 750, b: int = 20) -> World:
    """A strict world: ``a`` pending requests of type A and ``b`` of type B, interleaved,
    the n-th submitted at BASE + 60 n."""
    types = [
        {
            "QualificationTypeId": t,
            "Name": t,
            "Description": "d",
            "QualificationTypeStatus": "Active",
        }
        for t in (TYPE_A, TYPE_B)
    ]
    kinds = [TYPE_A] * a
    for i in range(b):
        kinds.insert(i * (a // b + 1), TYPE_B)
    requests = [
        {"QualificationRequestId": f"3REQ{n:05d}", "QualificationTypeId": kind,
         "WorkerId": f"AW{n:05d}", "SubmitTime": BASE + 60 * n}
        for n, kind in enumerate(kinds)
    ]  # fmt: skip
    return World.from_dict(
        {"qualification_types": types, "qualification_requests": requests}, clock=Clock()
    )


def pending(world: World, type_id: str) -> list[str]:
    """Return the ids of the pending requests of one type, straight from the world."""
    out, params = [], {"QualificationTypeId": type_id, "MaxResults": 100}
    while True:
        page = world.call("ListQualificationRequests", dict(params))
        out += [r["QualificationRequestId"] for r in page["QualificationRequests"]]
        if "NextToken" not in page:
            return out
        params["NextToken"] = page["NextToken"]


@contextlib.asynccontextmanager
async def served(world: World) -> AsyncIterator[tuple[Request, Calls]]:
    """Serve ``world`` on loopback; yield a ``request`` over the real client, and its log."""
    calls: Calls = []
    async with (
        Simulator(world=world) as sim,
        MTurkClient(ClientSettings(endpoint_url=sim.endpoint_url)) as client,
    ):

        async def request(op: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
            calls.append((op, dict(params)))
            return (await client.call(op, params)).body

        yield request, calls


async def children(op: Operation, request: Request, **kw: Any) -> list[Operation]:
    """Collect what expand_listed yields."""
    return [child async for child in expand_listed(op, request, **kw)]


# --- static expansions --------------------------------------------------------------------


def test_chunks_hold_at_most_100_distinct_workers_each_once_in_order(tmp_path: Path) -> None:
    """A 5,000-worker line with duplicates becomes 50 chunks of ≤ 100, every distinct worker
    in exactly one, in first-seen order; keys are parent/c<n> and stable across reads."""
    workers = [f"AW{n:05d}" for n in range(5000)]
    line = {"op": "NotifyWorkers", "Subject": "s", "MessageText": "m",
            "WorkerIds": workers + workers[:300] + workers[4000:4100]}  # fmt: skip
    path = tmp_path / "job.jsonl"
    path.write_bytes(orjson.dumps(line) + b"\n")
    stats = jobs.check_job(path)
    assert (stats.recipients, stats.duplicates, stats.bulk) == (5000, 400, {"chunks": 1})
    (op,) = list(jobs.read_job(path))
    assert isinstance(op, Operation) and op.bulk is Bulk.CHUNKS and op.dropped == 400
    chunks = list(expand_static(op))
    assert len(chunks) == count_static(op) == 50
    assert all(len(c.params["WorkerIds"]) <= CHUNK_SIZE for c in chunks)
    assert [w for c in chunks for w in c.params["WorkerIds"]] == workers
    assert [c.key for c in chunks] == [f"{op.key}/c{n}" for n in range(50)]
    assert all(c.bulk is None and c.line == 1 and c.op == "NotifyWorkers" for c in chunks)
    assert all((c.params["Subject"], c.params["MessageText"]) == ("s", "m") for c in chunks)
    (again,) = list(jobs.read_job(path))
    assert isinstance(again, Operation)
    assert [c.key for c in expand_static(again)] == [c.key for c in chunks]


def test_workers_lists_become_one_call_per_distinct_worker() -> None:
    """WorkerIds on a per-worker operation becomes one call per worker, keyed by it."""
    op = one({"op": "AssociateQualificationWithWorker", "QualificationTypeId": TYPE_A,
              "IntegerValue": 5, "WorkerIds": ["A1", "A2", "A1", "A3"]})  # fmt: skip
    calls = list(expand_static(op))
    assert count_static(op) == 3 and op.dropped == 1
    assert [c.key for c in calls] == [f"{op.key}/{w}" for w in ("A1", "A2", "A3")]
    assert calls[0].params == {"QualificationTypeId": TYPE_A, "IntegerValue": 5, "WorkerId": "A1"}


def test_counts_for_plan() -> None:
    """count_static says how many calls a line is; listed lines need their List calls."""
    plain = one({"op": "ApproveAssignment", "AssignmentId": "3A"})
    listed = one({"op": "ApproveAssignment", "HITId": HIT})
    notify_line = one({"op": "NotifyWorkers", "Subject": "s", "MessageText": "m",
                       "WorkerIds": [f"AW{n}" for n in range(201)]})  # fmt: skip
    assert count_static(plain) == 1 and count_static(notify_line) == 3
    with pytest.raises(ValueError, match="ListAssignmentsForHIT"):
        count_static(listed)
    assert expand.plan_expansion(listed) == Expansion(calls=None, listing="ListAssignmentsForHIT")
    planned = expand.plan_expansion(notify_line)
    assert planned.calls == 3 and planned.children is not None
    assert list(planned.children()) == [call.key for call in expand_static(notify_line)]
    with pytest.raises(ValueError):
        list(expand_static(listed))


# --- listed expansions against the strict simulator --------------------------------------


async def test_every_pending_request_of_one_type_and_no_other() -> None:
    """QualificationTypeId → exactly the 750 pending requests of type A, each once, keyed
    parent/<id>, with the line's Reason; type B's 20 are neither listed nor touched."""
    world = qual_world()
    wanted = pending(world, TYPE_A)
    op = one({"op": "RejectQualificationRequest", "QualificationTypeId": TYPE_A,
              "Reason": "Score too low"})  # fmt: skip
    assert op.bulk is Bulk.REQUESTS and len(wanted) == 750
    async with served(world) as (request, calls):
        got = await children(op, request)
        for child in got:
            await request(child.op, child.params)
        again = await children(op, request)
    assert [c.params["QualificationRequestId"] for c in got] == wanted
    assert {c.key for c in got} == {f"{op.key}/{r}" for r in wanted}
    assert all(c.params == {"QualificationRequestId": c.key.split("/")[1],
                            "Reason": "Score too low"} for c in got)  # fmt: skip
    assert pending(world, TYPE_A) == [] and len(pending(world, TYPE_B)) == 20
    assert again == []  # a second run finds nothing left to do
    lists = [p for name, p in calls if name == "ListQualificationRequests"]
    assert all(p["MaxResults"] == 100 and p["QualificationTypeId"] == TYPE_A for p in lists)
    assert len(lists) == 8 + 8 + 1  # pass 1, pass 2 (nothing new), the second run


async def test_trailing_next_token_quirk_is_followed_to_the_empty_page() -> None:
    """With MTurk's trailing NextToken on, the listing ends at the empty page; nothing is
    missed or repeated."""
    world = qual_world()
    world.trailing_next_token = True
    op = one({"op": "AcceptQualificationRequest", "QualificationTypeId": TYPE_A,
              "IntegerValue": 3})  # fmt: skip
    async with served(world) as (request, calls):
        got = await children(op, request)
    ids = [c.params["QualificationRequestId"] for c in got]
    assert ids == pending(world, TYPE_A) and len(set(ids)) == 750
    assert all(c.params["IntegerValue"] == 3 for c in got)
    assert len([1 for name, _ in calls if name == "ListQualificationRequests"]) == 2 * 9


async def test_acting_while_paging_still_yields_each_request_once() -> None:
    """Accepting every request as soon as it is yielded shrinks the pending list under the
    cursor; every request is still yielded exactly once and accepted."""
    world = qual_world()
    wanted = pending(world, TYPE_A)
    op = one({"op": "AcceptQualificationRequest", "QualificationTypeId": TYPE_A})
    settled = 0

    async def settle() -> None:
        nonlocal settled
        settled += 1

    async with served(world) as (request, _):
        ids = []
        async for child in expand_listed(op, request, settle=settle):
            await request(child.op, child.params)
            ids.append(child.params["QualificationRequestId"])
    assert sorted(ids) == sorted(wanted) and len(ids) == len(set(ids)) == 750
    assert pending(world, TYPE_A) == [] and settled == 1
    accepted = world.ledger()["qualification_changes"]
    assert Counter(e["QualificationRequestId"] for e in accepted) == Counter(wanted)


class OffsetListing:
    """A listing paged by offset, as a naive server would: handling items while paging
    shifts later pages, so one pass skips items. Only the request callable is fake."""

    def __init__(self, count: int, *, grow: bool = False) -> None:
        self.pending = [f"3R{n:04d}" for n in range(count)]
        self.grow = grow
        self.lists = 0

    async def request(self, op: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """Answer ListQualificationRequests by offset; Reject removes a request."""
        if op == "RejectQualificationRequest":
            self.pending.remove(params["QualificationRequestId"])
            return {}
        self.lists += 1
        if self.grow:  # a new request arrives with every page
            self.pending.append(f"3N{self.lists:04d}")
        start = int(params.get("NextToken", "0"))
        page = self.pending[start : start + params["MaxResults"]]
        body: dict[str, Any] = {
            "QualificationRequests": [
                {"QualificationRequestId": r, "QualificationTypeId": TYPE_A, "WorkerId": "A1"}
                for r in page
            ]
        }
        if start + len(page) < len(self.pending):
            body["NextToken"] = str(start + len(page))
        return body


async def test_later_passes_catch_what_shifting_pages_skipped() -> None:
    """Against offset paging, the first pass misses items handled under its cursor; the
    passes that follow find them, until one finds nothing new."""
    listing = OffsetListing(750)
    op = one({"op": "RejectQualificationRequest", "QualificationTypeId": TYPE_A})
    first_pass: list[str] = []
    ids = []
    async for child in expand_listed(op, listing.request):
        ids.append(child.params["QualificationRequestId"])
        if listing.lists <= 8:
            first_pass.append(ids[-1])
        await listing.request(child.op, child.params)
    assert len(first_pass) < 750  # one pass alone would have missed some
    assert sorted(ids) == [f"3R{n:04d}" for n in range(750)] and len(set(ids)) == 750
    assert listing.pending == []


async def test_passes_are_bounded_when_the_listing_never_settles() -> None:
    """A listing that gains an item on every page is given up after max_passes passes."""
    listing = OffsetListing(0, grow=True)
    op = one({"op": "RejectQualificationRequest", "QualificationTypeId": TYPE_A})
    got = await children(op, listing.request, max_passes=3)
    assert len(got) == 3 and listing.lists == 3


async def test_submitted_filters_and_worker_filters() -> None:
    """submitted_after (inclusive) / submitted_before (exclusive), workers and except_workers
    select among the pending requests of the type; ISO-8601 and epoch seconds both work."""
    world = qual_world(a=100, b=0)
    before = datetime.fromtimestamp(BASE + 60 * 17, UTC).isoformat().replace("+00:00", "Z")
    async with served(world) as (request, _):
        window = await children(
            one({"op": "AcceptQualificationRequest", "QualificationTypeId": TYPE_A,
                 "submitted_after": BASE + 60 * 10, "submitted_before": before}),
            request,
        )  # fmt: skip
        only = await children(
            one({"op": "AcceptQualificationRequest", "QualificationTypeId": TYPE_A,
                 "workers": ["AW00003", "AW00005", "AW99999"], "except_workers": ["AW00005"]}),
            request,
        )  # fmt: skip
    assert [c.params["QualificationRequestId"] for c in window] == [
        f"3REQ{n:05d}" for n in range(10, 17)
    ]
    assert [c.params["QualificationRequestId"] for c in only] == ["3REQ00003"]


def assignment_world() -> World:
    """A strict world: HIT has 30 Submitted, 5 Approved and 5 Rejected assignments; another
    HIT has 10 Submitted."""
    statuses = ["Submitted"] * 30 + ["Approved"] * 5 + ["Rejected"] * 5
    assignments = [
        {"AssignmentId": f"3ASG{n:05d}", "WorkerId": f"AW{n:05d}", "HITId": HIT,
         "AssignmentStatus": s}
        for n, s in enumerate(statuses)
    ] + [
        {"AssignmentId": f"3OTH{n:05d}", "WorkerId": f"AX{n:05d}", "HITId": OTHER_HIT}
        for n in range(10)
    ]  # fmt: skip
    hits = [{"HITId": h, "Title": "t", "Description": "d", "Reward": "0.10", "MaxAssignments": 40,
             "HITStatus": "Reviewable"} for h in (HIT, OTHER_HIT)]  # fmt: skip
    return World.from_dict({"hits": hits, "assignments": assignments}, clock=Clock())


async def test_hit_wide_approval_takes_submitted_assignments_only() -> None:
    """HITId → every Submitted assignment of that HIT (not Approved, Rejected, or another
    HIT's); approving them leaves nothing for a second run."""
    world = assignment_world()
    op = one({"op": "ApproveAssignment", "HITId": HIT, "RequesterFeedback": "Thanks"})
    async with served(world) as (request, calls):
        got = await children(op, request)
        for child in got:
            await request(child.op, child.params)
        again = await children(op, request)
    assert [c.params for c in got] == [
        {"AssignmentId": f"3ASG{n:05d}", "RequesterFeedback": "Thanks"} for n in range(30)
    ]
    assert again == []
    lists = [p for name, p in calls if name == "ListAssignmentsForHIT"]
    assert all(p["AssignmentStatuses"] == ["Submitted"] and p["MaxResults"] == 100 for p in lists)
    left = {
        h: world.call("ListAssignmentsForHIT", {"HITId": h, "AssignmentStatuses": ["Submitted"]})
        for h in (HIT, OTHER_HIT)
    }
    assert (left[HIT]["NumResults"], left[OTHER_HIT]["NumResults"]) == (0, 10)


async def test_override_rejection_also_takes_rejected_assignments() -> None:
    """ApproveAssignment with HITId and OverrideRejection lists Submitted and Rejected ones;
    RejectAssignment with HITId carries its RequesterFeedback to every call."""
    world = assignment_world()
    override = one({"op": "ApproveAssignment", "HITId": HIT, "OverrideRejection": True})
    reject = one({"op": "RejectAssignment", "HITId": HIT, "RequesterFeedback": "Off topic"})
    async with served(world) as (request, _):
        approved = await children(override, request)
        rejected = await children(reject, request)
    assert len(approved) == 35 and all(c.params["OverrideRejection"] for c in approved)
    assert {c.params["AssignmentId"] for c in approved} >= {f"3ASG{n:05d}" for n in range(35, 40)}
    assert len(rejected) == 30
    assert all(c.params["RequesterFeedback"] == "Off topic" for c in rejected)


async def test_listing_errors_propagate() -> None:
    """A failing List call raises the request's OperationError out of the expansion."""
    world = qual_world(a=5, b=0)
    op = one({"op": "RejectQualificationRequest", "QualificationTypeId": "3NOSUCHTYPE"})
    async with served(world) as (request, _):
        with pytest.raises(OperationError):
            await children(op, request)
    with pytest.raises(ValueError):
        await children(one({"op": "NotifyWorkers", "Subject": "s", "MessageText": "m",
                            "WorkerIds": ["A1"]}), request)  # fmt: skip


# --- NotifyWorkers outcomes ---------------------------------------------------------------


def test_notify_outcome_sorts_workers_by_fate() -> None:
    """Unmentioned workers were delivered; SoftFailure and HardFailure keep MTurk's message;
    an unknown code counts as hard; workers outside the chunk are ignored."""
    outcome = notify_outcome(
        ["A1", "A2", "A3", "A4"],
        [
            {"WorkerId": "A2", "NotifyWorkersFailureCode": "SoftFailure",
             "NotifyWorkersFailureMessage": "later"},
            {"WorkerId": "A3", "NotifyWorkersFailureCode": "HardFailure",
             "NotifyWorkersFailureMessage": "never worked for you"},
            {"WorkerId": "A4", "NotifyWorkersFailureCode": "Weird",
             "NotifyWorkersFailureMessage": "?"},
            {"WorkerId": "A9", "NotifyWorkersFailureCode": "HardFailure"},
        ],
    )  # fmt: skip
    assert outcome.delivered == ("A1",)
    assert outcome.soft == {"A2": "later"}
    assert outcome.hard == {"A3": "never worked for you", "A4": "Weird: ?"}
    assert outcome.unreached == {
        "A2": ("SoftFailure", "later"),
        "A3": ("HardFailure", "never worked for you"),
        "A4": ("HardFailure", "Weird: ?"),
    }
    assert orjson.loads(orjson.dumps(outcome.as_record()))["delivered"] == ["A1"]
    later = outcome.then(NotifyOutcome(delivered=("A2",)))
    assert later.delivered == ("A1", "A2") and not later.soft and later.attempts == 2


async def test_five_thousand_workers_each_reached_once_and_failures_reported() -> None:
    """5,000 workers (with duplicates and unknown ids) on one line: every call names ≤ 100
    workers, every reachable worker gets the message exactly once (soft failures after a
    resend), and everyone not reached is reported with MTurk's reason."""
    workers = [f"AW{n:05d}" for n in range(5000)]
    hard = set(workers[::97])
    soft_once = set(workers[5::89]) - hard
    stubborn = "AW04999"  # fails softly more often than turkbatch resends
    spec = [
        {"WorkerId": w, "notifiable": w not in hard,
         "soft_fail": 10 if w == stubborn else int(w in soft_once)}
        for w in workers
    ]  # fmt: skip
    world = World.from_dict({"workers": spec}, clock=Clock())
    unknown = ["AUNKNOWN1", "AUNKNOWN2"]
    line = {"op": "NotifyWorkers", "Subject": "New study", "MessageText": "Hello",
            "WorkerIds": workers + workers[:500] + unknown}  # fmt: skip
    stats = jobs.check_items([line])
    assert (stats.recipients, stats.duplicates) == (5002, 500)
    (op,) = list(jobs.iter_items([line]))
    assert isinstance(op, Operation)
    outcomes: list[NotifyOutcome] = []
    pauses: list[int] = []

    async def pause(number: int) -> None:
        pauses.append(number)

    async with served(world) as (request, calls):
        outcomes.extend([await notify(chunk, request, pause=pause) for chunk in expand_static(op)])
    assert all(len(p["WorkerIds"]) <= 100 for _, p in calls)
    delivered = Counter(n["WorkerId"] for n in world.ledger()["notifications"])
    reachable = set(workers) - hard - {stubborn}
    assert set(delivered) == reachable and set(delivered.values()) == {1}
    assert Counter(w for o in outcomes for w in o.delivered) == delivered
    unreached = {w: why for o in outcomes for w, why in o.unreached.items()}
    assert set(unreached) == hard | set(unknown) | {stubborn}
    assert unreached[stubborn][0] == "SoftFailure"
    assert all(unreached[w][0] == "HardFailure" for w in hard | set(unknown))
    assert "not done any work for you" in unreached["AUNKNOWN1"][1]
    assert max(o.attempts for o in outcomes) == 1 + SOFT_RETRIES
    assert sum(name == "NotifyWorkers" and stubborn in p["WorkerIds"] for name, p in calls) == 4
    assert set(pauses) == {1, 2, 3}


async def test_a_failed_resend_reports_the_soft_failures() -> None:
    """If a resend to soft-failed workers fails, notify() still returns: they are reported
    as soft failures with the error added; the first call's failure propagates."""
    answers: list[Mapping[str, Any] | OperationError] = [
        {"NotifyWorkersFailureStatuses": [
            {"WorkerId": "A2", "NotifyWorkersFailureCode": "SoftFailure",
             "NotifyWorkersFailureMessage": "Temporary delivery failure."}]},
        PermanentError("There was an error with this request.", code="RequestError"),
    ]  # fmt: skip

    async def request(op: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        answer = answers.pop(0)
        if isinstance(answer, OperationError):
            raise answer
        return answer

    chunk = next(expand_static(one({"op": "NotifyWorkers", "Subject": "s", "MessageText": "m",
                                    "WorkerIds": ["A1", "A2"]})))  # fmt: skip
    outcome = await notify(chunk, request)
    assert outcome.delivered == ("A1",) and outcome.attempts == 2
    assert outcome.soft["A2"].startswith("Temporary delivery failure. (resend failed: RequestError")
    answers.append(PermanentError("boom", code="RequestError"))
    with pytest.raises(PermanentError):
        await notify(chunk, request)
