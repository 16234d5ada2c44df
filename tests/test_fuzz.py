"""A seeded sample of the fuzzer (`make fuzz` runs 100,000 cases): no crash, hang, 5xx or 1011."""

from __future__ import annotations

import fuzz


async def test_fuzz_sample_finds_nothing() -> None:
    report = await fuzz.fuzz(cases=5000, seed=2026)
    print(report.table())
    assert sum(report.cases.values()) == 5000 and len(report.cases) == 5
    assert not report.failed, report.table()
