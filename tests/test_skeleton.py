"""Sample job lines for every operation, straight from botocore's model."""

from __future__ import annotations

import pytest

from turkbatch import jobs, schema
from turkbatch.catalog import OPERATIONS, TOKEN_OPERATIONS
from turkbatch.skeleton import UnknownOperation, required_members, skeleton, suggest


@pytest.mark.parametrize("op", OPERATIONS)
def test_every_skeleton_validates(op: str) -> None:
    """Each of the 39 skeletons is a valid request, and a valid job line, as it stands."""
    line = skeleton(op)
    params = {k: v for k, v in line.items() if k != "op"}
    assert schema.validate(op, params) == []
    assert jobs.check_items([line]).operations == 1
    assert set(params) == set(schema.input_members(op)) - {"UniqueRequestToken"}


@pytest.mark.parametrize("op", sorted(TOKEN_OPERATIONS))
def test_the_token_is_left_to_turkbatch(op: str) -> None:
    """UniqueRequestToken is never in a skeleton: turkbatch fills in a deterministic one."""
    assert "UniqueRequestToken" not in skeleton(op)


def test_send_bonus_required_first() -> None:
    """Required parameters come first, with realistic placeholders."""
    line = skeleton("SendBonus")
    assert list(line) == ["op", "WorkerId", "BonusAmount", "AssignmentId", "Reason"]
    assert line["WorkerId"].startswith("A") and line["BonusAmount"] == "0.50"
    assert required_members("SendBonus") == ("WorkerId", "BonusAmount", "AssignmentId", "Reason")


def test_nested_structures_are_filled() -> None:
    """Lists of structures get one filled element; enums their first value."""
    line = skeleton("CreateHIT")
    (requirement,) = line["QualificationRequirements"]
    assert requirement["Comparator"] == "LessThan"
    assert requirement["LocaleValues"] == [{"Country": "US", "Subdivision": "WA"}]


def test_required_only() -> None:
    """--required-only leaves the optional parameters out."""
    assert list(skeleton("ApproveAssignment", required_only=True)) == ["op", "AssignmentId"]


def test_misspelt_operation_suggests() -> None:
    """A typo or the wrong case gets a 'did you mean'."""
    with pytest.raises(UnknownOperation, match="did you mean 'SendBonus'"):
        skeleton("SendBonsu")
    assert suggest("sendbonus") == "SendBonus"
    assert suggest("Frobnicate") is None
    with pytest.raises(UnknownOperation, match="lists them"):
        skeleton("Frobnicate")
