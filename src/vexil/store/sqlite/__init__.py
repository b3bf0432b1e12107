"""The SQLite backend (stdlib `sqlite3`, WAL mode, one file under the data directory).

Implements `vexil.service.Store`; no business rules.
"""

from ._schema import MIGRATIONS
from ._store import SqliteStore

__all__ = ["MIGRATIONS", "SqliteStore"]
