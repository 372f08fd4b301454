"""
The least-privilege IAM policy a job needs: its own calls and the ones turkbatch adds.

MTurk supports no resource-level permissions and no condition keys, so the policy is one
``Allow`` statement of ``mechanicalturk:`` actions on ``"Resource": "*"`` (mturk-facts §9).
Besides the job's operations, turkbatch itself calls:

- ``GetAccountBalance`` before paying (the balance check) and in ``plan``, when the job
  moves money;
- ``ListBonusPayments`` to look up in-doubt bonuses on resume (and with ``--reconcile``);
- ``GetAssignment`` to confirm an "already approved/rejected" answer;
- the read-only ``List*`` operation of every bulk expansion in the job.

``turkbatch verify JOB`` sends only read calls: :func:`for_verify` lists exactly those
its checks of the job's operations may make (:data:`VERIFY_READS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from turkbatch.catalog import MONEY_OPERATIONS, TRAITS, iam_action

__all__ = ["POLICY_VERSION", "VERIFY_READS", "document", "for_verify", "needed"]

POLICY_VERSION: Final = "2012-10-17"

#: The call that checks the balance before paying, and why turkbatch makes it.
BALANCE: Final = "GetAccountBalance"
BALANCE_CHECK: Final = "balance check before paying"

#: The read calls ``turkbatch verify`` may make to check each operation (the catalog's).
VERIFY_READS: Final[Mapping[str, tuple[str, ...]]] = {
    op: t.verify_reads for op, t in TRAITS.items() if t.verify_reads
}


def for_verify(ops: Iterable[str]) -> dict[str, str]:
    """
    Return the IAM actions ``turkbatch verify`` needs for a job, each with why.

    Args:
        ops: the operations the job's lines name.
    """
    why: dict[str, str] = {}
    for op in sorted(set(ops)):
        for read in VERIFY_READS.get(op, ()):
            why.setdefault(iam_action(read), f"verify {op}")
    return dict(sorted(why.items()))


def needed(ops: Iterable[str], *, listings: Iterable[str] = ()) -> dict[str, str]:
    """
    Return every IAM action a job needs, sorted, each with why it is needed.

    Args:
        ops: the operations the job's lines name.
        listings: the read-only List operations its bulk expansions call.

    Raises:
        KeyError: one of the names is not an MTurk operation.
    """
    names = set(ops)
    why = {iam_action(op): "job lines" for op in names}
    for op in set(listings):
        why.setdefault(iam_action(op), "bulk expansion")
    if names & MONEY_OPERATIONS:
        why.setdefault(iam_action(BALANCE), BALANCE_CHECK)
    for op in sorted(names):
        for helper, reason in TRAITS[op].lookups:
            why.setdefault(iam_action(helper), reason)
    return dict(sorted(why.items()))


def document(actions: Iterable[str]) -> dict[str, Any]:
    """Return the IAM policy document allowing ``actions`` (sorted) on every resource."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": sorted(set(actions)),
                "Resource": "*",
            }
        ],
    }
