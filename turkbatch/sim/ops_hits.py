"""
Making and finding HITs: CreateHIT, CreateHITType, CreateHITWithHITType,
CreateAdditionalAssignmentsForHIT, GetHIT, ListHITs, ListReviewableHITs,
ListHITsForQualificationType.

Creating or extending a HIT charges its cost up front: per assignment, the reward plus
MTurk's commission (20 %, or 40 % for HITs with 10 or more assignments in total, +5 %
for HITs that require Masters; at least $0.01), or fails with InsufficientFunds. The
per-assignment cost is fixed when the HIT is created; added assignments cost the same
(a HIT cannot cross the 10-assignment line). What comes back and when is told in
:mod:`turkbatch.sim.world_lifecycle`. The three token-carrying calls remember a
successful UniqueRequestToken for 24 hours: a CreateHIT* duplicate fails with ``The HIT
with ID "<id>" already exists.`` (HitAlreadyExists), a CreateAdditionalAssignmentsForHIT
duplicate with ``The idempotency token "<token>" has already been processed.``.
Equal HIT-type properties always give the same HITTypeId; input rules are checked as in
:mod:`turkbatch.sim.world_inputs`.

ListReviewableHITs lists entries that hold only ``HITId``, as MTurk does (aws-sdk-js#2522:
"By default, ListReviewableHITs operation only returns the IDs of HITs"); read a HIT's
status and counts with GetHIT.
"""

from __future__ import annotations

from turkbatch.sim import world_errors as err
from turkbatch.sim.world_inputs import check_layout, check_requirements, question_kind
from turkbatch.sim.world_lifecycle import release_unused, reopen, schedule_hit
from turkbatch.sim.world_money import LARGE_HIT, unit_cost
from turkbatch.sim.world_pages import paginate
from turkbatch.sim.world_records import Hit, HITStatus, HitType, Json
from turkbatch.sim.world_state import DEFAULT_AUTO_APPROVAL_DELAY, Operation, Params, State
from turkbatch.sim.world_system import requires_masters


def _hit_type_from(state: State, params: Params) -> HitType:
    quals = params.get("QualificationRequirements") or []
    for requirement in quals:
        state.qual_type(requirement["QualificationTypeId"])
    check_requirements(quals)
    return state.hit_type_for(
        title=params["Title"],
        description=params["Description"],
        reward=params["Reward"],
        assignment_duration=params["AssignmentDurationInSeconds"],
        auto_approval_delay=params.get("AutoApprovalDelayInSeconds", DEFAULT_AUTO_APPROVAL_DELAY),
        keywords=params.get("Keywords"),
        qual_requirements=quals,
    )


def _check_create(state: State, operation: str, params: Params) -> None:
    """Refuse a CreateHIT* whose token is in use, or that has neither Question nor layout."""
    token = params.get("UniqueRequestToken")
    if token is not None:
        hit_id = state.tokens.seen(operation, token)
        if hit_id is not None:
            raise err.hit_already_exists(hit_id)
    question = params.get("Question")
    layout_id = params.get("HITLayoutId")
    if question is None and layout_id is None:
        raise err.invalid_parameter(
            "Either a Question parameter or a HITLayoutId parameter must be provided."
        )
    if question is not None:
        question_kind(question)
    if layout_id is not None:
        check_layout(layout_id, state.layouts)


def _new_hit(state: State, operation: str, params: Params, hit_type: HitType) -> Json:
    """Charge for, create and log a HIT of ``hit_type``; return CreateHIT's output."""
    count = params.get("MaxAssignments", 1)
    if count < 1:
        raise err.invalid_parameter("MaxAssignments must be at least 1.")
    unit = unit_cost(hit_type.reward, count, masters=requires_masters(hit_type))
    cost = unit * count
    state.charge(cost)
    now = state.now()
    hit = state.add_hit(
        Hit(
            hit_id=state.new_id("hit", state.hits),
            seq=state.next_seq(),
            hit_type=hit_type,
            creation_time=now,
            expiration=now + params["LifetimeInSeconds"],
            max_assignments=count,
            question=params.get("Question"),
            layout_id=params.get("HITLayoutId"),
            annotation=params.get("RequesterAnnotation"),
            assignment_review_policy=params.get("AssignmentReviewPolicy"),
            hit_review_policy=params.get("HITReviewPolicy"),
            unit_cost=unit,
        )
    )
    schedule_hit(state, hit)
    token = params.get("UniqueRequestToken")
    state.log["hits_created"].append(
        {
            "HITId": hit.hit_id,
            "HITTypeId": hit_type.hit_type_id,
            "MaxAssignments": count,
            "Reward": hit_type.reward,
            "Cost": f"{cost:.2f}",
            "UniqueRequestToken": token,
            "CreationTime": now,
        }
    )
    if token is not None:
        state.tokens.remember(operation, token, hit.hit_id)
    return {"HIT": hit.to_json(now)}


def create_hit(state: State, params: Params) -> Json:
    """Create a HIT from its full properties (registering their HIT type)."""
    _check_create(state, "CreateHIT", params)
    return _new_hit(state, "CreateHIT", params, _hit_type_from(state, params))


def create_hit_type(state: State, params: Params) -> Json:
    """Register a HIT type; equal properties return the existing HITTypeId."""
    return {"HITTypeId": _hit_type_from(state, params).hit_type_id}


def create_hit_with_hit_type(state: State, params: Params) -> Json:
    """Create a HIT of an existing HIT type."""
    _check_create(state, "CreateHITWithHITType", params)
    hit_type = state.hit_type(params["HITTypeId"])
    return _new_hit(state, "CreateHITWithHITType", params, hit_type)


def create_additional_assignments(state: State, params: Params) -> Json:
    """Raise a HIT's MaxAssignments, paying for the new assignments up front."""
    operation = "CreateAdditionalAssignmentsForHIT"
    hit = state.hit(params["HITId"])
    token = params.get("UniqueRequestToken")
    if token is not None and state.tokens.seen(operation, token) is not None:
        raise err.token_processed(token)
    extra = params["NumberOfAdditionalAssignments"]
    if extra < 1:
        raise err.invalid_parameter("NumberOfAdditionalAssignments must be at least 1.")
    if hit.disposed:
        raise err.hit_in_state("Disposed", "Assignable, Unassignable, Reviewable, Reviewing")
    if hit.max_assignments < LARGE_HIT <= hit.max_assignments + extra:
        raise err.max_assignments_increase()
    cost = hit.unit_cost * extra
    state.charge(cost)
    hit.max_assignments += extra
    release_unused(state, hit, state.now())  # added to a closed HIT: nobody can take them
    reopen(state, hit)
    state.log["hit_extensions"].append(
        {
            "HITId": hit.hit_id,
            "NumberOfAdditionalAssignments": extra,
            "Cost": f"{cost:.2f}",
            "UniqueRequestToken": token,
            "Time": state.now(),
        }
    )
    if token is not None:
        state.tokens.remember(operation, token, hit.hit_id)
    return {}


def get_hit(state: State, params: Params) -> Json:
    """Return a HIT (a deleted one shows HITStatus Disposed)."""
    hit = state.settle_hit(state.hit(params["HITId"]))
    return {"HIT": hit.to_json(state.now())}


def list_hits(state: State, params: Params) -> Json:
    """List every HIT that is not deleted, oldest first."""
    now = state.now()
    return paginate(
        state,
        params,
        scope="ListHITs",
        items=state.hit_list,
        result_key="HITs",
        render=lambda hit: state.settle_hit(hit).to_json(now),
        keep=lambda hit: not hit.disposed,
    )


def list_reviewable_hits(state: State, params: Params) -> Json:
    """List the ids of HITs Reviewable (default) or Reviewing, optionally of one HIT type."""
    now = state.now()
    status = HITStatus(params.get("Status", "Reviewable"))
    type_id = params.get("HITTypeId")
    if type_id is not None:
        state.hit_type(type_id)

    def keep(hit: Hit) -> bool:
        of_type = type_id is None or hit.hit_type.hit_type_id == type_id
        return of_type and hit.status(now) is status

    return paginate(
        state,
        params,
        scope=f"ListReviewableHITs:{status}:{type_id}",
        items=state.hit_list,
        result_key="HITs",
        render=lambda hit: {"HITId": hit.hit_id},
        keep=keep,
    )


def list_hits_for_qualification_type(state: State, params: Params) -> Json:
    """List the HITs (not deleted) with a requirement on a qualification type."""
    now = state.now()
    type_id = state.qual_type(params["QualificationTypeId"]).type_id

    def keep(hit: Hit) -> bool:
        quals = hit.hit_type.qual_requirements
        return not hit.disposed and any(q["QualificationTypeId"] == type_id for q in quals)

    return paginate(
        state,
        params,
        scope=f"ListHITsForQualificationType:{type_id}",
        items=state.hit_list,
        result_key="HITs",
        render=lambda hit: state.settle_hit(hit).to_json(now),
        keep=keep,
    )


OPERATIONS: dict[str, Operation] = {
    "CreateHIT": create_hit,
    "CreateHITType": create_hit_type,
    "CreateHITWithHITType": create_hit_with_hit_type,
    "CreateAdditionalAssignmentsForHIT": create_additional_assignments,
    "GetHIT": get_hit,
    "ListHITs": list_hits,
    "ListReviewableHITs": list_reviewable_hits,
    "ListHITsForQualificationType": list_hits_for_qualification_type,
}
