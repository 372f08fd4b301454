"""
The baselines: plain clients, each run as a child process that prints one JSON object.

::

    python -m benchmarks.loads aiobotocore URL JOB --concurrency 32   # bare aiobotocore loop
    python -m benchmarks.loads boto3 URL JOB                          # sequential boto3 loop
    python -m benchmarks.loads raw URL --seconds 5 --concurrency 64   # raw-socket load
    python -m benchmarks.loads balance URL --seconds 5 --concurrency 64  # aiobotocore load

The two loops send exactly the calls ``turkbatch run JOB`` sends (each line's parameters
and a token), with botocore's retries off, and time the calls alone, not the start-up.
``raw`` and ``balance`` replay GetAccountBalance for a while to measure the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from turkbatch.jobs import token_for

REGION = "us-east-1"
TARGET = "MTurkRequesterServiceV20170117.GetAccountBalance"


def _calls(job: Path) -> list[dict[str, Any]]:
    """Return each job line's parameters, with a token as ``turkbatch run`` would add."""
    calls = []
    with job.open("rb") as f:
        for i, line in enumerate(f):
            params = orjson.loads(line)
            del params["op"]
            params.pop("id", None)
            params["UniqueRequestToken"] = token_for(f"baseline-{i}")
            calls.append(params)
    return calls


def _botocore_config(concurrency: int, *, aio: bool) -> Any:
    """Return the client config turkbatch uses: one attempt, a pool of ``concurrency``."""
    retries = {"total_max_attempts": 1, "mode": "standard"}
    if aio:
        from aiobotocore.config import AioConfig

        return AioConfig(retries=retries, max_pool_connections=concurrency)
    from botocore.config import Config

    return Config(retries=retries, max_pool_connections=concurrency)


async def _aiobotocore(url: str, concurrency: int, body: Callable[[Any], Any]) -> dict[str, float]:
    """Open one aiobotocore client and run ``body(client)``, timing only the body."""
    from aiobotocore.session import AioSession

    config = _botocore_config(concurrency, aio=True)
    async with AioSession().create_client(
        "mturk", region_name=REGION, endpoint_url=url, config=config
    ) as client:
        started = time.perf_counter()
        done, errors = await body(client)
        elapsed = time.perf_counter() - started
    return {"requests": done, "errors": errors, "elapsed": elapsed, "per_s": done / elapsed}


async def _together(loops: Iterable[Awaitable[tuple[int, int]]]) -> tuple[int, int]:
    """Run request loops (each returns (done, errors)) concurrently and sum their counts."""
    results = await asyncio.gather(*loops)
    return sum(r[0] for r in results), sum(r[1] for r in results)


def aiobotocore_loop(url: str, job: Path, concurrency: int) -> dict[str, float]:
    """Send every call of ``job`` through ``concurrency`` workers sharing one client."""
    calls = _calls(job)

    async def body(client: Any) -> tuple[int, int]:
        pending: Iterator[dict[str, Any]] = iter(calls)

        async def work() -> tuple[int, int]:
            done = errors = 0
            for params in pending:
                try:
                    await client.send_bonus(**params)
                    done += 1
                except Exception:
                    errors += 1
            return done, errors

        return await _together(work() for _ in range(concurrency))

    return asyncio.run(_aiobotocore(url, concurrency, body))


def boto3_loop(url: str, job: Path) -> dict[str, float]:
    """Send every call of ``job`` one after the other with boto3: what most people run."""
    import boto3

    calls = _calls(job)
    config = _botocore_config(1, aio=False)
    client = boto3.client("mturk", region_name=REGION, endpoint_url=url, config=config)
    done = errors = 0
    started = time.perf_counter()
    for params in calls:
        try:
            client.send_bonus(**params)
            done += 1
        except Exception:
            errors += 1
    elapsed = time.perf_counter() - started
    client.close()
    return {"requests": done, "errors": errors, "elapsed": elapsed, "per_s": done / elapsed}


def balance_load(url: str, seconds: float, concurrency: int) -> dict[str, float]:
    """Replay GetAccountBalance for ``seconds`` through one aiobotocore client."""

    async def body(client: Any) -> tuple[int, int]:
        stop_at = time.perf_counter() + seconds

        async def work() -> tuple[int, int]:
            done = errors = 0
            while time.perf_counter() < stop_at:
                try:
                    await client.get_account_balance()
                    done += 1
                except Exception:
                    errors += 1
            return done, errors

        return await _together(work() for _ in range(concurrency))

    return asyncio.run(_aiobotocore(url, concurrency, body))


def raw_load(url: str, seconds: float, concurrency: int) -> dict[str, float]:
    """Replay one unsigned GetAccountBalance request on raw keep-alive connections."""
    host, _, port = url.removeprefix("http://").partition(":")
    request = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/x-amz-json-1.1\r\n"
        f"X-Amz-Target: {TARGET}\r\nContent-Length: 2\r\n\r\n{{}}"
    ).encode()

    async def main() -> dict[str, float]:
        streams = [await asyncio.open_connection(host, int(port)) for _ in range(concurrency)]
        started = time.perf_counter()
        stop_at = started + seconds
        done, errors = await _together(
            _raw_connection(reader, writer, request, stop_at) for reader, writer in streams
        )
        elapsed = time.perf_counter() - started
        for _, writer in streams:
            writer.close()
        return {"requests": done, "errors": errors, "elapsed": elapsed, "per_s": done / elapsed}

    return asyncio.run(main())


async def _raw_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, stop_at: float
) -> tuple[int, int]:
    """Send ``request`` and read its answer (headers, then Content-Length bytes) until then."""
    done = errors = 0
    while time.perf_counter() < stop_at:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lower = head.lower()
        start = lower.index(b"\r\ncontent-length:") + 17
        await reader.readexactly(int(lower[start : lower.index(b"\r\n", start)]))
        if head.startswith(b"HTTP/1.1 200"):
            done += 1
        else:
            errors += 1
    return done, errors


def main(argv: list[str] | None = None) -> int:
    """Run one baseline and print its figures as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loads")
    parser.add_argument("kind", choices=("aiobotocore", "boto3", "raw", "balance"))
    parser.add_argument("url")
    parser.add_argument("job", nargs="?", type=Path)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.kind in ("aiobotocore", "boto3") and args.job is None:
        parser.error(f"{args.kind} needs a JOB")
    if args.kind == "aiobotocore":
        figures = aiobotocore_loop(args.url, args.job, args.concurrency)
    elif args.kind == "boto3":
        figures = boto3_loop(args.url, args.job)
    elif args.kind == "raw":
        figures = raw_load(args.url, args.seconds, args.concurrency)
    else:
        figures = balance_load(args.url, args.seconds, args.concurrency)
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
