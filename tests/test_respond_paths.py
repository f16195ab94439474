"""The response flow's paths against the emulator, through the real SDK clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi.exceptions import ClientException

from akresponder.report import load_report
from blocks.settings import DEFAULT_DENY_POLICY
from emulator.auth import resolve_caller
from emulator.policy import evaluate
from emulator.testing import sls_client
from tests.respond_support import (
    APP_KEY,
    APP_SECRET,
    CI_KEY_A,
    CI_KEY_B,
    RESPONDER_KEY,
    ROOT_KEY,
    actions_by_id,
    ecs_client,
    event,
    ram_client,
    respond,
    responder_emulator,
    write_calls,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")

# The app-backend key, used from a second address besides its usual 198.51.100.10.
SECOND_PLACE = [
    event(1, "DescribeInstances", ip="203.0.113.77", when="2026-11-19T10:00:00Z"),
    event(2, "DescribeInstances", ip="203.0.113.77", when="2026-11-19T11:00:00Z"),
]
ROOT_EVENTS = [
    event(
        3,
        "DescribeRegions",
        key=ROOT_KEY,
        user="root",
        identity_type="root-account",
        when="2026-11-18T10:00:00Z",
    )
]


def test_respond_unused_key_is_deleted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        report = respond(tmp_path, CI_KEY_A, approval={"auto_approve": True})

        actions = actions_by_id(report)
        assert report["decision"]["path"] == "delete"
        assert report["owner"] == {
            "type": "ram-user",
            "user_name": "ci-deploy",
            "user_id": "200000000000000003",
            "account_id": "1234567890123456",
            "found_by": ["ram-enumeration"],
        }
        assert report["key"]["in_use"] is False
        assert actions["disable-key"]["status"] == "done"
        assert actions["disable-key"]["undo"]["api"] == "ram:UpdateAccessKey"
        assert actions["delete-key"]["status"] == "done"
        assert actions["delete-key"]["undo"]["reversible"] is False
        assert report["complete"] is True
        assert report["timings"]["to_containment_seconds"] > 0
        assert CI_KEY_A not in running.cloud.access_keys
        assert CI_KEY_B in running.cloud.access_keys
        assert write_calls(running, RESPONDER_KEY) == [
            "UpdateAccessKey",
            "DeleteAccessKey",
        ]


def test_respond_delete_waits_for_approval(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        report = respond(tmp_path, CI_KEY_A)

        actions = actions_by_id(report)
        assert actions["disable-key"]["status"] == "done"
        assert actions["delete-key"]["status"] == "skipped"
        assert "not served by a deployment" in actions["delete-key"]["detail"]
        assert report["complete"] is False
        assert running.cloud.access_keys[CI_KEY_A].status == "Inactive"
        assert any("--auto-approve" in step for step in report["next_steps"])


def test_respond_rotates_key_used_from_two_places(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch, extra_events=SECOND_PLACE) as running:
        report = respond(
            tmp_path, APP_KEY, rotatable_now="yes", approval={"auto_approve": True}
        )

        assert report["decision"]["path"] == "rotate"
        assert report["key"]["in_use"] is True
        assert sorted(report["key"]["source_ips"]) == ["198.51.100.10", "203.0.113.77"]
        assert report["key"]["products"] == ["Ecs"]
        assert [action["id"] for action in report["actions"]] == [
            "create-new-key",
            "confirm-rotation",
            "check-old-key-traffic",
            "disable-key",
            "delete-key",
        ]
        assert all(action["status"] == "done" for action in report["actions"])
        new_keys = running.cloud.users["app-backend"].access_key_ids
        assert APP_KEY not in running.cloud.access_keys
        assert len(new_keys) == 1
        secret_files = list((tmp_path / "secrets").iterdir())
        assert len(secret_files) == 1
        delivered = json.loads(secret_files[0].read_text())
        assert delivered["AccessKeyId"] == new_keys[0]
        assert delivered["AccessKeySecret"] == (
            running.cloud.access_keys[new_keys[0]].secret
        )
        replacement = [
            item
            for item in report["related_credentials"]
            if item["relation"] == "replacement-key"
        ]
        assert replacement[0]["access_key_id"] == new_keys[0]
        kinds = {finding["kind"] for finding in report["findings"]}
        assert "several-source-ips" in kinds


def test_respond_full_slots_removes_other_key_after_approval(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        report = respond(
            tmp_path,
            CI_KEY_A,
            mode="rotate",
            rotatable_now="yes",
            approval={"auto_approve": True},
        )

        actions = actions_by_id(report)
        assert report["decision"]["forced"] is True
        assert report["key"]["free_key_slot"] is False
        assert actions["remove-other-key"]["status"] == "done"
        assert actions["create-new-key"]["status"] == "done"
        assert CI_KEY_B not in running.cloud.access_keys
        assert CI_KEY_A not in running.cloud.access_keys
        assert len(running.cloud.users["ci-deploy"].access_key_ids) == 1


def test_respond_full_slots_without_approval_contains(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        report = respond(tmp_path, CI_KEY_A, mode="rotate", rotatable_now="yes")

        actions = actions_by_id(report)
        assert actions["remove-other-key"]["status"] == "skipped"
        assert "create-new-key" not in actions
        assert report["decision"]["path"] == "contain"
        assert "no free AccessKey slot" in report["decision"]["reasons"][-1]
        assert actions["attach-deny-policy"]["status"] == "done"
        assert sorted(running.cloud.users["ci-deploy"].access_key_ids) == [
            CI_KEY_A,
            CI_KEY_B,
        ]


def test_respond_contain_denies_attacker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        ecs = ecs_client(running, APP_KEY, APP_SECRET)
        region = "cn-hangzhou"
        launched = ecs.run_instances(
            ecs_models.RunInstancesRequest(
                region_id=region,
                instance_type="ecs.g7.large",
                image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
            )
        )
        instance_id = launched.body.instance_id_sets.instance_id_set[0]

        report = respond(tmp_path, APP_KEY, rotatable_now="no")

        actions = actions_by_id(report)
        assert report["decision"]["path"] == "contain"
        assert actions["create-deny-policy"]["status"] == "done"
        assert actions["attach-deny-policy"]["status"] == "done"
        assert actions["require-mfa"]["status"] == "done"
        assert actions["require-mfa"]["before"] == {"MFABindRequired": False}
        user = running.cloud.users["app-backend"]
        assert user.login_profile is not None
        assert user.login_profile.mfa_bind_required is True
        assert "akresponder-deny-high-risk" in [p.policy_name for p in user.policies]
        proposed = [p for p in report["permissions"] if p["proposed_for_removal"]]
        assert [p["policy_name"] for p in proposed] == ["app-backend-oss"]
        assert actions["detach-app-backend-oss"]["status"] == "skipped"
        assert report["timings"]["to_containment_seconds"] is not None

        # Every action the deny policy names is now an explicit deny for the key,
        # including services the emulator does not serve (rds, oss, dysms).
        caller = resolve_caller(running.cloud, running.cloud.access_keys[APP_KEY])
        for statement in DEFAULT_DENY_POLICY["Statement"]:
            for action in statement["Action"]:
                decision = evaluate(running.cloud, caller, action)
                assert (action, decision.reason) == (action, "ExplicitDeny")

        # Through the real SDKs: RAM and ECS calls the policy names are refused.
        ram = ram_client(running, APP_KEY, APP_SECRET)
        for call in (
            lambda: ram.create_user(ram_models.CreateUserRequest(user_name="evil")),
            lambda: ram.create_access_key(
                ram_models.CreateAccessKeyRequest(user_name="app-backend")
            ),
            lambda: ram.attach_policy_to_user(
                ram_models.AttachPolicyToUserRequest(
                    policy_type="System",
                    policy_name="AdministratorAccess",
                    user_name="app-backend",
                )
            ),
        ):
            with pytest.raises(ClientException) as refused:
                call()
            assert refused.value.code == "NoPermission"
        with pytest.raises(ClientException) as refused:
            ecs.delete_instance(
                ecs_models.DeleteInstanceRequest(instance_id=instance_id, force=True)
            )
        assert refused.value.code in ("Forbidden.RAM", "NoPermission")
        assert instance_id in running.cloud.instances

        # SLS names the denied action in its own error.
        project = next(iter(running.cloud.trails.values())).sls_project
        log = sls_client(running.endpoint, APP_KEY, APP_SECRET)
        with pytest.raises(Exception) as denied:
            log.delete_logstore(project, "actiontrail_main")
        assert "Unauthorized" in str(denied.value)

        # The owner's other work still succeeds.
        described = ecs.describe_instances(
            ecs_models.DescribeInstancesRequest(region_id=region)
        )
        assert described.body.total_count >= 1


def test_respond_responder_key_touches_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        report = respond(
            tmp_path, RESPONDER_KEY, mode="delete", approval={"auto_approve": True}
        )

        assert report["decision"]["path"] == "manual"
        assert "signed in with" in report["decision"]["reasons"][0]
        assert report["actions"] == []
        assert report["complete"] is False
        assert report["findings"][0]["kind"] == "responder-key-compromised"
        assert write_calls(running, RESPONDER_KEY) == []
        assert running.cloud.access_keys[RESPONDER_KEY].status == "Active"


def test_respond_root_key_escalates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch, extra_events=ROOT_EVENTS) as running:
        report = respond(tmp_path, ROOT_KEY, approval={"auto_approve": True})

        assert report["owner"]["type"] == "root-account"
        assert report["decision"]["path"] == "manual"
        assert report["complete"] is False
        critical = [f for f in report["findings"] if f["severity"] == "critical"]
        assert critical[0]["kind"] == "root-key-compromised"
        assert actions_by_id(report)["escalate"]["status"] == "done"
        assert any("AccessKey page" in step for step in report["next_steps"])
        assert report["audit"]["events"] == 1
        assert report["billing"]["total"] > 0
        assert write_calls(running, RESPONDER_KEY) == []
        assert running.cloud.access_keys[ROOT_KEY].status == "Active"


def test_respond_unknown_key_is_manual(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch) as running:
        report = respond(tmp_path, "LTAI5tDOESNOTEXIST000001")

        assert report["owner"]["type"] == "unknown"
        assert report["decision"]["path"] == "manual"
        assert "cannot tell whose key" in report["decision"]["reasons"][0]
        assert report["actions"] == []
        assert write_calls(running, RESPONDER_KEY) == []
        assert load_report(tmp_path / "report.json").complete is False


def test_respond_root_dry_run_plans_escalation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with responder_emulator(monkeypatch, extra_events=ROOT_EVENTS):
        report = respond(tmp_path, ROOT_KEY, dry_run=True, check_billing=False)

        escalate = actions_by_id(report)["escalate"]
        assert escalate["status"] == "planned"
        assert "akresponder.incident.escalated" in escalate["detail"]
        assert report["findings"][0]["severity"] == "critical"
