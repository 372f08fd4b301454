"""
The files measured: job files and journals of any size, written fast and deterministically.

Every operation has its own WorkerId and AssignmentId (the permissive simulator world
accepts any well-formed id), so every line has its own key and token. Bonuses are one cent
(two with MTurk's minimum fee), so 100,000 of them fit the simulator's 10,000.00 balance.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from turkbatch.jobs import token_for
from turkbatch.ledger import PAY_PREFIX, payment_id

BONUS = "0.01"
REASON = "Benchmark bonus"
_BATCH = 64  # journal records come in batches like a run's: a group of intents, then outcomes


def _worker(tag: str, i: int) -> str:
    return f"A{tag}{i:010d}"


def _assignment(tag: str, i: int) -> str:
    return f"3{tag}{i:020d}"


def bonus_line(tag: str, i: int, *, with_id: bool = False) -> bytes:
    """Return job line ``i`` of a SendBonus job; ``tag`` (A-Z0-9) keeps jobs apart."""
    line: dict[str, str] = {"op": "SendBonus"}
    if with_id:
        line["id"] = f"{tag}-{i}"
    line |= {
        "WorkerId": _worker(tag, i),
        "AssignmentId": _assignment(tag, i),
        "BonusAmount": BONUS,
        "Reason": REASON,
    }
    return orjson.dumps(line) + b"\n"


def _write(path: Path, lines: Iterable[bytes]) -> Path:
    """
    Write ``lines`` to ``path`` and flush them to the disk; return ``path``.

    A measurement that starts while the kernel is still writing a fresh file back (over a
    hundred MB for the million-line files) shares the machine with that writeback.
    """
    with path.open("wb") as f:
        f.writelines(lines)
        f.flush()
        os.fsync(f.fileno())
    return path


def write_bonus_job(path: Path, count: int, *, tag: str, with_id: bool = False) -> Path:
    """Write a job of ``count`` SendBonus lines and return its path."""
    return _write(path, (bonus_line(tag, i, with_id=with_id) for i in range(count)))


def _mixed_lines(count: int) -> Iterator[bytes]:
    """Six bonuses, two approvals, a message and a grant in every ten lines."""
    for i in range(count):
        worker, assignment, kind = _worker("V", i), _assignment("V", i), i % 10
        if kind < 6:
            yield (
                b'{"op":"SendBonus","WorkerId":"%s","AssignmentId":"%s","BonusAmount":"1.25",'
                b'"Reason":"Great work on the labelling study"}\n'
            ) % (worker.encode(), assignment.encode())
        elif kind < 8:
            yield (
                b'{"op":"ApproveAssignment","AssignmentId":"%s","RequesterFeedback":"Thanks!"}\n'
            ) % assignment.encode()
        elif kind == 8:
            yield (
                b'{"op":"NotifyWorkers","Subject":"New study","MessageText":"A new study is '
                b'open for you.","WorkerIds":["%s"]}\n'
            ) % worker.encode()
        else:
            yield (
                b'{"op":"AssociateQualificationWithWorker","QualificationTypeId":'
                b'"3QUALBENCHMARK00000000000000","WorkerId":"%s","IntegerValue":%d,'
                b'"SendNotification":false}\n'
            ) % (worker.encode(), i % 100)


def write_mixed_job(path: Path, count: int) -> Path:
    """Write a realistic job of ``count`` lines of four operations and return its path."""
    return _write(path, _mixed_lines(count))


def _paid(tag: str, i: int) -> tuple[str, dict[str, str]]:
    """The key (a bonus is keyed by its payment: :mod:`turkbatch.ledger`) and payment of
    bonus ``i`` of the ``tag`` job."""
    params = {
        "WorkerId": _worker(tag, i),
        "AssignmentId": _assignment(tag, i),
        "BonusAmount": BONUS,
        "Reason": REASON,
    }
    return PAY_PREFIX + payment_id(*params.values()), params


def _journal_records(tag: str, keys: int, at: float) -> Iterator[bytes]:
    dump = orjson.OPT_APPEND_NEWLINE
    run = {"t": "run", "job": "0" * 64, "job_path": None, "pid": 1, "at": at, "keys": 2}
    yield orjson.dumps(run, option=dump)
    for start in range(0, keys, _BATCH):
        batch = range(start, min(keys, start + _BATCH))
        paid = [_paid(tag, i) for i in batch]
        for i, (key, params) in zip(batch, paid, strict=True):
            intent = {"t": "intent", "k": key, "op": "SendBonus", "tok": token_for(key)}
            yield orjson.dumps(intent | {"at": at + i / 1000, "p": params}, option=dump)
        for i, (key, _) in zip(batch, paid, strict=True):
            done = {"t": "done", "k": key, "op": "SendBonus", "at": at + i / 1000}
            rid = f"{i:08x}-5eed-4bad-8c0d-{i:012x}"
            yield orjson.dumps(done | {"rid": rid}, option=dump)
    yield orjson.dumps({"t": "end", "pid": 1, "at": at + keys / 1000}, option=dump)


def write_journal(path: Path, records: int, *, tag: str) -> int:
    """
    Write a finished run's journal of ``records`` records (a run, intent and done pairs, an
    end), in the format of :mod:`turkbatch.journal`, for the ``with_id`` bonus job of the
    same ``tag``.

    Returns:
        How many SendBonus keys it records as done.
    """
    keys = max(1, (records - 2) // 2)
    _write(path, _journal_records(tag, keys, time.time() - 3600))
    return keys
