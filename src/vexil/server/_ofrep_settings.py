"""`OfrepSettings`: the OFREP endpoints' knobs (rate limit, CORS origins, stream links), from `VEXIL_OFREP_*`.

Plain values and parsing only, like `ServerSettings`; it opens nothing and keeps no state.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ._settings import ServerSettings, SettingsError

ENV_PREFIX = "VEXIL_OFREP_"


def _random_secret() -> bytes:
    return secrets.token_bytes(32)


@dataclass(frozen=True, slots=True)
class OfrepSettings:
    """Defaults are the documented ones (docs/ofrep.md); `from_env` fills them in."""

    #: Token bucket per API key: sustained requests per second (0 disables the limit) and burst size.
    rate_limit: float = 1000.0
    rate_burst: int = 2000
    #: Browser origins allowed to call the OFREP and OFREP stream endpoints; `*` allows any.
    #: Empty: the server's `VEXIL_CORS_ORIGINS`.
    cors_origins: tuple[str, ...] = ()
    #: Signs the stream links handed out in `eventStreams`. Several replicas behind one address must share
    #: it, or a link from one replica is refused by the others (clients then refetch and get a new link).
    stream_secret: bytes = field(default_factory=_random_secret, repr=False)
    #: Public base URL of this server (`https://flags.example.com`); when set, `eventStreams` carry an
    #: absolute `url`, else a relative `endpoint` that providers resolve against their configured base URL.
    public_url: str | None = None
    #: `inactivityDelaySec` suggested to clients: close the stream after this long in a hidden tab.
    inactivity_seconds: int = 120
    #: How long a refetch that names a newer configuration (`flagConfigEtag`) may wait for it to arrive.
    freshness_wait_seconds: float = 0.5

    @classmethod
    def from_env(cls, server: ServerSettings, env: Mapping[str, str] | None = None) -> OfrepSettings:
        """Defaults, overridden by non-empty `VEXIL_OFREP_<NAME>` variables; `SettingsError` names a bad one.

        Without `VEXIL_OFREP_CORS_ORIGINS` the server-wide `cors_origins` apply.
        """
        environ = os.environ if env is None else env
        values: dict[str, Any] = {"cors_origins": server.cors_origins}
        for item in fields(cls):
            variable = ENV_PREFIX + item.name.upper()
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            try:
                values[item.name] = _PARSERS[item.name](raw)
            except ValueError as exc:
                raise SettingsError(f"{variable}: {exc}") from None
        return replace(cls(), **values)


def _non_negative_float(value: str) -> float:
    number = float(value)
    if not 0 <= number < float("inf"):
        raise ValueError(f"must be a non-negative number, not {value!r}")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"must be a positive integer, not {number}")
    return number


def _origins(value: str) -> tuple[str, ...]:
    return tuple(item.strip().rstrip("/") for item in value.split(",") if item.strip())


def _secret(value: str) -> bytes:
    if len(value) < 16:
        raise ValueError("must be at least 16 characters")
    return value.encode()


def _public_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL, not {value!r}")
    return value.rstrip("/")


_PARSERS: dict[str, Callable[[str], Any]] = {
    "rate_limit": _non_negative_float,
    "rate_burst": _positive_int,
    "cors_origins": _origins,
    "stream_secret": _secret,
    "public_url": _public_url,
    "inactivity_seconds": _positive_int,
    "freshness_wait_seconds": _non_negative_float,
}
