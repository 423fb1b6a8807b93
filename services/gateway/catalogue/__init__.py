"""The service catalogue (事项目录): search and details for clerks, kiosks and operators, as API and pages."""

from __future__ import annotations

from services.gateway.catalogue.api import CatalogueController
from services.gateway.catalogue.model import Catalogue
from services.gateway.feature import Feature, provide
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:  # noqa: ARG001 (every feature is built from the settings)
    return Feature(routes=[CatalogueController], dependencies={"catalogue": provide(Catalogue())})
