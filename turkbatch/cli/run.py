"""
``turkbatch run JOB``: its options, the :class:`~turkbatch.settings.Settings` they make,
the production prompt, and the summary it prints (the exit code is the summary's).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from turkbatch import engine, inputs, logs, payments, progress
from turkbatch import plan as planning
from turkbatch import settings as defaults
from turkbatch.cli import render
from turkbatch.cli.options import (
    EXIT_CODES,
    INVALID_NOTHING_SENT,
    Commands,
    client_settings,
    connection_options,
    count_arg,
    endpoint_options,
    guard_options,
    invocation,
    journal_option,
    output_options,
    rate_arg,
    seconds_arg,
    subcommand,
)
from turkbatch.client import PRODUCTION_URL, SANDBOX_URL
from turkbatch.errors import UsageError
from turkbatch.limits import MIN_RATE

__all__ = ["add_parser", "command"]

EXAMPLES = (
    """\
examples:
  turkbatch run jobs/demo.jsonl --sim              try a job on the embedded simulator
  turkbatch run payouts.jsonl                       the MTurk sandbox (the default)
  turkbatch run payouts.jsonl --production          real money: shows the totals, asks
  turkbatch run payouts.jsonl --production --yes --max-spend 1500    in a script
  turkbatch run payouts.jsonl --endpoint-url http://127.0.0.1:8443 --log-file run.log
Running the same command again resumes: operations the journal records as done are
skipped, and every bonus is paid exactly once. Before the first payment, bonuses above
--max-bonus (the typo guard, $10.00) refuse the run, as do a total above --max-spend and
an available balance that does not cover bonuses + MTurk's fees.
"""
    + EXIT_CODES
)


def add_parser(commands: Commands) -> argparse.ArgumentParser:
    """Add ``turkbatch run`` to the command line."""
    run = subcommand(
        commands,
        "run",
        help="run a job file (validates it all first; resumes from its journal)",
        description="Validate a JSONL job file, then run every operation in it through "
        "rate-limited concurrent MTurk calls, journaling each outcome.",
        epilog=EXAMPLES,
    )
    run.set_defaults(handler=command, invalid_job=INVALID_NOTHING_SENT)
    run.add_argument("job", help="the JSONL job file")
    endpoint_options(run)
    run.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation before using production"
    )
    connection_options(run, suppress=True)
    guard_options(run).add_argument(
        "--no-balance-check",
        action="store_true",
        help="do not check the balance before paying (when the credentials may not call "
        "GetAccountBalance, or funds arrive during the run)",
    )
    pace = run.add_argument_group("pace")
    pace.add_argument(
        "--rate",
        type=rate_arg,
        default=defaults.DEFAULT_RATE,
        metavar="R",
        help=f"ceiling in requests/s for the account, at least {MIN_RATE:g}; cut "
        "automatically when MTurk throttles (default: %(default)g)",
    )
    pace.add_argument(
        "--concurrency",
        type=count_arg,
        default=defaults.DEFAULT_CONCURRENCY,
        metavar="N",
        help="calls in flight at once (default: %(default)s)",
    )
    pace.add_argument(
        "--grace",
        type=seconds_arg,
        default=defaults.DEFAULT_GRACE,
        metavar="S",
        help="seconds in-flight calls get after Ctrl-C (default: %(default)g)",
    )
    state = run.add_argument_group("journal")
    journal_option(state)
    state.add_argument(
        "--reconcile",
        action="store_true",
        help="before paying, look up every bonus the journal does not record as done with "
        "ListBonusPayments and skip those already paid (use after losing a journal)",
    )
    state.add_argument(
        "--resend-expired",
        action="store_true",
        help="resend in-doubt CreateHIT-family calls older than MTurk's 24-hour token window "
        "(check with ListHITs first: no listing can tell whether they happened)",
    )
    state.add_argument(
        "--retry-failed",
        action="store_true",
        help="send again operations an earlier run recorded as failed (bonuses are looked "
        "up first: one MTurk shows paid is not paid again)",
    )
    state.add_argument(
        "--edited-payments",
        choices=[e.value for e in payments.EditedPayments],
        metavar="{counted,pay-again}",
        help="a bonus line edited after the journal shows its worker and assignment paid "
        "(another amount or reason) makes the run refuse; 'counted': that earlier payment "
        "counts for the line as it now reads; 'pay-again': pay the line too",
    )
    state.add_argument(
        "--endpoint-moved",
        action="store_true",
        help="the journal records another endpoint URL for the same service and account "
        "(a proxy or simulator at a new address): go on, and record this one",
    )
    out = run.add_argument_group("progress and logging")
    out.add_argument(
        "--quiet", action="store_true", help="no progress; only warnings and the summary"
    )
    out.add_argument(
        "--progress",
        type=seconds_arg,
        default=5.0,
        metavar="S",
        help="off a terminal, seconds between progress lines (on one, a live bar); "
        "0 for no progress at all (default: %(default)g)",
    )
    out.add_argument(
        "--log-format",
        choices=("auto", "console", "json"),
        default="auto",
        help="log format on standard error (default: auto, console on a terminal, else json)",
    )
    out.add_argument(
        "--log-file", type=Path, metavar="PATH", help="also write JSON log lines here (mode 0600)"
    )
    output_options(run, suppress=True)
    return run


def _settings(args: argparse.Namespace, bar: progress.Bar | None) -> engine.Settings:
    client = client_settings(args)  # conflicting endpoints first: no --yes can settle those
    if args.production and not args.yes and not sys.stdin.isatty():
        raise UsageError(
            "--production moves real money: add --yes to confirm when not on a terminal"
        )
    show: Callable[[Any], None] | None = None
    interval = 0.0
    if bar is not None:
        show, interval = bar, progress.BAR_INTERVAL
    elif not args.quiet and args.progress > 0:
        show, interval = progress.Lines(), args.progress
    return engine.Settings(
        client=client,
        rate=args.rate,
        concurrency=args.concurrency,
        journal=args.journal,
        retry_failed=args.retry_failed,
        resend_expired=args.resend_expired,
        reconcile=args.reconcile,
        grace=args.grace,
        progress_interval=interval,
        progress=show,
        handle_signals=True,
        max_bonus=args.max_bonus,
        max_spend=args.max_spend,
        balance_check=not args.no_balance_check,
        confirm=_confirm if args.production and not args.yes else None,
        edited_payments=payments.EditedPayments(args.edited_payments)
        if args.edited_payments
        else None,
        endpoint_moved=args.endpoint_moved,
    )


def _confirm(plan: planning.Plan) -> bool:
    """Show the plan's totals on the terminal and ask: the production prompt."""
    sys.stderr.write(render.confirmation(plan, plan.endpoint or PRODUCTION_URL))
    sys.stderr.write("\nType 'yes' to go on: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() == "yes"


def command(args: argparse.Namespace) -> int:
    """``turkbatch run JOB``: run the job; the exit code is its summary's."""
    inputs.check_job(args.job)
    if args.journal is not None:
        inputs.check_journal(args.journal, may_be_missing=True)
    if args.log_file is not None:
        inputs.check_file(args.log_file, "log file", may_be_missing=True)
    live = not args.quiet and args.progress > 0 and sys.stderr.isatty()
    bar = progress.Bar(sys.stderr) if live else None
    level = "debug" if args.debug else ("warning" if args.quiet else "info")
    try:
        try:
            logs.configure(
                level=level,
                fmt=args.log_format,
                stream=bar.guard() if bar else sys.stderr,
                log_file=args.log_file,
            )
        except OSError as exc:
            raise UsageError(f"cannot open the log file {args.log_file}: {exc.strerror}") from exc
        settings = _settings(args, bar)
        if not (args.sim or args.endpoint_url or args.production):
            print(f"turkbatch: using the MTurk sandbox ({SANDBOX_URL})", file=sys.stderr)
        summary = anyio.run(partial(engine.run, args.job, settings, sim=args.sim))
    finally:
        if bar is not None:
            bar.clear()
    try:
        if args.output == "json":
            print(json.dumps(summary.as_dict(), indent=2), flush=True)
        else:
            print(summary.render(), flush=True)
    except BrokenPipeError:  # the reader went away: the run's outcome is the exit code
        render.reader_gone()
    if summary.interrupted:
        argv = args.argv if args.argv is not None else sys.argv[1:]
        again = " ".join(shlex.quote(a) for a in argv)
        print(
            f"\ninterrupted: nothing is lost. Resume with: {invocation()} {again}",
            file=sys.stderr,
        )
    return summary.exit_code
