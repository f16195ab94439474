"""End-to-end test of akresponder.analysis.investigate on a generated attack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from akresponder.analysis import (
    investigate,
    normalise_events,
    save_evidence,
    verify_evidence,
)
from akresponder.analysis.investigate import Investigation
from akresponder.analysis.synthetic import (
    BACKDOOR_KEY,
    BACKDOOR_USER,
    generate_events,
)

END = datetime(2026, 11, 20, 8, tzinfo=UTC)
WINDOW_START = END - timedelta(hours=6)
STOLEN_KEY = "LTAI5tAPPBACKEND00000001"
INSTANCES = [f"i-attack{index:012d}" for index in range(3)]


def _bills() -> list[dict]:
    bills = []
    for day in range(30, -1, -1):
        moment = END - timedelta(days=day)
        bills.append(
            {
                "BillingDate": moment.strftime("%Y-%m-%d"),
                "ProductCode": "ecs",
                "PretaxAmount": 26.0 + day % 3,
                "Region": "cn-hangzhou",
                "InstanceID": "i-bp1appbackend000001",
                "Currency": "CNY",
            }
        )
    for instance in INSTANCES:
        bills.append(
            {
                "BillingDate": END.strftime("%Y-%m-%d"),
                "ProductCode": "ecs",
                "PretaxAmount": 88.8,
                "Region": "ap-southeast-1",
                "InstanceID": instance,
                "Currency": "CNY",
            }
        )
    return bills


@pytest.fixture(scope="module")
def investigation() -> Investigation:
    events = normalise_events(generate_events(20_000, end=END))
    instances = {
        "Instances": {
            "Instance": [
                {"InstanceId": instance, "Status": "Running"} for instance in INSTANCES
            ]
        }
    }
    return investigate(
        STOLEN_KEY,
        events,
        window_start=WINDOW_START,
        bills=_bills(),
        instances=[instances],
    )


def test_investigate_finds_the_attack(investigation: Investigation) -> None:
    kinds = {finding.kind for finding in investigation.findings}

    assert {
        "access_key_created",
        "user_created",
        "login_profile_changed",
        "policy_attached",
        "logging_disabled",
        "secrets_read",
        "resource_shared",
        "resource_created",
        "unusual_region",
        "unknown_source_ip",
        "permission_error_burst",
        "enumeration_burst",
        "console_login",
        "billing_anomaly",
    } <= kinds
    assert investigation.findings[0].severity == "critical"
    assert investigation.notes == []


def test_investigate_scope_from_lineage(investigation: Investigation) -> None:
    assert set(investigation.suspect_access_key_ids) == {STOLEN_KEY, BACKDOOR_KEY}
    assert investigation.suspect_user_names == [BACKDOOR_USER]
    stolen = investigation.lineage.nodes[f"key:{STOLEN_KEY}"]
    assert stolen.response == "rotate_key"


def test_investigate_billing_attribution(investigation: Investigation) -> None:
    billing = investigation.billing

    assert billing is not None
    assert billing.attributable_total == {"CNY": pytest.approx(266.4)}
    assert len(billing.still_present) == 3


def test_investigate_other_applications_quiet(investigation: Investigation) -> None:
    keys = {finding.access_key_id for finding in investigation.findings}

    assert not keys & {"LTAI5tCIDEPLOY000000001A", "LTAI5tREPORTING00000001"}


def test_investigate_pictures_and_evidence(
    investigation: Investigation, tmp_path: Path
) -> None:
    pictures = investigation.pictures()

    assert set(pictures) == {"timeline", "lineage", "spend"}
    manifest = save_evidence(
        "INC-TEST",
        raw_events=generate_events(100, end=END),
        frames={
            "events": investigation.events,
            "findings": investigation.findings_frame(),
        },
        documents={"investigation": investigation.to_dict()},
        images=pictures,
        root=tmp_path,
    )
    assert len(manifest.files) == 7
    assert verify_evidence(tmp_path / "INC-TEST") == []
    document = json.loads((tmp_path / "INC-TEST" / "investigation.json").read_text())
    assert document["responses"][0]["action"] == "delete_user"
    raw = (tmp_path / "INC-TEST" / "events.jsonl").read_text()
    assert '"SecretData":"***"' in raw
    assert '"SecretData":"x"' not in raw
    assert "| critical |" in investigation.findings_table()
