"""What the desk's templates call to print times, limits, deadlines and legal bases (shared by its pages)."""

from __future__ import annotations

from datetime import datetime

from services.gateway.legal import legal_text
from services.gateway.provisional import PENDING, deadline_text, years_text
from shared.catalogue import limit_text
from shared.localtime import when as when_known


def when(moment: datetime | None) -> str:
    return when_known(moment, PENDING)


# deadline(d.promised_deadline, d.provisional): 2027-01-04 17:30（暂定，以国务院公布的放假安排为准）
HELPERS = {
    "when": when,
    "limit_text": limit_text,
    "deadline": deadline_text,
    "years_text": years_text,
    "legal_text": legal_text,
}
