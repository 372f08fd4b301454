"""
The simulator under measurement: ``turkbatch sim`` in a process of its own, on loopback.

The simulator never shares an event loop (or, on two cores, a core) with what is measured
against it. Between measurements it is reset through its admin API, which is never
throttled, faulted or counted.
"""

from __future__ import annotations

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
def simulator(*flags: str) -> Iterator[SimProcess]:
    """
    Start ``turkbatch sim --port 0 FLAGS...`` and stop it afterwards, whatever happens.

    Raises:
        ChildError: it did not print its URL in time.
    """
    proc = subprocess.Popen(
        python("-m", "turkbatch", "sim", "--host", "127.0.0.1", "--port", "0", *flags),
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
