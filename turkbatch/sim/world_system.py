"""
MTurk's system qualification types, which exist in every world, and what they imply.

Masters (one id in the sandbox, another in production), Worker_Locale, the approval
statistics and Worker_Adult can be read, listed and required by HITs, never granted or
changed. A HIT that requires Masters pays MTurk 5 % more of its reward.
"""

from __future__ import annotations

from collections.abc import Callable

from turkbatch.sim.world_records import HitType, QualType

MASTERS_SANDBOX = "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"
"""The sandbox's Masters qualification type [R: MTurkR's table, pyMTurkR#11, breadboard#204]."""
MASTERS_PRODUCTION = "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"
"""Production's Masters qualification type [R]."""
MASTERS = frozenset({MASTERS_SANDBOX, MASTERS_PRODUCTION})
WORKER_LOCALE = "00000000000000000071"
"""The Worker_Locale system qualification type, the only one LocaleValues apply to."""

_SYSTEM_TYPES = (
    (
        WORKER_LOCALE,
        "Worker_Locale",
        "The Location of the Worker, as specified in the Worker's mailing address",
    ),
    (
        "000000000000000000L0",
        "Worker_PercentAssignmentsApproved",
        "The percentage of "
        "assignments the Worker has submitted that were subsequently approved by the Requester",
    ),
    (
        "00000000000000000040",
        "Worker_NumberHITsApproved",
        "The total number of HITs submitted by a Worker that have been approved",
    ),
    ("00000000000000000060", "Worker_Adult", "The Worker has agreed to see adult content"),
    (
        MASTERS_SANDBOX,
        "Masters",
        "Workers who have demonstrated excellence across a wide range of HITs (sandbox)",
    ),
    (
        MASTERS_PRODUCTION,
        "Masters",
        "Workers who have demonstrated excellence across a wide range of HITs",
    ),
)
SYSTEM_CREATION_TIME = 1_230_768_000.0
"""2009-01-01T00:00:00Z: when MTurk's system qualification types say they were made."""


def system_qual_types(next_seq: Callable[[], int]) -> list[QualType]:
    """Return MTurk's system qualification types, which exist in every world."""
    return [
        QualType(
            type_id=type_id,
            seq=next_seq(),
            name=name,
            description=description,
            status="Active",
            creation_time=SYSTEM_CREATION_TIME,
            is_requestable=False,
            owned=False,
        )
        for type_id, name, description in _SYSTEM_TYPES
    ]


def requires_masters(hit_type: HitType) -> bool:
    """Return whether a HIT type requires the Masters qualification (a 5 % fee)."""
    return any(
        q["QualificationTypeId"] in MASTERS and q.get("Comparator") != "DoesNotExist"
        for q in hit_type.qual_requirements
    )
