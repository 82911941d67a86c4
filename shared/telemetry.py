"""OpenTelemetry: one trace from the HTTP request through the store and NATS into the consumer.

The exporter is chosen by settings and off by default; the W3C `traceparent` travels
as an HTTP header, is stored beside each event (see eventstore), and rides as a NATS header.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

_configured = False


def setup_telemetry(service: str, exporter: str = "none", endpoint: str | None = None,
                    extra: SpanExporter | None = None) -> None:
    """Install a tracer provider once per process (tests run several services in one)."""
    global _configured
    if _configured:
        provider = trace.get_tracer_provider()
        if extra is not None and isinstance(provider, TracerProvider):
            provider.add_span_processor(SimpleSpanProcessor(extra))
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if extra is not None:
        provider.add_span_processor(SimpleSpanProcessor(extra))
    trace.set_tracer_provider(provider)
    _configured = True


def context_from(headers: Mapping[str, str] | None) -> Context:
    return propagate.extract(dict(headers or {}))


def current_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


# A proxy until a provider is set, then the provider's: looked up once, not per span
# (the lookup cost as much as the span).
_TRACER = trace.get_tracer("lingshui")


def producer_headers(name: str, traceparent: str | None) -> tuple[trace.Span, dict[str, str]]:
    """A PRODUCER span continuing `traceparent` (a new trace without it), not made current,
    and the W3C header that carries it; the caller ends it. The relay's only per-message
    tracing: the header is parsed and written here, not through the propagators (which
    cost as much as the span)."""
    ctx = None
    parent = _remote_parent(traceparent) if traceparent else None
    if parent is not None:
        ctx = trace.set_span_in_context(trace.NonRecordingSpan(parent))
    producer = _TRACER.start_span(name, context=ctx, kind=trace.SpanKind.PRODUCER)
    c = producer.get_span_context()
    if not c.is_valid:  # no SDK provider: carry the request's own context on
        return producer, {"traceparent": traceparent} if parent is not None else {}
    return producer, {"traceparent": f"00-{c.trace_id:032x}-{c.span_id:016x}-"
                                     f"{int(c.trace_flags):02x}"}


def _remote_parent(traceparent: str) -> trace.SpanContext | None:
    """A version-00 W3C traceparent's span context (None: not one)."""
    parts = traceparent.split("-")
    if len(parts) != 4 or parts[0] != "00" or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return trace.SpanContext(trace_id, span_id, is_remote=True,
                             trace_flags=trace.TraceFlags(flags))


@contextmanager
def span(name: str, parent: Mapping[str, str] | None = None,
         kind: trace.SpanKind = trace.SpanKind.INTERNAL, **attributes: str) -> Iterator[trace.Span]:
    ctx = context_from(parent) if parent is not None else None
    with _TRACER.start_as_current_span(name, context=ctx, kind=kind, attributes=attributes) as s:
        yield s
