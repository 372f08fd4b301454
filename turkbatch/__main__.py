"""Entry point for ``python -m turkbatch`` and the ``turkbatch`` script."""

import signal


def console() -> int:
    """Run the command line; a Ctrl-C while it starts stops it at once, quietly."""
    # Until the command is parsed, SIGINT keeps its default action (end the process, no
    # traceback); turkbatch.cli.main hands Ctrl-C to Python again once it can answer it.
    # (A SIGINT ignored by whoever started us, as for a background job, stays ignored.)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    from turkbatch.cli.main import main

    return main()


if __name__ == "__main__":
    raise SystemExit(console())
