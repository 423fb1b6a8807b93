"""运行监控: the operators' page ``/ops``: every service's instances with their health, lag, throughput, handler
p99 and dead letters (scraped from each instance's /health and /metrics), the dead letters with 重新投递, and the
records some service cannot get through (``<ns>:ops:stuck``), so an alert is more than one ERROR line in a log
nobody reads."""

from services.gateway.feature import Feature, provide
from services.gateway.ops.api import OpsController, OpsPages, traces_ui
from services.gateway.ops.deadletters import DeadLetters
from services.gateway.ops.monitor import Monitor
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    return Feature(
        routes=[OpsController, OpsPages],
        dependencies={
            "ops_monitor": provide(Monitor(settings, traces_ui(settings))),
            "dead_letters": provide(DeadLetters(settings)),
        },
    )
