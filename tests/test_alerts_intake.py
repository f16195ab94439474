"""The alert-intake flow against the emulator: start, attach, skip, fail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from akresponder.alerts import AlertFormatError
from flows.alert_intake import (
    alert_intake,
    dedupe_window,
    find_recent_journal,
    render_outcomes,
)
from tests.respond_support import APP_KEY, responder_emulator

pytestmark = pytest.mark.usefixtures("prefect_harness")

DATA = Path(__file__).parent / "data" / "alerts"


def sls_alert() -> dict:
    return json.loads((DATA / "sls_alert_actiontrail.json").read_text())


def read_run(flow_run_id: str):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id)


@pytest.mark.slow
def test_alert_intake_starts_then_attaches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        # Other tests of the session may have finished a response for APP_KEY
        # on the shared Prefect server; a zero window makes this one start.
        first = alert_intake(
            sls_alert(), state_dir=str(tmp_path), dedupe_window_hours=0
        )
        second = alert_intake(
            {"access_key_id": APP_KEY, "summary": "seen again"},
            state_dir=str(tmp_path),
        )
        policies = [p.policy_name for p in running.cloud.users["app-backend"].policies]

    started = first["outcomes"][0]
    assert started["action"] == "started"
    assert started["access_key_id"] == APP_KEY
    assert "path contain" in started["reason"]
    assert "akresponder-deny-high-risk" in policies
    run = read_run(started["flow_run_id"])
    assert f"key:{APP_KEY}" in run.tags
    assert f"incident:{started['incident_id']}" in run.tags
    assert "alert:sls" in run.tags

    attached = second["outcomes"][0]
    assert attached["action"] == "attached"
    assert attached["incident_id"] == started["incident_id"]
    assert attached["flow_run_id"] == started["flow_run_id"]
    assert "completed at" in attached["reason"]


def test_alert_intake_unknown_key_reports_manual(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    unknown = "LTAI5tNOSUCHKEY000000009"

    with responder_emulator(monkeypatch):
        result = alert_intake({"access_key_id": unknown}, state_dir=str(tmp_path))

    outcome = result["outcomes"][0]
    assert outcome["action"] == "started"
    assert "path manual" in outcome["reason"]
    assert f"No RAM user holds {unknown}" in outcome["reason"]


@pytest.mark.slow
def test_alert_intake_several_keys_and_sts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    payload = {
        "access_key_ids": [
            "STS.NUgYrLnoC37mZZCNnAbez2",
            "LTAI5tNOSUCHKEY00000000A",
            "LTAI5tNOSUCHKEY00000000B",
        ]
    }

    with responder_emulator(monkeypatch):
        result = alert_intake(payload, state_dir=str(tmp_path), dry_run=True)

    actions = [item["action"] for item in result["outcomes"]]
    assert actions == ["skipped", "started", "started"]
    assert "temporary STS key" in result["outcomes"][0]["reason"]
    incidents = {item["incident_id"] for item in result["outcomes"][1:]}
    assert len(incidents) == 2


def test_alert_intake_journal_attaches(tmp_path: Path) -> None:
    # A key no other test responds to, so that only the journal can match.
    key_id = "LTAI5tJOURNALONLY0000001"
    now = datetime.now(UTC)
    journal = {
        "journal_version": 1,
        "access_key_id": key_id,
        "incident_id": "inc-earlier",
        "updated_at": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    (tmp_path / f"{key_id}.json").write_text(json.dumps(journal))

    result = alert_intake({"access_key_id": key_id}, state_dir=str(tmp_path))

    outcome = result["outcomes"][0]
    assert outcome["action"] == "attached"
    assert outcome["incident_id"] == "inc-earlier"
    assert "incident journal" in outcome["reason"]


def test_find_recent_journal_window(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    journal = {
        "incident_id": "inc-old",
        "updated_at": (now - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    (tmp_path / f"{APP_KEY}.json").write_text(json.dumps(journal))

    assert find_recent_journal(APP_KEY, tmp_path, timedelta(hours=24), now) is None
    found = find_recent_journal(APP_KEY, tmp_path, timedelta(hours=48), now)
    assert found is not None
    assert found[0] == "inc-old"
    assert (
        find_recent_journal("LTAI5tOTHER0000000000001", tmp_path, timedelta(1), now)
        is None
    )


def test_alert_intake_ignored_alert() -> None:
    payload = json.loads((DATA / "github_secret_scanning_rest.json").read_text())
    payload["action"] = "resolved"

    result = alert_intake(payload)

    assert result["outcomes"] == []
    assert "was resolved" in result["ignored"]


def test_alert_intake_malformed_fails() -> None:
    with pytest.raises(AlertFormatError):
        alert_intake({"hello": "world"})


def test_dedupe_window_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AKRESPONDER_ALERT_DEDUPE_HOURS", raising=False)
    assert dedupe_window(None) == timedelta(hours=24)
    assert dedupe_window(0.5) == timedelta(minutes=30)

    monkeypatch.setenv("AKRESPONDER_ALERT_DEDUPE_HOURS", "6")
    assert dedupe_window(None) == timedelta(hours=6)

    monkeypatch.setenv("AKRESPONDER_ALERT_DEDUPE_HOURS", "a day")
    with pytest.raises(ValueError, match="is not a number of hours"):
        dedupe_window(None)
    with pytest.raises(ValueError, match="is negative"):
        dedupe_window(-1)


def test_render_outcomes_table() -> None:
    from flows.alert_intake import IntakeOutcome

    text = render_outcomes(
        "alert-1",
        [
            IntakeOutcome(
                access_key_id=APP_KEY,
                alert_id="alert-1",
                source_kind="plain",
                action="started",
                incident_id="inc-1",
                reason="a | b",
                summary="Key pasted.",
            )
        ],
    )

    assert f"| {APP_KEY} | started | inc-1 | - | a / b |" in text
    assert "- Key pasted." in text


def test_alert_intake_failed_run_does_not_block(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Failed

    from flows.respond import respond_to_compromised_key

    key_id = "LTAI5tFAILEDBEFORE000001"
    with get_client(sync_client=True) as client:
        client.create_flow_run(
            respond_to_compromised_key,
            parameters={},
            tags=[f"key:{key_id}", "incident:inc-failed"],
            state=Failed(message="crashed earlier"),
        )
    moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    journal = {
        "journal_version": 1,
        "access_key_id": key_id,
        "incident_id": "inc-failed",
        "created_at": moment,
        "updated_at": moment,
        "runs": 1,
        "decision": None,
        "facts": {},
        "actions": {},
    }
    (tmp_path / f"{key_id}.json").write_text(json.dumps(journal))

    with responder_emulator(monkeypatch):
        result = alert_intake(
            {"access_key_id": key_id}, state_dir=str(tmp_path), dry_run=True
        )

    outcome = result["outcomes"][0]
    assert outcome["action"] == "started"
    assert outcome["incident_id"] != "inc-failed"
