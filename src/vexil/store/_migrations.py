"""Versioned schema migrations: a numbered list of statements per backend, applied once each, in order.

Runs inside a transaction the caller opened (and locked); knows nothing about connections or pools.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ._sql_base import Connection


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


def applied_versions(conn: Connection) -> set[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_us BIGINT NOT NULL)"
    )
    return {int(row[0]) for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}


def apply_pending(conn: Connection, migrations: Sequence[Migration], placeholder: str) -> list[int]:
    """Apply the migrations not yet recorded; returns their versions (empty when up to date)."""
    done = applied_versions(conn)
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations (version, description, applied_us) VALUES (?, ?, ?)".replace(
                "?", placeholder
            ),
            (migration.version, migration.description, time.time_ns() // 1000),
        )
        applied.append(migration.version)
    return applied


def current_version(conn: Connection) -> int:
    return max(applied_versions(conn), default=0)
