"""The public API of turkbatch/__init__.py: small, and honest about what it exports."""

from __future__ import annotations

import subprocess
import sys

import turkbatch


def test_every_exported_name_resolves() -> None:
    """Each name in __all__ loads, so a renamed or moved name fails here, not in a user's code."""
    for name in turkbatch.__all__:
        assert getattr(turkbatch, name) is not None, name


def test_unknown_names_raise_attribute_error() -> None:
    """A name that is not exported is an AttributeError, like any module's."""
    try:
        turkbatch.not_a_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "not_a_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_importing_the_simulator_does_not_load_the_engine() -> None:
    """``import turkbatch.sim`` stays light: the engine loads only when a name needs it."""
    code = "import sys, turkbatch.sim; print('turkbatch.engine' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_version_is_the_installed_one() -> None:
    """__version__ comes from the installed distribution's metadata."""
    from importlib.metadata import version

    assert turkbatch.__version__ == version("turkbatch")
