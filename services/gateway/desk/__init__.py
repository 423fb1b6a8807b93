"""The clerks' desk (一窗受理): the acceptance page, 我的办件, and each case's receipt or notice."""

from __future__ import annotations

from services.gateway.desk.api import DeskController
from services.gateway.desk.dossier import Dossiers
from services.gateway.feature import Feature, provide
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    dossiers = Dossiers(settings)
    return Feature(routes=[DeskController], tables=[dossiers.table()], dependencies={"dossiers": provide(dossiers)})
