"""Architecture checks: layers import only inward, the engine only the stdlib and mmh3."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vexil"

# For each package: the vexil packages it may import (its own always allowed).
ALLOWED_VEXIL = {
    "engine": set(),
    "protocol": {"engine"},
    "sdk": {"engine", "protocol"},
    "openfeature": {"engine", "sdk"},
    "testing": {"engine", "protocol", "sdk"},
    "importers": {"engine"},
    "service": {"engine", "protocol"},
    "store": {"engine", "protocol", "service"},
    # Composition roots may use everything below them.
    "server": {"engine", "protocol", "service", "store", "sdk", "ui"},
    "ui": {"engine", "protocol", "service", "store"},
    "cli": {"engine", "protocol", "service", "store", "server", "sdk", "importers", "ui"},
}
# Third-party packages each layer may import (stdlib is always allowed).
ALLOWED_THIRD_PARTY: dict[str, set[str] | None] = {
    "engine": {"mmh3"},
    "protocol": set(),
    "importers": set(),
    "sdk": {"httpx", "yaml"},
    "openfeature": {"openfeature"},
    "testing": {"pytest"},
    "service": set(),
    "store": {"psycopg", "psycopg_pool"},
    "server": None,  # composition roots: any pinned dependency
    "ui": None,
    "cli": None,
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules() -> list[tuple[str, Path]]:
    out: list[tuple[str, Path]] = []
    for package in ALLOWED_VEXIL:
        folder = SRC / package
        out.extend((package, p) for p in sorted(folder.rglob("*.py")))
    return out


@pytest.mark.parametrize(("package", "path"), _modules(), ids=lambda v: str(v).split("src/")[-1])
def test_layer_imports(package: str, path: Path) -> None:
    allowed_vexil = ALLOWED_VEXIL[package] | {package}
    third = ALLOWED_THIRD_PARTY[package]
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "vexil":
            parts = name.split(".")
            if len(parts) > 1:
                assert parts[1] in allowed_vexil, f"{path}: {package} may not import {name}"
        elif top in sys.stdlib_module_names or top == "__future__":
            continue
        elif third is not None:
            assert top in third, f"{path}: {package} may not import third-party {name}"


def test_engine_is_stdlib_and_mmh3_only() -> None:
    engine_files = sorted((SRC / "engine").rglob("*.py"))
    assert engine_files, "the engine package has modules"
    for path in engine_files:
        for name in _imports(path):
            top = name.split(".")[0]
            assert (
                top in sys.stdlib_module_names
                or top in {"mmh3", "__future__"}
                or name.startswith("vexil.engine")
            ), f"{path} imports {name}"


def test_import_linter_contracts_hold() -> None:
    exe = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(exe)], capture_output=True, text=True, cwd=SRC.parents[1], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "KEPT" in proc.stdout and "BROKEN" not in proc.stdout
