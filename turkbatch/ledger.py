"""
The ledger of payments: what a journal says was paid, by *payment*, not by job line.

A payment is this worker, this assignment, this amount (a number: ``"1.5"`` is ``"1.50"``)
and this reason. Its *payment id* (:func:`payment_id`, 24 hex digits) names it whatever
line made it, however that line is spelled (ids added or dropped, the amount re-exported,
a legacy GrantBonus rewritten as SendBonus, lines moved). A SendBonus line's journal key
is ``pay:<payment id>`` for its first occurrence in the job, ``pay:<payment id>#n`` for
the n-th identical payment: two identical lines are two payments.

Replay (:mod:`turkbatch.journal`) fills a :class:`Ledger` from every SendBonus outcome:
paid (done, already, reconciled, or counted for an edited line) and failed, counted per
payment id. A line is then decided by counting, not by its key (:meth:`Ledger.decide`):
the n-th occurrence of a payment in the job is paid when the ledger holds at least n such
payments; an edited line's old payment is *unaccounted* and conflicts with the new one
(:mod:`turkbatch.payments`). Journals of turkbatch 0.1 keyed lines otherwise; their
payments are read from each intent's recorded payment, so they count the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

from turkbatch.catalog import PAYMENT_OPERATIONS, TRAITS
from turkbatch.keyset import KeySet

__all__ = [
    "PAYMENT_OP",
    "PAY_PREFIX",
    "Decision",
    "Ledger",
    "Payment",
    "normal_amount",
    "occurrence",
    "payment_id",
    "pid_of_key",
]

PAY_PREFIX: Final = "pay:"
"""The key prefix of a SendBonus line: ``pay:<payment id>[#n]``."""
PID_LENGTH: Final = 24
#: The operation a payment is made by (SendBonus): the ledger models exactly one, so a
#: second payment operation in the catalog fails here, at import, not in a payment.
(PAYMENT_OP,) = PAYMENT_OPERATIONS
#: The SendBonus parameters that make a payment (what an intent records as ``p``).
FIELDS: Final = TRAITS[PAYMENT_OP].intent


class Decision(StrEnum):
    """What the ledger says of one SendBonus line of the job."""

    PAID = "paid"  # the ledger holds this payment: not sent again
    FAILED = "failed"  # MTurk refused it in an earlier run: sent only with --retry-failed
    SEND = "send"  # not in the ledger: send it


@lru_cache(maxsize=4096)
def normal_amount(text: str) -> str:
    """
    Return a BonusAmount as a number with two decimals: ``"1.5"``, ``"01.50"`` → ``"1.50"``.

    Amounts that are not plain decimals (never in a valid job) are returned unchanged.
    """
    whole, _, cents = str(text).strip().partition(".")
    if (whole and not whole.isdigit()) or (cents and not cents.isdigit()) or len(cents) > 2:
        return str(text)
    return f"{int(whole or '0')}.{cents.ljust(2, '0')}"


def payment_id(worker: str, assignment: str, amount: str, reason: str) -> str:
    """Return the 24-hex-digit id of a payment (the amount is normalised first)."""
    text = f"{worker}\x00{assignment}\x00{normal_amount(amount)}\x00{reason}"
    return hashlib.sha256(text.encode()).hexdigest()[:PID_LENGTH]


def pid_of_key(key: str) -> str | None:
    """Return the payment id a ``pay:`` key names, or ``None`` for another key."""
    if key.startswith(PAY_PREFIX):
        return key[len(PAY_PREFIX) : len(PAY_PREFIX) + PID_LENGTH]
    return None


def occurrence(key: str) -> int:
    """Return n of a ``pay:<id>#n`` key (1 for ``pay:<id>``)."""
    _, _, n = key.partition("#")
    n = n.partition("~")[0]
    return int(n) if n.isdigit() else 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    """One bonus payment: worker, assignment, amount (as written) and reason."""

    worker: str
    assignment: str
    amount: str
    reason: str

    @classmethod
    def of(cls, params: Mapping[str, Any] | None) -> Payment | None:
        """Return the payment of SendBonus parameters (or an intent's ``p``), if whole."""
        if not params or "WorkerId" not in params or "AssignmentId" not in params:
            return None
        amount = params.get("BonusAmount")
        if amount is None:
            return None
        return cls(
            worker=str(params["WorkerId"]),
            assignment=str(params["AssignmentId"]),
            amount=str(amount),
            reason=str(params.get("Reason", "")),
        )

    @property
    def pid(self) -> str:
        """Return this payment's id."""
        return payment_id(self.worker, self.assignment, self.amount, self.reason)

    @property
    def pair(self) -> tuple[str, str]:
        """Return ``(worker, assignment)``: what an edited line still shares with its old self."""
        return (self.worker, self.assignment)

    @property
    def value(self) -> Decimal:
        """Return the amount as a number."""
        return Decimal(normal_amount(self.amount))

    def params(self) -> dict[str, str]:
        """Return the payment as SendBonus parameters (what an intent records)."""
        return {
            "WorkerId": self.worker,
            "AssignmentId": self.assignment,
            "BonusAmount": self.amount,
            "Reason": self.reason,
        }

    def describe(self) -> str:
        """Return ``$1.50 to A1 for 3X ('Great work')``."""
        amount = normal_amount(self.amount)
        return f"${amount} to {self.worker} for {self.assignment} ({self.reason!r})"


class Ledger:
    """
    Payments a journal holds, counted per payment id; compact for a million payments.

    A payment made under its plain key ``pay:<id>`` is counted by that key's being in the
    journal's done set, which the ledger shares: replaying it costs nothing more. The rest
    (the n-th identical payment, journals of turkbatch 0.1, payments counted for an edited
    line) go to a small dict of differences per payment id.
    """

    __slots__ = ("_done", "_extra", "_failed", "payments", "unknown")

    def __init__(self, done: KeySet | None = None) -> None:
        """
        Args:
            done: the journal's done keys (shared, not copied); a new set if none.
        """
        self._done = KeySet() if done is None else done
        self._extra: dict[str, int] = {}
        self._failed: dict[str, int] = {}
        self.payments = 0  # paid payments held
        self.unknown = 0  # bonus outcomes of turkbatch 0.1 that do not say what they paid

    def __bool__(self) -> bool:
        return bool(self.payments or self._failed or self.unknown)

    def add_paid(self, pid: str, key: str) -> None:
        """
        Count one payment of ``pid``, made under the journal key ``key``, which must be
        among the done keys already.
        """
        if key != PAY_PREFIX + pid:
            self._extra[pid] = self._extra.get(pid, 0) + 1
        self.payments += 1

    def remove_paid(self, pid: str) -> None:
        """Take one payment of ``pid`` off (it now counts for another payment id)."""
        self._extra[pid] = self._extra.get(pid, 0) - 1
        self.payments -= 1

    def plain(self) -> bool:
        """Whether every payment held was made under its plain key ``pay:<id>`` (and none
        was counted for another): then each is exactly one done key."""
        return not any(self._extra.values())

    def add_failed(self, pid: str) -> None:
        """Count one refused attempt at ``pid`` (MTurk answered with an error)."""
        self._failed[pid] = self._failed.get(pid, 0) + 1

    def remove_failed(self, pid: str) -> None:
        """Forget one refused attempt at ``pid`` (it was looked up since)."""
        left = self._failed.get(pid, 0) - 1
        if left > 0:
            self._failed[pid] = left
        else:
            self._failed.pop(pid, None)

    def paid(self, pid: str) -> int:
        """Return how many payments of ``pid`` the ledger holds."""
        return (PAY_PREFIX + pid in self._done) + self._extra.get(pid, 0)

    def failed(self, pid: str) -> int:
        """Return how many refused attempts at ``pid`` the ledger holds."""
        return self._failed.get(pid, 0)

    def decide(self, pid: str, n: int, *, retry_failed: bool = False) -> Decision:
        """
        Decide the ``n``-th occurrence of payment ``pid`` in the job.

        The first ``paid(pid)`` occurrences are paid; the next ``failed(pid)`` failed
        (unless ``retry_failed``); the rest are to send.
        """
        paid = self.paid(pid)
        if n <= paid:
            return Decision.PAID
        if not retry_failed and n <= paid + self.failed(pid):
            return Decision.FAILED
        return Decision.SEND

    def paid_ids(self) -> Iterator[str]:
        """Yield every payment id with at least one payment held."""
        seen: set[str] = set()
        keys = (k[len(PAY_PREFIX) :] for k in self._done if k.startswith(PAY_PREFIX))
        for pid in (*self._extra, *(k[:PID_LENGTH] for k in keys)):
            if pid not in seen and self.paid(pid) > 0:
                seen.add(pid)
                yield pid
