"""统一信封、配置、发件箱记录与应答: 编码往返、类型标签、不可变、坏数据报错、环境变量配置。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import msgspec
import pytest

from shared.clock import SYSTEM_CLOCK
from shared.envelope import SYSTEM, Actor, decode, encode, new_event_id, type_tag, wrap
from shared.outbox import Outgoing
from shared.replies import Reply, decode_reply, reply
from shared.settings import HallSettings, load_settings

CLERK = Actor(kind="clerk", id="c001", name="王窗口")
AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


class ApplicationSubmitted(msgspec.Struct, frozen=True, kw_only=True):
    version: ClassVar[int] = 3
    item_code: str
    applicant: str
    materials: list[str] = []


class Unversioned(msgspec.Struct, frozen=True):
    note: str


class Receipt(msgspec.Struct, frozen=True):
    case_no: str
    pages: int


EVENT = ApplicationSubmitted(item_code="11150525000120002", applicant="张三", materials=["M01", "M02"])


# ---------------------------------------------------------------- 信封 (envelope)


def test_type_tag_is_name_and_class_version() -> None:
    assert type_tag(EVENT) == "ApplicationSubmitted.v3"


def test_type_tag_defaults_to_version_one() -> None:
    assert type_tag(Unversioned("无版本")) == "Unversioned.v1"


def test_the_version_is_not_part_of_the_payload() -> None:
    assert msgspec.json.decode(msgspec.json.encode(EVENT)) == {
        "item_code": "11150525000120002",
        "applicant": "张三",
        "materials": ["M01", "M02"],
    }


def test_wrap_encode_decode_round_trip() -> None:
    envelope = wrap(EVENT, case_id="case-1", actor=CLERK, causation_id="cmd-1", event_id="ev-1", occurred_at=AT)
    decoded = decode(encode(envelope))
    assert decoded == envelope
    assert (decoded.event_id, decoded.type, decoded.case_id) == ("ev-1", "ApplicationSubmitted.v3", "case-1")
    assert (decoded.actor, decoded.causation_id, decoded.occurred_at) == (CLERK, "cmd-1", AT)
    assert msgspec.json.decode(decoded.payload, type=ApplicationSubmitted) == EVENT


def test_the_payload_is_embedded_as_json_not_as_a_string() -> None:
    envelope = wrap(EVENT, case_id="case-1", actor=CLERK, event_id="ev-1", occurred_at=AT)
    plain = msgspec.json.decode(encode(envelope))
    assert isinstance(plain, dict)
    assert plain["payload"] == {"item_code": "11150525000120002", "applicant": "张三", "materials": ["M01", "M02"]}
    assert plain["type"] == "ApplicationSubmitted.v3"
    assert plain["actor"] == {"kind": "clerk", "id": "c001", "name": "王窗口"}


def test_a_local_time_round_trips_as_the_same_instant() -> None:
    beijing = timezone(timedelta(hours=8))
    occurred = datetime(2026, 3, 2, 9, 30, tzinfo=beijing)
    decoded = decode(encode(wrap(EVENT, case_id="c", actor=CLERK, occurred_at=occurred)))
    assert decoded.occurred_at == occurred == AT
    assert decoded.occurred_at.utcoffset() is not None


def test_wrap_fills_a_fresh_event_id_and_an_aware_time() -> None:
    before = SYSTEM_CLOCK.now()
    first = wrap(EVENT, case_id="c", actor=SYSTEM)
    second = wrap(EVENT, case_id="c", actor=SYSTEM)
    assert first.event_id != second.event_id
    assert len(first.event_id) == 32
    assert set(first.event_id) <= set("0123456789abcdef")
    assert first.occurred_at.tzinfo is not None
    assert before <= first.occurred_at <= SYSTEM_CLOCK.now()
    assert first.causation_id == ""
    assert first.actor == SYSTEM


def test_new_event_ids_do_not_repeat() -> None:
    assert len({new_event_id() for _ in range(1000)}) == 1000


def test_the_envelope_is_frozen() -> None:
    envelope = wrap(EVENT, case_id="case-1", actor=CLERK)
    with pytest.raises(AttributeError):
        envelope.case_id = "case-2"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        envelope.actor.name = "冒名"  # type: ignore[misc]
    assert envelope.case_id == "case-1"


def test_an_envelope_without_a_causation_decodes_with_the_default() -> None:
    record = (
        b'{"event_id":"e","type":"X.v1","case_id":"c","actor":{"kind":"kiosk","id":"k1"},'
        b'"occurred_at":"2026-03-02T01:30:00Z","payload":{}}'
    )
    envelope = decode(record)
    assert envelope.causation_id == ""
    assert envelope.actor == Actor(kind="kiosk", id="k1", name="")
    assert envelope.occurred_at == AT


@pytest.mark.parametrize(
    ("record", "error"),
    [
        pytest.param(b"", msgspec.DecodeError, id="empty"),
        pytest.param(b"not json", msgspec.DecodeError, id="not-json"),
        pytest.param(b'{"event_id": "e", "type": "X.v1"', msgspec.DecodeError, id="truncated"),
        pytest.param(b"[]", msgspec.ValidationError, id="array"),
        pytest.param(b'{"event_id": "e"}', msgspec.ValidationError, id="missing-fields"),
        pytest.param(
            b'{"event_id":1,"type":"X.v1","case_id":"c","actor":{"kind":"clerk","id":"a"},'
            b'"occurred_at":"2026-03-02T01:30:00Z","payload":{}}',
            msgspec.ValidationError,
            id="wrong-type",
        ),
        pytest.param(
            b'{"event_id":"e","type":"X.v1","case_id":"c","actor":{"kind":"robot","id":"a"},'
            b'"occurred_at":"2026-03-02T01:30:00Z","payload":{}}',
            msgspec.ValidationError,
            id="unknown-actor-kind",
        ),
        pytest.param(
            b'{"event_id":"e","type":"X.v1","case_id":"c","actor":{"kind":"clerk","id":"a"},'
            b'"occurred_at":"yesterday","payload":{}}',
            msgspec.ValidationError,
            id="bad-time",
        ),
    ],
)
def test_a_malformed_record_raises_a_msgspec_error(record: bytes, error: type[msgspec.DecodeError]) -> None:
    with pytest.raises(error):
        decode(record)


def test_a_validation_error_names_the_field() -> None:
    record = (
        b'{"event_id":"e","type":"X.v1","case_id":7,"actor":{"kind":"clerk","id":"a"},'
        b'"occurred_at":"2026-03-02T01:30:00Z","payload":{}}'
    )
    with pytest.raises(msgspec.ValidationError, match=r"\$\.case_id"):
        decode(record)


# ---------------------------------------------------------------- 发件箱记录 (Outgoing)


def test_outgoing_records_round_trip_through_json() -> None:
    envelope = wrap(EVENT, case_id="case-1", actor=CLERK, event_id="ev-1", occurred_at=AT)
    records = [
        Outgoing("hall.intake.events", "case-1", encode(envelope)),
        Outgoing("hall.gateway.replies", "corr-1", bytes(range(256))),
        Outgoing("hall.deadletter", "", b""),
    ]
    restored = msgspec.json.decode(msgspec.json.encode(records), type=list[Outgoing])
    assert restored == records
    assert decode(restored[0].value) == envelope


def test_an_outgoing_record_is_frozen() -> None:
    record = Outgoing("t", "k", b"v")
    with pytest.raises(AttributeError):
        record.topic = "other"  # type: ignore[misc]


# ---------------------------------------------------------------- 应答 (replies)


def test_a_reply_with_a_body_round_trips() -> None:
    answer = decode_reply(reply("corr-1", 201, Receipt("15052520260302000001", 3)))
    assert (answer.correlation_id, answer.status, answer.reason) == ("corr-1", 201, "")
    assert answer.ok
    assert msgspec.json.decode(answer.body, type=Receipt) == Receipt("15052520260302000001", 3)


def test_a_refusal_reply_carries_its_reason_and_an_empty_body() -> None:
    answer = decode_reply(reply("corr-2", 409, reason="该环节已办理，不能重复办理"))
    assert answer.status == 409
    assert not answer.ok
    assert answer.reason == "该环节已办理，不能重复办理"
    assert msgspec.json.decode(answer.body) == {}


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (201, True), (302, True), (399, True), (400, False), (404, False), (422, False), (500, False)],
)
def test_a_reply_is_ok_below_400(status: int, ok: bool) -> None:
    assert Reply(correlation_id="c", status=status).ok is ok


def test_a_reply_missing_its_status_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError, match="status"):
        decode_reply(b'{"correlation_id": "c"}')


# ---------------------------------------------------------------- 配置 (settings)


def test_settings_default_without_environment() -> None:
    settings = load_settings({})
    assert settings == HallSettings()
    assert (settings.namespace, settings.region_code, settings.http_port) == ("hall", "150525", 8000)
    assert settings.reply_timeout_s == 10.0


def test_settings_are_read_from_the_given_environment() -> None:
    environ = {
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:29092",
        "REDIS_URL": "redis://cache:6379/2",
        "HALL_NAMESPACE": "t1234",
        "HALL_REGION_CODE": "110101",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318",
        "HALL_HTTP_HOST": "0.0.0.0",  # noqa: S104 (a value under test, nothing binds to it)
        "HALL_HTTP_PORT": "8080",
        "HALL_REPLY_TIMEOUT_S": "2.5",
        "UNRELATED": "ignored",
    }
    settings = load_settings(environ)
    assert settings.kafka_bootstrap_servers == "kafka:29092"
    assert settings.redis_url == "redis://cache:6379/2"
    assert settings.namespace == "t1234"
    assert settings.region_code == "110101"
    assert settings.otlp_endpoint == "http://otel:4318"
    assert settings.http_host == "0.0.0.0"  # noqa: S104
    assert settings.http_port == 8080
    assert settings.reply_timeout_s == 2.5


def test_an_empty_variable_keeps_the_default() -> None:
    settings = load_settings({"HALL_HTTP_PORT": "", "HALL_NAMESPACE": ""})
    assert settings.http_port == 8000
    assert settings.namespace == "hall"


def test_overrides_win_over_the_environment() -> None:
    settings = load_settings({"HALL_NAMESPACE": "from-env", "HALL_HTTP_PORT": "8080"}, namespace="override")
    assert settings.namespace == "override"
    assert settings.http_port == 8080


def test_a_region_code_keeps_its_leading_zeros() -> None:
    assert load_settings({"HALL_REGION_CODE": "050525"}).region_code == "050525"


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        pytest.param("HALL_HTTP_PORT", "abc", "http_port", id="port-not-a-number"),
        pytest.param("HALL_HTTP_PORT", "80.5", "http_port", id="port-not-whole"),
        pytest.param("HALL_REPLY_TIMEOUT_S", "soon", "reply_timeout_s", id="timeout-not-a-number"),
    ],
)
def test_a_bad_value_raises_value_error_naming_the_field(variable: str, value: str, field: str) -> None:
    with pytest.raises(ValueError, match=field) as bad:
        load_settings({variable: value})
    assert not isinstance(bad.value, msgspec.ValidationError)
    assert isinstance(bad.value.__cause__, msgspec.ValidationError)


def test_a_bad_value_names_the_environment_variable_to_fix() -> None:
    """load_settings promises "a bad value fails loudly with the variable's name": HALL_HTTP_PORT, not http_port."""
    with pytest.raises(ValueError, match="HALL_HTTP_PORT"):
        load_settings({"HALL_HTTP_PORT": "abc"})


def test_settings_are_frozen() -> None:
    settings = load_settings({})
    with pytest.raises(AttributeError):
        settings.namespace = "other"  # type: ignore[misc]


def test_topic_and_key_are_namespaced() -> None:
    settings = load_settings({"HALL_NAMESPACE": "t42"})
    assert settings.topic("intake.events") == "t42.intake.events"
    assert settings.key("timing", "clock", "case-1") == "t42:timing:clock:case-1"
    assert settings.key("timing", "due") == "t42:timing:due"
    assert settings.key("intake") == "t42:intake"
    assert HallSettings().topic("deadletter") == "hall.deadletter"
