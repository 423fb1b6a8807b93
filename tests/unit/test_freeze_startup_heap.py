"""Every process freezes what it built at start and raises the collector's thresholds (shared/service.py)."""

from __future__ import annotations

import gc

from shared.service import GC_THRESHOLDS, freeze_startup_heap


def test_the_startup_heap_is_frozen_and_young_collections_are_rarer() -> None:
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        built_at_start = [{"catalogue": n} for n in range(1000)]  # long-lived objects a process builds at start
        freeze_startup_heap()
        assert gc.get_freeze_count() >= len(built_at_start)
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]  # the youngest generation is collected less often than by default
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
