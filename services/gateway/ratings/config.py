"""The county's rating rules (``data/evaluation.toml``) as the pages read them: the one model in
``shared/rating_policy.py`` that evaluation enforces. The pages use which clerk's window each pad stands at, and
which indicators each channel rates."""

from __future__ import annotations

from pathlib import Path

from shared.rating_policy import DEFAULT_PATH, RatingPolicy, load_policy

RatingConfig = RatingPolicy


def load_config(path: Path = DEFAULT_PATH) -> RatingPolicy:
    """The rules, checked as evaluation checks them: a file evaluation would refuse stops the gateway too."""
    return load_policy(path)
