"""
Hand calls from one of the run's tasks to the next (feed → stage → workers) through a
memory object stream, without a loop pass when no wait is needed.
"""

from __future__ import annotations

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from turkbatch.jobs import Operation


async def take(receive: MemoryObjectReceiveStream[Operation]) -> Operation | None:
    """
    Return the next call handed out, or None once the sender is done.

    A waiting call is taken without a loop pass (``receive`` always makes one): the call
    that follows yields anyway, and a pass per call costs more than the call's own work.
    """
    try:
        return receive.receive_nowait()
    except anyio.WouldBlock:
        pass
    except anyio.EndOfStream:
        return None
    try:
        return await receive.receive()
    except anyio.EndOfStream:
        return None


async def give(send: MemoryObjectSendStream[Operation], item: Operation) -> None:
    """Hand ``item`` on: at once while the buffer has room (no loop pass), else wait."""
    try:
        send.send_nowait(item)
    except anyio.WouldBlock:
        await send.send(item)
