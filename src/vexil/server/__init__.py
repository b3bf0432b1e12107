"""The vexil HTTP server: the admin API, the SDK data plane and their settings, as one Starlette app; and the
relay, which serves the same data plane from a mirror of an upstream server.

Composition root: it builds HTTP around `vexil.service`; no business rule lives in this package.
"""

from vexil.server._app import create_app
from vexil.server._openapi import openapi_document
from vexil.server._relay_app import create_relay_app
from vexil.server._relay_settings import RelaySettings, parse_client_keys
from vexil.server._settings import ServerSettings, SettingsError

__all__ = [
    "RelaySettings",
    "ServerSettings",
    "SettingsError",
    "create_app",
    "create_relay_app",
    "openapi_document",
    "parse_client_keys",
]
