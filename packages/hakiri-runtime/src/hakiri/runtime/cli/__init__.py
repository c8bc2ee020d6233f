"""The ``hakiri`` command line. Heavy modules load inside commands, so ``--help`` stays light."""

from hakiri.runtime.cli.root import cli, main

__all__ = ["cli", "main"]
