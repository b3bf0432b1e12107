"""vexil.ui: the web console (server-rendered pages, htmx vendored), mounted by the server after the API.

Uses `vexil.service` and `vexil.engine` only, never `vexil.server`; no global state, nothing at import time.
"""

from vexil.ui._http import UiSettings
from vexil.ui._routes import ui_routes

__all__ = ["UiSettings", "ui_routes"]
