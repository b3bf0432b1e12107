"""`ServerSettings`: every knob of `vexil serve`, read from arguments and `VEXIL_*` variables in one place.

Plain values and parsing only; it opens no files or sockets (the serve command and `create_app` do).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
ENV_PREFIX = "VEXIL_"


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable or option."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What `vexil serve` runs with. Defaults are the documented ones; `from_env_and_args` fills them in."""

    host: str = "127.0.0.1"
    port: int = 7070
    data_dir: Path = Path(".vexil")
    #: `postgresql://...` selects PostgreSQL; None means SQLite under `data_dir`. Kept out of repr: it may
    #: hold a password.
    database_url: str | None = field(default=None, repr=False)
    demo: bool = False
    #: Largest request body accepted (admin writes, event batches), counted while reading.
    max_body_bytes: int = MIB
    #: Origins allowed to call the API from a browser; empty disables CORS.
    cors_origins: tuple[str, ...] = ()
    #: How long an authorized key is trusted without asking the database again (revocation delay).
    auth_cache_seconds: float = 5.0
    #: SSE heartbeat comment interval.
    heartbeat_seconds: float = 15.0
    #: Graceful shutdown budget (SIGTERM): in-flight requests finish and streams close within it.
    shutdown_seconds: float = 10.0
    log_level: str = "info"
    #: Server processes sharing the listening socket (each with its own connections, caches and streams;
    #: changes reach the streams of every one through the database).
    workers: int = 1

    @classmethod
    def from_env_and_args(cls, env: Mapping[str, str] | None = None, **args: Any) -> ServerSettings:
        """Defaults, overridden by `VEXIL_<NAME>` variables, overridden by non-None keyword arguments.

        `env` defaults to `os.environ`. Unknown keyword arguments are a programming error (TypeError);
        an unparseable variable raises `SettingsError` naming it.
        """
        environ = os.environ if env is None else env
        known = [f.name for f in fields(cls)]
        unknown = set(args) - set(known)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name in known:
            variable = ENV_PREFIX + name.upper()
            if args.get(name) is not None:
                values[name] = _parse(name, args[name], f"--{name.replace('_', '-')}")
            elif environ.get(variable, "").strip():
                values[name] = _parse(name, environ[variable].strip(), variable)
        return replace(cls(), **values)


def _parse(name: str, value: Any, source: str) -> Any:
    try:
        return _PARSERS[name](value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{source}: {exc}") from None


def _port(value: Any) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not between 0 and 65535")
    return port


def _positive_int(value: Any) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(f"must be a positive integer, not {number}")
    return number


def _workers(value: Any) -> int:
    number = _positive_int(value)
    if number > 64:
        raise ValueError(f"at most 64 worker processes, not {number}")
    return number


def _non_negative_float(value: Any) -> float:
    number = float(value)
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"must be a non-negative number of seconds, not {value!r}")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, not {value!r}")


def _origins(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(item.strip() for item in items if str(item).strip())


def _optional_text(value: Any) -> str | None:
    text = str(value).strip()
    return text or None


def _log_level(value: Any) -> str:
    level = str(value).strip().lower()
    if level not in {"critical", "error", "warning", "info", "debug", "trace"}:
        raise ValueError(f"unknown log level {value!r}")
    return level


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "host": lambda v: str(v).strip() or "127.0.0.1",
    "port": _port,
    "data_dir": lambda v: Path(v).expanduser(),
    "database_url": _optional_text,
    "demo": _boolean,
    "max_body_bytes": _positive_int,
    "cors_origins": _origins,
    "auth_cache_seconds": _non_negative_float,
    "heartbeat_seconds": _non_negative_float,
    "shutdown_seconds": _non_negative_float,
    "log_level": _log_level,
    "workers": _workers,
}
