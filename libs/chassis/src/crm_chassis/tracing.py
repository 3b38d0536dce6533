"""W3C trace context: `traceparent` accepted or created per request, sent on every outgoing call,
written in every log line, and exported to OpenTelemetry when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

Every request handled is one span: its trace id comes from the caller's `traceparent` (the
gateway accepts a client's; a service gets the gateway's) or is new, its span id is new, and its
parent is the caller's span. Outgoing calls made while handling it carry
`traceparent: 00-<trace id>-<this span id>-<flags>` (`inject`, an httpx request hook), so the
services' spans are children of the gateway's and one trace id follows a request through every
process's logs.

Export is optional and light: only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and only if the
OpenTelemetry SDK and its OTLP/HTTP exporter are installed (`crm-chassis[otel]`). Each finished
request is handed to the SDK's batch processor as a server span with the ids above; nothing else
of OpenTelemetry runs in the request path.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger("crm.tracing")
HEADER = "traceparent"
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str  # this process's span for the request
    parent_id: str | None  # the caller's span, when it sent one
    flags: str = "01"

    @property
    def traceparent(self) -> str:
        """The header for calls made from this span: they are its children."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


trace_var: ContextVar[TraceContext | None] = ContextVar("trace", default=None)


def parse(value: str | None) -> tuple[str, str, str] | None:
    """(trace id, parent span id, flags) of a valid `traceparent`, else None.

    Per the W3C recommendation: version `ff` and all-zero ids are invalid; version 00 has exactly
    four fields; a later version may append fields, which are ignored.
    """
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id, flags


def start(incoming: str | None) -> TraceContext:
    """The span of a request that arrived with `incoming` (its `traceparent` header, or None)."""
    parsed = parse(incoming)
    if parsed is None:
        return TraceContext(trace_id=secrets.token_hex(16), span_id=secrets.token_hex(8), parent_id=None)
    trace_id, parent_id, flags = parsed
    return TraceContext(trace_id=trace_id, span_id=secrets.token_hex(8), parent_id=parent_id, flags=flags)


def current() -> TraceContext | None:
    return trace_var.get()


async def inject(request: httpx.Request) -> None:
    """httpx request hook: the current span becomes the parent of the call."""
    context = trace_var.get()
    if context is not None:
        request.headers[HEADER] = context.traceparent


class SpanExport:
    """Finished request spans to an OTLP/HTTP endpoint through the OpenTelemetry SDK."""

    def __init__(self, service: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self._resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or f"crm-{service}"})
        self._processor = BatchSpanProcessor(OTLPSpanExporter())  # reads OTEL_EXPORTER_OTLP_* itself

    def record(
        self, context: TraceContext, name: str, start_ns: int, end_ns: int, status: int, attributes: dict[str, Any]
    ) -> None:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        flags = TraceFlags(int(context.flags, 16))
        own = SpanContext(int(context.trace_id, 16), int(context.span_id, 16), is_remote=False, trace_flags=flags)
        parent = (
            SpanContext(int(context.trace_id, 16), int(context.parent_id, 16), is_remote=True, trace_flags=flags)
            if context.parent_id
            else None
        )
        span = ReadableSpan(
            name=name,
            context=own,
            parent=parent,
            resource=self._resource,
            attributes={**attributes, "http.response.status_code": status},
            kind=SpanKind.SERVER,
            status=Status(StatusCode.ERROR) if status >= 500 else Status(StatusCode.UNSET),
            start_time=start_ns,
            end_time=end_ns,
        )
        self._processor.on_end(span)

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        return bool(self._processor.force_flush(int(timeout_seconds * 1000)))

    def shutdown(self) -> None:
        self._processor.shutdown()  # type: ignore[no-untyped-call]


def span_export(service: str) -> SpanExport | None:
    """The exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and the SDK is installed, else None."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    try:
        return SpanExport(service)
    except ImportError:
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: pip install 'crm-chassis[otel]'"
        )
        return None
