"""``akresponder respond --incident-start`` is validated before any call, then used."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from akresponder.cli import main
from tests.respond_support import (
    APP_KEY,
    RESPONDER_KEY,
    requests_by,
    responder_emulator,
)

PREFIX = "akresponder: respond: invalid --incident-start: "


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yesterday", "'yesterday' is not an ISO 8601 date and time"),
        ("2026-11-20T08:00:00", "'2026-11-20T08:00:00' has no time zone; add Z"),
        ("2026-11-20", "'2026-11-20' has no time zone"),
        ("2026-02-30T08:00:00Z", "'2026-02-30T08:00:00Z' is not an ISO 8601"),
        ("2999-01-01T00:00:00Z", "'2999-01-01T00:00:00Z' is in the future"),
    ],
)
def test_cli_incident_start_invalid_exits_2(
    value: str,
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with responder_emulator(monkeypatch) as running:
        status = main(["respond", APP_KEY, "--incident-start", value])

        lines = [line for line in capsys.readouterr().err.splitlines() if line]
        assert status == 2
        assert len(lines) == 1, lines
        assert lines[0].startswith(PREFIX + expected), lines[0]
        assert "2026-11-20T08:00:00Z" in lines[0] or "in the future" in lines[0]
        assert requests_by(running, RESPONDER_KEY) == []


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_cli_incident_start_reaches_report(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    start = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    # Written at +08:00, so the report must keep the instant, not the text.
    argument = start.astimezone(timezone(timedelta(hours=8))).isoformat()
    report_path = tmp_path / "report.json"

    with responder_emulator(monkeypatch):
        status = main(
            [
                "respond",
                APP_KEY,
                "--dry-run",
                "--state-dir",
                str(tmp_path / "state"),
                "--report",
                str(report_path),
                "--incident-start",
                argument,
            ]
        )

    assert status == 0, capsys.readouterr().err
    record = json.loads(report_path.read_text())["investigation"]
    assert record["incident_start_source"] == "request"
    recorded = datetime.fromisoformat(record["incident_start"].replace("Z", "+00:00"))
    assert recorded == start
