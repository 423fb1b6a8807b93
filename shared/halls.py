"""Each hall's office hours and its warning and escalation rules, from data/halls.toml ([local] rules).

A hall is a service point (旗政务服务中心, 苏木乡镇便民服务中心, 嘎查村便民服务站) keyed by its code; what a hall
does not set comes from ``[default]``. A clock keeps the code of the hall that accepted its case.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from shared.calendar import DEFAULT_SESSIONS, Limit, Session, parse_limit, parse_sessions

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "halls.toml"
WARNING, OVERDUE = "预警", "逾期"


class WarningRule(msgspec.Struct, frozen=True):
    """黄灯: ``before`` the deadline, or when ``share`` of the limit is left (e.g. 0.2); with both, whichever
    comes later, so that a short limit is not 预警 from birth (``["1WD", "20%"]`` on a 0.5 WD limit: when
    20 % of it is left)."""

    before: Limit | None = None
    share: float | None = None

    def __str__(self) -> str:
        parts = ([f"到期前 {self.before}"] if self.before is not None else []) + (
            [f"剩余 {self.share:.0%}"] if self.share is not None else []
        )
        return "、".join(parts) + (" 中较晚者" if len(parts) > 1 else "") + "预警"


class Escalation(msgspec.Struct, frozen=True):
    level: str
    after: Limit


class HallPolicy(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str = ""
    sessions: tuple[Session, ...] = DEFAULT_SESSIONS
    warning: WarningRule | None = WarningRule(before=Limit(1, "WD"), share=0.2)
    escalation: tuple[Escalation, ...] = ()
    # 容缺: how long a case suspended for owed materials waits for them before it is 退件
    suspension: Limit = Limit(15, "WD")

    @property
    def levels(self) -> tuple[str, ...]:
        """Every alert level in the order they fire."""
        first = (WARNING,) if self.warning is not None else ()
        return (*first, OVERDUE, *(e.level for e in self.escalation))


class Halls:
    def __init__(self, default: HallPolicy, policies: dict[str, HallPolicy] | None = None) -> None:
        self.default = default
        self.policies = policies or {}

    def policy(self, code: str) -> HallPolicy:
        return self.policies.get(code, self.default)


def parse_warning(value: str | list[str]) -> WarningRule | None:
    """``"1WD"``, ``"20%"``, or both as ``["1WD", "20%"]`` (whichever comes later); ``"无"`` for none."""
    texts = [value] if isinstance(value, str) else [str(v) for v in value]
    before: Limit | None = None
    share: float | None = None
    for raw in texts:
        text = raw.strip()
        if text in ("", "无", "none"):
            continue
        if text.endswith("%"):
            try:
                share = float(text[:-1]) / 100
            except ValueError:
                share = -1.0
            if not 0 < share < 1:
                raise ValueError(f"预警比例应在 0% 与 100% 之间：{text!r}")
        else:
            before = parse_limit(text)
    return None if before is None and share is None else WarningRule(before=before, share=share)


def _policy(code: str, raw: dict[str, Any], base: HallPolicy) -> HallPolicy:
    unknown = set(raw) - {"name", "sessions", "warning", "escalation", "suspension"}
    if unknown:
        raise ValueError(f"data/halls.toml [{code}]：不认识的项 {'、'.join(sorted(unknown))}")
    policy = msgspec.structs.replace(base, code=code, name=raw.get("name", base.name if code == base.code else code))
    if "sessions" in raw:
        policy = msgspec.structs.replace(policy, sessions=parse_sessions(raw["sessions"]))
    if "warning" in raw:
        policy = msgspec.structs.replace(policy, warning=parse_warning(raw["warning"]))
    if "escalation" in raw:
        levels = tuple(Escalation(str(e["level"]), parse_limit(str(e["after"]))) for e in raw["escalation"])
        names = [WARNING, OVERDUE, *(e.level for e in levels)]
        if len(set(names)) != len(names):
            raise ValueError(f"data/halls.toml [{code}]：督办层级重名：{names}")
        policy = msgspec.structs.replace(policy, escalation=levels)
    if "suspension" in raw:
        suspension = parse_limit(str(raw["suspension"]))
        if suspension.value <= 0:
            raise ValueError(f"data/halls.toml [{code}]：容缺中止后的退件期限 suspension 须大于 0")
        policy = msgspec.structs.replace(policy, suspension=suspension)
    return policy


def parse_halls(data: dict[str, Any]) -> Halls:
    default = _policy("default", data.get("default", {}), HallPolicy(code="default"))
    halls = {code: _policy(code, raw, default) for code, raw in data.get("halls", {}).items()}
    return Halls(default, halls)


def load_halls(path: Path | None = None) -> Halls:
    """The halls file (``HALL_HALLS_FILE`` overrides where it is); a bad entry fails loudly, naming it."""
    where = path or Path(os.environ.get("HALL_HALLS_FILE") or DEFAULT_PATH)
    return parse_halls(tomllib.loads(where.read_text(encoding="utf-8")))
