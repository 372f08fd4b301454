"""
The run's workers: make one call at a time through the retry layer, decide what came of
it, and journal that.

A call is done, already done (checked, where "already" can mean "went the other way"),
failed, or in doubt (every attempt may have reached MTurk: its intent stays for the next
run to look up); NotifyWorkers chunks are resent to soft failures; a failure of the run's
*setting* (connection refused, bad credentials) stops the run and records nothing failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream

from turkbatch import expand, jobs, reconcile
from turkbatch.backoff import Backoff
from turkbatch.books import Books
from turkbatch.caller import Caller
from turkbatch.catalog import DONE_STATES, MONEY_OPERATIONS, PAYMENT_OPERATIONS, RECIPIENT_LIMITS
from turkbatch.errors import (
    AlreadyDone,
    LookupFailed,
    OperationError,
    PermanentError,
    SettingError,
    TransientError,
)
from turkbatch.handoff import take
from turkbatch.journal import Journal
from turkbatch.ledger import Payment, occurrence
from turkbatch.stage import Stage
from turkbatch.summary import Outcome

log = structlog.get_logger()


class Worker:
    """
    What the run's N worker tasks do: each runs :meth:`work` on a clone of the stream.

    Attributes:
        setting_error: why the run stopped, if its setting failed.
    """

    def __init__(
        self, caller: Caller, journal: Journal, books: Books, stage: Stage, *, backoff: Backoff
    ) -> None:
        self.caller = caller
        self.journal = journal
        self.books = books
        self.summary = books.summary
        self.unsent = stage.unsent
        self.backoff = backoff
        self.setting_error: SettingError | None = None
        # Bound once, with the logging configuration in force now: a per-call debug
        # call is then a no-op method, not a logger rebuilt from the lazy proxy each time.
        self.log: structlog.typing.FilteringBoundLogger = log.bind()

    async def work(self, receive: MemoryObjectReceiveStream[jobs.Operation]) -> None:
        """Make the calls handed out until there are no more."""
        books = self.books
        async with receive:
            while (item := await take(receive)) is not None:
                try:
                    if books.stopping:
                        books.left += 1  # pending: not sent once the run stops
                        continue
                    books.in_flight += 1
                    try:
                        await self.execute(item)
                    except anyio.get_cancelled_exc_class():
                        # Stopped mid-call: a token call stays in doubt in the journal, and
                        # every other operation is safe to send again on resume.
                        books.left += 1
                        raise
                    finally:
                        books.in_flight -= 1
                finally:
                    books.settled()

    async def execute(self, item: jobs.Operation) -> None:
        """Send one call (its intent already durable); journal and count its outcome."""
        if item.op in MONEY_OPERATIONS and not self.books.reserve(item):
            self.books.left += 1  # pending, and its intent is withdrawn
            return
        self.unsent.pop(item.key, None)  # from here on it may have been sent
        if item.op in RECIPIENT_LIMITS:
            await self._notify(item)
            return
        try:
            response = await self.caller.request(item.op, item.params, key=item.key)
        except AlreadyDone as exc:
            await self._already(item, exc)
        except TransientError as exc:
            if item.token is None:
                await self.failed(item, exc)
                return
            # Every attempt was lost, timed out or faulted: any of them may have reached
            # MTurk. The intent stays as it is, in doubt (pending): the next run looks it up.
            self.books.left += 1
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
            await self.failed(item, exc)
        else:
            await self.journal.done(
                item.key,
                op=item.op,
                result=_result_record(response.body),
                request_id=response.request_id,
                on=item.on,
            )
            self.books.finish(item, Outcome.DONE)
            self.log.debug("op.done", key=item.key, op=item.op, request_id=response.request_id)

    async def _notify(self, item: jobs.Operation) -> None:
        """Send one chunk of at most 100 workers; resend to soft failures; journal each fate."""
        try:
            outcome = await expand.notify(
                item, self.caller.body, pause=lambda n: anyio.sleep(self.backoff.delay(n))
            )
        except OperationError as exc:
            await self.failed(item, exc)
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
        self.books.finish(item, Outcome.DONE)

    async def _already(self, item: jobs.Operation, exc: AlreadyDone) -> None:
        own_token = item.op in PAYMENT_OPERATIONS and item.token != jobs.token_for(item.key)
        # The line's own token: "already processed" says only that *something* used it.
        if own_token and not await self._paid_at_mturk(item):
            await self.failed(
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
        wanted = DONE_STATES.get(item.op)
        if wanted is not None:
            # "can be called with a status of: Submitted" also means "it went the other way":
            # only an assignment in the wanted state counts as done.
            status = await self._assignment_status(str(item.params["AssignmentId"]))
            if status != wanted:
                await self.failed(
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
        self.books.finish(item, Outcome.ALREADY)
        self.log.debug("op.already_done", key=item.key, op=item.op, message=exc.message)

    async def _paid_at_mturk(self, item: jobs.Operation) -> bool:
        """Whether MTurk shows as many payments like ``item``'s as its occurrence needs."""
        payment = Payment.of(item.params)
        if payment is None:
            return False
        try:
            found = await reconcile.count_payments(self.caller.body, [payment.assignment])
        except LookupFailed:
            return False
        return found[payment.pid] >= occurrence(item.key)

    async def _assignment_status(self, assignment_id: str) -> str | None:
        try:
            response = await self.caller.request("GetAssignment", {"AssignmentId": assignment_id})
        except OperationError:
            return None
        status = response.body.get("Assignment", {}).get("AssignmentStatus")
        return str(status) if status else None

    async def failed(self, item: jobs.Operation, exc: OperationError) -> None:
        """Journal and count ``item`` failed (or, if the setting failed, stop the run)."""
        if isinstance(exc, SettingError):
            self._setting_failed(item, exc)
            return
        await self.journal.failed(item.key, op=item.op, error=exc.as_dict(), on=item.on)
        self.books.finish(item, Outcome.FAILED)
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
            self.unsent[item.key] = item.op
        elif item.token is not None:
            self.summary.in_doubt += 1
        self.books.left += 1
        if self.setting_error is None or exc.maybe_sent:
            self.setting_error = exc
            log.info("run.setting_failed", op=item.op, code=exc.code, message=exc.message)
            self.books.stop(exc.message)


def _result_record(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """Keep the part of a response worth journaling: the ids of what was created.

    (NotifyWorkers' per-worker outcomes are journaled by ``Worker._notify``.)
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
