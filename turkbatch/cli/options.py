"""
The command line's shared options and argument types: what every command's parser takes
(connection, output, endpoint, guards, journal), how a value is checked, how the global
options become :class:`~turkbatch.client.ClientSettings`, and the help text they share.
:mod:`turkbatch.cli.main` and each command module import it; it imports none of them.
"""

from __future__ import annotations

import argparse
import math
import shlex
import shutil
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeAlias

from turkbatch import money
from turkbatch import plan as planning
from turkbatch.client import DEFAULT_REGION, PRODUCTION_URL, ClientSettings
from turkbatch.errors import UsageError
from turkbatch.limits import MIN_RATE

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
OUTPUT_FORMATS = ("text", "json")
RAW = argparse.RawDescriptionHelpFormatter  # (help text whose examples keep their lines)
HELP_WIDTH = 88
EXIT_CODES = """
exit codes: 0 all done, 1 some failed or the run stopped part-way, 2 invalid job, usage
or setting (endpoint, credentials), or refused by a safety guard (nothing sent),
3 journal locked/damaged/unwritable, 130 interrupted (run again)
"""
#: What ``turkbatch.cli.main`` says after an invalid job's errors (a parser default,
#: ``invalid_job``, that a command may set): here, for the commands that would send.
INVALID_NOTHING_SENT = "{path} is invalid; nothing was sent"


def _amount(text: str) -> Decimal:
    try:
        return money.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _limit(text: str) -> Decimal | None:
    return None if text.lower() in ("none", "off") else _amount(text)


def _number(text: str, *, low: float, what: str, strict: bool = False) -> float:
    """A finite number at least ``low`` (above it when ``strict``), or a usage error."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < low or (strict and value == low):
        bound = f"above {low:g}" if strict else f"at least {low:g}"
        raise argparse.ArgumentTypeError(f"{what} must be a number {bound}, not {text!r}")
    return value


def rate_arg(text: str) -> float:
    """``--rate``: requests/s, at least the limiter's floor, finite."""
    return _number(text, low=MIN_RATE, what="the rate (requests/s)")


def _timeout(text: str) -> float:
    return _number(text, low=0, strict=True, what="a timeout (seconds)")


def seconds_arg(text: str) -> float:
    return _number(text, low=0, what="a number of seconds")


def count_arg(text: str) -> int:
    """``--concurrency``: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, at least 1, not {text!r}")
    return value


def connection_options(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The AWS CLI's connection options (on the top parser, and again after the command)."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    g = p.add_argument_group("AWS options (as in the AWS CLI)")
    g.add_argument("--profile", default=default(None), help="AWS profile from your config")
    g.add_argument(
        "--region",
        default=default(DEFAULT_REGION),
        help=f"signing region (default: {DEFAULT_REGION})",
    )
    g.add_argument(
        "--endpoint-url",
        default=default(None),
        metavar="URL",
        help="any endpoint that speaks the MTurk API (a simulator, a proxy)",
    )
    g.add_argument("--ca-bundle", default=default(None), metavar="PATH", help="CA bundle for TLS")
    g.add_argument(
        "--no-verify-ssl", action="store_true", default=default(False), help="do not verify TLS"
    )
    g.add_argument(
        "--cli-connect-timeout",
        type=_timeout,
        default=default(10.0),
        metavar="S",
        help="connect timeout in seconds (default: 10)",
    )
    g.add_argument(
        "--cli-read-timeout",
        type=_timeout,
        default=default(60.0),
        metavar="S",
        help="read timeout in seconds (default: 60); an attempt may take both in all",
    )


def output_options(p: argparse.ArgumentParser, *, suppress: bool, hint: str = "") -> None:
    """
    ``--output`` and ``--debug`` (on the top parser, and again after the command).

    ``--output`` is the format everywhere, as in the AWS CLI; ``hint`` is added when a
    value is refused (a command whose output goes to a file names its own flag for that).
    """

    def output_format(text: str) -> str:
        if text in OUTPUT_FORMATS:
            return text
        raise argparse.ArgumentTypeError(f"must be text or json, not {text!r}{hint}")

    g = p.add_argument_group("output options (as in the AWS CLI)")
    g.add_argument(
        "--output",
        type=output_format,
        metavar="{text,json}",
        default=argparse.SUPPRESS if suppress else "text",
        help="text for people (default: text), json for programs, on standard output",
    )
    g.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="debug logging, with request-level detail (never credentials or signatures)",
    )


def endpoint_options(p: argparse.ArgumentParser) -> None:
    """``--sim`` and ``--production`` (``--endpoint-url`` is a global option)."""
    g = p.add_argument_group("endpoint (default: the MTurk sandbox)")
    g.add_argument(
        "--sim",
        action="store_true",
        help="start the embedded MTurk simulator and use it (no credentials needed)",
    )
    g.add_argument(
        "--production",
        action="store_true",
        help=f"the real MTurk production endpoint ({PRODUCTION_URL})",
    )


def guard_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """``--max-bonus`` (the typo guard) and ``--max-spend``; returns their group."""
    g = p.add_argument_group("money guards")
    g.add_argument(
        "--max-bonus",
        type=_limit,
        default=planning.DEFAULT_MAX_BONUS,
        metavar="AMOUNT",
        help="typo guard: refuse bonuses above AMOUNT (default: $10.00); 'none' for no limit",
    )
    g.add_argument(
        "--max-spend",
        type=_amount,
        metavar="AMOUNT",
        help="refuse (and never pay past) a total above AMOUNT: bonuses, HIT rewards, fees",
    )
    return g


def journal_option(p: argparse._ActionsContainer) -> None:
    """``--journal PATH``."""
    p.add_argument(
        "--journal",
        type=Path,
        metavar="PATH",
        help="journal file (default: <job>.journal.jsonl beside the job)",
    )


def subcommand(
    commands: Commands, name: str, *, description: str, **kw: Any
) -> argparse.ArgumentParser:
    """Add a command whose epilog (its examples) keeps its line breaks."""
    text = textwrap.fill(description, HELP_WIDTH)
    return commands.add_parser(name, formatter_class=RAW, description=text, **kw)


# --- commands ---------------------------------------------------------------------------


def client_settings(args: argparse.Namespace) -> ClientSettings:
    """
    Return where and how to reach MTurk, from the global options.

    Raises:
        UsageError: more than one endpoint was chosen.
    """
    url = args.endpoint_url
    if url is not None and not (url.startswith(("http://", "https://")) and len(url) > 8):
        raise UsageError(f"--endpoint-url must be an http:// or https:// URL, not {url!r}")
    chosen = [
        flag
        for flag, given in (
            ("--sim", args.sim),
            ("--endpoint-url", args.endpoint_url is not None),
            ("--production", args.production),
        )
        if given
    ]
    if len(chosen) > 1:
        raise UsageError(
            f"{' and '.join(chosen)} conflict: they choose different endpoints; give one"
        )
    verify: bool | str | None = False if args.no_verify_ssl else args.ca_bundle
    return ClientSettings(
        endpoint_url=args.endpoint_url,
        production=args.production,
        region=args.region,
        profile=args.profile,
        connect_timeout=args.cli_connect_timeout,
        read_timeout=args.cli_read_timeout,
        verify=verify,
    )


def invocation() -> str:
    """
    Return how to call turkbatch again, as a command that runs as printed.

    ``turkbatch`` when that is this installation's script on PATH, else this Python with
    ``-m turkbatch`` (after ``pip install`` into a virtual environment that is not
    activated, ``turkbatch`` alone is not found).
    """
    found = shutil.which("turkbatch")
    if found and Path(found).resolve().parent == Path(sys.executable).resolve().parent:
        return "turkbatch"
    return f"{shlex.quote(sys.executable)} -m turkbatch"
