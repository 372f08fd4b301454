"""Tests for turkbatch.sim.sigv4, with botocore's signer as the reference."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import boto3  # type: ignore[import-untyped]  # boto3 ships no type information
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from multidict import CIMultiDict, CIMultiDictProxy

from turkbatch.sim import Simulator
from turkbatch.sim.apierror import ApiError
from turkbatch.sim.sigv4 import verify
from turkbatch.sim.wire import JSON_11, TARGET_PREFIX

KEY = "AKIDSIMULATORTEST001"
SECRET = "sim-secret-0123456789abcdefghijklmnopqrstuv"
HOST = "127.0.0.1:8443"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def sign(
    body: bytes = b"{}",
    *,
    key: str = KEY,
    secret: str = SECRET,
    region: str = "us-east-1",
    service: str = "mturk-requester",
    url: str = f"http://{HOST}/",
    target: str = "GetAccountBalance",
) -> dict[str, str]:
    """Return the headers botocore's SigV4 signer puts on an MTurk request (plus Host)."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": JSON_11, "X-Amz-Target": TARGET_PREFIX + target},
    )
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    headers = dict(request.headers.items())
    headers["Host"] = url.split("/")[2]
    return headers


def check(
    headers: dict[str, str],
    body: bytes = b"{}",
    *,
    now: float | None = None,
    query: str = "",
) -> ApiError | None:
    """Run verify() on a request as the server would see it."""
    return verify(
        method="POST",
        raw_path="/",
        query_string=query,
        headers=CIMultiDictProxy(CIMultiDict(headers)),
        body=body,
        credentials={KEY: SECRET},
        now=time.time() if now is None else now,
    )


def code_of(error: ApiError | None) -> str:
    """Return the botocore-visible code of an error."""
    assert error is not None
    assert error.status == 400
    return error.type_.rpartition("#")[2]


# --- verify() against botocore's signer -------------------------------------------------


def test_a_botocore_signature_verifies() -> None:
    """A request signed by botocore with the right secret passes."""
    body = b'{"MaxResults": 10}'
    assert check(sign(body), body) is None


def test_wrong_secret_is_invalid_signature() -> None:
    """A signature made with another secret fails with AWS's text."""
    error = check(sign(secret="not-the-secret"))
    assert code_of(error) == "InvalidSignatureException"
    assert error is not None
    assert error.message.startswith("The request signature we calculated does not match")


def test_tampering_with_body_or_signed_header_breaks_the_signature() -> None:
    """Changing the body or a signed header after signing is detected."""
    headers = sign(b"{}")
    assert code_of(check(headers, b'{"x": 1}')) == "InvalidSignatureException"
    retargeted = dict(headers, **{"X-Amz-Target": TARGET_PREFIX + "SendBonus"})
    assert code_of(check(retargeted)) == "InvalidSignatureException"
    # a header that was not signed may change freely
    assert check(dict(headers, **{"User-Agent": "something else"})) is None


def test_unknown_access_key_is_unrecognized_client() -> None:
    """An access key the simulator does not hold is UnrecognizedClientException."""
    error = check(sign(key="AKIDSOMEONEELSE00000"))
    assert code_of(error) == "UnrecognizedClientException"
    assert error is not None
    assert error.message == "The security token included in the request is invalid."


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"region": "eu-west-1"}, "Credential should be scoped to a valid region, not 'eu-west-1'"),
        ({"service": "mturk"}, "Credential should be scoped to correct service: 'mturk-requester'"),
    ],
)
def test_wrong_scope_is_invalid_signature(kwargs: dict[str, Any], text: str) -> None:
    """A credential scoped to another region or service is refused with AWS's wording."""
    error = check(sign(**kwargs))
    assert code_of(error) == "InvalidSignatureException"
    assert error is not None
    assert text in error.message


def test_dates_more_than_15_minutes_off_real_time_are_refused() -> None:
    """Signatures from 16 minutes ago or 16 minutes ahead are refused; 14 minutes is fine."""
    headers = sign()
    now = time.time()
    expired = check(headers, now=now + 16 * 60)
    assert code_of(expired) == "InvalidSignatureException"
    assert expired is not None
    assert expired.message.startswith("Signature expired: ")
    early = check(headers, now=now - 16 * 60)
    assert early is not None
    assert early.message.startswith("Signature not yet current: ")
    assert check(headers, now=now + 14 * 60) is None


def test_missing_or_garbled_authorization() -> None:
    """No header → MissingAuthenticationToken; a malformed one → IncompleteSignature."""
    headers = sign()
    unsigned = {k: v for k, v in headers.items() if k != "Authorization"}
    assert code_of(check(unsigned)) == "MissingAuthenticationTokenException"
    for bad in ("Basic abc", "AWS4-HMAC-SHA256 Credential=x", "AWS4-HMAC-SHA256 Signature=1"):
        assert code_of(check(dict(headers, Authorization=bad))) == "IncompleteSignatureException"
    no_host = headers["Authorization"].replace("host;", "")
    assert code_of(check(dict(headers, Authorization=no_host))) == "IncompleteSignatureException"
    no_date = {k: v for k, v in headers.items() if k != "X-Amz-Date"}
    assert code_of(check(no_date)) == "IncompleteSignatureException"


def test_query_strings_are_canonicalised_like_botocore() -> None:
    """A signed query string verifies whatever order its pairs arrive in."""
    headers = sign(url=f"http://{HOST}/?b=2&a=1")
    assert check(headers, query="b=2&a=1") is None
    assert check(headers, query="a=1&b=2") is None
    assert code_of(check(headers, query="a=1&b=3")) == "InvalidSignatureException"


# --- end to end -------------------------------------------------------------------------


def boto3_client(sim: Simulator, **kwargs: Any) -> Any:
    """Return a boto3 MTurk client for ``sim`` (credentials and region overridable)."""
    options: dict[str, Any] = {
        "region_name": "us-east-1",
        "endpoint_url": sim.endpoint_url,
        "config": NO_RETRIES,
        "aws_access_key_id": KEY,
        "aws_secret_access_key": SECRET,
    }
    options.update(kwargs)
    return boto3.session.Session().client("mturk", **options)


async def error_code(client: Any) -> str:
    """Call GetAccountBalance in a thread and return the error code it fails with."""
    with pytest.raises(ClientError) as info:
        await asyncio.to_thread(client.get_account_balance)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    code: str = info.value.response["Error"]["Code"]
    return code


async def test_boto3_with_the_right_secret_is_served() -> None:
    """boto3 signing with the simulator's key pair gets an answer, even after the
    simulator's clock moved days ahead (dates are checked against real time)."""
    async with Simulator(credentials=(KEY, SECRET)) as sim:
        sim.clock.advance(3 * 86_400)
        reply = await asyncio.to_thread(boto3_client(sim).get_account_balance)
        assert "AvailableBalance" in reply


async def test_boto3_with_wrong_credentials_or_region_is_refused() -> None:
    """Wrong secret, unknown key, wrong region and no signature at all each fail like AWS."""
    async with Simulator(credentials=(KEY, SECRET)) as sim:
        assert await error_code(boto3_client(sim, aws_secret_access_key="wrong")) == (
            "InvalidSignatureException"
        )
        assert await error_code(boto3_client(sim, aws_access_key_id="AKIDNOBODY")) == (
            "UnrecognizedClientException"
        )
        assert await error_code(boto3_client(sim, region_name="us-west-2")) == (
            "InvalidSignatureException"
        )
        unsigned = boto3_client(
            sim, config=Config(signature_version=UNSIGNED, retries=NO_RETRIES.retries)
        )
        assert await error_code(unsigned) == "MissingAuthenticationTokenException"
        counts = sim.counters.to_json()["operations"]["GetAccountBalance"]
        assert counts == {
            "received": 4,
            "succeeded": 0,
            "errors": 4,
            "throttled": 0,
            "faulted": 0,
            "lost": 0,
        }


async def test_raw_signed_request_over_aiohttp() -> None:
    """A raw HTTP request signed by hand (service name right, then wrong) is checked."""
    async with Simulator(credentials=(KEY, SECRET)) as sim, aiohttp.ClientSession() as http:
        host = sim.endpoint_url.removeprefix("http://")
        for service, status in (("mturk-requester", 200), ("mturk", 400)):
            headers = sign(url=f"http://{host}/", service=service)
            async with http.post(sim.endpoint_url, data=b"{}", headers=headers) as response:
                body = await response.json(content_type=None)
                assert response.status == status, body
                assert response.headers["x-amzn-RequestId"]
        assert body == {
            "__type": "com.amazon.coral.service#InvalidSignatureException",
            "message": "Credential should be scoped to correct service: 'mturk-requester'. ",
        }


async def test_without_credentials_anything_goes() -> None:
    """A simulator started without credentials accepts unsigned and wrongly signed calls."""
    async with Simulator() as sim:
        unsigned = boto3_client(sim, config=Config(signature_version=UNSIGNED))
        assert "AvailableBalance" in await asyncio.to_thread(unsigned.get_account_balance)
        wrong = boto3_client(sim, region_name="eu-west-1", aws_secret_access_key="x")
        assert "AvailableBalance" in await asyncio.to_thread(wrong.get_account_balance)
