"""The evaluation engine: pure, deterministic flag evaluation over an immutable compiled snapshot.

Standard library and mmh3 only; no I/O, no clocks, no globals (tests/test_imports.py enforces it).
"""

from vexil.engine._bucketing import ALGORITHMS, LAUNCHDARKLY, NATIVE, bucket
from vexil.engine._context import Context
from vexil.engine._problems import Problem, SchemaError
from vexil.engine._result import ErrorKind, Reason, ReasonKind, Result
from vexil.engine._snapshot import Snapshot
from vexil.engine._validate import validate_document

__all__ = [
    "ALGORITHMS",
    "LAUNCHDARKLY",
    "NATIVE",
    "Context",
    "ErrorKind",
    "Problem",
    "Reason",
    "ReasonKind",
    "Result",
    "SchemaError",
    "Snapshot",
    "bucket",
    "validate_document",
]
