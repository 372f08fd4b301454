"""
One row per API call of a journal's job, per worker for messages: the payment record a lab
keeps for its books (``turkbatch report``).

Only reads: no lock is taken (a run may hold the journal) and a torn last line (a record
being written) is ignored. The rows come from one replay with the views' detail
(:class:`~turkbatch.journal.Detail`): each call's deciding record and last intent, read as
:class:`~turkbatch.journal.Entry` values, so the report counts what ``status`` and
``plan`` count. A bonus's worker, assignment, amount and reason come from its intent;
what a call expanded from a listing acted on (worker, HIT, type) from its outcome's ``on``;
request ids from outcomes; per-worker message failures from the NotifyWorkers result.
Other operations' parameters are only in the job file, used when it is still there.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, TextIO

import orjson

from turkbatch import expand, jobs, money
from turkbatch.bulk import LISTED, Bulk
from turkbatch.catalog import PAYMENT_OPERATIONS, RECIPIENT_LIMITS
from turkbatch.errors import JobError
from turkbatch.journal import Detail, Entry, Journal, Word
from turkbatch.journal.records import entry_at

__all__ = [
    "COLUMNS",
    "FORMATS",
    "iso",
    "neutralise",
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
    "qualification_request_id",
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
    "QualificationRequestId": "qualification_request_id",
}
_NOT_PARAMS: Final = {*_OWN_COLUMNS, "WorkerIds", jobs.TOKEN}
_PAID: Final = (Word.DONE, Word.ALREADY, Word.RECONCILED)


def iso(at: object) -> str:
    """Return epoch seconds as ISO 8601 UTC (``2026-11-22T17:05:42Z``); ``""`` if not a time."""
    if not isinstance(at, int | float):
        return ""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Index:
    """Each call's deciding record and last intent, read at their offsets on demand."""

    def __init__(self, path: str, file: IO[bytes], detail: Detail) -> None:
        self._file = file
        self.final = dict(sorted(detail.final.items(), key=lambda kv: kv[1]))  # journal order
        self.intents = detail.intents
        self.children: dict[str, list[str]] = {}  # a listed line's key → its calls' keys
        for key in self.final:
            parent, slash, _ = key.partition("/")
            if slash:
                self.children.setdefault(parent, []).append(key)
        self.detail = detail

    def entry(self, offset: int | None) -> Entry | None:
        """Return the record at ``offset``."""
        return None if offset is None else entry_at(self._file, offset)


def _rows(
    index: _Index, key: str, op: str | None, line: int | None, params: Mapping[str, Any] | None
) -> Iterator[dict[str, Any]]:
    """Yield the report rows of one call (one per worker for NotifyWorkers)."""
    final = index.entry(index.final.get(key))
    intent = index.entry(index.intents.get(key))
    op = op or (final.op if final else "")
    if params is None:
        params = (intent.payment if intent else None) or (final.payment if final else None) or {}
    outcome = final.word if final else Word.NOT_RUN
    err = (final.error if final else None) or {}
    row: dict[str, Any] = {column: "" for column in COLUMNS}
    row |= {
        "line": line or "",
        "key": key,
        "op": op,
        "outcome": outcome.value,
        "request_id": (final.request_id if final else None) or err.get("request_id") or "",
        "token": (intent.token if intent else None) or params.get(jobs.TOKEN) or "",
        "time": iso(final.at if final else None),
        "error_code": err.get("code", ""),
        "error": err.get("message", ""),
    }
    named = {**params, **((final.on if final else None) or {})}
    for name, column in _OWN_COLUMNS.items():
        if name in named:
            row[column] = named[name]
    rest = {k: v for k, v in params.items() if k not in _NOT_PARAMS}
    row["params"] = orjson.dumps(rest, option=orjson.OPT_SORT_KEYS).decode() if rest else ""
    if op in PAYMENT_OPERATIONS and outcome in _PAID and row["bonus_amount"]:
        row["fee"] = f"{money.bonus_fee(money.parse(row['bonus_amount'])):.2f}"
    if op not in RECIPIENT_LIMITS:
        yield row
        return
    failures = {
        str(f.get("WorkerId")): f
        for f in ((final.result if final else None) or {}).get("NotifyWorkersFailureStatuses", ())
    }
    workers = [str(w) for w in params.get("WorkerIds") or ()] or list(failures)
    for worker in workers:
        failure = failures.get(worker) if outcome is Word.DONE else None
        yield row | {
            "worker_id": worker,
            **(
                {
                    "outcome": Word.FAILED.value,
                    "error_code": failure.get("NotifyWorkersFailureCode", ""),
                    "error": failure.get("NotifyWorkersFailureMessage", ""),
                }
                if failure
                else {}
            ),
        }


def _calls(index: _Index, item: jobs.Operation) -> Iterator[tuple[str, Mapping[str, Any] | None]]:
    """Yield ``(key, params)`` of each call a job line made or makes, in order."""
    if item.bulk is None or item.key in index.final:  # (a bulk line done whole by 0.1)
        yield item.key, item.params
    elif item.bulk in (Bulk.CHUNKS, Bulk.WORKERS):
        for call in expand.expand_static(item):
            yield call.key, call.params
    elif item.bulk is Bulk.BONUSES:  # keyed by payment: found by their HIT, amount, reason
        for key in index.detail.hit_payments(item.params):
            yield key, None
    elif item.bulk in LISTED:  # the line's parameters; the item's ids are in the outcome
        for key in index.children.pop(item.key, ()):
            yield key, item.params


def _job_rows(index: _Index, job: str) -> Iterator[dict[str, Any]]:
    """Rows in job order, each with its parameters from the job; then keys not in the job.

    ``job`` has just passed :func:`jobs.check_job`.
    """
    for item in jobs.read_job(job, checked=True):
        if not isinstance(item, jobs.Operation):
            continue
        for key, params in _calls(index, item):
            if key in index.final or params is not None:
                yield from _rows(index, key, item.op, item.line, params)
                index.final.pop(key, None)
    for key in list(index.final):
        yield from _rows(index, key, None, None, None)


def _journal_rows(index: _Index) -> Iterator[dict[str, Any]]:
    """Rows in the order calls got their last word, parameters from intents only."""
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
    Write one row per call (per worker for NotifyWorkers) of a journal's job.

    Rows follow the job file, whose parameters fill the row, when it is still there and
    valid (``job``, else the path the last run recorded): each line's calls under it, in
    order (a line listed at run time: the calls listed so far); calls never made are
    reported ``not_run``, and calls no line asks for any more come last. Otherwise rows
    follow the journal, and only bonuses have their parameters (kept in their intents).

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
    state = Journal.read(path, rows=True)  # refuses a damaged journal, as a run would
    assert state.detail is not None, "read with detail"
    last = state.last_run
    notes: list[str] = []
    with open(path, "rb") as f:
        index = _Index(path, f, state.detail)
        source = os.fspath(job) if job is not None else (last.job_path if last else None)
        usable = None
        if source and Path(source).exists():
            try:
                stats = jobs.check_job(source)
            except (JobError, OSError) as exc:
                why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                notes.append(f"the job file {source} is invalid ({why}), so it is not used")
            else:
                usable = source
                if last and stats.digest != last.job:
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
