"""Flags as code against real servers: export, plan (exit 0/2), apply in one transaction, idempotency,
--prune, the round trip to an empty server, and the concurrent change that makes apply refuse everything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import Cli, Server, login, running_server

from vexil.cli._docs import parse_yaml


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real `vexil serve` (with the demo flags) for this module."""
    with running_server(tmp_path_factory.mktemp("server"), "--demo") as running:
        yield running


@pytest.fixture(scope="module")
def cli(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The `vexil` console script with its own config directory, logged in to `server`."""
    return login(server, tmp_path_factory.mktemp("config"))


@pytest.fixture
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A fresh server with nothing but the default project."""
    with running_server(tmp_path_factory.mktemp("empty")) as running:
        yield running


def _audit_total(server: Server) -> int:
    with server.api() as api:
        return len(api.get("/api/v1/audit", params={"limit": 500}).json()["items"])


def _edit(path: Path, change: Any) -> None:
    data = parse_yaml(path.read_text(), str(path))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_round_trip_to_an_empty_server_is_identical_and_apply_is_idempotent(
    cli: Cli, server: Server, empty_server: Server, tmp_path: Path
) -> None:
    exported = cli("export").stdout  # the demo project: rules, rollouts, segments, JSON variations
    assert cli("export").stdout == exported  # stable
    data = parse_yaml(exported, "export")
    assert data["format"] == "vexil/v1" and data["project"] == "default"
    assert list(data["flags"]) == sorted(data["flags"]) and data["segments"]["production"]["beta-testers"]
    assert data["flags"]["new-checkout"]["environments"]["production"]["on"] is True
    source = tmp_path / "flags.yaml"
    source.write_text(exported)
    assert cli("plan", "-f", str(source)).stdout.startswith("No changes")

    other = login(empty_server, tmp_path / "other")
    plan = other("plan", "-f", str(source), expect=2)
    assert (
        "+ create flag new-checkout" in plan.stdout
        and "+ create segment beta-testers in production" in plan.stdout
    )
    applied = other("apply", "-f", str(source), "-m", "import")
    assert "Applied to project default" in applied.stdout
    assert other("export").stdout == exported

    entries = _audit_total(empty_server)
    again = other("apply", "-f", str(source))
    assert "No changes" in again.stdout
    assert _audit_total(empty_server) == entries  # a second apply writes nothing
    other("plan", "-f", str(source), "--prune")  # exit 0: nothing to delete either

    # The same file into a project the server does not have yet: created, with the same content.
    other("apply", "-f", str(source), "--project", "copy")
    renamed = exported.replace("project: default", "project: copy").replace("project default", "project copy")
    assert other("export", "-p", "copy").stdout == renamed


def test_plan_apply_and_prune(cli: Cli, server: Server, tmp_path: Path) -> None:
    cli("projects", "create", "fac")
    p = ("-p", "fac")
    cli("flags", "create", "keep", *p)
    cli("flags", "create", "drop", *p)
    cli("segments", "create", "old", *p, "--env", "production", "--include", "u1")
    path = tmp_path / "fac.yaml"
    cli("export", *p, "-o", str(path))

    def edit(data: dict[str, Any]) -> None:
        del data["flags"]["drop"]
        del data["segments"]["production"]["old"]
        data["flags"]["keep"]["description"] = "kept and described"
        data["flags"]["keep"]["environments"]["production"]["on"] = True
        data["flags"]["theme"] = {
            "variations": ["light", "dark"],
            "environments": {"production": {"on": True, "off_variation": 0, "fallthrough": {"variation": 1}}},
        }
        data["segments"]["development"]["new"] = {"included": ["u9"]}

    _edit(path, edit)
    plan = cli("plan", "-f", str(path), expect=2)
    lines = plan.stdout.splitlines()
    assert "+ create flag theme" in lines
    assert "~ replace flag keep" in lines and "    +description: kept and described" in lines
    assert "~ replace targeting keep in production" in lines and '    +"on": true' in lines
    assert "+ create segment new in development" in lines
    assert "Not in the file, kept (--prune deletes them): flag drop, segment old in production" in lines
    assert lines[-1] == "Plan: 2 to create, 3 to change, 0 to delete."
    summary = cli("plan", "-f", str(path), "--json", expect=2).json()["summary"]
    assert summary == {"create": 2, "replace": 3, "delete": 0}

    cli("apply", "-f", str(path))
    assert cli("flags", "get", "keep", *p, "--json").json()["environments"]["production"]["on"] is True
    assert "drop" in cli("flags", "list", *p).stdout  # without --prune nothing is deleted
    cli("plan", "-f", str(path))  # exit 0
    pruning = cli("plan", "-f", str(path), "--prune", expect=2).stdout
    assert "- delete flag drop" in pruning and "- delete segment old in production" in pruning
    result = cli("apply", "-f", str(path), "--prune", "--json").json()
    assert sorted((c["resource"], c["action"], c["key"]) for c in result["applied"]) == [
        ("flag", "delete", "drop"),
        ("segment", "delete", "old"),
    ]
    assert "drop" not in cli("flags", "list", *p).stdout
    cli("plan", "-f", str(path), "--prune")  # exit 0


def test_a_change_between_plan_and_apply_applies_nothing(cli: Cli, server: Server, tmp_path: Path) -> None:
    cli("projects", "create", "race")
    p = ("-p", "race")
    cli("flags", "create", "checkout", *p)
    cli("flags", "create", "banner", *p)
    path = tmp_path / "race.yaml"
    cli("export", *p, "-o", str(path))

    def edit(data: dict[str, Any]) -> None:
        data["flags"]["checkout"]["description"] = "from the file"
        data["flags"]["extra"] = {"variations": [False, True]}

    _edit(path, edit)
    saved = tmp_path / "race.plan.json"
    cli("plan", "-f", str(path), "-o", str(saved), expect=2)
    entries = _audit_total(server)
    # Someone toggles a flag the plan does not even touch.
    with server.api() as api:
        response = api.patch(
            "/api/v1/projects/race/flags/banner/environments/production",
            json={"on": True},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert response.status_code == 200, response.text
    refused = cli("apply", "--plan", str(saved), expect=1)
    assert refused.stderr.startswith("vexil: 409 conflict: nothing applied"), refused.stderr
    assert (
        "environment 'production' changed since the plan" in refused.stderr
        and "flag banner" in refused.stderr
    )
    assert _audit_total(server) == entries + 1  # only the toggle
    assert "extra" not in cli("flags", "list", *p).stdout
    assert "description" not in cli("flags", "get", "checkout", *p, "--json").json()

    # A change to a planned resource itself names that resource.
    cli("plan", "-f", str(path), "-o", str(saved), expect=2)
    cli("flags", "create", "extra", *p)
    refused = cli("apply", "--plan", str(saved), expect=1)
    assert "flag 'extra' already exists (version 1)" in refused.stderr
    # Planning again sees the current state; then apply goes through.
    cli("flags", "delete", "extra", *p, "-y")
    cli("apply", "-f", str(path))
    assert cli("flags", "get", "checkout", *p, "--json").json()["description"] == "from the file"


def test_bad_files_are_refused_before_anything_is_sent(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("format: vexil/v1\nproject: default\nflags:\n  x:\n    variations: [1]\n    on: true\n")
    unknown = cli("plan", "-f", str(path), expect=1)
    assert (
        "flags.x.on: unknown field (targeting: write it under the flag's environments.<env>)"
        in unknown.stderr
    )
    path.write_text(
        "format: vexil/v1\nproject: default\nenvironments: {production: {}}\n"
        "flags:\n  x:\n    variations: [1]\n"
        "    environments:\n      production: {on: true, fallthrough: {variation: 4}}\n"
    )
    invalid = cli("apply", "-f", str(path), expect=1)
    assert (
        "flags.x.fallthrough.variation" in invalid.stderr
        and "(in environment production)" not in invalid.stderr
    )
    path.write_text("flags: [\n")
    broken = cli("plan", "-f", str(path), expect=1)
    assert broken.stderr.startswith("vexil: ") and "invalid YAML" in broken.stderr
    cli("plan", "--nope", expect=1)  # usage mistakes exit 1: 2 means "changes"
    cli("apply", expect=2)  # neither -f nor --plan


def test_the_bulk_endpoint_reports_paths_and_conflicts(server: Server) -> None:
    with server.api() as api:
        api.post("/api/v1/projects", json={"key": "bulk"})
        url = "/api/v1/projects/bulk/apply"
        invalid = api.post(
            url,
            json={
                "changes": [{"resource": "flag", "action": "create", "key": "f", "body": {"variations": []}}]
            },
        )
        assert invalid.status_code == 422, invalid.text
        assert any(e["path"].startswith("flags.f.variations") for e in invalid.json()["errors"]), (
            invalid.json()
        )
        shape = api.post(
            url, json={"changes": [{"resource": "flag", "action": "nope", "key": "f"}], "extra": 1}
        )
        assert shape.status_code == 422 and shape.json()["errors"][0]["path"] == "extra"
        created = api.post(
            url,
            json={
                "changes": [
                    {
                        "resource": "flag",
                        "action": "create",
                        "key": "f",
                        "body": {"variations": [True, False]},
                    }
                ]
            },
        )
        assert created.status_code == 200, created.text
        assert created.json()["applied"] == [
            {"resource": "flag", "action": "create", "key": "f", "environment": None, "version": 1}
        ]
        stale = api.post(
            url,
            json={
                "changes": [
                    {
                        "resource": "flag",
                        "action": "replace",
                        "key": "f",
                        "body": {"variations": [1, 2]},
                        "expected_version": 7,
                    }
                ],
                "snapshot_versions": {"production": 0},
            },
        )
        assert stale.status_code == 409, stale.text
        problem = stale.json()
        assert problem["type"] == "urn:vexil:problem:version-conflict"
        assert {(c["field"], c["key"]) for c in problem["conflicts"]} == {
            ("snapshot_version", "production"),
            ("version", "f"),
        }
        assert {e["path"] for e in problem["errors"]} == {"changes[0]", "snapshot_versions.production"}
        assert api.get("/api/v1/projects/bulk/flags/f").json()["variations"] == [True, False]
        document = api.get("/api/v1/openapi.json").json()
        assert "/api/v1/projects/{project}/apply" in document["paths"]
