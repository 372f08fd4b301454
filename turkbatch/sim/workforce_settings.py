"""
The settings of the simulated workforce: how many workers, how fast, how reliable.

One frozen value, built by the ``sim`` command from its flags, by a world file's
``workforce`` section, or in Python; :meth:`WorkforceSettings.from_json` reads the same
names the world file and the admin API use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

DEFAULT_FIND_SECONDS = 300.0
DEFAULT_WORK_SECONDS = 600.0
DEFAULT_RETURN_SHARE = 0.10
DEFAULT_ABANDON_SHARE = 0.05
DEFAULT_NOTIFIABLE_SHARE = 0.0
DEFAULT_MASTERS_SHARE = 0.10
DEFAULT_REQUEST_SECONDS = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkforceSettings:
    """
    How the simulated workers behave; every time is in simulated seconds.

    Args:
        workers: how many workers there are (0: no workforce).
        seed: makes the workers and everything they do reproducible.
        find_seconds: mean time until an open slot of an Assignable HIT is accepted.
        work_seconds: mean time a worker takes to submit (capped by the HIT's
            AssignmentDurationInSeconds).
        return_share: share of accepted assignments returned before submitting.
        abandon_share: share of accepted assignments abandoned (freed at the deadline).
        notifiable_share: share of workers who did reviewed work for you before, so
            NotifyWorkers reaches them from the start.
        masters_share: share of workers holding the Masters qualification.
        request_seconds: mean time between qualification requests for each requestable
            type you own (0: workers never request).
    """

    workers: int = 0
    seed: int = 0
    find_seconds: float = DEFAULT_FIND_SECONDS
    work_seconds: float = DEFAULT_WORK_SECONDS
    return_share: float = DEFAULT_RETURN_SHARE
    abandon_share: float = DEFAULT_ABANDON_SHARE
    notifiable_share: float = DEFAULT_NOTIFIABLE_SHARE
    masters_share: float = DEFAULT_MASTERS_SHARE
    request_seconds: float = DEFAULT_REQUEST_SECONDS

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ValueError("workers must be 0 or more")
        if self.find_seconds <= 0 or self.work_seconds <= 0 or self.request_seconds < 0:
            raise ValueError("find_seconds and work_seconds must be above 0, request_seconds ≥ 0")
        shares = (self.return_share, self.abandon_share, self.notifiable_share, self.masters_share)
        if not all(0 <= share <= 1 for share in shares):
            raise ValueError("every share must be between 0 and 1")
        if self.return_share + self.abandon_share > 1:
            raise ValueError("return_share + abandon_share must be at most 1")

    @classmethod
    def from_json(cls, data: Any) -> WorkforceSettings:
        """
        Build settings from a JSON object of field names (missing ones take defaults).

        Raises:
            ValueError: not an object, an unknown name, a wrong type or a bad value.
        """
        if not isinstance(data, dict):
            raise ValueError("workforce must be a JSON object")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name.startswith("_"):
                continue
            if name not in known:
                raise ValueError(f"workforce: unknown setting '{name}' (known: {', '.join(known)})")
            integral = name in ("workers", "seed")
            kinds = (int,) if integral else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise ValueError(f"workforce: {name} must be a number, not {value!r}")
            values[name] = value if integral else float(value)
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict."""
        return asdict(self)
