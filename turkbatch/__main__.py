"""Entry point for ``python -m turkbatch``."""

from turkbatch.cli import main

raise SystemExit(main())
