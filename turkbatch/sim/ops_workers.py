"""
Reaching and blocking workers: NotifyWorkers, CreateWorkerBlock, DeleteWorkerBlock,
ListWorkerBlocks.

NotifyWorkers never fails for one worker's sake: each id (duplicates collapse to one) is
either delivered, logged in the ledger's ``notifications``, or reported in
``NotifyWorkersFailureStatuses`` (always present, possibly empty):

- HardFailure "Cannot send a notification to a worker who has not done any work for
  you." for a worker marked ``notifiable: false`` who has had no work approved or
  rejected since, and, in a strict world, for an unknown worker;
- SoftFailure "Temporary delivery failure. Please try again later." for the first
  ``soft_fail`` messages to a worker so marked; later messages are delivered.

Blocks are idempotent: blocking a blocked worker updates the reason; unblocking a worker
who is not blocked succeeds.
"""

from __future__ import annotations

from turkbatch.sim import world_errors as err
from turkbatch.sim.world_pages import paginate
from turkbatch.sim.world_records import Block, Json
from turkbatch.sim.world_state import Operation, Params, State


def _failure(code: str, message: str, worker_id: str) -> Json:
    return {
        "NotifyWorkersFailureCode": code,
        "NotifyWorkersFailureMessage": message,
        "WorkerId": worker_id,
    }


def notify_workers(state: State, params: Params) -> Json:
    """Email up to 100 workers; report the ones who could not be reached."""
    subject = params["Subject"]
    text = params["MessageText"]
    now = state.now()
    failures: list[Json] = []
    delivered = state.log["notifications"]
    for worker_id in dict.fromkeys(params["WorkerIds"]):
        worker = state.workers.get(worker_id)
        if worker is None and not state.strict:
            worker = state.spring_worker(worker_id)
        if worker is None or not worker.notifiable:
            failures.append(_failure("HardFailure", err.HARD_FAILURE_MESSAGE, worker_id))
        elif worker.soft_fail > 0:
            worker.soft_fail -= 1
            failures.append(_failure("SoftFailure", err.SOFT_FAILURE_MESSAGE, worker_id))
        else:
            delivered.append(
                {"WorkerId": worker_id, "Subject": subject, "MessageText": text, "Time": now}
            )
    return {"NotifyWorkersFailureStatuses": failures}


def _log(state: State, action: str, worker_id: str, reason: str | None) -> None:
    state.log["blocks"].append(
        {"Action": action, "WorkerId": worker_id, "Reason": reason, "Time": state.now()}
    )


def create_worker_block(state: State, params: Params) -> Json:
    """Block a worker from your HITs (again: update the reason)."""
    worker_id = params["WorkerId"]
    reason = params["Reason"]
    state.worker(worker_id)
    block = state.blocks.get(worker_id)
    if block is None:
        block = Block(worker_id=worker_id, reason=reason, seq=state.next_seq())
        state.blocks[worker_id] = block
        state.block_list.append(block)
        _log(state, "Create", worker_id, reason)
    elif block.reason != reason:
        block.reason = reason
        _log(state, "UpdateReason", worker_id, reason)
    return {}


def delete_worker_block(state: State, params: Params) -> Json:
    """Lift a worker's block; succeed if there was none."""
    worker_id = params["WorkerId"]
    if worker_id not in state.workers:
        if state.strict:
            raise err.worker_id_invalid()
        state.spring_worker(worker_id)
    block = state.blocks.pop(worker_id, None)
    if block is not None:
        block.active = False
        _log(state, "Delete", worker_id, params.get("Reason"))
    return {}


def list_worker_blocks(state: State, params: Params) -> Json:
    """List the blocked workers, in the order they were blocked."""
    return paginate(
        state,
        params,
        scope="ListWorkerBlocks",
        items=state.block_list,
        result_key="WorkerBlocks",
        render=Block.to_json,
        keep=lambda block: block.active,
    )


OPERATIONS: dict[str, Operation] = {
    "NotifyWorkers": notify_workers,
    "CreateWorkerBlock": create_worker_block,
    "DeleteWorkerBlock": delete_worker_block,
    "ListWorkerBlocks": list_worker_blocks,
}
