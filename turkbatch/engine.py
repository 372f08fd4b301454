"""
The pipeline: stream a validated job through rate-limited workers, journaling every outcome.

::

    job ─▶ check (whole file) ─▶ guards ─▶ settle in-doubt items ─▶ set bonuses against
        the ledger (conflicts) ─▶ expand bulk lines ─▶ skip what the journal has done
        ─▶ stream ─▶ intent stage ─▶ stream ─▶ N workers
                                                         │                      │
           journal ◀── intents, a batch per fsync ───────┘      outcomes ◀──────┤
                                                                                ▼
             Caller (the one retry layer) ─▶ AdaptiveLimiter ─▶ MTurkClient ─▶ MTurk

The intent stage makes the intents of token calls durable, many per fsync, before the
workers get them: a call never leaves before its intent is on disk, and no worker waits on
the disk. One anyio task group holds the producer, the stage, the workers and
(optionally) the signal watcher and progress reporter. Every call goes through
:class:`turkbatch.caller.Caller`, turkbatch's only retry layer; what to retry is decided
by :func:`turkbatch.client.classify`; in-doubt items are settled by
:func:`turkbatch.reconcile.settle`, the job's bonuses set against the journal's ledger of
payments by :mod:`turkbatch.payments` (a bonus is done when the ledger holds its payment,
however its line is spelt), and bulk lines expanded by :mod:`turkbatch.expand`.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import structlog
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from turkbatch import expand, guards, hitbonus, jobs, money, payments, reconcile
from turkbatch import plan as planning
from turkbatch.caller import Caller
from turkbatch.catalog import MONEY_OPERATIONS
from turkbatch.client import MTurkClient
from turkbatch.errors import (
    AlreadyDone,
    JournalError,
    LookupFailed,
    OperationError,
    PermanentError,
    Refused,
    SettingError,
    TransientError,
    UsageError,
)
from turkbatch.jobs import Bulk
from turkbatch.journal import Journal, JournalState, endpoint_id
from turkbatch.ledger import FIELDS as PAYMENT_FIELDS
from turkbatch.ledger import Decision, Payment, occurrence, pid_of_key
from turkbatch.limits import MIN_RATE
from turkbatch.progress import Lines
from turkbatch.settings import SIM_CREDENTIALS, SIM_ENDPOINT
from turkbatch.settings import Settings as Settings  # (turkbatch.engine.Settings, as ever)
from turkbatch.summary import Outcome, Snapshot, Summary
from turkbatch.wording import counted

log = structlog.get_logger()

JobSource = str | Path | Iterable[Mapping[str, Any]]
Source = Callable[[], Iterator[jobs.Operation | jobs.Barrier]]
"""Streams the job again each time it is called (a job file is read, not held)."""


def journal_path_for(job: str | Path, *, sim: bool = False) -> Path:
    """
    Return the default journal path: ``payouts.jsonl`` → ``payouts.journal.jsonl``, and
    ``payouts.sim.journal.jsonl`` for a trial on the embedded simulator, so that a trial
    never shares a journal with real runs.
    """
    path = Path(job)
    stem = path.stem if path.suffix else path.name
    return path.with_name(f"{stem}.sim.journal.jsonl" if sim else f"{stem}.journal.jsonl")


async def run(job: JobSource, settings: Settings | None = None, *, sim: bool = False) -> Summary:
    """
    Run a job to completion (or interruption) and return its summary.

    Running the same job with the same journal again resumes: what is done is skipped.

    Args:
        job: a JSONL job file path, or an iterable of job records (dicts shaped like job
            lines); an iterable needs ``settings.journal``.
        settings: how to run; defaults to the sandbox with default rate and concurrency.
        sim: start the embedded simulator (permissive world) and run against it.

    Raises:
        JobError: the job is invalid; nothing was sent.
        UsageError: the settings are unusable; nothing was sent.
        Refused: a guard refused (typo guard, spend cap, balance, not confirmed); nothing
            that changes state was sent.
        JournalError: the journal is locked, damaged or cannot be written.
    """
    settings = settings or Settings()
    if settings.concurrency < 1 or not MIN_RATE <= settings.rate < math.inf:
        raise UsageError(f"--concurrency must be at least 1 and --rate at least {MIN_RATE}")
    if isinstance(job, str | Path):
        stats = jobs.check_job(job)
        journal_path = settings.journal or journal_path_for(job, sim=sim)

        def source() -> Iterator[jobs.Operation | jobs.Barrier]:
            return jobs.read_job(job, checked=True)
    else:
        items = list(job)
        stats = jobs.check_items(items)
        if settings.journal is None:
            raise UsageError("a job given as items needs a journal path (Settings.journal)")
        journal_path = settings.journal

        def source() -> Iterator[jobs.Operation | jobs.Barrier]:
            return jobs.iter_items(items)

    name = str(job) if isinstance(job, str | Path) else "<items>"
    by_hit = bool(stats.bulk.get(Bulk.BONUSES))  # the guards need those lines listed first
    preflight = None if by_hit else guards.preflight(name, source, stats, settings, journal_path)
    async with contextlib.AsyncExitStack() as stack:
        settings = await _connect(stack, settings, sim)
        client_settings = replace(settings.client, max_pool_connections=settings.concurrency)
        client = await stack.enter_async_context(MTurkClient(client_settings))
        await client.check_credentials()
        summary = Summary(
            journal=str(journal_path), endpoint=client_settings.url, operations=stats.operations
        )
        if by_hit:
            source = await _list_hit_bonuses(source, _caller(settings, client, summary), summary)
            preflight = guards.preflight(name, source, stats, settings, journal_path)
        if preflight is not None:
            preflight.endpoint = client_settings.url
            await guards.check(preflight, settings, _caller(settings, client, summary).balance)
        journal = await Journal.open(
            journal_path,
            job_digest=stats.digest,
            job_path=str(job) if isinstance(job, str | Path) else None,
            endpoint=SIM_ENDPOINT if sim else endpoint_id(client_settings.url),
            endpoint_moved=settings.endpoint_moved,
        )
        stack.push_async_callback(journal.close)
        previous = journal.state.last_job
        summary.job_changed = previous is not None and previous != stats.digest
        if summary.job_changed:
            log.warning(
                "job.changed",
                previous=previous,
                now=stats.digest,
                note="unchanged lines are skipped, new lines run, removed lines are not run",
            )
        runner = _Run(settings, client, journal, summary)
        log.info(
            "run.started",
            endpoint=client_settings.url,
            journal=str(journal_path),
            operations=stats.operations,
            rate=settings.rate,
            concurrency=settings.concurrency,
        )
        await runner.run(source, stats.digest)
        if summary.interrupted or summary.stopped:
            journal.ending = "interrupted" if summary.interrupted else "stopped"
        t, stopped = summary.totals(), runner.setting_error
        if stopped is not None and not (stopped.maybe_sent or t.done or t.already or t.failed):
            # Nothing was sent: exit 2, and the endpoint this run named binds nothing.
            await journal.note_sent_nothing()
            raise stopped
    t = summary.totals()
    log.info(
        "run.finished",
        done=t.done,
        already=t.already,
        failed=t.failed,
        skipped=t.skipped,
        pending=t.pending,
        interrupted=summary.interrupted,
        elapsed=round(summary.elapsed, 3),
        bonus_paid=str(summary.bonus_paid),
        fees_paid=str(summary.fees_paid),
    )
    return summary


async def plan(
    job: str | Path, settings: Settings | None = None, *, sim: bool = False, offline: bool = False
) -> planning.Plan:
    """
    Work out what running ``job`` would do and cost, sending nothing that changes state.

    The journal is read without locking it (a run may be using it). Unless ``offline``,
    the account's balance is looked up (GetAccountBalance); when that fails, the plan
    says why in ``balance_error``.

    Raises:
        JobError: the job is invalid.
        JournalError: the journal cannot be read or is damaged.
    """
    settings = settings or Settings()
    stats = jobs.check_job(job)
    journal_path = settings.journal or journal_path_for(job, sim=sim)
    state = Journal.read(journal_path, detail=True) if journal_path.exists() else None

    def source() -> Iterator[jobs.Operation | jobs.Barrier]:
        return jobs.read_job(job, checked=True)

    if offline:
        return _survey(str(job), source, stats, settings, state, journal_path)
    async with contextlib.AsyncExitStack() as stack:
        settings = await _connect(stack, replace(settings, max_attempts=3), sim)
        client = await stack.enter_async_context(MTurkClient(settings.client))
        caller = _caller(settings, client, Summary())
        balance: Decimal | None = None
        error: str | None = None
        try:
            await client.check_credentials()
        except UsageError as exc:
            error = str(exc)
        else:
            if stats.bulk.get(Bulk.BONUSES):  # what they pay is known once listed
                source = await _list_hit_bonuses(source, caller, None)
            try:
                balance = await caller.balance()
            except OperationError as exc:
                error = str(exc)
    result = _survey(str(job), source, stats, settings, state, journal_path)
    result.endpoint, result.balance, result.balance_error = settings.client.url, balance, error
    return result


def _survey(
    name: str,
    source: Source,
    stats: jobs.JobStats,
    settings: Settings,
    state: JournalState | None,
    journal_path: Path,
) -> planning.Plan:
    """Survey the job against its journal (its ledger too: the conflicts ``run`` refuses)."""
    result = planning.survey(
        name,
        source(),
        expand=expand.plan_expansion,
        state=state,
        journal=str(journal_path),
        digest=stats.digest,
        max_bonus=settings.max_bonus,
        retry_failed=settings.retry_failed,
    )
    if state is not None and not payments.unchanged(state, stats.digest):
        conflicts = payments.find_conflicts(
            state, source, str(journal_path), retry_failed=settings.retry_failed
        )
        if conflicts and settings.edited_payments is None:
            result.conflicts = payments.refusal(conflicts, name)
    return result


async def _list_hit_bonuses(source: Source, caller: Caller, summary: Summary | None) -> Source:
    """
    List every bonus-by-HIT line's assignments (read-only), before anything else is
    decided; return the job with those lines replaced by the payments they make.

    Raises:
        Refused: a listing failed; nothing was sent.
    """
    listing = await hitbonus.list_bonuses(source(), caller.body, source())
    if summary is not None:
        summary.operations += listing.payments - listing.lines

    def listed() -> Iterator[jobs.Operation | jobs.Barrier]:
        return hitbonus.expanded(source(), listing)

    return listed


async def _connect(stack: contextlib.AsyncExitStack, settings: Settings, sim: bool) -> Settings:
    """Start the embedded simulator when asked to, and point the settings at it."""
    if not sim:
        return settings
    from turkbatch.sim import Simulator

    server = await stack.enter_async_context(Simulator())
    key, secret = SIM_CREDENTIALS
    client = replace(
        settings.client, endpoint_url=server.endpoint_url, access_key=key, secret_key=secret
    )
    return replace(settings, client=client)


class _Run(Caller):
    """One run's moving parts, shared by the producer and the workers."""

    def __init__(
        self, settings: Settings, client: MTurkClient, journal: Journal, summary: Summary
    ) -> None:
        super().__init__(
            client,
            summary,
            rate=settings.rate,
            backoff=settings.backoff,
            max_attempts=settings.max_attempts,
        )
        self.settings = settings
        self.journal = journal
        self.reserved = money.ZERO  # what payments sent so far may cost, for max_spend
        self.started = time.monotonic()
        self.stopping = False
        self.in_flight = 0
        self._queued = 0
        self._idle: anyio.Event | None = None
        self._intake = anyio.CancelScope()
        self.held: set[str] = set()  # in-doubt keys not to resend without --resend-expired
        self.found: Counter[str] = Counter()  # payment id → found paid by a lookup just now
        self._unsent: dict[str, str] = {}  # key → op: intent staged, call not yet sent
        self._done_seen = 0
        self._workers = anyio.CancelScope()
        self.setting_error: SettingError | None = None  # why the run stopped, if it did

    async def run(self, source: Source, digest: str) -> None:
        """Settle what is in doubt and set the job against the ledger, then produce and
        work until done or stopped."""
        self.started = time.monotonic()
        await self._settle(source, digest)
        operations = source()
        depth = self.settings.concurrency
        offered, to_stage = anyio.create_memory_object_stream[jobs.Operation](depth)
        staged, to_send = anyio.create_memory_object_stream[jobs.Operation](depth)
        try:
            async with anyio.create_task_group() as tg:
                if self.settings.handle_signals:
                    await tg.start(self._watch_signals)
                if self.settings.progress_interval > 0:
                    tg.start_soon(self._report_progress)
                async with anyio.create_task_group() as pipeline:
                    pipeline.start_soon(self._produce, operations, offered)
                    with self._workers:
                        async with anyio.create_task_group() as workers, to_send:
                            workers.start_soon(self._stage, to_stage, staged)
                            for _ in range(self.settings.concurrency):
                                workers.start_soon(self._work, to_send.clone())
                tg.cancel_scope.cancel()
        finally:
            # Staged but never sent (the run stopped first): not in doubt, say so.
            for key, op in self._unsent.items():
                with contextlib.suppress(JournalError):  # a poisoned journal: in doubt, then
                    self.journal.withdraw(key, op=op)
            if self.summary.job_changed and not self.stopping:
                self.summary.removed = len(self.journal.state.done) - self._done_seen
            self.summary.elapsed = time.monotonic() - self.started
            self.summary.throttles = self.limiter.throttles

    async def _settle(self, source: Source, digest: str) -> None:
        """
        Before anything is sent: look up what is in doubt (and, with ``--reconcile``, every
        bonus to send), then set the job's bonuses against the ledger of payments.

        Raises:
            LookupFailed: a lookup failed; nothing was sent.
            Refused: bonus lines conflict with earlier payments and the settings do not
                say how to settle them; nothing was sent.
        """
        settings, journal = self.settings, self.journal
        settlement = await reconcile.settle(
            journal,
            self.body,
            retry_failed=settings.retry_failed,
            resend_expired=settings.resend_expired,
        )
        self.held, self.found = settlement.held, settlement.found
        if settings.reconcile:
            self.found += await reconcile.reconcile_job(
                journal, source(), self.body, retry_failed=settings.retry_failed
            )
        self.summary.reconciled = self.found.total()
        await journal.flush()  # what the lookups found, on disk before the journal is read
        state = journal.state
        if not state.ledger or payments.unchanged(state, digest):
            return
        if state.ledger.unknown and not settings.reconcile:
            raise Refused(
                f"journal {journal.path} holds {counted(state.ledger.unknown, 'bonus outcome')} "
                "written by an older turkbatch without the payment they made: run again with "
                "--reconcile to count them from MTurk's own records before paying anything"
            )
        conflicts = payments.find_conflicts(
            state, source, journal.path, retry_failed=settings.retry_failed
        )
        if not conflicts:
            return
        if settings.edited_payments is None:
            job = state.last_run.job_path if state.last_run else None
            raise Refused(payments.refusal(conflicts, job or "line"))
        self.summary.counted = await payments.resolve(journal, conflicts, settings.edited_payments)

    def stop(self, reason: str | None = None) -> None:
        """Take no new operations; let in-flight calls finish. ``reason``: not an interrupt."""
        if not self.stopping:
            self.stopping = True
            if reason is None:
                self.summary.interrupted = True
            else:
                self.summary.stopped = reason
            self._intake.cancel()

    def snapshot(self) -> Snapshot:
        """Return where the run stands, for the progress callback."""
        t, s = self.summary.totals(), self.summary
        return Snapshot(
            total=s.operations,
            done=t.done + t.already,
            failed=t.failed,
            skipped=t.skipped,
            pending=t.pending,
            in_flight=self.in_flight,
            requests=s.requests,
            retries=s.retries,
            throttles=self.limiter.throttles,
            rate_ceiling=self.limiter.rate,
            bonus_paid=s.bonus_paid,
            fees_paid=s.fees_paid,
            elapsed=time.monotonic() - self.started,
        )

    async def _watch_signals(self, *, task_status: TaskStatus[None]) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                if self.stopping:
                    log.warning("run.stopping_now", signal=signal.Signals(signum).name)
                    self._workers.cancel()
                    return
                log.warning(
                    "run.stopping",
                    signal=signal.Signals(signum).name,
                    in_flight=self.in_flight,
                    grace=self.settings.grace,
                )
                self.stop()
                self._workers.deadline = anyio.current_time() + self.settings.grace

    async def _report_progress(self) -> None:
        report = self.settings.progress or Lines()
        while True:
            await anyio.sleep(self.settings.progress_interval)
            report(self.snapshot())

    async def _produce(
        self,
        operations: Iterator[jobs.Operation | jobs.Barrier],
        send: MemoryObjectSendStream[jobs.Operation],
    ) -> None:
        state = self.journal.state
        async with send:
            with self._intake:
                for n, item in enumerate(operations):
                    if n % 1024 == 0:
                        await anyio.lowlevel.checkpoint()
                    if isinstance(item, jobs.Barrier):
                        await self._drain()
                    elif item.bulk is None or item.key in state.done:
                        # (a bulk line done as one call by an older turkbatch stays done)
                        await self._offer(item, send)
                    else:
                        await self._expand(item, send)
            if self.stopping:
                # Whatever the producer never handed out stays pending for the next run.
                for item in operations:
                    if isinstance(item, jobs.Operation) and not self._finished(item):
                        self.summary.count(item.op, Outcome.PENDING)

    def _finished(self, item: jobs.Operation) -> bool:
        """Whether the journal (its ledger, for a bonus) has ``item`` done already."""
        state = self.journal.state
        pid = pid_of_key(item.key) if item.op == "SendBonus" else None
        if pid is None:
            return item.key in state.done
        return state.ledger.decide(pid, occurrence(item.key)) is Decision.PAID

    async def _expand(
        self, item: jobs.Operation, send: MemoryObjectSendStream[jobs.Operation]
    ) -> None:
        """Hand out the calls of a bulk line: known from the line, or listed as pages arrive."""
        bulk = item.bulk
        assert bulk is not None, "only bulk lines are expanded"
        if item.dropped:
            log.info("op.duplicates_dropped", line=item.line, op=item.op, dropped=item.dropped)
        if bulk in (Bulk.CHUNKS, Bulk.WORKERS):
            for child in expand.expand_static(item):
                await self._offer(child, send)
            return
        try:
            async for child in expand.expand_listed(item, self.body, settle=self._drain):
                await self._offer(child, send)
        except OperationError as exc:
            # The listing itself failed (an unknown HIT or type, say): the line fails.
            listing = expand.LISTINGS[bulk]
            await self._failed(replace(item, op=listing), exc)

    async def _offer(
        self, item: jobs.Operation, send: MemoryObjectSendStream[jobs.Operation]
    ) -> None:
        """Skip what the journal settles; hand out the rest to the workers."""
        state = self.journal.state
        pid = pid_of_key(item.key) if item.op == "SendBonus" else None
        if pid is not None:
            await self._offer_bonus(item, pid, send)
        elif item.key in state.done:
            self._done_seen += 1
            self._finish(item, Outcome.SKIPPED)
        elif item.key in self.held:
            self._finish(item, Outcome.FAILED)
        elif item.key in state.failed and not self.settings.retry_failed:
            self.summary.failed_earlier += 1
            self._finish(item, Outcome.FAILED)
        else:
            self._queued += 1
            await _give(send, item)

    async def _offer_bonus(
        self, item: jobs.Operation, pid: str, send: MemoryObjectSendStream[jobs.Operation]
    ) -> None:
        """Decide a bonus by the ledger, by what it pays: counted, not matched by key."""
        state = self.journal.state
        if not state.ledger:  # nothing paid or refused yet (a first run): send it
            self._queued += 1
            await _give(send, item)
            return
        decision = state.ledger.decide(
            pid, occurrence(item.key), retry_failed=self.settings.retry_failed
        )
        if decision is Decision.PAID and self.found[pid] > 0:
            self.found[pid] -= 1  # found paid by this run's lookup: MTurk had it already
            self._finish(item, Outcome.ALREADY)
        elif decision is Decision.PAID:
            self._done_seen += 1
            self._finish(item, Outcome.SKIPPED)
        elif decision is Decision.FAILED:
            self.summary.failed_earlier += 1
            self._finish(item, Outcome.FAILED)
        else:
            self._queued += 1
            await _give(send, _unused_key(item, state))

    async def _drain(self) -> None:
        """Wait until every operation handed out so far has finished (a barrier)."""
        while self._queued:
            self._idle = anyio.Event()
            await self._idle.wait()

    async def _stage(
        self,
        receive: MemoryObjectReceiveStream[jobs.Operation],
        send: MemoryObjectSendStream[jobs.Operation],
    ) -> None:
        """
        Make the intents of what is handed out durable, many per fsync, then pass it on.

        Between the producer and the workers: it takes every operation waiting (up to the
        concurrency), buffers the intents of those with a token, flushes once, and only
        then hands them to the workers, so a worker never waits on the disk. Once the run
        is stopping, operations pass through unstaged, for the workers to count as
        pending; intents staged but never sent are withdrawn when the run ends.
        """
        async with receive, send:
            while (first := await _take(receive)) is not None:
                batch = [first]
                with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
                    while len(batch) < self.settings.concurrency:
                        batch.append(receive.receive_nowait())
                staging = [item for item in batch if self._stageable(item)]
                for item in staging:
                    self.journal.stage_intent(
                        item.key, op=item.op, token=item.token, params=_intent_params(item)
                    )
                    self._unsent[item.key] = item.op
                if staging:
                    await self.journal.flush()
                for item in batch:
                    await _give(send, item)

    def _stageable(self, item: jobs.Operation) -> bool:
        """Whether ``item`` gets an intent now: a token call, and the run not stopping."""
        return item.token is not None and not self.stopping

    async def _work(self, receive: MemoryObjectReceiveStream[jobs.Operation]) -> None:
        async with receive:
            while (item := await _take(receive)) is not None:
                try:
                    if self.stopping:
                        self.summary.count(item.op, Outcome.PENDING)
                        continue
                    self.in_flight += 1
                    try:
                        await self.execute(item)
                    except anyio.get_cancelled_exc_class():
                        # Stopped mid-call: a token call stays in doubt in the journal, and
                        # every other operation is safe to send again on resume.
                        self.summary.count(item.op, Outcome.PENDING)
                        raise
                    finally:
                        self.in_flight -= 1
                finally:
                    self._queued -= 1
                    if self._queued == 0 and self._idle is not None:
                        self._idle.set()

    async def execute(self, item: jobs.Operation) -> None:
        """Send one operation (its intent already durable); journal and count its outcome."""
        if item.op in MONEY_OPERATIONS and not self._reserve(item):
            self.summary.count(item.op, Outcome.PENDING)  # and its intent is withdrawn
            return
        self._unsent.pop(item.key, None)  # from here on it may have been sent
        if item.op == "NotifyWorkers":
            await self._notify(item)
            return
        try:
            response = await self.request(item.op, item.params, key=item.key)
        except AlreadyDone as exc:
            await self._already(item, exc)
        except TransientError as exc:
            if item.token is None:
                await self._failed(item, exc)
                return
            # Every attempt was lost, timed out or faulted: any of them may have reached
            # MTurk. The intent stays as it is, in doubt: the next run looks it up.
            self.summary.count(item.op, Outcome.PENDING)
            self.summary.in_doubt += 1
            log.warning(
                "op.in_doubt",
                key=item.key,
                op=item.op,
                line=item.line,
                code=exc.code,
                message=exc.message,
                note="every attempt may have reached MTurk: run again to look it up",
            )
        except OperationError as exc:
            await self._failed(item, exc)
        else:
            await self.journal.done(
                item.key,
                op=item.op,
                result=_result_record(response.body),
                request_id=response.request_id,
                on=item.on,
            )
            self._finish(item, Outcome.DONE)
            self.log.debug("op.done", key=item.key, op=item.op, request_id=response.request_id)

    async def _notify(self, item: jobs.Operation) -> None:
        """Send one chunk of at most 100 workers; resend to soft failures; journal each fate."""
        try:
            outcome = await expand.notify(
                item, self.body, pause=lambda n: anyio.sleep(self.settings.backoff.delay(n))
            )
        except OperationError as exc:
            await self._failed(item, exc)
            return
        result = outcome.as_record()
        # MTurk's own shape too, so reports read one format whatever wrote the journal.
        result["NotifyWorkersFailureStatuses"] = [
            {
                "WorkerId": worker,
                "NotifyWorkersFailureCode": code,
                "NotifyWorkersFailureMessage": message,
            }
            for worker, (code, message) in outcome.unreached.items()
        ]
        # Durable before the worker goes on: a crash then resends at most the calls in flight.
        await self.journal.done(item.key, op=item.op, result=result, durable=True)
        self.summary.unreached += len(outcome.unreached)
        for worker, (code, message) in outcome.unreached.items():
            log.warning(
                "notify.unreached", worker=worker, code=code, message=message, line=item.line
            )
        self._finish(item, Outcome.DONE)

    async def _already(self, item: jobs.Operation, exc: AlreadyDone) -> None:
        own_token = item.op == "SendBonus" and item.token != jobs.token_for(item.key)
        # The line's own token: "already processed" says only that *something* used it.
        if own_token and not await self._paid_at_mturk(item):
            await self._failed(
                item,
                PermanentError(
                    f"{exc.message} (but MTurk shows no such payment for assignment "
                    f"{item.params['AssignmentId']}: the UniqueRequestToken was used by "
                    "another call; give this line a token of its own, or none)",
                    code=exc.code,
                    turk_code=exc.turk_code,
                    request_id=exc.request_id,
                    status=exc.status,
                ),
            )
            return
        if item.op in ("ApproveAssignment", "RejectAssignment"):
            # "can be called with a status of: Submitted" also means "it went the other way":
            # only an assignment in the wanted state counts as done.
            wanted = "Approved" if item.op == "ApproveAssignment" else "Rejected"
            status = await self._assignment_status(str(item.params["AssignmentId"]))
            if status != wanted:
                await self._failed(
                    item,
                    PermanentError(
                        f"{exc.message} (the assignment is {status or 'in an unknown state'}, "
                        f"not {wanted})",
                        code=exc.code,
                        turk_code=exc.turk_code,
                        request_id=exc.request_id,
                        status=exc.status,
                    ),
                )
                return
        await self.journal.done(
            item.key, op=item.op, request_id=exc.request_id, already=True, on=item.on
        )
        self._finish(item, Outcome.ALREADY)
        self.log.debug("op.already_done", key=item.key, op=item.op, message=exc.message)

    async def _paid_at_mturk(self, item: jobs.Operation) -> bool:
        """Whether MTurk shows as many payments like ``item``'s as its occurrence needs."""
        payment = Payment.of(item.params)
        if payment is None:
            return False
        try:
            found = await reconcile.count_payments(self.body, [payment.assignment])
        except LookupFailed:
            return False
        return found[payment.pid] >= occurrence(item.key)

    async def _assignment_status(self, assignment_id: str) -> str | None:
        try:
            response = await self.request("GetAssignment", {"AssignmentId": assignment_id})
        except OperationError:
            return None
        status = response.body.get("Assignment", {}).get("AssignmentStatus")
        return str(status) if status else None

    async def _failed(self, item: jobs.Operation, exc: OperationError) -> None:
        if isinstance(exc, SettingError):
            self._setting_failed(item, exc)
            return
        await self.journal.failed(item.key, op=item.op, error=exc.as_dict(), on=item.on)
        self._finish(item, Outcome.FAILED)
        log.warning(
            "op.failed",
            key=item.key,
            op=item.op,
            line=item.line,
            code=exc.code,
            turk_code=exc.turk_code,
            message=exc.message,
        )

    def _setting_failed(self, item: jobs.Operation, exc: SettingError) -> None:
        """
        Stop the run: the setting failed, not the operation, so nothing is recorded failed.

        The item stays pending; a token call that never reached MTurk has its intent
        withdrawn (when the run ends), one that may have stays in doubt.
        """
        if item.token is not None and not exc.maybe_sent:
            self._unsent[item.key] = item.op
        elif item.token is not None:
            self.summary.in_doubt += 1
        self.summary.count(item.op, Outcome.PENDING)
        if self.setting_error is None or exc.maybe_sent:
            self.setting_error = exc
            log.info("run.setting_failed", op=item.op, code=exc.code, message=exc.message)
            self.stop(exc.message)

    def _reserve(self, item: jobs.Operation) -> bool:
        """Set a payment's cost against ``max_spend``; stop the run rather than pass it."""
        cap = self.settings.max_spend
        if cap is None:
            return True
        cost = planning.price(item)
        if cost is not None and self.reserved + cost <= cap:
            self.reserved += cost
            return True
        why = "its cost is unknown" if cost is None else f"it costs {money.usd(cost)}"
        log.error("run.spend_cap", key=item.key, op=item.op, line=item.line, cap=str(cap))
        self.stop(
            f"--max-spend {money.usd(cap)} reached: {money.usd(self.reserved)} committed, "
            f"line {item.line} not sent ({why})"
        )
        return False

    def _finish(self, item: jobs.Operation, outcome: Outcome) -> None:
        self.summary.count(item.op, outcome)
        if item.op == "SendBonus" and outcome in (Outcome.DONE, Outcome.ALREADY, Outcome.SKIPPED):
            amount = money.parse(item.params["BonusAmount"])
            fee = money.bonus_fee(amount)
            self.summary.bonus_total += amount
            self.summary.fees_total += fee
            if outcome is not Outcome.SKIPPED:
                self.summary.bonus_paid += amount
                self.summary.fees_paid += fee


async def _take(receive: MemoryObjectReceiveStream[jobs.Operation]) -> jobs.Operation | None:
    """
    Return the next operation handed out, or None once the sender is done.

    A waiting item is taken without a loop pass (``receive`` always makes one): the call
    that follows yields anyway, and a pass per item costs more than the item's own work.
    """
    try:
        return receive.receive_nowait()
    except anyio.WouldBlock:
        pass
    except anyio.EndOfStream:
        return None
    try:
        return await receive.receive()
    except anyio.EndOfStream:
        return None


async def _give(send: MemoryObjectSendStream[jobs.Operation], item: jobs.Operation) -> None:
    """Hand ``item`` on: at once while the buffer has room (no loop pass), else wait."""
    try:
        send.send_nowait(item)
    except anyio.WouldBlock:
        await send.send(item)


def _caller(settings: Settings, client: MTurkClient, summary: Summary) -> Caller:
    """A retry layer with the run's pacing, for calls made outside a run (plan, guards)."""
    return Caller(
        client,
        summary,
        rate=settings.rate,
        backoff=settings.backoff,
        max_attempts=settings.max_attempts,
    )


def _intent_params(item: jobs.Operation) -> dict[str, Any] | None:
    """What an intent keeps of its call: a payment's identity, for reconciliation and books."""
    if item.op != "SendBonus":
        return None
    params = item.params
    return {name: params[name] for name in PAYMENT_FIELDS if name in params}


def _unused_key(item: jobs.Operation, state: JournalState) -> jobs.Operation:
    """
    Return ``item`` under a key the journal has not used, with a token to match.

    A bonus to send keeps its key unless that key already has an outcome (the ledger
    counts payments, so the n-th occurrence of a payment may be sent when an earlier key
    of it failed, say): then it is ``<key>~m`` for the first unused m.
    """
    key = item.key
    if key not in state.done and key not in state.failed:
        return item
    m = 1
    while (fresh := f"{key}~{m}") in state.done or fresh in state.failed:
        m += 1
    params = dict(item.params)
    if params.get(jobs.TOKEN) == jobs.token_for(key):
        params[jobs.TOKEN] = jobs.token_for(fresh)
    return replace(item, key=fresh, params=params)


def _result_record(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """Keep the part of a response worth journaling: the ids of what was created.

    (NotifyWorkers' per-worker outcomes are journaled by ``_Run._notify``.)
    """
    record: dict[str, Any] = {}
    for name in ("HIT", "QualificationType"):
        value = body.get(name)
        if isinstance(value, Mapping):
            for id_name in ("HITId", "HITTypeId", "QualificationTypeId"):
                if id_name in value:
                    record[id_name] = value[id_name]
    if "HITTypeId" in body:
        record["HITTypeId"] = body["HITTypeId"]
    return record or None
