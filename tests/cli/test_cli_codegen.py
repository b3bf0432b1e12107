"""`vexil codegen` against a real server: the generated module passes mypy --strict, mypy rejects a program
with a misspelled flag key and a value used as the wrong type, and the accessors answer what the server's
flags say (evaluated by the SDK)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from cli_support import Cli, Server, login, running_server

from vexil.sdk import Client


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real `vexil serve` (with the demo flags) for this module."""
    with running_server(tmp_path_factory.mktemp("server"), "--demo") as running:
        yield running


@pytest.fixture(scope="module")
def cli(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """The `vexil` console script with its own config directory, logged in to `server`."""
    return login(server, tmp_path_factory.mktemp("config"))


GOOD = """\
from vexil.sdk import Client

from app import flags


def use(client: Client) -> None:
    context = {"key": "u1", "plan": "pro"}
    checkout: bool = flags.new_checkout(client, context)
    ranking: str = flags.search_ranking(client, context)
    upload: float = flags.max_upload_mb(client, context)
    banner = flags.maintenance_banner(client, context)
    shown: bool = banner["show"]
    text: str = banner.get("text", "")
    same: bool = flags.value(client, "new-checkout", context)
    keys: tuple[flags.FlagKey, ...] = flags.FLAG_KEYS
    print(checkout, ranking, upload, shown, text, same, keys)
"""

BAD = """\
from vexil.sdk import Client

from app import flags


def use(client: Client) -> None:
    context = {"key": "u1"}
    wrong_type: str = flags.new_checkout(client, context)
    misspelled = flags.value(client, "new-chekout", context)
    missing = flags.new_chekout(client, context)
    print(wrong_type, misspelled, missing)
"""


def _mypy(cwd: Path, *files: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cwd / ".mypy_cache"), "--no-pretty", *files],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("generated_flags", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_accessors_type_check_and_catch_mistakes(cli: Cli, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n")
    cli("codegen", "--out", str(app / "flags.py"))
    source = (app / "flags.py").read_text()
    assert "FlagKey: TypeAlias = Literal[" in source and '"new-checkout",' in source
    assert "def new_checkout(client: Client, context: ContextLike) -> bool:" in source
    assert "def search_ranking(client: Client, context: ContextLike) -> str:" in source
    assert "def max_upload_mb(client: Client, context: ContextLike) -> float:" in source
    assert "class MaintenanceBanner(TypedDict):" in source and "text: NotRequired[str]" in source
    assert '"""The redesigned checkout flow' in source  # docstrings from descriptions
    assert 'client.bool("new-checkout", context, False)' in source  # the default is the off variation

    (tmp_path / "good.py").write_text(GOOD)
    status, output = _mypy(tmp_path, "app/flags.py", "good.py")
    assert status == 0, output

    (tmp_path / "bad.py").write_text(BAD)
    status, output = _mypy(tmp_path, "bad.py")
    assert status == 1, output
    errors = {
        (int(m[1]), m[2]) for m in re.finditer(r"^bad\.py:(\d+): error: .*\[([a-z-]+)\]$", output, re.M)
    }
    assert errors == {(8, "assignment"), (9, "call-overload"), (10, "attr-defined")}, output


def test_generated_accessors_answer_like_the_server(cli: Cli, server: Server, tmp_path: Path) -> None:
    target = tmp_path / "flags_mod.py"
    cli("codegen", "--out", str(target), "--env", "production")
    flags = _load(target)
    key = cli(
        "keys", "create", "--name", "codegen", "--kind", "server", "-p", "default", "--env", "production"
    )
    with server.api() as api:
        document = api.get(
            "/sdk/v1/snapshot", headers={"Authorization": f"Bearer {key.stdout.strip()}"}
        ).json()
    for context in ({"key": "u1", "email": "ann@example.com"}, {"key": "u2", "plan": "pro"}, {"key": "u3"}):
        remote = cli("flags", "eval", "--all", "--env", "production", "--context", json.dumps(context)).json()
        with Client.from_dict(document["document"]) as client:
            assert flags.new_checkout(client, context) == remote["new-checkout"]["value"]
            assert flags.value(client, "search-ranking", context) == remote["search-ranking"]["value"]
            assert flags.max_upload_mb(client, context) == remote["max-upload-mb"]["value"]
            assert flags.maintenance_banner(client, context) == remote["maintenance-banner"]["value"]
        assert set(flags.FLAG_KEYS) == set(remote)


def test_check_mode_and_offline_generation(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "flags.py"
    cli("codegen", "--out", str(target), "--check", expect=1)  # not there yet
    cli("codegen", "--out", str(target))
    assert "is up to date" in cli("codegen", "--out", str(target), "--check").stdout
    cli("flags", "create", "codegen-new", "--variations", '["a", "b"]')
    stale = cli("codegen", "--out", str(target), "--check", expect=1)
    assert stale.stderr.strip() == f"vexil: {target} is out of date: run `vexil codegen` again"
    exported = tmp_path / "flags.yaml"
    cli("export", "-o", str(exported))
    offline = cli("codegen", "-f", str(exported)).stdout
    online = cli("codegen").stdout
    body = offline.split('"""', 2)[2]  # past the module docstring, which names the source
    assert body == online.split('"""', 2)[2] and "def codegen_new(" in body
