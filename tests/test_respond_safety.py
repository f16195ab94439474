"""Safety of the response flow: dry run, re-runs, crashes, faults and secrets."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from akresponder.errors import CloudError
from akresponder.journal import Journal
from tests.respond_support import (
    APP_KEY,
    APP_SECRET,
    CI_KEY_A,
    RESPONDER_KEY,
    RESPONDER_SECRET,
    ROOT_SECRET,
    SCENARIO,
    actions_by_id,
    requests_by,
    respond,
    responder_emulator,
    write_calls,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


def calls(running, action: str) -> int:  # noqa: ANN001
    return sum(
        1
        for entry in requests_by(running, RESPONDER_KEY)
        if entry["action"] == action and entry["status"] < 400
    )


def test_respond_dry_run_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        contained = respond(tmp_path, APP_KEY, rotatable_now="no", dry_run=True)
        rotated = respond(
            tmp_path,
            APP_KEY,
            rotatable_now="yes",
            dry_run=True,
            approval={"auto_approve": True},
        )

        assert write_calls(running, RESPONDER_KEY) == []
        for report in (contained, rotated):
            assert report["dry_run"] is True
            assert report["actions"]
            assert {action["status"] for action in report["actions"]} == {"planned"}
        assert "attach-deny-policy" in actions_by_id(contained)
        assert "create-new-key" in actions_by_id(rotated)
        assert not (tmp_path / "state" / f"{APP_KEY}.json").exists()
        assert not (tmp_path / "secrets").exists()
        assert running.cloud.access_keys[APP_KEY].status == "Active"


def test_respond_rerun_duplicates_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        first = respond(tmp_path, APP_KEY, rotatable_now="no")
        second = respond(tmp_path, APP_KEY, rotatable_now="no")

        assert first["incident_id"] == second["incident_id"]
        assert actions_by_id(second)["attach-deny-policy"]["status"] == "done"
        assert calls(running, "CreatePolicy") == 1
        assert calls(running, "AttachPolicyToUser") == 1
        assert calls(running, "UpdateLoginProfile") == 1
        policies = [p.policy_name for p in running.cloud.users["app-backend"].policies]
        assert policies.count("akresponder-deny-high-risk") == 1


def test_respond_rerun_reuses_new_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        first = respond(tmp_path, APP_KEY, rotatable_now="yes")
        user = running.cloud.users["app-backend"]
        assert actions_by_id(first)["confirm-rotation"]["status"] == "skipped"
        assert len(user.access_key_ids) == 2

        second = respond(
            tmp_path, APP_KEY, rotatable_now="yes", approval={"auto_approve": True}
        )

        assert calls(running, "CreateAccessKey") == 1
        assert actions_by_id(second)["delete-key"]["status"] == "done"
        assert len(user.access_key_ids) == 1
        assert user.access_key_ids[0] != APP_KEY
        assert len(list((tmp_path / "secrets").iterdir())) == 1


def test_respond_crash_resumes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with responder_emulator(monkeypatch) as running:
        running.control(
            "POST",
            "faults",
            {
                "service": "ram",
                "action": "UpdateLoginProfile",
                "kind": "error",
                "count": 20,
            },
        )
        with pytest.raises(CloudError, match="ServiceUnavailable"):
            respond(tmp_path, APP_KEY, rotatable_now="no")

        journal = Journal.open(APP_KEY, state_dir=tmp_path / "state")
        assert journal.is_done("attach-deny-policy")
        assert journal.action("require-mfa").status == "failed"
        crashed = json.loads((tmp_path / "report.json").read_text())
        assert crashed["complete"] is False
        assert "stopped with an error" in crashed["next_steps"][0]

        running.control("DELETE", "faults")
        resumed = respond(tmp_path, APP_KEY, rotatable_now="no")

        assert actions_by_id(resumed)["require-mfa"]["status"] == "done"
        assert resumed["incident_id"] == crashed["incident_id"]
        assert calls(running, "CreatePolicy") == 1
        assert calls(running, "AttachPolicyToUser") == 1
        assert running.cloud.users["app-backend"].login_profile.mfa_bind_required


def test_respond_survives_throttling_and_5xx(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        running.control(
            "POST",
            "faults",
            [
                {"service": "ram", "action": "CreatePolicy", "kind": "throttle",
                 "count": 2},
                {"service": "ram", "action": "AttachPolicyToUser", "kind": "error",
                 "count": 1},
                {"service": "ram", "action": "UpdateAccessKey", "kind": "throttle",
                 "count": 1, "retry_after_ms": 20},
            ],
        )  # fmt: skip

        contained = respond(tmp_path, APP_KEY, rotatable_now="no")
        deleted = respond(tmp_path / "b", CI_KEY_A, approval={"auto_approve": True})

        assert actions_by_id(contained)["attach-deny-policy"]["status"] == "done"
        assert actions_by_id(deleted)["disable-key"]["status"] == "done"
        refused = [
            entry
            for entry in requests_by(running, RESPONDER_KEY)
            if entry["status"] >= 400
        ]
        codes = [entry["error_code"] for entry in refused]
        assert codes.count("Throttling.User") == 3
        assert codes.count("ServiceUnavailable") == 1
        assert calls(running, "CreatePolicy") == 1
        assert calls(running, "AttachPolicyToUser") == 1


def _prefect_texts() -> tuple[list[str], set[str]]:
    """Return every log message and artifact the Prefect API stores, and the keys."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        logs = client.read_logs()
        artifacts = client.read_artifacts()
    texts = [log.message for log in logs]
    texts += [json.dumps(artifact.data) for artifact in artifacts]
    texts += [artifact.description or "" for artifact in artifacts]
    return texts, {artifact.key for artifact in artifacts if artifact.key}


def test_respond_leaks_no_secret(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    scenario = json.loads(SCENARIO.read_text())
    secrets = {RESPONDER_SECRET, APP_SECRET, ROOT_SECRET}
    for user in scenario["users"]:
        secrets.update(key["AccessKeySecret"] for key in user["AccessKeys"])

    with responder_emulator(monkeypatch) as running:
        report = respond(
            tmp_path, APP_KEY, rotatable_now="yes", approval={"auto_approve": True}
        )
        with pytest.raises(CloudError):
            running.control(
                "POST",
                "faults",
                {"service": "ram", "action": "AttachPolicyToUser", "kind": "error"},
            )
            respond(tmp_path / "c", "LTAI5tCIDEPLOY000000002B", mode="contain")

    delivered = [
        json.loads(path.read_text()) for path in (tmp_path / "secrets").iterdir()
    ]
    assert len(delivered) == 1
    secrets.add(delivered[0]["AccessKeySecret"])

    texts = [caplog.text, json.dumps(report)]
    texts += [
        path.read_text()
        for path in tmp_path.rglob("*.json")
        if path.parent.name != "secrets"
    ]
    prefect_texts, artifact_keys = _prefect_texts()
    texts += prefect_texts
    assert f"incident-{APP_KEY.lower()}" in artifact_keys
    assert len(texts) > 5
    for secret in secrets:
        leaks = [text[:80] for text in texts if secret in text]
        assert leaks == [], f"secret found in {leaks}"


def test_respond_finished_delete_rerun_reports_journal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        first = respond(tmp_path, CI_KEY_A, approval={"auto_approve": True})
        second = respond(tmp_path, CI_KEY_A, approval={"auto_approve": True})

        assert first["decision"]["path"] == "delete"
        assert second["decision"]["path"] == "delete"
        assert second["complete"] is True, second["next_steps"]
        assert second["owner"]["user_name"] == "ci-deploy"
        assert [action["id"] for action in second["actions"]] == [
            "disable-key",
            "delete-key",
        ]
        assert second["actions"] == first["actions"]
        assert "none is repeated" in second["decision"]["reasons"][-1]
        assert calls(running, "UpdateAccessKey") == 1
        assert calls(running, "DeleteAccessKey") == 1
        assert CI_KEY_A not in running.cloud.access_keys


def test_respond_orphan_key_kept_without_approval(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A journal left by a run killed right after CreateAccessKey, then a re-run."""
    from alibabacloud_ram20150501 import models as ram_models

    from akresponder.paths import CREATE_STARTED
    from tests.respond_support import ram_client

    with responder_emulator(monkeypatch) as running:
        journal = Journal.open(APP_KEY, state_dir=tmp_path / "state")
        journal.set_fact(
            CREATE_STARTED,
            {
                "user_name": "app-backend",
                "key_ids_before": [APP_KEY],
                "started_at": "2026-11-20T08:00:00Z",
            },
        )
        created = ram_client(
            running, RESPONDER_KEY, RESPONDER_SECRET
        ).create_access_key(ram_models.CreateAccessKeyRequest(user_name="app-backend"))
        orphan = created.body.access_key.access_key_id

        report = respond(tmp_path, APP_KEY, rotatable_now="yes")

        actions = actions_by_id(report)
        step = actions[f"delete-orphan-{orphan.lower()}"]
        assert step["status"] == "skipped"
        assert "create-new-key" not in actions
        assert report["decision"]["path"] == "contain"
        assert report["complete"] is False
        assert any(f"Delete AccessKey {orphan}" in s for s in report["next_steps"])
        assert orphan in running.cloud.access_keys
        assert calls(running, "CreateAccessKey") == 1  # the orphan's, made above
        assert calls(running, "DeleteAccessKey") == 0
        assert not (tmp_path / "secrets").exists()
