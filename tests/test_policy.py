"""The least-privilege IAM policy of a job."""

from __future__ import annotations

import pytest

from turkbatch import policy


def test_a_payout_job_needs_its_calls_and_turkbatchs_own() -> None:
    """SendBonus brings the balance check and the in-doubt lookup, nothing more."""
    needed = policy.needed({"SendBonus": 3})
    assert list(needed) == [
        "mechanicalturk:GetAccountBalance",
        "mechanicalturk:ListBonusPayments",
        "mechanicalturk:SendBonus",
    ]
    assert "balance" in needed["mechanicalturk:GetAccountBalance"]


def test_review_and_messaging_jobs() -> None:
    """Reviews bring GetAssignment; messages bring nothing (no money: no balance check)."""
    needed = policy.needed(["ApproveAssignment", "NotifyWorkers"])
    assert list(needed) == [
        "mechanicalturk:ApproveAssignment",
        "mechanicalturk:GetAssignment",
        "mechanicalturk:NotifyWorkers",
    ]


def test_listings_of_bulk_expansions_are_included() -> None:
    """The read-only List calls of bulk expansions are allowed too."""
    needed = policy.needed(["ApproveAssignment"], listings=["ListAssignmentsForHIT"])
    assert needed["mechanicalturk:ListAssignmentsForHIT"] == "bulk expansion"


def test_document_shape() -> None:
    """One Allow statement on every resource (MTurk has no resource-level permissions)."""
    doc = policy.document(["mechanicalturk:SendBonus", "mechanicalturk:GetAccountBalance"])
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["mechanicalturk:GetAccountBalance", "mechanicalturk:SendBonus"],
                "Resource": "*",
            }
        ],
    }


def test_unknown_operations_are_refused() -> None:
    """A name that is not an MTurk operation never becomes an IAM action."""
    with pytest.raises(KeyError):
        policy.needed(["GrantBonus"])


def test_verify_needs_only_read_calls() -> None:
    """`policy --verify`: only Get/List actions, those of the job's checkable operations."""
    needed = policy.for_verify(["SendBonus", "NotifyWorkers", "CreateWorkerBlock"])
    assert list(needed) == [
        "mechanicalturk:GetAssignment",
        "mechanicalturk:ListAssignmentsForHIT",
        "mechanicalturk:ListBonusPayments",
        "mechanicalturk:ListWorkerBlocks",
    ]
    assert needed["mechanicalturk:ListWorkerBlocks"] == "verify CreateWorkerBlock"
    reads = {op for ops in policy.VERIFY_READS.values() for op in ops}
    assert all(op.startswith(("Get", "List")) for op in reads)
    assert policy.for_verify(["NotifyWorkers", "CreateHIT"]) == {}
