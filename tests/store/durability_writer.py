"""Child process for the SQLite durability test: create flags in a loop, printing each key after it commits.

Usage: python durability_writer.py DB_PATH START. Runs until killed; prints nothing it has not committed.
"""

from __future__ import annotations

import contextlib
import sys

from vexil.service import AlreadyExists, Principal, Service
from vexil.store import SqliteStore


def main() -> None:
    path, start = sys.argv[1], int(sys.argv[2])
    service = Service(SqliteStore(path))
    actor = Principal.system("writer")
    with contextlib.suppress(AlreadyExists):  # a previous (killed) writer created it
        service.create_project(actor, {"key": "durable"})
    number = start
    while True:
        key = f"f{number}"
        service.create_flag(actor, "durable", {"key": key, "variations": [False, True]})
        sys.stdout.write(key + "\n")
        sys.stdout.flush()
        number += 1


if __name__ == "__main__":
    main()
