"""Every request in a trace when the gateway's spans go nowhere, at a fraction of the instrumentation's cost.

With an exporter the gateway runs OpenTelemetry's ASGI instrumentation (a recorded server span per request, with
its attributes and send/receive spans). Without one nothing would be recorded, yet a request's trace id still
matters: it is on the request's log lines and on the records it publishes, so ``./hall logs`` ties the gateway's
line to the services' lines of the same request. :class:`RequestTrace` gives each request that trace id (the
caller's, from its ``traceparent``, or a new one) with a non-recording span and nothing else.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Tracer

PROPAGATED = (b"traceparent", b"tracestate")


class RequestTrace(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        headers = scope["headers"]
        carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in headers if name in PROPAGATED}
        parent = propagate.extract(carrier) if carrier else None
        with self.tracer.start_as_current_span("request", context=parent, kind=SpanKind.SERVER):
            await next_app(scope, receive, send)
