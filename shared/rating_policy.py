"""The county's 好差评 rules from ``data/evaluation.toml``: rating window, default level, stages, indicators, pads.

They are local rules (DOMAIN §5 [local]): the operator changes the file, not the code. A file that breaks a
rule of the standard (a bad default level, an indicator set missing for a channel) is refused at start.

One model for every reader: evaluation enforces the rules, the gateway's pages show parts of them (which clerk
each pad stands for, which indicators each channel rates).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from shared.levels import Level, UnknownLevel, parse

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "evaluation.toml"

Unit = Literal["WD", "WH", "ND", "NH"]
Stage = Literal["受理", "出件", "办结", "整体"]
# 谁办理谁负责: a rating is charged to the window (the service point, its department and the clerk who accepted or
# delivered) and/or to the decision (the deciding department and the handler who decided).
ChargeTo = Literal["window", "decision"]
Channel = Literal["评价器", "自助终端", "PC", "移动端", "二维码", "短信", "电话", "系统默认"]
ChannelType = Literal["window", "online"]
# Channels a person rates through (all but 系统默认).
RATER_CHANNELS: tuple[str, ...] = ("评价器", "自助终端", "PC", "移动端", "二维码", "短信", "电话")
# Channels a rater reaches through a signed rating link (SMS, QR code, the web or the app).
LINK_CHANNELS: frozenset[str] = frozenset({"二维码", "短信", "PC", "移动端"})


class Limit(msgspec.Struct, frozen=True):
    value: float
    unit: Unit


class Window(msgspec.Struct, frozen=True, kw_only=True):
    limit: Limit
    default_level: str


class Stages(msgspec.Struct, frozen=True, kw_only=True):
    at_acceptance: list[Stage] = []
    at_delivery: list[Stage] = []


class FollowUpRules(msgspec.Struct, frozen=True, kw_only=True):
    correction_limit: Limit
    extension_limit: Limit
    return_visit_for_real_name: bool = True
    # 回访 deadline, counted from 整改完成 / 无法整改 (a real-name bad review not yet visited then). Without it a
    # real-name bad review must be visited before it is closed.
    return_visit_limit: Limit | None = None


def _default_charges() -> dict[str, list[ChargeTo]]:
    return {"受理": ["window"], "出件": ["window"], "办结": ["decision"], "整体": ["window", "decision"]}


class Attribution(msgspec.Struct, frozen=True, kw_only=True):
    """谁办理谁负责: to whom a rating of each stage counts, and each service point's department."""

    stages: dict[str, list[ChargeTo]] = msgspec.field(default_factory=_default_charges)
    point_departments: dict[str, str] = {}

    def charges(self, stage: str) -> list[ChargeTo]:
        return self.stages.get(stage) or _default_charges().get(stage, ["decision"])


class Indicators(msgspec.Struct, frozen=True, kw_only=True):
    window: list[str]
    online: list[str]


class RatingPolicy(msgspec.Struct, frozen=True, kw_only=True):
    window: Window
    stages: Stages
    follow_up: FollowUpRules
    indicators: Indicators
    channel_types: dict[str, ChannelType]
    pads: dict[str, str] = {}
    attribution: Attribution = msgspec.field(default_factory=Attribution)

    @property
    def default_level(self) -> Level:
        return parse(self.window.default_level)

    def indicators_for(self, channel: str) -> list[str]:
        kind = self.channel_types.get(channel)
        return [] if kind is None else getattr(self.indicators, kind)


def load_policy(path: Path = DEFAULT_PATH) -> RatingPolicy:
    policy = msgspec.toml.decode(path.read_bytes(), type=RatingPolicy)
    try:
        default = policy.default_level
    except UnknownLevel as exc:
        raise ValueError(f"{path.name} [window] default_level: {exc}") from None
    if default.bad:
        raise ValueError(f"{path.name} [window] default_level 不能是差评：{default.value}")
    rated, wanted = set(policy.channel_types), set(RATER_CHANNELS)
    if rated != wanted:
        wrong = "、".join(sorted(rated ^ wanted))
        raise ValueError(f"{path.name} [channel_types] 应恰好列出 {'、'.join(RATER_CHANNELS)}；不符：{wrong}")
    for stage, charges in policy.attribution.stages.items():
        if stage not in ("受理", "出件", "办结", "整体") or not charges:
            raise ValueError(f"{path.name} [attribution.stages] {stage}：应为 受理、出件、办结 或 整体，且至少计入一方")
    return policy
