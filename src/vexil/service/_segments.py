"""Use cases for segments, which live in one environment (create, read, replace, merge-patch, delete).

Each change validates the environment's whole document, so segment references are checked both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vexil.engine import Problem

from ._access import Principal
from ._base import ServiceBase
from ._documents import (
    SEGMENT_FIELDS,
    body_version,
    clean_body,
    new_key,
    raise_if,
    segment_item,
    storable,
    validate,
)
from ._errors import AlreadyExists, NotFound
from ._merge_patch import merge_patch
from ._models import ItemKind, ResourceKind, Segment
from ._ports import Tx
from ._records import AuditAction


class SegmentUseCases(ServiceBase):
    def list_segments(self, actor: Principal, project: str, environment: str) -> list[Segment]:
        self._need_read(actor, project)
        with self._store.read() as tx:
            return tx.list_segments(self._environment(tx, self._project(tx, project), environment).id)

    def get_segment(self, actor: Principal, project: str, environment: str, segment: str) -> Segment:
        self._need_read(actor, project)
        with self._store.read() as tx:
            env = self._environment(tx, self._project(tx, project), environment)
            return self._segment(tx, env.id, f"{project}/{environment}", segment)

    def create_segment(
        self,
        actor: Principal,
        project: str,
        environment: str,
        body: Mapping[str, Any],
        *,
        comment: str | None = None,
    ) -> Segment:
        self._need_write(actor, project)
        key = new_key(body)
        segment = clean_body(body, SEGMENT_FIELDS, key=key, prefix=f"segments.{key}.")
        now = self._now()
        with self._store.write() as tx:
            owner = self._project(tx, project, lock=True)
            env = self._environment(tx, owner, environment)
            state = self._env_state(tx, owner, env)
            if key in state.segments:
                raise AlreadyExists("segment", f"{project}/{environment}/{key}")
            state.segments[key] = segment
            raise_if(validate(state.document()))
            version = tx.bump_snapshot_version(env.id)
            created = tx.insert_segment(env.id, key, segment, version, now)
            self._publish(tx, env.id, version, [(ItemKind.SEGMENT, key, segment_item(key, segment, version))])
            self._audit_segment(
                tx, actor, created, AuditAction.CREATE, before=None, after=created, comment=comment, now=now
            )
        return created

    def replace_segment(
        self,
        actor: Principal,
        project: str,
        environment: str,
        segment: str,
        body: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> Segment:
        expected = body_version(body, expected_version)
        return self._update_segment(
            actor, project, environment, segment, body=body, patch=None, expected=expected, comment=comment
        )

    def patch_segment(
        self,
        actor: Principal,
        project: str,
        environment: str,
        segment: str,
        patch: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> Segment:
        expected = body_version(patch, expected_version)
        return self._update_segment(
            actor, project, environment, segment, body=None, patch=patch, expected=expected, comment=comment
        )

    def _update_segment(
        self,
        actor: Principal,
        project: str,
        environment: str,
        key: str,
        *,
        body: Mapping[str, Any] | None,
        patch: Mapping[str, Any] | None,
        expected: int | None,
        comment: str | None,
    ) -> Segment:
        self._need_write(actor, project)
        now = self._now()
        with self._store.write() as tx:
            owner = self._project(tx, project, lock=True)
            env = self._environment(tx, owner, environment)
            current = self._segment(tx, env.id, f"{project}/{environment}", key)
            self._check_version("segment", f"{project}/{environment}/{key}", current.version, expected)
            if patch is not None:
                if not isinstance(patch, Mapping):
                    raise_if([Problem("", "a merge patch must be a JSON object")])
                body = merge_patch(current.body, patch)
            segment = clean_body(body, SEGMENT_FIELDS, key=key, prefix=f"segments.{key}.")
            state = self._env_state(tx, owner, env)
            state.segments[key] = segment
            raise_if(validate(state.document()))
            version = tx.bump_snapshot_version(env.id)
            updated = tx.update_segment(current.id, segment, version, now)
            self._publish(tx, env.id, version, [(ItemKind.SEGMENT, key, segment_item(key, segment, version))])
            self._audit_segment(
                tx,
                actor,
                updated,
                AuditAction.UPDATE,
                before=current,
                after=updated,
                comment=comment,
                now=now,
            )
        return updated

    def delete_segment(
        self,
        actor: Principal,
        project: str,
        environment: str,
        segment: str,
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> None:
        """Delete a segment; refused (ValidationFailed, with the referencing path) while something uses it."""
        self._need_write(actor, project)
        now = self._now()
        with self._store.write() as tx:
            owner = self._project(tx, project, lock=True)
            env = self._environment(tx, owner, environment)
            current = self._segment(tx, env.id, f"{project}/{environment}", segment)
            self._check_version(
                "segment", f"{project}/{environment}/{segment}", current.version, expected_version
            )
            state = self._env_state(tx, owner, env)
            del state.segments[segment]
            raise_if(validate(state.document()))
            tx.delete_segment(current.id)
            version = tx.bump_snapshot_version(env.id)
            self._publish(tx, env.id, version, [(ItemKind.SEGMENT, segment, None)])
            self._audit_segment(
                tx, actor, current, AuditAction.DELETE, before=current, after=None, comment=comment, now=now
            )

    @staticmethod
    def _segment(tx: Tx, environment_id: int, where: str, key: str) -> Segment:
        found = tx.get_segment(environment_id, key) if storable(key) else None
        if found is None:
            raise NotFound("segment", f"{where}/{key}")
        return found

    def _audit_segment(
        self,
        tx: Tx,
        actor: Principal,
        segment: Segment,
        action: AuditAction,
        *,
        before: Segment | None,
        after: Segment | None,
        comment: str | None,
        now: datetime,
    ) -> None:
        self._audit(
            tx,
            actor,
            project=segment.project,
            environment=segment.environment,
            kind=ResourceKind.SEGMENT,
            resource=segment.key,
            action=action,
            before=before.to_dict() if before else None,
            after=after.to_dict() if after else None,
            comment=comment,
            now=now,
        )
