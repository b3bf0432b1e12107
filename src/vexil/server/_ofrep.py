"""The OFREP routes (OpenFeature Remote Evaluation Protocol 0.3.0, docs/ofrep.md): wiring and CORS only.

`ofrep_routes(service, settings, hub)` builds the endpoints around the data plane's hub; no rule lives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from ._auth import Authenticator
from ._backend import DataPlaneBackend
from ._hub import Hub
from ._ofrep_cache import ViewCache
from ._ofrep_eval import EvaluateFlagEndpoint, EvaluateFlagsEndpoint, OfrepDeps
from ._ofrep_limit import RateLimiter
from ._ofrep_links import STREAM_PATH, StreamLinks
from ._ofrep_settings import OfrepSettings
from ._ofrep_stream import KeyCheck, OfrepStreamEndpoint
from ._settings import ServerSettings

EVALUATE_FLAG_PATH = "/ofrep/v1/evaluate/flags/{key}"
EVALUATE_FLAGS_PATH = "/ofrep/v1/evaluate/flags"
_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-None-Match",
    "X-API-Key",
    "Last-Event-ID",
    "Cache-Control",
)


def with_cors(app: ASGIApp, origins: Sequence[str], methods: Sequence[str]) -> ASGIApp:
    """`app` answering CORS preflights and tagging responses for `origins` (`*`: any); unchanged without."""
    if not origins:
        return app
    return CORSMiddleware(
        app,
        allow_origins=list(origins),
        allow_methods=[*methods, "OPTIONS"],
        allow_headers=list(_REQUEST_HEADERS),
        expose_headers=["ETag", "Retry-After"],
        max_age=600,
    )


def ofrep_routes(
    service: DataPlaneBackend,
    settings: ServerSettings,
    hub: Hub,
    *,
    auth: Authenticator | None = None,
    ofrep: OfrepSettings | None = None,
    env: Mapping[str, str] | None = None,
) -> list[BaseRoute]:
    """The OFREP evaluation and stream routes. Pass the admin API's `auth` so that revoking a key here takes
    effect at once; `ofrep` defaults to `OfrepSettings.from_env(settings, env)` (`VEXIL_OFREP_*`)."""
    ofrep = ofrep or OfrepSettings.from_env(settings, env)
    auth = auth or Authenticator(service, ttl=settings.auth_cache_seconds)
    views = ViewCache(hub)
    limiter = RateLimiter(ofrep.rate_limit, ofrep.rate_burst)
    links = StreamLinks(
        ofrep.stream_secret, public_url=ofrep.public_url, inactivity_seconds=ofrep.inactivity_seconds
    )
    deps = OfrepDeps(auth, views, limiter, links, settings.max_body_bytes, ofrep.freshness_wait_seconds)
    stream = OfrepStreamEndpoint(hub, views, links, KeyCheck(service, settings.auth_cache_seconds), limiter)
    origins = ofrep.cors_origins
    extra = ["OPTIONS"] if origins else []
    return [
        Route(
            EVALUATE_FLAGS_PATH,
            with_cors(EvaluateFlagsEndpoint(deps), origins, ["POST"]),
            methods=["POST", *extra],
            name="ofrep_evaluate_flags",
        ),
        Route(
            EVALUATE_FLAG_PATH,
            with_cors(EvaluateFlagEndpoint(deps), origins, ["POST"]),
            methods=["POST", *extra],
            name="ofrep_evaluate_flag",
        ),
        Route(STREAM_PATH, with_cors(stream, origins, ["GET"]), methods=["GET", *extra], name="ofrep_stream"),
    ]
