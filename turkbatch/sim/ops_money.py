"""
Money operations: SendBonus, ListBonusPayments, GetAccountBalance.

SendBonus is the simulator's hot path, so it does O(1) work: two dict lookups, a token
check, Decimal arithmetic and three appends. Its rules:

- fee = 20 % of the bonus, rounded half-up to the cent, at least $0.01; bonus + fee is
  debited, or the call fails with InsufficientFunds and nothing is paid;
- a UniqueRequestToken used by a *successful* SendBonus in the last 24 hours (sim clock)
  makes the call fail with "The idempotency token ... has already been processed." and
  pay nothing; after 24 hours the token is forgotten and the same call pays again;
- a strict world also refuses an unknown worker (ParameterValidationError) and an
  assignment of another worker (AssignmentDoesNotExist); a permissive one pays as named;
- bonus amounts are stored and listed with two decimals (``"5"`` is listed as ``"5.00"``);
  one of 27 or more digits is refused with ParameterValidationError (BonusAmount).
"""

from __future__ import annotations

from turkbatch.sim import world_errors as err
from turkbatch.sim.world_money import amount_param, fee_for
from turkbatch.sim.world_pages import paginate
from turkbatch.sim.world_records import Bonus, Json
from turkbatch.sim.world_state import Operation, Params, State

OPERATION = "SendBonus"


def send_bonus(state: State, params: Params) -> Json:
    """Pay a worker a bonus for an assignment (see the module docstring for the rules)."""
    token = params.get("UniqueRequestToken")
    if token is not None and state.tokens.seen(OPERATION, token) is not None:
        raise err.token_processed(token)
    amount = amount_param(params["BonusAmount"], "BonusAmount")
    if amount <= 0:
        raise err.invalid_parameter("BonusAmount must be greater than 0.00.")
    worker_id = params["WorkerId"]
    assignment_id = params["AssignmentId"]
    state.worker(worker_id)
    assignment = state.assignment(assignment_id, worker_id)
    if state.strict and assignment.worker_id != worker_id:
        raise err.assignment_not_found(assignment_id)
    fee = fee_for(amount)
    state.charge(amount + fee)
    state.record_bonus(
        Bonus(
            seq=state.next_seq(),
            worker_id=worker_id,
            assignment_id=assignment_id,
            hit_id=assignment.hit.hit_id,
            amount=f"{amount:.2f}",
            fee=f"{fee:.2f}",
            reason=params["Reason"],
            token=token,
            grant_time=state.now(),
        )
    )
    if token is not None:
        state.tokens.remember(OPERATION, token, assignment_id)
    return {}


def list_bonus_payments(state: State, params: Params) -> Json:
    """List the bonuses paid for one HIT or one assignment (exactly one must be named)."""
    hit_id = params.get("HITId")
    assignment_id = params.get("AssignmentId")
    if (hit_id is None) == (assignment_id is None):
        raise err.invalid_parameter(
            "Either the HITId or the AssignmentId parameter must be specified, but not both."
        )
    if assignment_id is not None:
        state.assignment(assignment_id)
        items = state.bonuses_by_assignment.get(assignment_id, [])
        scope = f"ListBonusPayments:assignment:{assignment_id}"
    else:
        assert hit_id is not None
        state.hit(hit_id)
        items = state.bonuses_by_hit.get(hit_id, [])
        scope = f"ListBonusPayments:hit:{hit_id}"
    return paginate(
        state,
        params,
        scope=scope,
        items=items,
        result_key="BonusPayments",
        render=Bonus.to_json,
    )


def get_account_balance(state: State, params: Params) -> Json:
    """Return the available balance as a two-decimal string (OnHoldBalance is omitted)."""
    return {"AvailableBalance": f"{state.balance:.2f}"}


OPERATIONS: dict[str, Operation] = {
    "SendBonus": send_bonus,
    "ListBonusPayments": list_bonus_payments,
    "GetAccountBalance": get_account_balance,
}
