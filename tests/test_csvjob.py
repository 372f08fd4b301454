"""
Tests for turkbatch.csvjob and turkbatch.cli.job (and turkbatch.columns): spreadsheets
become job files.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from turkbatch import jobs
from turkbatch.cli.main import main
from turkbatch.columns import typed
from turkbatch.csvjob import Spec, convert
from turkbatch.errors import JobError, UsageError

BATCH_HEADER = (
    '"HITId","HITTypeId","Title","Reward","AssignmentId","WorkerId","AssignmentStatus",'
    '"SubmitTime","RequesterFeedback","WorkTimeInSeconds","Input.image","Answer.label",'
    '"Approve","Reject"'
)


def csv_file(tmp_path: Path, text: str, name: str = "in.csv", *, bom: bool = False) -> Path:
    """Write a CSV file (optionally with a UTF-8 byte order mark)."""
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def lines_of(path: Path, spec: Spec) -> list[dict[str, Any]]:
    """Convert and return the job lines written."""
    out = io.BytesIO()
    convert(path, spec, out)
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def cli(*argv: str) -> int:
    """Run ``turkbatch job from-csv`` through the command line's entry, with its exit code."""
    return main(["job", "from-csv", *argv])


def test_payouts_csv_becomes_bonus_lines(tmp_path: Path) -> None:
    """Columns named like the API (any case, spaces) map by themselves; a leading $ is
    dropped; --set fills empty cells; unknown columns are ignored and reported."""
    path = csv_file(
        tmp_path,
        "worker id,AssignmentID,Bonus Amount,reason,Notes\n"
        "A1B2C3,3X4Y5Z,$1.25,Great work,vip\n"
        "A7Q,3Q2,0.50,,\n",
        bom=True,
    )
    spec = Spec(op="SendBonus", constants={"Reason": "Thanks"})
    assert lines_of(path, spec) == [
        {"op": "SendBonus", "WorkerId": "A1B2C3", "AssignmentId": "3X4Y5Z",
         "BonusAmount": "1.25", "Reason": "Great work"},
        {"op": "SendBonus", "WorkerId": "A7Q", "AssignmentId": "3Q2", "BonusAmount": "0.50",
         "Reason": "Thanks"},
    ]  # fmt: skip
    report = convert(path, spec, io.BytesIO())
    assert (report.rows, report.lines, report.skipped, report.ignored) == (2, 2, 0, ["Notes"])


def test_written_job_validates_and_keys_like_the_rows(tmp_path: Path) -> None:
    """The output is a valid job file; ids and explicit tokens are kept, derived tokens are
    left to the run; a legacy --op is written in its 2017 spelling."""
    path = csv_file(
        tmp_path,
        "id,WorkerId,AssignmentId,BonusAmount,Reason,UniqueRequestToken\n"
        "row-1,A1,3A1,1.00,r,\n"
        "row-2,A2,3A2,2.00,r,mine-2\n",
    )
    target = tmp_path / "out.jsonl"
    assert cli(str(path), "--op", "GrantBonus", "--to", str(target)) == 0
    written = [orjson.loads(line) for line in target.read_bytes().splitlines()]
    assert written[0] == {"op": "SendBonus", "WorkerId": "A1", "AssignmentId": "3A1",
                          "BonusAmount": "1.00", "Reason": "r", "id": "row-1"}  # fmt: skip
    assert written[1]["UniqueRequestToken"] == "mine-2" and written[1]["id"] == "row-2"
    assert jobs.check_job(target).total_bonus == 3


def test_cells_are_typed_by_the_model(tmp_path: Path) -> None:
    """Integers, booleans and lists are read from text as the API model types them."""
    path = csv_file(
        tmp_path,
        "WorkerId,QualificationTypeId,IntegerValue,SendNotification\nA1,3QT,90,no\nA2,3QT,75,x\n",
    )
    lines = lines_of(path, Spec(op="AssociateQualificationWithWorker"))
    assert [(x["IntegerValue"], x["SendNotification"]) for x in lines] == [(90, False), (75, True)]
    assert typed("WorkerIds", "list", "A1, A2;A3  A4") == ["A1", "A2", "A3", "A4"]
    assert typed("Notification", "structure", '{"a": 1}') == {"a": 1}
    assert typed("ExpireAt", "timestamp", "0") == 0
    with pytest.raises(ValueError, match="IntegerValue 'ninety' is not a whole number"):
        typed("IntegerValue", "integer", "ninety")


def test_batch_results_approvals_take_the_marked_rows(tmp_path: Path) -> None:
    """In MTurk's batch-results layout, --op ApproveAssignment takes rows marked in Approve
    (HITId is context, the old RequesterFeedback column is not read)."""
    path = csv_file(
        tmp_path,
        f"{BATCH_HEADER}\n"
        '"3H","3T","t","$0.10","3A1","A1","Submitted","x","old note","30","a.png","cat","x",""\n'
        '"3H","3T","t","$0.10","3A2","A2","Submitted","x","","30","b.png","dog","","Wrong label"\n'
        '"3H","3T","t","$0.10","3A3","A3","Submitted","x","","30","c.png","cow","",""\n'
        '"3H","3T","t","$0.10","3A4","A4","Submitted","x","","30","d.png","cat","X",""\n',
    )
    spec = Spec(op="ApproveAssignment", constants={"RequesterFeedback": "Thanks!"})
    assert lines_of(path, spec) == [
        {"op": "ApproveAssignment", "AssignmentId": "3A1", "RequesterFeedback": "Thanks!"},
        {"op": "ApproveAssignment", "AssignmentId": "3A4", "RequesterFeedback": "Thanks!"},
    ]
    report = convert(path, spec, io.BytesIO())
    assert (report.rows, report.lines, report.skipped, report.marks) == (4, 2, 2, "Approve")
    rejections = lines_of(path, Spec(op="RejectAssignment"))
    assert rejections == [
        {"op": "RejectAssignment", "AssignmentId": "3A2", "RequesterFeedback": "Wrong label"}
    ]


def test_bad_rows_are_reported_with_spreadsheet_row_numbers_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every bad row is reported as FILE:ROW: message (header = row 1, blank and multi-line
    rows counted as a spreadsheet shows them); the output file is not created; exit 2."""
    path = csv_file(
        tmp_path,
        "WorkerId,AssignmentId,BonusAmount,Reason\n"
        "A1,3A1,1.00,fine\n"
        ",,,\n"
        'A2,3A2,1.234,"two\nlines"\n'
        "bob,3A3,2.00,bad worker\n"
        "A4,3A4,1.00,fine,extra\n"
        "A5,3A5,0,zero\n",
    )
    target = tmp_path / "out.jsonl"
    assert cli(str(path), "--op", "SendBonus", "--to", str(target)) == 2
    assert not target.exists() and not list(tmp_path.glob(".out.jsonl.*"))
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}:4: BonusAmount '1.234' does not match ^[0-9]+(\\.)?[0-9]{{0,2}}$ (at most 2 "
        "decimals)",
        f"{path}:5: WorkerId 'bob' does not match ^A[A-Z0-9]+$",
        f"{path}:6: 5 cells but only 4 columns",
        f"{path}:7: BonusAmount '0' must be greater than 0",
        f"turkbatch: {path}: nothing written",
    ]


def test_conversion_errors_and_validation_errors_interleave_by_row(tmp_path: Path) -> None:
    """A cell of the wrong type and a row marked both ways are reported with the rows that
    fail validation, in row order."""
    path = csv_file(
        tmp_path,
        "QualificationTypeId,WorkerId,IntegerValue\n3QT,A1,ninety\n3QT,bob,5\n3QT,A3,7\n",
    )
    with pytest.raises(JobError) as caught:
        convert(path, Spec(op="AssociateQualificationWithWorker"), io.BytesIO())
    assert [(e.line, e.message) for e in caught.value.errors] == [
        (2, "IntegerValue 'ninety' is not a whole number"),
        (3, "WorkerId 'bob' does not match ^A[A-Z0-9]+$"),
    ]
    marked = csv_file(tmp_path, f"{BATCH_HEADER}\n" + ",,,,3A1,A1,,,,,,,x,no\n", "m.csv")
    with pytest.raises(JobError, match=r"m.csv:2: marked both Approve and Reject"):
        convert(marked, Spec(op="ApproveAssignment"), io.BytesIO())


def test_notify_rows_become_one_line_per_message(tmp_path: Path) -> None:
    """NotifyWorkers rows are grouped into one line per Subject and MessageText, listing
    every row's worker (duplicates are dropped when the job is read)."""
    path = csv_file(
        tmp_path,
        "WorkerId,Group\nA1,x\nA2,y\nA1,x\nA3,y\n",
    )
    spec = Spec(op="NotifyWorkers", constants={"Subject": "Hi", "MessageText": "New study"})
    assert lines_of(path, spec) == [
        {"op": "NotifyWorkers", "Subject": "Hi", "MessageText": "New study",
         "WorkerIds": ["A1", "A2", "A3"]},
    ]  # fmt: skip
    per_row = csv_file(tmp_path, "Worker,Subject,MessageText\nA1,a,m\nA2,b,m\nA3,a,m\n", "p.csv")
    grouped = lines_of(per_row, Spec(op="NotifyWorkers", columns={"Worker": "WorkerIds"}))
    assert [(x["Subject"], x["WorkerIds"]) for x in grouped] == [("a", ["A1", "A3"]), ("b", ["A2"])]


def test_parent_id_columns_make_bulk_lines_when_there_is_no_item_column(tmp_path: Path) -> None:
    """A column of HITIds (no AssignmentId column) gives HIT-wide lines; filters can be
    columns too."""
    path = csv_file(tmp_path, "HITId,submitted_before\n3H1,2026-11-01\n3H2,\n")
    lines = lines_of(path, Spec(op="ApproveAssignment"))
    assert lines == [
        {"op": "ApproveAssignment", "HITId": "3H1", "submitted_before": 1793491200.0},
        {"op": "ApproveAssignment", "HITId": "3H2"},
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--op", "SendBonsu"], "--op: unknown operation 'SendBonsu'; did you mean 'SendBonus'?"),
        (["--op", "DisableHIT"], "DisableHIT no longer exists"),
        (["--op", "SendBonus", "--map", "Nope=Reason"], "--map: no column 'Nope' in"),
        (["--op", "SendBonus", "--map", "WorkerId=Wrker"],
         "--map: SendBonus takes no parameter 'Wrker'; did you mean 'WorkerId'?"),
        (["--op", "SendBonus", "--set", "Reasn=x"],
         "--set: SendBonus takes no parameter 'Reasn'; did you mean 'Reason'?"),
        (["--op", "AssociateQualificationWithWorker", "--set", "IntegerValue=high"],
         "--set: IntegerValue 'high' is not a whole number"),
    ],
)  # fmt: skip
def test_unusable_flags_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """A bad --op, --map or --set is reported before any row is read; exit 2."""
    path = csv_file(tmp_path, "WorkerId,AssignmentId\nA1,3A\n")
    assert cli(str(path), *argv) == 2
    assert capsys.readouterr().err.startswith(f"turkbatch: {message}")


def test_empty_or_unreadable_files_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No rows, no header, bad UTF-8 and a missing file all exit 2 with a message."""
    assert cli(str(csv_file(tmp_path, "WorkerId\n", "h.csv")), "--op", "DeleteWorkerBlock") == 2
    assert "no rows to convert" in capsys.readouterr().err
    assert cli(str(csv_file(tmp_path, "", "e.csv")), "--op", "DeleteWorkerBlock") == 2
    assert "e.csv:1: no header row" in capsys.readouterr().err
    bad = tmp_path / "b.csv"
    bad.write_bytes(b"WorkerId\nA1\n\xff\xfe\n")
    assert cli(str(bad), "--op", "DeleteWorkerBlock") == 2
    assert "not valid UTF-8" in capsys.readouterr().err
    assert cli(str(tmp_path / "missing.csv"), "--op", "DeleteWorkerBlock") == 2
    assert "missing.csv" in capsys.readouterr().err


def test_stdout_gets_the_job_and_stderr_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --to the JSONL goes to standard output, the summary to standard error;
    a .tsv file is read tab-separated."""
    path = csv_file(tmp_path, "WorkerId\tReason\nA1\tspam\n", "blocks.tsv")
    assert cli(str(path), "--op", "BlockWorker") == 0
    out, err = capsys.readouterr()
    assert orjson.loads(out) == {"op": "CreateWorkerBlock", "WorkerId": "A1", "Reason": "spam"}
    assert "1 row → 1 CreateWorkerBlock line in standard output" in err


def test_notify_rows_take_no_id(tmp_path: Path) -> None:
    """NotifyWorkers rows are grouped, so an id column is refused up front."""
    path = csv_file(tmp_path, "WorkerId,id\nA1,x\n")
    with pytest.raises(UsageError, match="take no id"):
        convert(path, Spec(op="NotifyWorkers"), io.BytesIO())


# --- through the command line ------------------------------------------------------------


def from_csv(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m turkbatch job from-csv PATH ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "turkbatch", "job", "from-csv", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


HEADER = "WorkerId,AssignmentId,BonusAmount,Reason\n"


def test_rows_with_an_empty_bonus_can_be_skipped_on_request(tmp_path: Path) -> None:
    """
    An empty bonus cell is an error that says how to fill or skip it; --skip-empty
    BonusAmount skips those rows, counts them, and writes a job that runs.
    """
    path = csv_file(tmp_path, HEADER + "A1,3A1,1.00,x\nA2,3A2,,x\nA3,3A3, ,x\n")
    refused = from_csv(path, "--op", "SendBonus")
    assert refused.returncode == 2
    assert f"{path}:3: BonusAmount is required: this row has no value" in refused.stderr
    assert "--skip-empty BonusAmount" in refused.stderr
    job = tmp_path / "job.jsonl"
    made = from_csv(path, "--op", "SendBonus", "--skip-empty", "BonusAmount", "--to", str(job))
    assert made.returncode == 0, made.stderr
    assert "3 rows → 1 SendBonus line in" in made.stderr
    assert "2 skipped (no BonusAmount)" in made.stderr
    assert [orjson.loads(line)["WorkerId"] for line in job.read_bytes().splitlines()] == ["A1"]
    ran = subprocess.run(
        [sys.executable, "-m", "turkbatch", "run", str(job), "--sim", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr


def test_amount_hints_say_what_is_wrong(tmp_path: Path) -> None:
    """
    A decimal comma, a sign, a currency code or sign, thousands separators and too many
    decimals each get their own hint, with the amount as MTurk takes it.
    """
    rows = ["1,50", "-1", "USD 3", "€2.00", "1,000.00", "1.234", "+2"]
    text = HEADER + "".join(f'A{i},3A{i},"{amount}",x\n' for i, amount in enumerate(rows))
    result = from_csv(csv_file(tmp_path, text), "--op", "SendBonus")
    assert result.returncode == 2
    for hint in (
        "(a decimal point, not a comma: '1.50')",
        "(an amount cannot be negative or signed)",
        "(US dollars with no currency sign or code: '3')",
        "(US dollars with no currency sign or code: '2.00')",
        "(no thousands separators: '1000.00')",
        "(at most 2 decimals)",
        "(no sign: '2')",
    ):
        assert hint in result.stderr, hint
    dollars = from_csv(
        csv_file(tmp_path, HEADER + "A1,3A1,$1.00,x\n", "d.csv"), "--op", "SendBonus"
    )
    assert dollars.returncode == 0 and '"BonusAmount":"1.00"' in dollars.stdout


def test_a_semicolon_file_suggests_delimiter(tmp_path: Path) -> None:
    """A file separated by ';' read as commas says to give --delimiter ';'; with it, it converts."""
    path = csv_file(tmp_path, HEADER.replace(",", ";") + "A1;3A1;1.00;x\n")
    result = from_csv(path, "--op", "SendBonus")
    assert result.returncode == 2
    assert f"{path}:1: the header is one column" in result.stderr
    assert "give --delimiter ';'" in result.stderr
    assert from_csv(path, "--op", "SendBonus", "--delimiter", ";").returncode == 0


def test_a_bad_byte_is_reported_on_its_own_row(tmp_path: Path) -> None:
    """A byte that is not UTF-8 (a Latin-1 é) is reported on the row that holds it."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (HEADER + "A1,3A1,1.00,x\n").encode() + b"A2,3A2,1.00,caf\xe9\nA3,3A3,1.00,x\n"
    )
    result = from_csv(path, "--op", "SendBonus")
    assert result.returncode == 2
    assert f"{path}:3: not valid UTF-8: byte 0xE9 in column 'Reason'" in result.stderr
    assert f"{path}:1:" not in result.stderr and "Traceback" not in result.stderr
