"""
Words for people: a count with its noun in the right number ("1 row", "2 rows").
"""

from __future__ import annotations

__all__ = ["counted"]

#: Nouns whose plural is not the singular plus "s".
_PLURALS = {"bonus": "bonuses", "HIT": "HITs", "worker id": "worker ids", "entry": "entries"}


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """
    Return ``n`` and ``noun``, plural unless ``n`` is 1: ``counted(3, "row")`` → ``3 rows``.

    Args:
        n: how many.
        noun: the singular.
        plural: the plural, when it is not ``noun + "s"`` (nor a known irregular one).
    """
    if n == 1:
        return f"1 {noun}"
    return f"{n:,} {plural or _PLURALS.get(noun) or noun + 's'}"
