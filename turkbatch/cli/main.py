"""
The command line's entry: parse, dispatch to the command's module, and map every error a
command raises to an exit code, in one table (:data:`EXITS`). Commands raise; this module
alone decides what an error prints and how the process ends.

Commands: ``run`` (send a job), ``plan`` (what it would do and cost), ``status`` and
``report`` (read a journal), ``policy`` (the IAM policy a job needs), ``skeleton`` (a
sample job line), ``job from-csv`` (a job from a spreadsheet), ``verify`` (prove a job
took effect), ``sim`` (the simulator, :mod:`turkbatch.sim.cli`, with its own exit codes).
AWS-CLI-style global options (``--profile``, ``--region``, ``--endpoint-url``,
``--ca-bundle``, ``--no-verify-ssl``, ``--cli-connect-timeout``, ``--cli-read-timeout``,
``--debug``, ``--output``) go before or after any command, with the AWS CLI's meanings.

Exit codes: 0 every operation done · 1 some operations failed, or a run stopped part-way
(or a call failed in a way no command turns into a result) · 2 invalid job, usage or
setting (endpoint, credentials), or a safety guard refused; nothing sent · 3 the journal
is locked, damaged or unwritable · 130 interrupted (run the same command again to
resume). A command returns 0 or 1 (its result); 2, 3 and 130 come from :data:`EXITS`.
Nothing a user can type ends in a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

from turkbatch import __version__, logs
from turkbatch.cli import job, plan, policy, render, report, run, skeleton, status, verify
from turkbatch.cli.options import EXIT_CODES, RAW, connection_options, output_options
from turkbatch.errors import (
    AlreadyDone,
    EndpointMismatch,
    JobError,
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalWriteError,
    LookupFailed,
    OperationError,
    PermanentError,
    Refused,
    SettingError,
    Throttled,
    TransientError,
    TurkbatchError,
    UsageError,
)
from turkbatch.summary import ExitCode

__all__ = ["COMMANDS", "EXITS", "Exit", "build_parser", "exit_for", "main"]

#: The command modules, in the order ``turkbatch --help`` lists them; each has
#: ``add_parser(commands)``, which sets the parser's ``handler``.
COMMANDS: Final[tuple[ModuleType, ...]] = (
    run,
    plan,
    status,
    report,
    policy,
    skeleton,
    job,
    verify,
)

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
    for command in COMMANDS:
        command.add_parser(commands)
    from turkbatch.sim import cli as sim_cli

    sim = sim_cli.add_parser(commands)
    sim.formatter_class, sim.epilog = RAW, SIM_EXAMPLES
    connection_options(sim, suppress=True)
    output_options(sim, suppress=True)
    return parser


# --- the one exception → exit code map ---------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Exit:
    """
    How the command line ends on one kind of error.

    Attributes:
        code: the exit code.
        say: tells the user on standard error (given the error, and the parsed
            arguments when parsing got that far).
    """

    code: int
    say: Callable[[Any, argparse.Namespace | None], None]


def _err(*lines: str) -> None:
    print("\n".join(lines), file=sys.stderr)


def _said(exc: BaseException, args: argparse.Namespace | None) -> None:
    _err(f"turkbatch: {exc}")


def _refused(exc: Refused, args: argparse.Namespace | None) -> None:
    _err("turkbatch: refused; nothing was sent:", *(f"  - {r}" for r in exc.reasons))


def _invalid_job(exc: JobError, args: argparse.Namespace | None) -> None:
    # a command that would send says nothing was; job from-csv says nothing was written
    said: str = getattr(args, "invalid_job", "{path} is invalid")
    _err(exc.render(), f"turkbatch: {said.format(path=exc.path)}")


def _journal(exc: JournalError, args: argparse.Namespace | None) -> None:
    _err(f"turkbatch: journal error: {exc}")


def _setting(exc: SettingError, args: argparse.Namespace | None) -> None:
    _err(f"turkbatch: {exc}", "turkbatch: nothing was sent")


def _call_failed(exc: OperationError, args: argparse.Namespace | None) -> None:
    _err(f"turkbatch: {exc.code}: {exc.message}")


def _no_such_file(exc: FileNotFoundError, args: argparse.Namespace | None) -> None:
    _err(f"turkbatch: {exc.filename}: no such file")


def _os_error(exc: OSError, args: argparse.Namespace | None) -> None:
    # a file the command cannot read or write (permissions, say)
    where = f"{exc.filename}: " if exc.filename else ""
    _err(f"turkbatch: {where}{exc.strerror or exc}")


def _reader_gone(exc: BrokenPipeError, args: argparse.Namespace | None) -> None:
    render.reader_gone()  # (``| head``: the reader has what it wanted)


def _interrupted(exc: KeyboardInterrupt, args: argparse.Namespace | None) -> None:
    _err("\nturkbatch: interrupted; nothing is lost")


#: Every error a command may raise, and how the command line ends on it: each class of
#: :mod:`turkbatch.errors` by name (a test holds this to the tree), then the operating
#: system's. An error takes the entry of its nearest class (:func:`exit_for`).
EXITS: Final[Mapping[type[BaseException], Exit]] = {
    TurkbatchError: Exit(code=ExitCode.FAILED, say=_said),
    UsageError: Exit(code=ExitCode.USAGE, say=_said),
    EndpointMismatch: Exit(code=ExitCode.USAGE, say=_said),
    LookupFailed: Exit(code=ExitCode.USAGE, say=_said),
    Refused: Exit(code=ExitCode.USAGE, say=_refused),
    JobError: Exit(code=ExitCode.USAGE, say=_invalid_job),
    JournalError: Exit(code=ExitCode.JOURNAL, say=_journal),
    JournalCorrupt: Exit(code=ExitCode.JOURNAL, say=_journal),
    JournalLocked: Exit(code=ExitCode.JOURNAL, say=_journal),
    JournalWriteError: Exit(code=ExitCode.JOURNAL, say=_journal),
    SettingError: Exit(code=ExitCode.USAGE, say=_setting),
    # a call's failure is the engine's to count; one that reaches here stopped a command
    OperationError: Exit(code=ExitCode.FAILED, say=_call_failed),
    AlreadyDone: Exit(code=ExitCode.FAILED, say=_call_failed),
    TransientError: Exit(code=ExitCode.FAILED, say=_call_failed),
    Throttled: Exit(code=ExitCode.FAILED, say=_call_failed),
    PermanentError: Exit(code=ExitCode.FAILED, say=_call_failed),
    FileNotFoundError: Exit(code=ExitCode.USAGE, say=_no_such_file),
    OSError: Exit(code=ExitCode.USAGE, say=_os_error),
    BrokenPipeError: Exit(code=ExitCode.OK, say=_reader_gone),
    KeyboardInterrupt: Exit(code=ExitCode.INTERRUPTED, say=_interrupted),
}


def exit_for(exc: BaseException) -> Exit | None:
    """Return the entry of :data:`EXITS` for ``exc``'s nearest class, or None (a bug)."""
    for cls in type(exc).__mro__:
        found = EXITS.get(cls)
        if found is not None:
            return found
    return None


# --- running ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """
    Run the command line and return the exit code.

    A command returns its result's code; any error it raises ends here, through
    :data:`EXITS`. Errors not in it are bugs, and keep their traceback.
    """
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(argv)
        if signal.getsignal(signal.SIGINT) is signal.SIG_DFL:  # (set by turkbatch.__main__)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return _dispatch(args, argv)
    except (Exception, KeyboardInterrupt) as exc:
        end = exit_for(exc)
        if end is None:
            raise
        end.say(exc, args)
        return end.code


def _dispatch(args: argparse.Namespace, argv: list[str] | None) -> int:
    if args.command == "sim":
        from turkbatch.sim import cli as sim_cli

        if args.debug:
            logs.configure(level="debug")
        return sim_cli.run(args)
    handler: Callable[[argparse.Namespace], int] = args.handler
    args.argv = argv  # for run's "resume with" line
    return handler(args)
