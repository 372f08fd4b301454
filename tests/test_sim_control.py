"""Tests for turkbatch.sim.control: it sees the simulator through a narrow interface."""

from __future__ import annotations

import ast
from pathlib import Path

import turkbatch.sim
from turkbatch.sim import Simulator
from turkbatch.sim.control import Steerable

SIM = Path(turkbatch.sim.__file__).parent


def imports_of(path: Path) -> set[str]:
    """Return the turkbatch.sim modules a file imports, TYPE_CHECKING blocks included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if (SIM / f"{n.rpartition('.')[2]}.py").exists())
    return {n.rpartition(".")[2] for n in found if n.startswith("turkbatch.sim.")}


def test_the_simulator_package_has_no_import_cycle() -> None:
    """No module of turkbatch.sim imports, even for typing only, one that imports it back
    (control and server used to: issue 13)."""
    graph = {path.stem: imports_of(path) for path in SIM.glob("*.py")}
    assert "server" not in graph["control"]

    def visit(node: str, trail: tuple[str, ...]) -> None:
        assert node not in trail, " → ".join((*trail, node))
        for nxt in graph.get(node, ()):
            visit(nxt, (*trail, node))

    for module in graph:
        visit(module, ())


def test_a_simulator_is_steerable() -> None:
    """The server satisfies the narrow interface the admin routes are written against."""
    sim: Steerable = Simulator()
    assert sim.operations() and sim.world.strict is False
