"""ActionTrail tasks against the emulator: windows, paging, pacing, audit APIs."""

from __future__ import annotations

import logging
import time

import pytest
from cloud_helpers import APP_BACKEND, calls, connect

from akresponder.errors import CloudError
from tasks import actiontrail

APP_KEY = APP_BACKEND[0]
NOW = "2026-11-20T08:00:00Z"


@pytest.fixture
def fast_trail(emulator, monkeypatch: pytest.MonkeyPatch):
    """The emulator without ActionTrail's two-calls-a-second limit, and no pacing."""
    emulator.control("POST", "config", {"lookup_events_rate_limit": None})
    monkeypatch.setenv("AKRESPONDER_ACTIONTRAIL_RPS", "1000")
    return emulator


def test_actiontrail_lookup_events_splits_windows(fast_trail) -> None:
    events = actiontrail.lookup_events.fn(
        connect(fast_trail),
        start_time="2026-09-01T00:00:00Z",
        end_time=NOW,
        attributes={"EventAccessKeyId": APP_KEY},
    )
    assert events
    assert all(event["userIdentity"]["accessKeyId"] == APP_KEY for event in events)
    ids = [event["eventId"] for event in events]
    assert len(ids) == len(set(ids))
    # 2026-09-01 to 2026-11-20 is 80 days, so at least three 30-day windows.
    assert len(calls(fast_trail, "LookupEvents")) >= 3


def test_actiontrail_lookup_events_newest_first(fast_trail) -> None:
    events = actiontrail.lookup_events.fn(
        connect(fast_trail), start_time="2026-10-01T00:00:00Z", end_time=NOW
    )
    times = [event["eventTime"] for event in events]
    assert times == sorted(times, reverse=True)


def test_actiontrail_lookup_events_max_events(fast_trail) -> None:
    events = actiontrail.lookup_events.fn(
        connect(fast_trail),
        start_time="2026-09-01T00:00:00Z",
        end_time=NOW,
        page_size=5,
        max_events=7,
    )
    assert len(events) == 7
    assert len(calls(fast_trail, "LookupEvents")) == 2


def test_actiontrail_lookup_events_clamps_to_retention(
    fast_trail, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        events = actiontrail.lookup_events.fn(
            connect(fast_trail), start_time="2026-01-01T00:00:00Z", end_time=NOW
        )
    assert events
    assert any("keeps 90 days" in record.getMessage() for record in caplog.records)


def test_actiontrail_lookup_events_page_tokens(fast_trail) -> None:
    connection = connect(fast_trail)
    window = {"start_time": "2026-11-01T00:00:00Z", "end_time": NOW}
    first = actiontrail.lookup_events_page.fn(connection, page_size=2, **window)
    assert len(first["Events"]) == 2
    assert first["NextToken"]
    second = actiontrail.lookup_events_page.fn(
        connection, page_size=2, next_token=first["NextToken"], **window
    )
    first_ids = {event["eventId"] for event in first["Events"]}
    assert not first_ids & {event["eventId"] for event in second["Events"]}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            {"start_time": "2026-09-01T00:00:00Z", "end_time": NOW},
            "longer than 30 days",
        ),
        ({"start_time": NOW, "end_time": "2026-11-01T00:00:00Z"}, "is not before"),
        (
            {"start_time": "2026-11-01T00:00:00", "end_time": NOW},
            "has no time zone",
        ),
        (
            {
                "start_time": "2026-11-01T00:00:00Z",
                "end_time": NOW,
                "attributes": {"Region": "cn-hangzhou"},
            },
            "invalid lookup attribute 'Region'",
        ),
        (
            {
                "start_time": "2026-11-01T00:00:00Z",
                "end_time": NOW,
                "attributes": [("EventName", "a"), ("User", "b"), ("EventRW", "Write")],
            },
            "at most two lookup attributes",
        ),
        (
            {"start_time": "2026-11-01T00:00:00Z", "end_time": NOW, "page_size": 51},
            "invalid page_size 51; use 1 to 50",
        ),
    ],
)
def test_actiontrail_lookup_events_page_rejects(
    emulator, arguments: dict, expected: str
) -> None:
    with pytest.raises(ValueError) as caught:
        actiontrail.lookup_events_page.fn(connect(emulator), **arguments)
    assert expected in str(caught.value)
    assert calls(emulator, "LookupEvents") == []


def test_actiontrail_lookup_events_paced_to_two_per_second(emulator) -> None:
    # The emulator enforces ActionTrail's two calls per second; the task's pacing
    # keeps every call under it, so no call is throttled.
    connection = connect(emulator)
    started = time.monotonic()
    actiontrail.lookup_events.fn(
        connection,
        start_time="2026-11-10T00:00:00Z",
        end_time=NOW,
        page_size=10,
        max_events=30,
    )
    elapsed = time.monotonic() - started
    entries = calls(emulator, "LookupEvents")
    assert len(entries) == 3
    assert elapsed >= 1.0 - 0.05
    assert [entry["error_code"] for entry in entries] == ["", "", ""]


def test_actiontrail_access_key_audit(emulator) -> None:
    connection = connect(emulator)
    info = actiontrail.get_access_key_last_used_info.fn(connection, APP_KEY)
    assert info["AccessKeyId"] == APP_KEY
    assert info["UserName"] == "app-backend"
    products = actiontrail.get_access_key_last_used_products.fn(connection, APP_KEY)
    services = [product["ServiceName"] for product in products]
    assert "Ecs" in services
    ips = actiontrail.get_access_key_last_used_ips.fn(
        connection, APP_KEY, "Ecs", page_size=1
    )
    assert ips
    assert all("Ip" in record for record in ips)
    events = actiontrail.get_access_key_last_used_events.fn(connection, APP_KEY, "Ecs")
    assert "DescribeInstances" in [event["EventName"] for event in events]
    resources = actiontrail.get_access_key_last_used_resources.fn(
        connection, APP_KEY, "Ecs"
    )
    assert isinstance(resources, list)


def test_actiontrail_audit_pages_follow_token(emulator) -> None:
    from tasks import ecs

    # The key calls a second ECS API, so its audit lists two event names.
    ecs.describe_regions.fn(connect(emulator, APP_BACKEND))
    events = actiontrail.get_access_key_last_used_events.fn(
        connect(emulator), APP_KEY, "Ecs", page_size=1
    )
    requests = len(calls(emulator, "GetAccessKeyLastUsedEvents"))
    names = {event["EventName"] for event in events}
    assert {"DescribeInstances", "DescribeRegions"} <= names
    assert requests in (len(events), len(events) + 1)


def test_actiontrail_audit_rejects_service_name(emulator) -> None:
    with pytest.raises(ValueError) as caught:
        actiontrail.get_access_key_last_used_ips.fn(connect(emulator), APP_KEY, "")
    assert "invalid service_name ''" in str(caught.value)


def test_actiontrail_describe_trails_and_status(emulator) -> None:
    connection = connect(emulator)
    trails = actiontrail.describe_trails.fn(connection)
    assert [trail["Name"] for trail in trails] == ["main"]
    assert trails[0]["SlsProjectArn"].endswith("project/audit-1234567890123456")
    status = actiontrail.get_trail_status.fn(connection, "main")
    assert status["IsLogging"] is True
    assert "RequestId" not in status


def test_actiontrail_get_trail_status_missing(emulator) -> None:
    with pytest.raises(CloudError) as caught:
        actiontrail.get_trail_status.fn(connect(emulator), "nope")
    assert caught.value.status in (400, 404)
    assert "trail=nope" in str(caught.value)
