"""
The machine the figures came from: they mean little without it.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from typing import Any

from benchmarks.children import ROOT


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _commit() -> str | None:
    """Return the commit measured, ``+dirty`` when turkbatch/ has uncommitted changes."""
    commit = _git("rev-parse", "--short", "HEAD")
    if not commit:
        return None
    return f"{commit}+dirty" if _git("status", "--porcelain", "--", "turkbatch") else commit


def describe() -> dict[str, Any]:
    """Return cores, CPU model, memory, Python, OS, date, load average and commit."""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": _commit(),
    }


def one_line(machine: dict[str, Any]) -> str:
    """Return the machine as one line: ``2 × AMD EPYC, 23.5 GiB, Python 3.11.7, 2026-...``."""
    return (
        f"{machine['nproc']} × {machine['cpu_model']}, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, {machine['date']}"
    )
