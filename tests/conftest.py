"""Fixtures shared by every test: no real credentials, and a simulator on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import structlog

FAKE_KEY = "AKIDTESTTESTTESTTEST"
FAKE_SECRET = "test-secret-key-not-real-0000000000000000"


@pytest.fixture(autouse=True)
def _no_real_aws(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Strip every AWS_* variable and point the AWS config at empty files, then set fakes.

    No real credentials can reach a test, and clients built with the standard chain
    get the fake pair below (the simulator accepts any signature unless told otherwise).
    """
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("awshome")
    (home / "config").write_text("")
    (home / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Undo any logging configuration a test made (a command run in-process configures
    structlog to write to that test's captured stderr, closed once the test ends)."""
    yield
    structlog.reset_defaults()


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    """A permissive simulator on 127.0.0.1 with a free port, in this test's event loop."""
    from turkbatch.sim import Simulator

    async with Simulator() as server:
        yield server


@pytest.fixture
def sim_process() -> Iterator[Callable[..., str]]:
    """Start ``turkbatch sim`` subprocesses on free loopback ports; yields a starter.

    ``start("--latency", "50")`` returns the endpoint URL; every process is stopped after
    the test.
    """
    procs: list[subprocess.Popen[str]] = []

    def start(*flags: str) -> str:
        proc = subprocess.Popen(
            [sys.executable, "-m", "turkbatch", "sim", "--port", "0", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        return url

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)
