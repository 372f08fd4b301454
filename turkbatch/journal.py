"""
The journal: an append-only JSONL file of intents and outcomes that makes a run resumable.

One JSON object per line, written with orjson, ``t`` (the record type) first::

    {"t":"run","job":DIGEST,"job_path":PATH,"pid":N,"at":EPOCH,"version":V,
     "endpoint":URL,"keys":2}
    {"t":"intent","k":KEY,"op":OP,"tok":TOKEN,"at":EPOCH[,"p":{..}]} durable before the send
    {"t":"done","k":KEY,"op":OP,"at":EPOCH[,"res":{..}][,"rid":ID][,"already":true]
     [,"reconciled":true][,"p":{..}][,"counted":OLDKEY,"from":OLDPID][,"on":{..}]}
    {"t":"failed","k":KEY,"op":OP,"err":{..},"at":EPOCH[,"on":{..}]}
    {"t":"withdrawn","k":KEY,"op":OP,"at":EPOCH}  an intent whose call was never sent
    {"t":"unpaid","k":KEY,"op":OP,"at":EPOCH}     looked up: MTurk shows no such payment
    {"t":"note",...,"at":EPOCH}                                   anything else worth keeping
    {"t":"end","pid":N,"at":EPOCH}                                a clean close

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

Replay: a torn last line (no newline, or not a JSON object) is ignored and, when opened for
writing, cut off; damage on any other line raises ``JournalCorrupt`` with its line number.
``done`` is final (a later ``failed`` never undoes a payment); ``done``, ``failed`` and
``in_doubt`` are disjoint. Every SendBonus outcome also goes to the state's
:class:`~turkbatch.ledger.Ledger`, by payment: a ``done`` is a payment made (``p`` or the
``pay:`` key says which; a ``counted`` one moves an old payment to an edited line's), a
``failed`` an attempt MTurk refused, and ``unpaid`` closes an intent that a lookup found
never took effect.

The run record says which endpoint the journal describes: a run against another one is
refused (:class:`~turkbatch.errors.EndpointMismatch`) unless told the endpoint moved.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import mmap
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import version
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import anyio
import anyio.lowlevel
import orjson

from turkbatch.errors import (
    EndpointMismatch,
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalWriteError,
)
from turkbatch.keyset import KeySet
from turkbatch.ledger import PAY_PREFIX, PID_LENGTH, Ledger, Payment, pid_of_key

KEYS_VERSION = 2
"""Run records of journals whose SendBonus keys name payments (``pay:``) say ``"keys": 2``."""

CLOSE_GRACE = 10.0
"""Seconds :meth:`Journal.close` waits for the final flush, even when cancelled."""

FLUSH_BYTES = 1 << 20
"""Buffered bytes past which an outcome waits for a flush, bounding the buffer."""

FLUSH_INTERVAL = 1.0
"""Seconds after the last flush when the next outcome flushes, bounding what a crash loses."""

INLINE_SYNC = 0.002
"""Seconds an fsync may take for the next flush to run on the event loop, not in a thread."""

_CHUNK = 1 << 18  # replay reads 256 KiB at a time: per-chunk costs vanish, and so do its lines
_BYTES_PER_KEY = 256  # journal bytes per done key (an intent and a done), to size the done set
_DUMP = partial(orjson.dumps, option=orjson.OPT_APPEND_NEWLINE)
_PLAIN_PAY = len(PAY_PREFIX) + PID_LENGTH  # "pay:" and a payment id, no "#n"
_Intents = dict[str, tuple[dict[str, Any], int]]  # key → (intent record, line)


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentRecord:
    """An intent with no outcome after it: the request may or may not have been made."""

    key: str
    op: str
    token: str | None
    at: float
    line: int
    params: Mapping[str, Any] | None = None


@dataclass(slots=True)
class JournalState:
    """
    What a journal says, folded by replay.

    Attributes:
        done: keys with a ``done`` outcome (including already and reconciled); final. A
            :class:`~turkbatch.keyset.KeySet`: a set of strings in a fraction of the
            memory of a ``set`` (a million keys in ~30 MB, not ~90 MB).
        failed: key → its ``failed`` record (``k``, ``op``, ``err``, ``at``), when that is
            the key's last word.
        in_doubt: keys whose last record is an intent.
        runs: the ``run`` records, oldest first.
        ledger: every SendBonus payment made and attempt refused, by payment.
        notes: the ``note`` records, oldest first.
        records: how many records were read.
        torn_tail: the last line was incomplete and was ignored.
    """

    done: KeySet = field(default_factory=KeySet)
    failed: dict[str, dict[str, Any]] = field(default_factory=dict)
    in_doubt: dict[str, IntentRecord] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    ledger: Ledger = field(init=False)
    notes: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0
    torn_tail: bool = False

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.done)  # counts a payment made under its plain key as done


def _replay(fd: int, path: str) -> tuple[JournalState, int]:
    """
    Fold the journal open on ``fd`` into a state, with the cyclic GC paused.

    Replay builds millions of acyclic objects; the collector would re-scan the growing
    done-set again and again for nothing (a third of the replay time, measured).

    Returns:
        The state, and the byte offset where the complete records end.

    Raises:
        JournalCorrupt: a line other than the last is damaged.
        JournalError: it cannot be read.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _fold(fd, path)
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror}") from exc
    finally:
        if paused:
            gc.enable()


def _fold(fd: int, path: str) -> tuple[JournalState, int]:
    """Do :func:`_replay`'s work: one tight loop over 256 KiB chunks split into lines."""
    size = os.fstat(fd).st_size
    state = JournalState(done=KeySet(expected=size // _BYTES_PER_KEY))
    done, failed, runs, notes = state.done, state.failed, state.runs, state.notes
    ledger, paid = state.ledger, 0
    intents: _Intents = {}
    superseded: _Intents = {}  # key → the in-doubt intent a resend's intent replaced
    done_add, intents_pop, loads = done.add, intents.pop, orjson.loads
    n, offset, carry = 0, 0, b""
    while offset < size:
        chunk = os.pread(fd, min(_CHUNK, size - offset), offset)
        if not chunk:  # the file shrank under a reader; what was read is all there is
            break
        offset += len(chunk)
        lines = (carry + chunk).split(b"\n")
        carry = lines.pop()
        for line in lines:
            n += 1
            try:  # the most common records first; nothing is kept of a done but its key
                rec = loads(line)
                t = rec["t"]
                if t == "done":
                    k, op = rec["k"], rec["op"]
                    if type(k) is not str:
                        raise TypeError("k is not a string")
                    if done_add(k) and op == "SendBonus":
                        if len(k) == _PLAIN_PAY and k[:4] == "pay:" and "counted" not in rec:
                            paid += 1  # the usual: counted by its key being done
                        else:
                            _paid(ledger, k, rec, intents.get(k))
                    if intents:
                        intents_pop(k, None)
                    if failed:
                        failed.pop(k, None)
                    if superseded:
                        superseded.pop(k, None)
                elif t == "intent":
                    k, _, _, _ = rec["k"], rec["op"], rec["tok"], rec["at"]
                    if type(k) is not str:
                        raise TypeError("k is not a string")
                    if k in intents:  # a resend of a call in doubt
                        superseded[k] = intents[k]
                    intents[k] = (rec, n)  # (a failed record stays: a withdrawal restores it)
                elif t == "failed":
                    k, _, _ = rec["k"], rec["op"], rec["err"]
                    if type(k) is not str:
                        raise TypeError("k is not a string")
                    if k not in done:
                        failed[k] = rec
                        intent = intents_pop(k, None)
                        if intent is not None and "p" in intent[0]:
                            rec["p"] = intent[0]["p"]  # what it would have paid
                        superseded.pop(k, None)
                elif t == "withdrawn":  # the intent's call was never sent
                    k, _ = rec["k"], rec["op"]
                    if type(k) is not str:
                        raise TypeError("k is not a string")
                    earlier = superseded.pop(k, None)
                    if earlier is None:
                        intents_pop(k, None)
                    else:  # an earlier send may have happened: still in doubt, as it was
                        intents[k] = earlier
                elif t == "unpaid":  # looked up: no such payment, whatever was sent
                    k, _ = rec["k"], rec["op"]
                    if type(k) is not str:
                        raise TypeError("k is not a string")
                    intents_pop(k, None)
                    superseded.pop(k, None)
                    failed.pop(k, None)
                elif t == "run":
                    _ = rec["job"]
                    runs.append(rec)
                elif t == "note":
                    notes.append(rec)
                elif t != "end":
                    raise ValueError(f"unknown record type {t!r}")
            except (ValueError, KeyError, TypeError) as exc:
                why = _damage(line, exc)
                if why is None and line is lines[-1] and not carry and offset >= size:
                    state.records, state.torn_tail = n - 1, True
                    ledger.payments += paid
                    return _finish(state, intents, path), size - len(line) - 1
                raise JournalCorrupt(f"{path}:{n}: {why or 'not a JSON object'}") from exc
    state.records, state.torn_tail = n, bool(carry)
    ledger.payments += paid
    return _finish(state, intents, path), offset - len(carry)


def _paid(
    ledger: Ledger, key: str, rec: dict[str, Any], intent: tuple[dict[str, Any], int] | None
) -> None:
    """Count a SendBonus ``done`` in the ledger, by the payment its key or record names."""
    pid = pid_of_key(key)
    if pid is None:  # a journal of turkbatch 0.1: the payment is in the record or intent
        payment = Payment.of(rec.get("p") or (intent[0].get("p") if intent else None))
        pid = None if payment is None else payment.pid
    if pid is None:
        ledger.unknown += 1
    else:
        ledger.add_paid(pid, key)
    moved = rec.get("from")
    if rec.get("counted") is not None and type(moved) is str:
        ledger.remove_paid(moved)  # an old payment now counts for this line's


def _damage(line: bytes, exc: Exception) -> str | None:
    """Describe a damaged line; ``None`` when it is not even a JSON object (torn, if last)."""
    try:
        if not isinstance(orjson.loads(line), dict):
            return None
    except orjson.JSONDecodeError:
        return None
    return f"record lacks field {exc}" if isinstance(exc, KeyError) else f"bad record ({exc})"


def _finish(state: JournalState, intents: _Intents, path: str) -> JournalState:
    """Turn the intents still open into ``IntentRecord`` values, once, at the end."""
    for key, (rec, line) in intents.items():
        if key in state.done:
            continue
        state.failed.pop(key, None)  # retried after failing: in doubt now, not failed
        op, tok, at = rec["op"], rec["tok"], rec["at"]
        if not (type(op) is str and (tok is None or type(tok) is str) and type(at) in (int, float)):
            raise JournalCorrupt(f"{path}:{line}: bad intent record")
        state.in_doubt[key] = IntentRecord(
            key=key, op=op, token=tok, at=float(at), line=line, params=rec.get("p")
        )
    for key, rec in state.failed.items():
        if rec["op"] == "SendBonus":
            payment = Payment.of(rec.get("p"))
            pid = pid_of_key(key) or (payment.pid if payment else None)
            if pid is not None:
                state.ledger.add_failed(pid)
    return state


def endpoint_id(url: str) -> str:
    """Return an endpoint as a journal records it: scheme and host lower-cased, no final ``/``."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return url.strip()
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def check_endpoint(path: str, state: JournalState, endpoint: str) -> None:
    """
    Refuse to use a journal that describes another endpoint than ``endpoint``.

    Raises:
        EndpointMismatch: the last run that recorded an endpoint, and sent something
            (or did not say it sent nothing), recorded another one.
    """
    # A run that stopped on its setting before sending anything (a wrong URL, say) says so
    # in a note: the endpoint it named describes nothing, and binds nothing.
    void = {(n.get("pid"), n.get("run_at")) for n in state.notes if n.get("sent_nothing")}
    recorded = next(
        (
            r["endpoint"]
            for r in reversed(state.runs)
            if r.get("endpoint") and (r.get("pid"), r.get("at")) not in void
        ),
        None,
    )
    if recorded is None or recorded == endpoint:
        return
    raise EndpointMismatch(
        f"journal {path} records runs against {recorded}, not {endpoint}: what it says was "
        f"paid was paid there. To run against {endpoint}, give this run a journal of its own "
        f"(--journal NEW.journal.jsonl); to go on against {recorded}, point the run there; "
        "if it is the same service at a new address, add --endpoint-moved"
    )


def _holder(fd: int) -> str:
    """Describe the run holding the lock, from the last ``run`` record if it is still alive."""
    with contextlib.suppress(OSError, ValueError):
        size = os.fstat(fd).st_size
        with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mm:
            start = mm.rfind(b'{"t":"run"')
            if start >= 0 and mm.rfind(b'{"t":"end"') < start:
                end = mm.find(b"\n", start)
                pid = orjson.loads(mm[start : end if end >= 0 else size])["pid"]
                with contextlib.suppress(PermissionError):  # alive, and someone else's
                    os.kill(pid, 0)  # ProcessLookupError: that run is gone
                return f"pid {pid}"
    return "pid unknown"


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

    def __init__(self, path: str, fd: int, state: JournalState, run: dict[str, Any]) -> None:
        self.path, self.state, self.run = path, state, run
        self.fsyncs = 1  # the run record's
        self._fd = fd
        self._buf: list[bytes] = []
        self._buffered = 0  # bytes in _buf
        self._seq = self._synced = 0  # records appended so far, and made durable so far
        self._flushed_at = time.monotonic()
        self._flushing = False
        self._flush_done: anyio.Event | None = None
        self._fsync_took = 0.0  # the last fsync's seconds: flush inline while it is short
        self._error: OSError | None = None  # set once: the journal is poisoned
        self._closing = self._released = False  # no more appends; the fd is closed

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        job_digest: str,
        job_path: str | None = None,
        endpoint: str | None = None,
        endpoint_moved: bool = False,
    ) -> Journal:
        """
        Open (creating with mode 0600) and lock a journal, replay it, and record this run.

        Args:
            path: the journal file.
            job_digest: the job's digest, recorded in the run record.
            job_path: the job file, if the job is one.
            endpoint: the endpoint this run talks to (:func:`endpoint_id`), recorded.
            endpoint_moved: the journal's endpoint has a new address: accept this one.

        Raises:
            JournalLocked: another run holds it.
            JournalCorrupt: a line other than the last is damaged.
            JournalWriteError: it cannot be created, repaired or written.
            EndpointMismatch: the journal describes another endpoint (nothing is written).
        """
        opener = partial(
            cls._open_sync, os.fspath(path), job_digest, job_path, endpoint, endpoint_moved
        )
        return await anyio.to_thread.run_sync(opener)

    @classmethod
    def _open_sync(
        cls,
        path: str,
        job_digest: str,
        job_path: str | None,
        endpoint: str | None,
        endpoint_moved: bool,
    ) -> Journal:
        """Do :meth:`open`'s blocking work, in a worker thread."""
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
        try:
            try:  # 0600 only when creating: an existing file's mode is never widened
                fd, created = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600), True
            except FileExistsError:
                fd, created = os.open(path, flags), False
        except OSError as exc:
            raise JournalWriteError(f"cannot open journal {path}: {exc.strerror}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                raise JournalLocked(f"journal {path} is in use by another run ({holder})") from None
            except OSError as exc:  # e.g. ENOLCK on a network file system
                raise JournalError(f"cannot lock journal {path}: {exc.strerror}") from exc
            state, end = _replay(fd, path)
            if endpoint is not None and not endpoint_moved:
                check_endpoint(path, state, endpoint)
            run: dict[str, Any] = {"t": "run", "job": job_digest, "job_path": job_path}
            run |= {"pid": os.getpid(), "at": time.time(), "version": version("turkbatch")}
            run |= {"endpoint": endpoint, "keys": KEYS_VERSION}
            try:
                if created:  # make the new directory entry durable too
                    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
                    try:
                        os.fsync(dfd)
                    finally:
                        os.close(dfd)
                if state.torn_tail:  # so the next record starts on a line of its own
                    os.ftruncate(fd, end)
                _write_all(fd, _DUMP(run))
            except OSError as exc:
                raise JournalWriteError(f"cannot write journal {path}: {exc.strerror}") from exc
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, state, run)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> JournalState:
        """
        Replay a journal read-only, without locking it or repairing a torn tail.

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
            return _replay(fd, name)[0]
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
        rec: dict[str, Any] = {"t": "intent", "k": key, "op": op, "tok": token, "at": time.time()}
        if params:
            rec["p"] = dict(params)
        return self._append(rec)

    def withdraw(self, key: str, *, op: str) -> None:
        """
        Record that ``key``'s intent was never acted on: its call was not sent, so it is no
        longer in doubt. Durable with the next flush (or the close).

        Raises:
            JournalWriteError: the journal could not be written earlier.
        """
        self._append({"t": "withdrawn", "k": key, "op": op, "at": time.time()})

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
        rec: dict[str, Any] = {"t": "done", "k": key, "op": op, "at": time.time()}
        extra = {"res": result and dict(result), "rid": request_id, "already": already}
        rec |= {name: value for name, value in extra.items() if value}
        if reconciled:
            rec["reconciled"] = True
        if payment:
            rec["p"] = dict(payment)
        if counted is not None:
            rec["counted"], rec["from"] = counted
        if on:
            rec["on"] = dict(on)
        if durable:
            await self._sync(self._append(rec))
        else:
            await self._outcome(rec)

    async def unpaid(self, key: str, *, op: str) -> None:
        """Record that a lookup found no payment for ``key``'s intent (next flush: durable)."""
        await self._outcome({"t": "unpaid", "k": key, "op": op, "at": time.time()})

    async def failed(
        self,
        key: str,
        *,
        op: str,
        error: Mapping[str, Any],
        on: Mapping[str, str] | None = None,
    ) -> None:
        """Record that ``key`` failed with ``error``; durable with the next flush."""
        rec = {"t": "failed", "k": key, "op": op, "err": dict(error), "at": time.time()}
        if on:
            rec["on"] = dict(on)
        await self._outcome(rec)

    async def note(self, record: Mapping[str, Any]) -> None:
        """
        Record anything else (``t`` is set to ``note``); durable with the next flush.

        Raises:
            ValueError: ``record`` has its own ``t``.
        """
        if "t" in record:
            raise ValueError("a note's record type is 'note'; leave 't' out")
        await self._outcome({"t": "note", "at": time.time(), **record})

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
        try:
            with anyio.move_on_after(grace, shield=True):
                if self._error is None:
                    self._append({"t": "end", "pid": os.getpid(), "at": time.time()})
                self._closing = True
                await self._sync(self._seq)
        finally:
            self._closing = True
            with anyio.CancelScope(shield=True):
                while self._flushing and self._flush_done:  # never close the fd under a write
                    await self._flush_done.wait()
            self._released = True
            with contextlib.suppress(OSError):
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
        line = _DUMP(rec)  # before buffering: an unserializable record fails alone
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
            data, upto = b"".join(self._buf), self._seq
            self._buf.clear()
            self._buffered = 0
            with anyio.CancelScope(shield=True):  # a batch taken is a batch accounted for
                try:
                    if self._fsync_took <= INLINE_SYNC:
                        self._fsync_took = _write_all(self._fd, data)
                    else:
                        self._fsync_took = await anyio.to_thread.run_sync(
                            _write_all, self._fd, data
                        )
                except OSError as exc:
                    self._error = exc
                    self._check(appending=False)
            self.fsyncs += 1
            self._synced, self._flushed_at = upto, time.monotonic()
        finally:
            self._flushing = False
            finished.set()
