"""
The command line: parse, build settings, configure logging, call the engine, map exit codes.

Commands: ``run`` (send a job), ``plan`` (what it would do and cost), ``status`` and
``report`` (read a journal), ``policy`` (the IAM policy a job needs), ``skeleton`` (a
sample job line), ``job from-csv`` (a job from a spreadsheet), ``sim`` (the simulator).
AWS-CLI-style global options (``--profile``, ``--region``, ``--endpoint-url``,
``--ca-bundle``, ``--no-verify-ssl``, ``--cli-connect-timeout``, ``--cli-read-timeout``,
``--debug``, ``--output``) go before or after any command, with the AWS CLI's meanings.

Exit codes: 0 every operation done · 1 some operations failed, or a run stopped part-way ·
2 invalid job, usage or setting (endpoint, credentials), or a safety guard refused;
nothing sent · 3 the journal is locked, damaged or unwritable · 130 interrupted (run the
same command again to resume). Nothing a user can type ends in a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from turkbatch import __version__, engine, inputs, logs, payments, plan_text, progress
from turkbatch import plan as planning
from turkbatch import settings as defaults
from turkbatch.client import PRODUCTION_URL, SANDBOX_URL
from turkbatch.errors import JobError, JournalError, Refused, SettingError, UsageError
from turkbatch.limits import MIN_RATE
from turkbatch.options import (
    RAW,
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
from turkbatch.summary import ExitCode

EXIT_CODES = """
exit codes: 0 all done, 1 some failed or the run stopped part-way, 2 invalid job, usage
or setting (endpoint, credentials), or refused by a safety guard (nothing sent),
3 journal locked/damaged/unwritable, 130 interrupted (run again)
"""
TOP_EXAMPLES = """\
examples:
  turkbatch run jobs/demo.jsonl --sim            try the demo job on the embedded simulator
  turkbatch plan payouts.jsonl --sim             what a job would do and cost
  turkbatch run payouts.jsonl --endpoint-url http://127.0.0.1:8443
  turkbatch status payouts.journal.jsonl         where a job stands
Global options work before or after the command, as in the AWS CLI.
turkbatch COMMAND --help explains each command, with examples.
"""
SIM_EXAMPLES = """\
examples:
  turkbatch sim --port 0                          prints its URL on the first line
  turkbatch sim --port 8443 --world jobs/world.example.json
  turkbatch sim --port 0 --fault-rate 0.05 --lost-rate 0.01 --seed 7
  turkbatch run payouts.jsonl --endpoint-url http://127.0.0.1:8443
Admin API (never throttled, faulted or counted): GET /_turkbatch/health, ledger,
counters; GET/POST faults, clock; POST reset, world.
exit codes: 0 stopped by SIGINT/SIGTERM, 2 usage or a bad world file
"""
RUN_EXAMPLES = (
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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="turkbatch",
        description="Bulk Amazon Mechanical Turk requester operations from a JSONL job, "
        "resumable and exactly once.",
        epilog=TOP_EXAMPLES + EXIT_CODES,
        formatter_class=RAW,
    )
    parser.add_argument("--version", action="version", version=f"turkbatch {__version__}")
    connection_options(parser, suppress=False)
    output_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run(commands)
    from turkbatch import commands as others

    others.register(commands)
    from turkbatch import csvjob

    csvjob.add_parser(commands).set_defaults(handler=csvjob.run)
    from turkbatch import verify_cli

    verify_cli.add_parser(commands)
    from turkbatch.sim import cli as sim_cli

    sim = sim_cli.add_parser(commands)
    sim.formatter_class, sim.epilog = RAW, SIM_EXAMPLES
    connection_options(sim, suppress=True)
    output_options(sim, suppress=True)
    return parser


# --- options ----------------------------------------------------------------------------


def _add_run(commands: Commands) -> None:
    run = subcommand(
        commands,
        "run",
        help="run a job file (validates it all first; resumes from its journal)",
        description="Validate a JSONL job file, then run every operation in it through "
        "rate-limited concurrent MTurk calls, journaling each outcome.",
        epilog=RUN_EXAMPLES,
    )
    run.set_defaults(handler=_run)
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


# --- running them -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (``| head``): it has what it wanted. Point standard output
        # at /dev/null so the interpreter's last flush does not complain either.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except KeyboardInterrupt:
        print("\nturkbatch: interrupted; nothing is lost", file=sys.stderr)
        return ExitCode.INTERRUPTED


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if signal.getsignal(signal.SIGINT) is signal.SIG_DFL:  # (set by turkbatch.__main__)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.command == "sim":
        from turkbatch.sim import cli as sim_cli

        if args.debug:
            logs.configure(level="debug")
        return sim_cli.run(args)
    handler: Callable[[argparse.Namespace], int] = args.handler
    args.argv = argv  # for run's "resume with" line
    try:
        return handler(args)
    except JobError as exc:
        print(exc.render(), file=sys.stderr)
        sent = "; nothing was sent" if args.command in ("run", "plan") else ""
        print(f"turkbatch: {exc.path} is invalid{sent}", file=sys.stderr)
    except SettingError as exc:
        print(f"turkbatch: {exc}", file=sys.stderr)
        print("turkbatch: nothing was sent", file=sys.stderr)
    except Refused as exc:
        print("turkbatch: refused; nothing was sent:", file=sys.stderr)
        print("\n".join(f"  - {r}" for r in exc.reasons), file=sys.stderr)
    except UsageError as exc:
        print(f"turkbatch: {exc}", file=sys.stderr)
    except JournalError as exc:
        print(f"turkbatch: journal error: {exc}", file=sys.stderr)
        return ExitCode.JOURNAL
    except FileNotFoundError as exc:
        print(f"turkbatch: {exc.filename}: no such file", file=sys.stderr)
    except BrokenPipeError:
        raise
    except OSError as exc:  # a file the command cannot read or write (permissions, say)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"turkbatch: {where}{exc.strerror or exc}", file=sys.stderr)
    return ExitCode.USAGE


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
    sys.stderr.write(plan_text.confirmation(plan, plan.endpoint or PRODUCTION_URL))
    sys.stderr.write("\nType 'yes' to go on: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() == "yes"


def _run(args: argparse.Namespace) -> int:
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
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if summary.interrupted:
        argv = args.argv if args.argv is not None else sys.argv[1:]
        command = " ".join(shlex.quote(a) for a in argv)
        print(
            f"\ninterrupted: nothing is lost. Resume with: {invocation()} {command}",
            file=sys.stderr,
        )
    return summary.exit_code
