"""
MTurk's rules where the simulator used to differ (issue 15), each checked through boto3.

Every test here drives a real boto3 client against a simulator on loopback and asserts
what real MTurk answered in the report cited in the test's docstring.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3  # type: ignore[import-untyped]  # boto3 ships no type information
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from turkbatch.sim import Clock, Simulator, World
from turkbatch.sim.background import simulator_in_thread
from turkbatch.sim.wire import JSON_11, TARGET_PREFIX
from turkbatch.sim.world_errors import INFERRED_TURK_ERROR_CODES, TURK_ERROR_CODES

NO_RETRIES = Config(retries={"total_max_attempts": 1})
MASTERS_SANDBOX = "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"
LOCALE = "00000000000000000071"
HTML = (
    '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
    '2011-11-11/HTMLQuestion.xsd"><HTMLContent><![CDATA[<p>{body}</p>]]></HTMLContent>'
    "<FrameHeight>400</FrameHeight></HTMLQuestion>"
)
QUESTION_FORM = (
    '<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
    '2017-11-06/QuestionForm.xsd"><Question><QuestionIdentifier>q1</QuestionIdentifier>'
    "<QuestionContent><Text>Colour?</Text></QuestionContent><AnswerSpecification>"
    "<FreeTextAnswer/></AnswerSpecification></Question></QuestionForm>"
)
HIT = {
    "Title": "Label a photo",
    "Description": "Say what is in the photo.",
    "Reward": "1.00",
    "AssignmentDurationInSeconds": 600,
    "LifetimeInSeconds": 3600,
    "Question": HTML.format(body="Hi"),
}
PAST = datetime(2001, 1, 1, tzinfo=UTC)
WORKER = "A1REVIEWME0001"


class Mturk:
    """A boto3 client on a simulator in a background thread, plus its admin clock."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.client: Any = boto3.session.Session().client(
            "mturk", region_name="us-east-1", endpoint_url=sim.endpoint_url, config=NO_RETRIES
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock through its admin API."""
        admin(self.sim, "clock", {"advance": seconds})

    def balance(self) -> Decimal:
        """Return the available balance."""
        return Decimal(self.client.get_account_balance()["AvailableBalance"])

    def refused(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call an operation that must fail; return boto3's parsed error response."""
        with pytest.raises(ClientError) as caught:
            getattr(self.client, operation)(**params)
        response: dict[str, Any] = caught.value.response
        return response


def admin(sim: Simulator, name: str, body: dict[str, Any]) -> Any:
    """POST to the simulator's admin API."""
    request = urllib.request.Request(
        f"{sim.endpoint_url}/_turkbatch/{name}",
        data=orjson.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return orjson.loads(reply.read())


def raw_call(sim: Simulator, operation: str, params: dict[str, Any]) -> tuple[int, Any]:
    """POST one API call by hand; return the status and the decoded error body."""
    request = urllib.request.Request(
        sim.endpoint_url + "/",
        data=orjson.dumps(params),
        headers={"Content-Type": JSON_11, "X-Amz-Target": TARGET_PREFIX + operation},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, orjson.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


@pytest.fixture
def strict() -> Iterator[Mturk]:
    """An empty strict world, served to boto3."""
    clock = Clock()
    with simulator_in_thread(world=World(clock=clock, strict=True)) as sim:
        yield Mturk(sim)


@pytest.fixture
def permissive() -> Iterator[Mturk]:
    """The default permissive world, served to boto3."""
    with simulator_in_thread() as sim:
        yield Mturk(sim)


def reviewed_world(**extra: Any) -> World:
    """A strict world with one HIT (reward 0.10) holding one Submitted assignment."""
    return World.from_dict(
        {
            "hits": [{"HITId": "3HITONE", "MaxAssignments": 3}],
            "assignments": [{"AssignmentId": "3ASSIGNONE", "WorkerId": WORKER, "HITId": "3HITONE"}],
            **extra,
        },
        clock=Clock(),
    )


def code_of(response: dict[str, Any]) -> tuple[str, str]:
    """Return (error code, message without the timestamp suffix)."""
    error = response["Error"]
    return error["Code"], error["Message"].rsplit(" (", 1)[0]


# --- 1. ListReviewableHITs lists ids only ---------------------------------------------------


def test_list_reviewable_hits_lists_only_hit_ids(strict: Mturk) -> None:
    """ListReviewableHITs entries hold only HITId (aws-sdk-js#2522); GetHIT has the status."""
    hit_id = strict.create_hit(**HIT)["HIT"]["HITId"]
    strict.update_expiration_for_hit(HITId=hit_id, ExpireAt=PAST)
    listed = strict.list_reviewable_hits()
    assert listed["HITs"] == [{"HITId": hit_id}]
    assert strict.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Reviewable"


# --- 2. UpdateExpirationForHIT: an increment of 60 s .. 1 year ------------------------------


def test_update_expiration_to_a_future_time_is_an_increment(strict: Mturk) -> None:
    """A future ExpireAt is an increment over the current expiry that must be 60 to
    31,536,000 s (aws-sdk-ruby#2065, aws-sdk-java#1817); a past one expires the HIT."""
    hit = strict.create_hit(**HIT)["HIT"]
    expiry = hit["Expiration"]
    earlier = strict.refused(
        "update_expiration_for_hit", HITId=hit["HITId"], ExpireAt=expiry - timedelta(seconds=1800)
    )
    assert code_of(earlier) == (
        "ParameterValidationError",
        "The value -1800 is invalid for ExpirationIncrementInSeconds. "
        "Valid values range from 60 to 31536000.",
    )
    short = strict.refused(
        "update_expiration_for_hit", HITId=hit["HITId"], ExpireAt=expiry + timedelta(seconds=30)
    )
    assert code_of(short)[1].startswith("The value 30 is invalid")
    strict.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=expiry + timedelta(hours=2))
    moved = strict.get_hit(HITId=hit["HITId"])["HIT"]
    assert moved["Expiration"] == expiry + timedelta(hours=2)
    strict.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=PAST)
    assert strict.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"


# --- 3. DeleteHIT: Reviewable or Reviewing, all work reviewed -------------------------------


def test_delete_hit_takes_reviewing_hits_and_words_refusals_as_mturk() -> None:
    """DeleteHIT disposes of a Reviewing HIT; unreviewed work and an open HIT are refused
    with "This HIT is currently in the state 'X'.  ... Reviewing, Reviewable" (boto3#2107)."""
    world = reviewed_world()
    with simulator_in_thread(world=world, clock=world.clock) as sim:
        mturk = Mturk(sim)
        mturk.update_expiration_for_hit(HITId="3HITONE", ExpireAt=PAST)
        unreviewed = mturk.refused("delete_hit", HITId="3HITONE")
        assert code_of(unreviewed) == (
            "RequestError",
            "This HIT is currently in the state 'Reviewable'.  "
            "This operation can be called with a status of: Reviewing, Reviewable",
        )
        mturk.approve_assignment(AssignmentId="3ASSIGNONE")
        mturk.update_hit_review_status(HITId="3HITONE")
        assert mturk.get_hit(HITId="3HITONE")["HIT"]["HITStatus"] == "Reviewing"
        mturk.delete_hit(HITId="3HITONE")
        assert mturk.get_hit(HITId="3HITONE")["HIT"]["HITStatus"] == "Disposed"
        live = mturk.create_hit(**HIT)["HIT"]["HITId"]
        assert "state 'Assignable'.  " in code_of(mturk.refused("delete_hit", HITId=live))[1]


# --- 4. Money: Masters fee, fee rate by total, refunds --------------------------------------


def test_masters_hits_pay_five_percent_more(strict: Mturk) -> None:
    """A HIT requiring Masters costs reward + 20 % + 5 % (MTurk pricing)."""
    masters = [{"QualificationTypeId": MASTERS_SANDBOX, "Comparator": "Exists"}]
    strict.create_hit(**HIT, QualificationRequirements=masters)
    assert strict.balance() == Decimal("10000.00") - Decimal("1.25")


def test_additional_assignments_pay_the_rate_of_the_hits_total(strict: Mturk) -> None:
    """Two assignments added to a 10-assignment HIT pay 40 % commission, not 20 %."""
    hit_id = strict.create_hit(**{**HIT, "Reward": "0.50"}, MaxAssignments=10)["HIT"]["HITId"]
    before = strict.balance()
    assert before == Decimal("10000.00") - Decimal("7.00")
    strict.create_additional_assignments_for_hit(HITId=hit_id, NumberOfAdditionalAssignments=2)
    assert before - strict.balance() == Decimal("1.40")


def test_expired_unassigned_work_comes_back_and_extending_takes_it_again(strict: Mturk) -> None:
    """An expired HIT's untaken assignments are refunded; extending it debits them again."""
    hit = strict.create_hit(**HIT, MaxAssignments=3)["HIT"]
    assert strict.balance() == Decimal("9996.40")
    strict.advance(3601)
    assert strict.balance() == Decimal("10000.00")
    strict.update_expiration_for_hit(
        HITId=hit["HITId"], ExpireAt=datetime.now(UTC) + timedelta(days=2)
    )
    assert strict.balance() == Decimal("9996.40")
    refunds = strict.sim.world.ledger()["refunds"]
    assert [(r["Assignments"], r["Amount"], r["Reason"]) for r in refunds] == [
        (3, "3.60", "expired unassigned")
    ]


def test_rejected_work_is_refunded_and_an_override_charges_it_again() -> None:
    """Rejecting gives reward + fee back ("you are not charged"); overriding takes them."""
    world = reviewed_world()
    with simulator_in_thread(world=world, clock=world.clock) as sim:
        mturk = Mturk(sim)
        start = mturk.balance()
        mturk.reject_assignment(AssignmentId="3ASSIGNONE", RequesterFeedback="Blank answers")
        assert mturk.balance() - start == Decimal("0.12")
        mturk.approve_assignment(AssignmentId="3ASSIGNONE", OverrideRejection=True)
        assert mturk.balance() == start


# --- 5. The sandbox Masters id ---------------------------------------------------------------


def test_sandbox_masters_type_has_its_real_id(strict: Mturk) -> None:
    """The sandbox's Masters type is 2ARFPLSP75KLA8M8DH1HTEQVJT3SY6 (pyMTurkR#11)."""
    found = strict.get_qualification_type(QualificationTypeId=MASTERS_SANDBOX)
    assert found["QualificationType"]["Name"] == "Masters"


# --- 6. NotifyWorkers reaches only workers whose work was reviewed ---------------------------


def test_notify_reaches_a_worker_only_after_their_work_is_reviewed() -> None:
    """A worker whose only work is unreviewed gets HardFailure (botocore model doc); once it
    is approved, the message is delivered."""
    world = reviewed_world()
    with simulator_in_thread(world=world, clock=world.clock) as sim:
        mturk = Mturk(sim)
        message = {"Subject": "Hello", "MessageText": "Thanks", "WorkerIds": [WORKER]}
        failures = mturk.notify_workers(**message)["NotifyWorkersFailureStatuses"]
        assert [f["NotifyWorkersFailureCode"] for f in failures] == ["HardFailure"]
        mturk.approve_assignment(AssignmentId="3ASSIGNONE")
        assert mturk.notify_workers(**message)["NotifyWorkersFailureStatuses"] == []
        assert [n["WorkerId"] for n in sim.world.ledger()["notifications"]] == [WORKER]


# --- 7. DeleteQualificationType takes its HIT types; the name stays taken -------------------


def test_deleting_a_qualification_type_deletes_its_hit_types_and_holds_the_name(
    strict: Mturk,
) -> None:
    """After DeleteQualificationType, HITs of a HIT type requiring it cannot be created, and
    the name is unusable for 48 hours (model doc)."""
    qual = {"Name": "Photo expert", "Description": "d", "QualificationTypeStatus": "Active"}
    type_id = strict.create_qualification_type(**qual)["QualificationType"]["QualificationTypeId"]
    props = {k: v for k, v in HIT.items() if k not in ("LifetimeInSeconds", "Question")}
    requirement = [{"QualificationTypeId": type_id, "Comparator": "Exists"}]
    hit_type = strict.create_hit_type(**props, QualificationRequirements=requirement)["HITTypeId"]
    strict.delete_qualification_type(QualificationTypeId=type_id)
    gone = strict.refused(
        "create_hit_with_hit_type",
        HITTypeId=hit_type,
        LifetimeInSeconds=60,
        Question=HIT["Question"],
    )
    assert gone["TurkErrorCode"] == "AWS.MechanicalTurk.HITTypeDoesNotExist"
    taken = strict.refused("create_qualification_type", **qual)
    assert taken["TurkErrorCode"] == "AWS.MechanicalTurk.QualificationTypeAlreadyExists"
    strict.advance(48 * 3600)
    strict.create_qualification_type(**qual)


# --- 8. Input rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"Question": "Please label the photo."}, "Question"),
        ({"Question": "<Unknown>x</Unknown>"}, "Question"),
        ({"Question": HTML.format(body="x" * 65_600)}, "Question"),
        ({"Question": None, "HITLayoutId": "3NOSUCHLAYOUT"}, "HITLayoutId"),
        (
            {"QualificationRequirements": [
                {"QualificationTypeId": MASTERS_SANDBOX, "Comparator": "EqualTo",
                 "LocaleValues": [{"Country": "US"}]}]},
            "QualificationRequirements",
        ),
        (
            {"QualificationRequirements": [
                {"QualificationTypeId": LOCALE, "Comparator": "EqualTo",
                 "LocaleValues": [{"Country": "US"}, {"Country": "CA"}]}]},
            "QualificationRequirements",
        ),
        (
            {"QualificationRequirements": [
                {"QualificationTypeId": LOCALE, "Comparator": "GreaterThan",
                 "LocaleValues": [{"Country": "US"}]}]},
            "QualificationRequirements",
        ),
        (
            {"QualificationRequirements": [
                {"QualificationTypeId": MASTERS_SANDBOX, "Comparator": "Exists",
                 "IntegerValues": [1]}]},
            "QualificationRequirements",
        ),
    ],
)  # fmt: skip
def test_create_hit_input_rules(strict: Mturk, change: dict[str, Any], parameter: str) -> None:
    """Question must be QuestionForm/ExternalQuestion/HTMLQuestion XML ≤ 65,535 bytes, a
    layout must exist, and LocaleValues/IntegerValues follow the model's rules."""
    params = {k: v for k, v in {**HIT, **change}.items() if v is not None}
    before = strict.balance()
    refusal = strict.refused("create_hit", **params)
    assert refusal["Error"]["Code"] == "ParameterValidationError"
    status, body = raw_call(strict.sim, "CreateHIT", params)
    assert (status, body["Parameter"]) == (400, parameter)
    assert strict.balance() == before


def test_qualification_tests_must_be_question_forms(strict: Mturk) -> None:
    """A Test that is not QuestionForm XML is a ParameterValidationError for Test (boto3#2108);
    a QuestionForm is accepted."""
    qual = {"Name": "Tested", "Description": "d", "QualificationTypeStatus": "Active"}
    refusal = strict.refused(
        "create_qualification_type", **qual, Test=HTML.format(body="?"), TestDurationInSeconds=60
    )
    assert code_of(refusal)[1].endswith("is not valid for the parameter Test.")
    strict.create_qualification_type(**qual, Test=QUESTION_FORM, TestDurationInSeconds=60)


def test_notification_version_must_be_2006_05_05(strict: Mturk) -> None:
    """The notification Version is 2006-05-05 (model doc); another is refused."""
    spec = {
        "Destination": "someone@example.com",
        "Transport": "Email",
        "Version": "2014-08-15",
        "EventTypes": ["AssignmentSubmitted"],
    }
    refusal = strict.refused(
        "send_test_event_notification", Notification=spec, TestEventType="AssignmentSubmitted"
    )
    assert code_of(refusal) == (
        "ParameterValidationError",
        'The value "2014-08-15" is not valid for the parameter Version.',
    )


# --- 9. Error bodies ------------------------------------------------------------------------


def test_parameter_validation_errors_carry_parameter_and_turk_code(strict: Mturk) -> None:
    """A ParameterValidationError body has Parameter and TurkErrorCode InvalidParameterValue
    (boto3#2108); an unknown qualification type's id is in brackets (breadboard#204)."""
    status, body = raw_call(
        strict.sim,
        "CreateWorkerBlock",
        {"WorkerId": "A143XRCI1YXAFE", "Reason": "spam"},
    )
    assert status == 400
    assert body["__type"] == "ParameterValidationError"
    assert body["Parameter"] == "WorkerId"
    assert body["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidParameterValue"
    missing = strict.refused("get_qualification_type", QualificationTypeId="3NOSUCHTYPE")
    assert code_of(missing)[1] == "QualificationType [3NOSUCHTYPE] does not exist."


# --- 10. HITs are disposed of after 120 days ------------------------------------------------


def test_hits_are_disposed_of_after_120_days(strict: Mturk) -> None:
    """A HIT 120 days old is Disposed and no longer listed (DeleteHIT doc)."""
    hit_id = strict.create_hit(**HIT)["HIT"]["HITId"]
    strict.advance(119 * 86_400)
    assert strict.list_hits()["NumResults"] == 1
    strict.advance(86_400 + 1)
    assert strict.list_hits()["NumResults"] == 0
    assert strict.get_hit(HITId=hit_id)["HIT"]["HITStatus"] == "Disposed"


# --- issue 14: amounts too large to be money --------------------------------------------------


def test_huge_amounts_are_a_400_not_a_service_fault(permissive: Mturk) -> None:
    """A BonusAmount or Reward of 27 digits is a ParameterValidationError (HTTP 400) naming
    the member, never a 500 ServiceFault; nothing is paid."""
    huge = "9" * 27
    bonus = permissive.refused(
        "send_bonus", WorkerId=WORKER, AssignmentId="3ASSIGNONE", BonusAmount=huge, Reason="x"
    )
    assert bonus["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert code_of(bonus) == (
        "ParameterValidationError",
        f'The value "{huge}" is not valid for the parameter BonusAmount.',
    )
    reward = permissive.refused("create_hit", **{**HIT, "Reward": huge + ".00"})
    assert reward["Error"]["Code"] == "ParameterValidationError"
    assert permissive.balance() == Decimal("10000.00")
    assert permissive.sim.counters.to_json()["totals"]["faulted"] == 0


def test_inferred_error_codes_are_marked_and_all_in_use() -> None:
    """The codes world_errors.py marks as inferred are codes the world uses, and the ones
    real reports show are not among them."""
    real = {
        "AWS.MechanicalTurk.HITDoesNotExist",
        "AWS.MechanicalTurk.QualificationDoesNotExist",
        "AWS.MechanicalTurk.InvalidAssignmentState",
        "AWS.MechanicalTurk.QualificationTypeAlreadyExists",
        "AWS.MechanicalTurk.HitAlreadyExists",
    }
    assert INFERRED_TURK_ERROR_CODES < TURK_ERROR_CODES
    assert not INFERRED_TURK_ERROR_CODES & real
