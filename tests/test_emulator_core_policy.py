"""Authorisation: RAM policy evaluation, over HTTP and through ``policy.evaluate``."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyun.log import LogException

from emulator import policy
from emulator.scenario import load_scenario
from emulator.state import Caller, StsSession
from emulator.testing import start_emulator
from tests.helpers import (
    APP_BACKEND,
    RESPONDER,
    ROOT,
    SLS_PROJECT,
    TRAIL_LOGSTORE,
    ecs_client,
    log_client,
    ram_client,
)

DENY_KEY_CHANGES = {
    "Version": "1",
    "Statement": [
        {"Effect": "Deny", "Action": "ram:UpdateAccessKey", "Resource": "*"},
    ],
}


@pytest.fixture
def basic_data(basic_scenario: Path) -> dict[str, Any]:
    return json.loads(basic_scenario.read_text())


def _with_policy(data: dict[str, Any], name: str, document: dict, user: str) -> dict:
    data = copy.deepcopy(data)
    data["policies"].append(
        {"PolicyName": name, "Description": "", "PolicyDocument": json.dumps(document)}
    )
    for item in data["users"]:
        if item["UserName"] == user:
            item["Policies"].append({"PolicyName": name, "PolicyType": "Custom"})
    return data


def _caller(cloud, user_name: str) -> Caller:
    user = cloud.users[user_name]
    key_id = user.access_key_ids[0] if user.access_key_ids else ""
    return Caller("ram-user", key_id, user.user_id, user_name)


def test_deny_stops_named_action_only(basic_data: dict[str, Any]) -> None:
    data = _with_policy(
        basic_data, "deny-key-changes", DENY_KEY_CHANGES, "ir-responder"
    )
    with start_emulator(data) as emu:
        client = ram_client(emu, *RESPONDER)
        with pytest.raises(ClientException) as caught:
            client.update_access_key(
                ram_models.UpdateAccessKeyRequest(
                    user_name="app-backend",
                    user_access_key_id=APP_BACKEND[0],
                    status="Inactive",
                )
            )
        error = caught.value
        assert error.code == "NoPermission"
        assert error.status_code == 403
        assert "(ram:UpdateAccessKey)" in error.message
        assert "deny-key-changes" in error.message
        assert emu.cloud.access_keys[APP_BACKEND[0]].status == "Active"
        detail = error.access_denied_detail
        assert detail["NoPermissionType"] == "ExplicitDeny"
        assert detail["AuthAction"] == "ram:UpdateAccessKey"
        users = client.list_users(ram_models.ListUsersRequest()).body.users.user
        assert len(users) == 4


def test_implicit_deny_detail(emulator) -> None:
    client = ram_client(emulator, *APP_BACKEND)
    with pytest.raises(ClientException) as caught:
        client.delete_user(ram_models.DeleteUserRequest(user_name="alice"))
    error = caught.value
    assert error.code == "NoPermission"
    assert error.status_code == 403
    assert "You are not authorized to do this action (ram:DeleteUser)." in error.message
    detail = error.access_denied_detail
    assert detail["AuthAction"] == "ram:DeleteUser"
    assert detail["AuthPrincipalType"] == "SubUser"
    assert detail["AuthPrincipalOwnerId"] == "1234567890123456"
    assert detail["AuthPrincipalDisplayName"] == "app-backend"
    assert detail["PolicyType"] == "AccountLevelIdentityBasedPolicy"
    assert detail["NoPermissionType"] == "ImplicitDeny"
    diagnostic = json.loads(base64.b64decode(detail["EncodedDiagnosticMessage"]))
    assert diagnostic["AuthAction"] == "ram:DeleteUser"
    assert "alice" in emulator.cloud.users
    event = emulator.cloud.events[-1]
    assert event["eventName"] == "DeleteUser"
    assert event["errorCode"] == "NoPermission"


def test_root_allowed_everything(emulator) -> None:
    client = ram_client(emulator, *ROOT)
    response = client.list_users(ram_models.ListUsersRequest())
    assert len(response.body.users.user) == 4


def test_ecs_denial_is_forbidden_ram(basic_data: dict[str, Any]) -> None:
    document = {
        "Version": "1",
        "Statement": [{"Effect": "Deny", "Action": "ecs:Describe*", "Resource": "*"}],
    }
    data = _with_policy(basic_data, "no-ecs-reads", document, "app-backend")
    with start_emulator(data) as emu:
        client = ecs_client(emu, *APP_BACKEND)
        with pytest.raises(ClientException) as caught:
            client.describe_instances(
                ecs_models.DescribeInstancesRequest(region_id="cn-hangzhou")
            )
        assert caught.value.code == "Forbidden.RAM"
        assert caught.value.status_code == 403
        assert "ecs:DescribeInstances" in caught.value.message


def test_sls_denial_is_unauthorized(emulator) -> None:
    client = log_client(emulator, *APP_BACKEND)
    with pytest.raises(LogException) as caught:
        client.get_log(SLS_PROJECT, TRAIL_LOGSTORE, 1763000000, 1764000000, size=5)
    assert caught.value.get_error_code() == "Unauthorized"
    assert caught.value.get_resp_status() == 401
    message = caught.value.get_error_message()
    assert "log:GetLogStoreLogs" in message
    assert f"project/{SLS_PROJECT}/logstore/{TRAIL_LOGSTORE}" in message


# --- evaluate() -----------------------------------------------------------------------


@pytest.fixture
def cloud(basic_scenario: Path):
    return load_scenario(basic_scenario)


def _custom(cloud, name: str, statements: list[dict], user: str = "app-backend"):
    from emulator.state import Policy, PolicyAttachment, PolicyVersion

    document = json.dumps({"Version": "1", "Statement": statements})
    now = cloud.now()
    cloud.policies[("Custom", name)] = Policy(
        name, "Custom", "", now, now, [PolicyVersion("v1", document, now)]
    )
    cloud.users[user].policies.append(PolicyAttachment(name, "Custom", now))


def test_evaluate_system_policy_wildcards(cloud) -> None:
    caller = _caller(cloud, "app-backend")
    assert policy.evaluate(cloud, caller, "ecs:RunInstances").allowed
    assert policy.evaluate(cloud, caller, "ECS:describeinstances").allowed
    assert not policy.evaluate(cloud, caller, "ram:ListUsers").allowed


def test_evaluate_group_policy_applies(cloud) -> None:
    caller = _caller(cloud, "alice")
    assert policy.evaluate(cloud, caller, "ecs:DescribeInstances").allowed
    assert not policy.evaluate(cloud, caller, "ecs:RunInstances").allowed


def test_evaluate_explicit_deny_wins(cloud) -> None:
    _custom(cloud, "deny-run", [{"Effect": "Deny", "Action": ["ecs:Run*"]}])
    decision = policy.evaluate(cloud, _caller(cloud, "app-backend"), "ecs:RunInstances")
    assert not decision.allowed
    assert decision.reason == "ExplicitDeny"
    assert decision.matched_policy == ("Custom", "deny-run")


def test_evaluate_not_action(cloud) -> None:
    _custom(
        cloud,
        "all-but-ram",
        [{"Effect": "Allow", "NotAction": "ram:*", "Resource": "*"}],
        user="alice",
    )
    caller = _caller(cloud, "alice")
    assert policy.evaluate(cloud, caller, "bssapi:QueryBill").allowed
    assert not policy.evaluate(cloud, caller, "ram:ListUsers").allowed


def test_evaluate_resource_patterns(cloud) -> None:
    _custom(
        cloud,
        "one-user",
        [
            {
                "Effect": "Allow",
                "Action": "ram:GetUser",
                "Resource": "acs:ram:*:*:user/ali*",
            }
        ],
        user="alice",
    )
    caller = _caller(cloud, "alice")
    allowed = "acs:ram:*:1234567890123456:user/alice"
    other = "acs:ram:*:1234567890123456:user/app-backend"
    assert policy.evaluate(cloud, caller, "ram:GetUser", allowed).allowed
    assert not policy.evaluate(cloud, caller, "ram:GetUser", other).allowed
    assert not policy.evaluate(cloud, caller, "ram:GetUser", "*").allowed


def test_evaluate_ip_conditions(cloud) -> None:
    _custom(
        cloud,
        "office-only",
        [
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"acs:SourceIp": ["192.0.2.0/24"]}},
            }
        ],
    )
    caller = _caller(cloud, "app-backend")
    inside = {"acs:SourceIp": "192.0.2.15"}
    outside = {"acs:SourceIp": "203.0.113.7"}
    assert policy.evaluate(cloud, caller, "ecs:RunInstances", context=inside).allowed
    decision = policy.evaluate(cloud, caller, "ecs:RunInstances", context=outside)
    assert decision.reason == "ExplicitDeny"


def test_evaluate_ip_address_allow(cloud) -> None:
    _custom(
        cloud,
        "from-vpn",
        [
            {
                "Effect": "Allow",
                "Action": "ram:ListUsers",
                "Resource": "*",
                "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}},
            }
        ],
    )
    caller = _caller(cloud, "app-backend")
    inside = {"acs:SourceIp": "10.1.2.3"}
    outside = {"acs:SourceIp": "8.8.8.8"}
    assert policy.evaluate(cloud, caller, "ram:ListUsers", context=inside).allowed
    assert not policy.evaluate(cloud, caller, "ram:ListUsers", context=outside).allowed


def test_evaluate_bool_conditions(cloud) -> None:
    _custom(
        cloud,
        "mfa-only",
        [
            {
                "Effect": "Allow",
                "Action": "ram:ListUsers",
                "Resource": "*",
                "Condition": {"Bool": {"acs:MFAPresent": "true"}},
            },
            {
                "Effect": "Allow",
                "Action": "ram:GetUser",
                "Resource": "*",
                "Condition": {"Bool": {"acs:SecureTransport": "true"}},
            },
        ],
    )
    caller = _caller(cloud, "app-backend")
    assert not policy.evaluate(cloud, caller, "ram:ListUsers").allowed
    with_mfa = {"acs:MFAPresent": "true"}
    assert policy.evaluate(cloud, caller, "ram:ListUsers", context=with_mfa).allowed
    assert policy.evaluate(cloud, caller, "ram:GetUser").allowed


def test_evaluate_unsupported_condition_not_matching(cloud) -> None:
    _custom(
        cloud,
        "by-time",
        [
            {
                "Effect": "Allow",
                "Action": "ram:ListUsers",
                "Resource": "*",
                "Condition": {
                    "DateLessThan": {"acs:CurrentTime": "2030-01-01T00:00:00Z"}
                },
            }
        ],
    )
    assert not policy.evaluate(
        cloud, _caller(cloud, "app-backend"), "ram:ListUsers"
    ).allowed


def test_evaluate_root_allowed(cloud) -> None:
    caller = Caller("root-account", ROOT[0], cloud.account_id, "root")
    decision = policy.evaluate(cloud, caller, "ram:DeleteUser")
    assert decision.allowed
    assert decision.reason == "Root"


def test_evaluate_role_and_session_policy(cloud) -> None:
    session = StsSession(
        access_key_id="STS.test",
        secret="x",
        security_token="t",
        role_name="ops-admin",
        session_name="s1",
        expiration=cloud.now(),
        issued_by=RESPONDER[0],
        policy=json.dumps(
            {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ram:List*"}]}
        ),
    )
    cloud.sts_sessions[session.access_key_id] = session
    role = cloud.roles["ops-admin"]
    caller = Caller(
        "assumed-role",
        "STS.test",
        f"{role.role_id}:s1",
        "ops-admin:s1",
        "ops-admin",
        "s1",
    )
    assert policy.evaluate(cloud, caller, "ram:ListUsers").allowed
    decision = policy.evaluate(cloud, caller, "ram:DeleteUser")
    assert not decision.allowed
    assert decision.policy_type == "SessionPolicy"
    session.policy = None
    assert policy.evaluate(cloud, caller, "ram:DeleteUser").allowed


def test_request_resources_for_ram_user(cloud) -> None:
    resources = policy.request_resources(
        cloud, "ram", {"UserName": "alice"}, "cn-hangzhou"
    )
    assert resources == ["acs:ram:*:1234567890123456:user/alice"]
    assert policy.request_resources(cloud, "bss", {}, "cn-hangzhou") == ["*"]


def test_session_policy_denial_detail(emulator) -> None:
    from alibabacloud_sts20150401 import models as sts_models

    from tests.helpers import sts_client

    session_policy = {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "ram:List*", "Resource": "*"}],
    }
    credentials = (
        sts_client(emulator, *RESPONDER)
        .assume_role(
            sts_models.AssumeRoleRequest(
                role_arn="acs:ram::1234567890123456:role/ops-admin",
                role_session_name="read-only",
                policy=json.dumps(session_policy),
            )
        )
        .body.credentials
    )
    client = ram_client(
        emulator,
        credentials.access_key_id,
        credentials.access_key_secret,
        security_token=credentials.security_token,
    )
    users = client.list_users(ram_models.ListUsersRequest()).body.users.user
    assert len(users) == 4
    with pytest.raises(ClientException) as caught:
        client.delete_user(ram_models.DeleteUserRequest(user_name="alice"))
    detail = caught.value.access_denied_detail
    assert caught.value.code == "NoPermission"
    assert detail["AuthPrincipalType"] == "AssumedRoleUser"
    assert detail["AuthPrincipalDisplayName"] == "ops-admin:read-only"
    assert detail["PolicyType"] == "SessionPolicy"
    assert detail["NoPermissionType"] == "ImplicitDeny"
