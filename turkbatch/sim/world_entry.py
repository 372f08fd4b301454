"""
Typed reading of world-file entries: every accessor names the entry when it fails.

A world file's errors must point at the line a person wrote, so each :class:`Entry`
carries its location (``world.json: hits[2]``) and every accessor raises ``ValueError``
with it. Unknown fields are errors; fields starting with ``_`` are comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import InvalidOperation
from typing import Any, NoReturn

from turkbatch.sim.world_money import money

AMOUNT = re.compile(r"^[0-9]+(\.)?[0-9]{0,2}$")


class Entry:
    """One JSON object of a world file, read with typed accessors that name it on error."""

    def __init__(self, where: str, raw: object, fields: tuple[str, ...]) -> None:
        self.where = where
        if not isinstance(raw, dict):
            self.fail(f"expected a JSON object, not {type(raw).__name__}")
        self.raw: dict[str, Any] = raw
        for key in raw:
            if key not in fields and not key.startswith("_"):
                self.fail(f"unknown field '{key}' (known: {', '.join(fields)})")

    def fail(self, message: str) -> NoReturn:
        """Raise ``ValueError`` for this entry."""
        raise ValueError(f"{self.where}: {message}")

    def text(self, key: str, pattern: re.Pattern[str] | None = None) -> str | None:
        """Return a string field, or None when absent."""
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(f"{key} must be a string, not {value!r}")
        if pattern is not None and (not pattern.match(value) or len(value) > 64):
            self.fail(f"{key} '{value}' is not a valid id (pattern {pattern.pattern}, ≤ 64)")
        return value

    def need(self, key: str, pattern: re.Pattern[str] | None = None) -> str:
        """Return a required string field."""
        value = self.text(key, pattern)
        if value is None:
            self.fail(f"{key} is required")
        return value

    def integer(self, key: str, default: int, minimum: int = 0) -> int:
        """Return an integer field ≥ ``minimum``, or ``default``."""
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(f"{key} must be an integer ≥ {minimum}, not {value!r}")
        return value

    def maybe_integer(self, key: str) -> int | None:
        """Return an integer field ≥ 0, or None when absent."""
        return self.integer(key, 0) if key in self.raw else None

    def flag(self, key: str, default: bool) -> bool:
        """Return a boolean field, or ``default``."""
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false, not {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        """Return a string field that must be one of ``choices``."""
        value = self.text(key) or default
        if value not in choices:
            self.fail(f"{key} '{value}' is not one of {', '.join(choices)}")
        return value

    def time(self, key: str, default: float) -> float:
        """Return a timestamp field (epoch seconds or ISO 8601; naive means UTC)."""
        value = self.raw.get(key)
        if value is None:
            return default
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail(f"{key} must be epoch seconds or an ISO 8601 time, not {value!r}")
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()

    def amount(self, key: str, default: str) -> str:
        """Return a CurrencyAmount field normalised to two decimals."""
        value = self.text(key) or default
        try:
            if AMOUNT.match(value):
                return f"{money(value):.2f}"
        except InvalidOperation:
            pass
        self.fail(f"{key} '{value}' is not an amount like 12.50")

    def objects(self, key: str) -> list[dict[str, Any]]:
        """Return a list-of-objects field (e.g. QualificationRequirements), or []."""
        value = self.raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(f"{key} must be a list of objects")
        return value


def entries(
    source: str, data: dict[str, Any], section: str, fields: tuple[str, ...]
) -> Iterator[Entry]:
    """Yield each entry of a top-level list section."""
    items = data.get(section, [])
    if not isinstance(items, list):
        raise ValueError(f"{source}: {section} must be a list")
    for index, raw in enumerate(items):
        yield Entry(f"{source}: {section}[{index}]", raw, fields)
