"""The real AWS CLI against ``python -m turkbatch sim``, both as subprocesses."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from turkbatch.sim import SimAdmin

AWS = Path(sys.executable).with_name("aws")
KEY = "AKIDAWSCLITEST000001"
SECRET = "awscli-secret-not-real-000000000000000000"
ASSIGNMENT = "3AWSCLIASSIGNMENT0000000000001"


def clean_env(home: Path) -> dict[str, str]:
    """Return an environment with fake credentials, empty AWS config and no retries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    config = home / "aws-config"
    config.write_text("")
    env.update(
        AWS_ACCESS_KEY_ID=KEY,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(config),
        AWS_MAX_ATTEMPTS="1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
    )
    return env


class SimProcess:
    """``python -m turkbatch sim`` running in a child process."""

    def __init__(self, home: Path, *flags: str) -> None:
        self.stderr_path = home / f"sim-{os.getpid()}-{id(self)}.stderr"
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "turkbatch", "sim", "--port", "0", *flags],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=clean_env(home),
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        self.url = self.process.stdout.readline().strip() if ready else ""
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            pytest.fail(f"no URL on the first stdout line: {self.url!r}\n{self.stderr()}")

    def stderr(self) -> str:
        """Return what the simulator wrote to standard error so far."""
        return self.stderr_path.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the simulator and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._stderr.close()
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory for this module's config files and logs."""
    return tmp_path_factory.mktemp("awscli")


@pytest.fixture(scope="module")
def sim(home: Path) -> Iterator[SimProcess]:
    """A permissive simulator subprocess shared by this module's tests."""
    process = SimProcess(home)
    yield process
    assert process.stop() == 0


def aws(
    home: Path, url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``aws mturk <args>`` against ``url`` (in ``clean_env`` unless ``env`` is given)."""
    return subprocess.run(
        [str(AWS), "mturk", *args, "--endpoint-url", url, "--region", "us-east-1"],
        env=env or clean_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_get_account_balance(home: Path, sim: SimProcess) -> None:
    """``aws mturk get-account-balance`` prints the sandbox balance."""
    result = aws(home, sim.url, "get-account-balance", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["AvailableBalance"] == "10000.00"


def test_second_approval_is_a_request_error(home: Path, sim: SimProcess) -> None:
    """Approving twice: the CLI reports MTurk's RequestError text and exits 255 (AWS CLI v1)."""
    first = aws(home, sim.url, "approve-assignment", "--assignment-id", ASSIGNMENT)
    assert first.returncode == 0, first.stderr
    second = aws(home, sim.url, "approve-assignment", "--assignment-id", ASSIGNMENT)
    assert second.returncode == 255
    assert (
        "An error occurred (RequestError) when calling the ApproveAssignment operation: "
        "This operation can be called with a status of: Submitted (" in second.stderr
    )
    assert "Traceback" not in second.stderr


def test_validation_error_without_debug(home: Path, sim: SimProcess) -> None:
    """Without --debug the CLI prints just the ValidationException line."""
    result = aws(
        home,
        sim.url,
        "send-bonus",
        "--worker-id",
        "A1AWSCLI",
        "--assignment-id",
        ASSIGNMENT,
        "--bonus-amount",
        "0.9752",
        "--reason",
        "thanks",
    )
    assert result.returncode == 255
    assert result.stderr.strip() == (
        "An error occurred (ValidationException) when calling the SendBonus operation: "
        "1 validation error detected: Value '0.9752' at 'bonusAmount' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[0-9]+(\\.)?[0-9]{0,2}$"
    )


async def test_faults_set_through_the_admin_api_reach_the_cli(home: Path, sim: SimProcess) -> None:
    """SimAdmin from this process turns on 500s in the child; the CLI sees ServiceFault."""
    async with SimAdmin(sim.url) as admin:
        await admin.set_faults(fault_rate=1.0)
        try:
            result = aws(home, sim.url, "get-account-balance")
        finally:
            await admin.reset(faults=True)
        assert (await admin.counters())["totals"]["received"] == 0
    assert result.returncode == 255
    assert "(ServiceFault)" in result.stderr


def test_credentials_flag_checks_signatures(home: Path) -> None:
    """``--credentials`` makes the simulator verify SigV4: the right secret passes,
    another secret gets InvalidSignatureException."""
    checked = SimProcess(home, "--credentials", f"{KEY}:{SECRET}")
    try:
        assert aws(home, checked.url, "get-account-balance").returncode == 0
        wrong = clean_env(home) | {"AWS_SECRET_ACCESS_KEY": "wrong-secret"}
        result = aws(home, checked.url, "get-account-balance", env=wrong)
        assert result.returncode == 255
        assert "(InvalidSignatureException)" in result.stderr
    finally:
        assert checked.stop(signal.SIGINT) == 0
    assert "MTurk Requester API at http://127.0.0.1:" in checked.stderr()


def test_bad_flags_exit_2(home: Path) -> None:
    """Impossible fault settings are a usage error: exit 2, a message, no URL."""
    result = subprocess.run(
        [sys.executable, "-m", "turkbatch", "sim", "--fault-rate", "0.7", "--lost-rate", "0.7"],
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "at most 1" in result.stderr


def test_world_file_serves_a_strict_world(home: Path) -> None:
    """``--world FILE`` serves that (strict) world: its balance, and MTurk's error for a
    worker it does not hold."""
    world = home / "world.json"
    world.write_text(
        orjson.dumps({"balance": "250.00", "workers": [{"WorkerId": "A1KNOWN"}]}).decode()
    )
    strict = SimProcess(home, "--world", str(world), "--trailing-next-token")
    try:
        balance = aws(home, strict.url, "get-account-balance", "--output", "json")
        assert orjson.loads(balance.stdout)["AvailableBalance"] == "250.00"
        unknown = aws(
            home,
            strict.url,
            "create-worker-block",
            "--worker-id",
            "A9UNKNOWN",
            "--reason",
            "spam",
        )
        assert unknown.returncode == 255
        assert "(ParameterValidationError)" in unknown.stderr
        assert 'The value "A9UNKNOWN" is not valid for the parameter WorkerId.' in unknown.stderr
        assert f"world: strict, from {world}" in strict.stderr().splitlines()[0]
    finally:
        assert strict.stop() == 0


def test_permissive_world_says_so_first(home: Path, sim: SimProcess) -> None:
    """The default world's first line on stderr says it is permissive and what that means."""
    first = sim.stderr().splitlines()[0]
    assert "world: PERMISSIVE" in first
    assert "does not exist" in first and "--strict" in first


def test_strict_flag_serves_an_empty_strict_world(home: Path) -> None:
    """``--strict`` needs no file: a typo'd id gets MTurk's real error, and the first line
    on stderr says which world this is."""
    strict = SimProcess(home, "--strict")
    try:
        typo = aws(home, strict.url, "get-hit", "--hit-id", "3TYPO")
        assert typo.returncode == 255
        assert "Hit 3TYPO does not exist." in typo.stderr
        assert "world: strict, empty" in strict.stderr().splitlines()[0]
    finally:
        assert strict.stop() == 0


def test_unreadable_world_file_exits_2(home: Path) -> None:
    """A world file that is missing or not a world is a usage error (exit 2)."""
    bad = home / "bad-world.json"
    bad.write_text('{"workers": [{"NoSuchField": 1}]}')
    for path in (home / "missing.json", bad):
        result = subprocess.run(
            [sys.executable, "-m", "turkbatch", "sim", "--world", str(path)],
            env=clean_env(home),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        assert "turkbatch sim:" in result.stderr
