"""The analysis on data fetched with the real SDKs from the emulator.

An attacker replays the full playbook (recon, backdoor, crypto-mining, trail
tampering) with app-backend's key against the base scenario, whose history gives the
key 18 days of ordinary use. The responder then reads the evidence the way the
response flow does: ActionTrail LookupEvents pages, the trail's SLS logstore, daily
QueryInstanceBill and DescribeInstances, each through the official client over HTTP.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_actiontrail20200706 import models as actiontrail_models
from alibabacloud_bssopenapi20171214 import models as bss_models
from alibabacloud_ecs20140526 import models as ecs_models

from akresponder.analysis import (
    combine_events,
    investigate,
    normalise_events,
)
from akresponder.analysis.investigate import Investigation
from emulator.attack import DEFAULT_SOURCE_IP, DEFAULT_TARGET_REGION, Attacker
from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import (
    APP_BACKEND,
    RESPONDER,
    SLS_PROJECT,
    TRAIL_LOGSTORE,
    actiontrail_client,
    bss_client,
    ecs_client,
    log_client,
)

SCENARIO = Path(__file__).parent / "scenarios" / "basic.json"
# The scenario clock starts at 2026-11-20T08:00:00Z; its history ends on 2026-11-18.
WINDOW_START = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
LOOKUP_START = "2026-10-22T00:00:00Z"  # LookupEvents takes at most 30 days
LOOKUP_END = "2026-11-21T00:00:00Z"


@pytest.fixture(scope="module")
def attacked() -> Iterator[RunningEmulator]:
    """The base scenario after the full attack, six hours later."""
    scenario = json.loads(SCENARIO.read_text())
    for user in scenario["users"]:
        if user["UserName"] == "app-backend":
            # With its own ECS permissions only, every RAM step would be denied.
            user["Policies"].append(
                {"PolicyName": "AdministratorAccess", "PolicyType": "System"}
            )
    with start_emulator(scenario, config={"lookup_events_rate_limit": None}) as emu:
        Attacker(emu.url, *APP_BACKEND, output=io.StringIO()).run("full")
        emu.control("POST", "clock", {"advance_seconds": 6 * 3600})
        yield emu


def _lookup_pages(emu: RunningEmulator, access_key_id: str) -> list[dict[str, Any]]:
    """Return every LookupEvents page for a key, as the response bodies."""
    client = actiontrail_client(emu, *RESPONDER)
    pages = []
    token = None
    while True:
        request = actiontrail_models.LookupEventsRequest(
            start_time=LOOKUP_START,
            end_time=LOOKUP_END,
            lookup_attribute=[
                actiontrail_models.LookupEventsRequestLookupAttribute(
                    key="EventAccessKeyId", value=access_key_id
                )
            ],
            max_results="50",
            next_token=token,
        )
        body = client.lookup_events(request).body
        pages.append(body.to_map())
        token = body.next_token
        if not token:
            return pages


def _sls_rows(emu: RunningEmulator) -> list[dict[str, str]]:
    client = log_client(emu, *RESPONDER)
    start = int(datetime(2026, 10, 22, tzinfo=UTC).timestamp())
    end = int(datetime(2026, 11, 21, tzinfo=UTC).timestamp())
    rows: list[dict[str, str]] = []
    offset = 0
    while True:
        response = client.get_log(
            SLS_PROJECT, TRAIL_LOGSTORE, start, end, size=100, offset=offset
        )
        page = [log.get_contents() for log in response.get_logs()]
        rows.extend(page)
        if len(page) < 100:
            return rows
        offset += len(page)


def _daily_bills(emu: RunningEmulator) -> list[dict[str, Any]]:
    client = bss_client(emu, *RESPONDER)
    bodies = []
    for offset in range(31):
        day = datetime(2026, 11, 20, tzinfo=UTC) - timedelta(days=offset)
        request = bss_models.QueryInstanceBillRequest(
            billing_cycle=day.strftime("%Y-%m"),
            granularity="DAILY",
            billing_date=day.strftime("%Y-%m-%d"),
            page_size=300,
        )
        bodies.append(client.query_instance_bill(request).body.to_map())
    return bodies


def _instances(emu: RunningEmulator) -> dict[str, Any]:
    client = ecs_client(emu, *RESPONDER)
    request = ecs_models.DescribeInstancesRequest(
        region_id=DEFAULT_TARGET_REGION, page_size=100
    )
    return client.describe_instances(request).body.to_map()


@pytest.fixture(scope="module")
def investigation(attacked: RunningEmulator) -> Investigation:
    def fetch_key(access_key_id: str) -> list[dict[str, Any]]:
        return _lookup_pages(attacked, access_key_id)

    return investigate(
        APP_BACKEND[0],
        window_start=WINDOW_START,
        fetch_key=fetch_key,
        bills=_daily_bills(attacked),
        instances=[_instances(attacked)],
    )


def test_lookup_and_sls_routes_combine(attacked: RunningEmulator) -> None:
    lookup = normalise_events(_lookup_pages(attacked, APP_BACKEND[0]), "actiontrail")
    sls = normalise_events(_sls_rows(attacked), "sls")

    combined = combine_events(lookup, sls)

    assert combined["event_id"].is_unique
    assert set(lookup["event_id"]) <= set(combined["event_id"])
    assert set(sls["event_id"]) <= set(combined["event_id"])
    overlap = set(lookup["event_id"]) & set(sls["event_id"])
    assert overlap
    report = combined.attrs["normalise_report"]
    assert report["duplicates"] == len(overlap)
    # The trail stopped logging to SLS, so only LookupEvents has the deletion.
    assert "DeleteTrail" in set(lookup["action"])
    assert "DeleteTrail" not in set(sls["action"])


def test_emulator_attack_findings(investigation: Investigation) -> None:
    by_kind = {finding.kind: finding for finding in investigation.findings}

    assert by_kind["access_key_created"].severity == "critical"
    assert by_kind["policy_attached"].severity == "critical"
    assert by_kind["logging_disabled"].severity == "critical"
    assert (
        by_kind["user_created"]
        .evidence["values"]["user_names"][0]
        .startswith("svc-backup-")
    )
    assert "login_profile_changed" in by_kind
    assert by_kind["resource_created"].severity == "high"
    assert DEFAULT_TARGET_REGION in by_kind["unusual_region"].evidence["values"]
    unknown_ips = [f for f in investigation.findings if f.kind == "unknown_source_ip"]
    assert any(DEFAULT_SOURCE_IP in f.evidence["values"] for f in unknown_ips)


def test_emulator_attack_lineage(investigation: Investigation) -> None:
    graph = investigation.lineage
    backdoor_keys = [
        node
        for node in graph.nodes.values()
        if node.type == "access_key" and node.depth == 1
    ]

    assert len(backdoor_keys) == 1
    assert backdoor_keys[0].response == "disable_and_delete_key"
    assert graph.nodes[f"key:{APP_BACKEND[0]}"].response == "rotate_key"
    assert graph.attacker_ips == [DEFAULT_SOURCE_IP]
    assert graph.errors == []
    backdoor_events = graph.events.loc[
        graph.events["access_key_id"] == backdoor_keys[0].label, "action"
    ]
    assert set(backdoor_events) == {"GetCallerIdentity", "ListUsers"}


def test_emulator_attack_cost_attributed(investigation: Investigation) -> None:
    billing = investigation.billing

    assert billing is not None
    assert billing.attributable_total["CNY"] > 0
    assert len(billing.attributed) == 4
    assert len(billing.still_present) == 4
    assert not billing.spikes.empty


def test_emulator_attack_no_secret_in_results(
    attacked: RunningEmulator, investigation: Investigation
) -> None:
    text = json.dumps(investigation.to_dict()) + investigation.events.to_json()

    for key in attacked.cloud.access_keys.values():
        assert key.secret not in text
