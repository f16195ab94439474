"""Daily and monthly bills when the cloud's clock is behind this machine's.

The base scenario's clock is 2026-11-20T08:00Z, so BSS returns ``NotApplicable`` for
December, whatever the date on this machine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cloud_helpers import calls, connect

from akresponder import investigation
from akresponder.report import InvestigationRecord
from emulator.testing import RunningEmulator, start_emulator

SCENARIO_DAY = datetime(2026, 11, 20, 8, tzinfo=UTC)


@pytest.fixture
def served(basic_scenario: object) -> Iterator[RunningEmulator]:
    with start_emulator(basic_scenario) as running:
        yield running


def test_daily_bills_stop_at_cycle_not_started(
    served: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="akresponder")

    days, failures = investigation._daily_bills(
        connect(served),
        datetime(2026, 11, 28, tzinfo=UTC),
        datetime(2026, 12, 4, 20, tzinfo=UTC),
        "inc-bills",
    )

    assert failures == []
    assert sorted(days) == ["2026-11-28", "2026-11-29", "2026-11-30"]
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
    assert "daily bills end before 2026-12-01" in caplog.text
    # The days after the first one that was not applicable are not queried.
    assert len(calls(served, "QueryInstanceBill")) == 4


def test_daily_bills_not_applicable_first_day_fails(
    served: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="akresponder")

    days, failures = investigation._daily_bills(
        connect(served),
        datetime(2026, 12, 1, tzinfo=UTC),
        # 15:00 UTC is still 2026-12-01 in the bill's UTC+8, so one day is queried.
        datetime(2026, 12, 1, 15, tzinfo=UTC),
        "inc-bills",
    )

    assert days == {}
    assert len(failures) == 1
    assert failures[0].startswith("2026-12-01: ")
    assert "code=NotApplicable" in caplog.text


def test_check_billing_skips_cycle_not_started(
    served: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="akresponder")
    result = investigation.Investigation()
    record = InvestigationRecord(
        incident_start=SCENARIO_DAY,
        incident_start_source="request",
        incident_start_reason="test",
    )

    investigation._check_billing(
        connect(served),
        result,
        record,
        None,
        SCENARIO_DAY,
        datetime(2026, 10, 25, tzinfo=UTC),
        datetime(2026, 12, 4, 20, tzinfo=UTC),
        "inc-bills",
        investigation.AnalysisSettings(),
    )

    bss = [entry for entry in result.coverage if entry.source == "bss"]
    assert len(bss) == 1
    assert bss[0].status == "complete"
    assert result.billing is not None
    assert result.billing.billing_cycles == ["2026-10", "2026-11"]
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
    assert "billing cycle not started in the cloud" in caplog.text


def test_billing_days_follow_utc_plus_8() -> None:
    # 2026-12-04T16:18Z is 2026-12-05 00:18 in UTC+8, the day BSS bills it on.
    moment = datetime(2026, 12, 4, 16, 18, tzinfo=UTC)

    assert investigation.billing_time(moment).date().isoformat() == "2026-12-05"
    assert investigation.billing_cycles(moment, moment) == ["2026-12"]
    assert investigation.billing_cycles(
        datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 11, 30, 16, tzinfo=UTC)
    ) == ["2026-12"]
