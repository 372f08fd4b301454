"""
Tests for turkbatch.sim.workforce: simulated workers who do the HITs as time passes.

The first test is a requester's whole cycle, with a fixed seed and exact counts: HITs
created with boto3, the clock advanced, the submissions listed and reviewed, bonuses
paid and workers messaged by ``python -m turkbatch run`` against the simulator.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]  # boto3 ships no type information
import orjson
import pytest
from botocore.config import Config
from test_sim_mturk_rules import admin

from turkbatch.sim import Clock, Simulator, World
from turkbatch.sim.background import simulator_in_thread
from turkbatch.sim.workforce_settings import WorkforceSettings

DAY = 86_400
QUESTION_FORM = (
    '<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
    '2017-11-06/QuestionForm.xsd"><Question><QuestionIdentifier>animal</QuestionIdentifier>'
    "<QuestionContent><Text>Which animal?</Text></QuestionContent><AnswerSpecification>"
    "<SelectionAnswer><Selections><Selection><SelectionIdentifier>cat</SelectionIdentifier>"
    "<Text>Cat</Text></Selection><Selection><SelectionIdentifier>dog</SelectionIdentifier>"
    "<Text>Dog</Text></Selection></Selections></SelectionAnswer></AnswerSpecification>"
    "</Question><Question><QuestionIdentifier>why</QuestionIdentifier><QuestionContent>"
    "<Text>Why?</Text></QuestionContent><AnswerSpecification><FreeTextAnswer/>"
    "</AnswerSpecification></Question></QuestionForm>"
)
HTML_QUESTION = (
    '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
    '2011-11-11/HTMLQuestion.xsd"><HTMLContent><![CDATA[<form><input type="hidden" '
    'name="assignmentId"/><input name="total"/><textarea name="notes"></textarea></form>]]>'
    "</HTMLContent><FrameHeight>400</FrameHeight></HTMLQuestion>"
)
HIT = {
    "Title": "Animals",
    "Description": "Pick the animal in the photo.",
    "Reward": "0.40",
    "AssignmentDurationInSeconds": 1800,
    "LifetimeInSeconds": 43_200,
    "AutoApprovalDelayInSeconds": 3 * DAY,
}
CYCLE = WorkforceSettings(
    workers=25, seed=3, find_seconds=5400, work_seconds=900, return_share=0.15, abandon_share=0.1
)


def client(sim: Simulator) -> Any:
    """Return a boto3 MTurk client for ``sim`` (no retries)."""
    return boto3.session.Session().client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=sim.endpoint_url,
        config=Config(retries={"total_max_attempts": 1}),
    )


def answers(assignment: dict[str, Any]) -> dict[str, str]:
    """Return an assignment's answers by QuestionIdentifier."""
    pairs = re.findall(
        r"<QuestionIdentifier>([^<]+)</QuestionIdentifier><(?:SelectionIdentifier|FreeText)>"
        r"([^<]*)<",
        assignment["Answer"],
    )
    return dict(pairs)


def write_job(path: Path, lines: list[dict[str, Any]]) -> Path:
    """Write a JSONL job file."""
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def test_a_requesters_whole_cycle_with_turkbatch_run(tmp_path: Path) -> None:
    """Seed 3: two HITs get 5 and 4 submissions in a day (1 slot never taken, refunded);
    ``turkbatch run`` approves them, rejects one, pays a bonus per "cat" and messages
    every worker; the ledger and the balance come out to the cent."""
    world = World(clock=Clock(), strict=True, workforce=CYCLE)
    with simulator_in_thread(world=world, clock=world.clock) as sim:
        mturk = client(sim)
        animals = mturk.create_hit(MaxAssignments=6, Question=QUESTION_FORM, **HIT)["HIT"]["HITId"]
        receipts = mturk.create_hit(MaxAssignments=4, Question=HTML_QUESTION, **HIT)["HIT"]["HITId"]
        assert mturk.get_account_balance()["AvailableBalance"] == "9995.20"
        admin(sim, "clock", {"advance": DAY})

        assert mturk.list_reviewable_hits()["HITs"] == [{"HITId": animals}, {"HITId": receipts}]
        done = {
            h: mturk.list_assignments_for_hit(HITId=h)["Assignments"] for h in (animals, receipts)
        }
        assert [len(done[animals]), len(done[receipts])] == [5, 4]
        assert {a["AssignmentStatus"] for a in done[animals] + done[receipts]} == {"Submitted"}
        picked = [answers(a)["animal"] for a in done[animals]]
        assert Counter(picked) == {"cat": 4, "dog": 1}
        assert all(set(answers(a)) == {"total", "notes"} for a in done[receipts])
        assert mturk.get_hit(HITId=animals)["HIT"]["NumberOfAssignmentsAvailable"] == 1
        assert mturk.get_account_balance()["AvailableBalance"] == "9995.68"  # 1 slot refunded

        cats = [a for a in done[animals] if answers(a)["animal"] == "cat"]
        blank = done[receipts][1]
        workers = sorted({a["WorkerId"] for a in done[animals] + done[receipts]})
        work = sim.world.ledger()["work"]
        idle = sorted({e["WorkerId"] for e in work if e["Event"] != "Submitted"} - set(workers))
        assert idle, "seed 3 has workers who returned or abandoned and never submitted"
        job = write_job(
            tmp_path / "review.jsonl",
            [
                {"op": "RejectAssignment", "AssignmentId": blank["AssignmentId"],
                 "RequesterFeedback": "The total was left blank."},
                {"op": "ApproveAssignment", "HITId": animals, "RequesterFeedback": "Thanks!"},
                {"barrier": True},
                {"op": "ApproveAssignment", "HITId": receipts, "RequesterFeedback": "Thanks!"},
                {"barrier": True},
                *({"op": "SendBonus", "WorkerId": a["WorkerId"], "AssignmentId": a["AssignmentId"],
                   "BonusAmount": "0.25", "Reason": "You found the cat."} for a in cats),
                {"barrier": True},
                {"op": "NotifyWorkers", "Subject": "Results are in",
                 "MessageText": "Thank you for labelling.", "WorkerIds": workers + idle[:1]},
            ],
        )  # fmt: skip
        run = subprocess.run(
            [sys.executable, "-m", "turkbatch", "run", str(job), "--endpoint-url",
             sim.endpoint_url, "--progress", "0"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr

        ledger = sim.world.ledger()
        changes = Counter((c["To"], c["By"]) for c in ledger["assignment_changes"])
        assert changes == {("Approved", "requester"): 8, ("Rejected", "requester"): 1}
        assert sorted(b["AssignmentId"] for b in ledger["bonuses"]) == sorted(
            a["AssignmentId"] for a in cats
        )
        assert sorted(n["WorkerId"] for n in ledger["notifications"]) == workers
        # 10000 - 9.60 * 0.48 ... : 4.80 up front, 0.48 back for the untaken slot, 0.48 back
        # for the rejection, 4 bonuses of 0.25 + 0.05 fee
        assert ledger["balance"] == "9994.96"
        assert [r["Reason"] for r in ledger["refunds"]] == ["expired unassigned", "rejected"]

        again = subprocess.run(
            [sys.executable, "-m", "turkbatch", "run", str(job), "--endpoint-url",
             sim.endpoint_url, "--progress", "0"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert sim.world.ledger()["balance"] == "9994.96"  # resumed: nothing paid twice


def story(seed: int) -> list[tuple[str, str, str, str | None]]:
    """Return what the workforce did to three HITs in two days, without the times."""
    world = World(clock=Clock(), strict=True, workforce=WorkforceSettings(workers=15, seed=seed))
    for n in range(3):
        params = {**HIT, "Question": QUESTION_FORM, "MaxAssignments": 3 + n, "Title": f"T{n}"}
        world.call("CreateHIT", params)
    world.clock.advance(2 * DAY)
    return [
        (e["Event"], e["HITId"], e["WorkerId"], e["AssignmentId"]) for e in world.ledger()["work"]
    ]


def test_the_same_seed_tells_the_same_story() -> None:
    """Two worlds with the same seed and the same calls see the same workers do the same
    work; another seed changes it."""
    first = story(11)
    assert first == story(11)
    assert first != story(12)
    assert {event for event, *_ in first} >= {"Accepted", "Submitted"}


def test_counts_move_as_work_is_accepted_submitted_and_approved() -> None:
    """Pending, available and completed counts follow the workers: accepted work is
    pending, submitted work is neither, and unreviewed work is approved automatically
    AutoApprovalDelayInSeconds after submission."""
    settings = WorkforceSettings(
        workers=10, seed=8, find_seconds=60, work_seconds=3000, return_share=0, abandon_share=0
    )
    world = World(clock=Clock(), workforce=settings)
    params = {**HIT, "Question": QUESTION_FORM, "MaxAssignments": 3}
    params["AutoApprovalDelayInSeconds"] = 3600
    hit_id = world.call("CreateHIT", params)["HIT"]["HITId"]
    seen = []
    for step in (0, 120, 480, 1200, 1800, 3600):  # at 0, 2, 10, 30, 60 and 120 minutes
        world.clock.advance(step)
        hit = world.call("GetHIT", {"HITId": hit_id})["HIT"]
        seen.append(
            (
                hit["NumberOfAssignmentsPending"],
                hit["NumberOfAssignmentsAvailable"],
                hit["NumberOfAssignmentsCompleted"],
                hit["HITStatus"],
            )
        )
    assert seen == [
        (0, 3, 0, "Assignable"),
        (2, 1, 0, "Assignable"),
        (3, 0, 0, "Unassignable"),
        (1, 0, 0, "Unassignable"),  # two submitted
        (0, 0, 0, "Reviewable"),  # all submitted, none reviewed
        (0, 0, 3, "Reviewable"),  # approved by MTurk an hour after each submission
    ]
    approvals = [c for c in world.ledger()["assignment_changes"] if c["By"] == "auto"]
    assert len(approvals) == 3


def test_workers_meet_the_hits_requirements_or_leave_it() -> None:
    """A HIT requiring Masters, with no Masters in the workforce, is never taken, and its
    money comes back when it expires."""
    settings = WorkforceSettings(workers=20, seed=1, masters_share=0.0, find_seconds=60)
    world = World(clock=Clock(), workforce=settings)
    masters = [{"QualificationTypeId": "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", "Comparator": "Exists"}]
    params = {**HIT, "Question": QUESTION_FORM, "MaxAssignments": 2}
    world.call("CreateHIT", {**params, "QualificationRequirements": masters})
    world.call("CreateHIT", {**params, "Title": "Open to all"})
    world.clock.advance(DAY)
    taken = Counter(e["HITId"] for e in world.ledger()["work"] if e["Event"] == "Submitted")
    assert len(taken) == 1 and sum(taken.values()) == 2
    # the open HIT's 2 × 0.48 are spent; the Masters HIT's 2 × 0.50 came back at expiry
    assert world.balance == "9999.04"
    assert [r["Amount"] for r in world.ledger()["refunds"]] == ["1.00"]


def test_requestable_types_receive_requests_with_test_answers() -> None:
    """Workers request a requestable type (answering its Test), one at a time; an
    AutoGranted type grants at once instead; the requests are there to accept."""
    settings = WorkforceSettings(workers=6, seed=2, request_seconds=600)
    world = World(clock=Clock(), strict=True, workforce=settings)
    tested = world.call(
        "CreateQualificationType",
        {"Name": "Animal expert", "Description": "d", "QualificationTypeStatus": "Active",
         "Test": QUESTION_FORM, "TestDurationInSeconds": 300},
    )["QualificationType"]["QualificationTypeId"]  # fmt: skip
    auto = world.call(
        "CreateQualificationType",
        {"Name": "Everyone", "Description": "d", "QualificationTypeStatus": "Active",
         "AutoGranted": True},
    )["QualificationType"]["QualificationTypeId"]  # fmt: skip
    world.clock.advance(DAY)
    pending = world.call(
        "ListQualificationRequests", {"QualificationTypeId": tested, "MaxResults": 100}
    )
    assert pending["NumResults"] == 6  # every worker asked once
    assert all("<SelectionIdentifier>" in r["Answer"] for r in pending["QualificationRequests"])
    granted = world.call("ListWorkersWithQualificationType", {"QualificationTypeId": auto})
    assert granted["NumResults"] == 6
    assert world.call("ListQualificationRequests", {"QualificationTypeId": auto})["NumResults"] == 0


def test_a_sped_up_clock_lets_work_happen_in_real_time() -> None:
    """With the clock at 20,000x, a fraction of a real second is hours of work."""
    clock = Clock(speed=20_000)
    settings = WorkforceSettings(workers=5, seed=4, return_share=0, abandon_share=0)
    world = World(clock=clock, workforce=settings)
    world.call("CreateHIT", {**HIT, "Question": QUESTION_FORM, "MaxAssignments": 2})
    time.sleep(0.5)  # ~10,000 simulated seconds
    submitted = [e for e in world.ledger()["work"] if e["Event"] == "Submitted"]
    assert len(submitted) == 2


def test_reset_replays_the_same_workforce() -> None:
    """reset() returns the workforce to its start: the same calls bring the same work."""
    world = World(clock=Clock(), workforce=WorkforceSettings(workers=8, seed=9))
    params = {**HIT, "Question": QUESTION_FORM, "MaxAssignments": 3}
    world.call("CreateHIT", params)
    world.clock.advance(DAY)
    before = [(e["Event"], e["WorkerId"]) for e in world.ledger()["work"]]
    world.reset()
    assert world.ledger()["work"] == []
    world.call("CreateHIT", params)
    world.clock.advance(DAY)
    assert [(e["Event"], e["WorkerId"]) for e in world.ledger()["work"]] == before


@pytest.mark.parametrize(
    "bad",
    [{"workers": -1}, {"return_share": 0.8, "abandon_share": 0.3}, {"workers": "5"}, {"nope": 1}],
)
def test_bad_workforce_settings_are_refused(bad: dict[str, Any]) -> None:
    """Impossible or unknown workforce settings are a ValueError naming the problem."""
    with pytest.raises(ValueError, match=r"workforce|share|workers"):
        WorkforceSettings.from_json(bad)


def test_sim_command_starts_a_workforce(tmp_path: Path) -> None:
    """``turkbatch sim --workers N`` says so on stderr and in the admin API."""
    err = tmp_path / "err"
    with err.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "turkbatch", "sim", "--port", "0", "--strict",
             "--workers", "7", "--seed", "3", "--speed", "2"],
            stdout=subprocess.PIPE, stderr=sink, text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            reply = admin_get(url, "workforce")
            assert reply["settings"]["workers"] == 7 and reply["settings"]["seed"] == 3
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    lines = err.read_text().splitlines()
    assert "workforce: 7 workers, seed 3; time runs 2x" in lines[1]


def admin_get(url: str, name: str) -> Any:
    """GET an admin endpoint of the simulator at ``url``."""
    with urllib.request.urlopen(f"{url}/_turkbatch/{name}", timeout=10) as reply:
        return orjson.loads(reply.read())


def test_the_readme_example_world_does_what_the_readme_says() -> None:
    """jobs/world.workforce.json with the README's HIT: a day later 5 of 6 slots were
    submitted, 19 qualification requests wait, and the untaken slot was refunded."""
    world = World.from_file("jobs/world.workforce.json", clock=Clock())
    question = Path("jobs/animals.question.xml").read_text()
    hit = world.call(
        "CreateHIT",
        {"Title": "Animals", "Description": "Pick the animal", "Reward": "0.40",
         "MaxAssignments": 6, "LifetimeInSeconds": 43_200,
         "AssignmentDurationInSeconds": 1800, "Question": question},
    )["HIT"]  # fmt: skip
    assert hit["HITId"] == "30IO6RMQMGGY328GI8F9MT6KJJPBUG"
    world.clock.advance(DAY)
    listed = world.call("ListAssignmentsForHIT", {"HITId": hit["HITId"], "MaxResults": 100})
    assert [a["WorkerId"] for a in listed["Assignments"]][:2] == [
        "AKYDL0SEM1992P",
        "AFIBYHP46HTNH5",
    ]
    assert listed["NumResults"] == 5
    requests = world.call("ListQualificationRequests", {"MaxResults": 100})
    assert requests["NumResults"] == 19
    assert world.balance == "97.60"


def test_notifiable_share_decides_who_can_be_messaged_before_any_review() -> None:
    """With notifiable_share 1 every worker can be messaged at once; with 0 none can until
    work of theirs is reviewed."""
    for share, failures in ((1.0, 0), (0.0, 4)):
        settings = WorkforceSettings(workers=4, seed=1, notifiable_share=share)
        world = World(clock=Clock(), strict=True, workforce=settings)
        workers = [w["WorkerId"] for w in world.view()["workers"]["items"]]
        reply = world.call(
            "NotifyWorkers", {"Subject": "Hi", "MessageText": "New HITs", "WorkerIds": workers}
        )
        assert len(reply["NotifyWorkersFailureStatuses"]) == failures
