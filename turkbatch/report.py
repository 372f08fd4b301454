"""
One row per operation of a journal's job, per worker for messages: the payment record a
lab keeps for its books (``turkbatch report``).

Only reads: no lock is taken (a run may hold the journal) and a torn last line (a record
being written) is ignored. The journal's replay (:meth:`Journal.read`) refuses damage;
the rows come from the records themselves: a bonus's worker, assignment, amount and
reason from its intent (``"p"``), request ids from outcomes, per-worker message failures
from ``res.NotifyWorkersFailureStatuses``. Other operations' parameters are only in the
job file, used when it is still there.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, TextIO

import orjson

from turkbatch import expand, jobs, money
from turkbatch.errors import JobError
from turkbatch.journal import Journal
from turkbatch.keyset import KeySet

__all__ = [
    "COLUMNS",
    "FORMATS",
    "iso",
    "neutralise",
    "outcome_of",
    "records",
    "write_report",
]

#: Report formats: CSV, one JSON array, or JSON Lines.
FORMATS: Final = ("csv", "json", "jsonl")

#: The columns of a report, in order.
COLUMNS: Final = (
    "line",
    "key",
    "op",
    "outcome",
    "worker_id",
    "assignment_id",
    "bonus_amount",
    "fee",
    "reason",
    "hit_id",
    "qualification_type_id",
    "request_id",
    "token",
    "time",
    "error_code",
    "error",
    "params",
)
_OWN_COLUMNS: Final = {
    "WorkerId": "worker_id",
    "AssignmentId": "assignment_id",
    "BonusAmount": "bonus_amount",
    "Reason": "reason",
    "HITId": "hit_id",
    "QualificationTypeId": "qualification_type_id",
}
_NOT_PARAMS: Final = {*_OWN_COLUMNS, "WorkerIds", jobs.TOKEN}
_PAID: Final = ("done", "already", "reconciled")


def records(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(offset, record)`` for each complete record, skipping a torn last line."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        for raw in f:
            if offset + len(raw) > size:
                break  # written after we looked: the next reader will see it whole
            start, offset = offset, offset + len(raw)
            try:
                rec = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # torn (Journal.read has already refused damage elsewhere)
            if isinstance(rec, dict):
                yield start, rec


def iso(at: object) -> str:
    """Return epoch seconds as ISO 8601 UTC (``2026-11-22T17:05:42Z``); ``""`` if not a time."""
    if not isinstance(at, int | float):
        return ""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def outcome_of(rec: Mapping[str, Any] | None) -> str:
    """Return what a key's deciding record says: done, already, reconciled, failed, ..."""
    if rec is None:
        return "not_run"
    if rec["t"] == "intent":
        return "in_doubt"
    if rec["t"] == "failed":
        return "failed"
    if rec["t"] == "unpaid":
        return "not_paid"  # looked up after a lost answer: it never took effect
    if rec.get("counted"):
        return "counted"  # an edited line, paid by an earlier payment (no fee here)
    return "reconciled" if rec.get("reconciled") else "already" if rec.get("already") else "done"


class _Index:
    """Where each key's last word and last intent are in the journal (byte offsets)."""

    def __init__(self, path: str, file: IO[bytes]) -> None:
        self._file = file
        self.final: dict[str, int] = {}  # key → its deciding record: done (final), else last
        self.intents: dict[str, int] = {}
        self.job_path: str | None = None
        self.job_digest: str | None = None
        done = KeySet()  # a million keys in ~30 MB
        # key → its last word and last intent before a pending intent, for a withdrawal
        withdrawable: dict[str, tuple[int, int | None]] = {}
        for offset, rec in records(path):
            kind, key = rec.get("t"), rec.get("k")
            if kind == "run" and rec.get("job_path"):  # the last run given a job file
                self.job_path, self.job_digest = rec["job_path"], rec.get("job")
            elif not isinstance(key, str) or key in done:
                continue
            elif kind in ("intent", "done", "failed"):
                earlier = self.final.pop(key, None)  # keep dict order = order of last words
                self.final[key] = offset
                if kind == "intent":
                    if earlier is not None:  # a failure being retried, a resend in doubt
                        withdrawable[key] = (earlier, self.intents.get(key))
                    self.intents[key] = offset
                else:
                    withdrawable.pop(key, None)
                    if kind == "done":
                        done.add(key)
            elif kind == "unpaid":
                self.final.pop(key, None)
                self.final[key] = offset
                self.intents.pop(key, None)
                withdrawable.pop(key, None)
            elif kind == "withdrawn" and self.intents.pop(key, None) is not None:
                # The intent's call was never sent: back to the words before it, if any.
                self.final.pop(key, None)
                if (before := withdrawable.pop(key, None)) is not None:
                    self.final[key], intent = before
                    if intent is not None:
                        self.intents[key] = intent

    def record(self, offset: int | None) -> dict[str, Any] | None:
        """Return the record at ``offset``."""
        if offset is None:
            return None
        self._file.seek(offset)
        rec: dict[str, Any] = orjson.loads(self._file.readline())
        return rec


def _rows(
    index: _Index, key: str, op: str | None, line: int | None, params: Mapping[str, Any] | None
) -> Iterator[dict[str, Any]]:
    """Yield the report rows of one operation (one per worker for NotifyWorkers)."""
    final = index.record(index.final.get(key))
    intent = index.record(index.intents.get(key))
    op = op or (final or {}).get("op") or ""
    if params is None:
        params = (intent or {}).get("p") or (final or {}).get("p") or {}
    outcome = outcome_of(final)
    err = (final or {}).get("err") or {}
    row: dict[str, Any] = {column: "" for column in COLUMNS}
    row |= {
        "line": line or "",
        "key": key,
        "op": op,
        "outcome": outcome,
        "request_id": (final or {}).get("rid") or err.get("request_id") or "",
        "token": (intent or {}).get("tok") or params.get(jobs.TOKEN) or "",
        "time": iso((final or {}).get("at")),
        "error_code": err.get("code", ""),
        "error": err.get("message", ""),
    }
    for name, column in _OWN_COLUMNS.items():
        if name in params:
            row[column] = params[name]
    rest = {k: v for k, v in params.items() if k not in _NOT_PARAMS}
    row["params"] = orjson.dumps(rest, option=orjson.OPT_SORT_KEYS).decode() if rest else ""
    if op == "SendBonus" and outcome in _PAID and row["bonus_amount"]:
        row["fee"] = f"{money.bonus_fee(money.parse(row['bonus_amount'])):.2f}"
    if op != "NotifyWorkers":
        yield row
        return
    failures = {
        str(f.get("WorkerId")): f
        for f in ((final or {}).get("res") or {}).get("NotifyWorkersFailureStatuses", ())
    }
    workers = [str(w) for w in params.get("WorkerIds") or ()] or list(failures)
    for worker in workers:
        failure = failures.get(worker) if outcome == "done" else None
        yield row | {
            "worker_id": worker,
            **(
                {
                    "outcome": "failed",
                    "error_code": failure.get("NotifyWorkersFailureCode", ""),
                    "error": failure.get("NotifyWorkersFailureMessage", ""),
                }
                if failure
                else {}
            ),
        }


def _job_rows(index: _Index, job: str) -> Iterator[dict[str, Any]]:
    """Rows in job order, each with its parameters from the job; then keys not in the job.

    ``job`` has just passed :func:`jobs.check_job`.
    """
    for item in jobs.read_job(job, checked=True):
        if not isinstance(item, jobs.Operation):
            continue
        if item.bulk in (jobs.Bulk.CHUNKS, jobs.Bulk.WORKERS) and item.key not in index.final:
            calls: Iterable[jobs.Operation] = expand.expand_static(item)
        elif item.bulk is not None and item.key not in index.final:
            continue  # listed calls are known only from the journal: they come last
        else:
            calls = (item,)
        for call in calls:
            yield from _rows(index, call.key, call.op, call.line, call.params)
            index.final.pop(call.key, None)
    for key in list(index.final):
        yield from _rows(index, key, None, None, None)


def _journal_rows(index: _Index) -> Iterator[dict[str, Any]]:
    """Rows in the order operations got their last word, parameters from intents only."""
    for key in list(index.final):
        yield from _rows(index, key, None, None, None)


def write_report(
    journal: str | os.PathLike[str],
    out: TextIO,
    *,
    fmt: str = "csv",
    job: str | os.PathLike[str] | None = None,
) -> list[str]:
    """
    Write one row per operation (per worker for NotifyWorkers) of a journal's job.

    Rows follow the job file, whose parameters fill the row, when it is still there and
    valid (``job``, else the path the last run recorded); lines never run are reported
    ``not_run``, and operations no longer in the job come last. Otherwise rows follow the
    journal, and only bonuses have their parameters (kept in their intents).

    Args:
        journal: the journal to read (a run may be writing it).
        out: where to write the rows.
        fmt: ``csv``, ``json`` (one array) or ``jsonl`` (one object per line).
        job: the job file, when it has moved since the run.

    Returns:
        Notes for the user (what could not be reported in full).

    Raises:
        JournalError: the journal cannot be read, or is damaged before its last line.
    """
    path = os.fspath(journal)
    Journal.read(path)  # refuses a damaged journal, as a run would
    notes: list[str] = []
    with open(path, "rb") as f:
        index = _Index(path, f)
        source = os.fspath(job) if job is not None else index.job_path
        usable = None
        if source and Path(source).exists():
            try:
                stats = jobs.check_job(source)
            except (JobError, OSError) as exc:
                why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                notes.append(f"the job file {source} is invalid ({why}), so it is not used")
            else:
                usable = source
                if index.job_digest and stats.digest != index.job_digest:
                    notes.append(
                        f"{source} changed since the last run; rows follow it as it is now"
                    )
        if usable is None:
            missing = not notes  # (else the job file is there, but invalid: said above)
            where = f"job file {source or '(not recorded)'} not found: " if missing else ""
            notes.append(
                f"{where}only bonuses have their parameters (kept in the journal); other "
                "operations show outcomes only (give the job with --job PATH)"
            )
        _write(_job_rows(index, usable) if usable else _journal_rows(index), out, fmt)
    return notes


#: What a spreadsheet takes a cell starting with as a formula (OWASP's CSV injection list,
#: with the fullwidth forms some spreadsheets also read).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(value: object) -> object:
    """
    Return a CSV cell a spreadsheet shows as text: a leading ``'`` on formula-like text.

    A Reason of ``=HYPERLINK(...)`` would otherwise run when the report is opened.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _write(rows: Iterator[dict[str, Any]], out: TextIO, fmt: str) -> None:
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: neutralise(v) for k, v in row.items()} for row in rows)
        return
    if fmt == "jsonl":
        for row in rows:
            out.write(orjson.dumps(row).decode() + "\n")
        return
    out.write("[")
    for n, row in enumerate(rows):
        out.write(("\n" if n == 0 else ",\n") + orjson.dumps(row).decode())
    out.write("\n]\n")
