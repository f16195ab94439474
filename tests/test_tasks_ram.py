"""RAM tasks against the emulator: results, state changes and errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cloud_helpers import APP_BACKEND, calls, connect
from pydantic import SecretStr

from akresponder.errors import CloudError
from akresponder.sinks import DiscardSink, FileSink
from tasks import ram

APP_KEY = "LTAI5tAPPBACKEND00000001"
DENY = {
    "Version": "1",
    "Statement": [
        {"Effect": "Deny", "Action": ["ram:CreateAccessKey"], "Resource": "*"}
    ],
}


def test_ram_list_users_follows_markers(emulator) -> None:
    users = ram.list_users.fn(connect(emulator), page_size=1)
    names = [user["UserName"] for user in users]
    assert sorted(names) == ["alice", "app-backend", "ci-deploy", "ir-responder"]
    assert len(calls(emulator, "ListUsers")) == 4


def test_ram_list_users_rejects_page_size(emulator) -> None:
    with pytest.raises(ValueError) as caught:
        ram.list_users.fn(connect(emulator), page_size=0)
    assert "invalid page_size 0; use 1 to 1000" in str(caught.value)


def test_ram_get_user_missing_user(emulator) -> None:
    with pytest.raises(CloudError) as caught:
        ram.get_user.fn(connect(emulator), "nobody")
    assert caught.value.code == "EntityNotExist.User"
    assert caught.value.status == 404
    assert caught.value.is_not_found
    assert "user=nobody" in str(caught.value)


def test_ram_get_user_rejects_bad_name(emulator) -> None:
    with pytest.raises(ValueError) as caught:
        ram.get_user.fn(connect(emulator), "bad name!")
    assert "invalid user_name 'bad name!'" in str(caught.value)
    assert calls(emulator, "GetUser") == []


def test_ram_list_access_keys_and_last_used(emulator) -> None:
    connection = connect(emulator)
    keys = ram.list_access_keys.fn(connection, "ci-deploy")
    assert [key["Status"] for key in keys] == ["Active", "Active"]
    own = ram.list_access_keys.fn(connection)
    assert [key["AccessKeyId"] for key in own] == ["LTAI5tRESPONDER000000001"]
    last = ram.get_access_key_last_used.fn(connection, "app-backend", APP_KEY)
    assert last["AccessKeyId"] == APP_KEY
    assert last["LastUsedDate"].endswith("Z")


def test_ram_update_access_key_disables_key(emulator) -> None:
    connection = connect(emulator)
    result = ram.update_access_key.fn(connection, "app-backend", APP_KEY, "Inactive")
    assert result["Status"] == "Inactive"
    assert result["RequestId"]
    assert emulator.cloud.access_keys[APP_KEY].status == "Inactive"
    with pytest.raises(CloudError) as caught:
        ram.list_policies_for_user.fn(connect(emulator, APP_BACKEND), "app-backend")
    assert caught.value.code == "InvalidAccessKeyId.Inactive"
    assert caught.value.is_credential_error


def test_ram_update_access_key_rejects_status(emulator) -> None:
    with pytest.raises(ValueError) as caught:
        ram.update_access_key.fn(connect(emulator), "app-backend", APP_KEY, "Disabled")
    assert "invalid status 'Disabled'; use one of Active, Inactive" in str(caught.value)


def test_ram_update_access_key_unknown_key(emulator) -> None:
    with pytest.raises(CloudError) as caught:
        ram.update_access_key.fn(
            connect(emulator), "app-backend", "LTAI5tNOSUCHKEY000000001", "Inactive"
        )
    assert caught.value.code == "EntityNotExist.User.AccessKey"


def test_ram_create_access_key_secret_only_in_sink(emulator, tmp_path: Path) -> None:
    connection = connect(emulator)
    result = ram.create_access_key.fn(connection, "alice", sink=FileSink(tmp_path))
    key_id = result["AccessKeyId"]
    assert set(result) == {
        "UserName",
        "AccessKeyId",
        "Status",
        "CreateDate",
        "SecretStoredIn",
    }
    stored = Path(result["SecretStoredIn"])
    assert stored.parent == tmp_path
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    payload = json.loads(stored.read_text())
    assert payload["AccessKeyId"] == key_id
    assert payload["AccessKeySecret"] == emulator.cloud.access_keys[key_id].secret
    assert payload["AccessKeySecret"] not in json.dumps(result)


def test_ram_create_access_key_limit_reached(emulator) -> None:
    with pytest.raises(CloudError) as caught:
        ram.create_access_key.fn(connect(emulator), "ci-deploy", sink=DiscardSink())
    assert caught.value.code == "LimitExceeded.User.AccessKey"
    assert caught.value.status == 409


def test_ram_create_access_key_sink_failure(emulator, tmp_path: Path) -> None:
    connection = connect(emulator)
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    with pytest.raises(RuntimeError) as caught:
        ram.create_access_key.fn(connection, "alice", sink=FileSink(blocked))
    assert "could not create secret file" in str(caught.value)
    assert ram.list_access_keys.fn(connection, "alice") == []
    assert len(calls(emulator, "DeleteAccessKey")) == 1


def test_ram_delete_access_key_removes_key(emulator) -> None:
    connection = connect(emulator)
    ram.delete_access_key.fn(connection, "app-backend", APP_KEY)
    assert APP_KEY not in emulator.cloud.access_keys
    with pytest.raises(CloudError) as caught:
        ram.delete_access_key.fn(connection, "app-backend", APP_KEY)
    assert caught.value.code == "EntityNotExist.User.AccessKey"


def test_ram_policy_lifecycle(emulator) -> None:
    connection = connect(emulator)
    created = ram.create_policy.fn(connection, "akr-deny", DENY, description="deny")
    assert created["PolicyName"] == "akr-deny"
    assert created["DefaultVersion"] == "v1"
    with pytest.raises(CloudError) as caught:
        ram.create_policy.fn(connection, "akr-deny", DENY)
    assert caught.value.code == "EntityAlreadyExists.Policy"

    version = ram.create_policy_version.fn(connection, "akr-deny", json.dumps(DENY))
    assert version["VersionId"] == "v2"
    assert version["IsDefaultVersion"] is True
    versions = ram.list_policy_versions.fn(connection, "akr-deny")
    assert [v["VersionId"] for v in versions] == ["v1", "v2"]
    ram.delete_policy_version.fn(connection, "akr-deny", "v1")
    fetched = ram.get_policy.fn(connection, "akr-deny")
    assert fetched["Policy"]["DefaultVersion"] == "v2"
    assert json.loads(fetched["DefaultPolicyVersion"]["PolicyDocument"]) == DENY


def test_ram_create_policy_rejects_bad_document(emulator) -> None:
    with pytest.raises(ValueError) as caught:
        ram.create_policy.fn(connect(emulator), "akr-deny", "{not json")
    assert "policy_document is not valid JSON" in str(caught.value)
    big = {"Version": "1", "Statement": [{"Action": ["x" * 7000]}]}
    with pytest.raises(ValueError) as caught:
        ram.create_policy.fn(connect(emulator), "akr-deny", big)
    assert "RAM accepts at most 6144" in str(caught.value)


def test_ram_attach_and_detach_are_repeatable(emulator) -> None:
    connection = connect(emulator)
    ram.create_policy.fn(connection, "akr-deny", DENY)
    first = ram.attach_policy_to_user.fn(connection, "akr-deny", "app-backend")
    again = ram.attach_policy_to_user.fn(connection, "akr-deny", "app-backend")
    assert first["Changed"] is True
    assert again["Changed"] is False
    attached = ram.list_policies_for_user.fn(connection, "app-backend")
    assert "akr-deny" in [policy["PolicyName"] for policy in attached]
    entities = ram.list_entities_for_policy.fn(connection, "akr-deny")
    assert [user["UserName"] for user in entities["Users"]] == ["app-backend"]
    assert entities["Groups"] == []
    removed = ram.detach_policy_from_user.fn(connection, "akr-deny", "app-backend")
    gone = ram.detach_policy_from_user.fn(connection, "akr-deny", "app-backend")
    assert removed["Changed"] is True
    assert gone["Changed"] is False


def test_ram_attach_missing_policy(emulator) -> None:
    with pytest.raises(CloudError) as caught:
        ram.attach_policy_to_user.fn(connect(emulator), "no-such-policy", "app-backend")
    assert caught.value.code == "EntityNotExist.Policy"


def test_ram_groups_of_user(emulator) -> None:
    connection = connect(emulator)
    groups = ram.list_groups_for_user.fn(connection, "app-backend")
    assert [group["GroupName"] for group in groups] == ["developers"]
    policies = ram.list_policies_for_group.fn(connection, "developers")
    assert [p["PolicyName"] for p in policies] == ["AliyunECSReadOnlyAccess"]
    ram.remove_user_from_group.fn(connection, "app-backend", "developers")
    assert ram.list_groups_for_user.fn(connection, "app-backend") == []


def test_ram_login_profile_changes(emulator) -> None:
    connection = connect(emulator)
    assert ram.get_login_profile.fn(connection, "ci-deploy") is None
    profile = ram.get_login_profile.fn(connection, "app-backend")
    assert profile["PasswordResetRequired"] is False
    result = ram.update_login_profile.fn(
        connection,
        "app-backend",
        password=SecretStr("N3w-Passw0rd-for-test"),
        password_reset_required=True,
        mfa_bind_required=True,
    )
    assert result["PasswordChanged"] is True
    assert "N3w-Passw0rd-for-test" not in json.dumps(result)
    profile = ram.get_login_profile.fn(connection, "app-backend")
    assert profile["PasswordResetRequired"] is True
    assert profile["MFABindRequired"] is True
    assert ram.delete_login_profile.fn(connection, "app-backend")["Changed"] is True
    assert ram.delete_login_profile.fn(connection, "app-backend")["Changed"] is False


def test_ram_update_login_profile_needs_a_change(emulator) -> None:
    with pytest.raises(ValueError) as caught:
        ram.update_login_profile.fn(connect(emulator), "app-backend")
    assert "needs at least one of" in str(caught.value)


def test_ram_mfa_devices(emulator) -> None:
    connection = connect(emulator)
    devices = ram.list_virtual_mfa_devices.fn(connection)
    assert [d["User"]["UserName"] for d in devices] == ["alice"]
    assert ram.get_user_mfa_info.fn(connection, "alice")["SerialNumber"].endswith(
        "mfa/alice"
    )
    assert ram.get_user_mfa_info.fn(connection, "app-backend") is None


def test_ram_delete_user_conflict_then_success(emulator) -> None:
    connection = connect(emulator)
    with pytest.raises(CloudError) as caught:
        ram.delete_user.fn(connection, "app-backend")
    assert caught.value.code.startswith("DeleteConflict.User")
    ram.delete_access_key.fn(connection, "app-backend", APP_KEY)
    ram.remove_user_from_group.fn(connection, "app-backend", "developers")
    for policy in ram.list_policies_for_user.fn(connection, "app-backend"):
        ram.detach_policy_from_user.fn(
            connection, policy["PolicyName"], "app-backend", policy["PolicyType"]
        )
    ram.delete_login_profile.fn(connection, "app-backend")
    ram.delete_user.fn(connection, "app-backend")
    assert "app-backend" not in emulator.cloud.users


def test_ram_tasks_run_in_a_flow(
    emulator, prefect_harness: None, tmp_path: Path
) -> None:
    from prefect import flow

    connection = connect(emulator)

    @flow
    def contain(user: str, key_id: str) -> dict:
        disabled = ram.update_access_key(
            connection, user, key_id, "Inactive", incident="T-1"
        )
        created = ram.create_access_key(
            connection, user, sink=FileSink(tmp_path), incident="T-1"
        )
        return {"disabled": disabled, "created": created}

    result = contain("app-backend", APP_KEY)
    assert result["disabled"]["Status"] == "Inactive"
    assert result["created"]["AccessKeyId"] in emulator.cloud.access_keys
    assert Path(result["created"]["SecretStoredIn"]).exists()
