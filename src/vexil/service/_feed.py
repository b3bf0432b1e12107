"""Snapshots of an environment and the change feed the SDK stream is built on.

The dispatcher turns the store's bare notices into `Change`s (re-read from the change log) for listeners;
it holds no snapshot cache (the HTTP layer keeps pre-serialised bytes) and never writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ._access import KeyKind, Principal
from ._base import ServiceBase
from ._documents import client_side_only, flag_item, segment_item
from ._errors import Forbidden, NotFound
from ._models import Change, Environment, EnvironmentSnapshot, JsonObject
from ._ports import Store, Tx

logger = logging.getLogger(__name__)

Listener = Callable[[Change], None]


class _Dispatcher:
    """Fans committed changes out to listeners, once each and in snapshot-version order per environment."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._seen: dict[int, int] = {}
        self._unwatch: Callable[[], None] | None = None

    def ping(self) -> bool:
        """Is the database reachable right now? (For `/readyz`; never raises.)"""
        return self._store.ping()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)
            if self._unwatch is None:
                self._unwatch = self._store.watch(self._on_notice)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
                if not self._listeners and self._unwatch is not None:
                    self._unwatch()
                    self._unwatch = None
                    self._seen.clear()

        return unsubscribe

    def _on_notice(self, environment_id: int, snapshot_version: int) -> None:
        with self._lock:
            seen = self._seen.get(environment_id)
            if seen is not None and snapshot_version <= seen:
                return
            since = seen if seen is not None else snapshot_version - 1
            with self._store.read() as tx:
                changes = tx.changes_since(environment_id, since)
            if changes is None:
                logger.warning(
                    "change log of environment %s no longer reaches version %s", environment_id, since
                )
                return
            listeners = list(self._listeners)
            for change in changes:
                for listener in listeners:
                    try:
                        listener(change)
                    except Exception:  # one broken listener must not starve the others
                        logger.exception("change listener failed")
            self._seen[environment_id] = max([snapshot_version, *(c.snapshot_version for c in changes)])


class FeedUseCases(ServiceBase):
    _dispatcher: _Dispatcher

    def get_snapshot(
        self, actor: Principal, project: str, environment: str, *, client_side_only: bool = False
    ) -> EnvironmentSnapshot:
        """An environment's current document, for admin keys that can read the project."""
        self._need_read(actor, project)
        with self._store.read() as tx:
            owner = self._project(tx, project)
            return _build(tx, self._environment(tx, owner, environment), client_side_only)

    def snapshot_for(self, principal: Principal) -> EnvironmentSnapshot:
        """What an SDK key may read: everything for server keys, `client_side` flags for client keys."""
        if principal.kind is KeyKind.ADMIN or principal.environment_id is None:
            raise Forbidden(f"key {principal.name!r} is not an SDK key")
        return self.snapshot_by_id(
            principal.environment_id, client_side_only=principal.kind is KeyKind.CLIENT
        )

    def snapshot_by_id(self, environment_id: int, *, client_side_only: bool = False) -> EnvironmentSnapshot:
        """No permission check: for the HTTP layer's cache, keyed by an id from an authorized principal."""
        with self._store.read() as tx:
            environment = tx.get_environment_by_id(environment_id)
            if environment is None:
                raise NotFound("environment", str(environment_id))
            return _build(tx, environment, client_side_only)

    def changes_since(self, environment_id: int, since: int) -> list[Change] | None:
        """Committed changes after snapshot version `since`, oldest first; None if the log was pruned."""
        with self._store.read() as tx:
            return tx.changes_since(environment_id, since)

    def ping(self) -> bool:
        """Is the database reachable right now? (For `/readyz`; never raises.)"""
        return self._store.ping()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(change)` per committed change (any process, with PostgreSQL); returns unsubscribe.

        Listeners run on a store or writer thread, must be quick and thread-safe; subscribe before reading the
        snapshot you will patch so that no change falls between the two.
        """
        return self._dispatcher.subscribe(listener)


def _build(tx: Tx, environment: Environment, client_only: bool) -> EnvironmentSnapshot:
    targeting = {t.flag: t for t in tx.list_targeting(environment_id=environment.id)}
    flags: dict[str, JsonObject] = {}
    for definition in tx.list_flags(environment.project_id):
        found = targeting.get(definition.key)
        body, version = (found.body, found.item_version) if found else ({}, 0)
        flags[definition.key] = flag_item(definition.key, definition.body, body, version)
    segments = {s.key: segment_item(s.key, s.body, s.item_version) for s in tx.list_segments(environment.id)}
    document: JsonObject = {"flags": flags, "segments": segments}
    return EnvironmentSnapshot(
        environment_id=environment.id,
        project=environment.project,
        environment=environment.key,
        version=environment.snapshot_version,
        document=client_side_only(document) if client_only else document,
    )
