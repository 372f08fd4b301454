"""Tests for turkbatch.sim.server: the wire protocol, errors and faults, over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import boto3  # type: ignore[import-untyped]  # boto3 ships no type information
import orjson
import pytest
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from turkbatch.sim import Clock, FaultSettings, Simulator, World
from turkbatch.sim.background import simulator_in_thread
from turkbatch.sim.faults import Limit
from turkbatch.sim.wire import JSON_11, TARGET_PREFIX

NO_RETRIES = Config(retries={"total_max_attempts": 1})
WORKER = "A1B2C3D4E5F6G7"
ASSIGNMENT = "3ASSIGNMENT0000000000000000001"
CONNECTION_ERRORS = (ConnectionClosedError, EndpointConnectionError)


def boto3_client(sim: Simulator, **kwargs: Any) -> Any:
    """Return a synchronous boto3 MTurk client for ``sim`` (no retries)."""
    options: dict[str, Any] = {
        "region_name": "us-east-1",
        "endpoint_url": sim.endpoint_url,
        "config": NO_RETRIES,
    }
    options.update(kwargs)
    return boto3.session.Session().client("mturk", **options)


@asynccontextmanager
async def aio_client(sim: Simulator, **kwargs: Any) -> AsyncIterator[Any]:
    """Yield an aiobotocore MTurk client for ``sim`` (no retries)."""
    options: dict[str, Any] = {
        "region_name": "us-east-1",
        "endpoint_url": sim.endpoint_url,
        "config": NO_RETRIES,
    }
    options.update(kwargs)
    async with get_session().create_client("mturk", **options) as client:
        yield client


async def raw(
    sim: Simulator,
    body: bytes = b"{}",
    *,
    target: str | None = TARGET_PREFIX + "GetAccountBalance",
    content_type: str | None = JSON_11,
    method: str = "POST",
    path: str = "/",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Send one hand-made request and return (status, headers, parsed JSON body or None)."""
    sent = dict(headers or {})
    if target is not None:
        sent["X-Amz-Target"] = target
    if content_type is not None:
        sent["Content-Type"] = content_type
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, sim.endpoint_url + path, data=body, headers=sent) as response,
    ):
        data = await response.read()
        return (
            response.status,
            dict(response.headers),
            orjson.loads(data) if data else None,
        )


def bonus(amount: str = "1.25", token: str | None = None) -> dict[str, str]:
    """Return SendBonus parameters."""
    params = {
        "WorkerId": WORKER,
        "AssignmentId": ASSIGNMENT,
        "BonusAmount": amount,
        "Reason": "Great work",
    }
    if token is not None:
        params["UniqueRequestToken"] = token
    return params


# --- the happy path ---------------------------------------------------------------------


async def test_boto3_round_trip_with_aws_headers(sim: Simulator) -> None:
    """boto3 gets a parsed answer; the response has AWS's content type and a request id."""
    reply = await asyncio.to_thread(boto3_client(sim).get_account_balance)
    assert reply["AvailableBalance"] == "10000.00"
    meta = reply["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 200
    assert meta["HTTPHeaders"]["content-type"] == JSON_11
    assert len(meta["RequestId"]) == 36
    assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]


async def test_aiobotocore_round_trip_and_fresh_request_ids(sim: Simulator) -> None:
    """aiobotocore calls succeed and every response carries a different request id."""
    async with aio_client(sim) as client:
        replies = await asyncio.gather(*(client.get_account_balance() for _ in range(20)))
    ids = {r["ResponseMetadata"]["RequestId"] for r in replies}
    assert len(ids) == 20
    assert sim.counters.to_json()["totals"]["succeeded"] == 20


async def test_request_error_is_parsed_by_botocore(sim: Simulator) -> None:
    """A world error arrives as RequestError with TurkErrorCode and the epoch-ms suffix."""
    async with aio_client(sim) as client:
        await client.approve_assignment(AssignmentId=ASSIGNMENT)
        before = sim.clock.epoch_ms()
        with pytest.raises(ClientError) as info:
            await client.approve_assignment(AssignmentId=ASSIGNMENT)
    response = info.value.response
    assert response["Error"]["Code"] == "RequestError"
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.InvalidAssignmentState"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["RequestId"]
    message = response["Error"]["Message"]
    assert "This operation can be called with a status of: Submitted" in message
    stamp = int(message.rsplit("(", 1)[1].rstrip(")"))
    assert before <= stamp <= sim.clock.epoch_ms()


# --- validation -------------------------------------------------------------------------


async def test_validation_exception_in_aws_words(sim: Simulator) -> None:
    """A bad BonusAmount is a ValidationException quoting value, member and pattern."""
    async with aio_client(sim) as client:
        with pytest.raises(ClientError) as info:
            await client.send_bonus(**bonus("0.9752"))
    assert info.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value '0.9752' at 'bonusAmount' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: "
        "^[0-9]+(\\.)?[0-9]{0,2}$",
    }
    assert "bonuses" not in sim.world.ledger() or not sim.world.ledger()["bonuses"]


async def test_several_violations_are_listed_together(sim: Simulator) -> None:
    """Every broken constraint is listed, with list members as name.N.member, 1-based."""
    workers = [f"A{i:05d}X" for i in range(100)] + ["a-bad-id"]
    status, _, body = await raw(
        sim,
        orjson.dumps({"Subject": "s" * 201, "MessageText": "hi", "WorkerIds": workers}),
        target=TARGET_PREFIX + "NotifyWorkers",
    )
    assert status == 400
    assert body["__type"] == "ValidationException"
    message = body["Message"]
    assert message.startswith("3 validation errors detected: ")
    assert (
        "at 'subject' failed to satisfy constraint: Member must have length less than or "
        "equal to 200" in message
    )
    assert (
        "at 'workerIds' failed to satisfy constraint: Member must have length less than "
        "or equal to 100" in message
    )
    assert (
        "Value 'a-bad-id' at 'workerIds.101.member' failed to satisfy constraint: Member "
        "must satisfy regular expression pattern" in message
    )


async def test_missing_member_and_unknown_members(sim: Simulator) -> None:
    """A missing required member is 'must not be null'; unknown members are ignored."""
    status, _, body = await raw(
        sim,
        orjson.dumps({"WorkerId": WORKER, "AssignmentId": ASSIGNMENT, "BonusAmount": "1"}),
        target=TARGET_PREFIX + "SendBonus",
    )
    assert (status, body["__type"]) == (400, "ValidationException")
    assert (
        "Value null at 'reason' failed to satisfy constraint: Member must not be null"
        in (body["Message"])
    )
    status, _, body = await raw(sim, b'{"SomethingNew": 1}')
    assert status == 200
    assert "AvailableBalance" in body


async def test_wrong_json_type_is_serialization_exception(sim: Simulator) -> None:
    """A string where an integer belongs never deserializes: SerializationException."""
    status, _, body = await raw(sim, b'{"MaxResults": "ten"}', target=TARGET_PREFIX + "ListHITs")
    assert status == 400
    assert body["__type"] == "com.amazon.coral.service#SerializationException"
    assert body["message"] == "STRING_VALUE can not be converted to an Integer"


# --- bad requests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"body": b"{not json"}, 400, "SerializationException"),
        ({"body": b"[1, 2]"}, 400, "SerializationException"),
        ({"target": TARGET_PREFIX + "MakeMeASandwich"}, 400, "UnknownOperationException"),
        ({"target": "DynamoDB_20120810.ListTables"}, 400, "UnknownOperationException"),
        ({"target": None}, 400, "UnknownOperationException"),
        ({"content_type": "text/plain"}, 400, "UnknownOperationException"),
        ({"content_type": "application/json"}, 400, "UnknownOperationException"),
        ({"content_type": None}, 400, "UnknownOperationException"),
        ({"method": "GET", "body": b""}, 405, "UnknownOperationException"),
        ({"method": "PUT"}, 405, "UnknownOperationException"),
        ({"path": "/v1/anything"}, 404, "UnknownOperationException"),
    ],
)
async def test_bad_requests_get_json_errors(
    sim: Simulator, kwargs: dict[str, Any], status: int, code: str
) -> None:
    """Every malformed request gets AWS-style JSON with a request id, never a 500."""
    got, headers, body = await raw(sim, **kwargs)
    assert got == status
    assert headers["Content-Type"] == JSON_11
    assert headers["x-amzn-RequestId"]
    assert body["__type"] == f"com.amazon.coral.service#{code}"
    assert body["message"]


async def test_json_10_content_type_and_empty_body_are_accepted(sim: Simulator) -> None:
    """application/x-amz-json-1.0 and an empty body (no parameters) are served."""
    status, headers, body = await raw(sim, b"", content_type="application/x-amz-json-1.0")
    assert status == 200
    assert headers["Content-Type"] == JSON_11
    assert "AvailableBalance" in body


async def test_oversized_bodies_get_413() -> None:
    """Bodies over the cap get 413 JSON, whether or not Content-Length announced them."""
    async with Simulator(max_body=1000) as small:
        big = orjson.dumps({"Reason": "x" * 2000})
        status, headers, body = await raw(small, big)
        assert status == 413
        assert headers["x-amzn-RequestId"]
        assert body["__type"] == "RequestEntityTooLargeException"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b" " * 600

        async with (
            aiohttp.ClientSession() as http,
            http.post(
                small.endpoint_url,
                data=chunks(),
                headers={"Content-Type": JSON_11, "X-Amz-Target": TARGET_PREFIX + "ListHITs"},
            ) as response,
        ):
            assert response.status == 413
            assert (await response.json(content_type=None))["__type"] == (
                "RequestEntityTooLargeException"
            )
        status, _, _ = await raw(small, b"{}")
        assert status == 200


async def test_unexpected_world_failure_is_a_logged_service_fault(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the world becomes HTTP 500 ServiceFault, not a traceback on the wire."""

    def broken(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(sim.world, "call", broken)
    status, _, body = await raw(sim)
    assert status == 500
    assert body["__type"] == "ServiceFault"
    assert body["Message"].startswith(
        "Amazon Mechanical Turk is temporarily unable to process your request. "
        "Try your call again. ("
    )
    assert "oops" not in orjson.dumps(body).decode()


# --- faults -----------------------------------------------------------------------------


async def test_throttling_after_the_bucket_empties(sim: Simulator) -> None:
    """With a burst of 3 and no refill, the 4th call is ThrottlingException, HTTP 400."""
    sim.faults = FaultSettings(op_throttle={"SendBonus": Limit(rate=0, burst=3)})
    async with aio_client(sim) as client:
        for i in range(3):
            await client.send_bonus(**bonus(token=f"t{i}"))
        with pytest.raises(ClientError) as info:
            await client.send_bonus(**bonus(token="t3"))
        await client.get_account_balance()  # other operations are not limited
    error = info.value.response
    assert error["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    counts = sim.counters.to_json()["operations"]["SendBonus"]
    assert (counts["received"], counts["succeeded"], counts["throttled"]) == (4, 3, 1)


async def test_overall_throttle_refills_at_its_rate() -> None:
    """The overall bucket lets a burst through, throttles, then refills at ``rate``."""
    async with Simulator(faults=FaultSettings(throttle_rate=20, throttle_burst=2)) as sim:
        statuses = [(await raw(sim))[0] for _ in range(3)]
        assert statuses == [200, 200, 400]
        await asyncio.sleep(0.1)
        assert (await raw(sim))[0] == 200


async def test_service_fault_commits_nothing(sim: Simulator) -> None:
    """fault_rate=1: every call is a 500 ServiceFault and the world never sees it."""
    sim.faults = FaultSettings(fault_rate=1.0)
    async with aio_client(sim) as client:
        with pytest.raises(ClientError) as info:
            await client.send_bonus(**bonus())
    assert info.value.response["Error"]["Code"] == "ServiceFault"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    sim.faults = FaultSettings()
    assert not sim.world.ledger().get("bonuses")


async def test_unavailable_is_503_with_an_empty_body(sim: Simulator) -> None:
    """unavailable_rate=1: HTTP 503, empty body, which botocore reports as code '503'."""
    sim.faults = FaultSettings(unavailable_rate=1.0)
    status, headers, body = await raw(sim)
    assert (status, body) == (503, None)
    assert headers["x-amzn-RequestId"]
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(boto3_client(sim).get_account_balance)
    assert info.value.response["Error"]["Code"] == "503"


async def test_lost_response_is_committed_but_never_answered(sim: Simulator) -> None:
    """lost_rate=1: botocore sees a connection error, yet the bonus was paid."""
    sim.faults = FaultSettings(lost_rate=1.0)
    async with aio_client(sim) as client:
        with pytest.raises(CONNECTION_ERRORS):
            await client.send_bonus(**bonus(token="lost-1"))
    with pytest.raises(CONNECTION_ERRORS):
        await asyncio.to_thread(boto3_client(sim).send_bonus, **bonus(token="lost-2"))
    sim.faults = FaultSettings()
    ledger = sim.world.ledger()
    assert len(ledger["bonuses"]) == 2
    counts = sim.counters.to_json()["operations"]["SendBonus"]
    assert (counts["received"], counts["lost"], counts["succeeded"]) == (2, 2, 0)


async def test_lost_response_writes_not_a_single_byte(sim: Simulator) -> None:
    """On a raw socket, a lost response is end-of-stream with nothing before it."""
    sim.faults = FaultSettings(lost_rate=1.0)
    host, port = sim.endpoint_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = orjson.dumps(bonus(token="raw-lost"))
    writer.write(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: "
        + JSON_11.encode()
        + b"\r\nX-Amz-Target: "
        + (TARGET_PREFIX + "SendBonus").encode()
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""
    writer.close()
    assert len(sim.world.ledger()["bonuses"]) == 1


async def test_expect_100_continue_is_answered(sim: Simulator) -> None:
    """A client that asks before sending its body (as curl does) is told to go on."""
    host, port = sim.endpoint_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: "
        + JSON_11.encode()
        + b"\r\nX-Amz-Target: "
        + (TARGET_PREFIX + "GetAccountBalance").encode()
        + b"\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    )
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    writer.write(b"{}")
    final = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    assert final.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_latency_is_applied_without_blocking_the_loop() -> None:
    """latency_ms delays each answer, and concurrent requests wait in parallel."""
    async with Simulator(faults=FaultSettings(latency_ms=200)) as sim:
        started = time.monotonic()
        results = await asyncio.gather(*(raw(sim) for _ in range(10)))
        elapsed = time.monotonic() - started
    assert all(status == 200 for status, _, _ in results)
    assert 0.19 < elapsed < 1.0


async def test_same_seed_reproduces_the_same_run() -> None:
    """Two simulators with the same seed fail the same calls; another seed differs."""

    async def outcomes(seed: int) -> list[int]:
        faults = FaultSettings(seed=seed, fault_rate=0.3, unavailable_rate=0.2)
        async with Simulator(faults=faults) as sim:
            return [(await raw(sim))[0] for _ in range(40)]

    first = await outcomes(11)
    assert set(first) == {200, 500, 503}
    assert await outcomes(11) == first
    assert await outcomes(12) != first


# --- lifecycle --------------------------------------------------------------------------


async def test_binds_only_the_given_host_and_stops_cleanly() -> None:
    """The endpoint is on 127.0.0.1, and stopping leaves no task behind."""
    before = asyncio.all_tasks()
    async with Simulator(faults=FaultSettings(latency_ms=10)) as sim:
        assert sim.endpoint_url.startswith("http://127.0.0.1:")
        assert sim.port > 0
        async with aio_client(sim) as client:
            await client.get_account_balance()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == before
    with pytest.raises(aiohttp.ClientConnectionError):
        await raw(sim)


async def test_stopping_cuts_injected_latency_short() -> None:
    """A request sleeping in injected latency does not hold up the simulator's exit."""
    started = time.monotonic()
    async with Simulator(faults=FaultSettings(latency_ms=30_000)) as sim:
        pending = asyncio.create_task(raw(sim))
        await asyncio.sleep(0.2)
    assert time.monotonic() - started < 2.0
    with pytest.raises(aiohttp.ClientError):
        await pending


def test_world_and_simulator_share_one_clock() -> None:
    """The simulator adopts its world's clock, and refuses a different one."""
    clock = Clock()
    world = World(clock=clock)
    assert Simulator(world=world).clock is clock
    fresh = Simulator()
    assert fresh.world.clock is fresh.clock
    with pytest.raises(ValueError, match="share one Clock"):
        Simulator(world=world, clock=Clock())


def test_usable_from_anyio_on_asyncio() -> None:
    """The simulator runs inside anyio code on the asyncio backend."""

    async def main() -> int:
        async with Simulator() as sim:
            status, _, _ = await raw(sim)
            return status

    assert anyio.run(main, backend="asyncio") == 200


def test_background_thread_serves_synchronous_clients() -> None:
    """simulator_in_thread() serves boto3 from a plain synchronous test."""
    with simulator_in_thread() as sim:
        assert "AvailableBalance" in boto3_client(sim).get_account_balance()
        assert sim.counters.to_json()["totals"]["received"] == 1


def test_package_exports_are_honest() -> None:
    """Every name in turkbatch.sim.__all__ exists and is the public class it names."""
    import turkbatch.sim as package

    assert sorted(package.__all__) == [
        "Clock",
        "FaultSettings",
        "SimAdmin",
        "Simulator",
        "WorkforceSettings",
        "World",
    ]
    for name in package.__all__:
        assert getattr(package, name).__name__ == name
