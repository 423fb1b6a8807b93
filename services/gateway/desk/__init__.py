"""The clerks' desk (一窗受理): the acceptance page, the 预审 queue, 我的办件, and each case's receipt or notice."""

from __future__ import annotations

from services.gateway.desk.api import DeskController
from services.gateway.desk.dossier import Dossiers
from services.gateway.desk.prereview import PreReviewController, PreReviews, ReviewPreSubmission
from services.gateway.feature import Feature, provide
from shared import topics
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    dossiers = Dossiers(settings)
    prereviews = PreReviews(settings, dossiers)
    return Feature(
        routes=[DeskController, PreReviewController],
        tables=[dossiers.table(), prereviews.table()],
        publishes={topics.INTAKE_COMMANDS: [ReviewPreSubmission]},
        dependencies={"dossiers": provide(dossiers), "prereviews": provide(prereviews)},
    )
