"""Tests for the simulator's admin API (turkbatch.sim.control) through SimAdmin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from turkbatch.sim import Clock, FaultSettings, SimAdmin, Simulator, WorkforceSettings, World
from turkbatch.sim.admin import SimAdminError
from turkbatch.sim.wire import JSON_11, TARGET_PREFIX

WORKER = "A1B2C3D4E5F6G7"
ASSIGNMENT = "3ASSIGNMENT0000000000000000001"


@pytest.fixture
async def admin(sim: Simulator) -> AsyncIterator[SimAdmin]:
    """A SimAdmin client for the ``sim`` fixture."""
    async with SimAdmin(sim.endpoint_url) as client:
        yield client


async def call(sim: Simulator, operation: str, params: dict[str, object]) -> int:
    """Make one API call with a raw HTTP client and return its status."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            sim.endpoint_url,
            data=orjson.dumps(params),
            headers={"Content-Type": JSON_11, "X-Amz-Target": TARGET_PREFIX + operation},
        ) as response,
    ):
        await response.read()
        return response.status


def send_bonus(token: str) -> dict[str, object]:
    """Return SendBonus parameters with ``token``."""
    return {
        "WorkerId": WORKER,
        "AssignmentId": ASSIGNMENT,
        "BonusAmount": "2.00",
        "Reason": "thanks",
        "UniqueRequestToken": token,
    }


async def test_health_and_ledger(sim: Simulator, admin: SimAdmin) -> None:
    """health answers; the ledger is the world's, and shows committed calls."""
    assert (await admin.health())["status"] == "ok"
    assert await admin.ledger() == sim.world.ledger()
    assert await call(sim, "SendBonus", send_bonus("a")) == 200
    assert await admin.ledger() == sim.world.ledger()
    assert len((await admin.ledger())["bonuses"]) == 1


async def test_counters_count_api_calls_but_not_admin_calls(
    sim: Simulator, admin: SimAdmin
) -> None:
    """Counters reflect each outcome per operation; admin requests are not counted."""
    assert await call(sim, "GetAccountBalance", {}) == 200
    assert await call(sim, "SendBonus", {"BonusAmount": "1"}) == 400
    await admin.faults()
    await admin.clock()
    counters = await admin.counters()
    assert counters["operations"]["GetAccountBalance"]["succeeded"] == 1
    assert counters["operations"]["SendBonus"]["errors"] == 1
    assert counters["totals"]["received"] == 2


async def test_faults_change_at_run_time(sim: Simulator, admin: SimAdmin) -> None:
    """POST faults merges settings, takes effect at once, and GET shows them."""
    assert (await admin.faults())["fault_rate"] == 0.0
    new = await admin.set_faults(fault_rate=1.0, op_throttle={"SendBonus": "5:10"})
    assert new["fault_rate"] == 1.0
    assert new["op_throttle"] == {"SendBonus": {"rate": 5.0, "burst": 10.0}}
    assert await admin.faults() == new
    assert await call(sim, "GetAccountBalance", {}) == 500
    await admin.set_faults(fault_rate=0.0, unavailable_rate=1.0)
    assert await call(sim, "GetAccountBalance", {}) == 503
    counters = await admin.counters()
    assert counters["operations"]["GetAccountBalance"]["faulted"] == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"no_such_setting": 1},
        {"fault_rate": 2},
        {"fault_rate": "high"},
        {"op_throttle": {"NoSuchOperation": 1}},
    ],
)
async def test_bad_fault_settings_are_400(admin: SimAdmin, bad: dict[str, object]) -> None:
    """Bad settings are refused with a 400 and the settings stay as they were."""
    before = await admin.faults()
    with pytest.raises(SimAdminError) as info:
        await admin.set_faults(**bad)
    assert info.value.status == 400
    assert await admin.faults() == before


async def test_admin_is_never_throttled_faulted_or_signature_checked() -> None:
    """With every fault on and signatures required, the admin API still answers."""
    faults = FaultSettings(throttle_rate=0, throttle_burst=0, latency_ms=5000)
    async with (
        Simulator(faults=faults, credentials=("AKIDADMINTEST", "secret")) as sim,
        SimAdmin(sim.endpoint_url, timeout=2) as admin,
    ):
        assert (await admin.health())["status"] == "ok"
        await admin.set_faults(throttle_rate=None, throttle_burst=None, fault_rate=1.0)
        assert (await admin.faults())["fault_rate"] == 1.0


async def test_clock_advances_on_request(sim: Simulator, admin: SimAdmin) -> None:
    """POST clock moves the simulated time forward; backwards is refused."""
    before = await admin.clock()
    assert before["offset"] == 0.0
    after = await admin.advance(86_400)
    assert after["offset"] == 86_400.0
    assert after["now"] - before["now"] >= 86_400
    assert sim.clock.offset == 86_400.0
    with pytest.raises(SimAdminError) as info:
        await admin.advance(-1)
    assert info.value.status == 400


async def test_reset_restores_world_and_counters_and_optionally_faults() -> None:
    """reset: world and counters back to the start; faults kept unless asked."""
    async with (
        Simulator(faults=FaultSettings(seed=4)) as sim,
        SimAdmin(sim.endpoint_url) as admin,
    ):
        initial = await admin.ledger()
        assert await call(sim, "SendBonus", send_bonus("r1")) == 200
        await admin.set_faults(latency_ms=1)
        assert await admin.ledger() != initial
        result = await admin.reset()
        assert result["faults"]["latency_ms"] == 1
        assert await admin.ledger() == initial
        assert (await admin.counters())["totals"]["received"] == 0
        # the token store was reset too: the same token pays again
        assert await call(sim, "SendBonus", send_bonus("r1")) == 200
        result = await admin.reset(faults=True)
        assert result["faults"] == FaultSettings(seed=4).to_json()


async def test_world_options_at_run_time(sim: Simulator, admin: SimAdmin) -> None:
    """POST world toggles trailing_next_token on the running world."""
    assert await admin.set_world(trailing_next_token=True) == {
        "strict": False,
        "trailing_next_token": True,
    }
    assert sim.world.trailing_next_token is True
    assert await call(sim, "CreateWorkerBlock", {"WorkerId": WORKER, "Reason": "spam"}) == 200
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            sim.endpoint_url,
            data=b"{}",
            headers={"Content-Type": JSON_11, "X-Amz-Target": TARGET_PREFIX + "ListWorkerBlocks"},
        ) as response,
    ):
        page = await response.json(content_type=None)
    assert page["NumResults"] == 1
    assert "NextToken" in page
    assert await admin.set_world(trailing_next_token=False) == {
        "strict": False,
        "trailing_next_token": False,
    }


async def test_unknown_paths_methods_and_bodies(sim: Simulator) -> None:
    """Unknown admin paths are 404, wrong methods 405, bad bodies 400, all JSON with ids."""
    base = sim.endpoint_url + "/_turkbatch/"
    async with aiohttp.ClientSession() as http:
        for method, path, body, status in (
            ("GET", "nothing", None, 404),
            ("DELETE", "ledger", None, 405),
            ("POST", "clock", b"[1]", 400),
            ("POST", "clock", b"{bad", 400),
            ("POST", "reset", b'{"faults": "yes"}', 400),
        ):
            async with http.request(method, base + path, data=body) as response:
                assert response.status == status, (method, path)
                assert response.headers["x-amzn-RequestId"]
                assert "error" in await response.json()


async def test_close_is_idempotent(sim: Simulator) -> None:
    """SimAdmin.close() may be called twice, and before any request."""
    admin = SimAdmin(sim.endpoint_url)
    await admin.close()
    await admin.health()
    await admin.close()
    await admin.close()


async def test_workforce_settings_are_read_through_the_admin_api(admin: SimAdmin) -> None:
    """GET workforce says None for the default world and the settings of a workforce."""
    assert await admin.workforce() is None
    settings = WorkforceSettings(workers=3, seed=8, find_seconds=30)
    world = World(clock=Clock(), workforce=settings)
    async with Simulator(world=world) as staffed, SimAdmin(staffed.endpoint_url) as other:
        assert await other.workforce() == settings.to_json()
