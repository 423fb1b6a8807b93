"""好差评 in the gateway: rating a case (window pad, kiosk, rating links), the bad-review desk, the statistics and
the public disclosure page, over a read model of evaluation's events."""

from __future__ import annotations

from services.gateway.feature import Feature, provide
from services.gateway.ratings.api import RatingController
from services.gateway.ratings.book import RatingBook
from services.gateway.ratings.followups_api import FollowUpController
from services.gateway.ratings.pages import RatingPages
from services.gateway.ratings.schemas import COMMANDS
from shared import topics
from shared.rating_policy import load_policy
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    book = RatingBook(settings)
    return Feature(
        routes=[RatingController, FollowUpController, RatingPages],
        tables=[book.table()],
        publishes={topics.EVALUATION_COMMANDS: list(COMMANDS)},
        dependencies={"ratings": provide(book), "rating_config": provide(load_policy())},
    )
