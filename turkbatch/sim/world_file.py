"""
Loading a world file (JSON) into a :class:`~turkbatch.sim.world_state.State`.

The format is documented in :mod:`turkbatch.sim.world`. Loading validates everything
and raises ``ValueError`` naming the offending entry, e.g. ``world.json: assignments[3]:
HITId '3ABC' is not a HIT in this world``. Unknown fields are errors (typos must not pass
silently); fields whose name starts with ``_`` are comments and ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from turkbatch.sim.world_entry import Entry, entries
from turkbatch.sim.world_lifecycle import schedule_hit
from turkbatch.sim.world_money import money, unit_cost
from turkbatch.sim.world_records import (
    Assignment,
    AssignmentStatus,
    Block,
    Hit,
    HITStatus,
    HitType,
    Qualification,
    QualificationStatus,
    QualRequest,
    QualType,
    Worker,
)
from turkbatch.sim.world_state import (
    DAY,
    DEFAULT_ASSIGNMENT_DURATION,
    DEFAULT_AUTO_APPROVAL_DELAY,
    State,
)
from turkbatch.sim.world_system import requires_masters

WORKER_ID = re.compile(r"^A[A-Z0-9]+$")
ENTITY_ID = re.compile(r"^[A-Z0-9]+$")
DEFAULT_LIFETIME = 7 * DAY
REVIEW_STATUSES = ("NotReviewed", "MarkedForReview", "ReviewedAppropriate", "ReviewedInappropriate")
SECTIONS = (
    "workers",
    "qualification_types",
    "hits",
    "assignments",
    "qualification_requests",
    "qualifications",
    "blocks",
)


class Loader:
    """
    Fills a state from a parsed world file, section by section, checking references.

    Args:
        state: an empty strict state.
        data: the parsed JSON document.
        source: how to name the file in errors.
    """

    def __init__(self, state: State, data: object, source: str) -> None:
        top = Entry(source, data, ("balance", "hit_layouts", "workforce", *SECTIONS))
        self.state = state
        self.data = top.raw
        self.source = source
        self.now = state.now()
        self.declared: list[tuple[Entry, Hit, str]] = []
        state.balance = money(top.amount("balance", "10000.00"))
        layouts = self.data.get("hit_layouts", [])
        if not isinstance(layouts, list) or not all(isinstance(x, str) for x in layouts):
            top.fail("hit_layouts must be a list of HITLayoutId strings")
        if state.layouts is not None:
            state.layouts.update(layouts)

    def load(self) -> None:
        """Load every section in dependency order, then check declared HIT statuses."""
        self._workers()
        self._qual_types()
        self._hits()
        self._assignments()
        self._requests()
        self._qualifications()
        self._blocks()
        for hit in self.state.hit_list:
            # money of work the HIT could no longer get went back before the file begins
            hit.refunded_slots = hit.available() if hit.expiration <= self.now else 0
            schedule_hit(self.state, hit)
        for entry, hit, declared in self.declared:
            if hit.disposed and hit.counts()[0]:
                entry.fail("a Disposed HIT cannot have Submitted assignments")
            actual = hit.status(self.now)
            if actual != declared:
                entry.fail(
                    f"HITStatus '{declared}' does not follow from the entry (it is '{actual}'); "
                    "adjust Expiration, MaxAssignments or NumberOfAssignmentsPending"
                )

    def _entries(self, section: str, fields: tuple[str, ...]) -> Iterator[Entry]:
        return entries(self.source, self.data, section, fields)

    def _worker(self, worker_id: str) -> Worker:
        """Return a worker mentioned outside ``workers``: notifiable once reviewed."""
        worker = self.state.workers.get(worker_id)
        if worker is None:
            worker = self.state.workers[worker_id] = Worker(worker_id=worker_id, notifiable=False)
        return worker

    def _workers(self) -> None:
        for entry in self._entries("workers", ("WorkerId", "notifiable", "soft_fail")):
            worker_id = entry.need("WorkerId", WORKER_ID)
            if worker_id in self.state.workers:
                entry.fail(f"WorkerId '{worker_id}' appears twice")
            self.state.workers[worker_id] = Worker(
                worker_id=worker_id,
                notifiable=entry.flag("notifiable", True),
                soft_fail=entry.integer("soft_fail", 0),
            )

    def _qual_types(self) -> None:
        fields = (
            "QualificationTypeId", "Name", "Description", "Keywords", "QualificationTypeStatus",
            "Test", "TestDurationInSeconds", "AnswerKey", "RetryDelayInSeconds", "IsRequestable",
            "AutoGranted", "AutoGrantedValue", "CreationTime",
        )  # fmt: skip
        state = self.state
        for entry in self._entries("qualification_types", fields):
            type_id = entry.text("QualificationTypeId", ENTITY_ID)
            type_id = type_id or state.new_id("qualtype", state.qual_types)
            if type_id in state.qual_types:
                entry.fail(f"QualificationTypeId '{type_id}' appears twice (or is a system type)")
            name = entry.text("Name") or f"Qualification {type_id}"
            if name in state.qual_type_names:
                entry.fail(f"Name '{name}' is already used by another qualification type")
            state.add_qual_type(
                QualType(
                    type_id=type_id,
                    seq=state.next_seq(),
                    name=name,
                    description=entry.text("Description") or "A qualification type.",
                    status=entry.choice(
                        "QualificationTypeStatus", ("Active", "Inactive"), "Active"
                    ),
                    creation_time=entry.time("CreationTime", self.now),
                    keywords=entry.text("Keywords"),
                    test=entry.text("Test"),
                    test_duration=entry.maybe_integer("TestDurationInSeconds"),
                    answer_key=entry.text("AnswerKey"),
                    retry_delay=entry.maybe_integer("RetryDelayInSeconds"),
                    is_requestable=entry.flag("IsRequestable", True),
                    auto_granted=entry.flag("AutoGranted", False),
                    auto_granted_value=entry.maybe_integer("AutoGrantedValue"),
                )
            )

    def _assignment_counts(self) -> dict[str, int]:
        """Count the file's assignments per HITId (before they are loaded)."""
        raws = self.data.get("assignments")
        counts: dict[str, int] = {}
        for raw in raws if isinstance(raws, list) else ():
            hit_id = raw.get("HITId") if isinstance(raw, dict) else None
            if isinstance(hit_id, str):
                counts[hit_id] = counts.get(hit_id, 0) + 1
        return counts

    def _hits(self) -> None:
        fields = (
            "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "Question",
            "MaxAssignments", "CreationTime", "Expiration", "LifetimeInSeconds",
            "AssignmentDurationInSeconds", "AutoApprovalDelayInSeconds", "RequesterAnnotation",
            "QualificationRequirements", "NumberOfAssignmentsPending", "HITStatus",
            "HITReviewStatus",
        )  # fmt: skip
        counts = self._assignment_counts()
        state = self.state
        for entry in self._entries("hits", fields):
            hit_id = entry.text("HITId", ENTITY_ID) or state.new_id("hit", state.hits)
            if hit_id in state.hits:
                entry.fail(f"HITId '{hit_id}' appears twice")
            pending = entry.integer("NumberOfAssignmentsPending", 0)
            used = counts.get(hit_id, 0) + pending
            max_assignments = entry.integer("MaxAssignments", max(1, used), 1)
            if max_assignments < used:
                entry.fail(
                    f"MaxAssignments {max_assignments} is less than its {counts.get(hit_id, 0)} "
                    f"assignments plus {pending} pending"
                )
            declared = entry.text("HITStatus")
            if declared is not None:
                entry.choice("HITStatus", tuple(HITStatus), "")
            created = entry.time("CreationTime", self.now)
            closed = declared in ("Reviewable", "Reviewing", "Disposed")
            lifetime = entry.integer("LifetimeInSeconds", int(DEFAULT_LIFETIME), 1)
            hit_type = self._hit_type(entry, hit_id)
            hit = state.add_hit(
                Hit(
                    hit_id=hit_id,
                    seq=state.next_seq(),
                    hit_type=hit_type,
                    creation_time=created,
                    expiration=entry.time("Expiration", created if closed else created + lifetime),
                    max_assignments=max_assignments,
                    question=entry.text("Question"),
                    annotation=entry.text("RequesterAnnotation"),
                    pending=pending,
                    reviewing=declared == "Reviewing",
                    disposed=declared == "Disposed",
                    review_status=entry.choice("HITReviewStatus", REVIEW_STATUSES, "NotReviewed"),
                    unit_cost=unit_cost(
                        hit_type.reward, max_assignments, masters=requires_masters(hit_type)
                    ),
                )
            )
            if declared is not None:
                self.declared.append((entry, hit, declared))

    def _hit_type(self, entry: Entry, hit_id: str) -> HitType:
        quals = entry.objects("QualificationRequirements")
        for requirement in quals:
            type_id = requirement.get("QualificationTypeId")
            if not isinstance(type_id, str) or type_id not in self.state.qual_types:
                entry.fail(
                    f"QualificationRequirements: QualificationTypeId '{type_id}' is not a "
                    "qualification type in this world"
                )
        return self.state.hit_type_for(
            title=entry.text("Title") or f"HIT {hit_id}",
            description=entry.text("Description") or "A HIT.",
            reward=entry.amount("Reward", "0.10"),
            assignment_duration=entry.integer(
                "AssignmentDurationInSeconds", DEFAULT_ASSIGNMENT_DURATION, 1
            ),
            auto_approval_delay=entry.integer(
                "AutoApprovalDelayInSeconds", DEFAULT_AUTO_APPROVAL_DELAY
            ),
            keywords=entry.text("Keywords"),
            qual_requirements=quals,
            hit_type_id=entry.text("HITTypeId", ENTITY_ID),
        )

    def _assignments(self) -> None:
        fields = (
            "AssignmentId", "WorkerId", "HITId", "AssignmentStatus", "AcceptTime", "SubmitTime",
            "ApprovalTime", "RejectionTime", "Answer", "RequesterFeedback",
        )  # fmt: skip
        state = self.state
        pairs: set[tuple[str, str]] = set()
        for entry in self._entries("assignments", fields):
            assignment_id = entry.text("AssignmentId", ENTITY_ID)
            assignment_id = assignment_id or state.new_id("assignment", state.assignments)
            if assignment_id in state.assignments:
                entry.fail(f"AssignmentId '{assignment_id}' appears twice")
            worker_id = entry.need("WorkerId", WORKER_ID)
            hit_id = entry.need("HITId", ENTITY_ID)
            hit = state.hits.get(hit_id)
            if hit is None:
                entry.fail(f"HITId '{hit_id}' is not a HIT in this world")
            if (hit_id, worker_id) in pairs:
                entry.fail(f"worker '{worker_id}' already has an assignment on HIT '{hit_id}'")
            pairs.add((hit_id, worker_id))
            status = AssignmentStatus(
                entry.choice("AssignmentStatus", tuple(AssignmentStatus), "Submitted")
            )
            submitted = entry.time("SubmitTime", self.now)
            approved = status is AssignmentStatus.APPROVED
            rejected = status is AssignmentStatus.REJECTED
            if approved or rejected:
                self._worker(worker_id).notifiable = True
            else:
                self._worker(worker_id)
            assignment = Assignment(
                assignment_id=assignment_id,
                worker_id=worker_id,
                hit=hit,
                seq=state.next_seq(),
                status=status,
                accept_time=entry.time("AcceptTime", submitted - 60.0),
                submit_time=submitted,
                approval_time=entry.time("ApprovalTime", submitted) if approved else None,
                rejection_time=entry.time("RejectionTime", submitted) if rejected else None,
                feedback=entry.text("RequesterFeedback"),
                refunded=rejected,
            )
            if "Answer" in entry.raw:
                assignment.answer = entry.text("Answer")
            state.add_assignment(assignment)

    def _known_type(self, entry: Entry) -> QualType:
        type_id = entry.need("QualificationTypeId", ENTITY_ID)
        qual_type = self.state.qual_types.get(type_id)
        if qual_type is None:
            entry.fail(f"QualificationTypeId '{type_id}' is not a qualification type in this world")
        return qual_type

    def _requests(self) -> None:
        fields = (
            "QualificationRequestId", "QualificationTypeId", "WorkerId", "SubmitTime", "Test",
            "Answer",
        )  # fmt: skip
        state = self.state
        for entry in self._entries("qualification_requests", fields):
            request_id = entry.text("QualificationRequestId")
            request_id = request_id or state.new_id("qualrequest", state.requests)
            if request_id in state.requests:
                entry.fail(f"QualificationRequestId '{request_id}' appears twice")
            qual_type = self._known_type(entry)
            if not qual_type.owned:
                entry.fail(f"QualificationTypeId '{qual_type.type_id}' is a system type")
            worker_id = entry.need("WorkerId", WORKER_ID)
            self._worker(worker_id)
            state.add_request(
                QualRequest(
                    request_id=request_id,
                    type_id=qual_type.type_id,
                    worker_id=worker_id,
                    seq=state.next_seq(),
                    submit_time=entry.time("SubmitTime", self.now),
                    test=entry.text("Test"),
                    answer=entry.text("Answer"),
                )
            )

    def _qualifications(self) -> None:
        fields = ("QualificationTypeId", "WorkerId", "IntegerValue", "Status", "GrantTime")
        state = self.state
        for entry in self._entries("qualifications", fields):
            qual_type = self._known_type(entry)
            worker_id = entry.need("WorkerId", WORKER_ID)
            key = (qual_type.type_id, worker_id)
            if key in state.qualifications:
                entry.fail(f"worker '{worker_id}' already has '{qual_type.type_id}'")
            self._worker(worker_id)
            status = entry.choice("Status", tuple(QualificationStatus), "Granted")
            held = Qualification(
                type_id=qual_type.type_id,
                worker_id=worker_id,
                seq=state.next_seq(),
                value=entry.integer("IntegerValue", 1, minimum=-(2**31)),
                status=QualificationStatus(status),
                grant_time=entry.time("GrantTime", self.now),
            )
            state.qualifications[key] = held
            qual_type.grants.append(held)

    def _blocks(self) -> None:
        state = self.state
        for entry in self._entries("blocks", ("WorkerId", "Reason")):
            worker_id = entry.need("WorkerId", WORKER_ID)
            if worker_id in state.blocks:
                entry.fail(f"WorkerId '{worker_id}' is blocked twice")
            self._worker(worker_id)
            block = Block(
                worker_id=worker_id,
                reason=entry.text("Reason") or "Blocked in the world file.",
                seq=state.next_seq(),
            )
            state.blocks[worker_id] = block
            state.block_list.append(block)


def load_world(state: State, data: object, source: str) -> None:
    """
    Fill an empty state from a parsed world file.

    Raises:
        ValueError: the document is invalid; the message names the file and the entry.
    """
    Loader(state, data, source).load()
