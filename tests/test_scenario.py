"""Scenario loading: the base scenario, validation errors and large histories."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from emulator.scenario import ScenarioError, load_scenario
from emulator.state import iso


@pytest.fixture
def basic_data(basic_scenario: Path) -> dict[str, Any]:
    return json.loads(basic_scenario.read_text())


def _error(data: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(data, **kwargs)
    return str(caught.value)


def test_scenario_basic_loads(basic_scenario: Path) -> None:
    cloud = load_scenario(basic_scenario)
    assert cloud.account_id == "1234567890123456"
    assert iso(cloud.now()).startswith("2026-11-20T08:0")
    assert set(cloud.users) == {"ir-responder", "app-backend", "ci-deploy", "alice"}
    assert len(cloud.access_keys) == 5
    assert cloud.access_keys["LTAI5tROOTACCOUNT0000001"].owner_type == "root-account"
    assert cloud.users["ci-deploy"].access_key_ids == [
        "LTAI5tCIDEPLOY000000001A",
        "LTAI5tCIDEPLOY000000002B",
    ]
    assert cloud.users["alice"].mfa_serial == "acs:ram::1234567890123456:mfa/alice"
    assert cloud.users["app-backend"].login_profile is not None
    assert (
        cloud.groups["developers"].policies[0].policy_name == "AliyunECSReadOnlyAccess"
    )
    assert cloud.roles["ops-admin"].arn == "acs:ram::1234567890123456:role/ops-admin"
    assert ("System", "AliyunSTSAssumeRoleAccess") in cloud.policies
    assert len(cloud.events) == 54
    assert len(cloud.bills) == 2
    trail = cloud.trails["main"]
    assert trail.sls_project == "audit-1234567890123456"
    assert trail.sls_project_arn == (
        "acs:log:cn-hangzhou:1234567890123456:project/audit-1234567890123456"
    )
    rows = cloud.sls_logs["audit-1234567890123456/actiontrail_main"]
    assert len(rows) == 54
    assert json.loads(rows[0]["event"]) == cloud.events[0]


def test_scenario_events_sorted_by_time(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["events"].reverse()
    cloud = load_scenario(data)
    times = [event["eventTime"] for event in cloud.events]
    assert times == sorted(times)


def test_scenario_last_used_from_events(basic_scenario: Path) -> None:
    cloud = load_scenario(basic_scenario)
    key = cloud.access_keys["LTAI5tAPPBACKEND00000001"]
    latest = max(
        event["eventTime"]
        for event in cloud.events
        if event["userIdentity"].get("accessKeyId") == key.access_key_id
    )
    assert key.last_used is not None
    assert iso(key.last_used) == latest


def test_scenario_defaults_for_optional_fields() -> None:
    cloud = load_scenario(
        {
            "account_id": "1234567890123456",
            "now": "2026-01-01T00:00:00Z",
            "users": [{"UserName": "bob"}],
        }
    )
    bob = cloud.users["bob"]
    assert bob.user_id
    assert bob.display_name == "bob"
    assert iso(bob.create_date) == "2026-01-01T00:00:00Z"
    assert cloud.region == "cn-hangzhou"
    assert cloud.events == []


def test_scenario_unknown_field_named(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["users"][2]["AccesKeys"] = data["users"][2].pop("AccessKeys")
    message = _error(data)
    assert "users[2].AccesKeys" in message
    assert "AccessKeys" in message.split("allowed fields are:")[1]


def test_scenario_unknown_top_level_field(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["userz"] = []
    assert "$.userz" in _error(data)


def test_scenario_duplicate_key_rejected(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["root_access_keys"][0]["AccessKeyId"] = "LTAI5tAPPBACKEND00000001"
    message = _error(data)
    assert "duplicate AccessKeyId 'LTAI5tAPPBACKEND00000001'" in message
    assert "root_access_keys[0].AccessKeyId" in message
    assert "users[1].AccessKeys[0]" in message


def test_scenario_third_key_rejected(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    keys = data["users"][2]["AccessKeys"]
    keys.append(dict(keys[0], AccessKeyId="LTAI5tCIDEPLOY000000003C"))
    message = _error(data)
    assert "users[2].AccessKeys has 3 keys" in message
    assert "at most 2" in message


def test_scenario_unknown_group_rejected(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["users"][1]["Groups"] = ["developerz"]
    message = _error(data)
    assert "users[1].Groups[0]" in message
    assert "'developerz'" in message


def test_scenario_unknown_policy_rejected(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["groups"][0]["Policies"][0]["PolicyName"] = "AliyunNoSuchAccess"
    message = _error(data)
    assert "groups[0].Policies[0]" in message
    assert "AliyunNoSuchAccess" in message


def test_scenario_bad_date_rejected(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["users"][0]["AccessKeys"][0]["CreateDate"] = "yesterday"
    message = _error(data)
    assert "users[0].AccessKeys[0].CreateDate" in message
    assert "'yesterday'" in message


def test_scenario_bad_event_time_rejected(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["events"][3]["eventTime"] = "2026-13-45"
    assert "events[3].eventTime" in _error(data)


def test_scenario_bad_status_rejected(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["users"][1]["AccessKeys"][0]["Status"] = "Disabled"
    message = _error(data)
    assert "users[1].AccessKeys[0].Status" in message
    assert "Active or Inactive" in message


def test_scenario_bad_billing_cycle_rejected(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["bills"][0]["BillingCycle"] = "2026-13"
    assert "bills[0].BillingCycle" in _error(data)


def test_scenario_bad_account_id_rejected(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    data["account_id"] = "12345"
    assert "$.account_id" in _error(data)


def test_scenario_invalid_json_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"account_id": ')
    message = _error(path)  # type: ignore[arg-type]
    assert str(path) in message
    assert "not valid JSON" in message


def test_scenario_events_may_name_deleted_users(basic_data: dict[str, Any]) -> None:
    data = copy.deepcopy(basic_data)
    event = copy.deepcopy(data["events"][0])
    event["userIdentity"]["userName"] = "long-gone"
    event["userIdentity"]["accessKeyId"] = "LTAI5tLONGGONE000000001"
    data["events"].append(event)
    cloud = load_scenario(data)
    assert "long-gone" not in cloud.users
    assert len(cloud.events) == 55


def test_scenario_events_file_relative(
    tmp_path: Path, basic_data: dict[str, Any]
) -> None:
    data = copy.deepcopy(basic_data)
    events = data.pop("events")
    lines = "\n".join(json.dumps(event) for event in events) + "\n"
    (tmp_path / "history.jsonl").write_text(lines)
    data["events_file"] = "history.jsonl"
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data))
    cloud = load_scenario(path)
    assert len(cloud.events) == 54
    rows = cloud.sls_logs["audit-1234567890123456/actiontrail_main"]
    assert len(rows) == 54


def test_scenario_events_file_missing(
    tmp_path: Path, basic_data: dict[str, Any]
) -> None:
    data = copy.deepcopy(basic_data)
    data["events_file"] = "missing.jsonl"
    message = _error(data, base_dir=tmp_path)
    assert "missing.jsonl" in message
    assert "relative to the scenario" in message


def test_scenario_loads_100k_events_fast(
    tmp_path: Path, basic_data: dict[str, Any]
) -> None:
    template = basic_data["events"][0]
    start = 1_790_000_000
    with (tmp_path / "events.jsonl").open("w") as handle:
        for index in range(100_000):
            event = dict(template)
            event["eventId"] = f"EVENT-{index:06d}"
            moment = time.gmtime(start + index * 30)
            event["eventTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", moment)
            handle.write(json.dumps(event) + "\n")
    data = dict(basic_data, events=[], events_file="events.jsonl")
    # CPU time, so that other processes on a busy machine do not fail the test.
    started = time.process_time()
    cloud = load_scenario(data, base_dir=tmp_path)
    elapsed = time.process_time() - started
    assert len(cloud.events) == 100_000
    assert elapsed < 5.0
