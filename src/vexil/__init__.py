"""vexil: self-hosted feature flags. See README.md; the engine lives in `vexil.engine`."""

__version__ = "0.1.0"
