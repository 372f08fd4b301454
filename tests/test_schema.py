"""Tests for turkbatch.schema: validators compiled from botocore's MTurk model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import botocore.loaders
import botocore.model
import pytest
from hypothesis import given
from hypothesis import strategies as st

from turkbatch import schema
from turkbatch.schema import Violation

BONUS = {"WorkerId": "A1B2C3", "AssignmentId": "3X4Y5Z", "BonusAmount": "1.25", "Reason": "Thanks"}
QUAL = {"QualificationTypeId": "3Q", "WorkerId": "A1"}
NOTIFY = {"Subject": "New study", "MessageText": "Hello", "WorkerIds": ["A1B2C3", "A9Z8"]}
CURRENCY = r"^[0-9]+(\.)?[0-9]{0,2}$"

# Values that satisfy each constrained string shape of the model.
EXAMPLES = {
    "CustomerId": "A1B2C3D4",
    "EntityId": "3ABC123XYZ",
    "CurrencyAmount": "0.50",
    "CountryParameters": "US",
}


def _model() -> Any:
    data = botocore.loaders.create_loader().load_service_model("mturk", "service-2", "2017-01-17")
    return botocore.model.ServiceModel(data, service_name="mturk")


def _example(shape: Any) -> Any:
    """Build a realistic minimal value for a shape: required members only, one list item."""
    kind = shape.type_name
    if kind == "structure":
        return {name: _example(shape.members[name]) for name in shape.required_members}
    if kind == "list":
        return [_example(shape.member)]
    if kind == "string":
        if getattr(shape, "enum", None):
            return shape.enum[0]
        return EXAMPLES.get(shape.name, "x")
    if kind in ("integer", "long"):
        return shape.metadata.get("min", 1)
    return {"boolean": True, "timestamp": 1_700_000_000}[kind]


def rules(operation: str, params: Mapping[str, Any], **kw: Any) -> list[tuple[Any, ...]]:
    """Return ``(path, rule)`` for every violation, for compact assertions."""
    return [(v.path, v.rule) for v in schema.validate(operation, params, **kw)]


def test_operations_are_the_39_sorted_names() -> None:
    """operations() lists the model's 39 operations, sorted."""
    ops = schema.operations()
    assert len(ops) == 39
    assert list(ops) == sorted(_model().operation_names)


def test_input_members_follow_model_order() -> None:
    """input_members() gives the request parameters in the model's order."""
    assert schema.input_members("SendBonus") == (
        "WorkerId",
        "BonusAmount",
        "AssignmentId",
        "Reason",
        "UniqueRequestToken",
    )
    assert schema.input_members("GetAccountBalance") == ()


def test_unknown_operation_is_a_key_error() -> None:
    """An operation the model does not have raises KeyError everywhere."""
    with pytest.raises(KeyError):
        schema.validate("GrantBonus", {})
    with pytest.raises(KeyError):
        schema.input_members("GrantBonus")


@pytest.mark.parametrize("operation", schema.operations())
def test_every_operation_accepts_a_minimal_valid_request(operation: str) -> None:
    """A request built from each operation's required members (nested too) is valid."""
    params = _example(_model().operation_model(operation).input_shape)
    assert schema.validate(operation, params) == []


def test_a_full_create_hit_with_nested_lists_is_valid() -> None:
    """Nested structures and lists of structures validate when correct."""
    params = {
        "LifetimeInSeconds": 3600,
        "AssignmentDurationInSeconds": 600,
        "Reward": "0.50",
        "Title": "Label images",
        "Description": "Ten images",
        "QualificationRequirements": [
            {
                "QualificationTypeId": "00000000000000000071",
                "Comparator": "In",
                "LocaleValues": [{"Country": "US", "Subdivision": "WA"}, {"Country": "CA"}],
                "ActionsGuarded": "Accept",
            }
        ],
        "AssignmentReviewPolicy": {
            "PolicyName": "ScoreMyKnownAnswers/2011-09-01",
            "Parameters": [{"Key": "AnswerKey", "MapEntries": [{"Key": "q1", "Values": ["a"]}]}],
        },
    }
    assert schema.validate("CreateHIT", params) == []


def test_required_and_unknown_members() -> None:
    """Missing required members and unknown members are reported, in model order."""
    params = {"Workerid": "A1", "BonusAmount": "1", "AssignmentId": "3X"}
    assert rules("SendBonus", params) == [
        (("WorkerId",), "required"),
        (("Reason",), "required"),
        (("Workerid",), "unknown"),
    ]
    unknown = schema.validate("SendBonus", params)[-1]
    assert unknown.value == "A1"
    assert "WorkerId" in unknown.limit  # type: ignore[operator]


def test_unknown_members_can_be_ignored_like_aws_does() -> None:
    """unknown=False skips unknown members at every depth, as the service does."""
    params = {**BONUS, "Extra": 1}
    assert rules("SendBonus", params, unknown=False) == []
    hit = _example(_model().operation_model("CreateHIT").input_shape)
    hit["QualificationRequirements"] = [
        {"QualificationTypeId": "X", "Comparator": "Exists", "Z": 1}
    ]
    assert rules("CreateHIT", hit, unknown=False) == []
    assert rules("CreateHIT", hit) == [(("QualificationRequirements", 0, "Z"), "unknown")]


@pytest.mark.parametrize(
    ("operation", "params", "path"),
    [
        ("SendBonus", {**BONUS, "BonusAmount": 1.25}, ("BonusAmount",)),
        ("AssociateQualificationWithWorker", {**QUAL, "IntegerValue": "5"}, ("IntegerValue",)),
        ("AssociateQualificationWithWorker", {**QUAL, "IntegerValue": True}, ("IntegerValue",)),
        (
            "AssociateQualificationWithWorker",
            {**QUAL, "SendNotification": 1},
            ("SendNotification",),
        ),
        ("NotifyWorkers", {**NOTIFY, "WorkerIds": "A1B2C3"}, ("WorkerIds",)),
        ("NotifyWorkers", {**NOTIFY, "WorkerIds": ["A1", 7]}, ("WorkerIds", 1)),
        ("UpdateExpirationForHIT", {"HITId": "3H", "ExpireAt": "next tuesday"}, ("ExpireAt",)),
        ("UpdateExpirationForHIT", {"HITId": "3H", "ExpireAt": False}, ("ExpireAt",)),
        (
            "UpdateNotificationSettings",
            {"HITTypeId": "3T", "Notification": "SQS"},
            ("Notification",),
        ),
        ("ApproveAssignment", {"AssignmentId": None}, ("AssignmentId",)),
    ],
)
def test_type_errors(operation: str, params: dict[str, Any], path: tuple[Any, ...]) -> None:
    """Each model type rejects values of other JSON types (bool is not an integer)."""
    assert rules(operation, params) == [(path, "type")]


@pytest.mark.parametrize(
    "expire_at",
    [0, 1_700_000_000, 1.7e9, "2026-01-02T03:04:05Z", "2026-01-02", datetime.now(UTC)],
)
def test_timestamps_accept_epoch_seconds_and_iso_8601(expire_at: object) -> None:
    """A timestamp is epoch seconds (int or float), an ISO-8601 string, or a datetime."""
    assert rules("UpdateExpirationForHIT", {"HITId": "3H", "ExpireAt": expire_at}) == []


def test_lengths_patterns_and_enums() -> None:
    """String min/max length, pattern and enum rules come from the model."""
    assert rules("SendBonus", {**BONUS, "WorkerId": ""}) == [
        (("WorkerId",), "min_length"),
        (("WorkerId",), "pattern"),
    ]
    assert rules("SendBonus", {**BONUS, "WorkerId": "A" * 65}) == [(("WorkerId",), "max_length")]
    assert rules("SendBonus", {**BONUS, "UniqueRequestToken": "t" * 65}) == [
        (("UniqueRequestToken",), "max_length")
    ]
    assert rules("SendBonus", {**BONUS, "AssignmentId": "3x"}) == [(("AssignmentId",), "pattern")]
    assert rules("ListReviewableHITs", {"Status": "Done"}) == [(("Status",), "enum")]


def test_pattern_end_does_not_accept_a_trailing_newline() -> None:
    """The model's ``$`` is an end of string: ``re``'s newline leniency is closed."""
    assert rules("SendBonus", {**BONUS, "WorkerId": "A1B2\n"}) == [(("WorkerId",), "pattern")]
    assert rules("SendBonus", {**BONUS, "BonusAmount": "1\n"}) == [(("BonusAmount",), "pattern")]


@pytest.mark.parametrize(("value", "rule"), [(0, "min"), (1, None), (100, None), (101, "max")])
def test_numeric_bounds(value: int, rule: str | None) -> None:
    """MaxResults is 1..100 in the model."""
    expected = [] if rule is None else [(("MaxResults",), rule)]
    assert rules("ListHITs", {"MaxResults": value}) == expected


@pytest.mark.parametrize(
    ("amount", "rule"),
    [("5", None), ("5.", None), ("0.50", None), ("101.42", None), ("0.01", None),
     ("1.234", "pattern"), ("$1", "pattern"), ("-1", "pattern"), ("", "pattern"),
     ("0", "positive"), ("0.00", "positive"), ("0.", "positive"), ("000", "positive")],
)  # fmt: skip
def test_bonus_amount(amount: str, rule: str | None) -> None:
    """BonusAmount matches ^[0-9]+(\\.)?[0-9]{0,2}$ and, an MTurk rule, is above zero."""
    expected = [] if rule is None else [(("BonusAmount",), rule)]
    assert rules("SendBonus", {**BONUS, "BonusAmount": amount}) == expected


def test_notify_workers_limits() -> None:
    """MTurk's NotifyWorkers limits: 100 WorkerIds, Subject 200, MessageText 4096."""
    ids = [f"A{i:05d}" for i in range(101)]
    at_limit = {"Subject": "s" * 200, "MessageText": "m" * 4096, "WorkerIds": ids[:100]}
    assert rules("NotifyWorkers", at_limit) == []
    over = {"Subject": "s" * 201, "MessageText": "m" * 4097, "WorkerIds": ids}
    assert rules("NotifyWorkers", over) == [
        (("Subject",), "max_length"),
        (("MessageText",), "max_length"),
        (("WorkerIds",), "max_items"),
    ]


@pytest.mark.parametrize("operation", ["ApproveAssignment", "RejectAssignment"])
def test_requester_feedback(operation: str) -> None:
    """RequesterFeedback: at most 1024 characters, no ASCII control characters but tab/CR/LF."""
    ok = {"AssignmentId": "3X", "RequesterFeedback": "Thanks!\tLine\r\nnext" + "f" * 1000}
    assert rules(operation, ok) == []
    assert rules(operation, {**ok, "RequesterFeedback": "f" * 1025}) == [
        (("RequesterFeedback",), "max_length")
    ]
    for char in [*map(chr, range(9)), "\x0b", "\x0c", *map(chr, range(14, 32))]:
        bad = {**ok, "RequesterFeedback": f"bad{char}"}
        assert rules(operation, bad) == [(("RequesterFeedback",), "forbidden_chars")]


def test_every_id_member_is_at_most_64_characters() -> None:
    """Members named *Id are capped at 64 even where the model leaves them unbounded."""
    assert rules("RejectQualificationRequest", {"QualificationRequestId": "Q" * 64}) == []
    assert rules("RejectQualificationRequest", {"QualificationRequestId": "Q" * 65}) == [
        (("QualificationRequestId",), "max_length")
    ]
    hit = _example(_model().operation_model("CreateHIT").input_shape)
    hit["QualificationRequirements"] = [{"QualificationTypeId": "Q" * 65, "Comparator": "Exists"}]
    assert rules("CreateHIT", hit) == [
        (("QualificationRequirements", 0, "QualificationTypeId"), "max_length")
    ]


def test_nested_violations_have_full_paths_in_model_order() -> None:
    """Violations inside lists and structures carry their full path, depth first."""
    hit = _example(_model().operation_model("CreateHIT").input_shape)
    hit["QualificationRequirements"] = [
        {"QualificationTypeId": "Q", "Comparator": "Exists"},
        {"Comparator": "Eq", "LocaleValues": [{"Country": "USA"}], "IntegerValues": ["1"]},
    ]
    hit["Title"] = 5
    assert rules("CreateHIT", hit) == [
        (("Title",), "type"),
        (("QualificationRequirements", 1, "QualificationTypeId"), "required"),
        (("QualificationRequirements", 1, "Comparator"), "enum"),
        (("QualificationRequirements", 1, "IntegerValues", 0), "type"),
        (("QualificationRequirements", 1, "LocaleValues", 0, "Country"), "max_length"),
    ]


def test_params_may_be_any_mapping() -> None:
    """validate() accepts any Mapping, not only dict."""
    assert schema.validate("SendBonus", MappingProxyType(BONUS)) == []


@pytest.mark.parametrize(
    ("violation", "text"),
    [
        (
            Violation(("BonusAmount",), "1.234", "pattern", CURRENCY),
            "BonusAmount '1.234' does not match ^[0-9]+(\\.)?[0-9]{0,2}$ (at most 2 decimals)",
        ),
        (
            Violation(("WorkerIds",), ["A1"] * 150, "max_items", 100),
            "WorkerIds has 150 items; at most 100 per call",
        ),
        (Violation(("Reason",), None, "required"), "Reason is required"),
        (
            Violation(("WorkerIds", 3), "bob", "pattern", "^A[A-Z0-9]+$"),
            "WorkerIds[3] 'bob' does not match ^A[A-Z0-9]+$",
        ),
        (
            Violation(("Subject",), "s" * 201, "max_length", 200),
            "Subject has 201 characters; at most 200",
        ),
        (Violation(("X",), [], "min_items", 1), "X has 0 items; at least 1"),
        (
            Violation(("IntegerValue",), "5", "type", "integer"),
            "IntegerValue must be an integer, not string '5'",
        ),
        (Violation(("BonusAmount",), "0", "positive", 0), "BonusAmount '0' must be greater than 0"),
        (Violation(("A", 0, "B"), 1, "unknown", ("C",)), "A[0].B is not a known parameter"),
    ],
)
def test_describe(violation: Violation, text: str) -> None:
    """describe() renders the engine's human text for each rule."""
    assert violation.describe() == text


def test_every_rule_has_a_description() -> None:
    """Every violation the validator can produce can be described."""
    hit = _example(_model().operation_model("CreateHIT").input_shape)
    hit["QualificationRequirements"] = [{"Comparator": "Eq", "Q": 1}]
    found = schema.validate("CreateHIT", hit) + schema.validate(
        "RejectAssignment", {"AssignmentId": "x" * 65, "RequesterFeedback": "\x00"}
    )
    assert all(v.describe() for v in found)
    assert "U+0000 at offset 0" in found[-1].describe()


def _reference(value: str, pattern: str, lo: int, hi: int) -> bool:
    return lo <= len(value) <= hi and re.fullmatch(pattern.strip("^$"), value) is not None


@given(st.text(alphabet="A0Z9a .\n\x00", max_size=70))
def test_fast_path_agrees_with_the_rules_for_ids(value: str) -> None:
    """The fused fast check accepts exactly the WorkerIds the rule-by-rule check accepts."""
    ok = _reference(value, "^A[A-Z0-9]+$", 1, 64)
    assert (rules("SendBonus", {**BONUS, "WorkerId": value}) == []) is ok


@given(st.text(alphabet="0123.$-\n", max_size=8))
def test_fast_path_agrees_with_the_rules_for_amounts(value: str) -> None:
    """The fused fast check accepts exactly the positive, well-formed amounts."""
    ok = _reference(value, CURRENCY, 0, 10**6) and any(c in "123" for c in value)
    assert (rules("SendBonus", {**BONUS, "BonusAmount": value}) == []) is ok


@given(st.text(alphabet=st.characters(max_codepoint=40), max_size=20))
def test_fast_path_agrees_with_the_rules_for_feedback(value: str) -> None:
    """The fused fast check rejects exactly the feedback with forbidden characters."""
    ok = not any(ord(c) < 32 and c not in "\t\n\r" for c in value)
    params = {"AssignmentId": "3X", "RequesterFeedback": value}
    assert (rules("RejectAssignment", params) == []) is ok


def test_the_amount_bound_is_turkbatchs_not_the_simulators() -> None:
    """
    An amount above $9,999,999,999.99 is refused when checking a job (unknown=True), with
    the bound named; checked as the simulator checks requests (unknown=False), it is not,
    so the simulator answers such amounts as MTurk does.
    """
    huge = {"WorkerId": "A1", "AssignmentId": "3A", "BonusAmount": "1" * 11, "Reason": "r"}
    (violation,) = schema.validate("SendBonus", huge)
    assert violation.describe() == (
        "BonusAmount '11111111111' is more than the largest amount, 9999999999.99"
    )
    assert schema.validate("SendBonus", huge, unknown=False) == []
    assert schema.validate("SendBonus", {**huge, "BonusAmount": "0009999999999.99"}) == []
