"""Run a simulator on its own event loop in a background thread, for synchronous code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from turkbatch.sim.server import Simulator


@contextmanager
def simulator_in_thread(**kwargs: Any) -> Iterator[Simulator]:
    """
    Serve a :class:`Simulator` from a daemon thread while the ``with`` block runs.

    For synchronous callers such as boto3 or the AWS CLI driven from plain tests::

        with simulator_in_thread(faults=FaultSettings(fault_rate=0.1)) as sim:
            boto3.client("mturk", endpoint_url=sim.endpoint_url, ...)

    The simulator's state belongs to its thread: while requests are in flight, steer it
    through the admin API (:class:`~turkbatch.sim.admin.SimAdmin`, ``/_turkbatch/``)
    rather than mutating ``sim.world`` or ``sim.faults`` from the caller's thread.

    Args:
        kwargs: passed to :class:`Simulator`.

    Raises:
        OSError: the simulator could not bind.
    """
    sim = Simulator(**kwargs)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(sim.start())
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(sim.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=main, name="turkbatch-sim", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        thread.join()
        raise failure[0]
    try:
        yield sim
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
