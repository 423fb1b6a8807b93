"""补正 after 退回 and the 退件 that ends a return or a 容缺 suspension nobody answered.

``POST /api/cases/{case_no}/materials`` (a kiosk with the applicant's ID number, or a clerk at the window) goes
to routing when a step of the case waits for 补正 or the case is 退件: routing resumes every returned step (the
same as staff's ``/resume``, recorded as the applicant's supplement) or refuses with the reason (409 after 退件).
Otherwise the materials are 容缺 ones and go to intake, as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Response

from services.gateway.cases.timeline import RETURNED, current_state
from services.gateway.context import Gateway
from services.gateway.desk.dossier import Dossiers
from services.gateway.steps.schemas import SupplementReturned
from services.gateway.steps.workbench import Workbench
from services.gateway.views.intake import Material
from shared import topics
from shared.catalogue import load_catalogue
from shared.envelope import Actor

CHANNELS = {"kiosk": "自助终端", "clerk": "窗口"}
_CATALOGUE = load_catalogue()


async def returned_or_ended(hall: Gateway, case_id: str, materials: list[str]) -> bool:
    """The case is 退件, or a step of it waits for 补正 and the materials are not only 容缺 ones it still owes:
    routing answers the supplement. A case both returned and owing 容缺 materials takes those at intake."""
    if current_state(await hall.timeline.entries(hall.redis, case_id)) == RETURNED:
        return True
    steps = await Workbench(hall.settings).case_steps(hall.redis, case_id)
    returned = {m for s in steps if s.status == "待办" and s.waiting == "补正" for m in s.materials}
    if not returned:
        return False
    if returned & set(materials):
        return True
    dossier = await Dossiers(hall.settings).get(hall.redis, case_id)
    owed = {m.code for m in dossier.owed} if dossier is not None else set()
    return not (owed and set(materials) <= owed)


class Owed(msgspec.Struct, frozen=True, kw_only=True):
    """What the steps returned (退回补正) ask the applicant for, all at once, and by when."""

    materials: list[Material]
    deadline: datetime | None


async def owed_after_return(hall: Gateway, case_id: str, item_code: str) -> Owed:
    """The materials the case's returned steps wait for (named from the catalogue) and the earliest return limit;
    nothing when no step waits for 补正."""
    workbench = Workbench(hall.settings)
    waiting = [s for s in await workbench.case_steps(hall.redis, case_id) if s.status == "待办" and s.waiting == "补正"]
    codes = list(dict.fromkeys(m for s in waiting for m in s.materials))
    offering = _CATALOGUE.offering(item_code)
    names = {line.code: line.name for line in _CATALOGUE.form(offering)} if offering is not None else {}
    deadlines = [d for s in waiting if (d := await workbench.return_deadline(hall.redis, s.step_id)) is not None]
    return Owed(
        materials=[Material(code, names.get(code, code)) for code in codes], deadline=min(deadlines, default=None)
    )


async def supplement(
    hall: Gateway, case_id: str, materials: list[str], actor: Actor, role: str
) -> Response[Any] | None:
    """Sends the 补正 to routing when the case was returned (or is 退件); None when intake should take it."""
    if not await returned_or_ended(hall, case_id, materials):
        return None
    command = SupplementReturned(materials=materials, channel=CHANNELS.get(role, role))
    return await hall.send(topics.ROUTING_COMMANDS, command, case_id, actor)
