"""The parts of the county's rating rules (``data/evaluation.toml``) the pages need: which clerk's window each
pad stands at, and which indicators each channel rates. Evaluation enforces the rules; the pages only show them."""

from __future__ import annotations

from pathlib import Path

import msgspec

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "data" / "evaluation.toml"


class Indicators(msgspec.Struct, frozen=True, kw_only=True):
    window: list[str] = []
    online: list[str] = []


class RatingConfig(msgspec.Struct, frozen=True, kw_only=True):
    pads: dict[str, str] = {}
    indicators: Indicators = Indicators()
    channel_types: dict[str, str] = {}

    def indicators_for(self, channel: str) -> list[str]:
        kind = self.channel_types.get(channel, "")
        return list(getattr(self.indicators, kind, []))


def load_config(path: Path = DEFAULT_PATH) -> RatingConfig:
    return msgspec.toml.decode(path.read_bytes(), type=RatingConfig)
