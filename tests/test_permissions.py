"""Permissions declared per task, the minimal policy, and permission errors."""

from __future__ import annotations

import inspect
import json

import pytest
from cloud_helpers import APP_BACKEND, SLS_PROJECT, TRAIL_LOGSTORE, connect

from akresponder.errors import CloudError
from akresponder.permissions import (
    TASK_MODULES,
    declared_permissions,
    flow_actions,
    minimal_policy,
    permission_for,
    print_minimal_policy,
    requires,
)


def _all_tasks() -> list[tuple[str, object]]:
    import importlib

    from prefect import Task

    found = []
    for module_name in TASK_MODULES:
        module = importlib.import_module(module_name)
        for name, value in inspect.getmembers(module):
            if isinstance(value, Task) and value.fn.__module__ == module_name:
                found.append((f"{module_name}.{name}", value))
    return found


def test_permissions_every_task_declares() -> None:
    tasks = _all_tasks()
    assert len(tasks) >= 45
    missing = [name for name, task in tasks if declared_permissions(task) is None]
    assert missing == []


def test_permissions_tasks_use_task_options() -> None:
    from prefect.cache_policies import NO_CACHE

    for name, task in _all_tasks():
        assert task.cache_policy is NO_CACHE, name
        assert task.retries == 0, name
        assert task.persist_result is False, name


def test_permissions_declared_match_the_api_called() -> None:
    # Tasks name the API they call in the string after the connection argument, as
    # in call_api(connection, "ram", "ListUsers", ...). The RAM action for each such
    # API must be declared.
    import re

    named = re.compile(r'\(\s*(?:connection|regional),\s*(?:"[a-z]+",\s*)?"([A-Z]\w+)"')
    checked = 0
    for name, task in _all_tasks():
        service = name.split(".")[1]
        declared = set(declared_permissions(task) or ())
        for action in named.findall(inspect.getsource(task.fn)):
            expected = permission_for(f"{service}:{action}")
            if expected is not None:
                assert expected in declared, f"{name} calls {action}"
                checked += 1
    assert checked >= 40


def test_permission_for_maps_services() -> None:
    assert permission_for("ram:UpdateAccessKey") == "ram:UpdateAccessKey"
    assert permission_for("bss:QueryInstanceBill") == "bssapi:QueryInstanceBill"
    assert permission_for("sls:GetLogs") == "log:GetLogStoreLogs"
    assert permission_for("sls:GetHistograms") == "log:GetLogStoreHistogram"
    assert permission_for("actiontrail:LookupEvents") == "actiontrail:LookupEvents"
    assert permission_for("sts:GetCallerIdentity") is None


def test_permission_for_rejects_unknown_service() -> None:
    with pytest.raises(ValueError) as caught:
        permission_for("oss:GetObject")
    assert "unknown API 'oss:GetObject'" in str(caught.value)


def test_requires_rejects_malformed_action() -> None:
    with pytest.raises(ValueError) as caught:
        requires("UpdateAccessKey")
    assert "invalid RAM action 'UpdateAccessKey'" in str(caught.value)


def test_minimal_policy_covers_every_flow_action() -> None:
    policy = minimal_policy()
    assert policy["Version"] == "1"
    actions = {action for s in policy["Statement"] for action in s["Action"]}
    assert actions == flow_actions()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        if statement["Resource"] != "*":
            assert statement["Action"] == ["ram:CreatePolicy", "ram:DeletePolicy"]
    expected = {
        "ram:UpdateAccessKey",
        "ram:CreateAccessKey",
        "actiontrail:LookupEvents",
        "bssapi:QueryInstanceBill",
        "log:GetLogStoreLogs",
        "ecs:DescribeInstances",
    }
    assert expected <= actions
    assert not any(action.endswith("*") for action in actions)
    assert len(json.dumps(policy, separators=(",", ":"))) <= 6144


def test_minimal_policy_for_some_tasks() -> None:
    from tasks import ram, sls

    policy = minimal_policy([ram.update_access_key, sls.get_logs])
    assert policy["Statement"] == [
        {"Effect": "Allow", "Action": ["log:GetLogStoreLogs"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ram:UpdateAccessKey"], "Resource": "*"},
    ]


def test_minimal_policy_rejects_undeclared_task() -> None:
    def undeclared() -> None:
        return None

    with pytest.raises(ValueError) as caught:
        minimal_policy([undeclared])
    assert "declares no permissions" in str(caught.value)


def test_print_minimal_policy_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    print_minimal_policy()
    printed = json.loads(capsys.readouterr().out)
    assert printed == minimal_policy()


def test_permission_error_names_ram_action(emulator) -> None:
    from tasks import ram

    connection = connect(emulator, APP_BACKEND)
    with pytest.raises(CloudError) as caught:
        ram.update_access_key.fn(
            connection, "ci-deploy", "LTAI5tCIDEPLOY000000001A", "Inactive"
        )
    error = caught.value
    message = str(error)
    assert error.code == "NoPermission"
    assert error.permission == "ram:UpdateAccessKey"
    assert error.auth_action == "ram:UpdateAccessKey"
    assert "ram:UpdateAccessKey failed for user=ci-deploy" in message
    assert "lacks the RAM permission ram:UpdateAccessKey" in message
    assert "akresponder policy" in message
    assert "RequestId=" in message
    assert APP_BACKEND[1] not in message


def test_permission_error_names_bss_action(emulator) -> None:
    from tasks import bss

    connection = connect(emulator, APP_BACKEND)
    with pytest.raises(CloudError) as caught:
        bss.query_bill.fn(connection, "2026-11")
    assert caught.value.is_permission_error
    assert "bssapi:QueryBill" in str(caught.value)


def test_permission_error_names_sls_action(emulator) -> None:
    from tasks import sls

    connection = connect(emulator, APP_BACKEND)
    with pytest.raises(CloudError) as caught:
        sls.get_logs.fn(connection, SLS_PROJECT, TRAIL_LOGSTORE, 0, 2_000_000_000)
    error = caught.value
    assert error.code == "Unauthorized"
    assert error.status == 401
    assert "log:GetLogStoreLogs" in str(error)


def test_minimal_policy_is_enough_in_emulator(emulator, monkeypatch) -> None:
    # A user holding only the minimal policy can run the tasks, and nothing else.
    from alibabacloud_ram20150501 import models as ram_models

    from akresponder.clients import get_client
    from tasks import actiontrail, bss, ecs, ram, sls, sts

    monkeypatch.setenv("AKRESPONDER_ACTIONTRAIL_RPS", "1000")
    emulator.control("POST", "config", {"lookup_events_rate_limit": None})
    admin = connect(emulator)
    client = get_client("ram", admin)
    client.create_user(ram_models.CreateUserRequest(user_name="least-privilege"))
    key = client.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="least-privilege")
    ).body.access_key
    ram.create_policy.fn(admin, "akresponder-minimal", minimal_policy())
    ram.attach_policy_to_user.fn(admin, "akresponder-minimal", "least-privilege")

    limited = connect(emulator, (key.access_key_id, key.access_key_secret))
    assert sts.get_caller_identity.fn(limited)["Arn"].endswith("least-privilege")
    assert ram.list_users.fn(limited)
    assert ram.list_access_keys.fn(limited, "app-backend")
    ram.update_access_key.fn(limited, "app-backend", APP_BACKEND[0], "Inactive")
    assert actiontrail.lookup_events.fn(
        limited, start_time="2026-11-01T00:00:00Z", end_time="2026-11-20T08:00:00Z"
    )
    assert actiontrail.describe_trails.fn(limited)
    assert bss.query_instance_bill.fn(limited, "2026-10")
    assert sls.get_logs.fn(limited, SLS_PROJECT, TRAIL_LOGSTORE, 0, 2_000_000_000)
    assert isinstance(ecs.describe_instances.fn(limited, "cn-hangzhou"), list)
    with pytest.raises(CloudError) as uncalled:
        ecs.describe_regions.fn(limited)
    assert uncalled.value.is_permission_error

    from alibabacloud_tea_openapi.exceptions import ClientException

    with pytest.raises(ClientException) as caught:
        get_client("ram", limited).create_user(
            ram_models.CreateUserRequest(user_name="backdoor")
        )
    assert caught.value.code == "NoPermission"

    # CreatePolicy is allowed on the deny policy's name only, so the identity
    # cannot write itself a policy that grants more.
    wide = {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    with pytest.raises(CloudError) as escalation:
        ram.create_policy.fn(limited, "ir-admin", wide)
    assert escalation.value.is_permission_error
    assert ram.create_policy.fn(limited, "akresponder-deny-high-risk", wide)
