"""Tests for the world's MTurk-style pagination (page sizes, tokens, the trailing quirk)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turkbatch.sim.clock import Clock
from turkbatch.sim.world import World


def blocked_world(count: int, *, trailing: bool = False) -> World:
    """Return a permissive world with ``count`` blocked workers (ListWorkerBlocks items)."""
    world = World(clock=Clock(), trailing_next_token=trailing)
    for n in range(count):
        world.call("CreateWorkerBlock", {"WorkerId": f"A{n:05d}", "Reason": f"r{n}"})
    return world


def pages(world: World, **params: Any) -> list[dict[str, Any]]:
    """Follow NextToken until a page has none; return every page."""
    out = []
    while True:
        page = world.call("ListWorkerBlocks", dict(params))
        out.append(page)
        if "NextToken" not in page:
            return out
        params["NextToken"] = page["NextToken"]


def test_default_page_size_is_ten() -> None:
    """Without MaxResults a page holds 10 items and carries a token while more remain."""
    first = blocked_world(25).call("ListWorkerBlocks", {})
    assert first["NumResults"] == 10 == len(first["WorkerBlocks"])
    assert "NextToken" in first


def test_max_results_100_returns_a_hundred() -> None:
    """MaxResults 100 (MTurk's maximum) returns 100 items per page."""
    sizes = [p["NumResults"] for p in pages(blocked_world(250), MaxResults=100)]
    assert sizes == [100, 100, 50]


def test_no_token_on_the_last_page_or_an_empty_listing() -> None:
    """A final page, an exactly-full final page and an empty listing carry no NextToken."""
    assert [p["NumResults"] for p in pages(blocked_world(20), MaxResults=10)] == [10, 10]
    empty = blocked_world(0).call("ListWorkerBlocks", {})
    assert empty == {"NumResults": 0, "WorkerBlocks": []}


def test_trailing_token_quirk_ends_with_an_empty_page() -> None:
    """With the quirk, the last non-empty page has a token leading to an empty page."""
    got = pages(blocked_world(15, trailing=True), MaxResults=10)
    assert [p["NumResults"] for p in got] == [10, 5, 0]
    assert "NextToken" in got[1]
    assert got[2] == {"NumResults": 0, "WorkerBlocks": []}
    assert pages(blocked_world(0, trailing=True)) == [{"NumResults": 0, "WorkerBlocks": []}]


def test_trailing_token_can_be_switched_at_run_time() -> None:
    """world.trailing_next_token is read on every call."""
    world = blocked_world(3)
    assert "NextToken" not in world.call("ListWorkerBlocks", {})
    world.trailing_next_token = True
    assert "NextToken" in world.call("ListWorkerBlocks", {})


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        base64.urlsafe_b64encode(b"0:000000000000:5").decode(),
        base64.urlsafe_b64encode(b"not:three").decode(),
        "%%%",
    ],
)
def test_invalid_next_token_is_a_parameter_validation_error(token: str) -> None:
    """A token the world did not issue is refused with ParameterValidationError."""
    world = blocked_world(3)
    with pytest.raises(Exception) as caught:
        world.call("ListWorkerBlocks", {"NextToken": token})
    error: Any = caught.value
    assert error.type_ == "ParameterValidationError"
    assert error.message == f'The value "{token}" is not valid for the parameter NextToken.'


def test_a_token_belongs_to_its_listing() -> None:
    """A NextToken from one listing is refused by another listing."""
    world = World(clock=Clock())
    for n in range(12):
        world.call("CreateWorkerBlock", {"WorkerId": f"A{n}", "Reason": "r"})
        world.call(
            "CreateQualificationType",
            {"Name": f"Q{n}", "Description": "d", "QualificationTypeStatus": "Active"},
        )
    token = world.call("ListWorkerBlocks", {})["NextToken"]
    with pytest.raises(Exception, match="NextToken"):
        world.call("ListQualificationTypes", {"MustBeRequestable": True, "NextToken": token})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(min_value=0, max_value=60),
    size=st.one_of(st.none(), st.integers(min_value=1, max_value=100)),
    trailing=st.booleans(),
)
def test_paging_returns_every_item_exactly_once(
    count: int, size: int | None, trailing: bool
) -> None:
    """For any item count, page size and quirk setting, pages cover each item once, in order."""
    params = {} if size is None else {"MaxResults": size}
    got = pages(blocked_world(count, trailing=trailing), **params)
    items = [b["WorkerId"] for p in got for b in p["WorkerBlocks"]]
    assert items == [f"A{n:05d}" for n in range(count)]
    limit = size or 10
    assert all(p["NumResults"] == len(p["WorkerBlocks"]) <= limit for p in got)
    filled = [p["NumResults"] for p in got if p["NumResults"]]
    assert all(n == limit for n in filled[:-1])
    expected_pages = max(1, -(-count // limit)) + (1 if trailing and count else 0)
    assert len(got) == expected_pages


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=40),
    size=st.integers(min_value=1, max_value=12),
    removed=st.sets(st.integers(min_value=0, max_value=39)),
)
def test_items_removed_between_pages_never_cause_skips(
    count: int, size: int, removed: set[int]
) -> None:
    """Unblocking workers between pages never hides a worker that is still blocked."""
    world = blocked_world(count)
    seen: list[str] = []
    params: dict[str, Any] = {"MaxResults": size}
    while True:
        page = world.call("ListWorkerBlocks", dict(params))
        seen += [b["WorkerId"] for b in page["WorkerBlocks"]]
        for n in sorted(removed):
            world.call("DeleteWorkerBlock", {"WorkerId": f"A{n:05d}"})
        removed = set()
        if "NextToken" not in page:
            break
        params["NextToken"] = page["NextToken"]
    still = {
        b["WorkerId"] for b in world.call("ListWorkerBlocks", {"MaxResults": 100})["WorkerBlocks"]
    }
    assert still <= set(seen)
    assert len(seen) == len(set(seen))
