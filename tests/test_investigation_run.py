"""``run_investigation`` outside a flow: its choices, its fallbacks and its gaps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cloud_helpers import connect

from akresponder import investigation
from akresponder.investigation import InvestigationOptions, run_investigation
from emulator.testing import RunningEmulator, start_emulator
from tests.respond_support import APP_KEY, event, present_scenario

SECOND_PLACE = [
    event(1, "DescribeInstances", ip="203.0.113.77", when="2026-11-19T10:00:00Z"),
    event(
        2, "StopInstance", ip="203.0.113.77", when="2026-11-19T11:00:00Z", rw="Write"
    ),
]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    monkeypatch.setenv("AKRESPONDER_ACTIONTRAIL_RPS", "1000")
    with start_emulator(
        present_scenario(SECOND_PLACE), config={"lookup_events_rate_limit": None}
    ) as running:
        yield running


def _run(running: RunningEmulator, **options: object) -> investigation.Investigation:
    now = datetime.now(UTC)
    return run_investigation(
        connect(running),
        APP_KEY,
        window_start=now - timedelta(days=30),
        window_end=now,
        incident="inc-run",
        **options,
    )


def test_run_investigation_estimates_start(served: RunningEmulator) -> None:
    result = _run(served, check_billing=False)

    record = result.record
    assert record is not None
    assert record.incident_start_source == "estimated"
    assert "203.0.113.77" in record.incident_start_reason
    kinds = {finding.kind for finding in result.findings}
    assert {"unknown_source_ip", "several-source-ips"} <= kinds
    assert result.audit is not None
    assert result.audit.by_source_ip["203.0.113.77"] == 2
    assert [entry.source for entry in result.coverage][-1] == "bss"


def test_run_investigation_uses_requested_start(served: RunningEmulator) -> None:
    start = datetime.now(UTC) - timedelta(days=25)

    result = _run(served, check_billing=False, incident_start=start)

    assert result.record is not None
    assert result.record.incident_start_source == "request"
    assert result.record.incident_start == start


def test_run_investigation_analysis_failure_falls_back(
    served: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("analysis broke")

    monkeypatch.setattr(investigation, "investigate", broken)

    result = _run(served, check_billing=False)

    kinds = {finding.kind for finding in result.findings}
    assert "write-calls" in kinds
    assert "several-source-ips" in kinds
    assert any("RuntimeError: analysis broke" in note for note in result.notes)
    assert result.pictures == {}
    assert result.record is not None
    assert result.record.lineage is None


def test_run_investigation_unwritable_evidence_noted(
    served: RunningEmulator, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the evidence folder should be")

    result = _run(
        served,
        check_billing=False,
        evidence_root=blocker,
        options=InvestigationOptions(search_sls=False),
    )

    assert result.record is not None
    assert result.record.evidence is None
    assert any("could not be written" in note for note in result.notes)
    assert not any(entry.source == "sls" for entry in result.coverage)
