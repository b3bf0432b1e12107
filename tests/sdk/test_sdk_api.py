"""The SDK packages' public surfaces, lazy `from vexil import Client`, and what they may import."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "vexil"

EXPECTED = {
    "vexil.sdk": {
        "Apply",
        "Backoff",
        "Client",
        "ClientStatus",
        "ContextLike",
        "Continue",
        "DataSource",
        "DataSourceMachine",
        "Decision",
        "Detail",
        "FallBackToPolling",
        "Listener",
        "Mode",
        "PollAfter",
        "Reconnect",
        "SourceError",
        "SourceErrorKind",
        "State",
        "Stop",
        "Updates",
        "ValueType",
    },
    "vexil.openfeature": {"VexilProvider"},
    "vexil.testing": {"FlagBuilder", "InMemorySource"},
}
# package -> (vexil packages it may import, third-party top-level modules it may import)
ALLOWED = {
    "sdk": ({"engine", "protocol", "sdk"}, {"httpx", "yaml"}),
    "openfeature": ({"engine", "sdk", "openfeature"}, {"openfeature"}),
    "testing": ({"engine", "protocol", "sdk", "testing"}, {"pytest"}),
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_all_is_the_public_surface(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == EXPECTED[module_name]
    for name in module.__all__:
        assert getattr(module, name) is not None
    public = {n for n in vars(module) if not n.startswith("_")}
    assert public - set(module.__all__) <= {"annotations"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_sdk_packages_import_only_what_they_may(package: str) -> None:
    own, third = ALLOWED[package]
    files = sorted((SRC / package).rglob("*.py"))
    assert files
    for path in files:
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "vexil":
                assert len(parts) == 1 or parts[1] in own, f"{path} imports {name}"
            elif parts[0] not in sys.stdlib_module_names and parts[0] != "__future__":
                assert parts[0] in third, f"{path} imports third-party {name}"


def test_yaml_is_imported_only_when_a_yaml_file_is_read() -> None:
    """PyYAML is a vexil dependency, but the SDK loads it lazily: only YAML flag files pay for it."""
    code = "import sys, vexil.sdk; assert 'yaml' not in sys.modules, 'yaml imported eagerly'; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_importing_vexil_does_no_work_and_client_loads_on_first_use() -> None:
    code = (
        "import sys, vexil\n"
        "assert 'vexil.sdk' not in sys.modules and 'httpx' not in sys.modules, sorted(sys.modules)\n"
        "from vexil import Client\n"
        "import vexil.sdk\n"
        "assert Client is vexil.sdk.Client\n"
        "assert vexil.__all__ == ['Client', '__version__']\n"
        "try:\n"
        "    vexil.Nope\n"
        "except AttributeError as exc:\n"
        "    print('ok', exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok module 'vexil' has no attribute 'Nope'")
