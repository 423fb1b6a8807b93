"""统一窗口出件: the front desk's list of results ready for pickup, delivery at the window or by post, and the
refusal of a delivery while 容缺 materials are owed (routing decides; the desk shows why)."""

from __future__ import annotations

from services.gateway.delivery.api import DeliveryController
from services.gateway.delivery.ready import Deliveries
from services.gateway.delivery.schemas import RecordDelivery
from services.gateway.feature import Feature, provide
from shared import topics
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    deliveries = Deliveries(settings)
    return Feature(
        routes=[DeliveryController],
        tables=[deliveries.table()],
        publishes={topics.ROUTING_COMMANDS: [RecordDelivery]},
        dependencies={"deliveries": provide(deliveries)},
    )
