"""
The intent stage: make the intents of token calls durable, many per fsync, before any
worker gets them; withdraw, when the run ends, the intents of calls never sent.

A call never leaves before its intent is on disk, and no worker waits on the disk.
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from turkbatch import jobs
from turkbatch.books import Books
from turkbatch.catalog import TRAITS
from turkbatch.errors import JournalError
from turkbatch.handoff import give, take
from turkbatch.journal import Journal


class Stage:
    """
    Between the feed and the workers: the intents of the calls handed out.

    Attributes:
        unsent: key → operation of every call whose intent is staged and which was not
            sent (yet): a worker takes a call out as it may send it, and puts back one
            whose setting failed before it reached MTurk.
    """

    def __init__(self, journal: Journal, books: Books, *, batch: int) -> None:
        self.journal = journal
        self.books = books
        self.batch = batch
        self.unsent: dict[str, str] = {}

    async def run(
        self,
        receive: MemoryObjectReceiveStream[jobs.Operation],
        send: MemoryObjectSendStream[jobs.Operation],
    ) -> None:
        """
        Make the intents of what is handed out durable, many per fsync, then pass it on.

        It takes every call waiting (up to ``batch``), buffers the intents of those with
        a token, flushes once, and only then hands them to the workers. Once the run is
        stopping, calls pass through unstaged, for the workers to count as pending.
        """
        journal, unsent = self.journal, self.unsent
        async with receive, send:
            while (first := await take(receive)) is not None:
                batch = [first]
                with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
                    while len(batch) < self.batch:
                        batch.append(receive.receive_nowait())
                staging = [item for item in batch if self._stageable(item)]
                for item in staging:
                    journal.stage_intent(
                        item.key, op=item.op, token=item.token, params=_intent_params(item)
                    )
                    unsent[item.key] = item.op
                if staging:
                    await journal.flush()
                for item in batch:
                    await give(send, item)

    def _stageable(self, item: jobs.Operation) -> bool:
        """Whether ``item`` gets an intent now: a token call, and the run not stopping."""
        return item.token is not None and not self.books.stopping

    def withdraw(self) -> None:
        """Withdraw every intent staged and never sent (the run stopped first): not in doubt."""
        for key, op in self.unsent.items():
            with contextlib.suppress(JournalError):  # a poisoned journal: in doubt, then
                self.journal.withdraw(key, op=op)


def _intent_params(item: jobs.Operation) -> dict[str, Any] | None:
    """What an intent keeps of its call: a payment's identity, for reconciliation and books."""
    fields = TRAITS[item.op].intent
    if not fields:
        return None
    params = item.params
    return {name: params[name] for name in fields if name in params}
