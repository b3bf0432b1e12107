"""What changed meanwhile: the audit entries written since the version a page was loaded at, as diffs.

Read-only (one audit query); used by the toggle and the editors to explain a version conflict.
"""

from __future__ import annotations

from dataclasses import dataclass

from vexil.service import AuditEntry, AuditQuery, Principal, ResourceKind, Service

from ._diff import Change, diff


@dataclass(frozen=True, slots=True)
class Meanwhile:
    """One change someone else made after the page was loaded."""

    entry: AuditEntry
    changes: list[Change]


def changes_since(
    service: Service,
    actor: Principal,
    project: str,
    *,
    kind: ResourceKind,
    resource: str,
    environment: str | None,
    version: int,
) -> list[Meanwhile]:
    """Audit entries of one resource whose `after.version` is newer than `version`, oldest first."""
    flag = resource if kind in {ResourceKind.FLAG, ResourceKind.TARGETING} else None
    page = service.query_audit(
        actor, AuditQuery(project=project, environment=environment, flag=flag, limit=50)
    )
    found = []
    for entry in page.entries:
        if entry.kind is not kind or entry.resource != resource:
            continue
        after_version = (entry.after or {}).get("version")
        if entry.after is None or (isinstance(after_version, int) and after_version > version):
            found.append(Meanwhile(entry, diff(entry.before or {}, entry.after or {})))
    return list(reversed(found))
