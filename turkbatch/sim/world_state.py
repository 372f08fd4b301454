"""
The state of a simulated MTurk world: every record, indexed for O(1) point operations.

:class:`State` owns the containers, the id and sequence counters, the 24-hour token store,
the balance and the ledger, and the *lookups* every operation goes through. A lookup
either finds the record, springs it into being (permissive worlds), or raises MTurk's
"does not exist" error (strict worlds); the rules are listed in :mod:`turkbatch.sim.world`.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Container
from decimal import Decimal
from typing import Any

from turkbatch.sim import world_errors as err
from turkbatch.sim.clock import Clock
from turkbatch.sim.world_ids import mturk_id
from turkbatch.sim.world_money import amount_param
from turkbatch.sim.world_records import (
    Assignment,
    AssignmentStatus,
    Block,
    Bonus,
    Hit,
    HitType,
    Json,
    Qualification,
    QualRequest,
    QualType,
    Worker,
)
from turkbatch.sim.world_system import system_qual_types
from turkbatch.sim.world_timeline import Actor, Timeline
from turkbatch.sim.world_tokens import TokenStore

DAY = 86_400.0
DEFAULT_AUTO_APPROVAL_DELAY = 30 * 86_400
DEFAULT_ASSIGNMENT_DURATION = 3_600


class State:
    """
    Everything one world holds; :meth:`freeze` of it is a snapshot.

    Args:
        clock: where every timestamp comes from.
        strict: unknown ids are errors (True) or spring into being (False).
        balance: the requester's available balance.
    """

    def __init__(self, *, clock: Clock, strict: bool, balance: Decimal) -> None:
        self.clock = clock
        self.strict = strict
        self.balance = balance
        self.trailing_next_token = False
        self.generation = 0
        self._seq = 0
        self._counters: dict[str, int] = {}
        self.workers: dict[str, Worker] = {}
        self.hit_types: dict[str, HitType] = {}
        self.hits: dict[str, Hit] = {}
        self.hit_list: list[Hit] = []
        self.assignments: dict[str, Assignment] = {}
        self.qual_types: dict[str, QualType] = {}
        self.qual_type_list: list[QualType] = []
        self.qual_type_names: dict[str, str] = {}
        self.qualifications: dict[tuple[str, str], Qualification] = {}
        self.requests: dict[str, QualRequest] = {}
        self.request_list: list[QualRequest] = []
        self.blocks: dict[str, Block] = {}
        self.block_list: list[Block] = []
        self.bonuses: list[Bonus] = []
        self.bonuses_by_assignment: dict[str, list[Bonus]] = {}
        self.bonuses_by_hit: dict[str, list[Bonus]] = {}
        self.tokens = TokenStore(clock)
        self.layouts: set[str] | None = set() if strict else None
        self.timeline = Timeline()
        self.workforce: Actor | None = None
        self.log: dict[str, list[Json]] = {
            "notifications": [],
            "qualification_changes": [],
            "assignment_changes": [],
            "blocks": [],
            "hits_created": [],
            "hit_extensions": [],
            "refunds": [],
            "work": [],
        }
        for qual_type in system_qual_types(self.next_seq):
            self.add_qual_type(qual_type)

    # -- snapshots ------------------------------------------------------------------------

    def freeze(self) -> bytes:
        """Return this state as bytes (without the clock) for :meth:`thaw`."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def thaw(cls, frozen: bytes, clock: Clock) -> State:
        """Return a fresh state from :meth:`freeze`'s bytes, running on ``clock``."""
        state: State = pickle.loads(frozen)
        state.clock = clock
        state.tokens.attach(clock)
        return state

    def __getstate__(self) -> dict[str, object]:
        """Pickle without the clock, which is shared, never copied."""
        state = self.__dict__.copy()
        del state["clock"]
        return state

    # -- counters -------------------------------------------------------------------------

    def now(self) -> float:
        """Return the simulated time in epoch seconds."""
        return self.clock.time()

    def next_seq(self) -> int:
        """Return the next creation sequence number (the order listings follow)."""
        self._seq += 1
        return self._seq

    def new_id(self, kind: str, taken: Container[str]) -> str:
        """Return a fresh deterministic id of ``kind`` that is not in ``taken``."""
        while True:
            n = self._counters[kind] = self._counters.get(kind, 0) + 1
            candidate = mturk_id(f"{kind}:{n}")
            if candidate not in taken:
                return candidate

    # -- registration ---------------------------------------------------------------------

    def add_qual_type(self, qual_type: QualType) -> QualType:
        """Register a qualification type (a requester's own type reserves its name)."""
        self.qual_types[qual_type.type_id] = qual_type
        self.qual_type_list.append(qual_type)
        if qual_type.owned:
            self.qual_type_names[qual_type.name] = qual_type.type_id
        return qual_type

    def hit_type_for(
        self,
        *,
        title: str,
        description: str,
        reward: str,
        assignment_duration: int,
        auto_approval_delay: int = DEFAULT_AUTO_APPROVAL_DELAY,
        keywords: str | None = None,
        qual_requirements: list[Json] | None = None,
        hit_type_id: str | None = None,
    ) -> HitType:
        """
        Return the HIT type with these properties, registering it if new.

        Equal properties give the same HITTypeId (a digest of them), as MTurk's
        CreateHITType does; ``hit_type_id`` forces an id (world files).
        """
        quals = [dict(q) for q in qual_requirements or ()]
        reward = f"{amount_param(reward, 'Reward'):.2f}"
        props = [title, description, reward, assignment_duration, auto_approval_delay, keywords]
        canonical = json.dumps([*props, quals], sort_keys=True)
        type_id = hit_type_id or mturk_id(f"hittype:{canonical}")
        found = self.hit_types.get(type_id)
        if found is not None:
            return found
        hit_type = self.hit_types[type_id] = HitType(
            hit_type_id=type_id,
            group_id=mturk_id(f"group:{canonical}"),
            title=title,
            description=description,
            reward=reward,
            assignment_duration=assignment_duration,
            auto_approval_delay=auto_approval_delay,
            keywords=keywords,
            qual_requirements=quals,
        )
        return hit_type

    def add_hit(self, hit: Hit) -> Hit:
        """Register a HIT."""
        self.hits[hit.hit_id] = hit
        self.hit_list.append(hit)
        return hit

    def add_assignment(self, assignment: Assignment) -> Assignment:
        """Register an assignment under its HIT."""
        self.assignments[assignment.assignment_id] = assignment
        assignment.hit.assignments.append(assignment)
        return assignment

    def add_request(self, request: QualRequest) -> QualRequest:
        """Register a qualification request under its type."""
        self.requests[request.request_id] = request
        self.request_list.append(request)
        self.qual_types[request.type_id].requests.append(request)
        return request

    # -- lookups: find, spring (permissive) or raise (strict) -----------------------------

    def worker(self, worker_id: str) -> Worker:
        """Return a worker; unknown → sprung (permissive) or ParameterValidationError."""
        found = self.workers.get(worker_id)
        if found is not None:
            return found
        if self.strict:
            raise err.unknown_worker(worker_id)
        return self.spring_worker(worker_id)

    def spring_worker(self, worker_id: str) -> Worker:
        """Create a notifiable worker with no history."""
        worker = self.workers[worker_id] = Worker(worker_id=worker_id)
        return worker

    def hit(self, hit_id: str) -> Hit:
        """Return a HIT (possibly disposed); unknown → sprung empty HIT or HITDoesNotExist."""
        found = self.hits.get(hit_id)
        if found is not None:
            return found
        if self.strict:
            raise err.hit_not_found(hit_id)
        return self.add_hit(self._placeholder_hit(hit_id, f"Placeholder HIT {hit_id}"))

    def hit_type(self, hit_type_id: str) -> HitType:
        """Return a live HIT type; unknown → sprung placeholder type or HITTypeDoesNotExist."""
        found = self.hit_types.get(hit_type_id)
        if found is not None:
            if found.disposed:
                raise err.hit_type_not_found(hit_type_id)
            return found
        if self.strict:
            raise err.hit_type_not_found(hit_type_id)
        return self._placeholder_type(hit_type_id)

    def assignment(self, assignment_id: str, worker_id: str | None = None) -> Assignment:
        """
        Return an assignment, auto-approved if its time has come.

        Unknown in a permissive world: a Submitted assignment springs into being on the
        placeholder HIT of ``worker_id`` (or of a worker derived from the assignment id).
        """
        found = self.assignments.get(assignment_id)
        if found is not None:
            return self.settle(found)
        if self.strict:
            raise err.assignment_not_found(assignment_id)
        worker_id = worker_id or mturk_id(f"worker:{assignment_id}", first="A", length=14)
        worker = self.workers.get(worker_id) or self.spring_worker(worker_id)
        hit = worker.placeholder_hit
        if hit is None:
            hit_id = self.new_id("hit", self.hits)
            hit = self.add_hit(self._placeholder_hit(hit_id, f"Placeholder HIT for {worker_id}"))
            worker.placeholder_hit = hit
        now = self.now()
        assignment = Assignment(
            assignment_id=assignment_id,
            worker_id=worker_id,
            hit=hit,
            seq=self.next_seq(),
            status=AssignmentStatus.SUBMITTED,
            accept_time=now - 60.0,
            submit_time=now,
        )
        hit.max_assignments = max(hit.max_assignments, len(hit.assignments) + 1)
        return self.add_assignment(assignment)

    def qual_type(self, type_id: str) -> QualType:
        """Return a live qualification type; unknown → sprung Active type or error."""
        found = self.qual_types.get(type_id)
        if found is not None:
            if found.disposed:
                raise err.qual_type_not_found(type_id)
            return found
        if self.strict:
            raise err.qual_type_not_found(type_id)
        return self.spring_qual_type(type_id, f"Qualification {type_id}")

    def spring_qual_type(self, type_id: str, name: str) -> QualType:
        """Create an Active, requestable qualification type owned by the requester."""
        return self.add_qual_type(
            QualType(
                type_id=type_id,
                seq=self.next_seq(),
                name=name,
                description="Sprung into being by the permissive simulator.",
                status="Active",
                creation_time=self.now(),
            )
        )

    def request(self, request_id: str) -> QualRequest:
        """Return a qualification request; unknown → sprung pending request or error."""
        found = self.requests.get(request_id)
        if found is not None:
            return found
        if self.strict:
            raise err.request_not_found(request_id)
        type_id = mturk_id("placeholder-qualification-type")
        qual_type = self.qual_types.get(type_id) or self.spring_qual_type(
            type_id, "Placeholder qualification type"
        )
        worker_id = mturk_id(f"worker:{request_id}", first="A", length=14)
        if worker_id not in self.workers:
            self.spring_worker(worker_id)
        return self.add_request(
            QualRequest(
                request_id=request_id,
                type_id=qual_type.type_id,
                worker_id=worker_id,
                seq=self.next_seq(),
                submit_time=self.now(),
            )
        )

    def _placeholder_type(self, hit_type_id: str) -> HitType:
        hit_type = self.hit_types[hit_type_id] = HitType(
            hit_type_id=hit_type_id,
            group_id=mturk_id(f"group:{hit_type_id}"),
            title="Placeholder HIT type",
            description="Sprung into being by the permissive simulator.",
            reward="0.00",
            assignment_duration=DEFAULT_ASSIGNMENT_DURATION,
            auto_approval_delay=DEFAULT_AUTO_APPROVAL_DELAY,
        )
        return hit_type

    def _placeholder_hit(self, hit_id: str, title: str) -> Hit:
        """Return an expired (so Reviewable) one-assignment HIT of the placeholder type."""
        type_id = mturk_id("placeholder-hit-type")
        hit_type = self.hit_types.get(type_id) or self._placeholder_type(type_id)
        now = self.now()
        return Hit(
            hit_id=hit_id,
            seq=self.next_seq(),
            hit_type=hit_type,
            creation_time=now,
            expiration=now,
            max_assignments=1,
            question=None,
            annotation=title,
            placeholder=True,
        )

    # -- assignment lifecycle -------------------------------------------------------------

    def settle(self, assignment: Assignment) -> Assignment:
        """Auto-approve a Submitted assignment whose AutoApprovalTime has passed."""
        if assignment.status is AssignmentStatus.SUBMITTED:
            due = assignment.auto_approval_time
            if due <= self.now():
                self.change_assignment(assignment, AssignmentStatus.APPROVED, due, None, "auto")
        return assignment

    def settle_hit(self, hit: Hit) -> Hit:
        """Settle every assignment of a HIT (before counting them)."""
        for assignment in hit.assignments:
            self.settle(assignment)
        return hit

    def change_assignment(
        self,
        assignment: Assignment,
        status: AssignmentStatus,
        at: float,
        feedback: str | None,
        by: str,
    ) -> None:
        """Move an assignment to ``status`` and log it; its worker becomes notifiable."""
        before = assignment.status
        assignment.status = status
        if status is AssignmentStatus.APPROVED:
            assignment.approval_time = at
        else:
            assignment.rejection_time = at
        if feedback is not None:
            assignment.feedback = feedback
        worker = self.workers.get(assignment.worker_id)
        if worker is not None:
            worker.notifiable = True
        self.log["assignment_changes"].append(
            {
                "AssignmentId": assignment.assignment_id,
                "WorkerId": assignment.worker_id,
                "HITId": assignment.hit.hit_id,
                "From": str(before),
                "To": str(status),
                "RequesterFeedback": feedback,
                "By": by,
                "Time": at,
            }
        )

    # -- money --------------------------------------------------------------------------

    def charge(self, total: Decimal) -> None:
        """Debit ``total`` from the balance, or raise InsufficientFunds and debit nothing."""
        if total > self.balance:
            raise err.insufficient_funds()
        self.balance -= total

    def record_bonus(self, bonus: Bonus) -> None:
        """Append a paid bonus to the ledger and its two listing indexes."""
        self.bonuses.append(bonus)
        self.bonuses_by_assignment.setdefault(bonus.assignment_id, []).append(bonus)
        self.bonuses_by_hit.setdefault(bonus.hit_id, []).append(bonus)


Params = dict[str, Any]
"""A decoded, schema-validated request body."""

Operation = Callable[[State, Params], Json]
"""One MTurk operation: the world's state and the request in, the output JSON out."""
