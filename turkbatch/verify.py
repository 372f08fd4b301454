"""
``turkbatch verify JOB``: check, from MTurk's own records, that a job took effect.

Read-only: the job is read and expanded as ``run`` reads it, and every check is a
``Get``/``List`` call (exactly the ones ``turkbatch policy JOB --verify`` allows,
:data:`turkbatch.policy.VERIFY_READS`) through the run's retry layer and adaptive rate
limiter (:class:`turkbatch.caller.Caller`), at most ``concurrency`` at a time. The journal
is not needed, so a payout made by any tool can be verified; when there is one it gives
the NotifyWorkers outcomes (MTurk keeps no record of messages) and the repay command.

Payouts are checked by :mod:`turkbatch.payouts`, everything else that MTurk records by
:mod:`turkbatch.states`; operations with nothing to check against are *not checkable*,
never verified. What is found is :mod:`turkbatch.verdict`; the command and its output are
:mod:`turkbatch.cli.verify`. A call MTurk refuses for its item (an unknown id) is a
verdict; one that cannot be made at all (unreachable, credentials refused) stops verify
with :class:`~turkbatch.errors.UsageError`.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import anyio
import structlog

from turkbatch import engine, hitbonus, jobs, money
from turkbatch import settings as defaults
from turkbatch.backoff import DEFAULT_MAX_ATTEMPTS, Backoff
from turkbatch.bulk import Bulk
from turkbatch.caller import Caller
from turkbatch.catalog import PROOFS, Proof
from turkbatch.client import ClientSettings, MTurkClient
from turkbatch.errors import EndpointMismatch, OperationError, PermanentError, UsageError
from turkbatch.journal import (
    Journal,
    JournalState,
    check_endpoint,
    endpoint_id,
    recorded_endpoint,
)
from turkbatch.ledger import PAYMENT_OP, payment_id
from turkbatch.payouts import Assignments, identity_of, tally
from turkbatch.states import States
from turkbatch.summary import Snapshot, Summary
from turkbatch.verdict import Check, Status, Verification

__all__ = ["Settings", "verify"]

log = structlog.get_logger()

#: Error codes of a request MTurk understood and refused for its item (an unknown id).
_ITEM_ERRORS: Final = frozenset({"RequestError", "ParameterValidationError"})


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
    rate: float = defaults.DEFAULT_RATE
    concurrency: int = defaults.DEFAULT_CONCURRENCY
    journal: Path | None = None
    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    progress: Callable[[Snapshot], None] | None = None
    progress_interval: float = 0.2


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
    path = settings.journal or engine.journal_path_for(job, sim=sim)
    state = Journal.read(path) if path.is_file() else None
    result = Verification(job=str(job), journal=str(path) if state is not None else None)
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        client_settings = replace(settings.client, max_pool_connections=settings.concurrency)
        if sim:
            from turkbatch.sim import Simulator

            server = await stack.enter_async_context(Simulator())
            key, secret = defaults.SIM_CREDENTIALS
            client_settings = replace(
                client_settings,
                endpoint_url=server.endpoint_url,
                access_key=key,
                secret_key=secret,
            )
        client = await stack.enter_async_context(MTurkClient(client_settings))
        await client.check_credentials()
        result.endpoint = client_settings.url
        if state is not None and not _describes(state, path, client_settings.url, sim, result):
            state = None
        checker = _Checker(client, settings, result, len(ops))
        if any(op.bulk is Bulk.BONUSES for op in ops):  # the payments a run would make now
            listing = await hitbonus.list_bonuses(ops, checker.request, ops)
            ops = [op for op in hitbonus.expanded(ops, listing) if isinstance(op, jobs.Operation)]
            checker.total = len(ops)
        try:
            async with anyio.create_task_group() as tg:
                if settings.progress is not None:
                    tg.start_soon(checker.report_progress, started)
                await checker.check(ops, state, path)
                tg.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            error = _first(group)
            if isinstance(error, OperationError):  # none should get here; never a traceback
                raise UsageError(f"cannot verify: {error.code}: {error.message}") from error
            raise error from None
    result.elapsed = time.monotonic() - started
    log.info("verify.finished", calls=sum(result.calls.values()), exit_code=result.exit_code)
    return result


def _describes(state: JournalState, path: Path, url: str, sim: bool, result: Verification) -> bool:
    """Whether the journal describes runs against ``url``; if not, say so and leave it."""
    try:
        check_endpoint(str(path), state, defaults.SIM_ENDPOINT if sim else endpoint_id(url))
    except EndpointMismatch:
        recorded = recorded_endpoint(state)
        result.notes.append(
            f"the journal {path} describes runs against {recorded}, not this endpoint: "
            "not used (no NotifyWorkers outcomes from it)"
        )
        result.journal, result.unused_journal = None, str(path)
        return False
    return True


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
        self.states = States(self.request, self.directory, settings.concurrency)
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
        except OperationError as exc:  # transient, retried until attempts ran out
            raise UsageError(
                f"cannot verify: {op} failed after retries ({exc.code}: {exc}); "
                f"is {self.result.endpoint} reachable?"
            ) from exc

    async def report_progress(self, started: float) -> None:
        """Hand the progress callback a snapshot every interval until cancelled."""
        show = self.settings.progress
        assert show is not None
        while True:
            await anyio.sleep(self.settings.progress_interval)
            show(
                Snapshot(
                    total=self.total,
                    done=min(self.finished + self.states.finished, self.total),
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
        """Check every operation; verdicts go to the result, in job order."""
        by_kind: defaultdict[str, list[jobs.Operation]] = defaultdict(list)
        for op in ops:
            by_kind[_kind(op.op)].append(op)
        reviews = by_kind["reviews"]
        hits = [str(op.params["HITId"]) for op in reviews if op.bulk is Bulk.ASSIGNMENTS]
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._bonuses, by_kind["bonuses"], hits, state)
            tg.start_soon(self.states.qualifications, by_kind["quals"])
            tg.start_soon(self.states.requests, by_kind["requests"])
            tg.start_soon(self.states.blocks, by_kind["blocks"])
        # Reviews last: the payout check's listings have told most assignments' statuses.
        await self.states.reviews(reviews)
        self.states.messages(by_kind["notify"], state, path)
        for op in by_kind["other"]:
            self.states.add(
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
        self.result.checks += self.states.checks
        hit_of = self.directory.hit_of  # the reviews may have learnt more HITs since
        self.result.checks = [
            replace(c, hit_id=hit_of[c.assignment_id])
            if not c.hit_id and c.assignment_id in hit_of
            else c
            for c in self.result.checks
        ]
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
                    op=PAYMENT_OP,
                    status=status,
                    line=payment.line or last.get(assignment),
                    key=payment.key,
                    worker_id=worker,
                    assignment_id=assignment,
                    hit_id=result.hit_of.get(assignment, ""),
                    amount=amount,
                    reason=reason,
                    detail=detail,
                )
            )
        for op in ops:
            asked = identity_of(op.params)
            if asked is not None:
                self.result.asked[asked] += 1
        if state is not None:  # what the journal's ledger holds of each, paid or refused
            for asked in self.result.asked:
                pid = payment_id(*asked)
                self.result.journal_done[asked] = state.ledger.paid(pid)
                self.result.journal_failed[asked] = state.ledger.failed(pid)
        log.info("verify.bonuses", by_hit=result.by_hit, by_assignment=result.by_assignment)


def _kind(op: str) -> str:
    """Which checker takes an operation: its proof in the catalog."""
    return PROOFS.get(op, Proof.NONE).value
