"""`VexilProvider`: the vexil SDK behind the OpenFeature API (`openfeature-sdk`).

Adapts a `vexil.Client` (evaluation, tracking, readiness, change events); it evaluates nothing itself and
talks to no server directly.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderFatalError, ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata
from openfeature.track import TrackingEventDetails

from vexil.openfeature._mapping import resolution, to_context
from vexil.sdk import Client, ClientStatus, Detail, SourceErrorKind, State, ValueType

ObjectValue = Sequence[FlagValueType] | Mapping[str, FlagValueType]


def _mismatch(default: Any, message: str) -> FlagResolutionDetails[Any]:
    return FlagResolutionDetails(
        value=default, error_code=ErrorCode.TYPE_MISMATCH, error_message=message, reason=Reason.ERROR
    )


class VexilProvider(AbstractProvider):
    """An OpenFeature provider backed by a vexil `Client` (streaming, file or bootstrap).

    `initialize` waits up to `init_timeout` for the client's first flags; `shutdown` closes the client
    unless `close_client=False`. Changes in the client become PROVIDER_CONFIGURATION_CHANGED events,
    an interrupted connection PROVIDER_STALE, a rejected SDK key a fatal PROVIDER_ERROR.
    """

    def __init__(self, client: Client, *, init_timeout: float = 5.0, close_client: bool = True) -> None:
        super().__init__()
        self.client = client
        self._init_timeout = init_timeout
        self._close_client = close_client
        self._lock = threading.Lock()
        self._initialized = False
        self._last: ClientStatus | None = None
        self._remove_listener: Callable[[], None] | None = None

    def get_metadata(self) -> Metadata:
        return Metadata(name="vexil")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        self._remove_listener = self.client.add_listener(self._on_status)
        ready = self.client.wait_until_ready(self._init_timeout)
        status = self.client.status()
        with self._lock:
            self._initialized = True
            self._last = status
        if status.error is not None and status.error.kind is SourceErrorKind.UNAUTHORIZED:
            raise ProviderFatalError(status.error.message)
        if not ready:
            reason = status.error.message if status.error is not None else "no flags yet"
            raise ProviderNotReadyError(f"vexil: not ready after {self._init_timeout:g} s ({reason})")

    def shutdown(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        if self._close_client:
            self.client.close()

    # -- evaluation ------------------------------------------------------------------------------------

    def _detail(
        self, key: str, default: Any, context: EvaluationContext | None, value_type: ValueType
    ) -> tuple[Detail, FlagResolutionDetails[Any]]:
        vexil_context = to_context(context)
        detail = self.client.detail(key, vexil_context, default, value_type=value_type)
        return detail, resolution(detail, default, self.client.snapshot.flags.get(key), vexil_context)

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return self._detail(flag_key, default_value, evaluation_context, ValueType.BOOL)[1]

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._detail(flag_key, default_value, evaluation_context, ValueType.STRING)[1]

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        detail, details = self._detail(flag_key, default_value, evaluation_context, ValueType.NUMBER)
        if details.error_code is not None or detail.variation is None:
            return details
        value = detail.value
        if isinstance(value, float):
            if not value.is_integer():
                return _mismatch(default_value, f"vexil: {flag_key} is {value}, not an integer")
            details.value = int(value)
        return details

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        detail, details = self._detail(flag_key, default_value, evaluation_context, ValueType.NUMBER)
        if details.error_code is None and detail.variation is not None:
            details.value = float(detail.value)
        return details

    def resolve_object_details(
        self, flag_key: str, default_value: ObjectValue, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[ObjectValue]:
        detail, details = self._detail(flag_key, default_value, evaluation_context, ValueType.JSON)
        if (
            details.error_code is None
            and detail.variation is not None
            and not isinstance(detail.value, dict | list)
        ):
            return _mismatch(default_value, f"vexil: {flag_key} is not an object or a list")
        return details

    def track(
        self,
        tracking_event_name: str,
        evaluation_context: EvaluationContext | None = None,
        tracking_event_details: TrackingEventDetails | None = None,
    ) -> None:
        value = tracking_event_details.value if tracking_event_details is not None else None
        number = value if isinstance(value, int | float) and math.isfinite(value) else None
        self.client.track(tracking_event_name, to_context(evaluation_context), value=number)

    # -- events ----------------------------------------------------------------------------------------

    def _on_status(self, status: ClientStatus) -> None:
        with self._lock:
            if not self._initialized:
                return
            previous, self._last = self._last, status
        if status.state is State.CLOSED:
            return
        if status.state is State.OFF and status.error is not None:
            if previous is None or previous.state is not State.OFF:
                code = (
                    ErrorCode.PROVIDER_FATAL
                    if status.error.kind is SourceErrorKind.UNAUTHORIZED
                    else ErrorCode.GENERAL
                )
                self.emit_provider_error(ProviderEventDetails(message=status.error.message, error_code=code))
            return
        if status.state is State.INTERRUPTED:
            if previous is None or previous.state is not State.INTERRUPTED:
                message = status.error.message if status.error is not None else "interrupted"
                self.emit_provider_stale(ProviderEventDetails(message=message))
            return
        if status.ready and (previous is None or not previous.ready or previous.state is not status.state):
            self.emit_provider_ready(ProviderEventDetails())
        elif previous is not None and status.updated_at != previous.updated_at:
            self.emit_provider_configuration_changed(ProviderEventDetails(message="flags changed"))
