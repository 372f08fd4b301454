"""
turkbatch's command line: one module per command, and :mod:`turkbatch.cli.main`, which
parses, dispatches and maps every error a command raises to an exit code in one table.

Commands: ``run`` (send a job), ``plan`` (what it would do and cost), ``status`` and
``report`` (read a journal), ``verify`` (prove a job took effect), ``policy`` (the IAM
policy a job needs), ``skeleton`` (a sample job line), ``job from-csv`` (a job from a
spreadsheet); ``sim`` (the simulator) is :mod:`turkbatch.sim.cli`.

This package's ``__init__`` imports nothing, so ``import turkbatch.cli.options`` loads
only what it names; ``python -m turkbatch`` imports :mod:`turkbatch.cli.main` only once
Ctrl-C can end the process quietly.
"""
