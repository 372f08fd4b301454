"""
The journal's record format: the one module that knows how a record is spelt.

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
    {"t":"end","pid":N,"at":EPOCH[,"how":HOW]}       a clean close: finished, interrupted, stopped

``p`` is a payment's identity (SendBonus's WorkerId, AssignmentId, BonusAmount, Reason);
``on`` what a call expanded from a listing acted on beyond its parameters (its worker, HIT
or qualification type). Everything else reads records through this module: the writer
builds them with the encoders here, the replay folds them (its hot loop reads ``t`` and
``k`` itself, for speed, and nothing else), and the views read a key's records as
:class:`Entry` values.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import IO, Any, Final

import orjson

__all__ = [
    "KEYS_VERSION",
    "Entry",
    "Kind",
    "RunRecord",
    "Word",
    "done",
    "dump",
    "end",
    "entries",
    "entry_at",
    "failed",
    "intent",
    "looks_like_journal",
    "note",
    "run",
    "unpaid",
    "withdrawn",
]

KEYS_VERSION: Final = 2
"""Run records of journals whose SendBonus keys name payments (``pay:``) say ``"keys": 2``."""

dump = partial(orjson.dumps, option=orjson.OPT_APPEND_NEWLINE)
"""Serialize one record as one line."""

RUN_START: Final = b'{"t":"run"'
"""How a run record's line starts, to find the last one without parsing the file."""
END_START: Final = b'{"t":"end"'
"""How the record of a clean close starts."""


class Kind(StrEnum):
    """A record's type (its ``t``)."""

    RUN = "run"
    INTENT = "intent"
    DONE = "done"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"
    UNPAID = "unpaid"
    NOTE = "note"
    END = "end"


class Word(StrEnum):
    """A key's last word, as every view names it."""

    DONE = "done"  # sent and MTurk confirmed it
    ALREADY = "already"  # MTurk said it was done before
    RECONCILED = "reconciled"  # a lookup found it done
    COUNTED = "counted"  # an edited bonus line an earlier payment counts for
    FAILED = "failed"
    IN_DOUBT = "in_doubt"  # sent (maybe), no answer recorded
    NOT_PAID = "not_paid"  # looked up after a lost answer: it never took effect
    NOT_RUN = "not_run"


# --- encoders: the writer's records --------------------------------------------------------


def run(
    *, job: str, job_path: str | None, pid: int, at: float, version: str, endpoint: str | None
) -> dict[str, Any]:
    """Return a run record: this process runs job ``job`` against ``endpoint``."""
    return {
        "t": "run",
        "job": job,
        "job_path": job_path,
        "pid": pid,
        "at": at,
        "version": version,
        "endpoint": endpoint,
        "keys": KEYS_VERSION,
    }


def intent(
    key: str, *, op: str, token: str | None, at: float, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return an intent: ``key`` is about to be sent (``params``: a payment's identity)."""
    rec: dict[str, Any] = {"t": "intent", "k": key, "op": op, "tok": token, "at": at}
    if params:
        rec["p"] = dict(params)
    return rec


def done(
    key: str,
    *,
    op: str,
    at: float,
    result: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    already: bool = False,
    reconciled: bool = False,
    payment: Mapping[str, Any] | None = None,
    counted: tuple[str, str] | None = None,
    on: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return a done record (see :meth:`turkbatch.journal.Journal.done` for the fields)."""
    rec: dict[str, Any] = {"t": "done", "k": key, "op": op, "at": at}
    if result:
        rec["res"] = dict(result)
    if request_id:
        rec["rid"] = request_id
    if already:
        rec["already"] = True
    if reconciled:
        rec["reconciled"] = True
    if payment:
        rec["p"] = dict(payment)
    if counted is not None:
        rec["counted"], rec["from"] = counted
    if on:
        rec["on"] = dict(on)
    return rec


def failed(
    key: str, *, op: str, at: float, error: Mapping[str, Any], on: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return a failed record: ``key`` failed with ``error``."""
    rec: dict[str, Any] = {"t": "failed", "k": key, "op": op, "err": dict(error), "at": at}
    if on:
        rec["on"] = dict(on)
    return rec


def withdrawn(key: str, *, op: str, at: float) -> dict[str, Any]:
    """Return a withdrawal: ``key``'s intent was never acted on."""
    return {"t": "withdrawn", "k": key, "op": op, "at": at}


def unpaid(key: str, *, op: str, at: float) -> dict[str, Any]:
    """Return an unpaid record: a lookup found no payment for ``key``'s intent."""
    return {"t": "unpaid", "k": key, "op": op, "at": at}


def note(fields: Mapping[str, Any], *, at: float) -> dict[str, Any]:
    """
    Return a note of ``fields``.

    Raises:
        ValueError: ``fields`` has its own ``t``.
    """
    if "t" in fields:
        raise ValueError("a note's record type is 'note'; leave 't' out")
    return {"t": "note", "at": at, **fields}


#: How a run that closed its journal ended (an ``end`` record's ``how``).
ENDINGS: Final = ("finished", "interrupted", "stopped")


def end(*, pid: int, at: float, how: str = "finished") -> dict[str, Any]:
    """Return the record of a clean close: the run ``finished``, ``interrupted``, ``stopped``."""
    return {"t": "end", "pid": pid, "at": at, "how": how}


def ending(rec: Mapping[str, Any]) -> str:
    """Return how the run an ``end`` record closes ended (journals before 0.3: finished)."""
    how = rec.get("how")
    return how if how in ENDINGS else "finished"


# --- decoded values: what the views read ---------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    """One run of a journal: its job's digest and file, process, start, endpoint."""

    job: str
    job_path: str | None = None
    pid: int | None = None
    at: float | None = None
    endpoint: str | None = None
    keys: int | None = None  # KEYS_VERSION for journals whose bonuses are keyed by payment

    @classmethod
    def of(cls, rec: Mapping[str, Any]) -> RunRecord:
        """
        Decode a run record.

        Raises:
            KeyError: it has no ``job``.
            TypeError: a field has the wrong type.
        """
        job, path, pid, at = rec["job"], rec.get("job_path"), rec.get("pid"), rec.get("at")
        endpoint, keys = rec.get("endpoint"), rec.get("keys")
        if type(job) is not str:
            raise TypeError("job is not a string")
        return cls(
            job=job,
            job_path=path if isinstance(path, str) else None,
            pid=pid if type(pid) is int else None,
            at=float(at) if isinstance(at, int | float) else None,
            endpoint=endpoint if isinstance(endpoint, str) else None,
            keys=keys if type(keys) is int else None,
        )


def sent_nothing(rec: Mapping[str, Any]) -> tuple[Any, Any] | None:
    """Return ``(pid, run start)`` of the run a note says sent nothing, else ``None``."""
    return (rec.get("pid"), rec.get("run_at")) if rec.get("sent_nothing") else None


def sent_nothing_note(run: RunRecord) -> dict[str, Any]:
    """Return the fields of the note saying ``run`` sent nothing (its endpoint binds nothing)."""
    return {"sent_nothing": True, "pid": run.pid, "run_at": run.at}


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """
    One record about a key, as views read it.

    Attributes:
        kind: the record type.
        word: what it says of its key, as its last word (:class:`Word`).
        token: an intent's UniqueRequestToken.
        payment: a payment's identity (an intent's, or a done record's own).
        result: what was kept of the response (NotifyWorkers' per-worker fates).
        error: a failure's ``code``, ``message``, ``request_id``.
        on: what a call expanded from a listing acted on (worker, HIT, type).
    """

    kind: Kind
    key: str
    op: str
    at: float | None
    word: Word
    token: str | None = None
    payment: Mapping[str, Any] | None = None
    result: Mapping[str, Any] | None = None
    request_id: str | None = None
    error: Mapping[str, Any] | None = None
    on: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, rec: Mapping[str, Any]) -> Entry:
        """
        Decode a key's record (intent, done, failed, withdrawn, unpaid).

        Raises:
            KeyError, TypeError, ValueError: it is not such a record.
        """
        kind = Kind(rec["t"])
        key, op, at = rec["k"], rec["op"], rec.get("at")
        if type(key) is not str or type(op) is not str:
            raise TypeError("k and op are strings")
        p, res, err, on = rec.get("p"), rec.get("res"), rec.get("err"), rec.get("on")
        tok, rid = rec.get("tok"), rec.get("rid")
        return cls(
            kind=kind,
            key=key,
            op=op,
            at=float(at) if isinstance(at, int | float) else None,
            word=_word(kind, rec),
            token=tok if isinstance(tok, str) else None,
            payment=p if isinstance(p, dict) else None,
            result=res if isinstance(res, dict) else None,
            request_id=rid if isinstance(rid, str) else None,
            error=err if isinstance(err, dict) else None,
            on=on if isinstance(on, dict) else None,
        )


def _word(kind: Kind, rec: Mapping[str, Any]) -> Word:
    if kind is Kind.INTENT:
        return Word.IN_DOUBT
    if kind is Kind.FAILED:
        return Word.FAILED
    if kind is Kind.UNPAID:
        return Word.NOT_PAID
    if kind is not Kind.DONE:
        return Word.NOT_RUN
    if rec.get("counted"):
        return Word.COUNTED
    if rec.get("reconciled"):
        return Word.RECONCILED
    return Word.ALREADY if rec.get("already") else Word.DONE


def counted_from(rec: Mapping[str, Any]) -> str | None:
    """Return the payment id an edited line's ``counted`` done moved to it, else ``None``."""
    moved = rec.get("from")
    return moved if rec.get("counted") is not None and type(moved) is str else None


def entry_at(file: IO[bytes], offset: int) -> Entry:
    """Return the key's record that starts at byte ``offset`` of an open journal."""
    file.seek(offset)
    return Entry.of(orjson.loads(file.readline()))


def entries(path: str, *, containing: bytes | None = None) -> Iterator[tuple[int, Entry]]:
    """
    Yield ``(offset, entry)`` for each complete record about a key, in journal order.

    A torn last line (a record being written) is skipped, and so are run, note and end
    records. ``containing`` skips lines without those bytes before decoding them (a
    filter: ``b'"SendBonus"'``). No lock is taken: a run may be writing the journal.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        for raw in f:
            if offset + len(raw) > size:
                break  # written after we looked: the next reader will see it whole
            start, offset = offset, offset + len(raw)
            if containing is not None and containing not in raw:
                continue
            try:
                rec = orjson.loads(raw)
                if isinstance(rec, dict) and rec.get("t") in _KEYED:
                    yield start, Entry.of(rec)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # torn (the replay has refused damage elsewhere)


_KEYED: Final = frozenset({"intent", "done", "failed", "withdrawn", "unpaid"})


def looks_like_journal(first: Mapping[str, Any]) -> bool:
    """Whether a file's first JSON object is a journal's run record (not a job line)."""
    return first.get("t") == "run" and "op" not in first
