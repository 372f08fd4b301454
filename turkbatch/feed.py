"""
The feed: stream the job, in order, as the calls still to make.

It waits at each barrier until every call handed out before it has finished; skips what
the journal settles (a call done, failed and not to retry, held in doubt; a bonus decided
by the ledger, by what it pays, not by its key); expands bulk lines into their calls
(known from the line, or listed as the pages arrive); and hands the rest out, in order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace

import anyio
import structlog
from anyio.streams.memory import MemoryObjectSendStream

from turkbatch import expand, jobs
from turkbatch.books import Books
from turkbatch.caller import Caller
from turkbatch.errors import OperationError
from turkbatch.handoff import give
from turkbatch.jobs import Bulk
from turkbatch.journal import Journal, JournalState
from turkbatch.ledger import Decision, occurrence, pid_of_key
from turkbatch.summary import Outcome

log = structlog.get_logger()

Fail = Callable[[jobs.Operation, OperationError], Awaitable[None]]
"""Journal and count a call failed (the worker's :meth:`~turkbatch.worker.Worker.failed`)."""


class Feed:
    """
    The producer of the run's calls.

    Args:
        journal: the run's journal (its replayed state says what is settled).
        books: the run's books.
        caller: the retry layer, for listings.
        fail: what to do with a line whose listing failed.
        intake: the cancel scope the run stops taking calls by.
        retry_failed: send again what failed in an earlier run.
        held: keys in doubt not to send again (settled as held).
        found: payment id → bonuses found paid by this run's lookups.
    """

    def __init__(
        self,
        journal: Journal,
        books: Books,
        caller: Caller,
        *,
        fail: Fail,
        intake: anyio.CancelScope,
        retry_failed: bool,
        held: set[str],
        found: Counter[str],
    ) -> None:
        self.journal = journal
        self.books = books
        self.summary = books.summary
        self.caller = caller
        self.fail = fail
        self.intake = intake
        self.retry_failed = retry_failed
        self.held = held
        self.found = found
        self.done_seen = 0  # journal keys this run met done (the rest: removed from the job)

    async def produce(
        self,
        operations: Iterator[jobs.Operation | jobs.Barrier],
        send: MemoryObjectSendStream[jobs.Operation],
    ) -> None:
        """Hand out the job's calls until it ends or the run stops taking them."""
        state = self.journal.state
        async with send:
            with self.intake:
                for n, item in enumerate(operations):
                    if n % 1024 == 0:
                        await anyio.lowlevel.checkpoint()
                    if isinstance(item, jobs.Barrier):
                        await self.books.idle()
                    elif item.bulk is None or item.key in state.done:
                        # (a bulk line done as one call by an older turkbatch stays done)
                        await self._offer(item, send)
                    else:
                        await self._expand(item, send)
            if self.books.stopping:
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
            async for child in expand.expand_listed(item, self.caller.body, settle=self.books.idle):
                await self._offer(child, send)
        except OperationError as exc:
            # The listing itself failed (an unknown HIT or type, say): the line fails.
            listing = expand.LISTINGS[bulk]
            await self.fail(replace(item, op=listing), exc)

    async def _offer(
        self, item: jobs.Operation, send: MemoryObjectSendStream[jobs.Operation]
    ) -> None:
        """Skip what the journal settles; hand out the rest to the workers."""
        state = self.journal.state
        pid = pid_of_key(item.key) if item.op == "SendBonus" else None
        if pid is not None:
            await self._offer_bonus(item, pid, send)
        elif item.key in state.done:
            self.done_seen += 1
            self.books.finish(item, Outcome.SKIPPED)
        elif item.key in self.held:
            self.books.finish(item, Outcome.FAILED)
        elif item.key in state.failed and not self.retry_failed:
            self.summary.failed_earlier += 1
            self.books.finish(item, Outcome.FAILED)
        else:
            self.books.queued += 1
            await give(send, item)

    async def _offer_bonus(
        self, item: jobs.Operation, pid: str, send: MemoryObjectSendStream[jobs.Operation]
    ) -> None:
        """Decide a bonus by the ledger, by what it pays: counted, not matched by key."""
        state = self.journal.state
        if not state.ledger:  # nothing paid or refused yet (a first run): send it
            self.books.queued += 1
            await give(send, item)
            return
        decision = state.ledger.decide(pid, occurrence(item.key), retry_failed=self.retry_failed)
        if decision is Decision.PAID and self.found[pid] > 0:
            self.found[pid] -= 1  # found paid by this run's lookup: MTurk had it already
            self.books.finish(item, Outcome.ALREADY)
        elif decision is Decision.PAID:
            self.done_seen += 1
            self.books.finish(item, Outcome.SKIPPED)
        elif decision is Decision.FAILED:
            self.summary.failed_earlier += 1
            self.books.finish(item, Outcome.FAILED)
        else:
            self.books.queued += 1
            await give(send, _unused_key(item, state))


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
