"""The investigation inside the response flow, against the emulator.

An attacker replays the full playbook (recon, backdoor user with a key and a console
password, GPU instances in an unused region, trail stopped and deleted) with
app-backend's key, which 18 days of history show in ordinary use from
198.51.100.10. The response then contains the key and investigates, reading every
source through the official SDKs over HTTP. The lineage walk follows the backdoor
key and a child response deletes it. The tests check the report, its pictures, the
artifacts and the evidence bundle.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from akresponder.analysis import verify_evidence
from emulator.attack import DEFAULT_SOURCE_IP, DEFAULT_TARGET_REGION, Attacker
from emulator.testing import RunningEmulator
from tests.investigation_support import basic_with_admin, serve
from tests.respond_support import APP_KEY, RESPONDER_KEY, respond

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

APP_SECRET = "abSecretAppBackendKey00000000001"


@dataclass
class Attacked:
    """The emulator after the attack, and the report of the response to it."""

    running: RunningEmulator
    report: dict[str, Any]
    folder: Path


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Attacked]:
    """Attack app-backend's key, then respond in contain mode with auto-approve."""
    monkeypatch = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("attacked")
    try:
        with serve(monkeypatch, basic_with_admin("app-backend")) as running:
            Attacker(running.url, APP_KEY, APP_SECRET, output=io.StringIO()).run("full")
            report = respond(
                folder,
                APP_KEY,
                rotatable_now="no",
                approval={"auto_approve": True},
            )
            yield Attacked(running, report, folder)
    finally:
        monkeypatch.undo()


def test_investigation_flow_attack_findings(attacked: Attacked) -> None:
    report = attacked.report

    kinds = {finding["kind"] for finding in report["findings"]}
    assert report["decision"]["path"] == "contain"
    assert {
        "unknown_source_ip",
        "unusual_region",
        "user_created",
        "access_key_created",
        "login_profile_changed",
        "policy_attached",
        "resource_created",
        "logging_disabled",
        "billing_anomaly",
    } <= kinds
    investigation = report["investigation"]
    assert investigation["incident_start_source"] == "estimated"
    assert DEFAULT_SOURCE_IP in investigation["incident_start_reason"]
    assert investigation["lineage"]["attacker_ips"] == [DEFAULT_SOURCE_IP]
    # The attacker deleted the only trail, so LookupEvents was the one route left.
    assert investigation["events_by_source"]["sls"] == 0
    assert any("trail main was deleted" in note for note in report["coverage"]["notes"])
    billing = investigation["billing"]
    assert DEFAULT_TARGET_REGION in billing["regions_checked"]
    assert len(billing["still_present"]) == 4
    # The responder's own calls are never suspect.
    assert RESPONDER_KEY not in investigation["suspect_access_key_ids"]


def test_investigation_flow_child_response_deletes_backdoor_key(
    attacked: Attacked,
) -> None:
    report = attacked.report

    minted = [
        item
        for item in report["related_credentials"]
        if item["relation"] == "created-by-compromised-key"
    ]
    assert len(minted) == 1
    backdoor = minted[0]
    assert backdoor["recommended_response"] == "disable_and_delete_key"
    assert backdoor["response"]["status"] == "done"
    assert backdoor["response"]["mode"] == "delete"
    assert backdoor["response"]["path"] == "delete"
    assert backdoor["access_key_id"] not in attacked.running.cloud.access_keys
    child = json.loads(Path(backdoor["response"]["report_path"]).read_text())
    assert child["access_key_id"] == backdoor["access_key_id"]
    assert report["incident_id"] in child["incident_id"]


def test_investigation_flow_coverage_and_evidence(attacked: Attacked) -> None:
    report = attacked.report

    coverage = report["coverage"]
    sources = {entry["source"] for entry in coverage["sources"]}
    assert {"actiontrail", "sls", "bss", "bss-daily", "ecs"} <= sources
    failed = [entry for entry in coverage["sources"] if entry["status"] == "failed"]
    assert failed == []
    # The attack stopped and deleted the trail: the SLS route has a gap since then.
    assert any("DeleteTrail" in gap["reason"] or "StopLogging" in gap["reason"]
               for gap in coverage["gaps"])  # fmt: skip
    assert any("OSS object" in item for item in coverage["not_visible"])

    evidence = report["investigation"]["evidence"]
    folder = Path(evidence["folder"])
    assert folder.is_relative_to(attacked.folder / "state" / "evidence")
    assert verify_evidence(folder) == []
    assert {"events.jsonl", "events.parquet", "findings.parquet"} <= set(
        evidence["files"]
    )
    pictures = report["investigation"]["pictures"]
    assert set(pictures) == {"timeline", "lineage", "spend"}
    for path in pictures.values():
        assert Path(path).read_bytes().startswith(b"\x89PNG")
        assert Path(path).parent == attacked.folder


def _artifacts(key: str, incident: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    return [item for item in artifacts if incident in (item.description or "")]


def test_investigation_flow_artifacts(attacked: Attacked) -> None:
    report = attacked.report
    incident = report["incident_id"]
    prefix = f"incident-{APP_KEY.lower()}"

    markdown = _artifacts(prefix, incident)
    table = _artifacts(f"{prefix}-findings", incident)

    assert len(markdown) == 1
    text = str(markdown[0].data)
    assert "## Credential lineage" in text
    assert text.count("data:image/png;base64,") == 3
    assert len(table) == 1
    rows = (
        table[0].data if isinstance(table[0].data, list) else json.loads(table[0].data)
    )
    assert {row["kind"] for row in rows} >= {"access_key_created", "logging_disabled"}
    assert len(rows) == len(report["findings"])
