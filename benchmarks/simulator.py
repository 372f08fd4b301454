"""
The simulator under measurement: ``turkbatch sim`` in a process of its own, on loopback.

The simulator never shares an event loop (or, on two cores, a core) with what is measured
against it. Between measurements it is reset through its admin API, which is never
throttled, faulted or counted.

``python -m benchmarks.simulator --balance AMOUNT`` serves the same permissive world with a
larger starting balance, which ``turkbatch sim`` has no flag for: a million one-cent
bonuses cost $20,000 with MTurk's fees, twice the default balance, and ``turkbatch run``'s
balance check (on by default) refuses a job its balance does not cover.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import select
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks.children import ROOT, ChildError, child_env, python

START_TIMEOUT = 30.0
"""Seconds the simulator gets to print its URL."""

STOP_TIMEOUT = 10.0
"""Seconds the simulator gets to stop after SIGTERM before it is killed."""


@dataclass(frozen=True, slots=True)
class SimProcess:
    """
    A running ``turkbatch sim`` process.

    Attributes:
        url: its endpoint, ``http://127.0.0.1:PORT``.
        pid: its process id.
    """

    url: str
    pid: int

    def admin(self, method: str, **kwargs: Any) -> Any:
        """Call one :class:`turkbatch.sim.SimAdmin` method, e.g. ``admin("counters")``."""
        from turkbatch.sim import SimAdmin

        async def call() -> Any:
            async with SimAdmin(self.url) as admin:
                return await getattr(admin, method)(**kwargs)

        return asyncio.run(call())

    def reset(self) -> None:
        """Return the world to its start (balance, tokens) and zero the counters."""
        self.admin("reset")

    def totals(self) -> dict[str, int]:
        """Return the request counts over every operation (received, throttled, ...)."""
        totals: dict[str, int] = self.admin("counters")["totals"]
        return totals

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) the simulator has used so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def simulator(*flags: str, balance: str | None = None) -> Iterator[SimProcess]:
    """
    Start ``turkbatch sim --port 0 FLAGS...`` and stop it afterwards, whatever happens.

    Args:
        balance: serve a permissive world with this starting balance (``"30000.00"``)
            instead, through :func:`main`; no ``flags`` then.

    Raises:
        ChildError: it did not print its URL in time.
    """
    if balance is None:
        command = python("-m", "turkbatch", "sim", "--host", "127.0.0.1", "--port", "0", *flags)
    elif flags:
        raise ValueError("a simulator with its own balance takes no other flags")
    else:
        command = python("-m", "benchmarks.simulator", "--balance", balance)
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
        url = proc.stdout.readline().strip() if ready else ""
        if not url.startswith("http://127.0.0.1:"):
            raise ChildError(f"turkbatch sim {' '.join(flags)} did not start (got {url!r})")
        yield SimProcess(url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def main(argv: list[str] | None = None) -> int:
    """Serve a permissive world with ``--balance`` on a free loopback port until SIGTERM."""
    from turkbatch import logs
    from turkbatch.sim import Clock, Simulator, World
    from turkbatch.sim.cli import serve

    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulator")
    parser.add_argument("--balance", required=True, help="starting balance, e.g. 30000.00")
    args = parser.parse_args(argv)
    logs.configure(level="warning")
    clock = Clock()
    world = World(clock=clock, balance=args.balance)
    asyncio.run(serve(Simulator(world=world, clock=clock, host="127.0.0.1", port=0)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
