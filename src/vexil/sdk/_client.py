"""`Client`: the SDK's public face. Evaluation is a lock-free read of one immutable view; it never raises.

The public methods are the layer's one error boundary; data arrives from a `DataSource` on its own thread,
events leave through the `EventProcessor`. No network or file I/O happens on an evaluation call.
"""

from __future__ import annotations

import builtins
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from vexil.engine import Context, ErrorKind, ReasonKind, Result
from vexil.sdk._core import ClientCore, View
from vexil.sdk._events import EventProcessor
from vexil.sdk._file import FileSource, StaticSource
from vexil.sdk._http import HttpConfig
from vexil.sdk._remote import RemoteSource
from vexil.sdk._source import DataSource
from vexil.sdk._status import VALUE_CLASSES, Detail, ValueType, error_reason
from vexil.sdk._summaries import KEY_PATTERN, context_keys, flag_version

ContextLike = Context | Mapping[str, Any]

DEFAULT_BASE_URL = "http://127.0.0.1:7070"
_NOT_READY = error_reason(ErrorKind.CLIENT_NOT_READY)
_WRONG_TYPE = error_reason(ErrorKind.WRONG_TYPE)
_EXCEPTION = error_reason(ErrorKind.EXCEPTION)
_NUMBER = VALUE_CLASSES[ValueType.NUMBER]
_MAX_LOGGED_EXCEPTIONS = 20


def _accessor(accepted: frozenset[type], name: str, doc: str, *, detail: bool = False) -> Any:
    """Build one evaluation method. The fast path (a ready flag of the accepted type, counted in a
    preallocated per-flag list) is inline; everything else goes to `Client._resolve`.

    One function body for all accessors: this is the evaluation error boundary, written once.
    """

    def evaluate(self: Client, key: str, context: ContextLike, default: Any) -> Any:
        try:
            view = self._view
            result = view.snapshot.evaluate(key, context)
            if detail:
                return self._resolve(view, key, context, result, default, accepted)
            value = result.value
            counters = view.counts.get(key)
            if counters is not None and value.__class__ in accepted:
                counters[result.variation] += 1  # type: ignore[index]  # an int whenever value is set
                return value
            return self._resolve(view, key, context, result, default, accepted).value
        except Exception:  # noqa: BLE001 -- the evaluation boundary: a caller always gets an answer
            answer = self._exception(key, default)
            return answer if detail else answer.value

    evaluate.__name__ = evaluate.__qualname__ = name
    evaluate.__doc__ = (
        doc + " Never raises: the default, with an ERROR reason, when there is no usable value."
    )
    return evaluate


#: detail() per value type: no check (None) or the accessor's type check.
_DETAILS: dict[ValueType | None, Any] = {
    None: _accessor(frozenset(), "detail", "An evaluation's value, variation and reason.", detail=True),
    **{
        value_type: _accessor(classes, "detail", "An evaluation's value, variation and reason.", detail=True)
        for value_type, classes in VALUE_CLASSES.items()
    },
}


class Client(ClientCore):
    """A vexil SDK client: `Client(sdk_key, base_url)` streams flags from a vexil server.

    Also `Client.from_file(path)`, `Client.from_dict(document)` (bootstrap) and `Client.from_source(source)`.
    Evaluation methods never raise and never block; they answer the caller's default with an ERROR reason
    (FLAG_NOT_FOUND, WRONG_TYPE, CLIENT_NOT_READY, ...) when they cannot answer with a flag's value.
    """

    __slots__ = ()

    def __init__(
        self,
        sdk_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        stream: bool = True,
        poll_interval: float = 30.0,
        start_wait: float = 5.0,
        cache_path: str | Path | None = None,
        events: bool = True,
        flush_interval: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not isinstance(sdk_key, str) or not sdk_key.strip():
            raise ValueError("Client needs the SDK key of a server environment")
        if poll_interval <= 0 or flush_interval <= 0 or start_wait < 0:
            raise ValueError("poll_interval and flush_interval must be > 0, start_wait >= 0")
        log = logger or logging.getLogger("vexil.sdk")
        http = HttpConfig(base_url.rstrip("/"), sdk_key.strip(), transport)
        source = RemoteSource(http, streaming=stream, poll_interval=poll_interval, logger=log)
        self._setup(source, log, cache_path=cache_path)
        if events:
            self._events = EventProcessor(http, self._collect, flush_interval=flush_interval, logger=log)
        self._begin(start_wait)

    @classmethod
    def from_source(
        cls, source: DataSource, *, start_wait: float = 5.0, logger: logging.Logger | None = None
    ) -> Client:
        """A client fed by any `DataSource` (an in-memory one in tests, for example); sends no events."""
        client = cls.__new__(cls)
        client._setup(source, logger or logging.getLogger("vexil.sdk"), cache_path=None)
        client._begin(start_wait)
        return client

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        watch: bool = False,
        *,
        watch_interval: float = 1.0,
        logger: logging.Logger | None = None,
    ) -> Client:
        """Offline: flags from a JSON or YAML file (a flag document or a snapshot/cache file).

        With `watch=True` the file is checked every `watch_interval` seconds and reloaded when it changes.
        A missing or broken file is logged and shown in `status()`; the client then answers defaults.
        """
        log = logger or logging.getLogger("vexil.sdk")
        source = FileSource(path, watch=watch, interval=watch_interval, logger=log)
        return cls.from_source(source, start_wait=0, logger=log)  # the first load is synchronous

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], *, logger: logging.Logger | None = None) -> Client:
        """Bootstrap: flags from a document (`{"flags": ..., "segments": ...}`) given in code."""
        return cls.from_source(StaticSource(document), start_wait=0, logger=logger)

    # -- evaluation (the public error boundary) --------------------------------------------------------

    if TYPE_CHECKING:  # the real methods are built by `_accessor`; these are their signatures

        def bool(self, key: str, context: ContextLike, default: builtins.bool) -> builtins.bool: ...
        def string(self, key: str, context: ContextLike, default: str) -> str: ...
        def number(self, key: str, context: ContextLike, default: float) -> float: ...
        def json(self, key: str, context: ContextLike, default: Any) -> Any: ...

    else:
        bool = _accessor(VALUE_CLASSES[ValueType.BOOL], "bool", "A boolean flag value.")
        string = _accessor(VALUE_CLASSES[ValueType.STRING], "string", "A string flag value.")
        number = _accessor(
            VALUE_CLASSES[ValueType.NUMBER], "number", "An int or float value (a bool is WRONG_TYPE)."
        )
        json = _accessor(VALUE_CLASSES[ValueType.JSON], "json", "Any JSON value (object, array, scalar).")

    def detail(
        self, key: str, context: ContextLike, default: Any, *, value_type: ValueType | None = None
    ) -> Detail:
        """`value, variation, reason`; with `value_type` a value of another type answers WRONG_TYPE."""
        detail: Detail = _DETAILS[value_type](self, key, context, default)
        return detail

    def all_flags(self, context: ContextLike) -> dict[str, Any]:
        """`{key: value}` of every flag for one context (None where a flag has no value); {} until ready.

        Like LaunchDarkly's all-flags state it records no evaluation events (it serves bootstrapping, and
        counting it would make every flag look used).
        """
        values: dict[str, Any] = self._all(context, False)
        return values

    def all_flags_detail(self, context: ContextLike) -> dict[str, Detail]:
        details: dict[str, Detail] = self._all(context, True)
        return details

    def track(
        self, event_key: str, context: ContextLike | None = None, *, value: float | None = None
    ) -> None:
        """Record a custom event (a metric). Protocol v1 carries no context, so `context` is not sent."""
        try:
            events = self._events
            if events is None or self._closed:
                return
            if event_key.__class__ is not str or not KEY_PATTERN.fullmatch(event_key):
                self._log.warning("vexil: track(%r): not a valid event key; dropped", event_key)
                return
            if value is not None and (value.__class__ not in _NUMBER or not math.isfinite(value)):
                self._log.warning("vexil: track(%r): value must be a finite number; dropped", event_key)
                return
            events.custom(event_key, None if value is None else float(value))
        except Exception:  # noqa: BLE001 -- the public boundary: tracking never raises into the app
            self._exception(event_key, None)

    def _all(self, context: ContextLike, detail: builtins.bool) -> dict[str, Any]:
        try:
            view = self._view
            if not view.ready:
                return {}
            results = view.snapshot.evaluate_all(context)
            if detail:
                return {key: Detail(r.value, r.variation, r.reason) for key, r in results.items()}
            return {key: result.value for key, result in results.items()}
        except Exception:  # noqa: BLE001 -- the evaluation boundary: a caller always gets an answer
            self._exception("*", None)
            return {}

    def _resolve(
        self,
        view: View,
        key: str,
        context: ContextLike,
        result: Result,
        default: Any,
        accepted: frozenset[type],
    ) -> Detail:
        """The slow path: not ready, errors, null values, wrong types, experiments, a flag's first
        evaluation in a counting window. Counts the outcome."""
        reason = result.reason
        if not view.ready:
            detail = Detail(default, None, _NOT_READY)
        elif reason.kind is ReasonKind.ERROR or result.value is None:
            detail = Detail(default, None, reason)
        elif accepted and result.value.__class__ not in accepted:
            detail = Detail(default, None, _WRONG_TYPE)
        else:
            detail = Detail(result.value, result.variation, reason)
        if key.__class__ is str:
            view.window.count(key, detail.variation)
            events = self._events
            if events is not None and reason.in_experiment and detail.variation is not None:
                contexts = context_keys(context)
                if contexts:
                    events.exposure(key, detail.variation, flag_version(view.snapshot, key), contexts)
        return detail

    def _exception(self, key: object, default: Any) -> Detail:
        if self._logged < _MAX_LOGGED_EXCEPTIONS:
            self._logged += 1
            self._log.exception("vexil: evaluating %r raised; answering the default", key)
        return Detail(default, None, _EXCEPTION)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        view = self._view
        return f"<vexil.Client {self._source.name} {self._state.value} flags={len(view.snapshot)}>"
