"""Fault injection and rate limits, seen through the real SDKs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from alibabacloud_actiontrail20200706 import models as trail_models
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi.exceptions import (
    ClientException,
    ServerException,
    ThrottlingException,
)
from aliyun.log import LogException
from darabonba.exceptions import UnretryableException

from emulator.faults import FaultRuleError, parse_rules
from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import (
    APP_BACKEND,
    RESPONDER,
    SLS_PROJECT,
    TRAIL_LOGSTORE,
    actiontrail_client,
    log_client,
    ram_client,
)


def _list_users(emu: RunningEmulator) -> int:
    client = ram_client(emu, *RESPONDER)
    return len(client.list_users(ram_models.ListUsersRequest()).body.users.user)


def _disable_app_backend(emu: RunningEmulator) -> None:
    ram_client(emu, *RESPONDER).update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_name="app-backend",
            user_access_key_id=APP_BACKEND[0],
            status="Inactive",
        )
    )


def test_throttle_with_retry_after(emulator: RunningEmulator) -> None:
    emulator.control(
        "POST",
        "faults",
        {
            "service": "ram",
            "action": "ListUsers",
            "kind": "throttle",
            "count": 1,
            "retry_after_ms": 1500,
        },
    )
    with pytest.raises(ThrottlingException) as caught:
        _list_users(emulator)
    assert caught.value.code == "Throttling.User"
    assert caught.value.retry_after == 1500
    assert _list_users(emulator) == 4


def test_throttle_without_retry_after(emulator: RunningEmulator) -> None:
    emulator.control(
        "POST", "faults", {"service": "ram", "kind": "throttle", "count": 1}
    )
    with pytest.raises(ClientException) as caught:
        _list_users(emulator)
    assert caught.value.code == "Throttling.User"
    assert caught.value.status_code == 400


def test_error_fault_is_server_exception(emulator: RunningEmulator) -> None:
    emulator.control("POST", "faults", {"service": "*", "kind": "error", "count": 1})
    with pytest.raises(ServerException) as caught:
        _list_users(emulator)
    assert caught.value.code == "ServiceUnavailable"
    assert caught.value.status_code == 503


def test_error_fault_custom_code(emulator: RunningEmulator) -> None:
    emulator.control(
        "POST",
        "faults",
        {
            "service": "ram",
            "kind": "error",
            "count": 1,
            "status": 500,
            "code": "InternalError",
            "message": "Injected failure.",
        },
    )
    with pytest.raises(ServerException) as caught:
        _list_users(emulator)
    assert caught.value.code == "InternalError"
    assert caught.value.status_code == 500
    assert "Injected failure." in caught.value.message


def test_drop_fault_closes_connection(emulator: RunningEmulator) -> None:
    emulator.control("POST", "faults", {"service": "ram", "kind": "drop", "count": 1})
    with pytest.raises(UnretryableException):
        _list_users(emulator)
    assert _list_users(emulator) == 4


def test_latency_fault_delays_call(emulator: RunningEmulator) -> None:
    emulator.control(
        "POST",
        "faults",
        {"service": "ram", "kind": "latency", "latency_ms": 300, "count": 1},
    )
    started = time.monotonic()
    assert _list_users(emulator) == 4
    assert time.monotonic() - started >= 0.25


def test_fault_count_limits_calls(emulator: RunningEmulator) -> None:
    emulator.control("POST", "faults", {"service": "ram", "kind": "error", "count": 2})
    for _ in range(2):
        with pytest.raises(ServerException):
            _list_users(emulator)
    assert _list_users(emulator) == 4
    rules = emulator.control("GET", "faults")["rules"]
    assert rules[0]["fired"] == 2


def test_fault_rate_is_seeded() -> None:
    outcomes = []
    for _ in range(2):
        [rule] = parse_rules({"kind": "error", "rate": 0.5, "seed": 7})
        outcomes.append([rule.fire() for _ in range(50)])
    assert outcomes[0] == outcomes[1]
    assert 10 < sum(outcomes[0]) < 40


def test_fault_action_filter(emulator: RunningEmulator) -> None:
    emulator.control(
        "POST", "faults", {"service": "ram", "action": "GetUser", "kind": "error"}
    )
    assert _list_users(emulator) == 4
    with pytest.raises(ServerException):
        ram_client(emulator, *RESPONDER).get_user(
            ram_models.GetUserRequest(user_name="alice")
        )


def test_faulted_call_changes_nothing(emulator: RunningEmulator) -> None:
    emulator.control(
        "POST",
        "faults",
        {"service": "ram", "action": "UpdateAccessKey", "kind": "throttle"},
    )
    with pytest.raises(ClientException):
        _disable_app_backend(emulator)
    assert emulator.cloud.access_keys[APP_BACKEND[0]].status == "Active"
    assert emulator.cloud.events[-1]["errorCode"] == "Throttling.User"
    emulator.control("DELETE", "faults")
    _disable_app_backend(emulator)
    assert emulator.cloud.access_keys[APP_BACKEND[0]].status == "Inactive"


def test_faults_from_start(basic_scenario: Path) -> None:
    faults = [{"service": "ram", "kind": "throttle", "count": 1}]
    with start_emulator(basic_scenario, faults=faults) as emu:
        with pytest.raises(ClientException):
            _list_users(emu)
        assert _list_users(emu) == 4


def test_sls_throttle_fault(emulator: RunningEmulator) -> None:
    emulator.control(
        "POST", "faults", {"service": "sls", "kind": "throttle", "count": 1}
    )
    client = log_client(emulator, *RESPONDER)
    with pytest.raises(LogException) as caught:
        client.get_log(SLS_PROJECT, TRAIL_LOGSTORE, 1763000000, 1764000000, size=5)
    assert caught.value.get_error_code() == "ReadQuotaExceed"
    assert caught.value.get_resp_status() == 403


def test_sls_error_fault_custom_status(emulator: RunningEmulator) -> None:
    emulator.control(
        "POST",
        "faults",
        {
            "service": "sls",
            "action": "GetLogs",
            "kind": "error",
            "status": 400,
            "code": "InvalidQueryString",
            "count": 1,
        },
    )
    client = log_client(emulator, *RESPONDER)
    with pytest.raises(LogException) as caught:
        client.get_log(SLS_PROJECT, TRAIL_LOGSTORE, 1763000000, 1764000000, size=5)
    assert caught.value.get_error_code() == "InvalidQueryString"
    assert caught.value.get_resp_status() == 400


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ({"kind": "error", "servce": "ram"}, "unknown field fault.servce"),
        ({"kind": "explode"}, "fault.kind"),
        ({"kind": "error", "service": "oss"}, "fault.service"),
        ({"kind": "error", "rate": 1.5}, "fault.rate"),
        ({"kind": "error", "count": 0}, "fault.count"),
        ({"kind": "error", "count": 1, "rate": 0.5}, "both count and rate"),
        ({"kind": "latency"}, "latency_ms"),
        ({"kind": "error", "status": 200}, "fault.status"),
    ],
)
def test_fault_rule_validation(rule: dict, fragment: str) -> None:
    with pytest.raises(FaultRuleError) as caught:
        parse_rules(rule)
    assert fragment in str(caught.value).replace("faults[0]", "fault")


def test_fault_post_validation(emulator: RunningEmulator) -> None:
    with pytest.raises(RuntimeError) as caught:
        emulator.control("POST", "faults", {"kind": "explode"})
    assert "HTTP 400" in str(caught.value)
    assert "kind" in str(caught.value)
    assert emulator.control("GET", "faults")["rules"] == []


# --- rate limits ----------------------------------------------------------------------


def test_ram_rate_limit_throttles(basic_scenario: Path) -> None:
    with start_emulator(basic_scenario, ram_rate_limit=2) as emu:
        codes = []
        for _ in range(4):
            try:
                _list_users(emu)
                codes.append("")
            except ClientException as error:
                codes.append(error.code)
        assert codes[:2] == ["", ""]
        assert "Throttling.User" in codes[2:]


def test_ram_rate_limit_set_at_run_time(emulator: RunningEmulator) -> None:
    for _ in range(5):
        _list_users(emulator)
    emulator.control("POST", "config", {"ram_rate_limit": 1})
    _list_users(emulator)
    with pytest.raises(ClientException) as caught:
        _list_users(emulator)
    assert caught.value.code == "Throttling.User"
    emulator.control("POST", "config", {"ram_rate_limit": None})
    _list_users(emulator)


def test_lookup_events_limited_to_two_per_second(emulator: RunningEmulator) -> None:
    client = actiontrail_client(emulator, *RESPONDER)
    codes = []
    for _ in range(4):
        try:
            client.lookup_events(trail_models.LookupEventsRequest())
            codes.append("")
        except ClientException as error:
            codes.append(error.code)
    assert codes[:2] == ["", ""]
    assert "Throttling.User" in codes[2:]


def test_lookup_events_limit_can_be_lifted(basic_scenario: Path) -> None:
    config = {"lookup_events_rate_limit": None}
    with start_emulator(basic_scenario, config=config) as emu:
        client = actiontrail_client(emu, *RESPONDER)
        for _ in range(5):
            client.lookup_events(trail_models.LookupEventsRequest())
