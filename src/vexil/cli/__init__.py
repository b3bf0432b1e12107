"""The `vexil` command line: validate and evaluate flag documents, and (later) serve them.

A thin shell over the engine and the layers below: no flag semantics live here.
"""

from vexil.cli.main import cli, main

__all__ = ["cli", "main"]
