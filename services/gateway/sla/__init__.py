"""时限监控: the operators' live SLA board — 预警 and 逾期 by department, item and clerk, the on-time rate, the
cases closest to their deadline — over a read model of timing's clock events."""

from __future__ import annotations

from services.gateway.feature import Feature, provide
from services.gateway.sla.api import SlaController, SlaPages
from services.gateway.sla.board import SlaBoard
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    board = SlaBoard(settings)
    return Feature(routes=[SlaController, SlaPages], tables=[board.table()], dependencies={"sla": provide(board)})
