"""The analysis on real attack data: the invictus-ir Stratus Red Team run.

``emulator/scenarios/invictus-attack.events.jsonl`` is a real CloudTrail recording of
an attack simulation, converted to ActionTrail records. Every technique it contains
must produce a finding; ``TECHNIQUES`` lists them with the finding that shows each.
The key of ``bert-jan`` is the leaked one. The simulation's own user-agent marker is
never used: the detectors see only what a real attacker would leave.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from akresponder.analysis import Finding, investigate, read_events_file
from akresponder.analysis.investigate import Investigation

SCENARIOS = Path(__file__).resolve().parent.parent / "emulator" / "scenarios"
LEAKED_KEY = "LTAI5tbuZIjVAVKRpqJhK7px"
# The recording starts at 11:42; everything after 11:00 is the incident.
WINDOW_START = datetime(2023, 7, 10, 11, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def investigation() -> Investigation:
    events = read_events_file(SCENARIOS / "invictus-attack.events.jsonl")
    scenario = json.loads((SCENARIOS / "invictus-attack.json").read_text())
    return investigate(
        LEAKED_KEY, events, window_start=WINDOW_START, bills=scenario["bills"]
    )


def _values(finding: Finding) -> str:
    return json.dumps(finding.evidence.get("values", {}))


# technique in the recording -> (finding kind, what the finding must show)
TECHNIQUES: dict[str, tuple[str, Callable[[Finding], bool]]] = {
    "trail deleted": (
        "logging_disabled",
        lambda f: "actiontrail:DeleteTrail" in f.evidence["values"]["actions"],
    ),
    "trail event selectors narrowed (PutEventSelectors)": (
        "logging_disabled",
        lambda f: any(
            "stops recording management events" in reason
            for reason in f.evidence["values"]["update_reasons"].values()
        ),
    ),
    "VPC flow log deleted": (
        "logging_disabled",
        lambda f: "vpc:DeleteFlowLog" in f.evidence["values"]["actions"],
    ),
    "trail stop attempted (StopLogging, failed)": (
        "high_risk_call",
        lambda f: "actiontrail:StopLogging" in f.evidence["values"],
    ),
    "backdoor RAM user created": (
        "user_created",
        lambda f: "malicious-iam-user" in f.evidence["values"]["user_names"],
    ),
    "AccessKey created for another user": (
        "access_key_created",
        lambda f: (
            f.severity == "critical"
            and any(
                item["for_another_user"] for item in f.evidence["values"]["created"]
            )
        ),
    ),
    "console password created for a user": (
        "login_profile_changed",
        lambda f: "CreateLoginProfile" in _values(f),
    ),
    "console sign-in without MFA by the new user": (
        "console_login",
        lambda f: bool(f.evidence["values"].get("without_mfa")),
    ),
    "AdministratorAccess attached": (
        "policy_attached",
        lambda f: f.severity == "critical" and "AdministratorAccess" in _values(f),
    ),
    "secrets read in bulk": (
        "secrets_read",
        lambda f: (
            f.severity == "high"
            and f.evidence["values"]["max_distinct_in_window"] >= 20
        ),
    ),
    "image shared with another account": (
        "resource_shared",
        lambda f: (
            "m-w91dwzbq96cp0vm9xmun shared with account(s) 012345678901" in _values(f)
        ),
    ),
    "snapshot shared with another account": (
        "resource_shared",
        lambda f: (
            "s-25umkd9p5j45eoto5e6m shared with account(s) 012345678912" in _values(f)
        ),
    ),
    "role trust policy opened to another account": (
        "resource_shared",
        lambda f: "trusts account(s) 1000193672423079" in _values(f),
    ),
    "bucket policy granting another account": (
        "resource_shared",
        lambda f: "policy grants account(s) 1000193672423079" in _values(f),
    ),
    "security group opened to the internet": (
        "high_risk_call",
        lambda f: "ecs:AuthorizeSecurityGroup" in f.evidence["values"],
    ),
    "remote command on an instance (SendCommand)": (
        "high_risk_call",
        lambda f: "ecs:InvokeCommand" in f.evidence["values"],
    ),
    "leave the organisation attempted (LeaveOrganization)": (
        "high_risk_call",
        lambda f: "resourcemanager:RemoveCloudAccount" in f.evidence["values"],
    ),
    "instance user data read": (
        "high_risk_call",
        lambda f: "ecs:DescribeUserData" in f.evidence["values"],
    ),
    "instances launched": (
        "resource_created",
        lambda f: f.severity == "high" and "i-snwk0afke5sp1i5gk26n" in _values(f),
    ),
    "database deleted": (
        "resource_deleted",
        lambda f: "rds:DeleteDBInstance" in f.evidence["values"]["actions"],
    ),
    "roles assumed": (
        "role_assumed",
        lambda f: bool(f.evidence["values"]["sessions"]),
    ),
    "denied calls while probing": (
        "permission_error_burst",
        lambda f: f.evidence["values"]["max_in_window"] >= 6,
    ),
    "discovery bursts": (
        "enumeration_burst",
        lambda f: bool(f.evidence["values"]["bursts"]),
    ),
    "instances billed to the attacker": (
        "billing_anomaly",
        lambda f: "i-snwk0afke5sp1i5gk26n" in _values(f),
    ),
}


@pytest.mark.parametrize("technique", sorted(TECHNIQUES))
def test_invictus_technique_found(investigation: Investigation, technique: str) -> None:
    kind, shows = TECHNIQUES[technique]

    candidates = [f for f in investigation.findings if f.kind == kind]

    assert candidates, f"no {kind} finding for {technique}"
    assert any(shows(finding) for finding in candidates), technique


def test_invictus_lineage_lists_backdoors(investigation: Investigation) -> None:
    nodes = investigation.lineage.nodes

    assert nodes["key:LTAI5t1LZObhyGpjQ0rGUH2H"].response == "disable_and_delete_key"
    assert nodes["user:malicious-iam-user"].response == "delete_user"
    login = nodes["login_profile:stratus-red-team-nmfalu-gfjyeaypjt"]
    assert login.response == "delete_login_profile"
    assert nodes["role:stratus-red-team-backdoor-r-role"].response == "delete_role"
    assert "192.168.10.20" in investigation.lineage.attacker_ips


def test_invictus_bystander_untouched(investigation: Investigation) -> None:
    """benjamin's keys were never used by the attacker and stay out of the graph."""
    assert "LTAI5t9NmmpnrCTHgBVcFqu5" not in investigation.suspect_access_key_ids
    assert "user:benjamin" not in investigation.lineage.nodes


def test_invictus_no_baseline_noted(investigation: Investigation) -> None:
    assert any("had no baseline" in note for note in investigation.notes)
    kinds = {finding.kind for finding in investigation.findings}
    assert not kinds & {"unusual_region", "unknown_source_ip", "new_user_agent"}


def test_invictus_report_is_json_ready(investigation: Investigation) -> None:
    data = json.loads(json.dumps(investigation.to_dict()))

    assert data["normalise_report"]["unusable"] == 0
    assert len(data["findings"]) == len(investigation.findings)
