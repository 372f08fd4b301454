"""
Fault injection for the simulator: the settings, and the seeded decision per request.

Every API request gets exactly one *fate* before it reaches the world:

====================  =====================================================  ===========
fate                  what the client sees                                   world call?
====================  =====================================================  ===========
``Fate.THROTTLED``    HTTP 400 ``ThrottlingException`` "Rate exceeded"      no
``Fate.FAULT``        HTTP 500 ``ServiceFault``                              no
``Fate.UNAVAILABLE``  HTTP 503 with an empty body                            no
``Fate.LOST``         the connection drops, no response at all              yes (committed)
``Fate.OK``           the world's answer                                     yes
====================  =====================================================  ===========

Throttling is deterministic given the arrival times: token buckets (one overall, one per
operation) refill at ``rate`` tokens per second up to ``burst``, and a request that finds
an empty bucket is throttled. They run on the real monotonic clock, never the simulator's
advanceable :class:`~turkbatch.sim.clock.Clock`, so moving the clock does not refill them.

The random fates are drawn from ``random.Random(seed)``: one uniform draw per request is
split into ``[0, fault_rate)`` → fault, then ``unavailable_rate`` → 503, then
``lost_rate`` → lost, so the three rates must sum to at most 1. Latency comes from a
second generator seeded from the same seed, so changing the latency never changes which
requests fail. The same seed, settings and request order reproduce the same run.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
from types import MappingProxyType
from typing import Any

DEFAULT_SEED = 0
"""The seed used when none is given, so that an unconfigured run still reproduces."""

_RATE_FIELDS = ("fault_rate", "unavailable_rate", "lost_rate")


class Fate(Enum):
    """What happens to one request."""

    OK = "ok"
    THROTTLED = "throttled"
    FAULT = "fault"
    UNAVAILABLE = "unavailable"
    LOST = "lost"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limit:
    """
    A token bucket's shape.

    Args:
        rate: tokens added per second (``0`` means the bucket never refills).
        burst: bucket size, the most requests that can go through at once.
    """

    rate: float
    burst: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate >= 0):
            raise ValueError(f"throttle rate must be a finite number >= 0, not {self.rate!r}")
        if not (math.isfinite(self.burst) and self.burst >= 0):
            raise ValueError(f"throttle burst must be a finite number >= 0, not {self.burst!r}")

    @classmethod
    def of(cls, rate: float, burst: float | None = None) -> Limit:
        """Return a limit whose burst defaults to one second's worth of tokens (at least 1)."""
        return cls(rate=float(rate), burst=float(max(1.0, rate) if burst is None else burst))


def _no_limits() -> Mapping[str, Limit]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSettings:
    """
    Which faults the simulator injects, and how often.

    Args:
        seed: seed of the random fates and latencies.
        throttle_rate: overall requests per second allowed; ``None`` for no limit.
        throttle_burst: overall bucket size; ``None`` for ``max(1, throttle_rate)``.
        op_throttle: per-operation limits, applied on top of the overall one.
        fault_rate: probability of HTTP 500 ``ServiceFault``.
        unavailable_rate: probability of HTTP 503 with an empty body.
        lost_rate: probability that the call is committed and the response is lost.
        latency_ms: mean added latency in milliseconds.
        latency_jitter_ms: standard deviation of the added latency (lognormal, so the
            delay is never negative and has a realistic long tail).
    """

    seed: int = DEFAULT_SEED
    throttle_rate: float | None = None
    throttle_burst: float | None = None
    op_throttle: Mapping[str, Limit] = field(default_factory=_no_limits)
    fault_rate: float = 0.0
    unavailable_rate: float = 0.0
    lost_rate: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0

    def __post_init__(self) -> None:
        for name in (*_RATE_FIELDS, "latency_ms", "latency_jitter_ms"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        for name in _RATE_FIELDS:
            if getattr(self, name) > 1:
                raise ValueError(f"{name} is a probability and must be at most 1")
        if sum(getattr(self, name) for name in _RATE_FIELDS) > 1 + 1e-9:
            raise ValueError("fault_rate + unavailable_rate + lost_rate must be at most 1")
        if self.throttle_rate is not None:
            self.overall_limit()  # validates rate and burst
        elif self.throttle_burst is not None:
            raise ValueError("throttle_burst needs throttle_rate")
        object.__setattr__(self, "op_throttle", MappingProxyType(dict(self.op_throttle)))

    def overall_limit(self) -> Limit | None:
        """Return the overall token bucket's shape, or ``None`` when unlimited."""
        if self.throttle_rate is None:
            return None
        return Limit.of(self.throttle_rate, self.throttle_burst)

    def to_json(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict (the admin API's shape)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["op_throttle"] = {op: asdict(limit) for op, limit in sorted(self.op_throttle.items())}
        return out

    def merge(self, updates: Mapping[str, Any]) -> FaultSettings:
        """
        Return new settings with ``updates`` (admin-API JSON) applied over these.

        ``op_throttle`` replaces the whole per-operation map; each value is a rate, a
        ``"rate[:burst]"`` string, or ``{"rate": R, "burst": B}``.

        Raises:
            ValueError: an unknown key or a bad value.
        """
        known = {f.name for f in fields(self)}
        unknown = sorted(set(updates) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        changes: dict[str, Any] = {}
        for key, value in updates.items():
            if key == "op_throttle":
                changes[key] = _parse_op_map(value)
            elif key == "seed":
                changes[key] = _as_int(key, value)
            elif key in ("throttle_rate", "throttle_burst"):
                changes[key] = None if value is None else _as_float(key, value)
            else:
                changes[key] = _as_float(key, value)
        return replace(self, **changes)


def _as_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name} must be a number, not {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {value!r}") from None


def _as_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {value!r}") from None


def parse_limit(text: str) -> Limit:
    """
    Parse ``"R"`` or ``"R:B"`` (rate, optional burst).

    Raises:
        ValueError: not a rate.
    """
    rate, _, burst = text.partition(":")
    return Limit.of(_as_float("rate", rate), _as_float("burst", burst) if burst else None)


def parse_op_throttle(text: str) -> tuple[str, Limit]:
    """
    Parse one ``--op-throttle`` value, ``Op=R`` or ``Op=R:B``.

    Raises:
        ValueError: not of that form.
    """
    op, sep, limit = text.partition("=")
    if not sep or not op.strip():
        raise ValueError(f"expected Operation=RATE[:BURST], not {text!r}")
    return op.strip(), parse_limit(limit)


def _parse_op_map(value: object) -> dict[str, Limit]:
    if not isinstance(value, Mapping):
        raise ValueError("op_throttle must be an object of Operation → limit")
    out: dict[str, Limit] = {}
    for op, raw in value.items():
        if isinstance(raw, Limit):
            out[op] = raw
        elif isinstance(raw, Mapping):
            extra = set(raw) - {"rate", "burst"}
            if extra or "rate" not in raw:
                raise ValueError(f"op_throttle[{op}] needs 'rate' and optionally 'burst'")
            burst = raw.get("burst")
            out[op] = Limit.of(
                _as_float("rate", raw["rate"]),
                None if burst is None else _as_float("burst", burst),
            )
        elif isinstance(raw, str):
            out[op] = parse_limit(raw)
        else:
            out[op] = Limit.of(_as_float(f"op_throttle[{op}]", raw))
    return out


class TokenBucket:
    """A token bucket on the monotonic clock; starts full."""

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, limit: Limit, now: float) -> None:
        self._rate = limit.rate
        self._burst = limit.burst
        self._tokens = limit.burst
        self._stamp = now

    def ready(self, now: float) -> bool:
        """Refill up to ``now`` and say whether a whole token is available."""
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        return self._tokens >= 1.0

    def take(self) -> None:
        """Spend one token (call only after :meth:`ready` said yes)."""
        self._tokens -= 1.0


class FaultInjector:
    """
    The run-time fault state: current settings, seeded generators and token buckets.

    Args:
        settings: the settings to start with.
        monotonic: the clock the token buckets run on (injectable for tests).
    """

    def __init__(
        self,
        settings: FaultSettings | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self._initial = settings or FaultSettings()
        self._settings = self._initial
        self._fates = random.Random()
        self._latency = random.Random()
        self._overall: TokenBucket | None = None
        self._per_op: dict[str, TokenBucket] = {}
        self._active = False
        self._mu = 0.0
        self._sigma = 0.0
        self._apply(self._initial, reseed=True)

    @property
    def settings(self) -> FaultSettings:
        """The settings in force."""
        return self._settings

    @property
    def initial(self) -> FaultSettings:
        """The settings the injector started with (restored by ``reset(faults=True)``)."""
        return self._initial

    def update(self, settings: FaultSettings) -> None:
        """
        Switch to ``settings`` at run time.

        The generators are reseeded only when the seed changes; a bucket is rebuilt
        (full) only when its limit changes.
        """
        self._apply(settings, reseed=settings.seed != self._settings.seed)

    def reset(self, *, faults: bool = False) -> None:
        """Reseed, refill every bucket, and with ``faults`` go back to the initial settings."""
        self._overall = None
        self._per_op = {}
        self._apply(self._initial if faults else self._settings, reseed=True)

    def _apply(self, new: FaultSettings, *, reseed: bool) -> None:
        old = self._settings
        now = self._monotonic()
        if reseed:
            self._fates.seed(new.seed)
            self._latency.seed(new.seed ^ 0x5EED)
        overall = new.overall_limit()
        if overall is None:
            self._overall = None
        elif self._overall is None or overall != old.overall_limit():
            self._overall = TokenBucket(overall, now)
        self._per_op = {
            op: bucket
            if (bucket := self._per_op.get(op)) is not None and old.op_throttle.get(op) == limit
            else TokenBucket(limit, now)
            for op, limit in new.op_throttle.items()
        }
        self._settings = new
        self._active = bool(
            overall is not None
            or new.op_throttle
            or new.fault_rate
            or new.unavailable_rate
            or new.lost_rate
            or new.latency_ms
        )
        if new.latency_ms > 0 and new.latency_jitter_ms > 0:
            # lognormal with the requested mean and standard deviation
            self._sigma = math.sqrt(math.log1p((new.latency_jitter_ms / new.latency_ms) ** 2))
            self._mu = math.log(new.latency_ms) - self._sigma**2 / 2
        else:
            self._sigma = 0.0
            self._mu = 0.0

    def decide(self, operation: str) -> tuple[Fate, float]:
        """
        Draw the fate of one request to ``operation``.

        Returns:
            The fate and the delay in seconds to apply before answering.
        """
        if not self._active:
            return Fate.OK, 0.0
        s = self._settings
        u = self._fates.random()
        if self._sigma:
            delay = self._latency.lognormvariate(self._mu, self._sigma) / 1000.0
        else:
            delay = s.latency_ms / 1000.0
        if self._overall is not None or self._per_op:
            now = self._monotonic()
            overall = self._overall
            bucket = self._per_op.get(operation)
            if (overall is not None and not overall.ready(now)) or (
                bucket is not None and not bucket.ready(now)
            ):
                return Fate.THROTTLED, delay
            if overall is not None:
                overall.take()
            if bucket is not None:
                bucket.take()
        if u < s.fault_rate:
            return Fate.FAULT, delay
        if u < s.fault_rate + s.unavailable_rate:
            return Fate.UNAVAILABLE, delay
        if u < s.fault_rate + s.unavailable_rate + s.lost_rate:
            return Fate.LOST, delay
        return Fate.OK, delay
