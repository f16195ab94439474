"""Evidence collection against the emulator: both routes, paging, gaps and faults.

The collector is called outside any flow, so its tasks run as plain functions; every
call still goes through the official SDKs over HTTP.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cloud_helpers import add_fault, calls, connect

from akresponder import evidence_collect
from akresponder.evidence_collect import EvidenceCollector
from emulator.testing import RunningEmulator, start_emulator
from tests.respond_support import APP_KEY, SCENARIO, event

ATTACKER_IP = "203.0.113.66"
# More events than two SLS pages, so that the search must page with offset.
EXTRA = 230


def _scenario(*, trail: bool = True, extra: list[dict[str, Any]] | None = None) -> dict:
    data = json.loads(SCENARIO.read_text())
    data["events"] = data["events"] + [
        event(
            1000 + number,
            "DescribeInstances",
            when=f"2026-11-1{number % 9}T{number % 24:02d}:{number % 60:02d}:00Z",
        )
        for number in range(EXTRA)
    ] + copy.deepcopy(extra or [])  # fmt: skip
    if not trail:
        data.pop("trail")
    return data


@pytest.fixture(autouse=True)
def _unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lift the client's two LookupEvents calls a second, as the emulator does."""
    monkeypatch.setenv("AKRESPONDER_ACTIONTRAIL_RPS", "1000")


@pytest.fixture
def served() -> Iterator[RunningEmulator]:
    with start_emulator(_scenario(), config={"lookup_events_rate_limit": None}) as emu:
        yield emu


def _collector(emu: RunningEmulator, **options: Any) -> EvidenceCollector:
    return EvidenceCollector(
        connect(emu),
        "inc-collect",
        end=emu.cloud.now(),
        **options,
    )


def _own_events(emu: RunningEmulator, key: str) -> set[str]:
    return {
        record["eventId"]
        for record in emu.cloud.events
        if record["userIdentity"].get("accessKeyId") == key
    }


def test_collect_key_events_both_routes_once(served: RunningEmulator) -> None:
    collector = _collector(served)

    frame = collector.key_events(APP_KEY, served.cloud.now() - timedelta(days=60))

    expected = _own_events(served, APP_KEY)
    assert set(frame["event_id"]) == expected
    assert frame["event_id"].is_unique
    assert collector.route_counts() == {
        "actiontrail": len(expected),
        "sls": len(expected),
        "both": len(expected),
        "total": len(expected),
    }
    by_source = {entry.source: entry for entry in collector.coverage}
    assert by_source["actiontrail"].status == "complete"
    assert by_source["sls"].status == "complete"
    assert f"GetHistograms counts {len(expected)}" in by_source["sls"].detail
    # 284 rows in pages of 100: three GetLogs requests with offsets.
    assert len(calls(served, "GetLogs")) == 3


def test_collect_repeated_search_returns_nothing(served: RunningEmulator) -> None:
    collector = _collector(served)
    start = served.cloud.now() - timedelta(days=30)

    collector.key_events(APP_KEY, start)
    again = collector.key_events(APP_KEY, start)

    assert again.empty
    assert len(collector.coverage) == 2


def test_collect_incomplete_page_asked_again(
    served: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evidence_collect, "INCOMPLETE_PAUSE_SECONDS", 0.01)
    # The SDK repeats an incomplete GetLogs five times and gives up; the
    # collector's own retry gets the complete result, of the page and the count.
    served.control("POST", "config", {"sls_incomplete_polls": 5})
    collector = _collector(served)

    frame = collector.user_events("alice", served.cloud.now() - timedelta(days=30))

    sls = [entry for entry in collector.coverage if entry.source == "sls"]
    assert frame.empty
    assert [entry.status for entry in sls] == ["complete"]
    assert len(calls(served, "GetLogs")) == 6
    assert len(calls(served, "GetHistograms")) == 6


def test_collect_page_stays_incomplete_partial(
    served: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evidence_collect, "INCOMPLETE_RETRIES", 0)
    served.control("POST", "config", {"sls_incomplete_polls": 50})
    collector = _collector(served)

    collector.user_events("alice", served.cloud.now() - timedelta(days=30))

    sls = [entry for entry in collector.coverage if entry.source == "sls"]
    assert [entry.status for entry in sls] == ["partial"]
    assert "stayed incomplete" in sls[0].detail
    assert "incomplete count" in sls[0].detail


def test_collect_lookup_failure_leaves_gap_and_goes_on(
    served: RunningEmulator,
) -> None:
    add_fault(served, service="actiontrail", action="LookupEvents", kind="error")
    collector = _collector(served)

    frame = collector.key_events(APP_KEY, served.cloud.now() - timedelta(days=30))

    by_source = {entry.source: entry for entry in collector.coverage}
    assert by_source["actiontrail"].status == "failed"
    assert "ServiceUnavailable" in by_source["actiontrail"].detail
    assert by_source["sls"].status == "complete"
    assert set(frame["event_id"]) == _own_events(served, APP_KEY)
    assert [gap.source for gap in collector.gaps] == ["actiontrail"]


def test_collect_without_trail_notes_history_gap() -> None:
    with start_emulator(
        _scenario(trail=False), config={"lookup_events_rate_limit": None}
    ) as emu:
        collector = _collector(emu)
        start = emu.cloud.now() - timedelta(days=120)

        frame = collector.key_events(APP_KEY, start)
        collector.uncovered_history(start)

        assert set(frame["event_id"]) == _own_events(emu, APP_KEY)
        sls = [entry for entry in collector.coverage if entry.source == "sls"]
        assert [entry.status for entry in sls] == ["skipped"]
        lookup = [
            entry for entry in collector.coverage if entry.source == "actiontrail"
        ]
        assert "LookupEvents keeps 90 days" in lookup[0].detail
        gaps = [gap for gap in collector.gaps if gap.source == "all"]
        assert len(gaps) == 1
        assert abs(gaps[0].start - start) < timedelta(seconds=1)
        assert "no trail delivers to SLS" in gaps[0].reason


def test_collect_trail_stop_opens_gap(served: RunningEmulator) -> None:
    stop = event(
        9001,
        "StopLogging",
        when="2026-11-19T09:00:00Z",
        rw="Write",
        service="Actiontrail",
        source="actiontrail.cn-hangzhou.aliyuncs.com",
        requestParameters={"Name": "main"},
    )
    served.cloud.events.append(stop)
    collector = _collector(served)

    changes = collector.check_trail_changes(served.cloud.now() - timedelta(days=7))

    assert [record["eventId"] for record in changes] == [stop["eventId"]]
    gaps = [gap for gap in collector.gaps if "StopLogging" in gap.reason]
    assert len(gaps) == 1
    assert gaps[0].start.isoformat().startswith("2026-11-19T09:00:00")
    assert APP_KEY in gaps[0].reason


def test_collect_ip_events_found_through_sls(served: RunningEmulator) -> None:
    other = event(
        9100,
        "ListUsers",
        key="LTAI5tCIDEPLOY000000001A",
        user="ci-deploy",
        ip=ATTACKER_IP,
        when="2026-11-19T23:00:00Z",
        service="Ram",
        source="ram.aliyuncs.com",
    )
    with start_emulator(
        _scenario(extra=[other]), config={"lookup_events_rate_limit": None}
    ) as emu:
        collector = _collector(emu)

        frame = collector.ip_events(ATTACKER_IP, emu.cloud.now() - timedelta(days=2))

        assert list(frame["event_id"]) == [other["eventId"]]
        assert list(frame["access_key_id"]) == ["LTAI5tCIDEPLOY000000001A"]
        # A complete SLS search makes the LookupEvents scan of all events needless.
        assert [entry.source for entry in collector.coverage] == ["sls"]


def test_collect_throttled_lookup_retried(served: RunningEmulator) -> None:
    add_fault(
        served,
        service="actiontrail",
        action="LookupEvents",
        kind="throttle",
        count=2,
        retry_after_ms=10,
    )
    collector = _collector(served)

    frame = collector.key_events(APP_KEY, served.cloud.now() - timedelta(days=30))

    lookup = [entry for entry in collector.coverage if entry.source == "actiontrail"]
    assert [entry.status for entry in lookup] == ["complete"]
    assert collector.gaps == []
    assert set(frame["event_id"]) == _own_events(served, APP_KEY)
    throttled = [
        entry for entry in calls(served, "LookupEvents") if entry.get("status") == 400
    ]
    assert len(throttled) == 2
