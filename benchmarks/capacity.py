"""
How much the simulator can serve, against what one aiobotocore process can ask of it.

If the simulator serves several times what one client process can send, then every
client-side figure measures the client, not the simulator. Both loads replay
GetAccountBalance (the cheapest call, so the server's own cost dominates) from a process
of their own, for the same time, over the same number of connections.
"""

from __future__ import annotations

from benchmarks.children import ChildError, python, run_json_child
from benchmarks.measurement import Bench, Figure, Measurement, say


def _load(bench: Bench, kind: str) -> dict[str, float]:
    """Run one load (``raw`` or ``balance``) against a reset simulator; add its CPU use."""
    s = bench.scale
    say(
        f"simulator capacity: {kind} load, {s.capacity_seconds:g} s, {s.capacity_concurrency} conns"
    )
    bench.sim.reset()
    args = python("-m", "benchmarks.loads", kind, bench.sim.url)
    args += ["--seconds", f"{s.capacity_seconds:g}", "--concurrency", str(s.capacity_concurrency)]
    cpu = bench.sim.cpu_seconds()
    figures, _ = run_json_child(args, timeout=s.timeout)
    figures["simulator_cpu_s"] = round(bench.sim.cpu_seconds() - cpu, 2)
    received = bench.sim.totals()["received"]
    if figures["errors"] or received < figures["requests"]:
        raise ChildError(f"{kind} load: {figures} but the simulator received {received}")
    return figures


def sim_capacity(bench: Bench) -> Measurement:
    """Simulator requests/s under a raw-socket load ÷ under one aiobotocore process."""
    raw = _load(bench, "raw")
    client = _load(bench, "balance")
    figure = Figure(
        key="sim_capacity_ratio",
        value=raw["per_s"] / client["per_s"],
        baseline=f"raw {raw['per_s']:.0f} vs aiobotocore {client['per_s']:.0f} req/s "
        f"({bench.scale.capacity_concurrency} connections)",
    )
    return Measurement(figures=[figure], details={"raw": raw, "aiobotocore": client})
