"""The last-known-good cache file: each new snapshot written atomically, read back when the server is down.

The file is exactly a snapshot endpoint body (`{"version", "document"}`), so `Client.from_file` reads it too.
Only file I/O here; whoever calls it decides when, and failures are returned, never raised.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vexil.protocol import ProtocolError, Put, decode_json, encode_json


def write_cache(path: Path, version: int, document: Mapping[str, Any]) -> None:
    """Write to a private temporary file, fsync, then `os.replace`: readers see the old or the new file.

    The temporary name carries the pid and thread, so forked children sharing one path never collide.
    Raises OSError (and ValueError for a document that is not JSON); the caller logs it.
    """
    body = encode_json(Put(version, dict(document)))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_cache(path: Path) -> Put | str:
    """The cached put, or why it cannot be used."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return f"cannot read the cache file {path}: {exc.strerror or exc}"
    try:
        message = decode_json("put", raw)
    except ProtocolError as exc:
        return f"the cache file {path} is not a snapshot: {exc}"
    return message if isinstance(message, Put) else f"the cache file {path} is not a snapshot"
