"""OpenFeature support: `VexilProvider` puts a vexil `Client` behind the `openfeature-sdk` API.

Needs the optional `openfeature-sdk` package; only this package imports it, never `vexil.sdk` itself.
"""

from vexil.openfeature._provider import VexilProvider

__all__ = ["VexilProvider"]
