"""OpenTelemetry tracing: a server span per HTTP request, exported over OTLP (HTTP/protobuf).

Only `app.main` imports this module, and only when OTEL_EXPORTER_OTLP_ENDPOINT is set: without
it no OpenTelemetry code is imported or runs. The SDK reads its other standard variables itself
(OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, ...).

A W3C `traceparent` (and `tracestate`) on the request is continued: the span is its child. The
span is named `{method} {route template}` with OpenTelemetry's HTTP attributes; its trace id is
put where the log lines of the request find it (`app.core.logs.TRACE_ID`).
"""

import logging

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.logs import TRACE_ID
from app.core.metrics import KNOWN_METHODS

logger = logging.getLogger("app.tracing")

TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})
SERVICE_NAME = "todo-api"


def make_tracer_provider(endpoint: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """A provider whose spans go, in batches, to the collector at `endpoint` (the base URL:
    `/v1/traces` is added, as the SDK does for the variable), or to `exporter`."""
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, win over the default name.
    resource = Resource.create({"service.name": SERVICE_NAME}).merge(Resource.create())
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class TracingMiddleware:
    """Outermost: the span covers everything the request does, the access log line included."""

    def __init__(self, app: ASGIApp, *, provider: TracerProvider) -> None:
        self.app = app
        self.tracer = provider.get_tracer("app")
        self.propagator = TraceContextTextMapPropagator()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in TRACE_HEADERS
        }
        parent = self.propagator.extract(carrier) if carrier else None
        method = scope["method"] if scope["method"] in KNOWN_METHODS else "_OTHER"
        attributes = {
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        }
        status = 500
        with self.tracer.start_as_current_span(
            method, context=parent, kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            token = TRACE_ID.set(format(span.get_span_context().trace_id, "032x"))

            async def send_with_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_with_status)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
                TRACE_ID.reset(token)
