"""
The command line: parse, build settings, configure logging, call the engine, map exit codes.

Exit codes: 0 every operation done · 1 some operations failed · 2 invalid job or usage,
nothing sent · 3 the journal is locked, damaged or unwritable · 130 interrupted (run the
same command again to resume).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import anyio

from turkbatch import __version__, engine, logs
from turkbatch.client import DEFAULT_REGION, PRODUCTION_URL, SANDBOX_URL, ClientSettings
from turkbatch.errors import JobError, JournalError, UsageError
from turkbatch.summary import ExitCode

RUN_EXAMPLES = """\
examples:
  turkbatch run jobs/demo.jsonl --sim              try a job on the embedded simulator
  turkbatch run payouts.jsonl                       the MTurk sandbox (the default)
  turkbatch run payouts.jsonl --production --yes    the real MTurk (production) endpoint
  turkbatch run payouts.jsonl --endpoint-url http://127.0.0.1:8443
Running the same command again resumes: operations the journal records as done are
skipped, and every bonus is paid exactly once.

exit codes: 0 all done, 1 some failed, 2 invalid job or usage (nothing sent),
3 journal locked/damaged/unwritable, 130 interrupted (run again to resume)
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="turkbatch",
        description="Bulk Amazon Mechanical Turk requester operations from a JSONL job, "
        "resumable and exactly once.",
    )
    parser.add_argument("--version", action="version", version=f"turkbatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_run(commands)
    from turkbatch.sim import cli as sim_cli

    sim_cli.add_parser(commands)
    return parser


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="run a job file (validates it all first; resumes from its journal)",
        description="Validate a JSONL job file, then run every operation in it through "
        "rate-limited concurrent MTurk calls, journaling each outcome.",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("job", help="the JSONL job file")
    where = run.add_argument_group("endpoint (default: the MTurk sandbox)")
    where.add_argument(
        "--sim",
        action="store_true",
        help="start the embedded MTurk simulator and run against it (no credentials needed)",
    )
    where.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="any endpoint that speaks the MTurk API (a simulator, a proxy)",
    )
    where.add_argument(
        "--production",
        action="store_true",
        help=f"the real MTurk production endpoint ({PRODUCTION_URL})",
    )
    where.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation before using production"
    )
    where.add_argument("--profile", help="AWS profile from your AWS config")
    where.add_argument("--region", default=DEFAULT_REGION, help="signing region (%(default)s)")
    where.add_argument("--no-verify-ssl", action="store_true", help="do not verify TLS")
    where.add_argument("--ca-bundle", metavar="PATH", help="CA bundle to verify TLS with")
    where.add_argument(
        "--cli-connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="connect timeout in seconds (%(default)s)",
    )
    where.add_argument(
        "--cli-read-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="read timeout in seconds (%(default)s)",
    )
    pace = run.add_argument_group("pace")
    pace.add_argument(
        "--rate",
        type=float,
        default=engine.DEFAULT_RATE,
        metavar="R",
        help="ceiling in requests/s for the account; cut automatically when "
        "MTurk throttles (%(default)s)",
    )
    pace.add_argument(
        "--concurrency",
        type=int,
        default=engine.DEFAULT_CONCURRENCY,
        metavar="N",
        help="calls in flight at once (%(default)s)",
    )
    pace.add_argument(
        "--grace",
        type=float,
        default=engine.DEFAULT_GRACE,
        metavar="S",
        help="seconds in-flight calls get after Ctrl-C (%(default)s)",
    )
    state = run.add_argument_group("journal")
    state.add_argument(
        "--journal",
        type=Path,
        metavar="PATH",
        help="journal file (default: <job>.journal.jsonl beside the job)",
    )
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
        help="send again operations an earlier run recorded as failed",
    )
    out = run.add_argument_group("output")
    out.add_argument("--quiet", action="store_true", help="only warnings and the summary")
    out.add_argument("--debug", action="store_true", help="request-level detail")
    out.add_argument(
        "--log-format",
        choices=("auto", "console", "json"),
        default="auto",
        help="log format on standard error (%(default)s)",
    )
    out.add_argument(
        "--progress",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between progress lines; 0 for none (%(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "sim":
        from turkbatch.sim import cli as sim_cli

        return sim_cli.run(args)
    return _run(args, argv)


def _settings(args: argparse.Namespace) -> engine.Settings:
    if sum(map(bool, (args.sim, args.endpoint_url, args.production))) > 1:
        raise UsageError("choose one of --sim, --endpoint-url and --production")
    verify: bool | str | None = False if args.no_verify_ssl else args.ca_bundle
    client = ClientSettings(
        endpoint_url=args.endpoint_url,
        production=args.production,
        region=args.region,
        profile=args.profile,
        connect_timeout=args.cli_connect_timeout,
        read_timeout=args.cli_read_timeout,
        verify=verify,
    )
    return engine.Settings(
        client=client,
        rate=args.rate,
        concurrency=args.concurrency,
        journal=args.journal,
        retry_failed=args.retry_failed,
        resend_expired=args.resend_expired,
        reconcile=args.reconcile,
        grace=args.grace,
        progress_interval=0.0 if args.quiet else args.progress,
        handle_signals=True,
    )


def _confirm_production(args: argparse.Namespace) -> None:
    if not args.production or args.yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            "--production moves real money: add --yes to confirm when not on a terminal"
        )
    answer = input(
        f"Run {args.job} against the PRODUCTION MTurk endpoint, with real money? "
        "Type 'yes' to go on: "
    )
    if answer.strip().lower() != "yes":
        raise UsageError("not confirmed; nothing sent")


def _run(args: argparse.Namespace, argv: list[str] | None) -> int:
    level = "debug" if args.debug else ("warning" if args.quiet else "info")
    logs.configure(level=level, fmt=args.log_format)
    try:
        settings = _settings(args)
        _confirm_production(args)
        if not (args.sim or args.endpoint_url or args.production):
            print(f"turkbatch: using the MTurk sandbox ({SANDBOX_URL})", file=sys.stderr)
        summary = anyio.run(lambda: engine.run(args.job, settings, sim=args.sim))
    except JobError as exc:
        print(exc.render(), file=sys.stderr)
        print(f"turkbatch: {args.job} is invalid; nothing was sent", file=sys.stderr)
        return ExitCode.USAGE
    except UsageError as exc:
        print(f"turkbatch: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except JournalError as exc:
        print(f"turkbatch: journal error: {exc}", file=sys.stderr)
        return ExitCode.JOURNAL
    except FileNotFoundError as exc:
        print(f"turkbatch: {exc.filename}: no such file", file=sys.stderr)
        return ExitCode.USAGE
    print(summary.render())
    if summary.interrupted:
        command = " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        print(f"\ninterrupted: nothing is lost. Resume with: turkbatch {command}", file=sys.stderr)
    return summary.exit_code
