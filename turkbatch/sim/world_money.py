"""
Money arithmetic of the simulated MTurk account: amounts, commissions and HIT costs.

Amounts are ``Decimal`` quantised to the cent and rendered with two decimals. MTurk's
commission is 20 % of a reward or bonus (40 % of the reward of a HIT with 10 or more
assignments), rounded half-up to the cent, at least $0.01 [R pricing pages, I minimum].
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
FEE_RATE = Decimal("0.20")
"""MTurk's commission on rewards and bonuses."""
LARGE_HIT_FEE_RATE = Decimal("0.40")
"""The commission on the reward of HITs with :data:`LARGE_HIT` or more assignments."""
LARGE_HIT = 10


def money(text: str) -> Decimal:
    """Parse a CurrencyAmount string (``"5"``, ``"5."``, ``"0.50"``) to whole cents."""
    return Decimal(text).quantize(CENT)


def fee_for(amount: Decimal, rate: Decimal = FEE_RATE) -> Decimal:
    """Return MTurk's fee: ``rate`` of ``amount``, rounded half-up to the cent, ≥ $0.01."""
    return max(CENT, (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP))


def hit_cost(reward: str, assignments: int) -> Decimal:
    """Return what ``assignments`` assignments of a HIT cost: reward plus commission each."""
    amount = money(reward)
    rate = LARGE_HIT_FEE_RATE if assignments >= LARGE_HIT else FEE_RATE
    return (amount + fee_for(amount, rate)) * assignments
