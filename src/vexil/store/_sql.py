"""`SqlTx`: the one implementation of the service's `Tx` protocol, shared by the SQLite and PostgreSQL stores.

Composition only; the queries live in `_sql_resources.py` and `_sql_records.py`.
"""

from __future__ import annotations

from ._sql_records import RecordSql
from ._sql_resources import ResourceSql


class SqlTx(ResourceSql, RecordSql):
    """One open transaction on one connection; `notices` are the changes to announce after it commits."""
