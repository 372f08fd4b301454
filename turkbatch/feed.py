"""
The feed: stream the job, in order, as the calls still to make.

It waits at each barrier until every call handed out before it has finished; skips what
the journal settles (a call done, failed and not to retry, held in doubt; a bonus decided
by the ledger, by what it pays, not by its key); expands bulk lines into their calls
(known from the line, or listed as the pages arrive); and hands the rest out, in order.
Each call it meets is entered in the books once, handed out or not: when the run stops,
what it never handed out is counted too (done earlier: skipped; the rest: pending).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import replace

import anyio
import structlog
from anyio.streams.memory import MemoryObjectSendStream

from turkbatch import expand, jobs
from turkbatch.books import Books
from turkbatch.bulk import LISTED
from turkbatch.caller import Caller
from turkbatch.catalog import PAYMENT_OPERATIONS
from turkbatch.errors import OperationError
from turkbatch.handoff import give
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
        self._children: Iterator[jobs.Operation] = iter(())  # of the line being expanded

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
                    elif item.bulk is None:
                        await self._offer(item, send)
                    elif item.key in state.done:
                        # A bulk line done as one call by an older turkbatch stays done.
                        self._one_call(item)
                        await self._offer(item, send)
                    else:
                        await self._expand(item, send)
            if self.books.stopping:
                self._leave(operations)

    def _leave(self, operations: Iterator[jobs.Operation | jobs.Barrier]) -> None:
        """
        Count every call the feed will not hand out, the run having stopped: what the
        journal settles as ever, the rest pending. A listed line's calls stay unknown (the
        books count its listing as not finished).
        """
        state, books = self.journal.state, self.books
        for child in self._children:  # the rest of a line stopped halfway
            if self._sort(child) is not None:
                books.left += 1
        for item in operations:
            if isinstance(item, jobs.Barrier):
                continue
            if item.bulk is None or item.key in state.done:
                if item.bulk is not None:
                    self._one_call(item)
                calls: Iterable[jobs.Operation] = (item,)
            elif item.bulk in LISTED:
                continue
            else:
                calls = expand.expand_static(item)
            for call in calls:
                if self._sort(call) is not None:
                    books.left += 1

    def _one_call(self, item: jobs.Operation) -> None:
        """A bulk line done as one call: if it is a listed line, its listing is not to come."""
        if item.bulk in LISTED:
            self.books.unlisted -= 1

    async def _expand(
        self, item: jobs.Operation, send: MemoryObjectSendStream[jobs.Operation]
    ) -> None:
        """Hand out the calls of a bulk line: known from the line, or listed as pages arrive."""
        bulk = item.bulk
        assert bulk is not None, "only bulk lines are expanded"
        if item.dropped:
            log.info("op.duplicates_dropped", line=item.line, op=item.op, dropped=item.dropped)
        if bulk not in LISTED:
            self._children = children = expand.expand_static(item)
            for child in children:
                await self._offer(child, send)
            return
        books = self.books
        try:
            async for child in expand.expand_listed(item, self.caller.body, settle=books.idle):
                books.listed += 1
                await self._offer(child, send)
        except OperationError as exc:
            # The listing itself failed (an unknown HIT or type, say): the line fails, one call.
            books.unlisted -= 1
            books.listed += 1
            failed = replace(item, op=expand.LISTINGS[bulk])
            books.known[failed.op] = books.known.get(failed.op, 0) + 1
            await self.fail(failed, exc)
        else:
            books.unlisted -= 1

    async def _offer(
        self, item: jobs.Operation, send: MemoryObjectSendStream[jobs.Operation]
    ) -> None:
        """Skip what the journal settles; hand out the rest to the workers."""
        call = self._sort(item)
        if call is not None:
            self.books.queued += 1
            await give(send, call)

    def _sort(self, item: jobs.Operation) -> jobs.Operation | None:
        """
        Enter one call in the books; count it if the journal settles it, else return it
        to send (a bonus under a key of its own).
        """
        books, state = self.books, self.journal.state
        known = books.known
        known[item.op] = known.get(item.op, 0) + 1
        pid = pid_of_key(item.key) if item.op in PAYMENT_OPERATIONS else None
        if pid is not None:
            return self._sort_bonus(item, pid, state)
        if item.key in state.done:
            self.done_seen += 1
            books.finish(item, Outcome.SKIPPED)
        elif item.key in self.held:
            books.finish(item, Outcome.FAILED)
        elif item.key in state.failed and not self.retry_failed:
            self.summary.failed_earlier += 1
            books.finish(item, Outcome.FAILED)
        else:
            return item
        return None

    def _sort_bonus(
        self, item: jobs.Operation, pid: str, state: JournalState
    ) -> jobs.Operation | None:
        """Decide a bonus by the ledger, by what it pays: counted, not matched by key."""
        if not state.ledger:  # nothing paid or refused yet (a first run): send it
            return item
        decision = state.ledger.decide(pid, occurrence(item.key), retry_failed=self.retry_failed)
        if decision is Decision.PAID and self.found[pid] > 0:
            self.found[pid] -= 1  # found paid by this run's lookup: MTurk had it already
            self.books.found_paid(item)
        elif decision is Decision.PAID:
            self.done_seen += 1
            self.books.finish(item, Outcome.SKIPPED)
        elif decision is Decision.FAILED:
            self.summary.failed_earlier += 1
            self.books.finish(item, Outcome.FAILED)
        else:
            return _unused_key(item, state)
        return None


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
