"""Coalescing of stream updates: a burst becomes one event with the newest values."""

from __future__ import annotations

import pytest

from mage_studio.realtime.streams import Coalescer


def test_coalescer_merges_a_burst_into_the_newest_values() -> None:
    coalescer = Coalescer(interval=0.5)
    for percent in range(1, 101):
        coalescer.add("progress", {"progress": percent}, f"1-{percent}", merge=True)
    coalescer.add("frame", {"index": 7}, "1-101", merge=False)

    assert coalescer.due_in(10.0) == 0
    first = coalescer.take(10.0)
    coalescer.add("progress", {"progress": 101}, "1-102", merge=True)
    wait = coalescer.due_in(10.1)
    second = coalescer.take(10.5)

    assert first == [
        ("progress", {"progress": 100}, "1-100"),
        ("frame", {"index": 7}, "1-101"),
    ]
    assert wait == pytest.approx(0.4)
    assert second == [("progress", {"progress": 101}, "1-102")]
    assert coalescer.due_in(11.0) is None
