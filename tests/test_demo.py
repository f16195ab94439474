"""The demo's parts: the scenario overlay, the alert it sends, the emulator child and
the summary. The whole demo runs in tests/test_demo_end_to_end.py.
"""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alibabacloud_ram20150501 import models as ram_models
from Tea.exceptions import TeaException

from akresponder.alerts import parse_alert
from akresponder.demo import (
    ATTACKER_IP,
    DemoError,
    build_alert,
    emulator_requests,
    start_emulator,
)
from akresponder.demo_scenario import (
    LEAKED_KEY_ID,
    LEAKED_USER,
    RESPONDER_POLICY,
    RESPONDER_USER,
    SHIPPED_SCENARIO,
    DemoAccount,
    add_months,
    build_demo_scenario,
    responder_policy_document,
    shift_bills,
    shift_timestamps,
)
from akresponder.demo_summary import find_report, summary_lines
from emulator.testing import start_emulator as start_emulator_thread
from tests.helpers import ram_client, sts_client

NOW = datetime(2026, 12, 4, 17, 0, 0, tzinfo=UTC)
SCENARIO_NOW = datetime(2023, 7, 10, 12, 38, 50, tzinfo=UTC)


@pytest.fixture(scope="module")
def overlay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoAccount]:
    """The overlay of the shipped scenario, moved to ``NOW``.

    The folder is removed afterwards because it contains AccessKeySecrets, as the
    demo removes its own overlay.
    """
    folder = tmp_path_factory.mktemp("overlay")
    yield build_demo_scenario(folder, now=NOW)
    shutil.rmtree(folder, ignore_errors=True)


def test_shift_timestamps_keeps_each_format() -> None:
    delta = timedelta(days=2, hours=1)
    record = {
        "eventTime": "2023-07-10T12:32:01Z",
        "responseElements": {
            "NatGateway": {"CreateTime": "2023-07-10T12:03:18.000Z"},
            "LastModified": "2023-07-10T12:28:24.000+0000",
        },
        "list": ["2023-07-10T23:59:59Z", "not a time", 7],
        "requestParameters": {"Name": "backup-2023-07-10T12:00:00Z-copy"},
    }

    moved = shift_timestamps(record, delta)

    assert moved["eventTime"] == "2023-07-12T13:32:01Z"
    assert moved["responseElements"]["NatGateway"]["CreateTime"] == (
        "2023-07-12T13:03:18.000Z"
    )
    assert moved["responseElements"]["LastModified"] == "2023-07-12T13:28:24.000+0000"
    assert moved["list"] == ["2023-07-13T00:59:59Z", "not a time", 7]
    assert moved["requestParameters"]["Name"] == "backup-2023-07-10T12:00:00Z-copy"
    assert record["eventTime"] == "2023-07-10T12:32:01Z"


def test_add_months_clamps_the_day() -> None:
    assert add_months(datetime(2023, 1, 31), 1) == datetime(2023, 2, 28)
    assert add_months(datetime(2023, 7, 1, 8), 41) == datetime(2026, 12, 1, 8)
    assert add_months(datetime(2023, 12, 15), -12) == datetime(2022, 12, 15)


def test_shift_bills_keeps_daily_spend() -> None:
    bills = [
        {
            "BillingCycle": "2023-06",
            "PretaxAmount": 300.0,
            "PaymentAmount": 300.0,
            "UsageStartTime": "2023-06-01 00:00:00",
            "UsageEndTime": "2023-07-01 00:00:00",
        },
        {
            "BillingCycle": "2023-07",
            "PretaxAmount": 100.0,
            "PaymentAmount": 100.0,
            "ProductCode": "ecs",
            "UsageStartTime": "2023-07-01 00:00:00",
            "UsageEndTime": "2023-07-10 12:38:50",
        },
    ]

    moved = shift_bills(bills, SCENARIO_NOW, NOW)

    full, partial = moved
    assert full["BillingCycle"] == "2026-11"
    assert full["UsageStartTime"] == "2026-11-01 00:00:00"
    assert full["UsageEndTime"] == "2026-12-01 00:00:00"
    assert full["PretaxAmount"] == 300.0
    assert partial["BillingCycle"] == "2026-12"
    assert partial["UsageStartTime"] == "2026-12-01 00:00:00"
    assert partial["UsageEndTime"] == "2026-12-04 17:00:00"
    assert partial["ProductCode"] == "ecs"
    old_days = (SCENARIO_NOW - datetime(2023, 7, 1, tzinfo=UTC)).total_seconds()
    new_days = (NOW - datetime(2026, 12, 1, tzinfo=UTC)).total_seconds()
    assert partial["PretaxAmount"] == round(100.0 * new_days / old_days, 2)
    assert partial["PaymentAmount"] == partial["PretaxAmount"]
    assert bills[1]["PretaxAmount"] == 100.0


def test_build_demo_scenario_writes_private_files(overlay: DemoAccount) -> None:
    folder = overlay.scenario_path.parent
    names = sorted(path.name for path in folder.iterdir())

    assert names == ["events.jsonl", "scenario.json"]
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert overlay.now == NOW
    assert overlay.shift == NOW - SCENARIO_NOW
    assert overlay.event_count == 2380
    assert overlay.region == "us-east-1"
    assert overlay.responder_key_id.startswith("LTAI5t")
    assert len(overlay.responder_key_id) == 24
    assert len(overlay.responder_secret) == 30
    assert overlay.responder_secret not in repr(overlay)


def test_build_demo_scenario_moves_the_attack_to_now(overlay: DemoAccount) -> None:
    data = json.loads(overlay.scenario_path.read_text())
    lines = (overlay.scenario_path.parent / "events.jsonl").read_text().splitlines()
    times = sorted(json.loads(line)["eventTime"] for line in lines)

    shipped_lines = SHIPPED_SCENARIO.with_suffix(".events.jsonl").read_text()
    shipped_last = max(
        json.loads(line)["eventTime"] for line in shipped_lines.split("\n") if line
    )
    last = datetime.fromisoformat(shipped_last.replace("Z", "+00:00")) + overlay.shift
    assert data["now"] == "2026-12-04T17:00:00Z"
    assert times[-1] == last.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert overlay.last_event_at == last
    assert {bill["BillingCycle"] for bill in data["bills"]} == {
        f"2026-{month:02d}" for month in range(6, 13)
    }
    shipped = json.loads(SHIPPED_SCENARIO.read_text())
    assert [user["UserName"] for user in data["users"]] == [
        *(user["UserName"] for user in shipped["users"]),
        RESPONDER_USER,
    ]


def test_demo_scenario_serves_least_privilege_responder(overlay: DemoAccount) -> None:
    with start_emulator_thread(overlay.scenario_path) as running:
        cloud = running.cloud
        responder = cloud.users[RESPONDER_USER]
        identity = sts_client(
            running, overlay.responder_key_id, overlay.responder_secret
        ).get_caller_identity()
        ram = ram_client(running, overlay.responder_key_id, overlay.responder_secret)
        users = ram.list_users(ram_models.ListUsersRequest(max_items=100))
        with pytest.raises(TeaException) as denied:
            ram.create_user(ram_models.CreateUserRequest(user_name="not-allowed"))
        emulated_now = cloud.now()
        leaked_owner = cloud.access_keys[LEAKED_KEY_ID].user_name

    assert [item.policy_name for item in responder.policies] == [RESPONDER_POLICY]
    policy = cloud.policies[("Custom", RESPONDER_POLICY)]
    assert json.loads(policy.default_document()) == responder_policy_document()
    assert identity.body.arn.endswith(f":user/{RESPONDER_USER}")
    names = {user.user_name for user in users.body.users.user}
    assert {LEAKED_USER, "benjamin", RESPONDER_USER} <= names
    assert "ram:CreateUser" in str(denied.value.message)
    # The emulated clock starts at the scenario's "now" and runs with the host's.
    assert NOW <= emulated_now < NOW + timedelta(minutes=1)
    assert leaked_owner == LEAKED_USER


def test_build_alert_names_the_leaked_key(overlay: DemoAccount) -> None:
    requests = [
        {
            "access_key_id": LEAKED_KEY_ID,
            "source_ip": ATTACKER_IP,
            "action": "ListUsers",
        },
        {
            "access_key_id": LEAKED_KEY_ID,
            "source_ip": ATTACKER_IP,
            "action": "CreateUser",
        },
        {
            "access_key_id": LEAKED_KEY_ID,
            "source_ip": "127.0.0.1",
            "action": "ListUsers",
        },
        {"access_key_id": "LTAI5tOTHERKEY0000000001", "source_ip": ATTACKER_IP},
    ]

    alert = build_alert(overlay, requests)
    keys = parse_alert(json.loads(json.dumps(alert)))

    assert [key.access_key_id for key in keys] == [LEAKED_KEY_ID]
    assert keys[0].source_kind == "sls"
    assert f"fired for AccessKey {LEAKED_KEY_ID}" in keys[0].summary
    assert alert["fire_results"][0]["cnt"] == "2"
    assert alert["fire_results"][0]["event.sourceIpAddress"] == ATTACKER_IP
    assert alert["project"] == "actiontrail-1000123837392027"


def test_start_emulator_serves_and_stops(overlay: DemoAccount, tmp_path: Path) -> None:
    child = start_emulator(overlay.scenario_path, tmp_path / "emulator.log")
    try:
        requests = emulator_requests(child.url)
        assert child.url.startswith("http://127.0.0.1:")
        assert requests == []
    finally:
        child.stop()

    assert child.process.poll() is not None


def test_start_emulator_bad_scenario_names_log(tmp_path: Path) -> None:
    scenario = tmp_path / "broken.json"
    scenario.write_text('{"account_id": "1000000000000001", "users": [{"UserNam": 1}]}')
    log = tmp_path / "emulator.log"

    with pytest.raises(DemoError) as failed:
        start_emulator(scenario, log)

    message = str(failed.value)
    assert "the emulator exited with status 2 before it listened" in message
    assert str(log) in message
    assert "UserNam" in message


def sample_report(report_path: Path) -> dict:
    """A report of schema 1.1 with one minted key, one STS token and a picture."""
    picture = report_path.parent / "timeline.png"
    return {
        "access_key_id": LEAKED_KEY_ID,
        "owner": {"type": "ram-user", "user_name": LEAKED_USER},
        "decision": {"path": "contain", "reasons": ["It was used.", "Nobody said."]},
        "actions": [
            {"status": "done", "step": "Attach the deny policy", "detail": "Attached."},
            {"status": "skipped", "step": "Detach AdministratorAccess", "detail": ""},
        ],
        "findings": [
            {"severity": "low", "kind": "several-regions", "summary": "2 regions"},
            {"severity": "critical", "kind": "access_key_created", "summary": "new"},
        ],
        "related_credentials": [
            {
                "access_key_id": "LTAI5tBACKDOOR0000000001",
                "user_name": "svc-backup-1",
                "relation": "created-by-compromised-key",
                "response": {"status": "done", "path": "delete"},
            },
            {
                "access_key_id": "STS.NToken0000000001",
                "user_name": LEAKED_USER,
                "relation": "used-by-linked-user",
                "response": None,
            },
        ],
        "billing": {"billing_cycles": ["2026-12"], "currency": "CNY", "total": 9.0},
        "investigation": {
            "pictures": {"timeline": str(picture)},
            "evidence": {"folder": str(report_path.parent / "evidence")},
            "lineage": {
                "nodes": [
                    {"type": "access_key", "label": LEAKED_KEY_ID, "depth": 0},
                    {
                        "type": "access_key",
                        "label": "LTAI5tBACKDOOR0000000001",
                        "depth": 1,
                        "reason": "created for svc-backup-1",
                        "response": "disable_and_delete_key",
                    },
                    {"type": "user", "label": "svc-backup-1", "depth": 1},
                ],
                "edges": [{"source": "a", "target": "b"}],
            },
            "billing": {
                "attributable_total": {"CNY": 12.5},
                "attributed": [
                    {
                        "instance_id": "i-miner1",
                        "region": "ap-southeast-5",
                        "amount": 12.5,
                        "currency": "CNY",
                    }
                ],
                "still_present": [{"instance_id": "i-miner1"}],
                "incident_total": {"CNY": 1234.5},
                "baseline_total": {"CNY": 1000.0},
            },
        },
        "complete": True,
        "next_steps": ["Rotate the key."],
    }


def test_summary_lines_show_decision_and_files(tmp_path: Path) -> None:
    report_path = tmp_path / f"{LEAKED_KEY_ID}.inc-1.report.json"
    report = sample_report(report_path)

    lines = summary_lines(report, report_path, tmp_path / "report.md")
    text = "\n".join(line for _, line in lines)

    assert f"JSON:      {report_path}" in text
    assert f"Markdown:  {tmp_path / 'report.md'}" in text
    assert f"Pictures:  {tmp_path / 'timeline.png'}" in text
    assert f"Evidence:  {tmp_path / 'evidence'}" in text
    assert "Decision: contain" in text
    assert "- It was used." in text
    assert "done      Attach the deny policy" in text
    findings = [line for _, line in lines if line.startswith(("critical", "low"))]
    assert findings[0].startswith("critical access_key_created")


def test_summary_lines_lineage_and_cost(tmp_path: Path) -> None:
    report = sample_report(tmp_path / "r.report.json")

    text = "\n".join(line for _, line in summary_lines(report, tmp_path, None))

    assert (
        "-> LTAI5tBACKDOOR0000000001, user svc-backup-1, depth 1: created for "
        "svc-backup-1; child response done, path delete"
    ) in text
    assert "1 STS tokens of linked users and roles" in text
    assert "STS.NToken0000000001" not in text
    assert "lineage graph: 3 nodes, 1 edges" in text
    assert "attributable to the compromised credentials: 12.50 CNY" in text
    assert "i-miner1 in ap-southeast-5: 12.50 CNY" in text
    assert "still exist: i-miner1" in text
    assert "spend since the incident start: 1,234.50 CNY" in text
    assert "1. Rotate the key." in text


def test_summary_lines_report_1_0(tmp_path: Path) -> None:
    report_path = tmp_path / f"{LEAKED_KEY_ID}.inc-1.report.json"
    picture = tmp_path / f"{LEAKED_KEY_ID}.inc-1.timeline.png"
    picture.write_bytes(b"png")
    report = sample_report(report_path)
    del report["investigation"]

    text = "\n".join(line for _, line in summary_lines(report, report_path, None))

    assert f"Pictures:  {picture}" in text
    assert "Evidence:  none" in text
    assert "-> LTAI5tBACKDOOR0000000001, user svc-backup-1: " in text
    assert "spend in billing cycles 2026-12: 9.00 CNY" in text


def test_summary_lines_missing_fields(tmp_path: Path) -> None:
    report = {"decision": {"path": "manual"}, "access_key_id": LEAKED_KEY_ID}

    text = "\n".join(line for _, line in summary_lines(report, tmp_path / "r", None))

    assert "Decision: manual" in text
    assert "Pictures:  none" in text
    assert "billing was not checked" in text
    assert "no other key was created or used by the attacker" in text
    assert "Complete: no" in text


def test_find_report_by_incident(tmp_path: Path) -> None:
    expected = tmp_path / f"{LEAKED_KEY_ID}.inc-2.report.json"
    expected.write_text("{}")
    (tmp_path / f"{LEAKED_KEY_ID}.inc-1.report.json").write_text("{}")

    assert find_report(tmp_path, LEAKED_KEY_ID, "inc-2") == expected
    assert find_report(tmp_path, LEAKED_KEY_ID, "inc-3") is None
