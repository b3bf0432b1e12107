"""The pytest plugin: fixtures that let an application's tests set flags, no server.

Enable it explicitly in a conftest.py: `pytest_plugins = ["vexil.testing.pytest_plugin"]` (no entry point: an
entry point would make pytest rewrite every vexil module it imports).

Fixtures only; every client they create is closed when the test ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vexil.sdk import Client
from vexil.testing._memory import InMemorySource


@pytest.fixture
def vexil_flags() -> Iterator[InMemorySource]:
    """An empty `InMemorySource`: `vexil_flags.set("new-checkout", True)`, `vexil_flags.client()`."""
    source = InMemorySource()
    yield source
    source.close()


@pytest.fixture
def vexil_client(vexil_flags: InMemorySource) -> Client:
    """A ready `Client` reading `vexil_flags`; changes to `vexil_flags` reach it at once."""
    return vexil_flags.client()
