"""
Whole-file scans, each run as a child process that prints one JSON object.

::

    python -m benchmarks.scans orjson FILE     # the baseline: for line in f: orjson.loads(line)
    python -m benchmarks.scans journal FILE    # Journal.read(FILE): what a resume replays
    python -m benchmarks.scans validate FILE   # check_job(FILE): what run and plan validate

Only the scan is timed (imports and interpreter start-up are not), and each child's peak
RSS is that scan's (plus the interpreter's own few MiB).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import orjson


def orjson_loop(path: Path) -> dict[str, float]:
    """Parse every line with orjson and keep nothing: the least any scan can cost."""
    lines = 0
    started = time.perf_counter()
    with path.open("rb") as f:
        for line in f:
            orjson.loads(line)
            lines += 1
    return {"elapsed": time.perf_counter() - started, "lines": lines}


def journal_read(path: Path) -> dict[str, float]:
    """Replay a journal read-only, as a resume does before anything is sent."""
    from turkbatch.journal import Journal

    started = time.perf_counter()
    state = Journal.read(path)
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "records": state.records, "done": len(state.done)}


def validate(path: Path) -> dict[str, float]:
    """Validate a whole job file, as ``turkbatch run`` does before it sends anything."""
    from turkbatch.jobs import check_job

    started = time.perf_counter()
    stats = check_job(path)
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "operations": stats.operations, "lines": stats.lines}


SCANS = {"orjson": orjson_loop, "journal": journal_read, "validate": validate}


def main(argv: list[str] | None = None) -> int:
    """Run one scan and print its figures as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scans")
    parser.add_argument("kind", choices=sorted(SCANS))
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    print(orjson.dumps(SCANS[args.kind](args.path)).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
