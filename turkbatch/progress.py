"""
Show a run's progress: a one-line bar on a terminal, periodic ``run.progress`` lines
otherwise.

Both are progress callbacks for :class:`turkbatch.engine.Settings`, fed
:class:`~turkbatch.summary.Snapshot` values; neither keeps global state. Both count API
calls: ``1,203+ calls`` while listings are still finding more. The bar is
redrawn in place with ``\\r`` on standard error about five times a second, and log lines
must not land in the middle of it: :meth:`Bar.guard` wraps the log stream so that every
write clears the bar first (the next tick draws it again below the new line).
"""

from __future__ import annotations

import io
import os
from collections import deque
from typing import Final, TextIO, cast

import structlog

from turkbatch.money import usd
from turkbatch.summary import Snapshot

__all__ = ["BAR_INTERVAL", "Bar", "Lines", "Pace", "calls", "clock"]

log = structlog.get_logger()

#: Seconds between redraws of the bar.
BAR_INTERVAL: Final = 0.2
#: Seconds of history the request rate is measured over.
PACE_WINDOW: Final = 5.0
#: The width assumed when the terminal does not say.
DEFAULT_COLUMNS: Final = 100
_BAR_CELLS: Final = 16
_ERASE: Final = "\r\x1b[K"  # to the start of the line, then clear to its end


def clock(seconds: float | None) -> str:
    """Return ``0:56``, ``1:02:03``, or ``?`` for an unknown time."""
    if seconds is None:
        return "?"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Pace:
    """Requests per second over the last :data:`PACE_WINDOW` seconds of snapshots."""

    def __init__(self, window: float = PACE_WINDOW) -> None:
        self.window = window
        self._points: deque[tuple[float, int]] = deque()

    def update(self, s: Snapshot) -> float:
        """Record a snapshot; return the recent request rate."""
        points = self._points
        points.append((s.elapsed, s.requests))
        while len(points) > 2 and s.elapsed - points[1][0] >= self.window:
            points.popleft()
        (t0, r0), (t1, r1) = points[0], points[-1]
        if t1 - t0 <= 0:
            return s.requests / s.elapsed if s.elapsed > 0 else 0.0
        return (r1 - r0) / (t1 - t0)


def _percent(s: Snapshot) -> int:
    return 100 if s.total <= 0 else min(100, s.finished * 100 // s.total)


def calls(s: Snapshot) -> str:
    """Return ``"1,180/1,203 calls"``, ``"1,180/1,203+ calls"`` while listings run."""
    return f"{s.finished:,}/{s.total:,}{'+' if s.unlisted else ''} calls"


class Bar:
    """
    A single status line on a terminal, redrawn in place.

    Args:
        stream: the terminal (standard error).
        width: the line's width; by default the terminal's, looked up at each draw.
    """

    def __init__(self, stream: TextIO, *, width: int | None = None) -> None:
        self.stream = stream
        self.width = width
        self.visible = False
        self.pace = Pace()

    def __call__(self, snapshot: Snapshot) -> None:
        """Draw ``snapshot`` (the engine's progress callback)."""
        self.stream.write(_ERASE + self.line(snapshot))
        self.stream.flush()
        self.visible = True

    def clear(self) -> None:
        """Erase the bar, if it is showing."""
        if self.visible:
            self.visible = False
            self.stream.write(_ERASE)
            self.stream.flush()

    def guard(self) -> TextIO:
        """Return a stream for log lines: writing to it clears the bar first."""
        return cast(TextIO, _Guarded(self))

    def line(self, s: Snapshot) -> str:
        """
        Return the bar's text for a snapshot, fitted to the terminal's width.

        What does not fit is left out, least important first: skipped, throttles, calls
        in flight, request rate, ETA, money; the bar and the counts always stay.
        """
        filled = _percent(s) * _BAR_CELLS // 100
        rate = self.pace.update(s)
        parts = [  # (importance: lower stays longer, text)
            (0, f"[{'#' * filled}{'.' * (_BAR_CELLS - filled)}] {_percent(s):3d}% "),
            (0, calls(s)),
            (1, f" | {s.failed} failed"),
            (7, f" | {s.skipped} skipped" if s.skipped else ""),
            (5, f" | {s.in_flight} in flight"),
            (4, f" | {rate:.1f}/{s.rate_ceiling:.1f} req/s"),
            (6, f" | {s.throttles} throttled"),
            (3, f" | ETA {clock(s.eta)}"),
            (2, f" | paid {usd(s.bonus_paid)} + {usd(s.fees_paid)} fees"),
        ]
        width = (self.width or _columns(self.stream)) - 1  # never wrap: \r stays on a line
        while sum(len(text) for _, text in parts) > width and len(parts) > 2:
            parts.remove(max(parts, key=lambda part: part[0]))
        return "".join(text for _, text in parts)[: max(1, width)]


def _columns(stream: TextIO) -> int:
    """Return the terminal's width; 100 when it cannot say (a pty nobody sized says 0)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, io.UnsupportedOperation):
        return DEFAULT_COLUMNS
    return columns if columns > 0 else DEFAULT_COLUMNS


class _Guarded(io.TextIOBase):
    """The bar's stream, for log lines: each write erases the bar before it."""

    def __init__(self, bar: Bar) -> None:
        super().__init__()
        self._bar = bar

    def write(self, text: str) -> int:
        self._bar.clear()
        return self._bar.stream.write(text)

    def flush(self) -> None:
        self._bar.stream.flush()

    def isatty(self) -> bool:
        return self._bar.stream.isatty()

    def fileno(self) -> int:
        return self._bar.stream.fileno()


class Lines:
    """Plain progress: one ``run.progress`` log event per snapshot (every N seconds)."""

    def __init__(self) -> None:
        self.pace = Pace()

    def __call__(self, s: Snapshot) -> None:
        """Log ``s`` (the engine's progress callback)."""
        eta = s.eta
        log.info(
            "run.progress",
            finished=s.finished,
            total=s.total,
            unlisted=s.unlisted,
            percent=_percent(s),
            done=s.done,
            failed=s.failed,
            skipped=s.skipped,
            in_flight=s.in_flight,
            req_per_s=round(self.pace.update(s), 1),
            rate_ceiling=round(s.rate_ceiling, 1),
            throttled=s.throttles,
            eta_s=None if eta is None else round(eta),
            bonus_paid=str(s.bonus_paid),
            fees_paid=str(s.fees_paid),
        )
