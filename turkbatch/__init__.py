"""turkbatch: bulk Amazon Mechanical Turk requester operations, exactly once."""

from __future__ import annotations

from importlib.metadata import version

__version__ = version("turkbatch")
__all__ = ["__version__"]
