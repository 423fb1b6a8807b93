"""Traces (shared/telemetry.py, issue 17 item 2): the exporter the standard OpenTelemetry settings choose, the traces
UI link, the parent-based ratio sampler that still exports errors, and the span of one handled record (its trace
from the traceparent header, case, event type and outcome)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import NamedTuple

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared import telemetry
from shared.settings import HallSettings, load_settings
from shared.telemetry import (
    KeepErrors,
    SampledOrFailed,
    exporter_for,
    handler_span,
    incoming_trace_id,
    trace_settings,
    tracer_provider,
)

SETTINGS = HallSettings()
CASE_NO = "15052520261201000007"


def test_nothing_set_exports_nothing_and_records_nothing() -> None:
    traces = trace_settings(SETTINGS, {})
    assert (traces.exporter, traces.endpoint, traces.ui, traces.ratio) == ("none", "", "", 1.0)
    assert exporter_for(traces) is None
    assert tracer_provider(SETTINGS, "routing", environ={}).sampler is ALWAYS_OFF
    assert traces.link("0af7651916cd43dd8448eb211c80319c") == ""


def test_zipkin_endpoint_alone_exports_to_zipkin_and_gives_its_ui() -> None:
    env = {"OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://127.0.0.1:9411/api/v2/spans"}
    traces = trace_settings(SETTINGS, env)
    assert (traces.exporter, traces.endpoint, traces.ui) == (
        "zipkin",
        env["OTEL_EXPORTER_ZIPKIN_ENDPOINT"],
        "http://127.0.0.1:9411",
    )
    exporter = exporter_for(traces)
    assert isinstance(exporter, ZipkinExporter)
    assert exporter.endpoint == env["OTEL_EXPORTER_ZIPKIN_ENDPOINT"]
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    assert traces.link(trace_id) == f"http://127.0.0.1:9411/zipkin/traces/{trace_id}"
    noon = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # 12:00 in Beijing; the search ends a day later
    assert traces.case_search(CASE_NO, noon) == (
        f"http://127.0.0.1:9411/zipkin/?annotationQuery=hall.case_no%3D{CASE_NO}&lookback=7d&endTs=1796184000000&limit=50"
    )
    assert isinstance(tracer_provider(SETTINGS, "routing", environ=env).sampler, KeepErrors)


def test_the_exporter_variable_wins_and_otlp_keeps_docker_compose_working() -> None:
    otlp = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"})
    assert trace_settings(otlp, {}).exporter == "otlp"  # docker-compose: the OTLP endpoint alone, as before
    exporter = exporter_for(trace_settings(otlp, {}))
    assert isinstance(exporter, OTLPSpanExporter)
    both = {"OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://z:9411/api/v2/spans", "OTEL_TRACES_EXPORTER": "otlp"}
    assert trace_settings(otlp, both).exporter == "otlp"
    assert trace_settings(otlp, both).ui == ""  # no Zipkin UI when spans go to Jaeger, unless HALL_TRACES_URL says
    assert trace_settings(otlp, {**both, "OTEL_TRACES_EXPORTER": "none"}).exporter == "none"
    zipkin = trace_settings(SETTINGS, {"OTEL_TRACES_EXPORTER": "zipkin"})
    assert (zipkin.endpoint, zipkin.ui) == ("http://localhost:9411/api/v2/spans", "http://localhost:9411")


def test_hall_traces_url_names_the_ui_or_a_template() -> None:
    env = {"OTEL_TRACES_EXPORTER": "otlp", "HALL_TRACES_URL": "http://jaeger.local:16686/trace/{trace_id}"}
    assert trace_settings(SETTINGS, env).link("ab" * 16) == "http://jaeger.local:16686/trace/" + "ab" * 16
    zipkin = {"OTEL_TRACES_EXPORTER": "zipkin", "HALL_TRACES_URL": "https://ops.example.gov.cn/zipkin/"}
    assert trace_settings(SETTINGS, zipkin).link("cd" * 16) == "https://ops.example.gov.cn/zipkin/traces/" + "cd" * 16


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER"),
        ({"OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG"),
        ({"OTEL_TRACES_SAMPLER_ARG": "half"}, "OTEL_TRACES_SAMPLER_ARG"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        trace_settings(SETTINGS, env)


def provider(ratio: float) -> tuple[TracerProvider, InMemorySpanExporter]:
    exported = InMemorySpanExporter()
    made = TracerProvider(sampler=KeepErrors(ratio))
    made.add_span_processor(SampledOrFailed(exported, schedule_delay_millis=10))
    return made, exported


def test_the_ratio_keeps_about_that_share_of_traces_and_every_error() -> None:
    made, exported = provider(0.25)
    tracer = made.get_tracer("test")
    random.seed(7)
    for n in range(2000):
        with tracer.start_as_current_span("root") as root:
            assert root.is_recording()  # recorded even when dropped: an error can still be exported
            if n % 100 == 0:
                root.set_status(StatusCode.ERROR, "handler failed")
    made.force_flush()
    spans = exported.get_finished_spans()
    kept = [s for s in spans if s.context is not None and s.context.trace_flags.sampled]
    errors = [s for s in spans if s.status.status_code is StatusCode.ERROR]
    assert 400 <= len(kept) <= 600, len(kept)  # 25 % of 2000, give or take
    assert len(errors) == 20  # every error, sampled or not
    assert len(spans) == len(kept) + sum(1 for s in errors if s not in kept)


def test_one_trace_is_kept_or_dropped_whole_across_services() -> None:
    """Every service follows the root's decision carried in traceparent (ParentBased), whatever its own ratio."""
    gateway, gateway_spans = provider(0.5)
    routing, routing_spans = provider(1.0)  # would keep everything on its own
    propagator = TraceContextTextMapPropagator()
    for _ in range(200):
        headers: dict[str, str] = {}
        with gateway.get_tracer("g").start_as_current_span("POST /api/cases"):
            propagator.inject(headers)
        with routing.get_tracer("r").start_as_current_span("process", context=propagator.extract(headers)):
            pass
    for made in (gateway, routing):
        made.force_flush()
    roots = {s.context.trace_id for s in gateway_spans.get_finished_spans() if s.context is not None}
    children = {s.context.trace_id for s in routing_spans.get_finished_spans() if s.context is not None}
    assert 0 < len(roots) < 200  # the ratio dropped some
    assert children == roots  # routing kept exactly the traces the gateway kept


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    headers: list[tuple[str, bytes]]


def recorded() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exported = InMemorySpanExporter()
    made = TracerProvider(sampler=KeepErrors(1.0))
    made.add_span_processor(SimpleSpanProcessor(exported))
    return made.get_tracer("hall.lanes"), exported


def test_a_handled_records_span_continues_its_trace_and_names_case_event_and_outcome() -> None:
    tracer, exported = recorded()
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    record = Record("hall.intake.events", 2, 41, [("traceparent", parent.encode()), ("content-type", b"json")])
    with handler_span(tracer, "routing", record):
        assert incoming_trace_id() == "0af7651916cd43dd8448eb211c80319c"
        telemetry.note_event("CaseAccepted.v1", CASE_NO, "2a267fde85235928be45a5e45f5df044")
        telemetry.note_outcome(telemetry.HANDLED)
    assert incoming_trace_id() == ""  # only while the record is handled
    (span,) = exported.get_finished_spans()
    assert span.name == "hall.intake.events process"
    assert span.kind is SpanKind.CONSUMER
    assert span.context is not None
    assert f"{span.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == "b7ad6b7169203331"
    attributes = dict(span.attributes or {})
    names = ("hall.service", "hall.event_type", "hall.case_no", "hall.case_id", "hall.outcome")
    assert {k: attributes[k] for k in names} == {
        "hall.service": "routing",
        "hall.event_type": "CaseAccepted.v1",
        "hall.case_no": CASE_NO,
        "hall.case_id": "2a267fde85235928be45a5e45f5df044",
        "hall.outcome": "handled",
    }


@pytest.mark.parametrize(
    ("steps", "outcome", "error"),
    [
        (["refused", "handled"], "refused", False),  # a command answered with a refusal
        (["duplicate"], "duplicate", False),
        ([], "ignored", False),
        (["fail", "parked"], "parked", True),
        (["wait", "parked"], "parked", False),  # NotYet: waiting for another record is no error
        (["fail", "dead-lettered"], "dead-lettered", True),
        (["dead letter"], "dead-lettered", True),  # unreadable: no exception, still an error (always exported)
    ],
)
def test_each_outcome_is_on_the_span_and_failures_are_errors(steps: list[str], outcome: str, error: bool) -> None:
    tracer, exported = recorded()
    with handler_span(tracer, "evaluation", Record("hall.routing.events", 0, 1, [])):
        assert incoming_trace_id() == ""  # no traceparent header: a trace of its own
        for step in steps:
            if step == "refused":
                telemetry.note_refused()
            elif step == "dead letter":
                telemetry.note_dead_letter("信封无法解析 (malformed envelope)")
            elif step in ("fail", "wait"):
                telemetry.note_failure(RuntimeError("Redis 不可用"), waiting=step == "wait")
            else:
                telemetry.note_outcome(step)
    (span,) = exported.get_finished_spans()
    assert (span.attributes or {})["hall.outcome"] == outcome
    assert (span.status.status_code is StatusCode.ERROR) is error


def test_a_submission_span_gets_the_case_number_the_command_created() -> None:
    tracer, exported = recorded()
    with handler_span(tracer, "intake", Record("hall.intake.commands", 0, 3, [])):
        telemetry.note_event("SubmitApplication.v1")
        telemetry.note_case(CASE_NO)
        telemetry.note_case("15052520261201000008")  # a second event of the same command changes nothing
    (span,) = exported.get_finished_spans()
    assert (span.attributes or {})["hall.case_no"] == CASE_NO


def test_hall_up_exports_to_its_own_zipkin_unless_told_otherwise() -> None:
    from deploy.cli import traces  # noqa: PLC0415 (the CLI module pulls in the gateway's users)

    local = {"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://127.0.0.1:9411/api/v2/spans"}
    assert traces({}, wanted=True) == (local, "9411")
    moved = traces({"ZIPKIN_PORT": "19411"}, wanted=True)
    assert moved == ({**local, "OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://127.0.0.1:19411/api/v2/spans"}, "19411")
    assert traces({}, wanted=False) == ({}, "")  # --no-traces: no Zipkin, nothing added
    assert traces({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"}, wanted=True) == ({}, "")  # theirs
    assert traces({"OTEL_TRACES_EXPORTER": "zipkin"}, wanted=True) == ({}, "9411")  # theirs names the local one
    assert traces({"OTEL_TRACES_EXPORTER": "none"}, wanted=True) == ({}, "")
