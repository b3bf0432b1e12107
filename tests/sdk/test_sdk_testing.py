"""vexil.testing: the flag builder, the in-memory source, and the pytest fixtures (in a real pytest run)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vexil.engine import ErrorKind, ReasonKind, SchemaError, Snapshot
from vexil.sdk import Client, State
from vexil.testing import FlagBuilder, InMemorySource

NZ = {"key": "u9", "country": "NZ"}


def evaluate(builder: FlagBuilder, context: dict[str, str]) -> object:
    return (
        Snapshot.from_document({"flags": {builder.key: builder.build()}}).evaluate(builder.key, context).value
    )


def test_a_new_builder_is_a_boolean_flag_serving_true() -> None:
    built = FlagBuilder("f").build()
    assert built == {
        "key": "f",
        "variations": [True, False],
        "on": True,
        "off_variation": 1,
        "fallthrough": {"variation": 0},
    }
    assert evaluate(FlagBuilder("f").off(), {"key": "u"}) is False


def test_targets_rules_serve_and_off_value() -> None:
    builder = (
        FlagBuilder("f")
        .variations("red", "green", "blue")
        .target("green", "u1", "u2")
        .rule("blue", "country", "in", ["NZ"], rule_id="kiwis")
        .serve("red")
        .off_value("green")
    )
    assert evaluate(builder, {"key": "u1"}) == "green"
    assert evaluate(builder, NZ) == "blue"
    assert evaluate(builder, {"key": "u3", "country": "US"}) == "red"
    assert evaluate(builder.copy().off(), NZ) == "green"
    assert builder.build()["rules"][0]["id"] == "kiwis"


def test_values_not_yet_among_the_variations_are_added_and_true_is_not_one() -> None:
    builder = FlagBuilder("f", variations=[1, 0]).serve(True)
    assert builder.build()["variations"] == [1, 0, True]
    assert evaluate(builder, {"key": "u"}) is True


def test_rollout_and_extra_fields() -> None:
    builder = FlagBuilder("f").rollout({True: 25, False: 75}, bucket_by="key").set("client_side", True)
    built = builder.build()
    assert built["fallthrough"]["rollout"]["variations"] == [
        {"variation": 0, "weight": 25000},
        {"variation": 1, "weight": 75000},
    ]
    assert built["client_side"] is True
    with pytest.raises(ValueError, match="100"):
        FlagBuilder("f").rollout({True: 50})


def test_invalid_flags_are_refused_with_the_engines_problems() -> None:
    flags = InMemorySource()
    with pytest.raises(SchemaError, match="unknown operator"):
        flags.update(FlagBuilder("f").rule(True, "country", "equals", ["NZ"]))
    with pytest.raises(SchemaError, match="unknown segment"):
        flags.update(FlagBuilder("f").rule(True, "", "segment_match", ["nope"]))
    with pytest.raises(SchemaError, match="unknown flag"):
        flags.update(FlagBuilder("f").set("prerequisites", [{"flag": "g", "variation": 0}]))
    flags.set("g", True)
    flags.update(FlagBuilder("f").set("prerequisites", [{"flag": "g", "variation": 0}]))  # now it resolves
    assert flags.client().bool("f", NZ, False) is True
    flags.close()
    with pytest.raises(ValueError, match="at least one"):
        FlagBuilder("f").variations()


def test_the_in_memory_source_updates_clients_synchronously() -> None:
    flags = InMemorySource()
    flags.set("new-checkout", True)
    client = flags.client()
    other = Client.from_source(flags)
    try:
        assert client.bool("new-checkout", NZ, False) is True
        assert client.status().state is State.VALID and client.status().source == "memory"
        flags.set("new-checkout", False)
        assert client.bool("new-checkout", NZ, True) is False  # no waiting: the setter pushed it
        assert other.bool("new-checkout", NZ, True) is False
        flags.update(flags.flag("banner").variations("red", "blue").serve("blue"))
        flags.update(flags.flag("banner").rule("red", "country", "in", ["NZ"]))  # a copy of the last builder
        assert client.string("banner", NZ, "") == "red"
        assert client.string("banner", {"key": "x"}, "") == "blue"
        flags.set("limit", 10)
        assert client.number("limit", NZ, 0) == 10
        flags.delete("limit")
        flags.delete("never-existed")
        assert client.detail("limit", NZ, 0).reason.error_kind is ErrorKind.FLAG_NOT_FOUND
    finally:
        flags.close()
        other.close()
    assert client.status().state is State.CLOSED


def test_raw_flag_documents_and_segments() -> None:
    flags = InMemorySource()
    flags.segment("beta", {"included": ["u9"]})
    flags.update(
        {
            "key": "beta-only",
            "on": True,
            "variations": [False, True],
            "fallthrough": {"variation": 0},
            "rules": [{"clauses": [{"op": "segment_match", "values": ["beta"]}], "serve": {"variation": 1}}],
        }
    )
    client = flags.client()
    assert client.bool("beta-only", NZ, False) is True
    assert client.detail("beta-only", {"key": "u1"}, True).reason.kind is ReasonKind.FALLTHROUGH
    with pytest.raises(SchemaError):
        flags.update({"key": "bad", "variations": []})
    with pytest.raises(SchemaError):
        flags.segment("s", {"included": "u1"})
    assert set(flags.document()["flags"]) == {"beta-only"}
    flags.close()


def test_the_pytest_fixtures_in_a_real_pytest_run(tmp_path: Path) -> None:
    """The plugin as an application's test suite sees it (`-p` here, as `pytest_plugins` in a conftest)."""
    (tmp_path / "test_app.py").write_text(
        textwrap.dedent(
            """
            def checkout_page(client, user):
                return "new" if client.bool("new-checkout", user, False) else "old"

            def test_flag_on(vexil_flags, vexil_client):
                vexil_flags.set("new-checkout", True)
                assert checkout_page(vexil_client, {"key": "u1"}) == "new"

            def test_flag_off_by_default(vexil_client):
                assert checkout_page(vexil_client, {"key": "u1"}) == "old"

            def test_rules(vexil_flags):
                vexil_flags.update(vexil_flags.flag("new-checkout").serve(False).target(True, "vip"))
                client = vexil_flags.client()
                assert checkout_page(client, {"key": "vip"}) == "new"
                assert checkout_page(client, {"key": "other"}) == "old"
            """
        )
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:vexil",
            "-p",
            "vexil.testing.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "test_app.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
