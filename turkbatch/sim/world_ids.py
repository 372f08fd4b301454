"""
MTurk-looking ids: 30 upper-case alphanumerics, deterministic so runs reproduce.

HITs, HIT types, qualification types, qualification requests and sprung assignments get
``"3"`` + 29 base-36 digits of a BLAKE2 digest of ``<kind>:<counter>``; HIT-type ids digest
the type's properties instead, and derived worker ids are ``"A"`` + 13 digits.
"""

from __future__ import annotations

import hashlib

_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def base36(number: int, width: int) -> str:
    """Return the last ``width`` base-36 digits of ``number``, zero-padded."""
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 36)
        digits.append(_B36[rest])
    return "".join(reversed(digits))


def mturk_id(seed: str, *, first: str = "3", length: int = 30) -> str:
    """Return a deterministic MTurk-looking id (upper-case alphanumerics) for ``seed``."""
    digest = hashlib.blake2b(seed.encode(), digest_size=20).digest()
    return first + base36(int.from_bytes(digest, "big"), length - 1)
