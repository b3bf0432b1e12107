"""vexil: self-hosted feature flags. See README.md; the engine lives in `vexil.engine`.

`from vexil import Client` loads the SDK on first use (module `__getattr__`), so importing vexil does no work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vexil.sdk import Client

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from vexil.sdk import Client  # noqa: PLC0415 -- lazy on purpose: `import vexil` stays free

        return Client
    raise AttributeError(f"module 'vexil' has no attribute {name!r}")
