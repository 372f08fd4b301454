"""
Read job files: parse, validate and key every line, streaming, in one pass.

A job is JSON Lines: one object per line. ``op`` names an MTurk 2017-01-17 operation,
every other PascalCase key is an API parameter spelled as in the API, and lower-case keys
are turkbatch's own: ``id`` (the line's stable identity), ``barrier`` (``{"barrier":
true}`` alone on a line: everything before it finishes before anything after it starts)
and the filters of bulk lines. Blank lines and lines whose first non-space character is
``#`` are skipped.

Only a line the strict validator refuses takes the slow path (:mod:`turkbatch.diagnosis`):
a legacy 2014 spelling is mapped (:func:`_normalise`); a bulk form becomes an
:class:`Operation` with ``bulk`` set, for :mod:`turkbatch.expand`; the rest is reported.

Every line gets a key for the journal. A SendBonus line's is its *payment*:
``pay:<payment id>`` (:mod:`turkbatch.ledger`: worker, assignment, amount as a number,
reason), ``#n`` for the n-th identical payment, whatever its ``id`` or spelling. Any other
line's is ``id:<id>`` when it has an ``id`` (which may not contain ``/``: that separates a
bulk line's items), else a digest of its canonical content (op, parameters as mapped and
de-duplicated, filters; keys sorted, ``id`` left out), suffixed ``#n`` for the n-th
identical line. Inserting or removing *other* lines changes no key; two intentionally
identical bonus lines stay two. The four token operations get ``UniqueRequestToken =
token_for(key)`` unless the line gives one (a line's own token must be unique in the job);
for a line with an ``id`` the token covers the id *and* the content, so ids reused across
job files never share a token.

:func:`check_job` validates a whole file and collects every error before anything is
sent (a big file in parts, one per CPU, with the same result); :func:`read_job` streams the
same file again as :class:`Operation` and :class:`Barrier` values with the same keys and
tokens.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import select
import signal
import struct
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, BinaryIO, Final, Protocol

import orjson

from turkbatch import bulk, diagnosis, ledger, legacy, money, schema
from turkbatch.bulk import Bulk
from turkbatch.catalog import BONUS_AMOUNTS, OPERATIONS, PAYMENT_OPERATIONS, TOKEN_OPERATIONS
from turkbatch.errors import JobError, LineError
from turkbatch.keyset import KeySet
from turkbatch.money import Spend

__all__ = [
    "Barrier",
    "Bulk",
    "JobStats",
    "Operation",
    "check_items",
    "check_job",
    "iter_items",
    "read_job",
    "token_for",
]

MAX_ERRORS: Final = 50
MAX_ID_LENGTH: Final = 200
TOKEN_PREFIX: Final = "tb1-"
OWN_KEYS: Final = bulk.OWN_KEYS
TOKEN: Final = "UniqueRequestToken"

_KNOWN_OPS: Final = frozenset(OPERATIONS)
_Validator = Callable[[dict[str, Any]], list[schema.Violation]]
_VALIDATORS: dict[str, _Validator] = {}
_TO_SLOW_PATH: Final = [schema.Violation((), None, "bulk")]
_BOM: Final = b"\xef\xbb\xbf"
_SORTED: Final = orjson.OPT_SORT_KEYS
_PREFIX: Final = struct.Struct("<Q").unpack_from


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """
    One API call to make.

    Args:
        line: 1-based line in the job file (or index + 1 for in-memory items).
        key: stable identity for the journal: ``id:<id>``, ``<24 hex>`` or ``<24 hex>#n``;
            a call expanded from a bulk line has ``<parent key>/<suffix>``.
        op: the 2017-01-17 operation name.
        params: exactly the request parameters, ``UniqueRequestToken`` filled in for the
            token operations; for a bulk line, the line's parameters (``WorkerIds``
            de-duplicated, first occurrence kept). Do not mutate.
        bulk: ``None`` for one API call; else the bulk form (:class:`Bulk`) that
            :mod:`turkbatch.expand` turns into calls.
        filters: a listed bulk line's normalised filters (see :mod:`turkbatch.bulk`).
        dropped: repeated WorkerIds removed from a bulk line's ``WorkerIds``.
        on: a call expanded from a listing: the ids of the item it acts on (an
            assignment or request, its worker, its HIT or type), for the journal to
            record and every view to name.
    """

    line: int
    key: str
    op: str
    params: Mapping[str, Any]
    bulk: Bulk | None = None
    filters: Mapping[str, Any] | None = None
    dropped: int = 0
    on: Mapping[str, str] | None = None

    @property
    def token(self) -> str | None:
        """Return the ``UniqueRequestToken`` of a token operation, else ``None``."""
        return self.params.get(TOKEN) if self.op in TOKEN_OPERATIONS else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Barrier:
    """Every operation before this line finishes before any operation after it starts."""

    line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStats:
    """
    What a valid job holds.

    Args:
        operations: how many operations.
        by_op: operations per operation name.
        barriers: how many barrier lines.
        total_bonus: the sum of every SendBonus ``BonusAmount``, in USD, before fees.
        bonus_spend: every single SendBonus line's payment with MTurk's fee (what a first
            run pays, before a bonus-by-HIT line is listed).
        largest_bonus: the largest single ``BonusAmount`` (0 without bonuses).
        lines: physical lines read (items, for in-memory jobs).
        digest: sha256 hex over the canonical content (and id) of every operation and
            every barrier, in order: any edit that changes what the job does changes it;
            reformatting a line or reordering its keys does not.
        bulk: bulk lines per form (``{"chunks": 2, "requests": 1}``), sorted.
        recipients: distinct WorkerIds over all NotifyWorkers lines, each line counted
            on its own (the messages a run sends).
        calls: the API calls the job makes, as far as its lines say: a plain line is one,
            a NotifyWorkers line one per 100 workers, a ``WorkerIds`` line one per worker;
            a listed line's calls are found at run time (none counted here).
        duplicates: repeated WorkerIds dropped from NotifyWorkers lines.
    """

    operations: int
    by_op: dict[str, int]
    barriers: int
    total_bonus: Decimal
    lines: int
    digest: str
    bulk: dict[str, int] = field(default_factory=dict)
    recipients: int = 0
    duplicates: int = 0
    calls: int = 0
    bonus_spend: Spend = field(default_factory=Spend)
    largest_bonus: Decimal = Decimal(0)


def token_for(key: str) -> str:
    """Return the deterministic ``UniqueRequestToken`` (44 characters) for a line key."""
    return TOKEN_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:40]


def _normalise(record: dict[str, Any]) -> dict[str, Any]:
    """
    Map a legacy record onto its 2017-01-17 form: THE one place legacy names plug in.

    Runs on the slow path only, before validation and keying, so a mapped line validates
    and keys exactly like its 2017 spelling; every legacy line reaches it, because the
    strict 2017 validator refuses legacy names and shapes.

    Raises:
        LegacyError: an operation that no longer exists, or a parameter with no mapping.
    """
    return legacy.modernise(record)


def _to_slow_path(params: dict[str, Any]) -> list[schema.Violation]:
    return _TO_SLOW_PATH


def _validator(op: object) -> _Validator | None:
    """
    Return the hot path's validator of a known operation (compiled on first use).

    It is schema's own, except for an always-bulk operation (NotifyWorkers), whose lines
    always take the slow path.
    """
    if not isinstance(op, str) or op not in _KNOWN_OPS:
        return None
    validate = _VALIDATORS[op] = _to_slow_path if op in bulk.ALWAYS else schema.validator(op)
    return validate


# --- the one pass ---------------------------------------------------------------------


class _State:
    """What one pass keeps: compact key memory, the stats, and the slow (error) paths."""

    def __init__(
        self, source: str, max_errors: int, *, reading: bool = False, checked: bool = False
    ) -> None:
        # Reading (read_job, iter_items) raises at the first error and keys every line;
        # checking collects errors and needs no keys, only the digest that fixes them.
        self.source, self.max_errors, self.reading = source, max_errors, reading
        self.checked = checked  # check_job passed just now: ids are known to be unique
        self.errors: list[LineError] = []
        self.total = 0
        self.lines = 0
        # 60-bit prefixes (in hex) of the content digests seen, and of the id digests seen:
        # compact sets, as a set of ints would cost ~60 MB on a million-line job.
        self.seen = KeySet()
        self.repeats: dict[int, int] = {}  # prefix → occurrences, for repeated prefixes only
        self.ids = KeySet()
        self.payments = KeySet()  # payment ids of SendBonus lines seen (reading only)
        self.payment_repeats: dict[str, int] = {}  # payment id → occurrences, if repeated
        self.by_op: dict[str, int] = {}
        self.barriers = 0
        self.amounts: dict[str, int] = {}  # BonusAmount → count, summed as it grows
        self.spend = Spend()  # the bonuses, with a fee each
        self.largest = Decimal(0)
        self.sha = hashlib.sha256()
        self.bulk: dict[str, int] = {}
        self.recipients = 0
        self.duplicates = 0
        self.extra_calls = 0  # what bulk lines add to one call per line

    def error(self, line: int, message: str) -> None:
        """Count an error, keep the first ``max_errors``; raise at once when reading."""
        self.total += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(LineError(line=line, message=message))
        if self.reading:
            raise JobError(self.source, self.errors, self.total)

    def decode(self, line: int, raw: bytes) -> dict[str, Any] | None:
        """Parse a line that does not start with ``{``: BOM, blank, comment or bad."""
        data = raw[3:] if line == 1 and raw.startswith(_BOM) else raw
        stripped = data.strip()
        if not stripped or stripped[:1] == b"#":
            self.utf8(line, raw)
            return None
        try:
            return self.record(line, orjson.loads(stripped))
        except orjson.JSONDecodeError as exc:
            self.bad_json(line, raw, exc)
            return None

    def bad_json(self, line: int, raw: bytes, exc: orjson.JSONDecodeError) -> None:
        """Report a line orjson refused: bad UTF-8, or bad JSON with orjson's message."""
        if not self.utf8(line, raw):
            return
        try:  # again without the line break, so that the column is on this line
            orjson.loads(raw.rstrip(b"\r\n"))
        except orjson.JSONDecodeError as again:
            exc = again
        self.error(line, f"invalid JSON: {exc.msg} at column {exc.colno}")

    def utf8(self, line: int, raw: bytes) -> bool:
        """Report and return ``False`` if ``raw`` is not UTF-8."""
        try:
            raw.decode()
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex()
            self.error(line, f"not valid UTF-8: byte 0x{bad} at offset {exc.start}")
            return False
        return True

    def record(self, line: int, value: object) -> dict[str, Any] | None:
        """Return a parsed line or an item as a fresh dict, or report it is not an object."""
        if isinstance(value, Mapping):
            return dict(value)
        self.error(line, f"a job line must be a JSON object, not {diagnosis.kind(value)}")
        return None

    def irregular(
        self, line: int, op: object, ident: object, rec: dict[str, Any]
    ) -> diagnosis.Resolved | None:
        """Resolve a line the fast path refused (legacy, bulk), or report its problems."""
        resolved = diagnosis.resolve(op, rec, _normalise)
        if isinstance(resolved, tuple):
            form = resolved[2]
            if form is not None:  # counted now: stats are only kept for a valid job
                self.bulk[form.bulk] = self.bulk.get(form.bulk, 0) + 1
                self.extra_calls += form.calls(resolved[0]) - 1
                if form.bulk is Bulk.CHUNKS:
                    self.recipients += form.distinct
                    self.duplicates += form.dropped
            return resolved
        for message in resolved:
            self.error(line, message)
        if ident is not None:
            self.named(line, ident)
        return None

    def named(self, line: int, ident: object) -> str | None:
        """Return the key of a line with an ``id``, or ``None`` if the id is bad or reused."""
        if not isinstance(ident, str) or not 1 <= len(ident) <= MAX_ID_LENGTH:
            self.error(line, f"id must be a string of 1 to {MAX_ID_LENGTH} characters")
            return None
        if "/" in ident:
            # A bulk line's calls are keyed "<line key>/<item>": an id with a "/" could
            # name one of them, and be skipped as done when that call is.
            self.error(line, f"id '{ident}' contains '/', which turkbatch keeps for bulk items")
            return None
        key = "id:" + ident
        digest = hashlib.sha256(key.encode()).digest()
        if not self.checked and not self.ids.add(f"{_PREFIX(digest)[0] >> 4:x}"):
            self.error(line, f"duplicate id '{ident}' (ids must be unique within a job)")
            return None
        self.sha.update(digest)
        return key

    def own_token(self, line: int, token: object) -> bool:
        """Report and return ``False`` if a line's own UniqueRequestToken is used before."""
        if self.checked or not isinstance(token, str):
            return True
        digest = hashlib.sha256(f"tok:{token}".encode()).digest()
        if self.ids.add(f"{_PREFIX(digest)[0] >> 4:x}"):
            return True
        self.error(
            line,
            f"UniqueRequestToken '{token}' is used by an earlier line: MTurk would refuse "
            "every call after the first with it (give each line its own, or none)",
        )
        return False

    def payment(self, params: Mapping[str, Any]) -> str:
        """
        Return the key of a SendBonus line: ``pay:<payment id>``, ``#n`` for the n-th
        occurrence of that very payment in the job (counted exactly, by the whole id).
        """
        pid = ledger.payment_id(
            str(params["WorkerId"]),
            str(params["AssignmentId"]),
            str(params["BonusAmount"]),
            str(params.get("Reason", "")),
        )
        if self.payments.add(pid):
            return ledger.PAY_PREFIX + pid
        count = self.payment_repeats[pid] = self.payment_repeats.get(pid, 1) + 1
        return f"{ledger.PAY_PREFIX}{pid}#{count}"

    def key(self, digest: bytes) -> str:
        """
        Return the key of a line without id: ``<hex>``, ``<hex>#n`` for the n-th copy.

        Copies are told apart by the first 60 bits of the digest, as they always were, so
        keys never change: two different lines sharing those bits (a chance of about one
        in two million for a million-line job) number the second ``#2``, which is still a
        key of its own, as the 96 bits of the key differ.
        """
        key, prefix = digest[:12].hex(), _PREFIX(digest)[0] >> 4
        if self.seen.add(f"{prefix:x}"):
            return key
        count = self.repeats[prefix] = self.repeats.get(prefix, 1) + 1
        return f"{key}#{count}"

    def barrier(self, line: int, rec: dict[str, Any]) -> Barrier | None:
        if rec != {"barrier": True} or rec["barrier"] is not True:
            self.error(line, 'a barrier line must be exactly {"barrier": true}, alone')
            return None
        self.barriers += 1
        self.sha.update(b"barrier")
        return Barrier(line=line)

    def sum_bonus(self) -> None:
        for amount, n in self.amounts.items():
            value = money.parse(amount)
            self.spend.add_bonus(value, n)
            self.largest = max(self.largest, value)
        self.amounts.clear()

    def stats(self) -> JobStats:
        """
        Return the stats of a fully read job.

        Raises:
            JobError: some line was invalid, or the job holds no operations.
        """
        if not self.by_op and not self.total:
            self.error(max(self.lines, 1), "no operations in job file")
        if self.total:
            raise JobError(self.source, self.errors, self.total)
        self.sum_bonus()
        operations = sum(self.by_op.values())
        return JobStats(
            operations=operations,
            by_op=dict(sorted(self.by_op.items())),
            barriers=self.barriers,
            total_bonus=self.spend.bonus,
            lines=self.lines,
            digest=self.sha.hexdigest(),
            bulk=dict(sorted(self.bulk.items())),
            recipients=self.recipients,
            duplicates=self.duplicates,
            calls=operations + self.extra_calls,
            bonus_spend=self.spend,
            largest_bonus=self.largest,
        )


_Row = tuple[int, str, str, dict[str, Any]]


def _bulk_line(line: int, key: str, op: str, form: bulk.Form) -> Operation:
    """Return a valid bulk line as an operation."""
    return Operation(
        line=line,
        key=key,
        op=op,
        params=form.params,
        bulk=form.bulk,
        filters=form.filters or None,
        dropped=form.dropped,
    )


def _scan(
    numbered: Iterable[tuple[int, object]], state: _State
) -> Iterator[_Row | Operation | Barrier]:
    """
    Validate every record; yield ``(line, key, op, params)`` for the valid ones (a bulk
    line as its :class:`Operation`).

    The hot path of a million-line job: locals only, every error path (and every legacy
    or bulk line) in ``state``. Keys of lines without an id are made only when reading
    (``""`` when checking): the job digest already fixes them, and it saves check_job
    the memory of every digest.
    """
    by_op, amounts, update, reading = state.by_op, state.amounts, state.sha.update, state.reading
    validators, loads, dumps, sha256 = _VALIDATORS, orjson.loads, orjson.dumps, hashlib.sha256
    # The catalog's traits as locals: a set or dict lookup per line, like a literal compare.
    payments, tokens, amount_of = PAYMENT_OPERATIONS, TOKEN_OPERATIONS, dict(BONUS_AMOUNTS).get
    line = 0
    for line, raw in numbered:
        if raw.__class__ is not bytes:
            rec = state.record(line, raw)
        elif raw[:1] != b"{":
            rec = state.decode(line, raw)
        else:
            try:
                rec = loads(raw)
            except orjson.JSONDecodeError as exc:
                state.bad_json(line, raw, exc)
                continue
            if rec.__class__ is not dict:
                rec = state.record(line, rec)
        if rec is None:
            continue
        if "barrier" in rec:
            if barrier := state.barrier(line, rec):
                yield barrier
            continue
        op, ident = rec.pop("op", None), rec.pop("id", None)
        validate = validators.get(op) if op.__class__ is str else None
        if validate is None:
            validate = _validator(op)  # compiled on first use; None if op is unknown
        if validate is None or validate(rec):
            fixed = state.irregular(line, op, ident, rec)
            if fixed is None:
                continue
            op, rec, form = fixed
        else:
            form = None
        # The canonical content: the line without its id, keys sorted.
        rec["op"] = op
        try:
            digest = sha256(dumps(rec, option=_SORTED)).digest()
        except orjson.JSONEncodeError as exc:  # only in-memory items get here
            state.error(line, f"parameters cannot be written as JSON: {exc}")
            continue
        del rec["op"]
        update(digest)
        key = ""
        if ident is not None:
            named = state.named(line, ident)
            if named is None:
                continue
            key = named
        if TOKEN in rec and not state.own_token(line, rec[TOKEN]):
            continue
        paying = op in payments
        if reading and paying and form is None:
            key = state.payment(rec)  # a bonus is keyed by what it pays, however spelt
        elif reading and ident is None:
            key = state.key(digest)
        if reading and form is None and op in tokens and TOKEN not in rec:
            # A token covers the content: two job files that both use "id": "row-1" on
            # the same day must not share a token, or MTurk would refuse the second call
            # as "already processed". (A bonus's key is its payment already.)
            seed = key if ident is None or paying else f"{key}@{digest[:12].hex()}"
            rec[TOKEN] = token_for(seed)
        by_op[op] = by_op.get(op, 0) + 1
        priced = amount_of(op)
        if priced is not None and form is None:  # (a bonus-by-HIT line is priced once listed)
            amount = rec[priced]
            amounts[amount] = amounts.get(amount, 0) + 1
            if len(amounts) > 4096:
                state.sum_bonus()
        if form is None:
            yield line, key, op, rec
        else:  # checking needs only the count, not the Operation
            yield _bulk_line(line, key, op, form) if reading else (line, key, op, rec)
    state.lines = line


def _values(rows: Iterator[_Row | Operation | Barrier]) -> Iterator[Operation | Barrier]:
    """Turn rows into values."""
    for row in rows:
        if isinstance(row, tuple):
            line, key, op, params = row
            yield Operation(line=line, key=key, op=op, params=params)
        else:
            yield row


def check_job(
    path: str | os.PathLike[str], *, max_errors: int = MAX_ERRORS, parts: int | None = None
) -> JobStats:
    """
    Validate a whole job file in one streaming pass; nothing is sent.

    A big file is checked in parts, one per CPU (:func:`parts_for`), each in a forked
    child, with exactly the sequential pass's result.

    Args:
        path: the job file.
        max_errors: errors listed at most (all are counted).
        parts: check in this many parts (1: one pass here); default :func:`parts_for`.

    Raises:
        JobError: with the first ``max_errors`` errors in line order and the total count.
        OSError: the file cannot be read.
    """
    name = os.fspath(path)
    return _check_parts(name, max_errors, parts_for(name) if parts is None else parts)


def read_job(
    path: str | os.PathLike[str], *, checked: bool = False
) -> Iterator[Operation | Barrier]:
    """
    Stream a job file (check it first) as operations and barriers, with their keys.

    Args:
        path: the job file.
        checked: :func:`check_job` has just passed on this file, so ids need not be
            checked for uniqueness again (saves memory on huge jobs).

    Raises:
        JobError: at the first invalid line, if the file was not checked.
    """
    state = _State(os.fspath(path), 1, reading=True, checked=checked)
    with open(path, "rb") as f:
        yield from _values(_scan(enumerate(f, 1), state))
    state.stats()


def check_items(
    items: Iterable[Mapping[str, Any]], *, source: str = "<items>", max_errors: int = MAX_ERRORS
) -> JobStats:
    """
    Validate in-memory job records (dicts shaped like job lines) like :func:`check_job`.

    Raises:
        JobError: with ``source`` as the path and item index + 1 as the line.
    """
    state = _State(source, max_errors)
    deque(_scan(enumerate(items, 1), state), maxlen=0)
    return state.stats()


def iter_items(items: Iterable[Mapping[str, Any]]) -> Iterator[Operation | Barrier]:
    """
    Stream in-memory job records as operations and barriers, like :func:`read_job`.

    Raises:
        JobError: at the first invalid item.
    """
    state = _State("<items>", 1, reading=True)
    yield from _values(_scan(enumerate(items, 1), state))
    state.stats()


# --- checking a big file in parts -------------------------------------------------------
#
# Every line's check stands alone but for ids, which must be unique across the file. So the
# parts of a big file (split at line starts) are checked at once, each in a forked child but
# the first, and merged in order: errors (line order, capped) and counts add up; what each
# part feeds the job digest, and the ids it finds, go through a temporary file each and are
# fed on in order, so the digest is the sequential pass's and memory stays flat. A part
# whose ids meet an earlier part's is checked again here, knowing the ids before it, which
# gives exactly the sequential pass's errors (only an invalid job pays that pass). A child
# that fails, or is not done by the deadline, is killed and its part checked here.

PART_BYTES: Final = 16 << 20
"""Bytes of job file per part, at least: below that a fork costs more than it saves."""
MAX_PARTS: Final = 4
PART_TIMEOUT: Final = 120.0
"""Seconds a child may take beyond the first part's time before its part is checked here."""


@dataclass(slots=True, kw_only=True)
class _Part:
    """What checking one part of a job file found, besides its digest input and ids."""

    errors: list[LineError]
    total: int
    lines: int
    by_op: dict[str, int]
    barriers: int
    spend: Spend
    largest: Decimal
    bulk: dict[str, int]
    recipients: int
    duplicates: int
    extra_calls: int


class _Digest(Protocol):
    def update(self, data: bytes, /) -> object: ...


class _Spool:
    """A part's digest input, written to a file for the merge to feed on."""

    def __init__(self, out: BinaryIO) -> None:
        self.update = out.write


class _NotedIds(KeySet):
    """A part's ids, each new one also written to a file (a line each) for the merge."""

    __slots__ = ("_out",)

    def __init__(self, out: BinaryIO) -> None:
        super().__init__()
        self._out = out

    def add(self, key: str) -> bool:
        if not super().add(key):
            return False
        self._out.write(f"{key}\n".encode())
        return True


@dataclass(slots=True)
class _Child:
    """A forked child checking one part: its pid, the pipe of its result, and its files."""

    pid: int
    result: int
    digested: BinaryIO
    ids: BinaryIO


def parts_for(path: str) -> int:
    """How many parts to check ``path`` in: one per CPU (up to ``MAX_PARTS``) for a big file."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return 1  # a fork copies only this thread: never fork beside others (their locks)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_PARTS, cpus, os.path.getsize(path) // PART_BYTES))


def _bounds(path: str, parts: int) -> list[tuple[int, int, int]]:
    """Split ``path`` at line starts into ``parts`` parts: ``(start, end, first line)``."""
    size = os.path.getsize(path)
    starts, lines = [0], [1]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(max(size * k // parts - 1, starts[-1]))
            f.readline()
            start = min(f.tell(), size)
            f.seek(starts[-1])
            count, left = 0, start - starts[-1]
            while left > 0:
                block = f.read(min(left, 1 << 20))
                count, left = count + block.count(b"\n"), left - len(block)
            starts.append(start)
            lines.append(lines[-1] + count)
    return list(zip(starts, [*starts[1:], size], lines, strict=True))


def _check_part(
    path: str,
    bounds: tuple[int, int, int],
    max_errors: int,
    *,
    digest: _Digest,
    ids: KeySet,
) -> _Part:
    """Check the lines of ``path`` in ``bounds``, feeding ``digest`` and adding to ``ids``."""
    start, end, first_line = bounds
    state = _State(path, max_errors)
    state.sha, state.ids = digest, ids  # type: ignore[assignment]  # (fed only)

    def lines(f: BinaryIO) -> Iterator[bytes]:
        left = end - start
        if left <= 0:
            return
        for raw in f:
            yield raw
            left -= len(raw)
            if left <= 0:
                return

    with open(path, "rb") as f:
        f.seek(start)
        # The last part (the whole file, in one part) runs to the end: no counting needed.
        numbered = enumerate(f if end >= os.fstat(f.fileno()).st_size else lines(f), first_line)
        deque(_scan(numbered, state), maxlen=0)
    state.sum_bonus()
    return _Part(
        errors=state.errors,
        total=state.total,
        lines=state.lines,
        by_op=state.by_op,
        barriers=state.barriers,
        spend=state.spend,
        largest=state.largest,
        bulk=state.bulk,
        recipients=state.recipients,
        duplicates=state.duplicates,
        extra_calls=state.extra_calls,
    )


def _check_parts(path: str, max_errors: int, parts: int) -> JobStats:
    """Check ``path`` in ``parts`` parts at once (one: the plain pass), merged in order."""
    bounds = _bounds(path, parts)
    merged = _State(path, max_errors)
    children: list[_Child | None] = []
    try:
        for part in bounds[1:]:  # one by one: those forked are reaped if a fork fails
            children.append(_fork(path, part, max_errors))  # noqa: PERF401
        started = time.monotonic()
        _merge(merged, _check_part(path, bounds[0], max_errors, digest=merged.sha, ids=merged.ids))
        deadline = time.monotonic() + PART_TIMEOUT + (time.monotonic() - started)
        for child, part in zip(children, bounds[1:], strict=True):
            found = None if child is None else _collect(child, deadline)
            if child is None or found is None or _meets(child.ids, merged.ids):
                # No child, a failed one, or an id of its part was used before: check it here.
                found = _check_part(path, part, max_errors, digest=merged.sha, ids=merged.ids)
            else:
                _feed(child, merged)
            _merge(merged, found)
    finally:
        for child in children:
            if child is not None:
                _reap(child)
    return merged.stats()


def _merge(merged: _State, part: _Part) -> None:
    """Add one part's findings, the parts taken in order."""
    merged.errors.extend(part.errors[: merged.max_errors - len(merged.errors)])
    merged.total += part.total
    merged.lines = max(merged.lines, part.lines)
    for name, count in part.by_op.items():
        merged.by_op[name] = merged.by_op.get(name, 0) + count
    for name, count in part.bulk.items():
        merged.bulk[name] = merged.bulk.get(name, 0) + count
    merged.barriers += part.barriers
    merged.spend.add(part.spend)
    merged.largest = max(merged.largest, part.largest)
    merged.recipients += part.recipients
    merged.duplicates += part.duplicates
    merged.extra_calls += part.extra_calls


def _meets(noted: BinaryIO, ids: KeySet) -> bool:
    """Whether any id a child noted is among ``ids``."""
    noted.seek(0)
    return any(line[:-1].decode() in ids for line in noted)


def _feed(child: _Child, merged: _State) -> None:
    """Feed the digest input and the ids a child's part found on, in order."""
    child.digested.seek(0)
    while block := child.digested.read(1 << 20):
        merged.sha.update(block)
    child.ids.seek(0)
    for line in child.ids:
        merged.ids.add(line[:-1].decode())


def _fork(path: str, bounds: tuple[int, int, int], max_errors: int) -> _Child | None:
    """
    Check one part in a forked child; the result comes on a pipe, the rest in files.

    Returns ``None`` when no child can be had (no process, file or pipe to spare): then
    the part is checked here.
    """
    try:
        # Closed by _reap, after the merge has read them.
        digested, ids = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
    except OSError:
        return None
    try:
        read, write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            raise
    except OSError:
        digested.close()
        ids.close()
        return None
    if pid == 0:  # the child: check, send the result, and leave without any cleanup
        status = 1
        try:
            os.close(read)
            part = _check_part(
                path, bounds, max_errors, digest=_Spool(digested), ids=_NotedIds(ids)
            )
            digested.flush()
            ids.flush()
            with open(write, "wb") as out:
                out.write(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    return _Child(pid=pid, result=read, digested=digested, ids=ids)


def _collect(child: _Child, deadline: float) -> _Part | None:
    """Return a child's result, or ``None`` if it failed or missed the deadline."""
    chunks: list[bytes] = []
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([child.result], [], [], left)[0]:
            break
        chunk = os.read(child.result, 1 << 16)
        if chunk:
            chunks.append(chunk)
            continue
        if os.waitpid(child.pid, 0)[1] != 0:
            return None
        part: _Part = pickle.loads(b"".join(chunks))
        return part
    return None


def _reap(child: _Child) -> None:
    """Make sure a child is gone, and its pipe and files closed."""
    with contextlib.suppress(OSError):
        os.close(child.result)
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(child.pid, os.WNOHANG) == (0, 0):
            os.kill(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)
    child.digested.close()
    child.ids.close()
