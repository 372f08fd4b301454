"""
A spreadsheet (CSV) turned into job lines, validating as it goes: the conversion behind
``turkbatch job from-csv`` (its command line is :mod:`turkbatch.cli.job`).

Each data row becomes one job line for ``--op`` (NotifyWorkers rows become one line per
distinct Subject and MessageText, listing every row's worker). Columns are matched to API
parameters by name, ignoring case, spaces, ``_`` and ``-`` (``Bonus Amount`` →
BonusAmount); ``--map COLUMN=PARAM`` maps any other column, ``--set PARAM=VALUE`` gives
a value for rows whose own cell is missing or empty; other columns are ignored. Cells
are typed by the API model (:mod:`turkbatch.columns`).

MTurk's batch-results layout (``AssignmentId``, ``Approve``, ``Reject``, ``Answer.*``
...) is recognised for Approve/RejectAssignment: ``--op ApproveAssignment`` takes the
rows with any mark in ``Approve``; ``--op RejectAssignment`` takes the rows with text in
``Reject`` and sends it as RequesterFeedback; other rows are skipped, a row marked both
ways is an error, and the layout's own RequesterFeedback column (MTurk's record of past
feedback) is not read.

Rows are numbered as a spreadsheet shows them (the header is row 1). Every row is
validated exactly like a job line before any is written: any bad row is reported, in
a :class:`~turkbatch.errors.JobError`, as ``FILE:ROW: message``.
"""

from __future__ import annotations

import csv
import re
from array import array
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import orjson

from turkbatch import bulk, columns, jobs
from turkbatch.columns import Columns, Row
from turkbatch.errors import JobError, LineError
from turkbatch.wording import counted

__all__ = ["Report", "Spec", "convert", "why_skipped"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """
    What to convert.

    Attributes:
        op: the operation (a 2017-01-17 or legacy name).
        columns: explicit column → parameter mappings (``--map``).
        constants: parameter → value for rows without their own (``--set``).
        delimiter: the field separator; ``None``: tab for ``.tsv``, else comma.
        skip_empty: parameters whose empty cell skips the row (``--skip-empty``), instead
            of making it an error.
    """

    op: str
    columns: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    skip_empty: tuple[str, ...] = ()


@dataclass(slots=True)
class Report:
    """What a conversion did: rows read, lines written, rows skipped, columns ignored."""

    op: str
    rows: int = 0
    lines: int = 0
    skipped: int = 0
    marks: str | None = None
    ignored: list[str] = field(default_factory=list)


#: A byte that is not UTF-8, as decoding with ``surrogateescape`` leaves it.
_BAD_BYTE: Final = re.compile("[\udc80-\udcff]")
#: Separators a file may use instead of the one expected, named for the hint.
_SEPARATORS: Final = {";": "';'", "\t": "tab", "|": "'|'", ",": "','"}


def _rows(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """
    Yield ``(row number, cells)``; the header is row 1.

    Bytes that are not UTF-8 are kept as lone surrogates, so the row that holds one is
    reported (by :func:`_bad_byte`) rather than wherever the decoder's buffer ended.
    """
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
        number = 0
        try:
            for number, cells in enumerate(csv.reader(f, delimiter=delimiter), 1):
                yield number, cells
        except csv.Error as exc:
            raise JobError(str(path), [LineError(line=number + 1, message=str(exc))]) from None


def _bad_byte(cells: list[str], header: list[str]) -> str | None:
    """Say which column of a row holds a byte that is not UTF-8, or None."""
    for index, cell in enumerate(cells):
        match = _BAD_BYTE.search(cell)
        if match:
            byte = ord(match.group()) - 0xDC00
            column = f"column {header[index]!r}" if index < len(header) else "a cell"
            return (
                f"not valid UTF-8: byte 0x{byte:02X} in {column} (save the file as UTF-8, "
                "or as 'CSV UTF-8' from a spreadsheet)"
            )
    return None


def _one_column(header: list[str], delimiter: str) -> str | None:
    """When the header is one cell holding another separator, say which flag reads it."""
    if len(header) != 1:
        return None
    for sep, name in _SEPARATORS.items():
        if sep != delimiter and sep in header[0]:
            flag = "--delimiter tab" if sep == "\t" else f"--delimiter '{sep}'"
            return (
                f"the header is one column, {header[0]!r}: if the file is separated by "
                f"{name}, give {flag}"
            )
    return None


def _open(path: Path, spec: Spec) -> tuple[Columns, Report, Iterator[tuple[int, Row]]]:
    """
    Read the header and plan the conversion; return the plan, a fresh report, and the
    rows to come as ``(row number, record)``: a record is a dict to validate, a string
    saying why the row cannot be one, or ``None`` for a row skipped.
    """
    delimiter = spec.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    rows = _rows(path, delimiter)
    header = next(rows, (1, []))[1]
    if not header:
        raise JobError(str(path), [LineError(line=1, message="no header row")])
    why = _bad_byte(header, header) or _one_column(header, delimiter)
    if why:
        raise JobError(str(path), [LineError(line=1, message=why)])
    plan = columns.plan(
        spec.op,
        [h.strip() for h in header],
        mapping=spec.columns,
        constants=spec.constants,
        source=str(path),
        skip_empty=spec.skip_empty,
    )
    report = Report(op=plan.modern, marks=plan.selects, ignored=plan.ignored)

    def records() -> Iterator[tuple[int, Row]]:
        for number, cells in rows:
            if not any(c.strip() for c in cells):
                continue
            bad = _bad_byte(cells, header)
            if bad:
                yield number, bad
            elif len(cells) > len(header):
                yield (
                    number,
                    f"{counted(len(cells), 'cell')} but only {counted(len(header), 'column')}",
                )
            else:
                yield number, plan.record(cells)

    return plan, report, records()


def _checked(path: Path, spec: Spec, max_errors: int) -> Report:
    """Pass 1: convert and validate every row; raise JobError with row numbers."""
    _, report, records = _open(path, spec)
    numbers = array("L")  # the row number of each record validated
    errors: list[LineError] = []
    total = 0

    def valid() -> Iterator[dict[str, Any]]:
        nonlocal total
        for number, rec in records:
            report.rows += 1
            if rec is None:
                report.skipped += 1
            elif isinstance(rec, str):
                total += 1
                errors.append(LineError(line=number, message=rec))
            else:
                numbers.append(number)
                yield rec

    try:
        jobs.check_items(valid(), source=str(path), max_errors=max_errors)
    except JobError as exc:
        if not numbers and not total:
            why = why_skipped(spec, report)
            message = f"no rows to convert ({report.skipped:,} skipped: {why})"
            raise JobError(str(path), [LineError(line=report.rows + 1, message=message)]) from None
        if numbers:  # (with no record at all, its one error is "no operations")
            total += exc.total
            errors.extend(
                LineError(line=numbers[e.line - 1], message=_hinted(e.message)) for e in exc.errors
            )
    if total:
        errors.sort(key=lambda e: e.line)
        raise JobError(str(path), errors[:max_errors], total)
    return report


def _hinted(message: str) -> str:
    """A parameter required but missing is an empty cell: say how to fill or skip it."""
    name, sep, _ = message.partition(" is required")
    if not sep or " " in name:
        return message
    return (
        f"{message}: this row has no value for it (--set {name}=VALUE fills it; "
        f"--skip-empty {name} skips such rows)"
    )


def _lines(path: Path, spec: Spec) -> Iterator[dict[str, Any]]:
    """Pass 2: the valid records again, NotifyWorkers rows grouped by message."""
    plan, _, records = _open(path, spec)
    if plan.modern not in bulk.ALWAYS:
        yield from (rec for _, rec in records if isinstance(rec, dict))
        return
    groups: dict[tuple[str, str], list[str]] = {}
    for _, rec in records:
        if isinstance(rec, dict):
            key = (rec.get("Subject", ""), rec.get("MessageText", ""))
            groups.setdefault(key, []).extend(rec.get("WorkerIds", ()))
    for (subject, text), workers in groups.items():
        yield {"op": plan.op, "Subject": subject, "MessageText": text, "WorkerIds": workers}


def convert(path: Path, spec: Spec, out: IO[bytes], *, max_errors: int = 50) -> Report:
    """
    Convert a CSV file into JSONL job lines written to ``out``; nothing is written on error.

    The lines are in their 2017-01-17 form (legacy names mapped); a token or an ``id``
    appears only where the row gave one.

    Raises:
        UsageError: the operation, a ``--map`` or a ``--set`` is unusable.
        JobError: bad rows, with their row numbers (or an unreadable or empty file).
        OSError: the file cannot be read.
    """
    report = _checked(path, spec, max_errors)
    given: deque[dict[str, Any]] = deque()  # the record each operation comes from

    def lines() -> Iterator[dict[str, Any]]:
        for rec in _lines(path, spec):
            given.append(rec)
            yield rec

    report.lines = 0
    for op in jobs.iter_items(lines()):
        source = given.popleft()
        if not isinstance(op, jobs.Operation):
            continue
        rec = {"op": op.op, **op.params, **(op.filters or {})}
        if jobs.TOKEN not in source:
            rec.pop(jobs.TOKEN, None)
        if "id" in source:
            rec["id"] = source["id"]
        out.write(orjson.dumps(rec) + b"\n")
        report.lines += 1
    return report


def why_skipped(spec: Spec, report: Report) -> str:
    """Why rows were skipped: not marked for review, or an empty ``--skip-empty`` cell."""
    why = [f"not marked {report.marks}"] if report.marks else []
    why += [f"no {name}" for name in spec.skip_empty]
    return " or ".join(why) or "empty"
