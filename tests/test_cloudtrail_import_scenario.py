"""Tests that pin the shipped scenario emulator/scenarios/invictus-attack.json.

The scenario is converter output from the full invictus-ir dataset, which the tests do
not read. These checks pin what the conversion produced, so that a change to the
converter or the file shows up here. They also check that the emulator loads it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from emulator import cloudtrail_tables as tables
from emulator.scenario import load_scenario

SCENARIOS = Path(__file__).parent.parent / "emulator" / "scenarios"
SCENARIO = SCENARIOS / "invictus-attack.json"
EVENTS = SCENARIOS / "invictus-attack.events.jsonl"
LEAKED_KEY = "LTAI5tbuZIjVAVKRpqJhK7px"
ATTACK_MARKER = "stratus-red-team_"
# Source calls whose Alibaba name depends on the request, not only on the table.
REQUEST_DEPENDENT = {
    ("ec2", "DescribeInstanceAttribute"): {"Ecs:DescribeUserData"},
    ("ssm", "GetParameter"): {"Oos:GetSecretParameter"},
    ("ssm", "GetParameters"): {"Oos:GetSecretParameters"},
    ("ssm", "PutParameter"): {"Oos:CreateSecretParameter"},
}


@pytest.fixture(scope="module")
def scenario() -> dict[str, Any]:
    return json.loads(SCENARIO.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    with EVENTS.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


def test_shipped_scenario_loads() -> None:
    cloud = load_scenario(SCENARIO)
    assert cloud.account_id == "1000123837392027"
    assert len(cloud.events) == 2380
    assert sorted(cloud.users) == ["benjamin", "bert-jan"]
    assert len(cloud.access_keys) == 3
    assert len(cloud.bills) == 49
    trail = cloud.trails["main"]
    assert trail.status == "Enable"
    rows = cloud.sls_logs[f"{trail.sls_project}/{trail.logstore}"]
    assert len(rows) == 2380


def test_shipped_scenario_users_and_keys(scenario: dict[str, Any]) -> None:
    users = {
        user["UserName"]: (
            [key["AccessKeyId"] for key in user["AccessKeys"]],
            [policy["PolicyName"] for policy in user["Policies"]],
        )
        for user in scenario["users"]
    }
    assert users == {
        "benjamin": (
            ["LTAI5t0QkiR7lshSFIUVWcUG", "LTAI5t9NmmpnrCTHgBVcFqu5"],
            ["ReadOnlyAccess"],
        ),
        "bert-jan": ([LEAKED_KEY], ["AdministratorAccess"]),
    }
    assert scenario["root_access_keys"] == []


def test_shipped_scenario_leaked_key(events: list[dict[str, Any]]) -> None:
    marked = [event for event in events if ATTACK_MARKER in event["userAgent"]]
    long_term = Counter(
        event["userIdentity"]["accessKeyId"]
        for event in marked
        if event["userIdentity"].get("accessKeyId", "").startswith("LTAI")
    )
    assert long_term == {LEAKED_KEY: 1019}
    assert len(marked) == 1038


def test_shipped_source_names_leaked_key() -> None:
    source = (SCENARIOS / "SOURCE.md").read_text(encoding="utf-8")
    assert f"The leaked key: `{LEAKED_KEY}` (user `bert-jan`)" in source
    assert (SCENARIOS / "LICENSE-invictus").read_text().startswith("MIT License")


def test_shipped_scenario_service_counts(events: list[dict[str, Any]]) -> None:
    assert Counter(event["serviceName"] for event in events) == {
        "Vpc": 534,
        "Oos": 436,
        "Kms": 394,
        "Ecs": 289,
        "Ram": 195,
        "Oss": 193,
        "Ims": 167,
        "Sts": 64,
        "Rds": 55,
        "Actiontrail": 27,
        "Fc": 17,
        "ResourceManager": 4,
        "AasSub": 2,
        "Slb": 2,
        "BssOpenApi": 1,
    }


def test_shipped_scenario_error_counts(events: list[dict[str, Any]]) -> None:
    counts = Counter(event["errorCode"] for event in events)
    assert sum(counts.values()) - counts[""] == 236
    assert {code: counts[code] for code in ("", "Throttling.User", "NoPermission")} == {
        "": 2144,
        "Throttling.User": 102,
        "NoPermission": 15,
    }
    assert counts["Forbidden.RAM"] == 15
    assert counts["TrailNotFoundException"] == 7
    assert counts["EntityNotExist.User.LoginProfile"] == 3
    assert counts["QuotaExceed.ElasticQuota"] == 2


def test_shipped_scenario_event_name_counts(events: list[dict[str, Any]]) -> None:
    counts = Counter(event["eventName"] for event in events)
    assert len(counts) == 162
    assert dict(counts.most_common(10)) == {
        "Decrypt": 178,
        "DescribeRouteTableList": 163,
        "GetUser": 130,
        "ListParameters": 122,
        "GetSecretParameter": 82,
        "ListTagResources": 82,
        "DeleteParameter": 78,
        "ListPoliciesForRole": 72,
        "GetSecretValue": 60,
        "DescribeNatGateways": 54,
    }
    attack_calls = {
        "CreateUser": 4,
        "DeleteUser": 4,
        "CreateAccessKey": 2,
        "DeleteAccessKey": 2,
        "CreateLoginProfile": 2,
        "AttachPolicyToUser": 1,
        "AttachPolicyToRole": 11,
        "ConsoleSignin": 2,
        "StopLogging": 3,
        "DeleteTrail": 3,
        "UpdateTrail": 2,
        "DeleteFlowLog": 1,
        "RemoveCloudAccount": 1,
        "ModifySnapshotAttribute": 2,
        "ModifyImageSharePermission": 2,
        "InvokeCommand": 2,
        "RunInstances": 8,
        "GetCallerIdentity": 15,
        "UpdateRole": 2,
    }
    assert {name: counts[name] for name in attack_calls} == attack_calls


def test_shipped_scenario_identity_counts(events: list[dict[str, Any]]) -> None:
    counts = Counter(event["userIdentity"]["type"] for event in events)
    assert counts == {"ram-user": 2320, "system": 34, "assumed-role": 26}
    event_types = Counter(event["eventType"] for event in events)
    assert event_types == {"ApiCall": 2282, "ConsoleOperation": 96, "ConsoleSignin": 2}


def test_shipped_scenario_mapping_entries(events: list[dict[str, Any]]) -> None:
    used: set[tuple[str, str]] = set()
    for event in events:
        extra = event["additionalEventData"]
        service = extra["sourceEventSource"].split(".", 1)[0]
        name = re.sub(r"\d{8}(v\d+)?$", "", extra["sourceEventName"])
        target = f"{event['serviceName']}:{event['eventName']}"
        allowed = set(tables.EVENT_MAP[service][name])
        allowed |= REQUEST_DEPENDENT.get((service, name), set())
        assert target in allowed, (service, name, target)
        used.add((service, name))
    assert len(used) == 164
    dropped_only = {
        (service, name)
        for service, names in tables.EVENT_MAP.items()
        for name in names
        if (service, name) not in used
    }
    # The dataset does not use every entry. The unit tests cover several of the rest.
    assert ("iam", "AttachUserPolicy") not in dropped_only
    assert ("iam", "PutUserPolicy") in dropped_only


def test_shipped_scenario_no_secrets(events: list[dict[str, Any]]) -> None:
    text = EVENTS.read_text(encoding="utf-8")
    assert not re.search(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b", text)
    assert "IQoJ" not in text  # the prefix of the AWS session tokens in the source
    assert '"sessionToken"' not in text
    assert '"SessionToken"' not in text
    for event in events:
        key_id = event["userIdentity"].get("accessKeyId")
        if key_id:
            assert re.fullmatch(r"LTAI5t[0-9A-Za-z]{18}|STS\.[0-9A-Za-z]{24}", key_id)


def test_shipped_scenario_bills_baseline(scenario: dict[str, Any]) -> None:
    totals: Counter[str] = Counter()
    for bill in scenario["bills"]:
        totals[bill["BillingCycle"]] += bill["PretaxAmount"]
    assert sorted(totals) == [f"2023-0{month}" for month in range(1, 8)]
    full_months = [totals[f"2023-0{month}"] for month in range(1, 7)]
    assert all(1850 < total < 2000 for total in full_months)
    assert totals["2023-07"] < 700  # billed up to the clock, 2023-07-10
    assert {bill["Region"] for bill in scenario["bills"]} == {"us-east-1"}


def test_shipped_scenario_clock_after_events(
    scenario: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    # The last record (12:37:50) has no Alibaba equivalent, but the clock still starts
    # one minute after it.
    assert max(event["eventTime"] for event in events) == "2023-07-10T12:32:01Z"
    assert scenario["now"] == "2023-07-10T12:38:50Z"
