"""
``turkbatch sim``: run the simulator until SIGINT or SIGTERM.

The endpoint URL is the first line on standard output, alone and flushed at once, so a
parent process can start ``python -m turkbatch sim --port 0`` and read where it listens;
everything meant for people goes to standard error. Exit codes: 0 after a signal,
2 for a bad flag or world file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

import structlog

from turkbatch.sim.clock import Clock
from turkbatch.sim.faults import DEFAULT_SEED, FaultSettings, Limit, parse_op_throttle
from turkbatch.sim.server import DEFAULT_MAX_BODY, Simulator
from turkbatch.sim.workforce_settings import WorkforceSettings
from turkbatch.sim.world import World


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """
    Add the ``sim`` command to ``subparsers`` (from ``ArgumentParser.add_subparsers()``).

    Returns:
        The new sub-parser.
    """
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="serve a simulated MTurk Requester API on loopback",
        description="Serve the MTurk Requester API (with a simulated world and injectable "
        "faults) until SIGINT/SIGTERM. The endpoint URL is printed as the first line on "
        "stdout.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    world = p.add_mutually_exclusive_group()
    world.add_argument("--world", type=Path, metavar="FILE", help="world file to serve (strict)")
    world.add_argument(
        "--strict",
        action="store_true",
        help="serve an empty strict world: unknown ids get MTurk's errors (default: a "
        "permissive world, where any id springs into being)",
    )
    p.add_argument(
        "--credentials",
        metavar="KEY:SECRET",
        help="verify SigV4 signatures against this key pair (default: accept anything)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="seed of the random faults and of the workforce",
    )
    p.add_argument("--throttle-rate", type=float, metavar="R", help="overall requests/s")
    p.add_argument("--throttle-burst", type=float, metavar="B", help="overall burst size")
    p.add_argument(
        "--op-throttle",
        type=_op_throttle,
        action="append",
        default=[],
        metavar="OP=R[:B]",
        help="per-operation rate (and burst); repeatable",
    )
    p.add_argument("--fault-rate", type=float, default=0.0, metavar="P", help="P(500)")
    p.add_argument("--unavailable-rate", type=float, default=0.0, metavar="P", help="P(503)")
    p.add_argument(
        "--lost-rate", type=float, default=0.0, metavar="P", help="P(committed, response lost)"
    )
    p.add_argument("--latency", type=float, default=0.0, metavar="MS", help="mean latency")
    p.add_argument(
        "--latency-jitter", type=float, default=0.0, metavar="MS", help="latency std deviation"
    )
    p.add_argument(
        "--trailing-next-token",
        action="store_true",
        help="return a NextToken on the last page of a listing, as MTurk sometimes did",
    )
    p.add_argument(
        "--max-body", type=int, default=DEFAULT_MAX_BODY, metavar="BYTES", help="body size cap"
    )
    _add_workforce_flags(p)
    return p


def _add_workforce_flags(p: argparse.ArgumentParser) -> None:
    w = p.add_argument_group(
        "workforce",
        "simulated workers who do the HITs created through the API as simulated time passes "
        "(seeded by --seed; times in simulated seconds; these flags replace a world file's "
        "workforce section)",
    )
    w.add_argument("--workers", type=int, metavar="N", help="how many workers (default: none)")
    w.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="simulated seconds per real second (default 1; the admin clock moves it too)",
    )
    d = WorkforceSettings()
    for flag, default, text in (
        ("--find-seconds", d.find_seconds, "mean wait until an open HIT is accepted"),
        ("--work-seconds", d.work_seconds, "mean time to submit"),
        ("--return-share", d.return_share, "share of accepted work returned"),
        ("--abandon-share", d.abandon_share, "share of accepted work abandoned"),
        ("--notifiable-share", d.notifiable_share, "share reachable by NotifyWorkers at once"),
        ("--masters-share", d.masters_share, "share holding Masters"),
        ("--request-seconds", d.request_seconds, "mean wait between qualification requests"),
    ):
        w.add_argument(flag, type=float, default=default, metavar="X", help=f"{text} ({default:g})")


def workforce_from_args(args: argparse.Namespace) -> WorkforceSettings | None:
    """
    Build the workforce settings from parsed ``sim`` flags (None: no ``--workers``).

    Raises:
        ValueError: a bad value.
    """
    if args.workers is None:
        return None
    return WorkforceSettings(
        workers=args.workers,
        seed=args.seed,
        find_seconds=args.find_seconds,
        work_seconds=args.work_seconds,
        return_share=args.return_share,
        abandon_share=args.abandon_share,
        notifiable_share=args.notifiable_share,
        masters_share=args.masters_share,
        request_seconds=args.request_seconds,
    )


def _op_throttle(text: str) -> tuple[str, Limit]:
    try:
        return parse_op_throttle(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def settings_from_args(args: argparse.Namespace) -> FaultSettings:
    """
    Build the fault settings from parsed ``sim`` flags.

    Raises:
        ValueError: an impossible combination (rates summing over 1, ...).
    """
    return FaultSettings(
        seed=args.seed,
        throttle_rate=args.throttle_rate,
        throttle_burst=args.throttle_burst,
        op_throttle=dict(args.op_throttle),
        fault_rate=args.fault_rate,
        unavailable_rate=args.unavailable_rate,
        lost_rate=args.lost_rate,
        latency_ms=args.latency,
        latency_jitter_ms=args.latency_jitter,
    )


def simulator_from_args(args: argparse.Namespace) -> Simulator:
    """
    Build (not start) the simulator the ``sim`` flags describe.

    Raises:
        ValueError: bad flags.
        OSError: the world file cannot be read.
    """
    faults = settings_from_args(args)
    workforce = workforce_from_args(args)
    clock = Clock(speed=args.speed)
    if args.world is not None:
        world = World.from_file(args.world, clock=clock, workforce=workforce)
        world.trailing_next_token = args.trailing_next_token
    else:
        world = World(
            clock=clock,
            strict=args.strict,
            trailing_next_token=args.trailing_next_token,
            workforce=workforce,
        )
    credentials: tuple[str, str] | None = None
    if args.credentials is not None:
        key, sep, secret = args.credentials.partition(":")
        if not (sep and key and secret):
            raise ValueError("--credentials must be ACCESS_KEY_ID:SECRET_ACCESS_KEY")
        credentials = (key, secret)
    if args.max_body < 1:
        raise ValueError("--max-body must be at least 1 byte")
    sim = Simulator(
        world=world,
        faults=faults,
        credentials=credentials,
        host=args.host,
        port=args.port,
        clock=clock,
        max_body=args.max_body,
    )
    unknown = sorted(set(faults.op_throttle) - set(sim.operations()))
    if unknown:
        raise ValueError(f"--op-throttle names unknown operations: {', '.join(unknown)}")
    return sim


def world_notice(sim: Simulator, source: Path | None = None) -> str:
    """Return the line that tells a person which kind of world is served, and what it means."""
    if not sim.world.strict:
        return (
            "turkbatch sim: world: PERMISSIVE: any id it has not seen springs into being, so "
            "a typo'd id never gets MTurk's 'does not exist'; use --strict (empty) or "
            "--world FILE for MTurk's errors\n"
        )
    where = f"from {source}" if source is not None else "empty"
    return f"turkbatch sim: world: strict, {where}: unknown ids get MTurk's errors\n"


def workforce_notice(sim: Simulator) -> str:
    """Return the line that says who does the HITs, and how time passes."""
    settings = sim.world.workforce
    speed = sim.clock.speed
    pace = f"; time runs {speed:g}x" if speed != 1.0 else ""
    if settings is None:
        return f"turkbatch sim: workforce: none (nobody works on HITs){pace}\n"
    return (
        f"turkbatch sim: workforce: {settings.workers} workers, seed {settings.seed}{pace}; "
        "move time with POST /_turkbatch/clock\n"
    )


async def serve(
    sim: Simulator,
    *,
    out: TextIO | None = None,
    info: TextIO | None = None,
    source: Path | None = None,
) -> None:
    """
    Serve until SIGINT or SIGTERM, printing the endpoint URL first.

    Args:
        sim: a simulator that has not been started.
        out: where the endpoint URL line goes (standard output by default).
        info: where human-readable notes go (standard error by default).
        source: the world file served, if any (named in the notice).
    """
    out = out or sys.stdout
    info = info or sys.stderr
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with sim:
        out.write(sim.endpoint_url + "\n")
        out.flush()
        faults = sim.faults.to_json()
        active = {k: v for k, v in faults.items() if v and k != "seed"}
        info.write(world_notice(sim, source))
        info.write(workforce_notice(sim))
        info.write(
            f"turkbatch sim: MTurk Requester API at {sim.endpoint_url} "
            f"(signatures {'checked' if sim.checks_signatures else 'not checked'}; "
            f"faults {active or 'none'}; admin API under {sim.endpoint_url}/_turkbatch/)\n"
            "turkbatch sim: stop with Ctrl-C or SIGTERM\n"
        )
        info.flush()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.remove_signal_handler(sig)
    info.write("turkbatch sim: stopped\n")


def run(args: argparse.Namespace) -> int:
    """
    Run the ``sim`` command with parsed arguments.

    Returns:
        The exit code: 0 after a clean stop, 2 for bad flags or an unreadable world.
    """
    if not structlog.is_configured():
        from turkbatch import logs

        logs.configure(level="warning")
    try:
        sim = simulator_from_args(args)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"turkbatch sim: {exc}\n")
        return 2
    try:
        asyncio.run(serve(sim, source=args.world))
    except OSError as exc:  # cannot bind
        sys.stderr.write(f"turkbatch sim: {exc}\n")
        return 2
    except KeyboardInterrupt:  # a signal before the handlers were installed
        return 0
    return 0
