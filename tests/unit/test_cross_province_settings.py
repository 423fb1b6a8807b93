"""跨省通办's settings: the receipt limit (HALL_EXTERNAL_RECEIPT_LIMIT), the handover limit from the catalogue and
the demo counterpart's switch, delay and silent provinces."""

from __future__ import annotations

import pytest

from services.counterpart.app import delay_s, enabled, silent_from
from services.routing.external import DEFAULT_RECEIPT_LIMIT, receipt_limit
from services.routing.messages import Limit
from shared.catalogue import HANDOVER_LIMIT, load_catalogue


def test_the_receipt_limit_is_read_with_its_unit_and_refused_when_malformed() -> None:
    assert receipt_limit("") == DEFAULT_RECEIPT_LIMIT == Limit(2, "WD")
    assert receipt_limit("4wh") == Limit(4, "WH")
    assert receipt_limit("0.5WD") == Limit(0.5, "WD")
    for bad in ("2", "WD", "-1WD", "0ND", "twoWD"):
        with pytest.raises(ValueError, match="HALL_EXTERNAL_RECEIPT_LIMIT"):
            receipt_limit(bad)


def test_the_handover_limit_is_the_items_own_or_the_halls_default() -> None:
    catalogue = load_catalogue()
    assert catalogue.handover_limit("11150525000140004") == HANDOVER_LIMIT  # 结婚登记 names 1 WD
    assert catalogue.handover_limit("no-such-item") == HANDOVER_LIMIT


def test_the_demo_counterpart_runs_unless_switched_off() -> None:
    assert enabled({})
    assert enabled({"HALL_COUNTERPART": "on"})
    for off in ("off", "0", "false", "NO"):
        assert not enabled({"HALL_COUNTERPART": off})
    assert delay_s({}) == 5.0
    assert delay_s({"HALL_COUNTERPART_DELAY_S": "999"}) == 120.0  # capped
    with pytest.raises(ValueError, match="HALL_COUNTERPART_DELAY_S"):
        delay_s({"HALL_COUNTERPART_DELAY_S": "soon"})
    assert silent_from({"HALL_COUNTERPART_SILENT": "河北省，山西省, "}) == {"河北省", "山西省"}
