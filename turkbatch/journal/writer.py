"""
The journal writer: an append-only JSONL file of intents and outcomes, locked for one run.

The records are :mod:`turkbatch.journal.records`'; reading them back is
:mod:`turkbatch.journal.replay`'s.

Durability: :meth:`Journal.intent` returns once its record is written and fsynced; the
engine buffers many with :meth:`Journal.stage_intent` and makes them durable with one
:meth:`Journal.flush` before any of their calls is sent, and :meth:`Journal.withdraw`s
those it then never sends, so they are not left in doubt.
Concurrent intents share one fsync (group commit): the first waiter becomes the flusher,
writes the whole buffer and fsyncs it, then wakes everyone whose record was in that batch;
records arriving meanwhile form the next batch. While the disk is fast (the last fsync took
at most ``INLINE_SYNC``) the flusher does it on the event loop, which costs less than the
hand-off to a worker thread (a loop wake-up and a handful of GIL hand-overs per batch); a
slower disk's flushes go to a worker thread, so the loop keeps serving responses meanwhile.
Outcomes ride the next batch, or flush themselves once the last flush is ``FLUSH_INTERVAL``
old; one buffer, written in order, keeps every outcome after its intent. An ``OSError``
while writing poisons the journal: every waiter of that batch and every later call raises
``JournalWriteError``.

Locking: ``flock`` on the journal file itself, not a sibling ``.lock`` file, so the lock
guards the inode the records go to (a renamed, linked or symlinked journal is still one
journal), leaves nothing stale behind, and dies with the process. ``flock`` belongs to the
open file description, so a second open in the same process is refused too.

The run record says which endpoint the journal describes: a run against another one is
refused (:class:`~turkbatch.errors.EndpointMismatch`) unless told the endpoint moved.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import time
from collections.abc import Mapping
from functools import partial
from importlib.metadata import version
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.lowlevel
import orjson

from turkbatch.errors import JournalError, JournalLocked, JournalWriteError
from turkbatch.journal import records
from turkbatch.journal.records import RunRecord
from turkbatch.journal.replay import JournalState, check_endpoint, replay

CLOSE_GRACE = 10.0
"""Seconds :meth:`Journal.close` waits for the final flush, even when cancelled."""

FLUSH_BYTES = 1 << 20
"""Buffered bytes past which an outcome waits for a flush, bounding the buffer."""

FLUSH_INTERVAL = 1.0
"""Seconds after the last flush when the next outcome flushes, bounding what a crash loses."""

INLINE_SYNC = 0.002
"""Seconds an fsync may take for the next flush to run on the event loop, not in a thread."""


def _holder(fd: int) -> str:
    """Describe the run holding the lock, from the last ``run`` record if it is still alive."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        size = os.fstat(fd).st_size
        with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mm:
            start = mm.rfind(records.RUN_START)
            if start >= 0 and mm.rfind(records.END_START) < start:
                end = mm.find(b"\n", start)
                pid = RunRecord.of(orjson.loads(mm[start : end if end >= 0 else size])).pid
                if pid is None:
                    return "pid unknown"
                with contextlib.suppress(PermissionError):  # alive, and someone else's
                    os.kill(pid, 0)  # ProcessLookupError: that run is gone
                return f"pid {pid}"
    return "pid unknown"


def _lock(fd: int, path: str) -> None:
    """
    Lock the journal open on ``fd`` for this run, or say who holds it.

    Raises:
        JournalLocked: another run holds it.
        JournalError: it cannot be locked.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        raise JournalLocked(f"journal {path} is in use by another run ({holder})") from None
    except OSError as exc:  # e.g. ENOLCK on a network file system
        raise JournalError(f"cannot lock journal {path}: {exc.strerror}") from exc


def _write_all(fd: int, data: bytes) -> float:
    """Write every byte of ``data`` and fsync (blocking); return the fsync's seconds."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    started = time.perf_counter()
    os.fsync(fd)
    took = time.perf_counter() - started
    if os.fstat(fd).st_nlink == 0:
        # Deleted (or its directory removed) under us: writes still "succeed", but into a
        # file that vanishes when closed. Nothing written now can be trusted: stop.
        raise OSError(errno.ENOENT, "the journal file was deleted while in use")
    return took


class Journal:
    """
    An open journal, locked for one run; use as an async context manager.

    Build it with :meth:`open`; every method runs in one event loop. ``state`` is what the
    journal said when it was opened; later appends do not change it.
    """

    def __init__(
        self, path: str, fd: int | None, state: JournalState, run: dict[str, Any], end: int
    ) -> None:
        self.path, self.state = path, state
        self.run: RunRecord | None = None  # this run's record, once it has begun
        self.fsyncs = 0
        self._fd = fd  # None: no journal yet; begin() creates it
        self._run = run  # the run record begin() writes
        self._end = end  # where the complete records end (a torn tail is cut there)
        self._buf: list[bytes] = []
        self._buffered = 0  # bytes in _buf
        self._seq = self._synced = 0  # records appended so far, and made durable so far
        self._flushed_at = time.monotonic()
        self._flushing = False
        self._flush_done: anyio.Event | None = None
        self._fsync_took = 0.0  # the last fsync's seconds: flush inline while it is short
        self._error: OSError | None = None  # set once: the journal is poisoned
        self._closing = self._released = False  # no more appends; the fd is closed
        self.ending = "finished"  # how the run ended, for the end record (records.ENDINGS)

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        job_digest: str,
        job_path: str | None = None,
        endpoint: str | None = None,
        endpoint_moved: bool = False,
        begin: bool = True,
    ) -> Journal:
        """
        Lock a journal and replay it (the run's one replay); with ``begin``, record this run.

        A journal opened with ``begin=False`` is locked and replayed, but nothing is written
        (and a journal that does not exist yet is not created) until :meth:`begin`: the
        guards read its state first, and a refused run leaves no trace.

        Args:
            path: the journal file.
            job_digest: the job's digest, recorded in the run record.
            job_path: the job file, if the job is one.
            endpoint: the endpoint this run talks to (:func:`endpoint_id`), recorded.
            endpoint_moved: the journal's endpoint has a new address: accept this one.
            begin: record this run now (:meth:`begin`).

        Raises:
            JournalLocked: another run holds it.
            JournalCorrupt: a line other than the last is damaged.
            JournalWriteError: it cannot be created, repaired or written.
            EndpointMismatch: the journal describes another endpoint (nothing is written).
        """
        run = records.run(
            job=job_digest,
            job_path=job_path,
            pid=os.getpid(),
            at=time.time(),
            version=version("turkbatch"),
            endpoint=endpoint,
        )
        opener = partial(cls._open_sync, os.fspath(path), run, endpoint_moved)
        journal = await anyio.to_thread.run_sync(opener)
        if begin:
            try:
                await journal.begin()
            except BaseException:
                await journal.close()
                raise
        return journal

    @classmethod
    def _open_sync(cls, path: str, run: dict[str, Any], endpoint_moved: bool) -> Journal:
        """Lock and replay an existing journal, in a worker thread (none: an empty state)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        except FileNotFoundError:
            return cls(path, None, JournalState(), run, 0)
        except OSError as exc:
            raise JournalWriteError(f"cannot open journal {path}: {exc.strerror}") from exc
        try:
            _lock(fd, path)
            state, end = replay(fd, path)
            if run["endpoint"] is not None and not endpoint_moved:
                check_endpoint(path, state, run["endpoint"])
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, state, run, end)

    async def begin(self) -> None:
        """
        Record this run (creating the journal, mode 0600, if there is none): from here on
        the journal describes it.

        Raises:
            JournalError: a journal appeared at the path since it was opened (another run
                started it: run again), or it cannot be locked.
            JournalWriteError: it cannot be created, repaired or written.
        """
        if self.run is not None:
            return
        self._check(appending=True)
        self._fd = await anyio.to_thread.run_sync(self._begin_sync)
        self.run = RunRecord.of(self._run)
        self.fsyncs += 1

    def _begin_sync(self) -> int:
        """Do :meth:`begin`'s blocking work, in a worker thread."""
        path, fd, created = self.path, self._fd, False
        try:
            if fd is None:
                flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_CREAT | os.O_EXCL
                try:
                    fd, created = os.open(path, flags, 0o600), True
                except FileExistsError:
                    raise JournalError(
                        f"journal {path} appeared while this run was starting (another run "
                        "began it?): run again"
                    ) from None
                _lock(fd, path)
            if created:  # make the new directory entry durable too
                dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            if self.state.torn_tail:  # so the next record starts on a line of its own
                os.ftruncate(fd, self._end)
            _write_all(fd, records.dump(self._run))
        except OSError as exc:
            if created and fd is not None:
                os.close(fd)
            raise JournalWriteError(f"cannot write journal {path}: {exc.strerror}") from exc
        return fd

    @classmethod
    def read(
        cls, path: str | os.PathLike[str], *, detail: bool = False, rows: bool = False
    ) -> JournalState:
        """
        Replay a journal read-only, without locking it or repairing a torn tail.

        ``detail``: also fold what the views need (:attr:`JournalState.detail`); ``rows``:
        and where each key's records are, for the report.

        Raises:
            JournalError: it cannot be read.
            JournalCorrupt: a line other than the last is damaged.
        """
        name = os.fspath(path)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise JournalError(f"cannot read journal {name}: {exc.strerror}") from exc
        try:
            return replay(fd, name, detail=detail, rows=rows)[0]
        finally:
            os.close(fd)

    async def intent(
        self, key: str, *, op: str, token: str | None, params: Mapping[str, Any] | None = None
    ) -> None:
        """
        Record that ``key`` is about to be sent; return once that is durable.

        Args:
            key: the operation's key.
            op: the operation.
            token: its UniqueRequestToken.
            params: what to keep of the call (a payment's identity, for reconciliation).

        Raises:
            JournalWriteError: the journal could not be written (now or earlier).
        """
        await self._sync(self.stage_intent(key, op=op, token=token, params=params))

    def stage_intent(
        self, key: str, *, op: str, token: str | None, params: Mapping[str, Any] | None = None
    ) -> int:
        """
        Buffer ``key``'s intent (as :meth:`intent`) without waiting: durable after the next
        :meth:`flush`, which must come before the call is sent. Returns its sequence number.

        Raises:
            JournalWriteError: the journal could not be written earlier.
        """
        return self._append(records.intent(key, op=op, token=token, at=time.time(), params=params))

    def withdraw(self, key: str, *, op: str) -> None:
        """
        Record that ``key``'s intent was never acted on: its call was not sent, so it is no
        longer in doubt. Durable with the next flush (or the close).

        Raises:
            JournalWriteError: the journal could not be written earlier.
        """
        self._append(records.withdrawn(key, op=op, at=time.time()))

    async def done(
        self,
        key: str,
        *,
        op: str,
        result: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        already: bool = False,
        reconciled: bool = False,
        payment: Mapping[str, Any] | None = None,
        counted: tuple[str, str] | None = None,
        on: Mapping[str, str] | None = None,
        durable: bool = False,
    ) -> None:
        """
        Record that ``key`` is done; durable with the next flush.

        Args:
            key: the operation's key.
            op: the operation.
            result: what to keep of the response.
            request_id: MTurk's request id.
            already: MTurk said it was done before.
            reconciled: a lookup found it done.
            payment: the payment made (SendBonus parameters), when no intent of this key
                records it.
            counted: ``(old key, old payment id)`` of an earlier payment that now counts
                for this line (an edited line, resolved by the requester).
            on: what a call expanded from a listing acted on beyond its parameters
                (:attr:`turkbatch.jobs.Operation.on`).
            durable: return only once the record is on disk (an outcome whose loss would
                make a resume repeat something visible, such as a message).
        """
        rec = records.done(
            key,
            op=op,
            at=time.time(),
            result=result,
            request_id=request_id,
            already=already,
            reconciled=reconciled,
            payment=payment,
            counted=counted,
            on=on,
        )
        if durable:
            await self._sync(self._append(rec))
        else:
            await self._outcome(rec)

    async def unpaid(self, key: str, *, op: str) -> None:
        """Record that a lookup found no payment for ``key``'s intent (next flush: durable)."""
        await self._outcome(records.unpaid(key, op=op, at=time.time()))

    async def failed(
        self,
        key: str,
        *,
        op: str,
        error: Mapping[str, Any],
        on: Mapping[str, str] | None = None,
    ) -> None:
        """Record that ``key`` failed with ``error``; durable with the next flush."""
        await self._outcome(records.failed(key, op=op, at=time.time(), error=error, on=on))

    async def note(self, record: Mapping[str, Any]) -> None:
        """
        Record anything else (``t`` is set to ``note``); durable with the next flush.

        Raises:
            ValueError: ``record`` has its own ``t``.
        """
        await self._outcome(records.note(record, at=time.time()))

    async def note_sent_nothing(self) -> None:
        """Note that this run sent nothing: the endpoint it named binds the journal to nothing."""
        if self.run is not None:
            await self.note(records.sent_nothing_note(self.run))

    async def flush(self) -> None:
        """Write and fsync everything buffered."""
        await self._sync(self._seq)

    async def close(self, grace: float = CLOSE_GRACE) -> None:
        """
        Flush, record a clean end, release the lock and close; safe under cancellation.

        Raises:
            JournalWriteError: buffered records could not be made durable.
        """
        if self._closing:
            return
        if self.run is None:  # never begun: nothing to record, only the lock to release
            self._closing = self._released = True
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
            return
        try:
            with anyio.move_on_after(grace, shield=True):
                if self._error is None:
                    self._append(records.end(pid=os.getpid(), at=time.time(), how=self.ending))
                self._closing = True
                await self._sync(self._seq)
        finally:
            self._closing = True
            with anyio.CancelScope(shield=True):
                while self._flushing and self._flush_done:  # never close the fd under a write
                    await self._flush_done.wait()
            self._released = True
            with contextlib.suppress(OSError):
                if self._fd is not None:
                    os.close(self._fd)  # and with it the lock
        if self._synced < self._seq:
            lost = self._seq - self._synced
            raise JournalWriteError(f"journal {self.path}: {lost} records were not written")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.close()
        except JournalError:
            if exc is None:
                raise  # otherwise the error already on its way out says more

    def _check(self, *, appending: bool) -> None:
        """Refuse to go on with a poisoned journal, or a closed one."""
        if self._error is not None:
            raise JournalWriteError(
                f"cannot write journal {self.path}: {self._error.strerror or self._error}"
            ) from self._error
        if self._released or (appending and self._closing):
            raise JournalError(f"journal {self.path} is closed")

    def _append(self, rec: dict[str, Any]) -> int:
        """Serialize ``rec`` into the buffer; return its sequence number."""
        self._check(appending=True)
        if self.run is None:
            raise JournalError(f"journal {self.path}: this run has not begun (Journal.begin)")
        line = records.dump(rec)  # before buffering: an unserializable record fails alone
        self._buf.append(line)
        self._buffered += len(line)
        self._seq += 1
        return self._seq

    async def _outcome(self, rec: dict[str, Any]) -> None:
        """Buffer an outcome; flush when the buffer is large or the last flush is old."""
        seq = self._append(rec)
        if self._buffered >= FLUSH_BYTES or (
            not self._flushing and time.monotonic() - self._flushed_at >= FLUSH_INTERVAL
        ):
            await self._sync(seq)

    async def _sync(self, seq: int) -> None:
        """Return once record ``seq`` is durable, leading a group commit if nobody is."""
        while self._synced < seq:
            self._check(appending=False)
            if self._flushing:
                assert self._flush_done is not None
                await self._flush_done.wait()
            else:
                await self._flush_batch()

    async def _flush_batch(self) -> None:
        """Write and fsync everything buffered, as one batch, then wake its waiters."""
        self._flushing = True
        self._flush_done = finished = anyio.Event()
        try:
            await anyio.lowlevel.checkpoint()  # callers ready in this loop turn join the batch
            data, upto, fd = b"".join(self._buf), self._seq, self._fd
            assert fd is not None, "appends need a begun journal"
            self._buf.clear()
            self._buffered = 0
            with anyio.CancelScope(shield=True):  # a batch taken is a batch accounted for
                try:
                    if self._fsync_took <= INLINE_SYNC:
                        self._fsync_took = _write_all(fd, data)
                    else:
                        self._fsync_took = await anyio.to_thread.run_sync(_write_all, fd, data)
                except OSError as exc:
                    self._error = exc
                    self._check(appending=False)
            self.fsyncs += 1
            self._synced, self._flushed_at = upto, time.monotonic()
        finally:
            self._flushing = False
            finished.set()
