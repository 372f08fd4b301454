"""
``turkbatch job from-csv``: its options, and the job file it writes (atomically, or to
standard output) with a one-line summary. The conversion is :mod:`turkbatch.csvjob`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Final

from turkbatch.cli import options
from turkbatch.csvjob import Report, Spec, convert, why_skipped
from turkbatch.wording import counted

__all__ = ["add_parser", "command"]

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


def add_parser(commands: options.Commands) -> argparse.ArgumentParser:
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
    p.set_defaults(handler=command, invalid_job="{path}: nothing written")
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


def command(args: argparse.Namespace) -> int:
    """
    ``turkbatch job from-csv FILE``: write the job, or nothing at all.

    Returns:
        0 when the job file was written.

    Raises:
        JobError: bad rows (nothing written).
        UsageError: an unusable ``--op``, ``--map`` or ``--set``.
        OSError: a file cannot be read or written.
    """
    spec = Spec(
        op=args.csv_op,
        columns=dict(args.csv_map),
        constants=dict(args.csv_set),
        delimiter=args.csv_delimiter,
        skip_empty=tuple(args.csv_skip_empty),
    )
    target: Path | None = args.csv_output
    if target is None:
        with tempfile.TemporaryFile() as buffer:
            report = convert(args.csv_file, spec, buffer)
            buffer.seek(0)
            shutil.copyfileobj(buffer, sys.stdout.buffer)
            sys.stdout.flush()
    else:
        report = _write(args.csv_file, spec, target)
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


def _summarise(source: Path, spec: Spec, report: Report, target: Path | None) -> None:
    where = str(target) if target else "standard output"
    skipped = ""
    if report.skipped:
        skipped = f"; {report.skipped:,} skipped ({why_skipped(spec, report)})"
    print(
        f"turkbatch: {source}: {counted(report.rows, 'row')} → "
        f"{counted(report.lines, f'{report.op} line')} in {where}{skipped}",
        file=sys.stderr,
    )
    if report.ignored:
        print(f"turkbatch: columns not used: {', '.join(report.ignored)}", file=sys.stderr)
