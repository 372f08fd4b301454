"""
``turkbatch job from-csv``: turn a spreadsheet (CSV) into a job file, validating as it goes.

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
validated exactly like a job line; any bad row is reported as ``FILE:ROW: message`` and
nothing is written (exit 2). Otherwise the JSONL goes to ``--to`` (replaced
atomically) or standard output (exit 0).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import re
import shutil
import sys
import tempfile
from array import array
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import orjson

from turkbatch import columns, jobs, options
from turkbatch.columns import Columns, Row
from turkbatch.errors import JobError, LineError, UsageError
from turkbatch.wording import counted

__all__ = ["Report", "Spec", "add_parser", "convert", "run"]

DESCRIPTION: Final = """\
Turn a spreadsheet (CSV) into a job file, checking every row as a job line.

Each data row becomes one job line for --op (NotifyWorkers rows become one line per
distinct Subject and MessageText, listing every row's worker). Columns map to API
parameters by name, ignoring case, spaces, _ and - ("Bonus Amount" is BonusAmount);
--map COLUMN=PARAM maps any other column, --set PARAM=VALUE fills the rows whose own
cell is missing or empty, and --skip-empty PARAM skips them instead. Other columns are
ignored. Cells are typed as the API wants them (numbers, true/false, lists split on
commas, semicolons or spaces); a leading $ on an amount is dropped.

In MTurk's batch-results CSV (AssignmentId, Approve, Reject, Answer.* ...), --op
ApproveAssignment takes the rows marked in Approve, and --op RejectAssignment the rows
with text in Reject, sent as RequesterFeedback; a row marked both ways is an error.

Rows are numbered as a spreadsheet shows them (the header is row 1). A bad row is
reported as FILE:ROW: message and nothing is written; otherwise the job goes to --to
(replaced atomically) or standard output.
"""
JOB_EXAMPLES: Final = """\
examples:
  turkbatch job from-csv payouts.csv --op SendBonus --to payouts.jsonl
  turkbatch job from-csv --help                   columns, batch results, every flag

exit codes: 0 written, 2 bad rows or usage (nothing written)
"""
EXAMPLES: Final = """\
examples:
  turkbatch job from-csv payouts.csv --op SendBonus --set Reason="Thanks!" --to payouts.jsonl
  turkbatch job from-csv results.csv --op ApproveAssignment --set RequesterFeedback="Great"
  turkbatch job from-csv results.csv --op RejectAssignment --to rejections.jsonl
  turkbatch job from-csv people.csv --op NotifyWorkers --map "Worker ID=WorkerIds" \\
      --set Subject="New study" --set MessageText="..."
  turkbatch job from-csv bonuses.csv --op SendBonus --skip-empty BonusAmount --delimiter ';'

exit codes: 0 written, 2 bad rows or usage (nothing written)
"""


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
            message = f"no rows to convert ({report.skipped:,} skipped: {_skipped(spec, report)})"
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
    if plan.modern != "NotifyWorkers":
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


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """
    Add the ``job`` command (subcommand ``from-csv``) to ``commands``.

    Returns:
        The ``job`` parser.
    """
    job: argparse.ArgumentParser = commands.add_parser(
        "job",
        help="make job files (from-csv)",
        description="Make job files: job from-csv turns a spreadsheet into one.",
        epilog=JOB_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = job.add_subparsers(dest="job_command", metavar="SUBCOMMAND", required=True)
    p = sub.add_parser(
        "from-csv",
        help="turn a CSV (payouts, MTurk batch results) into a job file",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("csv_file", type=Path, metavar="FILE", help="the CSV file (UTF-8)")
    p.add_argument("--op", dest="csv_op", required=True, metavar="OPERATION", help="e.g. SendBonus")
    p.add_argument(
        "--map",
        dest="csv_map",
        type=_pair,
        action="append",
        default=[],
        metavar="COLUMN=PARAM",
        help="read PARAM from COLUMN (repeatable)",
    )
    p.add_argument(
        "--set",
        dest="csv_set",
        type=_pair,
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="PARAM for every row whose own cell is missing or empty (repeatable)",
    )
    p.add_argument(
        "--to",
        dest="csv_output",
        type=Path,
        metavar="JOB",
        help="write the job file JOB (default: standard output)",
    )
    p.add_argument(
        "--skip-empty",
        dest="csv_skip_empty",
        action="append",
        default=[],
        metavar="PARAM",
        help="skip the rows whose PARAM cell is empty (a bonus column left blank for the "
        "workers who get none), instead of refusing them (repeatable)",
    )
    p.add_argument(
        "--delimiter",
        dest="csv_delimiter",
        type=_delimiter,
        metavar="C",
        help="field separator (default: a comma, or a tab for .tsv)",
    )
    options.connection_options(p, suppress=True)
    options.output_options(
        p, suppress=True, hint="; the job is JSON Lines either way: write it to a file with --to"
    )
    return job


def _delimiter(text: str) -> str:
    """One character; ``tab`` (or ``\\t``) for a tab."""
    value = "\t" if text in ("tab", "\\t", "\t") else text
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"must be one character (or tab), not {text!r}")
    return value


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name.strip(), value


def run(args: argparse.Namespace) -> int:
    """
    Run ``job from-csv`` with parsed arguments.

    Returns:
        0 when the job file was written, 2 for bad rows or usage (nothing written).
    """
    spec = Spec(
        op=args.csv_op,
        columns=dict(args.csv_map),
        constants=dict(args.csv_set),
        delimiter=args.csv_delimiter,
        skip_empty=tuple(args.csv_skip_empty),
    )
    target: Path | None = args.csv_output
    try:
        if target is None:
            with tempfile.TemporaryFile() as buffer:
                report = convert(args.csv_file, spec, buffer)
                buffer.seek(0)
                shutil.copyfileobj(buffer, sys.stdout.buffer)
                sys.stdout.flush()
        else:
            report = _write(args.csv_file, spec, target)
    except JobError as exc:
        print(exc.render(), file=sys.stderr)
        print(f"turkbatch: {args.csv_file}: nothing written", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"turkbatch: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"turkbatch: {exc.filename or args.csv_file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    _summarise(args.csv_file, spec, report, target)
    return 0


def _write(source: Path, spec: Spec, target: Path) -> Report:
    """Convert into a temporary file beside ``target``, then rename it over ``target``."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as out:
            report = convert(source, spec, out)
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return report


def _skipped(spec: Spec, report: Report) -> str:
    """Why rows were skipped: not marked for review, or an empty ``--skip-empty`` cell."""
    why = [f"not marked {report.marks}"] if report.marks else []
    why += [f"no {name}" for name in spec.skip_empty]
    return " or ".join(why) or "empty"


def _summarise(source: Path, spec: Spec, report: Report, target: Path | None) -> None:
    where = str(target) if target else "standard output"
    skipped = ""
    if report.skipped:
        skipped = f"; {report.skipped:,} skipped ({_skipped(spec, report)})"
    print(
        f"turkbatch: {source}: {counted(report.rows, 'row')} → "
        f"{counted(report.lines, f'{report.op} line')} in {where}{skipped}",
        file=sys.stderr,
    )
    if report.ignored:
        print(f"turkbatch: columns not used: {', '.join(report.ignored)}", file=sys.stderr)
