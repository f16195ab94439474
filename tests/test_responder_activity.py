"""The responder's own recorded calls are not reported as an attacker's.

The responder contains app-backend's key, then responds to its own key, whose
events now include that containment: CreatePolicy, AttachPolicyToUser and
UpdateLoginProfile on app-backend. Both runs share one state folder, so the second
investigation finds the first run's journal, labels those events as the
responder's, leaves them out of the findings and the lineage, and counts them in
the coverage. The same calls made by another key, or without a journal, stay
findings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from akresponder.responder_activity import ResponderActivity
from tests.respond_support import (
    APP_KEY,
    RESPONDER_KEY,
    respond,
    responder_emulator,
)

REMEDIATION = {"CreatePolicy", "AttachPolicyToUser", "UpdateLoginProfile"}
RISK_KINDS = {"high_risk_call", "policy_attached", "login_profile_changed"}


def _findings_naming(report: dict[str, Any], kinds: set[str]) -> list[str]:
    return [item["kind"] for item in report["findings"] if item["kind"] in kinds]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_responder_activity_own_key_response(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with responder_emulator(monkeypatch) as running:
        first = respond(
            tmp_path / "contain",
            APP_KEY,
            auto_approve=True,
            rotatable_now="no",
            state_dir=str(state),
        )
        second = respond(tmp_path / "own", RESPONDER_KEY, state_dir=str(state))
        remediation_ids = {
            str(record["eventId"])
            for record in running.cloud.events
            if record["eventName"] in REMEDIATION
            and record["userIdentity"].get("accessKeyId") == RESPONDER_KEY
        }

    assert first["decision"]["path"] == "contain"
    assert second["decision"]["path"] == "manual"
    assert len(remediation_ids) == 3
    assert _findings_naming(second, RISK_KINDS) == []
    flagged = {
        event_id for item in second["findings"] for event_id in item["event_ids"]
    }
    assert flagged & remediation_ids == set()

    related = {item["access_key_id"] for item in second["related_credentials"]}
    assert APP_KEY not in related
    assert not any(APP_KEY in step for step in second["next_steps"])
    lineage = second["investigation"]["lineage"]
    labels = {node["label"] for node in lineage["nodes"]}
    assert "app-backend" not in labels

    entries = [
        item
        for item in second["coverage"]["sources"]
        if item["source"] == "responder-activity"
    ]
    assert len(entries) == 1
    assert entries[0]["items"] == 3
    assert "CreatePolicy x1" in entries[0]["detail"]
    assert any(
        "responder's own recorded calls" in n for n in second["coverage"]["notes"]
    )
    assert second["audit"]["write_event_names"].get("AttachPolicyToUser") == 1


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_responder_activity_needs_journal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Without the first run's journal in its state folder the second response has
    # nothing to match, so the same calls stay findings.
    with responder_emulator(monkeypatch):
        respond(tmp_path / "contain", APP_KEY, auto_approve=True, rotatable_now="no")
        second = respond(tmp_path / "own", RESPONDER_KEY)

    assert set(_findings_naming(second, RISK_KINDS)) == RISK_KINDS
    sources = {item["source"] for item in second["coverage"]["sources"]}
    assert "responder-activity" not in sources


def _journal(folder: Path, at: datetime, **extra: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    action = {
        "id": "attach-deny-policy",
        "step": "Attach the deny policy",
        "api": "ram:AttachPolicyToUser",
        "target": "user/app-backend",
        "status": "done",
        "at": at.isoformat().replace("+00:00", "Z"),
        "params": {"PolicyName": "deny", "UserName": "app-backend"},
    }
    action.update(extra)
    document = {"journal_version": 1, "actions": {"attach-deny-policy": action}}
    (folder / f"{APP_KEY}.json").write_text(json.dumps(document))


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


CALL_AT = datetime(2026, 11, 20, 8, 0, 30, tzinfo=UTC)
ROW = {
    "event_id": "E1",
    "action": "AttachPolicyToUser",
    "access_key_id": RESPONDER_KEY,
    "time": "2026-11-20T08:00:29Z",
    "request_parameters": json.dumps({"PolicyName": "deny", "UserName": "app-backend"}),
}


@pytest.mark.parametrize(
    ("change", "kept"),
    [
        ({}, False),
        ({"access_key_id": APP_KEY}, True),
        ({"action": "DetachPolicyFromUser"}, True),
        (
            {"request_parameters": json.dumps({"PolicyName": "deny", "UserName": "x"})},
            True,
        ),
        (
            {
                "request_parameters": json.dumps(
                    {"PolicyName": "admin", "UserName": "app-backend"}
                )
            },
            True,
        ),
        ({"time": "2026-11-20T07:55:00Z"}, True),
        ({"time": "2026-11-20T07:56:00Z"}, False),
        ({"time": "2026-11-20T08:01:29Z"}, False),
        ({"time": "2026-11-20T08:02:00Z"}, True),
    ],
)
def test_responder_activity_match_rules(
    tmp_path: Path, change: dict[str, Any], kept: bool
) -> None:
    _journal(tmp_path, CALL_AT)
    activity = ResponderActivity.load(tmp_path, [RESPONDER_KEY])

    result = activity.drop(_frame([{**ROW, **change}]))

    assert (len(result) == 1) is kept
    assert ("E1" in activity.matched) is not kept


def test_responder_activity_skips_planned_calls(tmp_path: Path) -> None:
    _journal(tmp_path, CALL_AT, status="planned")
    activity = ResponderActivity.load(tmp_path, [RESPONDER_KEY])

    assert activity.calls == []
    assert len(activity.drop(_frame([ROW]))) == 1


def test_responder_activity_reads_report_keys(tmp_path: Path) -> None:
    # A report in the state folder names the key an earlier run signed with, so
    # its calls match even when this run signs with another key.
    _journal(tmp_path, CALL_AT)
    report = {"schema_version": "1.1", "responder": {"access_key_id": "LTAI5tOLD"}}
    (tmp_path / "old.report.json").write_text(json.dumps(report))
    (tmp_path / "notes.json").write_text("not json")

    activity = ResponderActivity.load(tmp_path, [None])
    result = activity.drop(_frame([{**ROW, "access_key_id": "LTAI5tOLD"}]))

    assert activity.access_key_ids == frozenset({"LTAI5tOLD"})
    assert result.empty


def test_responder_activity_raw_record_match(tmp_path: Path) -> None:
    _journal(tmp_path, CALL_AT)
    activity = ResponderActivity.load(tmp_path, [RESPONDER_KEY])
    record = {
        "eventId": "E2",
        "eventName": "AttachPolicyToUser",
        "eventTime": (CALL_AT - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userIdentity": {"accessKeyId": RESPONDER_KEY},
        "requestParameters": {"PolicyName": "deny", "UserName": "app-backend"},
    }

    assert activity.keep_record(record) is False
    assert activity.keep_record({**record, "eventName": "CreateUser"}) is True
    assert activity.matched == {"E2": "AttachPolicyToUser"}


def test_responder_activity_without_state_dir() -> None:
    activity = ResponderActivity.load(None, [RESPONDER_KEY])

    assert activity.calls == []
    assert len(activity.drop(_frame([ROW]))) == 1
