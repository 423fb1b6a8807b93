"""The gateway's OpenAPI document: every status code an API route answers, with its body, from one place.

Every ``/api`` route may answer, besides its own codes:

- 400 bad input (parameters or body not as documented, unknown fields, JSON nested deeper than 32 levels),
- 403 refused (a role or object the access table does not allow, or a cookie-borne change from another site),
- 413 a body over 256 KiB,
- 429 too many requests (the per-caller rate, sign-in failures, failed ID checks), with ``Retry-After``,
- 503 Kafka or Redis unavailable for the moment, with ``Retry-After``,

and, unless the route is public, 401 (no, or a bad, expired, logged-out or revoked token). A route declares its
own further codes with ``documented(404, 409, ...)``, spread into its decorator::

    @post("/steps/{step_id:str}/claim", summary="认领环节", status_code=200, **documented(*COMMAND, 404))

which sets the route's ``responses`` (each a ``Problem`` but 202, a ``Pending``), its security requirement (the
bearer token or the session cookie) and the operation class that documents ``Retry-After`` on 429 and 503.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)

from services.gateway.context import Pending
from services.gateway.users import COOKIE

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """A refusal or failure: its status and the reason in Chinese (``extra``: what was wrong, when known)."""

    status_code: int
    detail: str
    extra: dict[str, Any] | list[Any] | None = None


# ---------------------------------------------------------------- the owning services' answers, as documented here
# The gateway passes a command's reply on as it came; these are the fields a client may rely on (more may come).


class Named(msgspec.Struct, frozen=True):
    code: str
    name: str


class Submitted(msgspec.Struct, frozen=True, kw_only=True):
    """Intake's answer to an application: 受理 (201), 待补正 (200, everything missing at once)."""

    outcome: Literal["受理", "待补正", "不予受理"]
    case_id: str
    case_no: str = ""
    item_code: str = ""
    item_name: str = ""
    missing: list[dict[str, Any]] = []
    reused: list[dict[str, Any]] = []
    deferred: bool = False
    owed: list[Named] = []
    commitment: bool = False
    children: list[dict[str, Any]] = []
    notice_no: str = ""  # 待补正: the 一次性告知书's number


class Supplemented(msgspec.Struct, frozen=True, kw_only=True):
    """Intake's answer to 补齐: what was received and what is still owed."""

    case_no: str
    received: list[Named]
    remaining: list[Named]
    complete: bool


class Carried(msgspec.Struct, frozen=True, kw_only=True):
    """Routing's answer to a step or delivery command: the events it published."""

    case_no: str
    published: list[str]


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    """Evaluation's answer to a rating (a bad one opens a follow-up)."""

    rating_id: str
    case_no: str
    stage: str
    kind: str
    level: str
    followup_id: str = ""


def success(container: Any, description: str) -> ResponseSpec:
    """A route's success answer as the owning service gives it (``own={200: success(...)}``)."""
    return ResponseSpec(data_container=container, description=description, generate_examples=False)


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=description, generate_examples=False)


ACCEPTED = ResponseSpec(
    data_container=Pending,
    description="已收到（处理中）：命令已安全写入 Kafka，必定执行，但办理服务的答复未能在等待时限内到达",
    generate_examples=False,
)
BAD_INPUT = _problem("请求有误：参数或请求体与文档不符（缺少、多出或类型不符的字段），或 JSON 嵌套超过 32 层")
UNAUTHORIZED = _problem("未登录：凭证缺失、无效、过期、已注销或已被撤销")
FORBIDDEN = _problem("无权：角色或对象不在权限表允许之列（原因见 detail），或以会话 Cookie 发出的跨站请求")
NOT_FOUND = _problem("没有所指的对象（办件、环节、差评、事项或用户）")
CONFLICT = _problem("与对象当前的状态冲突（如已办理、已认领、尚未办结），原因见 detail")
TOO_LARGE = _problem("请求内容过大：不得超过 256 KiB")
UNPROCESSABLE = _problem(
    "内容不合规或办理规则不允许：隐藏字符（指出字符与位置）、超出范围的数值、证件号码校验位错误等，原因见 detail"
)
TOO_MANY = _problem(
    "请求过于频繁（每个调用方每分钟的次数、登录失败次数或证件号码核对失败次数），Retry-After 头给出需等待的秒数"
)
UNAVAILABLE = _problem("暂不可用：Kafka 或 Redis 暂时无法使用，Retry-After 头给出建议等待的秒数；请稍后重试")

NOT_MODIFIED = ResponseSpec(
    data_container=None,
    description="未变化：If-None-Match 给出的 ETag 仍是当前内容（带 Prefer: wait=N 时为等待 N 秒仍无变化）",
    generate_examples=False,
)

SPECS: Mapping[int, ResponseSpec] = {
    202: ACCEPTED,
    304: NOT_MODIFIED,
    400: BAD_INPUT,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    409: CONFLICT,
    413: TOO_LARGE,
    422: UNPROCESSABLE,
    429: TOO_MANY,
    503: UNAVAILABLE,
}
# What any API route may answer, and what a route behind sign-in adds.
COMMON = (400, 403, 413, 429, 503)
SIGNED_IN = (401,)
# A command sent to an owning service over Kafka: 202 when its answer is late, and the service's refusals.
COMMAND = (202, 404, 409, 422)
# A read that may be asked with If-None-Match and Prefer: wait=N (services/gateway/changes.py).
WAITABLE = (304, 404)
# The codes that tell the client how long to wait.
RETRY_AFTER = ("429", "503")

BEARER, SESSION_COOKIE = "bearer", "session"
EXTERNAL_KEY = "external-key"  # 跨省通办: the other jurisdictions' platforms (services/gateway/external)
SECURITY: list[SecurityRequirement] = [{BEARER: []}, {SESSION_COOKIE: []}]


def answers(
    *codes: int,
    public: bool = False,
    reasons: Mapping[int, str] | None = None,
    own: Mapping[int, ResponseSpec] | None = None,
) -> dict[int, ResponseSpec]:
    """The route's documented answers besides its success: the common ones, 401 unless ``public``, ``codes``; a
    reason replaces the common description of its code for this route; ``own`` are the route's own answers (a
    second success, say)."""
    wanted = sorted({*COMMON, *(() if public else SIGNED_IN), *codes, *(reasons or {})} - set(own or {}))
    documented: dict[int, ResponseSpec] = dict(own or {})
    for code in wanted:
        spec = SPECS[code]
        reason = (reasons or {}).get(code)
        documented[code] = dataclasses.replace(spec, description=reason) if reason else spec
    return dict(sorted(documented.items()))


@dataclass
class Documented(Operation):
    """An operation whose 429 and 503 answers carry ``Retry-After`` (seconds), as the gateway sends them."""

    def __post_init__(self) -> None:
        for code, response in (self.responses or {}).items():
            if code in RETRY_AFTER and isinstance(response, OpenAPIResponse):
                response.headers = {
                    **(response.headers or {}),
                    "Retry-After": OpenAPIHeader(
                        schema=Schema(type=OpenAPIType.INTEGER, minimum=0),
                        description="需等待的秒数",
                        required=True,
                    ),
                }


def documented(
    *codes: int,
    public: bool = False,
    reasons: Mapping[int, str] | None = None,
    own: Mapping[int, ResponseSpec] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of an API route's decorator: its answers, its security and the operation class."""
    return {
        "responses": answers(*codes, public=public, reasons=reasons, own=own),
        "security": None if public else SECURITY,
        "operation_class": Documented,
    }


def config() -> OpenAPIConfig:
    """The document's title and the two ways to present a session (``POST /api/session`` or ``/login``)."""
    schemes: dict[str, SecurityScheme] = {
        BEARER: SecurityScheme(
            type="http", scheme="bearer", bearer_format="JWT", description="POST /api/session 取得的凭证"
        ),
        SESSION_COOKIE: SecurityScheme(
            type="apiKey", name=COOKIE, security_scheme_in="cookie", description="页面登录（/login）设置的会话 Cookie"
        ),
        EXTERNAL_KEY: SecurityScheme(
            type="apiKey",
            name="X-External-Key",
            security_scheme_in="header",
            description="跨省通办：外省平台回传接口的密钥，每个办理地一个（HALL_EXTERNAL_KEYS_FILE）",
        ),
    }
    return OpenAPIConfig(
        title="政务服务大厅 API",
        version="1.0.0",
        description="状态码与答复内容见各接口；错误答复均为 {status_code, detail}，detail 为中文原因。",
        components=Components(security_schemes=dict(schemes)),
    )


class StrictBodies(StructSchemaPlugin):
    """A body that refuses unknown fields with 400 (``forbid_unknown_fields``, as every ``In`` does) says so in its
    schema: ``additionalProperties: false``."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if _forbids_unknown(field_definition.type_):
            schema.additional_properties = False
        return schema


def _forbids_unknown(struct: Any) -> bool:
    config = getattr(struct, "__struct_config__", None)
    return bool(getattr(config, "forbid_unknown_fields", False))
