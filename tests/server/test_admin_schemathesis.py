"""Schemathesis against the live admin API (real app, real SQLite store): no 5xx, and every response
matches the OpenAPI document the app serves. Bounded and deterministic, so it is quick and repeatable.

It drives schemathesis's own engine (every default check; examples, coverage, fuzzing and stateful
phases) rather than its pytest plugin, whose fixture-based loader does not work with pytest 9. Each
operation of the served document is one test, twice: path parameters generated (mostly unknown or
invalid resources, plus the coverage phase's negative cases), and pinned to demo data (so writes get
through to validation and the store).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from admin_support import no_server_errors
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, from_schema
from schemathesis.engine.events import EngineFinished, FatalError, NonFatalError, ScenarioFinished

from vexil.server import ServerSettings, create_app, openapi_document
from vexil.service import Principal, Service
from vexil.store import SQLITE_FILE, SqliteStore

MAX_EXAMPLES = 10
#: Cross-field rules (variation indices in range, weights summing to 100000, references, the key in the
#: body equal to the path's) are beyond JSON Schema: schema-valid bodies may still be refused with 422.
POSITIVE_STATUSES = ["2xx", "401", "403", "404", "409", "422"]


@dataclass(frozen=True)
class Template:
    """A data directory holding the default project, the demo flags, a segment and a spare key."""

    data_dir: Path
    admin_key: str
    spare_key_id: int


def make_template(data_dir: Path) -> Template:
    store = SqliteStore(data_dir / SQLITE_FILE, synchronous="NORMAL")
    try:
        service = Service(store)
        boot = service.ensure_default()
        assert boot.admin_secret is not None
        system = Principal.system()
        service.load_demo(system, project="default")
        service.create_segment(system, "default", "production", {"key": "beta", "included": ["u1"]})
        spare = service.create_key(system, {"name": "spare", "kind": "admin", "role": "reader"})
    finally:
        store.close()
    return Template(data_dir, boot.admin_secret.reveal(), spare.key.id)


@contextmanager
def live_schema(template: Template, data_dir: Path, *, pinned: bool) -> Iterator[Any]:
    """The schema as served by a fresh app over a fresh copy of the template's database."""
    shutil.copytree(template.data_dir, data_dir)
    store = SqliteStore(data_dir / SQLITE_FILE, synchronous="NORMAL")
    try:
        app = create_app(Service(store), ServerSettings(data_dir=data_dir))
        parameters: dict[str, Any] = {}
        if pinned:
            parameters = {
                "project": "default",
                "env": "production",
                "flag": "new-checkout",
                "segment": "beta",
                "id": template.spare_key_id,
            }
        config = SchemathesisConfig.from_dict(
            {
                "headers": {"Authorization": f"Bearer {template.admin_key}"},
                "parameters": parameters,
                "seed": 20240531,
                "generation": {
                    "mode": "all",
                    "max-examples": MAX_EXAMPLES,
                    "deterministic": True,
                    "database": "none",
                },
                "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
                "phases": {
                    "coverage": {
                        # Systematic boundary and negative cases: once is enough (they are the slow part).
                        "enabled": not pinned,
                        # Negative only: schemathesis 4.32.5's coverage phase sends the integer 0 as a "valid"
                        # If-Match whatever the pattern, so its positive cases would stop at that 400 (and
                        # trip positive_data_acceptance); the fuzzing phase covers valid data.
                        "generation": {"mode": "negative"},
                    }
                },
            }
        )
        with no_server_errors():
            yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", app, config=config)
    finally:
        store.close()


def run_engine(schema: Any) -> tuple[list[str], int]:
    """Every failed check and engine error, as readable lines; and how many checks ran."""
    problems: list[str] = []
    checks_run = 0
    for event in from_schema(schema).execute():
        if isinstance(event, ScenarioFinished):
            for case_id, nodes in event.recorder.checks.items():
                checks_run += len(nodes)
                for node in nodes:
                    if node.status is Status.FAILURE and node.failure_info is not None:
                        failure = node.failure_info.failure
                        problems.append(
                            f"{event.recorder.label} [{node.name}] {failure.title}: {failure.message}\n"
                            f"{node.failure_info.code_sample}  (case {case_id})"
                        )
        elif isinstance(event, NonFatalError | FatalError):
            problems.append(f"engine error: {event!r}")
        elif isinstance(event, EngineFinished):
            problems += [f"after run: {f.title}: {f.message}" for f in event.failures]
    return sorted(set(problems)), checks_run


def operations() -> list[tuple[str, str]]:
    document = openapi_document()
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return make_template(tmp_path_factory.mktemp("template") / "data")


@pytest.mark.parametrize("pinned", [False, True], ids=["generated-parameters", "demo-resources"])
@pytest.mark.parametrize(("method", "path"), operations(), ids=[f"{m} {p}" for m, p in operations()])
def test_operation_conforms_to_the_openapi_document(
    template: Template, tmp_path: Path, method: str, path: str, pinned: bool
) -> None:
    """One operation against a fresh copy of the demo data, so no DELETE starves the others."""
    with live_schema(template, tmp_path / "data", pinned=pinned) as schema:
        problems, checks_run = run_engine(schema.include(method=method, path=path))
    assert checks_run > 0, f"{method} {path} was not tested"
    assert not problems, "\n\n".join(problems)
