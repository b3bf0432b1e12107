"""The vexil Python SDK: `Client` evaluates flags locally from a snapshot kept current by a vexil server.

Imports only the engine, the wire protocol, the standard library and httpx (never server-side code).
"""

from vexil.sdk._backoff import Backoff
from vexil.sdk._client import Client, ContextLike
from vexil.sdk._core import Listener
from vexil.sdk._machine import (
    Apply,
    Continue,
    DataSourceMachine,
    Decision,
    FallBackToPolling,
    Mode,
    PollAfter,
    Reconnect,
    Stop,
)
from vexil.sdk._source import DataSource, Updates
from vexil.sdk._status import ClientStatus, Detail, SourceError, SourceErrorKind, State, ValueType

__all__ = [
    "Apply",
    "Backoff",
    "Client",
    "ClientStatus",
    "ContextLike",
    "Continue",
    "DataSource",
    "DataSourceMachine",
    "Decision",
    "Detail",
    "FallBackToPolling",
    "Listener",
    "Mode",
    "PollAfter",
    "Reconnect",
    "SourceError",
    "SourceErrorKind",
    "State",
    "Stop",
    "Updates",
    "ValueType",
]
