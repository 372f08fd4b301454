"""Tests for the world's money: SendBonus rules, fees, balance, tokens, ListBonusPayments."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from test_sim_world_support import ASSIGNMENTS, HIT, WORKERS, call, error_of, example_world

from turkbatch.sim.apierror import ApiError
from turkbatch.sim.clock import Clock
from turkbatch.sim.world import World
from turkbatch.sim.world_errors import INSUFFICIENT_FUNDS_MESSAGE
from turkbatch.sim.world_money import fee_for, money, unit_cost
from turkbatch.sim.world_tokens import TOKEN_TTL, TokenStore

DAY = 24 * 3600


def bonus(world: World, amount: str, token: str | None = None, index: int = 0) -> dict[str, object]:
    """Send one bonus for the example world's ``index``-th assignment."""
    params = {
        "WorkerId": WORKERS[index],
        "AssignmentId": ASSIGNMENTS[index],
        "BonusAmount": amount,
        "Reason": "Thanks for the careful work",
    }
    if token is not None:
        params["UniqueRequestToken"] = token
    return world.call("SendBonus", params)


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        ("0.01", "0.01"),
        ("0.02", "0.01"),
        ("0.07", "0.01"),
        ("0.08", "0.02"),
        ("0.10", "0.02"),
        ("1.22", "0.24"),
        ("1.23", "0.25"),
        ("1.25", "0.25"),
        ("5", "1.00"),
        ("5.", "1.00"),
        ("101.42", "20.28"),
    ],
)
def test_bonus_fee_is_twenty_percent_half_up_with_a_one_cent_minimum(amount: str, fee: str) -> None:
    """SendBonus debits the bonus plus 20 % rounded half-up to the cent, at least $0.01."""
    world = example_world()
    assert bonus(world, amount) == {}
    paid = world.ledger()["bonuses"][0]
    assert paid["Fee"] == fee
    assert paid["BonusAmount"] == f"{money(amount):.2f}"
    expected = Decimal("250.00") - money(amount) - Decimal(fee)
    assert call(world, "GetAccountBalance") == {"AvailableBalance": f"{expected:.2f}"}


def test_fee_rounding_is_half_up_not_bankers() -> None:
    """A fee landing exactly on half a cent rounds up (0.025 → 0.03)."""
    assert fee_for(Decimal("0.25"), Decimal("0.10")) == Decimal("0.03")
    assert fee_for(Decimal("0.00")) == Decimal("0.01")


def test_unit_cost_charges_forty_percent_from_ten_assignments_and_five_for_masters() -> None:
    """An assignment costs reward + 20 %, 40 % when the HIT has 10 or more in total, and
    5 % more when it requires Masters."""
    assert unit_cost("0.50", 9) * 9 == Decimal("5.40")
    assert unit_cost("0.50", 10) * 10 == Decimal("7.00")
    assert unit_cost("0.00", 2) * 2 == Decimal("0.02")
    assert unit_cost("1.00", 1, masters=True) == Decimal("1.25")
    assert unit_cost("1.00", 10, masters=True) == Decimal("1.45")


def test_insufficient_funds_pays_nothing() -> None:
    """A bonus the balance cannot cover fails with MTurk's text and moves no money."""
    world = World.from_dict(
        {
            "balance": "1.19",
            "assignments": [{"WorkerId": "A1", "HITId": "3H", "AssignmentId": "3A"}],
            "hits": [{"HITId": "3H"}],
        },
        clock=Clock(),
    )
    error = error_of(
        world, "SendBonus", WorkerId="A1", AssignmentId="3A", BonusAmount="1.00", Reason="r"
    )
    assert (error.type_, error.turk_code) == (
        "RequestError",
        "AWS.MechanicalTurk.InsufficientFunds",
    )
    assert error.message == INSUFFICIENT_FUNDS_MESSAGE
    assert world.ledger()["bonuses"] == []
    assert world.balance == "1.19"
    call(world, "SendBonus", WorkerId="A1", AssignmentId="3A", BonusAmount="0.99", Reason="r")
    assert world.balance == "0.00"


def test_a_failed_call_does_not_burn_its_token() -> None:
    """Insufficient funds leaves the token unused: the same token succeeds later."""
    world = example_world()
    error_of(
        world,
        "SendBonus",
        WorkerId=WORKERS[0],
        AssignmentId=ASSIGNMENTS[0],
        BonusAmount="1000.00",
        Reason="r",
        UniqueRequestToken="tok",
    )
    assert bonus(world, "1.00", token="tok") == {}
    assert len(world.ledger()["bonuses"]) == 1


def test_token_reuse_within_24_hours_is_refused_and_pays_nothing() -> None:
    """A repeated token within 24 h fails with the idempotency error; nothing is paid."""
    clock = Clock()
    world = example_world(clock)
    bonus(world, "2.00", token="payout-17")
    clock.advance(DAY - 1)
    with pytest.raises(ApiError) as caught:
        bonus(world, "2.00", token="payout-17")
    error = caught.value
    assert error.message == 'The idempotency token "payout-17" has already been processed.'
    assert (error.type_, error.turk_code) == ("RequestError", "AWS.MechanicalTurk.DuplicateRequest")
    assert "idempotency" in str(error)
    assert len(world.ledger()["bonuses"]) == 1
    assert world.balance == "247.60"


def test_token_is_forgotten_after_24_hours_and_the_same_call_pays_again() -> None:
    """After 24 h + 1 s the token is gone: MTurk's documented double-payment danger."""
    clock = Clock()
    world = example_world(clock)
    bonus(world, "2.00", token="payout-17")
    clock.advance(DAY + 1)
    assert bonus(world, "2.00", token="payout-17") == {}
    assert len(world.ledger()["bonuses"]) == 2
    with pytest.raises(ApiError, match="already been processed"):
        bonus(world, "2.00", token="payout-17")


def test_different_parameters_with_a_used_token_are_refused_too() -> None:
    """The token alone decides: other amounts or assignments under it are duplicates."""
    world = example_world()
    bonus(world, "2.00", token="t")
    error = error_of(
        world,
        "SendBonus",
        WorkerId=WORKERS[1],
        AssignmentId=ASSIGNMENTS[1],
        BonusAmount="3.00",
        Reason="x",
        UniqueRequestToken="t",
    )
    assert error.turk_code == "AWS.MechanicalTurk.DuplicateRequest"


def test_tokens_are_remembered_per_operation() -> None:
    """A SendBonus token does not collide with the same CreateAdditionalAssignments token."""
    world = example_world()
    bonus(world, "1.00", token="shared")
    call(
        world,
        "CreateAdditionalAssignmentsForHIT",
        HITId=HIT,
        NumberOfAdditionalAssignments=1,
        UniqueRequestToken="shared",
    )
    assert len(world.ledger()["hit_extensions"]) == 1


def test_several_bonuses_per_assignment_are_allowed_without_tokens() -> None:
    """Without tokens, each call pays: two bonuses for one assignment are listed."""
    world = example_world()
    bonus(world, "1.00")
    bonus(world, "1.00")
    listed = call(world, "ListBonusPayments", AssignmentId=ASSIGNMENTS[0])
    assert listed["NumResults"] == 2
    assert listed["BonusPayments"][0] == {
        "WorkerId": WORKERS[0],
        "BonusAmount": "1.00",
        "AssignmentId": ASSIGNMENTS[0],
        "Reason": "Thanks for the careful work",
        "GrantTime": listed["BonusPayments"][0]["GrantTime"],
    }


def test_strict_send_bonus_refuses_unknown_worker_and_foreign_assignment() -> None:
    """Strict: unknown worker → ParameterValidationError; another's assignment → not found."""
    world = example_world()
    unknown = error_of(
        world,
        "SendBonus",
        WorkerId="A143XRCI1YXAFE",
        AssignmentId=ASSIGNMENTS[0],
        BonusAmount="1.00",
        Reason="r",
    )
    assert unknown.message == 'The value "A143XRCI1YXAFE" is not valid for the parameter WorkerId.'
    foreign = error_of(
        world,
        "SendBonus",
        WorkerId=WORKERS[1],
        AssignmentId=ASSIGNMENTS[0],
        BonusAmount="1.00",
        Reason="r",
    )
    assert foreign.message == f"Assignment {ASSIGNMENTS[0]} does not exist."
    assert foreign.turk_code == "AWS.MechanicalTurk.AssignmentDoesNotExist"
    missing = error_of(
        world,
        "SendBonus",
        WorkerId=WORKERS[1],
        AssignmentId="3MISSING",
        BonusAmount="1.00",
        Reason="r",
    )
    assert missing.message == "Assignment 3MISSING does not exist."
    assert world.ledger()["bonuses"] == []
    assert world.balance == "250.00"


def test_permissive_send_bonus_pays_as_named() -> None:
    """Permissive: a bonus naming another worker than the assignment's is paid as named."""
    world = World(clock=Clock())
    call(world, "ApproveAssignment", AssignmentId="3ANON")
    call(world, "SendBonus", WorkerId="A1NAMED", AssignmentId="3ANON", BonusAmount="1", Reason="r")
    listed = call(world, "ListBonusPayments", AssignmentId="3ANON")
    assert listed["BonusPayments"][0]["WorkerId"] == "A1NAMED"


def test_zero_bonus_is_refused() -> None:
    """A zero bonus is refused (the server checks too) and pays nothing."""
    world = example_world()
    error = error_of(
        world,
        "SendBonus",
        WorkerId=WORKERS[0],
        AssignmentId=ASSIGNMENTS[0],
        BonusAmount="0.00",
        Reason="r",
    )
    assert error.turk_code == "AWS.MechanicalTurk.InvalidParameterValue"
    assert world.ledger()["bonuses"] == []


def test_list_bonus_payments_needs_exactly_one_of_hit_and_assignment() -> None:
    """ListBonusPayments with both or neither of HITId and AssignmentId is a RequestError."""
    world = example_world()
    for params in ({}, {"HITId": HIT, "AssignmentId": ASSIGNMENTS[0]}):
        error = error_of(world, "ListBonusPayments", **params)
        assert error.type_ == "RequestError"
        assert "HITId" in error.message and "AssignmentId" in error.message


def test_list_bonus_payments_by_hit_pages_through_every_bonus() -> None:
    """ListBonusPayments(HITId) lists the bonuses of all the HIT's assignments, paginated."""
    world = example_world()
    for index in range(5):
        for _ in range(3):
            bonus(world, "0.50", index=index)
    seen = []
    params: dict[str, object] = {"HITId": HIT, "MaxResults": 4}
    while True:
        page = call(world, "ListBonusPayments", **params)
        seen += page["BonusPayments"]
        if "NextToken" not in page:
            break
        params["NextToken"] = page["NextToken"]
    assert len(seen) == 15
    assert {b["AssignmentId"] for b in seen} == set(ASSIGNMENTS)
    assert error_of(world, "ListBonusPayments", HITId="3NOPE").turk_code == (
        "AWS.MechanicalTurk.HITDoesNotExist"
    )


def test_token_store_forgets_and_prunes_after_a_day() -> None:
    """The token store answers for 24 h, then forgets; old entries are pruned as new arrive."""
    clock = Clock()
    store = TokenStore(clock)
    store.remember("SendBonus", "a", "3A")
    assert store.seen("SendBonus", "a") == "3A"
    assert store.seen("CreateHIT", "a") is None
    clock.advance(TOKEN_TTL)
    store.remember("SendBonus", "b", "3B")
    assert len(store) == 1
    assert store.seen("SendBonus", "a") is None
    store.remember("SendBonus", "b", "3C")
    clock.advance(TOKEN_TTL - 1)
    store.remember("SendBonus", "c", "3D")
    assert store.seen("SendBonus", "b") == "3C"


def test_send_bonus_is_fast() -> None:
    """SendBonus stays O(1): 5,000 tokened bonuses on fresh assignments in well under 2 s."""
    world = World(clock=Clock(), balance="1000000.00")
    started = time.perf_counter()
    for n in range(5000):
        world.call(
            "SendBonus",
            {
                "WorkerId": f"A{n % 50}",
                "AssignmentId": f"3AS{n}",
                "BonusAmount": "0.25",
                "Reason": "r",
                "UniqueRequestToken": f"t{n}",
            },
        )
    assert time.perf_counter() - started < 2.0
    assert len(world.ledger()["bonuses"]) == 5000
