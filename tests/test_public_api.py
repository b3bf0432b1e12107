"""The public surface of each package is exactly its tested `__all__`."""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "vexil.engine": {
        "ALGORITHMS",
        "LAUNCHDARKLY",
        "NATIVE",
        "Context",
        "ErrorKind",
        "Problem",
        "Reason",
        "ReasonKind",
        "Result",
        "SchemaError",
        "Snapshot",
        "bucket",
        "validate_document",
    },
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_all_is_the_public_surface(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == EXPECTED[module_name]
    for name in module.__all__:
        assert getattr(module, name) is not None
    public = {n for n in vars(module) if not n.startswith("_")}
    # Submodules appear as attributes once imported; only their private names are allowed.
    assert public - set(module.__all__) <= {"annotations"}
