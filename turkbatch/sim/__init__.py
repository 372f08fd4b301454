"""
turkbatch's MTurk Requester API simulator: a world behind MTurk's wire protocol, on loopback.

::

    async with Simulator(faults=FaultSettings(fault_rate=0.05)) as sim:
        client = session.create_client("mturk", endpoint_url=sim.endpoint_url, ...)
"""

from __future__ import annotations

from turkbatch.sim.admin import SimAdmin
from turkbatch.sim.clock import Clock
from turkbatch.sim.faults import FaultSettings
from turkbatch.sim.server import Simulator
from turkbatch.sim.workforce_settings import WorkforceSettings
from turkbatch.sim.world import World

__all__ = ["Clock", "FaultSettings", "SimAdmin", "Simulator", "WorkforceSettings", "World"]
