"""
The run, wired: check the job, guard it, settle what is in doubt, then feed, stage and work.

::

    job ─▶ check (whole file) ─▶ guards ─▶ settle in-doubt items ─▶ set bonuses against
        the ledger (conflicts) ─▶ Feed (barriers, skip what is settled, expand bulk lines)
        ─▶ stream ─▶ Stage (intents) ─▶ stream ─▶ N × Worker
                                                       │                      │
           journal ◀── intents, a batch per fsync ─────┘      outcomes ◀──────┤
                                                                              ▼
             Caller (the one retry layer) ─▶ AdaptiveLimiter ─▶ MTurkClient ─▶ MTurk
                 └─ requests, retries ─▶ Books (outcomes, money, spend cap, snapshot)

Each piece has one role and its own module: :mod:`turkbatch.feed` (the producer),
:mod:`turkbatch.stage` (intents of token calls, many per fsync, and the withdrawal of
those never sent), :mod:`turkbatch.worker` (one call and what came of it) and
:mod:`turkbatch.books` (counts, money, the spend cap, the stop switch, the snapshot).
:class:`_Run` wires them in one anyio task group, with the signal watcher and the
progress ticker. Every call goes through :class:`turkbatch.caller.Caller`, turkbatch's
only retry layer, a member of the run that reports to the books; in-doubt items are
settled by :func:`turkbatch.reconcile.settle`, the job's bonuses set against the
journal's ledger of payments by :mod:`turkbatch.payments` (a bonus is done when the
ledger holds its payment, however its line is spelt).
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

from turkbatch import expand, guards, hitbonus, jobs, payments, reconcile
from turkbatch import plan as planning
from turkbatch.books import Books
from turkbatch.caller import Caller, Tally
from turkbatch.client import MTurkClient
from turkbatch.errors import OperationError, Refused, SettingError, UsageError
from turkbatch.feed import Feed
from turkbatch.jobs import Bulk
from turkbatch.journal import Journal, JournalState, endpoint_id
from turkbatch.limits import MIN_RATE
from turkbatch.progress import Lines
from turkbatch.settings import SIM_CREDENTIALS, SIM_ENDPOINT
from turkbatch.settings import Settings as Settings  # (turkbatch.engine.Settings, as ever)
from turkbatch.stage import Stage
from turkbatch.summary import Summary
from turkbatch.wording import counted
from turkbatch.worker import Worker

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
    async with contextlib.AsyncExitStack() as stack:
        # Locked and replayed once, here: the guards count against the run's own state,
        # and nothing is written until every guard has passed.
        journal = await Journal.open(
            journal_path,
            job_digest=stats.digest,
            job_path=str(job) if isinstance(job, str | Path) else None,
            endpoint=SIM_ENDPOINT if sim else endpoint_id(settings.client.url),
            endpoint_moved=settings.endpoint_moved,
            begin=False,
        )
        stack.push_async_callback(journal.close)
        by_hit = bool(stats.bulk.get(Bulk.BONUSES))  # the guards need those lines listed first
        preflight = (
            None
            if by_hit
            else guards.preflight(name, source, stats, settings, journal_path, journal.state)
        )
        settings = await _connect(stack, settings, sim)
        client_settings = replace(settings.client, max_pool_connections=settings.concurrency)
        client = await stack.enter_async_context(MTurkClient(client_settings))
        await client.check_credentials()
        summary = Summary(
            journal=str(journal_path),
            endpoint=client_settings.url,
            calls=stats.calls,
            unlisted=stats.bulk.get(Bulk.REQUESTS, 0) + stats.bulk.get(Bulk.ASSIGNMENTS, 0),
        )
        if by_hit:
            source = await _list_hit_bonuses(source, _caller(settings, client, summary), summary)
            preflight = guards.preflight(name, source, stats, settings, journal_path, journal.state)
        if preflight is not None:
            preflight.endpoint = client_settings.url
            await guards.check(preflight, settings, _caller(settings, client, summary).balance)
        await journal.begin()
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
            calls=stats.calls,
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
        calls=summary.calls,
        unlisted=summary.unlisted,
        done=t.done,
        already=t.already,
        failed=t.failed,
        skipped=t.skipped,
        pending=t.pending,
        interrupted=summary.interrupted,
        elapsed=round(summary.elapsed, 3),
        bonus_paid=str(summary.bonus_paid),
        fees_paid=str(summary.fees_paid),
        bonus_already=str(summary.bonus_already),
        bonus_reconciled=str(summary.bonus_reconciled),
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
        caller = _caller(settings, client)
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
        summary.calls += listing.payments  # (a bonus-by-HIT line's calls are its payments)

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


class _Run:
    """
    One run's pipeline, wired: the feed, the intent stage and the workers in one task
    group, with the signal watcher and the progress ticker beside them.
    """

    def __init__(
        self, settings: Settings, client: MTurkClient, journal: Journal, summary: Summary
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.summary = summary
        self.intake = anyio.CancelScope()
        self.workers = anyio.CancelScope()
        self.books = Books(summary, max_spend=settings.max_spend, halt=self.intake.cancel)
        self.caller = _caller(settings, client, self.books)
        self.setting_error: SettingError | None = None  # why the run stopped, if it did

    async def run(self, source: Source, digest: str) -> None:
        """Settle what is in doubt and set the job against the ledger, then feed and work
        until done or stopped."""
        settings, books = self.settings, self.books
        books.started = time.monotonic()
        held, found = await _settle(
            self.journal, self.caller, self.summary, source, digest, settings
        )
        stage = Stage(self.journal, books, batch=settings.concurrency)
        worker = Worker(self.caller, self.journal, books, stage, backoff=settings.backoff)
        feed = Feed(
            self.journal,
            books,
            self.caller,
            fail=worker.failed,
            intake=self.intake,
            retry_failed=settings.retry_failed,
            held=held,
            found=found,
        )
        depth = settings.concurrency
        offered, to_stage = anyio.create_memory_object_stream[jobs.Operation](depth)
        staged, to_send = anyio.create_memory_object_stream[jobs.Operation](depth)
        try:
            async with anyio.create_task_group() as tg:
                if settings.handle_signals:
                    await tg.start(self._watch_signals)
                if settings.progress_interval > 0:
                    tg.start_soon(self._report_progress)
                async with anyio.create_task_group() as pipeline:
                    pipeline.start_soon(feed.produce, source(), offered)
                    with self.workers:
                        async with anyio.create_task_group() as workers, to_send:
                            workers.start_soon(stage.run, to_stage, staged)
                            for _ in range(settings.concurrency):
                                workers.start_soon(worker.work, to_send.clone())
                tg.cancel_scope.cancel()
        finally:
            stage.withdraw()  # staged but never sent (the run stopped first): not in doubt
            self.setting_error = worker.setting_error
            if self.summary.job_changed and not books.stopping:
                self.summary.removed = len(self.journal.state.done) - feed.done_seen
            books.close(self.caller.limiter)

    async def _watch_signals(self, *, task_status: TaskStatus[None]) -> None:
        """SIGINT or SIGTERM: stop taking calls, give those in flight a grace; again: now."""
        books = self.books
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                if books.stopping:
                    log.warning("run.stopping_now", signal=signal.Signals(signum).name)
                    self.workers.cancel()
                    return
                log.warning(
                    "run.stopping",
                    signal=signal.Signals(signum).name,
                    in_flight=books.in_flight,
                    grace=self.settings.grace,
                )
                books.stop()
                self.workers.deadline = anyio.current_time() + self.settings.grace

    async def _report_progress(self) -> None:
        report = self.settings.progress or Lines()
        while True:
            await anyio.sleep(self.settings.progress_interval)
            report(self.books.snapshot(self.caller.limiter))


async def _settle(
    journal: Journal,
    caller: Caller,
    summary: Summary,
    source: Source,
    digest: str,
    settings: Settings,
) -> tuple[set[str], Counter[str]]:
    """
    Before anything is sent: look up what is in doubt (and, with ``--reconcile``, every
    bonus to send), then set the job's bonuses against the ledger of payments.

    Returns:
        the keys held in doubt (not to resend without ``--resend-expired``), and the
        payments found paid by the lookups just now (payment id → how many).

    Raises:
        LookupFailed: a lookup failed; nothing was sent.
        Refused: bonus lines conflict with earlier payments and the settings do not
            say how to settle them; nothing was sent.
    """
    settlement = await reconcile.settle(
        journal,
        caller.body,
        retry_failed=settings.retry_failed,
        resend_expired=settings.resend_expired,
    )
    held, found = settlement.held, settlement.found
    if settings.reconcile:
        found += await reconcile.reconcile_job(
            journal, source(), caller.body, retry_failed=settings.retry_failed
        )
    summary.reconciled = found.total()
    await journal.flush()  # what the lookups found, on disk before the journal is read
    state = journal.state
    if not state.ledger or payments.unchanged(state, digest):
        return held, found
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
        return held, found
    if settings.edited_payments is None:
        job = state.last_run.job_path if state.last_run else None
        raise Refused(payments.refusal(conflicts, job or "line"))
    summary.counted = await payments.resolve(journal, conflicts, settings.edited_payments)
    return held, found


def _caller(settings: Settings, client: MTurkClient, tally: Tally | None = None) -> Caller:
    """A retry layer with the run's pacing (counting into ``tally``, if given)."""
    return Caller(
        client,
        tally,
        rate=settings.rate,
        backoff=settings.backoff,
        max_attempts=settings.max_attempts,
    )
