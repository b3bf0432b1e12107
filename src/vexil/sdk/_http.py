"""HTTP plumbing shared by the data sources and the event sender: one httpx client per worker thread.

Builds clients and describes failures; it holds no protocol logic and never logs the SDK key.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

import httpx

from vexil import __version__

USER_AGENT = f"vexil-python/{__version__}"
SNAPSHOT_PATH = "/sdk/v1/snapshot"
STREAM_PATH = "/sdk/v1/stream"
EVENTS_PATH = "/events/v1/bulk"
#: The server sends a heartbeat every 15 s; three missed ones mean the connection is dead.
STREAM_READ_TIMEOUT = 45.0


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Where and how to reach the server; `transport` replaces the network (tests inject a MockTransport)."""

    base_url: str
    sdk_key: str
    transport: httpx.BaseTransport | None = None
    connect_timeout: float = 5.0
    request_timeout: float = 10.0

    def __repr__(self) -> str:  # the key stays out of reprs, tracebacks and logs
        return f"HttpConfig(base_url={self.base_url!r}, sdk_key='***')"

    def client(self, *, read_timeout: float | None = None) -> httpx.Client:
        timeout = httpx.Timeout(
            self.request_timeout if read_timeout is None else read_timeout,
            connect=self.connect_timeout,
            write=self.request_timeout,
            pool=self.connect_timeout,
        )
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.sdk_key}", "User-Agent": USER_AGENT},
            timeout=timeout,
            transport=self.transport,
            follow_redirects=False,
        )


def describe(exc: BaseException) -> str:
    """A one-line, key-free description of a transport failure."""
    name = type(exc).__name__
    text = str(exc)
    return f"{name}: {text}" if text else name


def interrupt(response: httpx.Response | None) -> None:
    """Wake a thread blocked reading `response` by shutting its socket down (closing alone may not)."""
    if response is None:
        return
    stream = response.extensions.get("network_stream")
    get_extra = getattr(stream, "get_extra_info", None)
    sock = get_extra("socket") if get_extra is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
