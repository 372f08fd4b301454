"""
Whether a job's reviews, qualifications, requests and blocks stand as it asks, from
MTurk's records; and what the journal says of its messages (MTurk keeps none).

=====================================  ==============================================
lines                                  checked against
=====================================  ==============================================
Approve/RejectAssignment               the assignment's status: GetAssignment, a HIT at
                                       a time where that is cheaper
                                       (:func:`turkbatch.payouts.learn_hits`), or
                                       ListAssignmentsForHIT for a line naming a HIT
Associate/DisassociateQualification…   the worker holds it with the value asked, or not:
                                       one ListWorkersWithQualificationType listing per
                                       type while it costs fewer pages than workers
                                       left, else GetQualificationScore per worker
Accept/RejectQualificationRequest      the request is no longer pending: one
                                       ListQualificationRequests listing
Create/DeleteWorkerBlock               the block is there, or not: one ListWorkerBlocks
NotifyWorkers                          the journal: delivered, SoftFailure, HardFailure,
                                       failed, in doubt or not sent, per worker
=====================================  ==============================================

A line naming a HIT or a qualification type is checked as ``run`` expands it: every
assignment (request) of it that passes the line's filters and that the line would act
on; one still Submitted (pending) is missing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import anyio

from turkbatch import expand, jobs
from turkbatch.bulk import Bulk
from turkbatch.catalog import BULK_FORMS, DONE_STATES, PROOFS, TRAITS, Proof
from turkbatch.errors import PermanentError
from turkbatch.journal import JournalState
from turkbatch.journal.records import Kind, entries
from turkbatch.payouts import Assignments, Request, learn_hits, message, pages
from turkbatch.verdict import Check, Status

__all__ = ["BLOCKS", "QUALIFICATIONS", "REQUESTS", "REVIEWS", "States"]

#: The operations each check takes (the catalog's proofs), and the status each review wants.
REVIEWS: Final = {op: DONE_STATES[op] for op, proof in PROOFS.items() if proof is Proof.REVIEW}
QUALIFICATIONS: Final = tuple(op for op, proof in PROOFS.items() if proof is Proof.QUALIFICATION)
REQUESTS: Final = tuple(op for op, proof in PROOFS.items() if proof is Proof.REQUEST)
BLOCKS: Final = tuple(op for op, proof in PROOFS.items() if proof is Proof.BLOCK)
#: Operations whose outcomes only the journal records (messages).
_MESSAGES: Final = frozenset(op for op, proof in PROOFS.items() if proof is Proof.MESSAGE)
#: MTurk messages meaning "the worker does not hold this qualification".
_NOT_HELD: Final = ("Qualification that does not exist", "can be called with a status of")


class States:
    """
    The checks of one verification besides payments; verdicts collect in :attr:`checks`.

    Args:
        request: the retrying, counted read call.
        directory: what is known of assignments (shared with the payout check).
        concurrency: checks in flight at once.

    Attributes:
        checks: the verdicts, in the order they were reached.
        finished: job lines checked so far (for progress).
    """

    def __init__(self, request: Request, directory: Assignments, concurrency: int) -> None:
        self.request, self.directory, self.concurrency = request, directory, concurrency
        self.checks: list[Check] = []
        self.finished = 0

    def add(self, check: Check, *, settles: int = 0) -> None:
        """Record a verdict; count ``settles`` job lines as checked."""
        self.checks.append(check)
        self.finished += settles

    async def reviews(self, ops: list[jobs.Operation]) -> None:
        """Check Approve/RejectAssignment lines (after the payout check, which maps HITs)."""
        by_id = [str(op.params["AssignmentId"]) for op in ops if op.bulk is None]
        hits = [str(op.params["HITId"]) for op in ops if op.bulk is Bulk.ASSIGNMENTS]
        await learn_hits(by_id, self.directory, hits, self.concurrency)
        async with anyio.create_task_group() as tg:
            for op in ops:
                tg.start_soon(self._review, op)

    async def _review(self, op: jobs.Operation) -> None:
        wanted = REVIEWS[op.op]
        base = Check(op=op.op, status=Status.EXACT, line=op.line, key=op.key)
        if op.bulk is not Bulk.ASSIGNMENTS:
            assignment_id = str(op.params["AssignmentId"])
            record = await self.directory.get(assignment_id)
            status = (record or {}).get("AssignmentStatus")
            why = self.directory.missing.get(assignment_id, f"the assignment is {status}")
            self.add(
                replace(
                    base,
                    status=Status.EXACT if status == wanted else Status.MISSING,
                    assignment_id=assignment_id,
                    worker_id=str((record or {}).get("WorkerId", "")),
                    hit_id=str((record or {}).get("HITId", "")),
                    detail="" if status == wanted else why,
                ),
                settles=1,
            )
            return
        hit_id = str(op.params["HITId"])
        try:
            found = await self.directory.of_hit(hit_id)
        except PermanentError as exc:
            self.add(
                replace(base, status=Status.ERROR, hit_id=hit_id, detail=message(exc)), settles=1
            )
            return
        scope = set(BULK_FORMS[op.op].statuses(op.params))
        matched = 0
        for item in found:
            status = item.get("AssignmentStatus")
            if not _passes(op, item) or (status != wanted and status not in scope):
                continue
            matched += 1
            self.add(
                replace(
                    base,
                    key=f"{op.key}/{item.get('AssignmentId')}",
                    status=Status.EXACT if status == wanted else Status.MISSING,
                    assignment_id=str(item.get("AssignmentId", "")),
                    worker_id=str(item.get("WorkerId", "")),
                    hit_id=hit_id,
                    detail="" if status == wanted else f"the assignment is {status}",
                )
            )
        if not matched:
            self.add(replace(base, hit_id=hit_id, detail="no assignment of the HIT to review"))
        self.finished += 1

    async def qualifications(self, ops: list[jobs.Operation]) -> None:
        """Check Associate/DisassociateQualification lines, a type at a time."""
        calls: defaultdict[str, list[jobs.Operation]] = defaultdict(list)
        for op in ops:
            for call in expand.expand_static(op) if op.bulk is Bulk.WORKERS else (op,):
                calls[str(call.params["QualificationTypeId"])].append(call)
        async with anyio.create_task_group() as tg:
            for type_id, type_calls in calls.items():
                tg.start_soon(self._qual_type, type_id, type_calls)
        self.finished += len(ops)

    async def _qual_type(self, type_id: str, calls: list[jobs.Operation]) -> None:
        """Check one type's grants and revokes: one listing, or one lookup per worker."""
        workers = list(dict.fromkeys(str(c.params["WorkerId"]) for c in calls))
        held: dict[str, Mapping[str, Any]] = {}
        why: dict[str, str] = {}
        unfound = set(workers)
        listing_ok = False
        if len(workers) > 2:
            params: dict[str, Any] = {
                "QualificationTypeId": type_id,
                "Status": "Granted",
                "MaxResults": 100,
            }
            spent = 0
            try:
                while unfound:
                    body = await self.request("ListWorkersWithQualificationType", params)
                    spent += 1
                    page = body.get("Qualifications") or []
                    for qual in page:
                        if (
                            qual.get("WorkerId") in unfound
                            and qual.get("Status", "Granted") == "Granted"
                        ):
                            held[str(qual["WorkerId"])] = qual
                            unfound.discard(str(qual["WorkerId"]))
                    token = body.get("NextToken")
                    if not page or not token:
                        listing_ok = True
                        break
                    if spent >= len(unfound):  # asking the rest one by one is cheaper now
                        break
                    params = {**params, "NextToken": token}
                listing_ok = listing_ok or not unfound
            except PermanentError as exc:
                why = dict.fromkeys(workers, message(exc))
                listing_ok = True
        if not listing_ok:

            async def score(worker: str) -> None:
                try:
                    body = await self.request(
                        "GetQualificationScore",
                        {"QualificationTypeId": type_id, "WorkerId": worker},
                    )
                except PermanentError as exc:
                    if not any(s in message(exc) for s in _NOT_HELD):
                        why[worker] = message(exc)
                    return
                qual = body.get("Qualification") or {}
                if qual.get("Status", "Granted") == "Granted":
                    held[worker] = qual

            async with anyio.create_task_group() as tg:
                for worker in sorted(unfound):
                    tg.start_soon(score, worker)
        for call in calls:
            worker = str(call.params["WorkerId"])
            qual = held.get(worker)
            base = Check(
                op=call.op,
                status=Status.EXACT,
                line=call.line,
                key=call.key,
                worker_id=worker,
                qualification_type_id=type_id,
            )
            if worker in why:
                self.add(replace(base, status=Status.ERROR, detail=why[worker]))
            elif TRAITS[call.op].removes:
                self.add(
                    base
                    if qual is None
                    else replace(base, status=Status.MISSING, detail="the worker still holds it")
                )
            elif qual is None:
                self.add(replace(base, status=Status.MISSING, detail="the worker does not hold it"))
            elif (
                "IntegerValue" in call.params
                and qual.get("IntegerValue") != call.params["IntegerValue"]
            ):
                self.add(
                    replace(
                        base,
                        status=Status.MISSING,
                        detail=f"held with value {qual.get('IntegerValue')}, "
                        f"not {call.params['IntegerValue']}",
                    )
                )
            else:
                self.add(base)

    async def requests(self, ops: list[jobs.Operation]) -> None:
        """Check Accept/RejectQualificationRequest lines: one listing of pending requests."""
        if not ops:
            return
        by_id = any(op.bulk is not Bulk.REQUESTS for op in ops)
        types = (
            [None]
            if by_id
            else list(dict.fromkeys(str(o.params["QualificationTypeId"]) for o in ops))
        )
        pending: dict[str, Mapping[str, Any]] = {}
        refused: dict[str, str] = {}  # QualificationTypeId → MTurk's error
        for type_id in types:
            params = {} if type_id is None else {"QualificationTypeId": type_id}
            try:
                found = await pages(
                    self.request, "ListQualificationRequests", params, "QualificationRequests"
                )
            except PermanentError as exc:
                refused[str(type_id)] = message(exc)
                continue
            pending.update((str(item.get("QualificationRequestId")), item) for item in found)
        for op in ops:
            why = refused.get(str(op.params.get("QualificationTypeId")))
            if why is None:
                self._request_line(op, pending)
            else:
                self.add(
                    Check(op=op.op, status=Status.ERROR, line=op.line, key=op.key, detail=why),
                    settles=1,
                )

    def _request_line(self, op: jobs.Operation, pending: Mapping[str, Mapping[str, Any]]) -> None:
        base = Check(op=op.op, status=Status.EXACT, line=op.line, key=op.key)
        self.finished += 1
        if op.bulk is not Bulk.REQUESTS:
            ident = str(op.params["QualificationRequestId"])
            still = ident in pending
            self.add(
                replace(
                    base,
                    qualification_request_id=ident,
                    worker_id=str(pending.get(ident, {}).get("WorkerId", "")),
                    status=Status.MISSING if still else Status.EXACT,
                    detail="still pending" if still else "no longer pending",
                )
            )
            return
        type_id = str(op.params["QualificationTypeId"])
        left = [
            r
            for r in pending.values()
            if r.get("QualificationTypeId") == type_id and _passes(op, r)
        ]
        for item in left:
            self.add(
                replace(
                    base,
                    status=Status.MISSING,
                    qualification_type_id=type_id,
                    key=f"{op.key}/{item.get('QualificationRequestId')}",
                    qualification_request_id=str(item.get("QualificationRequestId")),
                    worker_id=str(item.get("WorkerId", "")),
                    detail="still pending",
                )
            )
        if not left:
            self.add(
                replace(
                    base, qualification_type_id=type_id, detail="no request of the type is pending"
                )
            )

    async def blocks(self, ops: list[jobs.Operation]) -> None:
        """Check Create/DeleteWorkerBlock lines: one listing of blocks."""
        if not ops:
            return
        blocked = {
            str(b.get("WorkerId"))
            for b in await pages(self.request, "ListWorkerBlocks", {}, "WorkerBlocks")
        }
        for op in ops:
            self.finished += 1
            for call in expand.expand_static(op) if op.bulk is Bulk.WORKERS else (op,):
                worker = str(call.params["WorkerId"])
                blocks = not TRAITS[call.op].removes
                ok = (worker in blocked) == blocks
                self.add(
                    Check(
                        op=call.op,
                        line=call.line,
                        key=call.key,
                        worker_id=worker,
                        status=Status.EXACT if ok else Status.MISSING,
                        detail="" if ok else ("not blocked" if blocks else "still blocked"),
                    )
                )

    def messages(self, ops: list[jobs.Operation], state: JournalState | None, path: Path) -> None:
        """NotifyWorkers: per worker, what the journal says (MTurk keeps no record)."""
        if not ops:
            return
        results: dict[str, Mapping[str, Any]] = {}
        if state is not None:
            for _, entry in entries(str(path), containing=None):
                if entry.kind is Kind.DONE and entry.op in _MESSAGES:
                    results.setdefault(entry.key, entry.result or {})
        for op in ops:
            self.finished += 1
            for chunk in expand.expand_static(op):
                base = Check(
                    op=op.op, status=Status.NOT_SENT, line=op.line, key=chunk.key, source="journal"
                )
                for worker in chunk.params["WorkerIds"]:
                    self.add(
                        replace(base, worker_id=worker, **_fate(chunk.key, worker, state, results))
                    )


def _fate(
    key: str, worker: str, state: JournalState | None, results: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Return the status and detail the journal gives one worker of one NotifyWorkers call."""
    if state is None:
        return {
            "status": Status.NOT_CHECKABLE,
            "source": "",
            "detail": "MTurk keeps no record of messages, and there is no journal",
        }
    if key in results or key in state.done:
        res = results.get(key, {})
        failures = {str(f.get("WorkerId")): f for f in res.get("NotifyWorkersFailureStatuses", ())}
        failure = failures.get(worker)
        if failure is None:
            return {"status": Status.DELIVERED}
        code = str(failure.get("NotifyWorkersFailureCode", ""))
        status = Status.SOFT_FAILURE if code == "SoftFailure" else Status.HARD_FAILURE
        return {"status": status, "detail": str(failure.get("NotifyWorkersFailureMessage", ""))}
    if key in state.failed:
        err = state.failed[key].error
        return {"status": Status.FAILED, "detail": f"{err.get('code')}: {err.get('message')}"}
    if key in state.in_doubt:
        return {"status": Status.IN_DOUBT, "detail": "sent; no answer recorded"}
    return {"status": Status.NOT_SENT}


def _passes(op: jobs.Operation, item: Mapping[str, Any]) -> bool:
    """Whether a listed item passes a bulk line's filters (as ``run`` applies them)."""
    return expand.filters_test(op)(item)
