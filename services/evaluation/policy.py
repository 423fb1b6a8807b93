"""The county's 好差评 rules from ``data/evaluation.toml``: rating window, default level, stages, indicators, pads.

They are local rules (DOMAIN §5 [local]): the operator changes the file, not the code. A file that breaks a
rule of the standard (a bad default level, an indicator set missing for a channel) is refused at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from services.evaluation.levels import Level, UnknownLevel, parse

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "evaluation.toml"

Unit = Literal["WD", "WH", "ND", "NH"]
Stage = Literal["受理", "办结", "整体"]
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
    return policy
