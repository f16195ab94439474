"""LookupEvents and SLS GetLogs over 100,000 events, with time bounds.

The bounds are at least ten times the times measured on a 2-core test machine, so they
fail on a return to scanning every event per page, not on a slow machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alibabacloud_actiontrail20200706 import models as at_models

from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import (
    RESPONDER,
    SLS_PROJECT,
    TRAIL_LOGSTORE,
    actiontrail_client,
    log_client,
)
from tests.test_emulator_actiontrail import SCENARIO_EVENTS, audit_scenario

pytestmark = pytest.mark.slow

EVENT_COUNT = 100_000
START = 1794556800  # 2026-11-13T08:00:00Z, seven days before the clock
STEP = 6  # seconds between generated events, so they span the last seven days


@pytest.fixture(scope="module")
def crowded() -> Iterator[RunningEmulator]:
    """The audit account plus 100,000 GetUser and ListUsers calls in the last week."""
    scenario = audit_scenario()
    template = SCENARIO_EVENTS[0]
    for number in range(EVENT_COUNT):
        moment = datetime.fromtimestamp(START + number * STEP, UTC)
        event_id = f"9E0D17E0-0000-4000-8000-{number:012d}"
        scenario["events"].append(
            {
                **template,
                "eventId": event_id,
                "requestId": event_id,
                "eventName": "ListUsers" if number % 10 == 0 else "GetUser",
                "serviceName": "Ram",
                "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    with start_emulator(
        scenario,
        freeze_clock=True,
        check_clock_skew=False,
        config={"lookup_events_rate_limit": None},
    ) as running:
        yield running


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_lookup_events_pages_fast(crowded: RunningEmulator) -> None:
    client = actiontrail_client(crowded, *RESPONDER)
    attribute = at_models.LookupEventsRequestLookupAttribute(
        key="EventName", value="ListUsers"
    )
    token = None
    seen: list[str] = []
    slowest = 0.0
    for _ in range(20):
        request = at_models.LookupEventsRequest(
            lookup_attribute=[attribute], max_results="50", next_token=token
        )
        body, seconds = timed(
            lambda request=request: client.lookup_events(request).body
        )
        slowest = max(slowest, seconds)
        seen.extend(event["eventId"] for event in body.events)
        token = body.next_token

    assert len(seen) == 1000
    assert len(set(seen)) == 1000
    assert slowest < 3.0


def test_lookup_events_unmatched_scan_fast(crowded: RunningEmulator) -> None:
    client = actiontrail_client(crowded, *RESPONDER)
    attribute = at_models.LookupEventsRequestLookupAttribute(
        key="EventName", value="NoSuchEvent"
    )
    request = at_models.LookupEventsRequest(lookup_attribute=[attribute])

    body, seconds = timed(lambda: client.lookup_events(request).body)

    assert body.events == []
    assert seconds < 3.0


def test_get_logs_repeated_search_fast(crowded: RunningEmulator) -> None:
    sls = log_client(crowded, *RESPONDER)

    def search() -> Any:
        return sls.get_log(
            SLS_PROJECT,
            TRAIL_LOGSTORE,
            START,
            START + 8 * 86400,
            query="event.eventName: ListUsers",
            offset=5000,
            size=100,
        )

    first, first_seconds = timed(search)
    second, second_seconds = timed(search)

    assert first.get_count() == 100
    assert second.get_count() == 100
    assert first_seconds < 30.0
    assert second_seconds < 10.0


def test_get_logs_sql_counts_all(crowded: RunningEmulator) -> None:
    sls = log_client(crowded, *RESPONDER)
    query = (
        'event.serviceName: Ram | select "event.eventName" as name, count(*) as c '
        "group by name order by c desc limit 2"
    )

    response, seconds = timed(
        lambda: sls.get_log(
            SLS_PROJECT, TRAIL_LOGSTORE, START, START + 8 * 86400, query=query
        )
    )

    rows = [log.get_contents() for log in response.get_logs()]
    assert rows == [
        {"name": "GetUser", "c": "90000"},
        {"name": "ListUsers", "c": "10000"},
    ]
    assert seconds < 30.0
