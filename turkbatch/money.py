"""
Money: MTurk's fees and what a set of operations costs, in ``Decimal`` throughout.

MTurk charges 20% on every bonus, rounded half-up to the cent, at least $0.01 per bonus,
so fees are computed per payment and summed (never 20% of a sum). A HIT costs its reward
plus 20% per assignment, 40% when it has 10 or more assignments (mturk-facts §5; the
simulator charges the same). Which operations cost what is the catalog's
(:attr:`turkbatch.catalog.Traits.pricing`); :meth:`Spend.charge` prices one call by it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from turkbatch.catalog import TRAITS, Pricing

__all__ = [
    "BONUS_FEE_RATE",
    "CENT",
    "ZERO",
    "Spend",
    "bonus_fee",
    "hit_cost",
    "parse",
    "usd",
]

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")
#: MTurk's fee on a bonus (and on the reward of a HIT with fewer than 10 assignments).
BONUS_FEE_RATE: Final = Decimal("0.20")
#: MTurk's fee on the reward of a HIT with :data:`LARGE_HIT` or more assignments.
LARGE_HIT_FEE_RATE: Final = Decimal("0.40")
LARGE_HIT: Final = 10
#: The smallest fee MTurk charges on one payment.
MIN_FEE: Final = CENT
#: The parameters of a :attr:`~turkbatch.catalog.Pricing.HIT` call: the reward of one
#: assignment, and how many assignments (MTurk's default 1).
REWARD: Final = "Reward"
ASSIGNMENTS: Final = "MaxAssignments"


def parse(text: object) -> Decimal:
    """
    Return an amount such as ``"1.25"``, ``"5"`` or ``"5."`` in whole cents.

    Raises:
        ValueError: ``text`` is not a non-negative amount.
    """
    try:
        amount = Decimal(str(text).strip().removeprefix("$"))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount like 12.50") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{text!r} is not an amount like 12.50")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def bonus_fee(amount: Decimal, rate: Decimal = BONUS_FEE_RATE) -> Decimal:
    """Return MTurk's fee on one payment: ``rate`` of it, half-up to the cent, ≥ $0.01."""
    return max(MIN_FEE, (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP))


def hit_cost(reward: Decimal, assignments: int) -> tuple[Decimal, Decimal]:
    """Return ``(rewards, fees)`` of a HIT with ``assignments`` assignments of ``reward``."""
    rate = LARGE_HIT_FEE_RATE if assignments >= LARGE_HIT else BONUS_FEE_RATE
    return reward * assignments, bonus_fee(reward, rate) * assignments


def usd(amount: Decimal) -> str:
    """Return ``$1,234.50``."""
    return f"${amount:,.2f}"


@dataclass(slots=True)
class Spend:
    """
    What a set of operations moves: bonuses and HIT rewards, each with MTurk's fees.

    Attributes:
        bonuses: how many SendBonus payments.
        bonus: their sum, before fees.
        bonus_fees: MTurk's fees on them, one fee per payment.
        hits: how many CreateHIT calls (the only HIT call whose line says its cost).
        rewards: their rewards times assignments.
        reward_fees: MTurk's fees on those rewards.
        unknown: money operations whose cost the job does not say
            (CreateHITWithHITType, CreateAdditionalAssignmentsForHIT: the reward is
            the HIT type's).
    """

    bonuses: int = 0
    bonus: Decimal = ZERO
    bonus_fees: Decimal = ZERO
    hits: int = 0
    rewards: Decimal = ZERO
    reward_fees: Decimal = ZERO
    unknown: int = 0

    def add_bonus(self, amount: Decimal, count: int = 1) -> None:
        """Count ``count`` bonus payments of ``amount``."""
        self.bonuses += count
        self.bonus += amount * count
        self.bonus_fees += bonus_fee(amount) * count

    def add(self, other: Spend) -> None:
        """Add what ``other`` moves (one part of a job's, say) to this."""
        for name in ("bonuses", "bonus", "bonus_fees", "hits", "rewards", "reward_fees", "unknown"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def charge(
        self, op: str, params: Mapping[str, Any], amount: Callable[[str], Decimal] = parse
    ) -> None:
        """
        Count one call of ``op``, priced as the catalog says; nothing for a free call.

        Args:
            op: a 2017-01-17 operation name.
            params: the call's parameters (a valid job line's).
            amount: how to parse a bonus amount (a cached :func:`parse`, say).
        """
        t = TRAITS[op]
        if t.pricing is Pricing.BONUS:
            assert t.amount is not None  # the catalog names every bonus's amount
            self.add_bonus(amount(params[t.amount]))
        elif t.pricing is Pricing.HIT:
            self.add_hit(parse(params[REWARD]), int(params.get(ASSIGNMENTS, 1)))
        elif t.pricing is Pricing.HIT_TYPE:  # the reward is the HIT type's: the line can't say
            self.unknown += 1

    def add_hit(self, reward: Decimal, assignments: int) -> None:
        """Count one CreateHIT."""
        rewards, fees = hit_cost(reward, assignments)
        self.hits += 1
        self.rewards += rewards
        self.reward_fees += fees

    @property
    def fees(self) -> Decimal:
        """Every fee."""
        return self.bonus_fees + self.reward_fees

    @property
    def total(self) -> Decimal:
        """Everything the account pays: amounts and fees."""
        return self.bonus + self.rewards + self.fees

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready record (amounts as strings with two decimals)."""
        return {
            "bonuses": self.bonuses,
            "bonus": f"{self.bonus:.2f}",
            "bonus_fees": f"{self.bonus_fees:.2f}",
            "hits": self.hits,
            "rewards": f"{self.rewards:.2f}",
            "reward_fees": f"{self.reward_fees:.2f}",
            "unknown_cost": self.unknown,
            "fees": f"{self.fees:.2f}",
            "total": f"{self.total:.2f}",
        }
