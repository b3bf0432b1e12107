"""Helpers shared by the store tests (imported by conftest and tests; not collected itself)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from vexil.service import Store

TABLES = (
    "projects",
    "environments",
    "flags",
    "flag_targeting",
    "segments",
    "changes",
    "audit",
    "api_keys",
    "evaluation_counts",
    "flag_last_evaluated",
    "event_counts",
)


class FakeClock:
    """A clock tests can set; each reading advances it by one millisecond so times are distinct."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


@dataclass
class Backend:
    """How to open more stores on the same database, and how to see every stored byte (for secret checks)."""

    name: str
    url: str
    open: Callable[..., Store]

    def dump(self) -> str:
        if self.name == "sqlite":
            with sqlite3.connect(self.url) as conn:
                return "\n".join(conn.iterdump())
        with psycopg.connect(self.url) as conn:
            out = []
            for table in TABLES:
                out += [repr(row) for row in conn.execute(f"SELECT * FROM {table}").fetchall()]
            return "\n".join(out)
