"""`InMemorySource`: flags held in the test process and pushed to clients at once, no server needed.

A `DataSource` for tests and demos: changes reach every attached client synchronously (before the setter
returns), through the same put/patch/delete messages a server would send.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from vexil.engine import SchemaError, validate_document
from vexil.protocol import Delete, ItemKind, Message, Patch, Put
from vexil.sdk import Client, State, Updates
from vexil.testing._builder import FlagBuilder


class InMemorySource:
    """Set flags in code; every client from `client()` (or `Client.from_source(source)`) sees them.

    >>> flags = InMemorySource()
    >>> flags.set("new-checkout", True)
    >>> flags.update(flags.flag("banner").variations("red", "blue").serve("blue"))
    >>> client = flags.client()
    """

    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._builders: dict[str, FlagBuilder] = {}
        self._flags: dict[str, dict[str, Any]] = {}
        self._segments: dict[str, dict[str, Any]] = {}
        self._version = 0
        self._feeds: list[Updates] = []
        self._clients: list[Client] = []

    # -- DataSource --------------------------------------------------------------------------------------

    def start(self, updates: Updates) -> None:
        with self._lock:
            self._feeds.append(updates)
            updates.apply(Put(self._version, self.document()))
        updates.report(State.VALID)

    def stop(self, timeout: float) -> None:
        pass  # nothing runs in the background

    def after_fork(self) -> None:
        pass

    # -- changing flags ----------------------------------------------------------------------------------

    def flag(self, key: str) -> FlagBuilder:
        """A builder for `key`: a copy of the one last given to `update`, else a new boolean flag."""
        with self._lock:
            found = self._builders.get(key)
        return found.copy() if found is not None else FlagBuilder(key)

    def update(self, flag: FlagBuilder | Mapping[str, Any]) -> InMemorySource:
        """Create or replace a flag (a builder, or a flag-format dict with its `key`)."""
        if isinstance(flag, FlagBuilder):
            key, item = flag.key, flag.build()
        else:
            key, item = str(flag.get("key", "")), dict(flag)
        with self._lock:
            self._check("flags", key, item)
            if isinstance(flag, FlagBuilder):
                self._builders[key] = flag.copy()
            else:
                self._builders.pop(key, None)
            version = self._next_version()
            item["version"] = version
            self._flags[key] = item
            self._send(Patch(version, ItemKind.FLAG, key, item))
        return self

    def set(self, key: str, value: Any) -> InMemorySource:
        """The shortest way: flag `key` serves `value` to everyone (a boolean flag for True/False)."""
        builder = FlagBuilder(key) if isinstance(value, bool) else FlagBuilder(key, variations=[value])
        return self.update(builder.value(value))

    def delete(self, key: str) -> InMemorySource:
        with self._lock:
            self._builders.pop(key, None)
            if self._flags.pop(key, None) is not None:
                self._send(Delete(self._next_version(), ItemKind.FLAG, key))
        return self

    def segment(self, key: str, segment: Mapping[str, Any]) -> InMemorySource:
        item = {**segment, "key": key}
        with self._lock:
            self._check("segments", key, item)
            version = self._next_version()
            item["version"] = version
            self._segments[key] = item
            self._send(Patch(version, ItemKind.SEGMENT, key, item))
        return self

    def document(self) -> dict[str, Any]:
        with self._lock:
            return {"flags": dict(self._flags), "segments": dict(self._segments)}

    # -- clients -----------------------------------------------------------------------------------------

    def client(self) -> Client:
        """A client fed by this source; `close()` closes every client made here."""
        client = Client.from_source(self, start_wait=0)
        with self._lock:
            self._clients.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def _check(self, collection: str, key: str, item: dict[str, Any]) -> None:
        """Validate the item within the whole document (segment and prerequisite references resolve)."""
        document = {"flags": dict(self._flags), "segments": dict(self._segments)}
        document[collection][key] = item
        prefix = f"{collection}.{key}"
        problems = [
            p for p in validate_document(document) if p.path == prefix or p.path.startswith(prefix + ".")
        ]
        if problems:
            raise SchemaError(problems)

    def _next_version(self) -> int:
        self._version += 1
        return self._version

    def _send(self, message: Message) -> None:
        for feed in list(self._feeds):
            feed.apply(message)
