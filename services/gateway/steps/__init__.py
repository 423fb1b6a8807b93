"""Back-office steps: each department's workbench (inbox with due times and SLA colours, escalations), a
step's actions (claim, decide, return for supplement, reassign, special procedure, extension) and its audit
trail, the printable 补正通知书, and the 书面告知 of extensions and special procedures (notify.py)."""

from __future__ import annotations

from services.gateway.feature import Feature, provide
from services.gateway.steps.api import StepController
from services.gateway.steps.notify import Notifier
from services.gateway.steps.pages import WorkbenchPages
from services.gateway.steps.schemas import COMMANDS
from services.gateway.steps.workbench import Workbench
from shared import topics
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    workbench = Workbench(settings)
    notifier = Notifier(settings)
    return Feature(
        routes=[StepController, WorkbenchPages],
        tables=[workbench.table(), notifier.table()],
        publishes={topics.ROUTING_COMMANDS: COMMANDS},
        dependencies={"workbench": provide(workbench), "notifier": provide(notifier)},
    )
