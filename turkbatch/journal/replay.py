"""
Replay: fold a journal into one :class:`JournalState`, the state every part reads.

A torn last line (no newline, or not a JSON object) is ignored and, when opened for
writing, cut off; damage on any other line raises ``JournalCorrupt`` with its line number.
``done`` is final (a later ``failed`` never undoes a payment); ``done``, ``failed`` and
``in_doubt`` are disjoint. Every SendBonus outcome also goes to the state's
:class:`~turkbatch.ledger.Ledger`, by payment: a ``done`` is a payment made (``p`` or the
``pay:`` key says which; a ``counted`` one moves an old payment to an edited line's), a
``failed`` an attempt MTurk refused, and ``unpaid`` closes an intent that a lookup found
never took effect.

The run's replay keeps what a run needs (the done set, failures, what is in doubt, the
ledger). A view (status, report, plan) asks for the same fold with ``detail``: then
:attr:`JournalState.detail` also holds, per key, where its deciding record and its last
intent are, and the counts, money and per-bulk-line totals the views print: one fold,
so every view counts the same calls the same way.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from turkbatch import money
from turkbatch.catalog import PAYMENT_OPERATIONS
from turkbatch.errors import EndpointMismatch, JournalCorrupt, JournalError
from turkbatch.journal.records import (
    Entry,
    RunRecord,
    Word,
    counted_from,
    ending,
    sent_nothing,
)
from turkbatch.keyset import KeySet
from turkbatch.ledger import PAY_PREFIX, PID_LENGTH, Ledger, Payment, pid_of_key

__all__ = [
    "Detail",
    "Failure",
    "IntentRecord",
    "JournalState",
    "Tally",
    "check_endpoint",
    "endpoint_id",
    "recorded_endpoint",
    "replay",
]

CHUNK: Final = 1 << 18
"""Bytes replay reads at a time (256 KiB): per-chunk costs vanish, and so do its lines."""
_BYTES_PER_KEY = 256  # journal bytes per done key (an intent and a done), to size the done set
_PLAIN_PAY: Final = len(PAY_PREFIX) + PID_LENGTH  # "pay:" and a payment id, no "#n"
_Intents = dict[str, tuple[dict[str, Any], int, int]]  # key → (intent record, line, offset)


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentRecord:
    """An intent with no outcome after it: the request may or may not have been made."""

    key: str
    op: str
    token: str | None
    at: float
    line: int
    params: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """A key whose last word is ``failed``: the error, and what the call would have paid."""

    key: str
    op: str
    error: Mapping[str, Any]
    at: float | None = None
    payment: Mapping[str, Any] | None = None
    on: Mapping[str, Any] | None = None

    @property
    def code(self) -> str:
        """The error's code (``""`` when none was recorded)."""
        return str(self.error.get("code") or "")

    @property
    def message(self) -> str:
        """The error's message."""
        return str(self.error.get("message") or "")


@dataclass(slots=True)
class Tally:
    """
    Calls of one operation (or one bulk line) by their last word.

    ``done`` counts only calls this journal's runs sent and MTurk confirmed; ``already``,
    ``reconciled`` and ``counted`` are their own columns.
    """

    done: int = 0
    already: int = 0
    reconciled: int = 0
    counted: int = 0
    failed: int = 0
    in_doubt: int = 0

    @property
    def finished(self) -> int:
        """Calls that took effect, however it is known."""
        return self.done + self.already + self.reconciled + self.counted

    def add(self, word: Word) -> None:
        """Count one call's last word."""
        name = word.value
        setattr(self, name, getattr(self, name) + 1)

    def merge(self, other: Tally) -> None:
        """Add ``other``'s counts to these."""
        for name in Tally.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @classmethod
    def sum(cls, tallies: Iterable[Tally]) -> Tally:
        """Return the counts of ``tallies`` added up."""
        total = cls()
        for tally in tallies:
            total.merge(tally)
        return total

    def as_dict(self) -> dict[str, int]:
        """Return the counts by name."""
        return {name: getattr(self, name) for name in Tally.__slots__}


@dataclass(slots=True)
class Detail:
    """
    What the views need beyond a run's state, folded in the same pass.

    Attributes:
        rows: keep ``final`` and ``intents``, which grow with the journal (the report's
            rows need them; counts do not).
        final: key → byte offset of its deciding record (its first ``done``, else its last
            word).
        intents: key → byte offset of its last intent.
        by_op: calls per operation, by last word.
        by_line: a bulk line's key → its calls (``<key>/...``), by last word.
        by_hit: a bonus-by-HIT line's payments (keyed by payment, not by the line), found
            by what they recorded acting on: ``(HITId, amount, reason)`` → their keys.
        bonuses / bonus_paid / fees: payments made (done, already, reconciled; not
            ``counted``, paid once under the earlier payment) and what they cost;
            ``unpriced``: bonuses found done without their amount.
        last_activity: the latest record's time.
        ended: the last run closed the journal; ``how`` it ended then (finished,
            interrupted, stopped).
    """

    rows: bool = False
    final: dict[str, int] = field(default_factory=dict)
    intents: dict[str, int] = field(default_factory=dict)
    by_op: dict[str, Tally] = field(default_factory=dict)
    by_line: dict[str, Tally] = field(default_factory=dict)
    by_hit: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    bonuses: int = 0
    bonus_paid: Decimal = money.ZERO
    fees: Decimal = money.ZERO
    unpriced: int = 0
    last_activity: float | None = None
    ended: bool = False
    how: str = ""

    def count(self, key: str, op: str, word: Word) -> None:
        """Count one call's last word, under its operation and its bulk line."""
        tally = self.by_op.get(op) or self.by_op.setdefault(op, Tally())
        tally.add(word)
        parent, slash, _ = key.partition("/")
        if slash:
            line = self.by_line.get(parent) or self.by_line.setdefault(parent, Tally())
            line.add(word)

    def total(self) -> Tally:
        """Return the counts over every operation."""
        return Tally.sum(self.by_op.values())

    def _word_at(self, key: str, offset: int) -> None:
        """Note where ``key``'s deciding record so far is (for the report's rows)."""
        if self.rows:
            self.final[key] = offset

    def _intent_at(self, key: str, offset: int) -> None:
        """Note where ``key``'s last intent is (for the report's rows)."""
        if self.rows:
            self.intents[key] = offset

    def hit_payments(self, params: Mapping[str, Any]) -> list[str]:
        """Return the keys of the payments a bonus-by-HIT line with ``params`` made."""
        return self.by_hit.get(_hit_line(params.get("HITId"), params), [])

    def _done(self, key: str, rec: dict[str, Any], offset: int, intent: Any) -> None:
        entry = Entry.of(rec)
        self._word_at(key, offset)
        self.count(key, entry.op, entry.word)
        if entry.op not in PAYMENT_OPERATIONS or entry.word is Word.COUNTED:
            return  # (paid once, under the earlier payment's key: counted there)
        p = entry.payment or (intent[0].get("p") if intent else None)
        if entry.on and isinstance(p, dict):
            self._by_hit(key, entry.on, p)
        amount = p.get("BonusAmount") if isinstance(p, dict) else None
        if not isinstance(amount, str):
            self.unpriced += 1
            return
        value = money.parse(amount)
        self.bonuses += 1
        self.bonus_paid += value
        self.fees += money.bonus_fee(value)

    def _by_hit(self, key: str, on: Mapping[str, Any], payment: Mapping[str, Any]) -> None:
        line = _hit_line(on.get("HITId"), payment)
        if line[0]:
            self.by_hit.setdefault(line, []).append(key)


def _hit_line(hit: object, payment: Mapping[str, Any]) -> tuple[str, str, str]:
    """Return what identifies a bonus-by-HIT line: its HIT, amount (as a number), reason."""
    try:
        amount = str(money.parse(str(payment.get("BonusAmount"))))
    except ValueError:
        amount = ""
    return (hit if isinstance(hit, str) else "", amount, str(payment.get("Reason")))


@dataclass(slots=True)
class JournalState:
    """
    What a journal says, folded by replay.

    Attributes:
        done: keys with a ``done`` outcome (including already and reconciled); final. A
            :class:`~turkbatch.keyset.KeySet`: a set of strings in a fraction of the
            memory of a ``set`` (a million keys in ~30 MB, not ~90 MB).
        failed: key → its failure, when that is the key's last word.
        in_doubt: keys whose last record is an intent.
        runs: the ``run`` records, oldest first.
        ledger: every SendBonus payment made and attempt refused, by payment.
        notes: the ``note`` records, oldest first.
        records: how many records were read.
        torn_tail: the last line was incomplete and was ignored.
        detail: what the views need (:class:`Detail`), when the replay was asked for it.
    """

    done: KeySet = field(default_factory=KeySet)
    failed: dict[str, Failure] = field(default_factory=dict)
    in_doubt: dict[str, IntentRecord] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    ledger: Ledger = field(init=False)
    notes: list[dict[str, Any]] = field(default_factory=list)
    records: int = 0
    torn_tail: bool = False
    detail: Detail | None = None

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.done)  # counts a payment made under its plain key as done

    @property
    def last_run(self) -> RunRecord | None:
        """The journal's last run, if any."""
        return self.runs[-1] if self.runs else None

    @property
    def last_job(self) -> str | None:
        """The digest of the job the last run ran."""
        return self.runs[-1].job if self.runs else None

    def only_ran(self, digest: str, keys: int) -> bool:
        """Whether every run of this journal ran job ``digest`` with bonus keys ``keys``."""
        return all(r.keys == keys and r.job == digest for r in self.runs)


def replay(
    fd: int, path: str, *, detail: bool = False, rows: bool = False, chunk: int = CHUNK
) -> tuple[JournalState, int]:
    """
    Fold the journal open on ``fd`` into a state, with the cyclic GC paused.

    Replay builds millions of acyclic objects; the collector would re-scan the growing
    done-set again and again for nothing (a third of the replay time, measured).

    Args:
        fd: the journal, open for reading.
        path: its name, for messages.
        detail: also fold what the views need (:class:`Detail`).
        rows: and, for the report, where each key's records are (implies ``detail``).
        chunk: bytes to read at a time (:data:`CHUNK`).

    Returns:
        The state, and the byte offset where the complete records end.

    Raises:
        JournalCorrupt: a line other than the last is damaged.
        JournalError: it cannot be read.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        view = Detail(rows=rows) if detail or rows else None
        return _fold(fd, path, view, chunk)
    except OSError as exc:
        raise JournalError(f"cannot read journal {path}: {exc.strerror}") from exc
    finally:
        if paused:
            gc.enable()


def _fold(fd: int, path: str, view: Detail | None, chunk_size: int) -> tuple[JournalState, int]:
    """Do :func:`replay`'s work: one tight loop over 256 KiB chunks split into lines."""
    size = os.fstat(fd).st_size
    state = JournalState(done=KeySet(expected=size // _BYTES_PER_KEY), detail=view)
    done, failed, runs, notes = state.done, state.failed, state.runs, state.notes
    ledger, paid = state.ledger, 0
    intents: _Intents = {}
    superseded: _Intents = {}  # key → the in-doubt intent a resend's intent replaced
    done_add, intents_pop, loads = done.add, intents.pop, orjson.loads
    payment_ops = PAYMENT_OPERATIONS
    n, offset, carry, at, start = 0, 0, b"", 0, 0  # at: where the next line starts
    while offset < size:
        chunk = os.pread(fd, min(chunk_size, size - offset), offset)
        if not chunk:  # the file shrank under a reader; what was read is all there is
            break
        offset += len(chunk)
        lines = (carry + chunk).split(b"\n")
        carry = lines.pop()
        for line in lines:
            n += 1
            if view is not None:  # (offsets only for the views: the run's replay is hot)
                start = at
                at += len(line) + 1
            try:  # the most common records first; nothing is kept of a done but its key
                rec = loads(line)
                t = rec["t"]
                if t == "done":
                    k, op = rec["k"], rec["op"]
                    if type(k) is not str:
                        raise TypeError("k is not a string")
                    if done_add(k):
                        if op in payment_ops:
                            if len(k) == _PLAIN_PAY and k[:4] == "pay:" and "counted" not in rec:
                                paid += 1  # the usual: counted by its key being done
                            else:
                                _paid(ledger, k, rec, intents.get(k))
                        if view is not None:
                            view._done(k, rec, start, intents.get(k))
                    if intents:
                        intents_pop(k, None)
                    if failed:
                        failed.pop(k, None)
                    if superseded:
                        superseded.pop(k, None)
                elif t == "intent":
                    k, _, _, _ = rec["k"], rec["op"], rec["tok"], rec["at"]
                    if type(k) is not str:
                        raise TypeError("k is not a string")
                    if k in intents:  # a resend of a call in doubt
                        superseded[k] = intents[k]
                    intents[k] = (rec, n, start)  # (a failed record stays: withdrawal restores it)
                    if view is not None and k not in done:
                        view._intent_at(k, start)
                elif t == "failed":
                    k, op, err = rec["k"], rec["op"], rec["err"]
                    if type(k) is not str:
                        raise TypeError("k is not a string")
                    if k not in done:
                        intent = intents_pop(k, None)
                        p = rec.get("p") or (intent[0].get("p") if intent else None)
                        failed[k] = Failure(
                            key=k,
                            op=op,
                            error=err if isinstance(err, dict) else {},
                            at=rec.get("at"),
                            payment=p if isinstance(p, dict) else None,
                            on=rec.get("on"),
                        )
                        superseded.pop(k, None)
                        if view is not None:
                            view._word_at(k, start)
                elif t == "withdrawn":  # the intent's call was never sent
                    k, _ = rec["k"], rec["op"]
                    if type(k) is not str:
                        raise TypeError("k is not a string")
                    earlier = superseded.pop(k, None)
                    if earlier is None:
                        intents_pop(k, None)
                    else:  # an earlier send may have happened: still in doubt, as it was
                        intents[k] = earlier
                elif t == "unpaid":  # looked up: no such payment, whatever was sent
                    k, _ = rec["k"], rec["op"]
                    if type(k) is not str:
                        raise TypeError("k is not a string")
                    intents_pop(k, None)
                    superseded.pop(k, None)
                    failed.pop(k, None)
                    if view is not None and k not in done:
                        view._word_at(k, start)
                elif t == "run":
                    runs.append(RunRecord.of(rec))
                    if view is not None:
                        view.ended = False
                elif t == "note":
                    notes.append(rec)
                elif t == "end":
                    if view is not None:
                        view.ended, view.how = True, ending(rec)
                else:
                    raise ValueError(f"unknown record type {t!r}")
                if view is not None:
                    when = rec.get("at")
                    if type(when) in (int, float) and (
                        view.last_activity is None or when > view.last_activity
                    ):
                        view.last_activity = float(when)
            except (ValueError, KeyError, TypeError) as exc:
                why = _damage(line, exc)
                if why is None and line is lines[-1] and not carry and offset >= size:
                    state.records, state.torn_tail = n - 1, True
                    ledger.payments += paid
                    return _finish(state, intents, path), size - len(line) - 1
                raise JournalCorrupt(f"{path}:{n}: {why or 'not a JSON object'}") from exc
    state.records, state.torn_tail = n, bool(carry)
    ledger.payments += paid
    return _finish(state, intents, path), offset - len(carry)


def _paid(
    ledger: Ledger, key: str, rec: dict[str, Any], intent: tuple[dict[str, Any], int, int] | None
) -> None:
    """Count a SendBonus ``done`` in the ledger, by the payment its key or record names."""
    pid = pid_of_key(key)
    if pid is None:  # a journal of turkbatch 0.1: the payment is in the record or intent
        payment = Payment.of(rec.get("p") or (intent[0].get("p") if intent else None))
        pid = None if payment is None else payment.pid
    if pid is None:
        ledger.unknown += 1
    else:
        ledger.add_paid(pid, key)
    moved = counted_from(rec)
    if moved is not None:
        ledger.remove_paid(moved)  # an old payment now counts for this line's


def _damage(line: bytes, exc: Exception) -> str | None:
    """Describe a damaged line; ``None`` when it is not even a JSON object (torn, if last)."""
    try:
        if not isinstance(orjson.loads(line), dict):
            return None
    except orjson.JSONDecodeError:
        return None
    return f"record lacks field {exc}" if isinstance(exc, KeyError) else f"bad record ({exc})"


def _finish(state: JournalState, intents: _Intents, path: str) -> JournalState:
    """Turn the intents still open into ``IntentRecord`` values, once, at the end."""
    view = state.detail
    for key, (rec, line, offset) in intents.items():
        if key in state.done:
            continue
        state.failed.pop(key, None)  # retried after failing: in doubt now, not failed
        op, tok, at = rec["op"], rec["tok"], rec["at"]
        if not (type(op) is str and (tok is None or type(tok) is str) and type(at) in (int, float)):
            raise JournalCorrupt(f"{path}:{line}: bad intent record")
        state.in_doubt[key] = IntentRecord(
            key=key, op=op, token=tok, at=float(at), line=line, params=rec.get("p")
        )
        if view is not None:
            view._word_at(key, offset)
            view._intent_at(key, offset)
            view.count(key, op, Word.IN_DOUBT)
    for key, failure in state.failed.items():
        if failure.op in PAYMENT_OPERATIONS:
            payment = Payment.of(failure.payment)
            pid = pid_of_key(key) or (payment.pid if payment else None)
            if pid is not None:
                state.ledger.add_failed(pid)
        if view is not None:
            view.count(key, failure.op, Word.FAILED)
            if failure.on and failure.payment:
                view._by_hit(key, failure.on, failure.payment)
    return state


def endpoint_id(url: str) -> str:
    """Return an endpoint as a journal records it: scheme and host lower-cased, no final ``/``."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return url.strip()
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def check_endpoint(path: str, state: JournalState, endpoint: str) -> None:
    """
    Refuse to use a journal that describes another endpoint than ``endpoint``.

    Raises:
        EndpointMismatch: the last run that recorded an endpoint, and sent something
            (or did not say it sent nothing), recorded another one.
    """
    recorded = recorded_endpoint(state)
    if recorded is None or recorded == endpoint:
        return
    raise EndpointMismatch(
        f"journal {path} records runs against {recorded}, not {endpoint}: what it says was "
        f"paid was paid there. To run against {endpoint}, give this run a journal of its own "
        f"(--journal NEW.journal.jsonl); to go on against {recorded}, point the run there; "
        "if it is the same service at a new address, add --endpoint-moved"
    )


def recorded_endpoint(state: JournalState) -> str | None:
    """
    Return the endpoint the journal describes: the last run's that sent something.

    A run that stopped on its setting before sending anything (a wrong URL, say) says so
    in a note: the endpoint it named describes nothing, and binds nothing.
    """
    void = {mark for note in state.notes if (mark := sent_nothing(note)) is not None}
    return next(
        (r.endpoint for r in reversed(state.runs) if r.endpoint and (r.pid, r.at) not in void),
        None,
    )
