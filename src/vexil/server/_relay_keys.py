"""The relay's keys: the configured SDK keys, matched in constant time, and those the upstream rejected.

Holds secrets only as SHA-256 digests after construction (plus the upstream-facing server keys, which the
sync needs); it never logs or echoes one. Local ids: server key N is environment N and key N.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from vexil.service import KeyKind

from ._relay_settings import RelaySettings

#: Characters after the kind prefix shown to tell keys apart (the admin API's `prefix` shows as many).
_PREFIX_CHARS = 4


@dataclass(frozen=True, slots=True)
class RelayKey:
    key_id: int
    kind: KeyKind
    environment_id: int
    #: The kind prefix and 4 characters: what the upstream's admin API lists as this key's `prefix`.
    prefix: str
    digest: bytes


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def _prefix(secret: str) -> str:
    return secret[: secret.index("_") + 1 + _PREFIX_CHARS]


class RelayKeys:
    """Configured keys by local id. `reject`/`accept` run on the event loop; `match` on any thread (it reads
    one immutable frozenset reference)."""

    def __init__(self, settings: RelaySettings) -> None:
        keys: list[RelayKey] = []
        environment_of: dict[str, int] = {}
        for index, secret in enumerate(settings.sdk_keys, start=1):
            environment_of[secret] = index
            keys.append(RelayKey(index, KeyKind.SERVER, index, _prefix(secret), _digest(secret)))
        for offset, (client, server) in enumerate(settings.client_keys, start=1):
            key_id = len(settings.sdk_keys) + offset
            keys.append(
                RelayKey(key_id, KeyKind.CLIENT, environment_of[server], _prefix(client), _digest(client))
            )
        self._keys = tuple(keys)
        self._by_id = {key.key_id: key for key in keys}
        #: environment id -> the server key the relay uses upstream for it (and its client keys' ids).
        self.upstream_secrets: dict[int, str] = {i: s for s, i in environment_of.items()}
        self._client_secrets = {
            len(settings.sdk_keys) + n: c for n, (c, _) in enumerate(settings.client_keys, 1)
        }
        self._rejected: frozenset[int] = frozenset()

    @property
    def environment_ids(self) -> list[int]:
        return sorted(self.upstream_secrets)

    def all(self) -> tuple[RelayKey, ...]:
        return self._keys

    def get(self, key_id: int) -> RelayKey | None:
        return self._by_id.get(key_id)

    def client_keys_of(self, environment_id: int) -> list[tuple[int, str]]:
        """(key id, secret) of the client-side keys mapped to this environment (checked upstream)."""
        return [
            (key_id, secret)
            for key_id, secret in self._client_secrets.items()
            if self._by_id[key_id].environment_id == environment_id
        ]

    def match(self, secret: str) -> RelayKey | None:
        """The configured key with this secret, comparing with every key in constant time (no early exit)."""
        candidate = _digest(secret)
        found: RelayKey | None = None
        for key in self._keys:
            if hmac.compare_digest(candidate, key.digest):
                found = key
        return found

    def rejected(self, key_id: int) -> bool:
        return key_id in self._rejected

    @property
    def rejected_ids(self) -> frozenset[int]:
        return self._rejected

    def reject(self, key_id: int) -> None:
        """The upstream refused this key (revoked or deleted): stop accepting it here too."""
        self._rejected = self._rejected | {key_id}

    def accept(self, key_id: int) -> None:
        """The upstream accepts this key (again)."""
        if key_id in self._rejected:
            self._rejected = self._rejected - {key_id}
