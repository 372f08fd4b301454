"""Tests for NotifyWorkers and worker blocks in the simulated world."""

from __future__ import annotations

from test_sim_world_support import SOFT_WORKER, UNNOTIFIABLE, WORKERS, call, error_of, example_world

from turkbatch.sim.clock import Clock
from turkbatch.sim.world import World

HARD = "Cannot send a notification to a worker who has not done any work for you."


def notify(world: World, worker_ids: list[str]) -> list[dict[str, str]]:
    """Message workers and return the failure statuses."""
    out = call(
        world, "NotifyWorkers", Subject="New study", MessageText="Hello!", WorkerIds=worker_ids
    )
    return out["NotifyWorkersFailureStatuses"]


def test_notify_delivers_and_reports_hard_failures() -> None:
    """Eligible workers get the message; an unnotifiable or unknown worker is a HardFailure."""
    world = example_world()
    failures = notify(world, [WORKERS[0], UNNOTIFIABLE, "A0STRANGER", WORKERS[1]])
    assert failures == [
        {
            "NotifyWorkersFailureCode": "HardFailure",
            "NotifyWorkersFailureMessage": HARD,
            "WorkerId": UNNOTIFIABLE,
        },
        {
            "NotifyWorkersFailureCode": "HardFailure",
            "NotifyWorkersFailureMessage": HARD,
            "WorkerId": "A0STRANGER",
        },
    ]
    delivered = world.ledger()["notifications"]
    assert [(n["WorkerId"], n["Subject"], n["MessageText"]) for n in delivered] == [
        (WORKERS[0], "New study", "Hello!"),
        (WORKERS[1], "New study", "Hello!"),
    ]


def test_notify_soft_failures_then_delivery() -> None:
    """A worker marked soft_fail: 1 fails softly once and is reached on the retry."""
    world = example_world()
    first = notify(world, [SOFT_WORKER])
    assert [f["NotifyWorkersFailureCode"] for f in first] == ["SoftFailure"]
    assert notify(world, [SOFT_WORKER]) == []
    assert [n["WorkerId"] for n in world.ledger()["notifications"]] == [SOFT_WORKER]


def test_notify_delivers_once_per_distinct_worker() -> None:
    """Duplicate ids within one call are delivered (and reported) once."""
    world = example_world()
    assert notify(world, [WORKERS[0], WORKERS[0], UNNOTIFIABLE, UNNOTIFIABLE]) == [
        {
            "NotifyWorkersFailureCode": "HardFailure",
            "NotifyWorkersFailureMessage": HARD,
            "WorkerId": UNNOTIFIABLE,
        }
    ]
    assert len(world.ledger()["notifications"]) == 1


def test_notify_always_answers_the_failure_list() -> None:
    """With every worker reached, NotifyWorkersFailureStatuses is present and empty."""
    world = World(clock=Clock())
    assert call(world, "NotifyWorkers", Subject="s", MessageText="m", WorkerIds=["A1", "A2"]) == {
        "NotifyWorkersFailureStatuses": []
    }
    assert len(world.ledger()["notifications"]) == 2


def test_blocks_are_idempotent_and_listed() -> None:
    """Blocking twice updates the reason; unblocking an unblocked worker succeeds."""
    world = example_world()
    call(world, "CreateWorkerBlock", WorkerId=WORKERS[0], Reason="Spam")
    call(world, "CreateWorkerBlock", WorkerId=WORKERS[0], Reason="Spam")
    call(world, "CreateWorkerBlock", WorkerId=WORKERS[0], Reason="Spam, twice")
    blocks = call(world, "ListWorkerBlocks")["WorkerBlocks"]
    assert blocks == [
        {"WorkerId": UNNOTIFIABLE, "Reason": "Submitted copied answers in an earlier batch."},
        {"WorkerId": WORKERS[0], "Reason": "Spam, twice"},
    ]
    call(world, "DeleteWorkerBlock", WorkerId=WORKERS[0], Reason="appeal")
    call(world, "DeleteWorkerBlock", WorkerId=WORKERS[0])
    call(world, "DeleteWorkerBlock", WorkerId=WORKERS[1])
    assert [b["WorkerId"] for b in call(world, "ListWorkerBlocks")["WorkerBlocks"]] == [
        UNNOTIFIABLE
    ]
    call(world, "CreateWorkerBlock", WorkerId=WORKERS[0], Reason="again")
    assert call(world, "ListWorkerBlocks")["NumResults"] == 2
    actions = [b["Action"] for b in world.ledger()["blocks"]]
    assert actions == ["Create", "UpdateReason", "Delete", "Create"]


def test_strict_blocks_need_known_workers() -> None:
    """Strict: blocking an unknown worker is a ParameterValidationError; unblocking one is
    'WorkerId is invalid.'."""
    world = example_world()
    created = error_of(world, "CreateWorkerBlock", WorkerId="A0NOBODY", Reason="x")
    assert created.message == 'The value "A0NOBODY" is not valid for the parameter WorkerId.'
    deleted = error_of(world, "DeleteWorkerBlock", WorkerId="A0NOBODY")
    assert deleted.message == "WorkerId is invalid."


def test_permissive_blocks_spring_workers() -> None:
    """Permissive: any well-formed worker can be blocked and unblocked."""
    world = World(clock=Clock())
    call(world, "CreateWorkerBlock", WorkerId="A1NEW", Reason="x")
    call(world, "DeleteWorkerBlock", WorkerId="A2NEW")
    assert [b["WorkerId"] for b in call(world, "ListWorkerBlocks")["WorkerBlocks"]] == ["A1NEW"]
