"""The public surface of `vexil.service` and `vexil.store`: `__all__`, merge patch, secrets, principals."""

from __future__ import annotations

from typing import Any

import pytest

import vexil.service
import vexil.store
from vexil.service import KEY_PREFIXES, KeyKind, Principal, Role, Secret, merge_patch
from vexil.service._access import new_secret

# RFC 7396, appendix A: (target, patch, result).
RFC_7396_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC_7396_EXAMPLES)
def test_merge_patch_follows_rfc_7396(target: Any, patch: Any, result: Any) -> None:
    before = repr(target)
    assert merge_patch(target, patch) == result
    assert repr(target) == before  # inputs are never mutated


def test_public_names_are_exported_and_exist() -> None:
    for module in (vexil.service, vexil.store):
        assert sorted(module.__all__) == sorted(set(module.__all__))
        for name in module.__all__:
            assert getattr(module, name) is not None, name
    for name in ("Service", "Store", "Tx", "Conflict", "ValidationFailed", "NotFound", "Principal"):
        assert name in vexil.service.__all__
    assert {"open_store", "SqliteStore", "PostgresStore"} <= set(vexil.store.__all__)


def test_secrets_are_masked_and_prefixed_by_kind() -> None:
    for kind in KeyKind:
        secret = new_secret(kind)
        value = secret.reveal()
        assert value.startswith(KEY_PREFIXES[kind]) and len(value) > 40
        assert value not in repr(secret) and value not in str(secret) and value not in f"{secret}"
        assert secret == Secret(value) and secret != new_secret(kind)


def test_principal_permissions() -> None:
    everything = Principal(name="a", kind=KeyKind.ADMIN, role=Role.ADMIN)
    scoped_writer = Principal(name="w", kind=KeyKind.ADMIN, role=Role.WRITER, projects=frozenset({"p"}))
    server = Principal(name="s", kind=KeyKind.SERVER, project="p", environment="prod", environment_id=3)
    assert everything.can_admin() and everything.can_write("x") and everything.unscoped
    assert scoped_writer.can_read("p") and scoped_writer.can_write("p") and not scoped_writer.can_admin("p")
    assert not scoped_writer.can_read("q") and not scoped_writer.can_admin() and not scoped_writer.unscoped
    assert not server.can_read("p") and server.can_read_environment("p", "prod")
    assert not server.can_read_environment("p", "dev")
    assert Principal.system().can_admin()
