"""The SQLite schema, as numbered migrations (append new ones; never edit an applied one).

DDL only. Times are epoch microseconds, JSON is TEXT, days are 'YYYY-MM-DD', as in the PostgreSQL schema.
"""

from __future__ import annotations

from .._migrations import Migration

MIGRATIONS = (
    Migration(
        1,
        "projects, environments, flags, targeting, segments, change log, audit, keys, event counts",
        (
            """CREATE TABLE projects (
                id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '', version INTEGER NOT NULL,
                created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL)""",
            """CREATE TABLE environments (
                id INTEGER PRIMARY KEY,
                project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                key TEXT NOT NULL, name TEXT NOT NULL, critical BOOLEAN NOT NULL,
                version INTEGER NOT NULL, snapshot_version INTEGER NOT NULL, log_floor INTEGER NOT NULL,
                created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, UNIQUE (project_id, key))""",
            """CREATE TABLE flags (
                id INTEGER PRIMARY KEY,
                project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
                key TEXT NOT NULL, body TEXT NOT NULL, version INTEGER NOT NULL,
                created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, UNIQUE (project_id, key))""",
            """CREATE TABLE flag_targeting (
                flag_id INTEGER NOT NULL REFERENCES flags(id) ON DELETE CASCADE,
                environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
                body TEXT NOT NULL, version INTEGER NOT NULL, item_version INTEGER NOT NULL,
                updated_us INTEGER NOT NULL, PRIMARY KEY (flag_id, environment_id))""",
            "CREATE INDEX flag_targeting_environment ON flag_targeting (environment_id)",
            """CREATE TABLE segments (
                id INTEGER PRIMARY KEY,
                environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
                key TEXT NOT NULL, body TEXT NOT NULL, version INTEGER NOT NULL,
                item_version INTEGER NOT NULL,
                created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, UNIQUE (environment_id, key))""",
            """CREATE TABLE changes (
                environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
                snapshot_version INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, item TEXT,
                PRIMARY KEY (environment_id, snapshot_version, kind, key))""",
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY AUTOINCREMENT, time_us INTEGER NOT NULL, actor TEXT NOT NULL,
                actor_key_id INTEGER, project TEXT, environment TEXT, kind TEXT NOT NULL,
                resource TEXT NOT NULL, action TEXT NOT NULL, before TEXT, after TEXT, comment TEXT)""",
            "CREATE INDEX audit_project ON audit (project, id)",
            "CREATE INDEX audit_time ON audit (time_us)",
            """CREATE TABLE api_keys (
                id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, kind TEXT NOT NULL, role TEXT,
                projects TEXT,
                environment_id INTEGER REFERENCES environments(id) ON DELETE CASCADE,
                prefix TEXT NOT NULL, secret_hash TEXT NOT NULL UNIQUE, created_by TEXT NOT NULL,
                created_us INTEGER NOT NULL, revoked_us INTEGER)""",
            """CREATE TABLE evaluation_counts (
                environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
                flag_key TEXT NOT NULL, day TEXT NOT NULL, variation INTEGER NOT NULL, count INTEGER NOT NULL,
                PRIMARY KEY (environment_id, flag_key, day, variation))""",
            """CREATE TABLE flag_last_evaluated (
                environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
                flag_key TEXT NOT NULL, last_us INTEGER NOT NULL, PRIMARY KEY (environment_id, flag_key))""",
            """CREATE TABLE event_counts (
                environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
                event_key TEXT NOT NULL, day TEXT NOT NULL, count INTEGER NOT NULL, value_sum REAL NOT NULL,
                PRIMARY KEY (environment_id, event_key, day))""",
        ),
    ),
)
