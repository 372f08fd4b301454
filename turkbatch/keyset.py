"""
Compact, exact sets of keys for million-line jobs and journals.

A Python ``set[str]`` of a million 24-character keys costs about 90 MB: an object of 73
bytes per key, and a hash table of pointers over them. :class:`KeySet` keeps the same keys
in about 30 MB. The hash of a key only picks a *bucket*: one ``str`` holding that bucket's
keys framed as ``\\n<key>\\x1f``. Membership is a substring search for the framed key (in
C, and exact: a framed key is found only where that very key was added). :class:`KeyMap`
frames a value after each key (``\\n<key>\\x1f<value>``).

A key with either separator in it (or a value with a line break) cannot be framed: it
goes to a plain dict beside the buckets, so that every lookup stays exact. The buckets are
multiplied by :data:`GROWTH` whenever they hold :data:`LOAD` keys on average (or sized
from the start, given how many keys to expect).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set
from typing import Final

__all__ = ["KeyMap", "KeySet"]

#: Keys per bucket, on average, before the buckets are multiplied.
LOAD: Final = 16
#: How many times more buckets each rebuild makes.
GROWTH: Final = 4
_FIRST: Final = 64  # buckets to start with (a power of two)


def _exact(key: str) -> str:
    """Return ``key`` as a plain ``str`` (a subclass could format itself otherwise)."""
    return key if key.__class__ is str else str.__str__(key)


class _Buckets:
    """Keys (with values) framed as ``\\n<key>\\x1f<value>`` in buckets picked by hash."""

    __slots__ = ("_buckets", "_len", "_limit", "_mask", "_odd")

    def __init__(self, expected: int = 0) -> None:
        count = _FIRST
        while LOAD * count < expected:
            count *= GROWTH
        self._buckets = [""] * count  # an empty bucket is one shared "": a pointer
        self._mask = count - 1
        self._limit = LOAD * count
        self._len = 0
        self._odd: dict[str, str] = {}  # what the separators cannot frame

    def __len__(self) -> int:
        return self._len

    def _entries(self) -> Iterator[tuple[str, str]]:
        """Yield every ``(key, value)``, in no particular order."""
        for bucket in self._buckets:
            for entry in bucket.split("\n")[1:]:
                key, _, value = entry.partition("\x1f")
                yield key, value
        yield from self._odd.items()

    def _grow(self) -> None:
        """
        Spread the entries over :data:`GROWTH` times more buckets, one bucket at a time.

        The keys of old bucket ``i`` all go to new buckets ``i + k * old`` (their hashes
        agree on the old mask's bits), so only one bucket's entries are ever split apart.
        """
        old = len(self._buckets)
        count = old * GROWTH
        mask = count - 1
        buckets = self._buckets
        buckets += [""] * (count - old)
        for i in range(old):
            if not buckets[i]:
                continue
            parts: list[list[str]] = [[] for _ in range(GROWTH)]
            for entry in buckets[i].split("\n")[1:]:
                parts[(hash(entry[: entry.index("\x1f")]) & mask) // old].append(entry)
            for k, part in enumerate(parts):
                buckets[i + k * old] = "\n" + "\n".join(part) if part else ""
        self._mask, self._limit = mask, LOAD * count


class KeySet(_Buckets, Set[str]):
    """
    A set of strings (journal keys) at about their length plus two bytes each.

    It only grows: there is no ``discard``. It compares equal to any set of the same keys.
    """

    __slots__ = ()

    def __init__(self, keys: Iterable[str] = (), *, expected: int = 0) -> None:
        """
        Args:
            keys: the first keys.
            expected: how many keys it may come to hold, to size the buckets from the
                start (growing costs a pass over every key held).
        """
        super().__init__(expected)
        for key in keys:
            self.add(key)

    def __contains__(self, key: object) -> bool:
        if key.__class__ is not str:
            if not isinstance(key, str):
                return False
            key = _exact(key)
        if "\n" in key or "\x1f" in key:
            return key in self._odd
        return f"\n{key}\x1f" in self._buckets[hash(key) & self._mask]

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._entries())

    def __repr__(self) -> str:
        return f"KeySet(<{self._len} keys>)"

    def add(self, key: str) -> bool:
        """Add ``key``; return whether it was new."""
        if key.__class__ is not str:  # (inline: replay adds a million keys)
            key = _exact(key)
        if "\n" in key or "\x1f" in key:
            if key in self._odd:
                return False
            self._odd[key] = ""
        else:
            n, entry = hash(key) & self._mask, f"\n{key}\x1f"
            bucket = self._buckets[n]
            if entry in bucket:
                return False
            self._buckets[n] = bucket + entry
        self._len += 1
        if self._len > self._limit:
            self._grow()
        return True


class KeyMap(_Buckets):
    """A map from strings to strings at about their lengths plus two bytes an entry."""

    __slots__ = ()

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def get(self, key: str) -> str | None:
        """Return the value of ``key``, or ``None`` if it has none."""
        key = _exact(key)
        if "\n" not in key and "\x1f" not in key:
            bucket, entry = self._buckets[hash(key) & self._mask], f"\n{key}\x1f"
            start = bucket.find(entry)
            if start >= 0:
                start += len(entry)
                end = bucket.find("\n", start)
                return bucket[start:] if end < 0 else bucket[start:end]
        return self._odd.get(key)  # (also a plain key whose value has a line break)

    def add(self, key: str, value: str) -> bool:
        """
        Give ``key`` the value ``value``, unless it has one already.

        Returns:
            Whether ``key`` was new (a key keeps its first value).
        """
        key, value = _exact(key), _exact(value)
        if "\n" not in key and "\x1f" not in key and "\n" not in value:
            n, entry = hash(key) & self._mask, f"\n{key}\x1f"
            bucket = self._buckets[n]
            if entry in bucket or key in self._odd:  # (odd: its first value had a line break)
                return False
            self._buckets[n] = bucket + entry + value
        elif key in self:
            return False
        else:
            self._odd[key] = value
        self._len += 1
        if self._len > self._limit:
            self._grow()
        return True

    def items(self) -> Iterator[tuple[str, str]]:
        """Yield every ``(key, value)``, in no particular order."""
        return self._entries()
