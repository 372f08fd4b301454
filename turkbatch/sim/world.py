"""
The simulated MTurk world: state and semantics of all 39 Requester API operations.

The HTTP server (:mod:`turkbatch.sim.server`) validates each request against the botocore
model and then calls :meth:`World.call`; the world answers with the output JSON MTurk
would send, or raises :class:`~turkbatch.sim.apierror.ApiError`. Every error text and
code is listed in :mod:`turkbatch.sim.world_errors`; each ``ops_*`` module documents the
rules of its operations.

Permissive and strict worlds
----------------------------
``World(clock=...)`` is *permissive*: any id it does not know springs into being, so a
demo job of bonuses, approvals, grants and messages just runs:

- a WorkerId → a worker with no history, eligible for NotifyWorkers;
- an AssignmentId → a Submitted assignment (submitted now) of the worker the call names
  (SendBonus), else of a worker whose id is derived from the assignment id; it joins that
  worker's *placeholder HIT* (expired, so Reviewable; MaxAssignments grows to fit);
  a SendBonus naming another worker than the assignment's is paid as named;
- a HITId → an empty, expired placeholder HIT; a HITTypeId → a placeholder HIT type
  (reward 0.00);
- a QualificationTypeId → an Active, requestable type named ``Qualification <id>``
  (a *deleted* type never springs back: it stays QualificationTypeDoesNotExist);
- a QualificationRequestId → a pending request, for a placeholder qualification type,
  by a worker whose id is derived from the request id.

Nothing springs from the (type, worker) pair of a qualification: revoking or scoring a
qualification nobody granted fails as on MTurk. ``World.from_file`` loads a *strict*
world, where unknown ids get MTurk's errors (ParameterValidationError for workers,
``... does not exist.`` for the rest; NotifyWorkers reports an unknown worker as a
HardFailure). Both kinds hold MTurk's system qualification types (Masters,
Worker_Locale, ...). The balance starts at 10000.00 (the sandbox's figure) unless given.

World file (strict)
-------------------
A JSON object; every section is optional, every field but the ones marked *required*
has a default, unknown fields are errors, and fields starting with ``_`` are comments.
Times are epoch seconds or ISO 8601 strings (naive means UTC); "now" is load time::

    {
      "balance": "250.00",                                   // default "10000.00"
      "hit_layouts": ["3..."],            // the HITLayoutIds CreateHIT may name
      "workers": [{"WorkerId": "A1...",                      // required
                   "notifiable": true,    // false → NotifyWorkers HardFailure until
                                          //   work of theirs is approved or rejected
                   "soft_fail": 0}],      // SoftFailure for the first N messages
      "qualification_types": [{"QualificationTypeId": "3...",  // default: generated
                   "Name": "...", "Description": "...", "Keywords": "...",
                   "QualificationTypeStatus": "Active", "IsRequestable": true,
                   "AutoGranted": false, "AutoGrantedValue": 1, "Test": "...",
                   "TestDurationInSeconds": 600, "AnswerKey": "...",
                   "RetryDelayInSeconds": 86400, "CreationTime": ...}],
      "hits": [{"HITId": "3...", "HITTypeId": "3...",         // defaults: generated/derived
                "Title": "...", "Description": "...", "Keywords": "...",
                "Reward": "0.10", "Question": "<HTMLQuestion ...>",
                "MaxAssignments": 9,      // default: its assignments + pending, at least 1
                "CreationTime": ..., "LifetimeInSeconds": 604800, "Expiration": ...,
                "AssignmentDurationInSeconds": 3600, "AutoApprovalDelayInSeconds": 2592000,
                "RequesterAnnotation": "...", "QualificationRequirements": [...],
                "NumberOfAssignmentsPending": 0, "HITReviewStatus": "NotReviewed",
                "HITStatus": "Reviewable"}],  // optional check; Reviewable, Reviewing and
                                              // Disposed also default Expiration to
                                              // CreationTime
      "assignments": [{"AssignmentId": "3...", "WorkerId": "A1...",  // WorkerId required
                       "HITId": "3...",                              // required, a HIT above
                       "AssignmentStatus": "Submitted", "SubmitTime": ...,
                       "AcceptTime": ..., "ApprovalTime": ..., "RejectionTime": ...,
                       "Answer": "<QuestionFormAnswers ...>", "RequesterFeedback": "..."}],
      "qualification_requests": [{"QualificationRequestId": "3...",
                       "QualificationTypeId": "3...", "WorkerId": "A1...",  // required
                       "SubmitTime": ..., "Test": "...", "Answer": "..."}],
      "qualifications": [{"QualificationTypeId": "3...", "WorkerId": "A1...",  // required
                       "IntegerValue": 1, "Status": "Granted", "GrantTime": ...}],
      "blocks": [{"WorkerId": "A1...", "Reason": "..."}]
    }

Every WorkerId mentioned anywhere is a known worker. NotifyWorkers reaches a worker only
once work of theirs has been approved or rejected (in the file or later), as on MTurk;
listing a worker under ``workers`` says they did such work for you before the file
begins (notifiable unless ``"notifiable": false``). A Submitted assignment whose
SubmitTime + AutoApprovalDelayInSeconds has passed is auto-approved when first looked at,
as MTurk would have done. See ``jobs/world.example.json``.

The ledger
----------
:meth:`World.ledger` is what exactly-once tests count: ``bonuses`` (every bonus paid,
once, in order), ``notifications`` (one per delivered worker), ``qualification_changes``,
``assignment_changes``, ``blocks``, ``hits_created``, ``hit_extensions``, ``refunds``
(money back for work nobody took and for rejections), ``work`` (what the simulated
workforce did) and ``balance``. :meth:`World.view` is what the world holds now.

Time
----
MTurk acts as time passes (expiry refunds, 120-day disposal, the workforce): those events
wait on a timeline and run, in time order, before the next call or ledger read
(:mod:`turkbatch.sim.world_lifecycle`, :mod:`turkbatch.sim.workforce`).
"""

from __future__ import annotations

import json
import os
from decimal import InvalidOperation
from typing import Any

from turkbatch.sim.clock import Clock
from turkbatch.sim.ops_assignments import OPERATIONS as _ASSIGNMENTS
from turkbatch.sim.ops_hit_lifecycle import OPERATIONS as _HIT_LIFECYCLE
from turkbatch.sim.ops_hits import OPERATIONS as _HITS
from turkbatch.sim.ops_money import OPERATIONS as _MONEY
from turkbatch.sim.ops_notifications import OPERATIONS as _NOTIFICATIONS
from turkbatch.sim.ops_quals import OPERATIONS as _QUALS
from turkbatch.sim.ops_qualtypes import OPERATIONS as _QUALTYPES
from turkbatch.sim.ops_workers import OPERATIONS as _WORKERS
from turkbatch.sim.workforce import Workforce
from turkbatch.sim.workforce_settings import WorkforceSettings
from turkbatch.sim.world_file import load_world
from turkbatch.sim.world_lifecycle import catch_up
from turkbatch.sim.world_money import money
from turkbatch.sim.world_records import Json
from turkbatch.sim.world_state import Operation, State
from turkbatch.sim.world_view import view

OPERATIONS: dict[str, Operation] = {
    **_ASSIGNMENTS,
    **_HIT_LIFECYCLE,
    **_HITS,
    **_MONEY,
    **_NOTIFICATIONS,
    **_QUALTYPES,
    **_QUALS,
    **_WORKERS,
}
"""Every operation the world implements, by its 2017-01-17 name."""

DEFAULT_BALANCE = "10000.00"


class World:
    """
    A simulated MTurk requester account: workers, HITs, assignments, qualifications,
    blocks, bonuses and balance.

    Args:
        clock: the simulator's clock; every timestamp and the 24-hour token memory use it.
        strict: unknown ids are MTurk errors (True) or spring into being (False).
        balance: the starting available balance, e.g. ``"250.00"``.
        trailing_next_token: emit a NextToken on the final non-empty page too.
        workforce: simulated workers who do the HITs (:mod:`turkbatch.sim.workforce`);
            ``None`` or ``workers=0``: nobody works.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        strict: bool = False,
        balance: str = DEFAULT_BALANCE,
        trailing_next_token: bool = False,
        workforce: WorkforceSettings | None = None,
    ) -> None:
        self.clock = clock
        try:
            amount = money(balance)
        except InvalidOperation:
            raise ValueError(f"balance {balance!r} is not an amount like 250.00") from None
        self._state = State(clock=clock, strict=strict, balance=amount)
        self._state.trailing_next_token = trailing_next_token
        self._initial = b""
        self._enlist(workforce)

    def _enlist(self, settings: WorkforceSettings | None) -> None:
        """Attach a workforce (if it has workers), then take the snapshot reset restores."""
        if settings is not None and settings.workers > 0:
            Workforce(settings).attach(self._state)
        self.snapshot()

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Clock,
        workforce: WorkforceSettings | None = None,
    ) -> World:
        """
        Load a strict world from a JSON world file (its ``workforce`` section unless
        ``workforce`` is given).

        Raises:
            OSError: the file cannot be read.
            ValueError: the file is not JSON or not a valid world (the message names the
                file and the offending entry).
        """
        source = os.fspath(path)
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not JSON: {exc}") from None
        return cls.from_dict(data, clock=clock, source=source, workforce=workforce)

    @classmethod
    def from_dict(
        cls,
        data: Any,
        *,
        clock: Clock,
        source: str = "<world>",
        strict: bool = True,
        workforce: WorkforceSettings | None = None,
    ) -> World:
        """
        Build a world from a parsed world document (strict unless told otherwise); its
        ``workforce`` section gives the workforce unless ``workforce`` is given.

        Raises:
            ValueError: the document is not a valid world.
        """
        world = cls(clock=clock, strict=strict)
        load_world(world._state, data, source)
        if workforce is None and isinstance(data, dict) and "workforce" in data:
            try:
                workforce = WorkforceSettings.from_json(data["workforce"])
            except ValueError as exc:
                raise ValueError(f"{source}: {exc}") from None
        world._enlist(workforce)
        return world

    @property
    def workforce(self) -> WorkforceSettings | None:
        """The settings of the workforce doing this world's HITs, if any."""
        force = self._state.workforce
        return force.settings if isinstance(force, Workforce) else None

    @property
    def strict(self) -> bool:
        """Whether unknown ids are errors rather than springing into being."""
        return self._state.strict

    @property
    def trailing_next_token(self) -> bool:
        """Whether the final non-empty page of a listing carries a NextToken too."""
        return self._state.trailing_next_token

    @trailing_next_token.setter
    def trailing_next_token(self, value: bool) -> None:
        self._state.trailing_next_token = bool(value)

    @property
    def balance(self) -> str:
        """The available balance, with two decimals."""
        return f"{self._state.balance:.2f}"

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """
        Perform one MTurk operation on validated parameters.

        Returns:
            The output JSON object, exactly as MTurk sends it (``{}`` for empty outputs).

        Raises:
            ApiError: MTurk's error for this request.
            KeyError: ``operation`` is not an MTurk operation.
        """
        state = self._state
        catch_up(state)
        return OPERATIONS[operation](state, params)

    def ledger(self) -> dict[str, Any]:
        """Return everything that changed hands or state, JSON-ready, in order."""
        state = self._state
        catch_up(state)
        out: Json = {"bonuses": [bonus.to_ledger() for bonus in state.bonuses]}
        for name, entries in state.log.items():
            out[name] = [dict(entry) for entry in entries]
        out["balance"] = f"{state.balance:.2f}"
        return out

    def view(self) -> dict[str, Any]:
        """Return what the world holds now, for people (:mod:`turkbatch.sim.world_view`)."""
        state = self._state
        catch_up(state)
        return view(state)

    def snapshot(self) -> None:
        """Remember the current state as the one :meth:`reset` restores."""
        self._initial = self._state.freeze()

    def reset(self) -> None:
        """
        Restore the state of the last :meth:`snapshot` (ledger and tokens included).

        NextTokens issued before the reset are refused afterwards; the trailing-token
        setting is kept; the clock is not turned back.
        """
        current = self._state
        self._state = State.thaw(self._initial, self.clock)
        self._state.trailing_next_token = current.trailing_next_token
        self._state.generation = current.generation + 1
