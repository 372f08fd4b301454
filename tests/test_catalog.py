"""Tests for turkbatch.catalog: every table agrees with botocore's MTurk models."""

from __future__ import annotations

from typing import Any

import botocore.loaders
import botocore.model
import botocore.session
import pytest

from turkbatch import catalog


@pytest.fixture(scope="module")
def model() -> Any:
    """botocore's MTurk 2017-01-17 service model."""
    data = botocore.loaders.create_loader().load_service_model("mturk", "service-2", "2017-01-17")
    return botocore.model.ServiceModel(data, service_name="mturk")


def test_operations_match_the_model(model: Any) -> None:
    """OPERATIONS is the model's 39 operations, sorted."""
    assert tuple(sorted(model.operation_names)) == catalog.OPERATIONS
    assert len(catalog.OPERATIONS) == 39


def test_token_operations_are_those_with_unique_request_token(model: Any) -> None:
    """TOKEN_OPERATIONS is exactly the operations whose input has UniqueRequestToken."""
    derived = {
        op
        for op in model.operation_names
        if "UniqueRequestToken" in model.operation_model(op).input_shape.members
    }
    assert derived == catalog.TOKEN_OPERATIONS


def test_money_operations_carry_tokens() -> None:
    """Every call that draws on the balance can be made safe with a token."""
    assert "SendBonus" in catalog.MONEY_OPERATIONS
    assert catalog.MONEY_OPERATIONS <= catalog.TOKEN_OPERATIONS


def test_read_only_is_get_and_list(model: Any) -> None:
    """READ_ONLY holds the 16 Get*/List* operations and no others."""
    derived = {op for op in model.operation_names if op.startswith(("Get", "List"))}
    assert derived == catalog.READ_ONLY
    assert len(catalog.READ_ONLY) == 16
    assert not catalog.READ_ONLY & catalog.MONEY_OPERATIONS


def test_idempotent_matches_the_model_flag() -> None:
    """IDEMPOTENT is exactly the operations the model marks ``"idempotent": true``."""
    ops = botocore.loaders.create_loader().load_service_model("mturk", "service-2", "2017-01-17")[
        "operations"
    ]
    assert {op for op, spec in ops.items() if spec.get("idempotent")} == catalog.IDEMPOTENT


def test_paginated_matches_botocore_paginators() -> None:
    """PAGINATED is botocore's paginator table: operation → result key."""
    pages = botocore.loaders.create_loader().load_service_model(
        "mturk", "paginators-1", "2017-01-17"
    )["pagination"]
    assert {op: spec["result_key"] for op, spec in pages.items()} == dict(catalog.PAGINATED)


def test_iam_actions() -> None:
    """IAM actions use the mechanicalturk prefix; a set of calls needs each action once."""
    assert catalog.iam_action("SendBonus") == "mechanicalturk:SendBonus"
    assert catalog.iam_actions(["SendBonus", "NotifyWorkers", "SendBonus"]) == (
        "mechanicalturk:NotifyWorkers",
        "mechanicalturk:SendBonus",
    )


def test_access_levels() -> None:
    """Get* are Read, List* are List, everything else Write (23 actions)."""
    assert catalog.access_level("GetAccountBalance") == "Read"
    assert catalog.access_level("ListBonusPayments") == "List"
    assert catalog.access_level("SendBonus") == "Write"
    writes = [op for op in catalog.OPERATIONS if catalog.access_level(op) == "Write"]
    assert len(writes) == 23


def test_method_names_exist_on_the_botocore_client() -> None:
    """method_name() gives a method the botocore MTurk client really has."""
    client = botocore.session.get_session().create_client(
        "mturk", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    assert catalog.method_name("GetFileUploadURL") == "get_file_upload_url"
    for op in catalog.OPERATIONS:
        assert hasattr(client, catalog.method_name(op))


@pytest.mark.parametrize("call", [catalog.iam_action, catalog.access_level, catalog.method_name])
def test_unknown_operations_are_refused(call: Any) -> None:
    """Legacy or misspelt names raise KeyError rather than produce a wrong answer."""
    with pytest.raises(KeyError):
        call("GrantBonus")
