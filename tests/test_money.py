"""MTurk's fees and costs: 20% per payment, half-up to the cent, at least $0.01."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turkbatch import money
from turkbatch.money import Spend


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        ("0.01", "0.01"),  # 0.002 → the minimum
        ("0.04", "0.01"),  # 0.008 → the minimum
        ("0.05", "0.01"),  # 0.010 exactly
        ("0.07", "0.01"),  # 0.014 rounds down
        ("0.08", "0.02"),  # 0.016 rounds up
        ("0.025", "0.01"),  # not a cent amount: still ≥ $0.01
        ("1.25", "0.25"),
        ("0.33", "0.07"),  # 0.066 → 0.07
        ("0.125", "0.03"),  # 0.025 → half up, not half even
        ("10.00", "2.00"),
        ("1234.56", "246.91"),  # 246.912
    ],
)
def test_bonus_fee_rounds_half_up_with_a_minimum(amount: str, fee: str) -> None:
    """The fee is 20% rounded half-up to the cent, and never below one cent."""
    assert money.bonus_fee(Decimal(amount)) == Decimal(fee)


@given(st.integers(min_value=1, max_value=10_000_000))
def test_bonus_fee_is_a_whole_cent_near_a_fifth(cents: int) -> None:
    """For any amount in cents the fee is whole cents, ≥ 1 cent, within half a cent of 20%."""
    amount = Decimal(cents) / 100
    fee = money.bonus_fee(amount)
    assert fee == fee.quantize(money.CENT) and fee >= money.CENT
    assert abs(fee - amount / 5) <= Decimal("0.005") or fee == money.CENT


@pytest.mark.parametrize(
    ("text", "value"), [("5", "5.00"), ("5.", "5.00"), ("0.50", "0.50"), ("$1,2", None)]
)
def test_parse_amounts(text: str, value: str | None) -> None:
    """Amounts parse like MTurk's CurrencyAmount; anything else is a ValueError."""
    if value is None:
        with pytest.raises(ValueError, match="not an amount"):
            money.parse(text)
    else:
        assert money.parse(text) == Decimal(value)


def test_parse_refuses_negative_and_infinite() -> None:
    """A spend limit cannot be negative or infinite."""
    for text in ("-1", "Infinity", "NaN", ""):
        with pytest.raises(ValueError):
            money.parse(text)


def test_hit_cost_uses_40_percent_from_ten_assignments() -> None:
    """A HIT's fee is 20% of each reward, 40% when it has 10 or more assignments."""
    assert money.hit_cost(Decimal("0.50"), 9) == (Decimal("4.50"), Decimal("0.90"))
    assert money.hit_cost(Decimal("0.50"), 10) == (Decimal("5.00"), Decimal("2.00"))
    assert money.hit_cost(Decimal("0.00"), 2) == (Decimal("0.00"), Decimal("0.02"))


def test_spend_sums_fees_per_payment() -> None:
    """Fees are summed per payment (not 20% of the sum), and totals include everything."""
    spend = Spend()
    for _ in range(3):
        spend.add_bonus(Decimal("0.01"))
    spend.add_hit(Decimal("1.00"), 2)
    spend.unknown += 1
    assert spend.bonuses == 3 and spend.bonus == Decimal("0.03")
    assert spend.bonus_fees == Decimal("0.03")  # 3 × the minimum, not 20% of $0.03
    assert spend.fees == Decimal("0.43") and spend.total == Decimal("2.46")
    record = spend.as_dict()
    assert record["total"] == "2.46" and record["unknown_cost"] == 1


def test_usd() -> None:
    """Amounts print with a dollar sign, thousands separators and two decimals."""
    assert money.usd(Decimal("1234.5")) == "$1,234.50"
