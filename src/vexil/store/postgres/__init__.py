"""The PostgreSQL backend (psycopg 3 + psycopg_pool; LISTEN/NOTIFY for cross-process change notices).

Implements `vexil.service.Store`; no business rules.
"""

from ._schema import MIGRATIONS
from ._store import CHANNEL, PostgresStore

__all__ = ["CHANNEL", "MIGRATIONS", "PostgresStore"]
