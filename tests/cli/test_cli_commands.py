"""The operator commands, run as the real `vexil` console script against a real `vexil serve`: login and
profiles, projects, envs, flags (and toggle/rollout/target/eval), segments, keys, audit, and errors that
are one readable line with a non-zero exit."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from cli_support import Cli, Server, login, running_server
from click.testing import CliRunner

from vexil.cli.main import cli as vexil_group
from vexil.engine import Snapshot


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real `vexil serve` (with the demo flags) for this module."""
    with running_server(tmp_path_factory.mktemp("server"), "--demo") as running:
        yield running


@pytest.fixture(scope="module")
def cli(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The `vexil` console script with its own config directory, logged in to `server`."""
    return login(server, tmp_path_factory.mktemp("config"))


def test_login_writes_a_private_profile_and_variables_override_it(server: Server, tmp_path: Path) -> None:
    cli = Cli(tmp_path, tmp_path, {})
    cli("login", "--url", "http://127.0.0.1:1", "--key", "-", stdin="x\n", expect=1)
    assert not (tmp_path / "vexil" / "profiles.json").exists()  # a key that does not work is not stored
    wrong = cli("login", "--url", server.url, "--key", "-", stdin="vxa_wrong\n", expect=1)
    assert wrong.stderr.startswith("vexil: 401 unauthorized:"), wrong.stderr
    cli(
        "login",
        "--url",
        server.url,
        "--key",
        "-",
        "--profile",
        "ops",
        "-p",
        "default",
        stdin=server.admin_key,
    )
    path = tmp_path / "vexil" / "profiles.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    stored = json.loads(path.read_text())
    assert stored["current"] == "ops"
    assert stored["profiles"]["ops"] == {"url": server.url, "key": server.admin_key, "project": "default"}
    assert "default" in [p["key"] for p in cli("projects", "list", "--json").json()]
    # VEXIL_URL wins over the profile (here: nothing listens there), VEXIL_KEY too.
    dead = cli("projects", "list", env={"VEXIL_URL": "http://127.0.0.1:9"}, expect=1)
    assert dead.stderr.startswith("vexil: cannot reach http://127.0.0.1:9"), dead.stderr
    assert len(dead.stderr.strip().splitlines()) == 1
    cli("projects", "list", env={"VEXIL_KEY": "vxa_nope"}, expect=1)
    missing = cli("projects", "list", "--profile", "nope", expect=1)
    assert "no profile named 'nope'" in missing.stderr
    # Without any profiles file, the two variables are enough (CI).
    bare = Cli(tmp_path / "empty", tmp_path, {"VEXIL_URL": server.url, "VEXIL_KEY": server.admin_key})
    assert bare("envs", "list", "--json").json()[0]["key"] == "development"
    unset = Cli(tmp_path / "empty", tmp_path, {})("projects", "list", expect=1)
    assert "vexil login" in unset.stderr


def test_projects_and_environments(cli: Cli) -> None:
    created = cli("projects", "create", "cmd-shop", "--name", "Shop", "--json").json()
    assert (created["key"], created["name"]) == ("cmd-shop", "Shop")
    assert "cmd-shop" in cli("projects", "list").stdout
    assert "name: Shop" in cli("projects", "get", "cmd-shop").stdout
    envs = cli("envs", "list", "-p", "cmd-shop", "--json").json()
    assert [(e["key"], e["critical"]) for e in envs] == [("development", False), ("production", True)]
    cli("envs", "create", "staging", "-p", "cmd-shop", "--name", "Staging")
    assert cli("envs", "get", "staging", "-p", "cmd-shop", "--json").json()["name"] == "Staging"
    refused = cli("envs", "delete", "staging", "-p", "cmd-shop", expect=1)  # no --yes, no terminal
    assert "Aborted" in refused.stderr
    assert "staging" in cli("envs", "list", "-p", "cmd-shop").stdout
    cli("envs", "delete", "staging", "-p", "cmd-shop", "--yes")
    assert "staging" not in cli("envs", "list", "-p", "cmd-shop").stdout
    conflict = cli("projects", "create", "cmd-shop", expect=1)
    assert conflict.stderr.startswith("vexil: 409 conflict: "), conflict.stderr
    assert len(conflict.stderr.strip().splitlines()) == 1
    assert cli("projects", "delete", "cmd-shop", "-y", "--json").json() == {
        "deleted": "project",
        "key": "cmd-shop",
    }
    gone = cli("projects", "get", "cmd-shop", expect=1)
    assert gone.stderr.strip() == "vexil: 404 not found: project 'cmd-shop' not found"


def test_flags_targeting_and_remote_eval(cli: Cli, server: Server) -> None:
    cli("projects", "create", "cmd-flags")
    p = ("-p", "cmd-flags")
    cli(
        "flags",
        "create",
        "checkout",
        *p,
        "--description",
        "New checkout",
        "--tag",
        "web",
        "--variations",
        "[false, true]",
    )
    cli("flags", "create", "theme", *p, "--variations", '["light", "dark"]', "--client-side")
    listing = cli("flags", "list", *p).stdout
    assert "checkout" in listing and "bool" in listing and "string" in listing and "off" in listing
    flag = cli("flags", "get", "checkout", *p, "--json").json()
    assert flag["variations"] == [False, True] and flag["tags"] == ["web"]
    assert set(flag["environments"]) == {"development", "production"}

    cli("flags", "toggle", "checkout", *p, "--env", "production", "--on", "-m", "launch day")
    assert cli("flags", "get", "checkout", *p, "--env", "production", "--json").json()["environments"][
        "production"
    ]["on"]
    audit = cli("audit", "-p", "cmd-flags", "--flag", "checkout", "--json").json()
    assert audit[0]["comment"] == "launch day" and audit[0]["environment"] == "production"

    cli("flags", "rollout", "checkout", *p, "--env", "production", "--percent", "25")
    fallthrough = cli("flags", "get", "checkout", *p, "--json").json()["environments"]["production"][
        "fallthrough"
    ]
    assert fallthrough == {
        "rollout": {"variations": [{"variation": 1, "weight": 25000}, {"variation": 0, "weight": 75000}]}
    }
    not_bool = cli("flags", "rollout", "theme", *p, "--env", "production", "--percent", "5", expect=1)
    assert "not boolean" in not_bool.stderr

    cli("flags", "target", "checkout", *p, "--env", "production", "--add", "u1", "--add", "u2")
    u1 = cli("flags", "eval", "checkout", *p, "--env", "production", "--context", '{"key": "u1"}').json()
    assert u1 == {"value": True, "variation": 1, "reason": {"kind": "TARGET_MATCH"}}
    cli("flags", "target", "theme", *p, "--env", "production", "--add", "u1", "--variation", "dark")
    cli("flags", "toggle", "theme", *p, "--env", "production", "--on")
    assert (
        cli("flags", "eval", "theme", *p, "--env", "production", "--context", '{"key": "u1"}').json()["value"]
        == "dark"
    )
    cli("flags", "target", "checkout", *p, "--env", "production", "--remove", "u1")
    targets = cli("flags", "get", "checkout", *p, "--json").json()["environments"]["production"]["targets"]
    assert targets == [{"variation": 1, "values": ["u2"]}]

    # Remote eval sees exactly what the environment's SDKs get.
    key = cli("keys", "create", "--name", "sdk", "--kind", "server", *p, "--env", "production").stdout.strip()
    with server.api() as api:
        served = api.get("/sdk/v1/snapshot", headers={"Authorization": f"Bearer {key}"}).json()
    document = served["document"]
    every = cli("flags", "eval", *p, "--env", "production", "--all", "--context", '{"key": "u2"}').json()
    expected = Snapshot.from_document(document).evaluate_all({"key": "u2"})
    assert every == {name: result.to_dict() for name, result in expected.items()}

    unknown = cli("flags", "eval", "nope", *p, "--env", "production", "--context", "{}", expect=1)
    assert unknown.stderr.strip() == "vexil: 404 not found: flag 'cmd-flags/nope' not found"
    bad_context = cli("flags", "eval", "checkout", *p, "--env", "production", "--context", "{nope", expect=1)
    assert bad_context.stderr.startswith("vexil: --context: invalid JSON"), bad_context.stderr
    cli("flags", "delete", "theme", *p, "--yes")
    assert "theme" not in cli("flags", "list", *p).stdout


def test_segments_keys_and_audit(cli: Cli, server: Server, tmp_path: Path) -> None:
    cli("projects", "create", "cmd-seg")
    p = ("-p", "cmd-seg", "--env", "production")
    cli("segments", "create", "beta", *p, "--include", "u1", "--include", "u2", "--description", "Beta")
    assert cli("segments", "get", "beta", *p, "--json").json()["included"] == ["u1", "u2"]
    assert "beta" in cli("segments", "list", *p).stdout
    body = tmp_path / "staff.yaml"
    body.write_text(
        "rules:\n  - clauses:\n      - {attribute: email, op: ends_with, values: ['@example.com']}\n"
    )
    cli("segments", "create", "staff", *p, "--from-file", str(body))
    assert cli("segments", "get", "staff", *p, "--json").json()["rules"][0]["clauses"][0]["op"] == "ends_with"
    body.write_text("rules: 5\n")
    invalid = cli("segments", "create", "broken", *p, "--from-file", str(body), expect=1)
    assert invalid.stderr.startswith("vexil: 422 invalid: validation failed: segments.broken.rules"), (
        invalid.stderr
    )
    cli("segments", "delete", "staff", *p, "-y")
    assert [s["key"] for s in cli("segments", "list", *p, "--json").json()] == ["beta"]

    created = cli(
        "keys", "create", "--name", "ci", "--kind", "admin", "--role", "reader", "--scope", "cmd-seg"
    )
    secret = created.stdout.strip()
    assert secret.startswith("vxa_") and "shown only now" in created.stderr
    listed = cli("keys", "list", "--json").json()
    mine = next(k for k in listed if k["name"] == "ci")
    assert mine["projects"] == ["cmd-seg"] and "key" not in mine
    assert cli("keys", "get", str(mine["id"]), "--json").json()["role"] == "reader"
    reader = Cli(tmp_path / "reader", tmp_path, {"VEXIL_URL": server.url, "VEXIL_KEY": secret})
    refused = reader("flags", "create", "x", "-p", "cmd-seg", expect=1)
    assert refused.stderr.startswith("vexil: 403 forbidden:"), refused.stderr
    cli("keys", "delete", str(mine["id"]), "--yes", "-m", "rotated")
    assert "ci" not in cli("keys", "list").stdout
    assert "ci" in cli("keys", "list", "--all").stdout

    recent = cli("audit", "--since", "1h", "-p", "cmd-seg", "--json").json()
    assert {(e["kind"], e["resource"]) for e in recent} >= {("segment", "beta"), ("segment", "staff")}
    assert cli("audit", "--since", "2999-01-01", "-p", "cmd-seg", "--json").json() == []
    assert "segment" in cli("audit", "-p", "cmd-seg", "--limit", "3").stdout
    cli("audit", "--since", "yesterday", expect=2)  # a usage error (click's exit status)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


def test_every_operator_command_has_help_with_examples() -> None:
    runner = CliRunner()
    engine_commands = {("validate",), ("eval",), ("serve",), ("migrate",)}
    commands = [c for c in _commands(vexil_group) if c not in engine_commands]
    assert ("flags", "eval") in commands and ("apply",) in commands and ("codegen",) in commands
    for command in commands:
        result = runner.invoke(vexil_group, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        group_level = isinstance(vexil_group.get_command(click.Context(vexil_group), command[0]), click.Group)
        if len(command) == 1 and group_level:
            assert "Examples:" in result.output, command
        elif command[-1] not in {"list", "get"}:
            assert "Example" in result.output, command
