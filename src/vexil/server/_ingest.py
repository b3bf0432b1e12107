"""`POST /events/v1/bulk`: SDK evaluation summaries and custom events, size-bounded (gzip accepted).

Reads and decodes the body (both sizes capped -> 413), hands typed events to `service.record_events`;
aggregation and storage are the service's business.
"""

from __future__ import annotations

import zlib

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from vexil.protocol import CustomEvent, ProtocolError, ProtocolErrorKind, SummaryEvent, decode_events
from vexil.service import CustomEvent as StoredCustomEvent
from vexil.service import EvaluationSummary, ServiceError

from ._auth import Authenticator
from ._backend import EventSink
from ._metrics import Metrics
from ._problems import FieldError, ProblemError, ProblemType, from_service_error
from ._sdk_http import header, sdk_target, send_problem

#: A gzip body may expand to at most this many times the body limit.
DECOMPRESSED_FACTOR = 8


def _too_large(what: str, limit: int) -> ProblemError:
    return ProblemError.at(ProblemType.BODY_TOO_LARGE, "body", f"the {what} is larger than {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large("request body", limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large("request body", limit)
    return bytes(body)


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    coding = (encoding or "identity").strip().lower()
    if coding == "identity":
        return body
    if coding not in {"gzip", "x-gzip"}:
        raise ProblemError.at(
            ProblemType.MALFORMED_REQUEST,
            "Content-Encoding",
            f"unsupported content encoding {coding!r}: use gzip",
        )
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ProblemError.at(ProblemType.MALFORMED_REQUEST, "body", f"not valid gzip: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _too_large("decompressed request body", limit)
    if not inflater.eof or inflater.unused_data:
        raise ProblemError.at(
            ProblemType.MALFORMED_REQUEST, "body", "truncated gzip data or data after its end"
        )
    return out


def _problem(exc: ProtocolError) -> ProblemError:
    kind = (
        ProblemType.MALFORMED_REQUEST
        if exc.kind is ProtocolErrorKind.INVALID_JSON
        else ProblemType.VALIDATION_FAILED
    )
    return ProblemError(kind, str(exc), [FieldError(exc.path or "body", exc.message)])


class EventsEndpoint:
    def __init__(
        self, service: EventSink, auth: Authenticator, metrics: Metrics, *, max_body_bytes: int
    ) -> None:
        self._service = service
        self._auth = auth
        self._metrics = metrics
        self._limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            target = await sdk_target(scope, self._auth)
            raw = await read_body(request, self._limit)
            body = decompress(raw, header(scope, b"content-encoding"), self._limit * DECOMPRESSED_FACTOR)
            events = decode_events(body)
            summaries = [
                EvaluationSummary(e.flag, e.variation, e.version, e.count, e.window_start, e.window_end)
                for e in events
                if isinstance(e, SummaryEvent)
            ]
            custom = [
                StoredCustomEvent(e.key, e.time, e.value, e.count)
                for e in events
                if isinstance(e, CustomEvent)
            ]
            if summaries or custom:
                await run_in_threadpool(self._service.record_events, target.principal, summaries, custom)
        except ProblemError as problem:
            await send_problem(problem, scope, receive, send)
            return
        except ProtocolError as exc:
            await send_problem(_problem(exc), scope, receive, send)
            return
        except ServiceError as exc:
            await send_problem(from_service_error(exc), scope, receive, send)
            return
        except ClientDisconnect:
            return
        if summaries:
            self._metrics.events_ingested.labels("summary").inc(len(summaries))
        if custom:
            self._metrics.events_ingested.labels("custom").inc(len(custom))
        response = JSONResponse({"accepted": len(summaries) + len(custom)}, status_code=202)
        await response(scope, receive, send)
