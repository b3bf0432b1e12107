"""Use cases of the vexil server and the storage interfaces they need (`Store`, `Tx`).

Imports only `vexil.engine` and `vexil.protocol`; no SQL, no HTTP.
"""

from vexil.engine import Problem

from ._access import KEY_PREFIXES, ApiKey, CreatedKey, KeyKind, Principal, Role, Secret, hash_secret
from ._apply_model import (
    AppliedChange,
    ApplyAction,
    ApplyChange,
    ApplyConflict,
    ApplyConflictItem,
    ApplyResult,
    parse_changes,
    parse_snapshot_versions,
)
from ._base import Clock, utc_now
from ._demo import DEMO_FLAGS
from ._documents import default_targeting
from ._errors import (
    AlreadyExists,
    Conflict,
    ErrorCode,
    Forbidden,
    NotFound,
    ServiceError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from ._feed import Listener
from ._merge_patch import merge_patch
from ._models import (
    Change,
    Environment,
    EnvironmentSnapshot,
    FlagDefinition,
    FlagTargeting,
    ItemKind,
    JsonObject,
    Project,
    ResourceKind,
    Segment,
)
from ._ports import Notice, Store, Tx
from ._projects import DEFAULT_ENVIRONMENTS
from ._records import (
    AuditAction,
    AuditEntry,
    AuditPage,
    AuditQuery,
    CustomEvent,
    DailyCount,
    EvaluationSummary,
    EventCount,
    FlagUsage,
)
from ._service import BootstrapResult, Service

__all__ = [
    "DEFAULT_ENVIRONMENTS",
    "DEMO_FLAGS",
    "KEY_PREFIXES",
    "AlreadyExists",
    "ApiKey",
    "AppliedChange",
    "ApplyAction",
    "ApplyChange",
    "ApplyConflict",
    "ApplyConflictItem",
    "ApplyResult",
    "AuditAction",
    "AuditEntry",
    "AuditPage",
    "AuditQuery",
    "BootstrapResult",
    "Change",
    "Clock",
    "Conflict",
    "CreatedKey",
    "CustomEvent",
    "DailyCount",
    "Environment",
    "EnvironmentSnapshot",
    "ErrorCode",
    "EvaluationSummary",
    "EventCount",
    "FlagDefinition",
    "FlagTargeting",
    "FlagUsage",
    "Forbidden",
    "ItemKind",
    "JsonObject",
    "KeyKind",
    "Listener",
    "NotFound",
    "Notice",
    "Principal",
    "Problem",
    "Project",
    "ResourceKind",
    "Role",
    "Secret",
    "Segment",
    "Service",
    "ServiceError",
    "Store",
    "Tx",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "default_targeting",
    "hash_secret",
    "merge_patch",
    "parse_changes",
    "parse_snapshot_versions",
    "utc_now",
]
