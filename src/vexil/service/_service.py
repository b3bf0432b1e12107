"""`Service`: every use case as a plain method, built explicitly with its store (no globals).

Composition only; each group of use cases lives in its own module, and bootstrap lives here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._access import KEY_PREFIXES, KeyKind, Principal, Role, Secret, hash_secret, new_secret
from ._apply import ApplyUseCases
from ._audit_events import AuditEventUseCases
from ._base import Clock, utc_now
from ._demo import load_demo
from ._errors import AlreadyExists
from ._feed import FeedUseCases, _Dispatcher
from ._flags import FlagUseCases
from ._keys import KeyUseCases
from ._models import ResourceKind
from ._ports import Store
from ._projects import ProjectUseCases
from ._records import AuditAction
from ._segments import SegmentUseCases


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """`admin_secret` is set only when this call created the first admin key: write it out, then drop it."""

    project_created: bool
    admin_secret: Secret | None


class Service(
    ProjectUseCases,
    FlagUseCases,
    SegmentUseCases,
    KeyUseCases,
    AuditEventUseCases,
    FeedUseCases,
    ApplyUseCases,
):
    """The use cases. Methods are synchronous and thread-safe (each runs its own transaction)."""

    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        super().__init__(store, clock=clock)
        self._dispatcher = _Dispatcher(store)

    def ensure_default(self, *, project: str = "default", name: str = "Default") -> BootstrapResult:
        """First start: create `project` if there are no projects, and an admin key if there are no keys."""
        system = Principal.system("bootstrap")
        project_created = False
        with self._store.read() as tx:
            empty = not tx.list_projects()
        if empty:
            try:
                self.create_project(system, {"key": project, "name": name}, comment="first start")
                project_created = True
            except AlreadyExists:  # another process sharing the database got there first
                pass
        secret: Secret | None = None
        now = self._now()
        with self._store.write() as tx:
            tx.lock_global()
            if tx.count_keys() == 0:
                secret = new_secret(KeyKind.ADMIN)
                key = tx.insert_key(
                    name="bootstrap",
                    kind=KeyKind.ADMIN,
                    role=Role.ADMIN,
                    projects=None,
                    environment_id=None,
                    prefix=secret.reveal()[: len(KEY_PREFIXES[KeyKind.ADMIN]) + 4],
                    secret_hash=hash_secret(secret.reveal()),
                    created_by=system.name,
                    now=now,
                )
                self._audit(
                    tx,
                    system,
                    project=None,
                    kind=ResourceKind.KEY,
                    resource=str(key.id),
                    action=AuditAction.CREATE,
                    before=None,
                    after=key.to_dict(),
                    comment="first start",
                    now=now,
                )
        return BootstrapResult(project_created=project_created, admin_secret=secret)

    def load_demo(self, actor: Principal, project: str = "default") -> list[str]:
        """Add the demo flags and segment to `project` (skipping existing ones); returns the flags created."""
        return load_demo(self, actor, project)
