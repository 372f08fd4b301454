"""
``turkbatch verify JOB``: check, from MTurk's own records, that a job took effect.

Read-only: the job is read and expanded as ``run`` reads it, and every check is a
``Get``/``List`` call (exactly the ones ``turkbatch policy JOB --verify`` allows) through
the run's retry layer and rate limiter (:class:`turkbatch.caller.Caller`). The journal is
not needed, so a payout made by any tool can be verified; when there is one it supplies
the NotifyWorkers outcomes (MTurk keeps no record of messages) and the repay command.

=====================================  ==============================================
lines                                  checked against
=====================================  ==============================================
SendBonus                              ListBonusPayments, counted (:mod:`turkbatch.payouts`)
Approve/RejectAssignment               the assignment's status (GetAssignment, or
                                       ListAssignmentsForHIT for a HIT's)
Associate/DisassociateQualification…   the worker holds it, with the value asked, or not
                                       (ListWorkersWithQualificationType or
                                       GetQualificationScore, whichever takes fewer calls)
Accept/RejectQualificationRequest      the request is no longer pending
                                       (ListQualificationRequests)
Create/DeleteWorkerBlock               the block is there, or not (ListWorkerBlocks)
NotifyWorkers                          the journal (delivered, SoftFailure, HardFailure)
anything else                          not checkable
=====================================  ==============================================

The command and its output are :mod:`turkbatch.verify_cli`.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import anyio
import structlog

from turkbatch import engine, expand, jobs, money, report
from turkbatch.backoff import DEFAULT_MAX_ATTEMPTS, Backoff
from turkbatch.bulk import Bulk, as_epoch
from turkbatch.caller import Caller
from turkbatch.client import ClientSettings, MTurkClient
from turkbatch.errors import OperationError, PermanentError, TransientError, UsageError
from turkbatch.journal import Journal, JournalState
from turkbatch.payouts import Assignments, Payment, learn_hits, pages, tally
from turkbatch.summary import Snapshot, Summary

__all__ = ["PROBLEMS", "Check", "Identity", "Settings", "Status", "Verification", "verify"]

log = structlog.get_logger()

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
#: MTurk messages meaning "the worker does not hold this qualification".
_NOT_HELD: Final = ("Qualification that does not exist", "can be called with a status of")
#: Error codes of a request MTurk understood and refused for its item (an unknown id).
_ITEM_ERRORS: Final = frozenset({"RequestError", "ParameterValidationError"})
_WANTED_STATUS: Final = {"ApproveAssignment": "Approved", "RejectAssignment": "Rejected"}
_QUALS: Final = ("AssociateQualificationWithWorker", "DisassociateQualificationFromWorker")
_REQUESTS: Final = ("AcceptQualificationRequest", "RejectQualificationRequest")
_BLOCKS: Final = ("CreateWorkerBlock", "DeleteWorkerBlock")


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """
    How to reach MTurk and how hard to press it.

    Attributes:
        client: where and how to reach MTurk.
        rate: ceiling in requests per second (the run's limiter, adaptive).
        concurrency: calls in flight at once.
        journal: the job's journal; default ``<job>.journal.jsonl`` when it exists.
        backoff: the retry delay policy; ``max_attempts`` per call for transient errors.
        progress: called with a :class:`~turkbatch.summary.Snapshot` every
            ``progress_interval`` seconds.
    """

    client: ClientSettings = field(default_factory=ClientSettings)
    rate: float = engine.DEFAULT_RATE
    concurrency: int = engine.DEFAULT_CONCURRENCY
    journal: Path | None = None
    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    progress: Callable[[Snapshot], None] | None = None
    progress_interval: float = 0.2


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


async def verify(
    job: str | Path, settings: Settings | None = None, *, sim: bool = False
) -> Verification:
    """
    Check a job's effects against MTurk, sending only read calls.

    Args:
        job: the JSONL job file.
        settings: where MTurk is, pace, journal, progress.
        sim: check against a fresh embedded simulator (an empty world: for trying it).

    Raises:
        JobError: the job is invalid.
        UsageError: bad settings, no such journal, or MTurk cannot be read.
        JournalError: the journal is damaged.
    """
    settings = settings or Settings()
    if settings.concurrency < 1 or settings.rate <= 0:
        raise UsageError("--concurrency must be at least 1 and --rate above 0")
    if settings.journal is not None and not settings.journal.is_file():
        raise UsageError(f"{settings.journal}: no such journal")
    jobs.check_job(job)
    ops = [op for op in jobs.read_job(job, checked=True) if isinstance(op, jobs.Operation)]
    path = settings.journal or engine.journal_path_for(job)
    state = Journal.read(path) if path.is_file() else None
    result = Verification(job=str(job), journal=str(path) if state is not None else None)
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        client_settings = replace(settings.client, max_pool_connections=settings.concurrency)
        if sim:
            from turkbatch.sim import Simulator

            server = await stack.enter_async_context(Simulator())
            key, secret = engine.SIM_CREDENTIALS
            client_settings = replace(
                client_settings,
                endpoint_url=server.endpoint_url,
                access_key=key,
                secret_key=secret,
            )
        client = await stack.enter_async_context(MTurkClient(client_settings))
        await client.check_credentials()
        result.endpoint = client_settings.url
        checker = _Checker(client, settings, result, len(ops))
        try:
            async with anyio.create_task_group() as tg:
                if settings.progress is not None:
                    tg.start_soon(checker.report_progress, started)
                await checker.check(ops, state, path)
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            raise _first(group) from None
    result.elapsed = time.monotonic() - started
    log.info("verify.finished", calls=sum(result.calls.values()), exit_code=result.exit_code)
    return result


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Return the first error a task group gathered (a UsageError stops everything)."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


class _Checker:
    """One verification's calls and verdicts."""

    def __init__(
        self, client: MTurkClient, settings: Settings, result: Verification, total: int
    ) -> None:
        self.summary = Summary()
        self.caller = Caller(
            client,
            self.summary,
            rate=settings.rate,
            backoff=settings.backoff,
            max_attempts=settings.max_attempts,
        )
        self.settings, self.result, self.total = settings, result, total
        self.limit = anyio.CapacityLimiter(settings.concurrency)
        self.directory = Assignments(self.request)
        self.finished = 0
        self.found = money.ZERO
        self.fees = money.ZERO

    async def request(self, op: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """
        Make one read call through the retry layer, counted.

        Raises:
            PermanentError: MTurk refused this item (an unknown id).
            UsageError: MTurk cannot be read at all (unreachable, credentials refused).
        """
        self.result.calls[op] += 1
        try:
            async with self.limit:
                return await self.caller.body(op, params)
        except PermanentError as exc:
            if exc.code in _ITEM_ERRORS:
                raise
            raise UsageError(f"cannot verify: MTurk refused {op}: {exc.code}: {exc}") from exc
        except (TransientError, OperationError) as exc:
            raise UsageError(
                f"cannot verify: {op} failed after retries ({exc.code}: {exc}); "
                f"is {self.result.endpoint} reachable?"
            ) from exc

    def add(self, check: Check, *, settles: int = 0) -> None:
        """Record a verdict; count ``settles`` job lines as checked."""
        self.result.checks.append(check)
        self.finished += settles

    async def report_progress(self, started: float) -> None:
        """Hand the progress callback a snapshot every interval until cancelled."""
        show = self.settings.progress
        assert show is not None
        while True:
            await anyio.sleep(self.settings.progress_interval)
            show(
                Snapshot(
                    total=self.total,
                    done=min(self.finished, self.total),
                    failed=0,
                    skipped=0,
                    pending=0,
                    in_flight=int(self.limit.borrowed_tokens),
                    requests=self.summary.requests,
                    retries=self.summary.retries,
                    throttles=self.caller.limiter.throttles,
                    rate_ceiling=self.caller.limiter.rate,
                    bonus_paid=self.found,
                    fees_paid=self.fees,
                    elapsed=time.monotonic() - started,
                )
            )

    async def check(
        self, ops: list[jobs.Operation], state: JournalState | None, path: Path
    ) -> None:
        """Check every operation; verdicts go to the result, sorted into job order."""
        by_kind: defaultdict[str, list[jobs.Operation]] = defaultdict(list)
        for op in ops:
            by_kind[_kind(op.op)].append(op)
        hits = [str(op.params["HITId"]) for op in by_kind["reviews"] if op.bulk is Bulk.ASSIGNMENTS]
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._bonuses, by_kind["bonuses"], hits, state)
            tg.start_soon(self._quals, by_kind["quals"])
            tg.start_soon(self._requests, by_kind["requests"])
            tg.start_soon(self._blocks, by_kind["blocks"])
        # Reviews last: the bonus plan's listings have told most assignments' statuses.
        await self._reviews(by_kind["reviews"])
        self._notify(by_kind["notify"], state, path)
        for op in by_kind["other"]:
            self.add(
                Check(
                    op=op.op,
                    status=Status.NOT_CHECKABLE,
                    line=op.line,
                    key=op.key,
                    detail="MTurk keeps nothing verify can check this against",
                    source="",
                ),
                settles=1,
            )
        self.result.other_lines = len(ops) - len(by_kind["bonuses"])
        self.result.checks.sort(key=lambda c: c.line or 0)  # stable: job order

    async def _bonuses(
        self, ops: list[jobs.Operation], hits: list[str], state: JournalState | None
    ) -> None:
        if not ops:
            return

        def progress(lines: int, payments: list[Mapping[str, Any]]) -> None:
            self.finished += lines
            for payment in payments:
                amount = money.parse(payment.get("BonusAmount", "0"))
                self.found += amount
                self.fees += money.bonus_fee(amount)

        result = await tally(
            ops,
            self.request,
            self.directory,
            hits=hits,
            concurrency=self.settings.concurrency,
            progress=progress,
        )
        rows = [(Status.EXACT, p) for p in result.exact] + [
            (Status.MISSING, p) for p in result.missing
        ]
        rows += [(Status.EXTRA, p) for p in result.extra]
        rows += [(Status.UNEXPECTED, p) for p in result.unexpected]
        last = {str(op.params["AssignmentId"]): op.line for op in ops}
        for status, payment in rows:
            worker, assignment, amount, reason = payment.identity
            detail = result.errors.get(assignment, "")
            if status in (Status.EXTRA, Status.UNEXPECTED):
                detail = f"granted {payment.grant_time}" if payment.grant_time else ""
            self.result.checks.append(
                Check(
                    op="SendBonus",
                    status=status,
                    line=payment.line or last.get(assignment),
                    key=payment.key,
                    worker_id=worker,
                    assignment_id=assignment,
                    hit_id=result.hit_of.get(assignment, ""),
                    amount=f"{amount:.2f}",
                    reason=reason,
                    detail=detail,
                )
            )
        for op in ops:
            identity = _identity(op)
            self.result.asked[identity] += 1
            if state is not None and op.key in state.done:
                self.result.journal_done[identity] += 1
            elif state is not None and op.key in state.failed:
                self.result.journal_failed[identity] += 1
        log.info("verify.bonuses", by_hit=result.by_hit, by_assignment=result.by_assignment)

    async def _reviews(self, ops: list[jobs.Operation]) -> None:
        by_id = [str(op.params["AssignmentId"]) for op in ops if op.bulk is None]
        hits = [str(op.params["HITId"]) for op in ops if op.bulk is Bulk.ASSIGNMENTS]
        await learn_hits(by_id, self.directory, hits, self.settings.concurrency)
        async with anyio.create_task_group() as tg:
            for op in ops:
                tg.start_soon(self._review, op)

    async def _review(self, op: jobs.Operation) -> None:
        wanted = _WANTED_STATUS[op.op]
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
                replace(base, status=Status.ERROR, hit_id=hit_id, detail=exc.message), settles=1
            )
            return
        scope = {"Submitted"}
        if op.op == "ApproveAssignment" and op.params.get("OverrideRejection") is True:
            scope.add("Rejected")
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

    async def _quals(self, ops: list[jobs.Operation]) -> None:
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
                why = dict.fromkeys(workers, exc.message)
                listing_ok = True
        if not listing_ok:
            for worker in sorted(unfound):
                try:
                    body = await self.request(
                        "GetQualificationScore",
                        {"QualificationTypeId": type_id, "WorkerId": worker},
                    )
                except PermanentError as exc:
                    if not any(s in exc.message for s in _NOT_HELD):
                        why[worker] = exc.message
                    continue
                qual = body.get("Qualification") or {}
                if qual.get("Status", "Granted") == "Granted":
                    held[worker] = qual
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
            elif call.op == "DisassociateQualificationFromWorker":
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

    async def _requests(self, ops: list[jobs.Operation]) -> None:
        if not ops:
            return
        by_id = any(op.bulk is not Bulk.REQUESTS for op in ops)
        types = (
            [None]
            if by_id
            else list(dict.fromkeys(str(o.params["QualificationTypeId"]) for o in ops))
        )
        pending: dict[str, Mapping[str, Any]] = {}
        for type_id in types:
            params = {} if type_id is None else {"QualificationTypeId": type_id}
            for item in await pages(
                self.request, "ListQualificationRequests", params, "QualificationRequests"
            ):
                pending[str(item.get("QualificationRequestId"))] = item
        for op in ops:
            self._request_line(op, pending)

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

    async def _blocks(self, ops: list[jobs.Operation]) -> None:
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
                ok = (worker in blocked) == (call.op == "CreateWorkerBlock")
                self.add(
                    Check(
                        op=call.op,
                        line=call.line,
                        key=call.key,
                        worker_id=worker,
                        status=Status.EXACT if ok else Status.MISSING,
                        detail=""
                        if ok
                        else ("not blocked" if call.op == "CreateWorkerBlock" else "still blocked"),
                    )
                )

    def _notify(self, ops: list[jobs.Operation], state: JournalState | None, path: Path) -> None:
        """NotifyWorkers: per worker, what the journal says (MTurk keeps no record)."""
        if not ops:
            return
        results: dict[str, Mapping[str, Any]] = {}
        if state is not None:
            for _, rec in report.records(str(path)):
                if rec.get("t") == "done" and rec.get("op") == "NotifyWorkers":
                    results.setdefault(str(rec.get("k")), rec.get("res") or {})
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
    if key in results:
        res = results[key]
        failures = {str(f.get("WorkerId")): f for f in res.get("NotifyWorkersFailureStatuses", ())}
        failure = failures.get(worker)
        if failure is None:
            return {"status": Status.DELIVERED}
        code = str(failure.get("NotifyWorkersFailureCode", ""))
        status = Status.SOFT_FAILURE if code == "SoftFailure" else Status.HARD_FAILURE
        return {"status": status, "detail": str(failure.get("NotifyWorkersFailureMessage", ""))}
    if key in state.failed:
        err = state.failed[key].get("err") or {}
        return {"status": Status.FAILED, "detail": f"{err.get('code')}: {err.get('message')}"}
    if key in state.in_doubt:
        return {"status": Status.IN_DOUBT, "detail": "sent; no answer recorded"}
    return {"status": Status.NOT_SENT}


def _identity(item: jobs.Operation | Payment) -> Identity:
    """A payment's identity with the amount as two-decimal text (JSON-ready)."""
    if isinstance(item, Payment):
        worker, assignment, amount, reason = item.identity
    else:
        p = item.params
        worker, assignment, reason = (
            str(p["WorkerId"]),
            str(p["AssignmentId"]),
            str(p.get("Reason", "")),
        )
        amount = money.parse(p["BonusAmount"])
    return worker, assignment, f"{amount:.2f}", reason


def _kind(op: str) -> str:
    """Which checker takes an operation."""
    if op == "SendBonus":
        return "bonuses"
    if op in _WANTED_STATUS:
        return "reviews"
    if op in _QUALS:
        return "quals"
    if op in _REQUESTS:
        return "requests"
    if op in _BLOCKS:
        return "blocks"
    return "notify" if op == "NotifyWorkers" else "other"


def _passes(op: jobs.Operation, item: Mapping[str, Any]) -> bool:
    """Whether a listed item passes a bulk line's filters (as ``run`` applies them)."""
    filters = op.filters or {}
    worker = item.get("WorkerId")
    if "workers" in filters and worker not in filters["workers"]:
        return False
    if worker in filters.get("except_workers", ()):
        return False
    after, before = filters.get("submitted_after"), filters.get("submitted_before")
    if after is None and before is None:
        return True
    submitted = as_epoch(item.get("SubmitTime"))
    if submitted is None:
        return False
    return (after is None or submitted >= after) and (before is None or submitted < before)
