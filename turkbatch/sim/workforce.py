"""
The simulated workforce: seeded workers who find, accept, return, abandon and submit the
HITs created through the API, and request qualifications, as simulated time passes.

It lives on the world's :class:`~turkbatch.sim.world_timeline.Timeline`, so nothing runs
between calls: advancing the clock (the admin API, or a sped-up clock) and then making
any call plays out everything that was due, in time order. Its rules:

- A HIT that is Assignable gets its next acceptance after an exponential wait of mean
  ``find_seconds``, by a worker who has not taken it before, is not blocked and meets its
  QualificationRequirements (system types from the worker's profile: Worker_Locale,
  Masters, percent and number of HITs approved, adult; your own types from the grants in
  the world). It then stops being offered as soon as it has no slot left or expires;
  an extension or new assignments offer it again. If no worker qualifies, nobody takes it.
- An accepted assignment is pending. With ``return_share`` the worker returns it after a
  while, with ``abandon_share`` it is abandoned and frees at its deadline; otherwise the
  worker submits after an exponential time of mean ``work_seconds`` (within the
  AssignmentDurationInSeconds) an answer shaped by the question
  (:mod:`turkbatch.sim.workforce_answers`). Unreviewed work is approved automatically
  ``AutoApprovalDelayInSeconds`` after submission, as MTurk does.
- Each requestable, Active type you own receives qualification requests, one every
  ``request_seconds`` on average, from workers who neither hold it nor asked already
  (with answers to its Test, if it has one); an AutoGranted type grants at once instead.

Every draw comes from a hash of the seed and what is being decided (the HIT id and the
slot, the type id and the request number), never from a shared generator, so the same
seed and the same calls give the same story whatever order events of different HITs
interleave in. The ledger's ``work`` lists every acceptance, return, abandonment and
submission. With no events due, a request pays one comparison for all of this.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from turkbatch.sim.ops_quals import grant
from turkbatch.sim.workforce_answers import Pick, answer_xml
from turkbatch.sim.workforce_settings import WorkforceSettings
from turkbatch.sim.world_ids import mturk_id
from turkbatch.sim.world_lifecycle import AUTO_APPROVE, release_unused
from turkbatch.sim.world_records import (
    Assignment,
    AssignmentStatus,
    Hit,
    HITStatus,
    Json,
    QualificationStatus,
    QualRequest,
    QualType,
    RequestState,
    Worker,
)
from turkbatch.sim.world_state import State
from turkbatch.sim.world_system import MASTERS, WORKER_LOCALE

ARRIVE = "work.arrive"
FINISH = "work.finish"
REQUEST = "work.request"

COUNTRIES = ("US", "US", "US", "US", "US", "US", "IN", "IN", "GB", "CA")
"""Where workers live, as often as the list says (a US-heavy pool, like MTurk's)."""
PERCENT_APPROVED = "000000000000000000L0"
HITS_APPROVED = "00000000000000000040"
ADULT = "00000000000000000060"


class Outcome(StrEnum):
    """How an accepted assignment ends (as logged in the ledger's ``work``)."""

    SUBMITTED = "Submitted"
    RETURNED = "Returned"
    ABANDONED = "Abandoned"


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A simulated worker's system qualifications."""

    worker_id: str
    country: str
    masters: bool
    percent_approved: int
    hits_approved: int
    adult: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One accepted assignment, until it is submitted, returned or abandoned."""

    hit: Hit
    worker_id: str
    accept_time: float
    outcome: Outcome


@dataclass(slots=True)
class Workforce:
    """
    The workers of one world and what they are doing.

    Args:
        settings: how many workers, how fast, how reliable.
    """

    settings: WorkforceSettings
    profiles: list[Profile] = field(default_factory=list)
    taken: dict[str, set[str]] = field(default_factory=dict)
    offered: set[str] = field(default_factory=set)
    slots: dict[str, int] = field(default_factory=dict)
    requested: dict[str, int] = field(default_factory=dict)

    # -- set-up ---------------------------------------------------------------------------

    def attach(self, state: State) -> None:
        """Enlist the workers in ``state`` and start on the HITs and types already there."""
        s = self.settings
        for n in range(s.workers):
            worker_id = mturk_id(f"workforce:{s.seed}:{n}", first="A", length=14)
            key = f"worker:{worker_id}"
            self.profiles.append(
                Profile(
                    worker_id=worker_id,
                    country=self.pick(COUNTRIES, key, "country"),
                    masters=self.chance(key, "masters") < s.masters_share,
                    percent_approved=90 + int(self.chance(key, "percent") * 11),
                    hits_approved=int(50 + self.chance(key, "count") * 9950),
                    adult=self.chance(key, "adult") < 0.8,
                )
            )
            if worker_id not in state.workers:
                notifiable = self.chance(key, "notifiable") < s.notifiable_share
                state.workers[worker_id] = Worker(worker_id=worker_id, notifiable=notifiable)
        state.workforce = self
        now = state.now()
        for hit in state.hit_list:
            self.hit_opened(state, hit, now)
        for qual_type in state.qual_type_list:
            self.type_opened(state, qual_type, now)

    # -- seeded draws ---------------------------------------------------------------------

    def chance(self, *key: object) -> float:
        """Return a uniform draw in [0, 1) fixed by the seed and ``key``."""
        text = ":".join(map(str, (self.settings.seed, *key))).encode()
        digest = hashlib.blake2b(text, digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def wait(self, mean: float, *key: object) -> float:
        """Return an exponential wait of ``mean`` seconds fixed by ``key``."""
        return -mean * math.log(1.0 - self.chance(*key))

    def pick(self, items: Sequence[str], *key: object) -> str:
        """Return one of ``items`` fixed by ``key``."""
        return items[int(self.chance(*key) * len(items))]

    def picker(self, *key: object) -> Pick:
        """Return a ``pick`` whose successive choices are fixed by ``key``."""
        counter = itertools.count()
        return lambda items: self.pick(items, *key, next(counter))

    # -- the timeline's hooks -------------------------------------------------------------

    def hit_opened(self, state: State, hit: Hit, at: float) -> None:
        """Offer a HIT with open slots to the workers (once; again after it ran out)."""
        if not self.profiles or hit.placeholder or hit.hit_id in self.offered:
            return
        self.offered.add(hit.hit_id)
        slot = self.slots.get(hit.hit_id, 0)
        state.timeline.push(
            at + self.wait(self.settings.find_seconds, hit.hit_id, slot), ARRIVE, hit
        )

    def type_opened(self, state: State, qual_type: QualType, at: float) -> None:
        """Let workers start requesting a requestable type the requester owns."""
        mean = self.settings.request_seconds
        if not self.profiles or not mean or not qual_type.owned:
            return
        n = self.requested.setdefault(qual_type.type_id, 0)
        state.timeline.push(at + self.wait(mean, qual_type.type_id, n), REQUEST, qual_type)

    def handle(self, state: State, kind: str, subject: Any, at: float) -> None:
        """Play one due event of the workforce."""
        if kind == ARRIVE:
            self._arrive(state, subject, at)
        elif kind == FINISH:
            self._finish(state, subject, at)
        elif kind == REQUEST:
            self._request(state, subject, at)

    # -- work -----------------------------------------------------------------------------

    def _arrive(self, state: State, hit: Hit, at: float) -> None:
        self.offered.discard(hit.hit_id)
        if hit.status(at) is not HITStatus.ASSIGNABLE:
            return
        slot = self.slots[hit.hit_id] = self.slots.get(hit.hit_id, 0) + 1
        key = (hit.hit_id, slot)
        taken = self.taken.setdefault(hit.hit_id, set())
        worker_id = self._choose(state, hit, taken, key)
        if worker_id is None:
            return
        taken.add(worker_id)
        hit.pending += 1
        s = self.settings
        draw = self.chance(*key, "outcome")
        duration = hit.hit_type.assignment_duration
        if draw < s.return_share:
            outcome = Outcome.RETURNED
            after = self.chance(*key, "when") * min(s.work_seconds, duration)
        elif draw < s.return_share + s.abandon_share:
            outcome, after = Outcome.ABANDONED, float(duration)
        else:
            outcome = Outcome.SUBMITTED
            after = min(self.wait(s.work_seconds, *key), duration * 0.95)
        self._log(state, "Accepted", hit, worker_id, at)
        job = Job(hit=hit, worker_id=worker_id, accept_time=at, outcome=outcome)
        state.timeline.push(at + after, FINISH, job)
        if hit.available() > 0:
            self.hit_opened(state, hit, at)

    def _choose(self, state: State, hit: Hit, taken: set[str], key: tuple[str, int]) -> str | None:
        """Return the first worker, from a seeded start, who may take this HIT."""
        profiles = self.profiles
        start = int(self.chance(*key, "worker") * len(profiles))
        quals = hit.hit_type.qual_requirements
        for i in range(len(profiles)):
            profile = profiles[(start + i) % len(profiles)]
            worker_id = profile.worker_id
            if worker_id in taken or worker_id in state.blocks:
                continue
            if all(meets(state, profile, q) for q in quals):
                return worker_id
        return None

    def _finish(self, state: State, job: Job, at: float) -> None:
        hit = job.hit
        hit.pending -= 1
        if job.outcome is not Outcome.SUBMITTED:
            self._log(state, str(job.outcome), hit, job.worker_id, at)
            release_unused(state, hit, at)
            if not hit.disposed:
                self.hit_opened(state, hit, at)
            return
        slot = len(hit.assignments)
        assignment = Assignment(
            assignment_id=state.new_id("assignment", state.assignments),
            worker_id=job.worker_id,
            hit=hit,
            seq=state.next_seq(),
            status=AssignmentStatus.SUBMITTED,
            accept_time=job.accept_time,
            submit_time=at,
            answer=answer_xml(hit.question, self.picker(hit.hit_id, slot, "answer")),
        )
        state.add_assignment(assignment)
        self._log(state, "Submitted", hit, job.worker_id, at, assignment.assignment_id)
        state.timeline.push(assignment.auto_approval_time, AUTO_APPROVE, assignment)

    def _log(
        self, state: State, event: str, hit: Hit, worker_id: str, at: float, aid: str | None = None
    ) -> None:
        state.log["work"].append(
            {"Event": event, "HITId": hit.hit_id, "WorkerId": worker_id, "AssignmentId": aid,
             "Time": at}
        )  # fmt: skip

    # -- qualification requests -----------------------------------------------------------

    def _request(self, state: State, qual_type: QualType, at: float) -> None:
        n = self.requested[qual_type.type_id] = self.requested.get(qual_type.type_id, 0) + 1
        if qual_type.disposed or n > len(self.profiles):
            return
        asked = {r.worker_id for r in qual_type.requests}
        start = int(self.chance(qual_type.type_id, n, "worker") * len(self.profiles))
        for i in range(len(self.profiles)):
            worker_id = self.profiles[(start + i) % len(self.profiles)].worker_id
            if (
                worker_id not in asked
                and (qual_type.type_id, worker_id) not in state.qualifications
            ):
                self._ask(state, qual_type, worker_id, n, at)
                break
        else:
            return
        self.type_opened(state, qual_type, at)

    def _ask(self, state: State, qual_type: QualType, worker_id: str, n: int, at: float) -> None:
        if not (qual_type.is_requestable and qual_type.status == "Active"):
            return
        if qual_type.auto_granted:
            value = qual_type.auto_granted_value or 1
            grant(state, qual_type, worker_id, value)
            state.log["qualification_changes"].append(
                {"Action": "AutoGrant", "QualificationTypeId": qual_type.type_id,
                 "WorkerId": worker_id, "IntegerValue": value, "QualificationRequestId": None,
                 "Reason": None, "SendNotification": None, "Time": at}
            )  # fmt: skip
            return
        answer = None
        if qual_type.test is not None:
            answer = answer_xml(qual_type.test, self.picker(qual_type.type_id, n, "answer"))
        state.add_request(
            QualRequest(
                request_id=state.new_id("qualrequest", state.requests),
                type_id=qual_type.type_id,
                worker_id=worker_id,
                seq=state.next_seq(),
                submit_time=at,
                test=qual_type.test,
                answer=answer,
                state=RequestState.PENDING,
            )
        )


def _value(state: State, profile: Profile, type_id: str) -> int | str | None:
    """Return a worker's value for a qualification type, or None if they lack it."""
    if type_id == WORKER_LOCALE:
        return profile.country
    if type_id in MASTERS:
        return 1 if profile.masters else None
    if type_id == PERCENT_APPROVED:
        return profile.percent_approved
    if type_id == HITS_APPROVED:
        return profile.hits_approved
    if type_id == ADULT:
        return 1 if profile.adult else 0
    held = state.qualifications.get((type_id, profile.worker_id))
    if held is None or held.status is not QualificationStatus.GRANTED:
        return None
    return held.value


def meets(state: State, profile: Profile, requirement: Json) -> bool:
    """Return whether a worker meets one QualificationRequirement."""
    value = _value(state, profile, requirement["QualificationTypeId"])
    comparator = requirement["Comparator"]
    if comparator == "Exists":
        return value is not None
    if comparator == "DoesNotExist":
        return value is None
    if value is None:
        return False
    wanted: list[Any] = [
        loc.get("Country") for loc in requirement.get("LocaleValues") or ()
    ] or list(requirement.get("IntegerValues") or ())
    if comparator == "In":
        return value in wanted
    if comparator == "NotIn":
        return value not in wanted
    if not wanted:
        return False
    target = wanted[0]
    if comparator == "EqualTo":
        return bool(value == target)
    if comparator == "NotEqualTo":
        return bool(value != target)
    if not isinstance(value, int) or not isinstance(target, int):
        return False
    return {
        "LessThan": value < target,
        "LessThanOrEqualTo": value <= target,
        "GreaterThan": value > target,
        "GreaterThanOrEqualTo": value >= target,
    }.get(comparator, False)
