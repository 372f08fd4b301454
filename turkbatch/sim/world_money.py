"""
Money arithmetic of the simulated MTurk account: amounts, commissions and HIT costs.

Amounts are ``Decimal`` quantised to the cent and rendered with two decimals. MTurk's
commission is 20 % of a reward or bonus (40 % of the reward of a HIT with 10 or more
assignments in total), plus 5 % of the reward for HITs that require Masters, rounded
half-up to the cent, at least $0.01 [R pricing pages, I minimum]. An amount too large
for the arithmetic (27 or more digits before the point) is refused as
ParameterValidationError, never a ServiceFault.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from turkbatch.sim import world_errors as err

CENT = Decimal("0.01")
FEE_RATE = Decimal("0.20")
"""MTurk's commission on rewards and bonuses."""
LARGE_HIT_FEE_RATE = Decimal("0.40")
"""The commission on the reward of HITs with :data:`LARGE_HIT` or more assignments."""
LARGE_HIT = 10
MASTERS_FEE_RATE = Decimal("0.05")
"""The extra commission on the reward of HITs that require the Masters qualification."""


def money(text: str) -> Decimal:
    """Parse a CurrencyAmount string (``"5"``, ``"5."``, ``"0.50"``) to whole cents."""
    return Decimal(text).quantize(CENT)


def fee_for(amount: Decimal, rate: Decimal = FEE_RATE) -> Decimal:
    """Return MTurk's fee: ``rate`` of ``amount``, rounded half-up to the cent, ≥ $0.01."""
    return max(CENT, (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP))


def amount_param(text: str, parameter: str) -> Decimal:
    """
    Parse a request's CurrencyAmount, refusing one too large to be money.

    Raises:
        ApiError: ParameterValidationError naming ``parameter``.
    """
    try:
        return money(text)
    except InvalidOperation:
        raise err.invalid_value(parameter, text) from None


def unit_cost(reward: str, total_assignments: int, *, masters: bool = False) -> Decimal:
    """
    Return what one assignment of a HIT costs: its reward plus commission.

    Args:
        reward: the HIT's reward.
        total_assignments: the HIT's MaxAssignments (after any extension): 10 or more
            raises the commission to 40 %.
        masters: the HIT requires the Masters qualification (+5 %).
    """
    amount = money(reward)
    rate = LARGE_HIT_FEE_RATE if total_assignments >= LARGE_HIT else FEE_RATE
    if masters:
        rate += MASTERS_FEE_RATE
    return amount + fee_for(amount, rate)
