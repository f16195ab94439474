"""The control plane under ``/__emu/``: health, clock, state, requests, config."""

from __future__ import annotations

import json

import pytest
from alibabacloud_ram20150501 import models as ram_models

from emulator.testing import RunningEmulator
from tests.helpers import (
    APP_BACKEND,
    CI_DEPLOY_A,
    CI_DEPLOY_B,
    RESPONDER,
    ROOT,
    ram_client,
)

SECRETS = [RESPONDER[1], APP_BACKEND[1], CI_DEPLOY_A[1], CI_DEPLOY_B[1], ROOT[1]]


def test_control_health(emulator: RunningEmulator) -> None:
    assert emulator.control("GET", "health") == {
        "status": "ok",
        "account_id": "1234567890123456",
    }


def test_control_clock_advance(emulator: RunningEmulator) -> None:
    before = emulator.control("GET", "clock")
    assert before["now"].startswith("2026-11-20T08:0")
    after = emulator.control("POST", "clock", {"advance_seconds": 86400})
    assert after["now"].startswith("2026-11-21T08:0")
    assert emulator.cloud.now().day == 21


@pytest.mark.parametrize(
    "body", [{"advance_seconds": -5}, {"advance_seconds": "soon"}, {"seconds": 5}]
)
def test_control_clock_rejects_bad_values(
    emulator: RunningEmulator, body: dict
) -> None:
    with pytest.raises(RuntimeError) as caught:
        emulator.control("POST", "clock", body)
    assert "HTTP 400" in str(caught.value)
    assert "advance_seconds" in str(caught.value)


def test_control_frozen_clock(basic_scenario) -> None:
    from emulator.testing import start_emulator

    with start_emulator(basic_scenario, freeze_clock=True) as emu:
        assert emu.control("GET", "clock") == {
            "now": "2026-11-20T08:00:00Z",
            "frozen": True,
        }
        emu.control("POST", "clock", {"advance_seconds": 90})
        assert emu.control("GET", "clock")["now"] == "2026-11-20T08:01:30Z"


def test_control_state_has_no_secrets(emulator: RunningEmulator) -> None:
    state = emulator.control("GET", "state")
    text = json.dumps(state)
    for secret in SECRETS:
        assert secret not in text
    keys = {key["AccessKeyId"]: key for key in state["access_keys"]}
    assert keys[APP_BACKEND[0]]["Status"] == "Active"
    assert keys[APP_BACKEND[0]]["UserName"] == "app-backend"
    assert keys[ROOT[0]]["OwnerType"] == "root-account"
    users = {user["UserName"]: user for user in state["users"]}
    assert users["alice"]["MFADevice"] == {
        "SerialNumber": "acs:ram::1234567890123456:mfa/alice"
    }
    assert users["app-backend"]["LoginProfile"]["MFABindRequired"] is False
    assert users["app-backend"]["Groups"] == ["developers"]
    groups = {group["GroupName"]: group for group in state["groups"]}
    assert set(groups["developers"]["Members"]) == {"app-backend", "alice"}
    policies = {(p["PolicyType"], p["PolicyName"]): p for p in state["policies"]}
    assert ("System", "AdministratorAccess") in policies
    assert (
        "oss:GetObject"
        in policies[("Custom", "app-backend-oss")]["Versions"][0]["PolicyDocument"]
    )
    assert state["trails"][0]["Name"] == "main"
    assert state["roles"][0]["RoleName"] == "ops-admin"


def test_control_state_hides_created_secret(emulator: RunningEmulator) -> None:
    created = ram_client(emulator, *RESPONDER).create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="alice")
    )
    text = json.dumps(emulator.control("GET", "state"))
    assert created.body.access_key.access_key_id in text
    assert created.body.access_key.access_key_secret not in text


def test_control_requests_log(emulator: RunningEmulator) -> None:
    client = ram_client(emulator, *RESPONDER)
    client.list_users(ram_models.ListUsersRequest())
    client.get_user(ram_models.GetUserRequest(user_name="alice"))
    entries = emulator.control("GET", "requests")["requests"]
    assert [entry["action"] for entry in entries] == ["ListUsers", "GetUser"]
    assert entries[0]["service"] == "ram"
    assert entries[0]["access_key_id"] == RESPONDER[0]
    assert entries[0]["status"] == 200
    assert entries[0]["error_code"] == ""
    since = emulator.control("GET", f"requests?since={entries[0]['seq']}")["requests"]
    assert [entry["action"] for entry in since] == ["GetUser"]
    emulator.control("DELETE", "requests")
    assert emulator.control("GET", "requests")["requests"] == []


def test_control_requests_log_errors(emulator: RunningEmulator) -> None:
    client = ram_client(emulator, *APP_BACKEND)
    with pytest.raises(Exception):  # noqa: B017 - the SDK's class is not under test
        client.delete_user(ram_models.DeleteUserRequest(user_name="alice"))
    [entry] = emulator.control("GET", "requests")["requests"]
    assert entry["status"] == 403
    assert entry["error_code"] == "NoPermission"


def test_control_config_round_trip(emulator: RunningEmulator) -> None:
    config = emulator.control(
        "POST", "config", {"ram_rate_limit": 5, "check_nonce": False}
    )
    assert config["ram_rate_limit"] == 5.0
    assert config["check_nonce"] is False
    assert config["check_clock_skew"] is True
    assert config["lookup_events_rate_limit"] == 2.0
    assert emulator.control("GET", "config") == config


def test_control_config_stores_service_settings(emulator: RunningEmulator) -> None:
    emulator.control("POST", "config", {"sls_incomplete_polls": 2})
    assert emulator.cloud.settings["sls_incomplete_polls"] == 2


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"ram_rate": 5}, "unknown config setting 'ram_rate'"),
        ({"check_clock_skew": "no"}, "check_clock_skew must be true or false"),
        ({"ram_rate_limit": -1}, "ram_rate_limit"),
        ({"sls_incomplete_polls": 1.5}, "sls_incomplete_polls"),
    ],
)
def test_control_config_validation(
    emulator: RunningEmulator, body: dict, fragment: str
) -> None:
    before = emulator.control("GET", "config")
    with pytest.raises(RuntimeError) as caught:
        emulator.control("POST", "config", body)
    assert "HTTP 400" in str(caught.value)
    assert fragment in str(caught.value)
    assert emulator.control("GET", "config") == before


def test_control_unknown_endpoint(emulator: RunningEmulator) -> None:
    with pytest.raises(RuntimeError) as caught:
        emulator.control("GET", "nothing")
    assert "HTTP 404" in str(caught.value)
    assert "health" in str(caught.value)
