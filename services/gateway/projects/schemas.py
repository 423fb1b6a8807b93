"""The project API's bodies: registration as the clerk sends it, and the command as intake receives it."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

import msgspec

from services.gateway.context import In

# 项目代码 (the investment project platform's): year-区划代码-行业代码-审批类别(01/02/03)-序号; intake checks it too.
PROJECT_CODE = re.compile(r"\d{4}-\d{6}-\d{2}-0[1-3]-\d{6}")
PROJECT_CODE_TEXT = (
    "年份-6位行政区划代码-2位行业代码-审批类别（01审批/02核准/03备案）-6位序号，如 2026-150525-47-03-000123"
)


class ProjectIn(In, frozen=True, forbid_unknown_fields=True):
    project_code: Annotated[
        str, msgspec.Meta(min_length=1, max_length=40, description=f"项目代码：{PROJECT_CODE_TEXT}")
    ]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="项目名称")]
    builder: Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="建设单位名称")]
    builder_uscc: Annotated[
        str, msgspec.Meta(min_length=1, max_length=30, description="建设单位统一社会信用代码（18位，校验位须正确）")
    ]
    location: Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="建设地点")]
    project_type: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=20, description="工程建设项目类型编码（事项目录 [[projects]]，如 FJ）"),
    ]


class RegisterProject(msgspec.Struct, frozen=True, kw_only=True):
    """The command as intake accepts it (services/intake/messages.py)."""

    version: ClassVar[int] = 1
    project_code: str
    name: str
    builder: str
    builder_uscc: str
    location: str
    project_type: str


class StageOut(msgspec.Struct, frozen=True, kw_only=True):
    stage: int
    bundle_code: str
    name: str
    promised_limit: dict[str, float | str]
    reuses: list[str] = []


class Registered(msgspec.Struct, frozen=True, kw_only=True):
    """Intake's answer to a registration: the project's type and its stages in order, and the budget."""

    project_code: str
    name: str
    project_type: str
    type_name: str
    stages: list[StageOut]
    budget: dict[str, float | str]
