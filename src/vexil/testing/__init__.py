"""Testing helpers for applications that use vexil: an in-memory data source, a flag builder, pytest fixtures.

No server and no network; the pytest fixtures live in `vexil.testing.pytest_plugin` (entry point `vexil`).
"""

from vexil.testing._builder import FlagBuilder
from vexil.testing._memory import InMemorySource

__all__ = ["FlagBuilder", "InMemorySource"]
