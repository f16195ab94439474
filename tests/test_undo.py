"""The undo flow against the emulator: revert, dry run, and what cannot be undone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from akresponder.journal import Journal
from flows.undo import undo_response
from tests.respond_support import (
    APP_KEY,
    CI_KEY_A,
    RESPONDER_KEY,
    actions_by_id,
    respond,
    responder_emulator,
    write_calls,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")
DENY = "akresponder-deny-high-risk"


@pytest.mark.slow
def test_undo_reverts_containment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        respond(tmp_path, APP_KEY, rotatable_now="no")
        user = running.cloud.users["app-backend"]
        assert DENY in [policy.policy_name for policy in user.policies]

        result = undo_response(
            str(tmp_path / "report.json"),
            auto_approve=True,
            state_dir=str(tmp_path / "state"),
        )

        actions = actions_by_id(result)
        assert [action["id"] for action in result["actions"]] == [
            "undo-require-mfa",
            "undo-attach-deny-policy",
            "undo-create-deny-policy",
        ]
        assert all(action["status"] == "done" for action in result["actions"])
        assert actions["undo-attach-deny-policy"]["api"] == "ram:DetachPolicyFromUser"
        assert result["complete"] is True
        assert DENY not in [policy.policy_name for policy in user.policies]
        assert ("Custom", DENY) not in running.cloud.policies
        assert user.login_profile.mfa_bind_required is False
        written = json.loads((tmp_path / "report.undo.json").read_text())
        assert written["incident_id"] == result["incident_id"]
        journal = Journal.open(APP_KEY, state_dir=tmp_path / "state")
        assert not journal.is_done("attach-deny-policy")

        # A later response makes the reverted changes again.
        again = respond(tmp_path, APP_KEY, rotatable_now="no")
        assert actions_by_id(again)["attach-deny-policy"]["status"] == "done"
        assert DENY in [policy.policy_name for policy in user.policies]


def test_undo_dry_run_and_irreversible(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        report = respond(tmp_path, CI_KEY_A, approval={"auto_approve": True})
        writes_before = write_calls(running, RESPONDER_KEY)

        planned = undo_response(report, dry_run=True, state_dir=str(tmp_path / "state"))

        actions = actions_by_id(planned)
        assert actions["undo-delete-key"]["status"] == "skipped"
        assert "cannot be restored" in actions["undo-delete-key"]["detail"]
        assert actions["undo-disable-key"]["status"] == "skipped"
        assert "deleted AccessKey" in actions["undo-disable-key"]["detail"]
        assert any("cannot be restored" in step for step in planned["next_steps"])
        assert write_calls(running, RESPONDER_KEY) == writes_before


def test_undo_not_approved_outside_deployment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        respond(tmp_path, CI_KEY_A)
        assert running.cloud.access_keys[CI_KEY_A].status == "Inactive"

        result = undo_response(str(tmp_path / "report.json"))

        assert actions_by_id(result)["undo-disable-key"]["status"] == "skipped"
        assert result["complete"] is False
        assert "--auto-approve" in result["next_steps"][0]
        assert running.cloud.access_keys[CI_KEY_A].status == "Inactive"


def test_undo_rejects_missing_report(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        undo_response(str(tmp_path / "missing.json"))


def test_undo_twice_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        respond(tmp_path, APP_KEY, rotatable_now="no", approval={"auto_approve": True})
        user = running.cloud.users["app-backend"]
        report = str(tmp_path / "report.json")
        first = undo_response(
            report, auto_approve=True, state_dir=str(tmp_path / "state")
        )
        writes_after_first = write_calls(running, RESPONDER_KEY)
        policies_after_first = sorted(policy.policy_name for policy in user.policies)

        second = undo_response(
            report, auto_approve=True, state_dir=str(tmp_path / "state")
        )

        assert [action["status"] for action in first["actions"]] == ["done"] * 4
        assert [action["status"] for action in second["actions"]] == ["skipped"] * 4
        for action in second["actions"]:
            assert action["detail"].startswith("Already reverted:"), action
        assert second["complete"] is True
        assert write_calls(running, RESPONDER_KEY) == writes_after_first
        assert sorted(policy.policy_name for policy in user.policies) == (
            policies_after_first
        )
        assert first["report_path"] == str(tmp_path / "report.undo.json")
        assert second["report_path"] == str(tmp_path / "report.undo.2.json")
        first_record = json.loads((tmp_path / "report.undo.json").read_text())
        assert [action["status"] for action in first_record["actions"]] == (
            ["done"] * 4
        )


def test_undo_rotation_skips_deleted_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        report = respond(
            tmp_path,
            APP_KEY,
            mode="rotate",
            rotatable_now="yes",
            approval={"auto_approve": True},
        )
        disable = actions_by_id(report)["disable-key"]
        assert disable["status"] == "done"
        assert disable["undo"]["reversible"] is False
        assert "delete-key deleted AccessKey" in disable["undo"]["note"]
        writes_before = write_calls(running, RESPONDER_KEY)

        result = undo_response(
            str(tmp_path / "report.json"),
            auto_approve=True,
            state_dir=str(tmp_path / "state"),
        )

        actions = actions_by_id(result)
        assert actions["undo-disable-key"]["status"] == "skipped"
        assert "cannot be enabled again" in actions["undo-disable-key"]["detail"]
        assert all(action["status"] == "skipped" for action in result["actions"])
        assert result["complete"] is True
        assert write_calls(running, RESPONDER_KEY) == writes_before
