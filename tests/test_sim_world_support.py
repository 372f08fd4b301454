"""Helpers shared by the world's tests: botocore output-shape checks and small worlds."""

from __future__ import annotations

from typing import Any

import botocore.session
import orjson
import pytest

from turkbatch.sim.apierror import ApiError
from turkbatch.sim.clock import Clock
from turkbatch.sim.world import World

MODEL = botocore.session.get_session().get_service_model("mturk")
EXAMPLE = "jobs/world.example.json"

QT_EXPERT = "34JZGVD9GH4LHF0ROZ98LWQ2CWQJ7Z"
QT_STUDY = "3ZK91VJE7YP56XP5OXFIIU24D5HF6X"
HIT = "3S112I3WJH3PN217GVUEQUUXFTKZ5B"
ASSIGNMENTS = [
    "37XX69KX3BP9FNO9P1X3J7UYU2RULH",
    "3R0G69FL03KPJ4857DN3VYXIA95Y0M",
    "391WP0NBY64KVGT9MFI59ODFSN5KF2",
    "39OAIEZ2FO2OG60SUGUDFEBTE6PMJO",
    "3NF4KE372TFBMQND1LL937Z0KFZZ5X",
]
WORKERS = ["AZCXBXCRG86J6G", "AOBD7GCU890ONZ", "AAXNXQ5B3UUT7I", "A4TQ80PU0M5VKU", "ASVNO76CL0GMB0"]
SOFT_WORKER = "ASVNO76CL0GMB0"
UNNOTIFIABLE = "A7ETUGERKQ2JDI"
REQUESTS = [
    "3B2ZKGNNL5VTIP3SGIYAVMBER4HMQ5",
    "3QZXF7VTTEMTO54LXVA3PQ61XRIEA2",
    "3IEHTHS15B1I7HXBY3I21ZWCIGXPKH",
    "3MDGQ4QMMYFOZ2HSRQJRJFTWDRHOI4",
]
QUESTION = (
    '<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
    '2011-11-11/HTMLQuestion.xsd"><HTMLContent><![CDATA[<p>Hi</p>]]></HTMLContent>'
    "<FrameHeight>400</FrameHeight></HTMLQuestion>"
)
HIT_PARAMS: dict[str, Any] = {
    "Title": "Transcribe a receipt",
    "Description": "Type the total from a photo of a receipt.",
    "Reward": "0.25",
    "AssignmentDurationInSeconds": 600,
    "LifetimeInSeconds": 86_400,
    "Question": QUESTION,
}


def example_world(clock: Clock | None = None) -> World:
    """Return the strict world of ``jobs/world.example.json``."""
    return World.from_file(EXAMPLE, clock=clock or Clock())


def call(world: World, operation: str, **params: Any) -> dict[str, Any]:
    """Call an operation and check its output against botocore's output shape."""
    out = world.call(operation, params)
    assert_output(operation, out)
    return out


def error_of(world: World, operation: str, **params: Any) -> ApiError:
    """Call an operation that must fail and return its ApiError."""
    with pytest.raises(ApiError) as caught:
        world.call(operation, params)
    return caught.value


def assert_output(operation: str, output: dict[str, Any]) -> None:
    """Assert ``output`` holds only modelled members with the right JSON types."""
    shape = MODEL.operation_model(operation).output_shape
    orjson.dumps(output)
    if shape is None:
        assert output == {}, operation
        return
    _check(shape, output, operation)


def _check(shape: Any, value: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{path}: expected an object, got {value!r}"
        for name, member in value.items():
            assert name in shape.members, f"{path}.{name} is not in the model"
            _check(shape.members[name], member, f"{path}.{name}")
        for name in shape.required_members:
            assert name in value, f"{path}.{name} is required"
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected a list, got {value!r}"
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]")
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: {value!r}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected a boolean, got {value!r}"
    elif kind == "timestamp":
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}"
    else:  # pragma: no cover - the MTurk model uses no other types
        raise AssertionError(f"{path}: unexpected shape type {kind}")


def test_shape_checker_rejects_unmodelled_members() -> None:
    """The shape checker itself catches an extra member, a wrong type and a bad enum."""
    with pytest.raises(AssertionError):
        assert_output("GetAccountBalance", {"AvailableBalance": "1.00", "Extra": 1})
    with pytest.raises(AssertionError):
        assert_output("GetAccountBalance", {"AvailableBalance": 1.0})
    with pytest.raises(AssertionError):
        assert_output("GetHIT", {"HIT": {"HITStatus": "Sleeping"}})
    with pytest.raises(AssertionError):
        assert_output("SendBonus", {"Unexpected": True})
    assert_output("GetAccountBalance", {"AvailableBalance": "1.00"})
