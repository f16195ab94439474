"""ActionTrail LookupEvents through the real SDK client against the emulator.

The account is tests/scenarios/basic.json plus tests/data/audit_events.json. The base
scenario has 54 DescribeInstances calls by app-backend, three a day from 2026-11-01.
The audit events add an attack on 2026-11-19 and a console sign-in. They also add one
event older than 90 days, one inside the 90 days but outside the default 7-day window,
and one event after the scenario's clock.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_actiontrail20200706 import models as at_models
from alibabacloud_tea_openapi.exceptions import ClientException

from emulator.actiontrail.catalog import SENSITIVE_ACTIONS
from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import RESPONDER, actiontrail_client

DATA = Path(__file__).parent / "data"
SCENARIOS = Path(__file__).parent / "scenarios"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
APP_KEY = "LTAI5tAPPBACKEND00000001"
CI_KEY = "LTAI5tCIDEPLOY000000001A"
CREATE_KEY_EVENT = "1A0D17E0-0000-4000-8000-000000000002"
FUTURE_EVENT = "1A0D17E0-0000-4000-8000-000000000008"
OLD_EVENT = "1A0D17E0-0000-4000-8000-000000000007"
INSIDE_90_DAYS_EVENT = "1A0D17E0-0000-4000-8000-000000000010"


def audit_scenario() -> dict[str, Any]:
    """Return the base scenario with the audit events added."""
    scenario = json.loads((SCENARIOS / "basic.json").read_text(encoding="utf-8"))
    extra = json.loads((DATA / "audit_events.json").read_text(encoding="utf-8"))
    scenario["events"] = scenario["events"] + extra
    return scenario


SCENARIO_EVENTS: list[dict[str, Any]] = audit_scenario()["events"]


def event_time(event: dict[str, Any]) -> datetime:
    return datetime.strptime(event["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC
    )


def expected_ids(
    start: datetime, end: datetime, keep: Any = lambda event: True
) -> list[str]:
    """List the scenario events in [start, end] that ``keep`` accepts, newest first."""
    chosen = [
        event
        for event in SCENARIO_EVENTS
        if start <= event_time(event) <= min(end, NOW) and keep(event)
    ]
    chosen.sort(key=event_time, reverse=True)
    return [event["eventId"] for event in chosen]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def audit() -> Iterator[RunningEmulator]:
    """The audit account with a frozen clock and no LookupEvents rate limit."""
    with start_emulator(
        audit_scenario(),
        freeze_clock=True,
        check_clock_skew=False,
        config={"lookup_events_rate_limit": None},
    ) as running:
        yield running


@pytest.fixture
def client(audit: RunningEmulator) -> Any:
    return actiontrail_client(audit, *RESPONDER)


def lookup(client: Any, attributes: dict[str, str] | None = None, **options: Any):
    request = at_models.LookupEventsRequest(
        lookup_attribute=[
            at_models.LookupEventsRequestLookupAttribute(key=key, value=value)
            for key, value in (attributes or {}).items()
        ],
        **options,
    )
    return client.lookup_events(request).body


def lookup_all(
    client: Any, attributes: dict[str, str] | None = None, **options: Any
) -> tuple[list[dict[str, Any]], int]:
    """Follow NextToken to the last page and return the events and the page count."""
    events: list[dict[str, Any]] = []
    pages = 0
    token = None
    while True:
        body = lookup(client, attributes, next_token=token, **options)
        pages += 1
        events.extend(body.events)
        token = body.next_token
        if not token:
            return events, pages


WEEK_START = NOW - timedelta(days=7)
# The window ends before the clock, so that the LookupEvents calls a test makes, which
# the emulator records at the current time, stay out of it.
WINDOW = {"start_time": "2026-11-01T00:00:00Z", "end_time": "2026-11-20T07:00:00Z"}
WINDOW_START = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 20, 7, tzinfo=UTC)


def test_lookup_events_default_window_newest_first(client: Any) -> None:
    body = lookup(client, max_results="50")

    assert body.start_time == stamp(WEEK_START)
    assert body.end_time == stamp(NOW)
    ids = [event["eventId"] for event in body.events]
    assert ids == expected_ids(WEEK_START, NOW)
    assert body.next_token is None


def test_lookup_events_returns_records_unchanged(client: Any) -> None:
    body = lookup(client, {"EventId": CREATE_KEY_EVENT})

    stored = next(e for e in SCENARIO_EVENTS if e["eventId"] == CREATE_KEY_EVENT)
    assert body.events == [stored]


ATTRIBUTE_CASES = [
    ("ServiceName", "Ims", lambda e: e["serviceName"] == "Ims"),
    ("EventName", "DescribeInstances", lambda e: e["eventName"] == "DescribeInstances"),
    ("User", "ci-deploy", lambda e: e["userIdentity"]["userName"] == "ci-deploy"),
    (
        "EventId",
        "1A0D17E0-0000-4000-8000-000000000005",
        lambda e: e["eventId"] == "1A0D17E0-0000-4000-8000-000000000005",
    ),
    (
        "ResourceType",
        "ACS::RAM::User",
        lambda e: "ACS::RAM::User" in e.get("referencedResources", {}),
    ),
    (
        "ResourceName",
        "LTAI5tBACKDOOR00000001",
        lambda e: e["eventId"] == CREATE_KEY_EVENT,
    ),
    ("EventRW", "Write", lambda e: e["eventRW"] == "Write"),
    (
        "EventAccessKeyId",
        CI_KEY,
        lambda e: e["userIdentity"].get("accessKeyId") == CI_KEY,
    ),
    ("SensitiveAction", "true", lambda e: e["eventName"] in SENSITIVE_ACTIONS),
    ("SensitiveAction", "false", lambda e: e["eventName"] not in SENSITIVE_ACTIONS),
]


@pytest.mark.parametrize(("key", "value", "keep"), ATTRIBUTE_CASES)
def test_lookup_events_filters_by_attribute(
    client: Any, key: str, value: str, keep: Any
) -> None:
    events, _ = lookup_all(client, {key: value}, max_results="50", **WINDOW)

    ids = [event["eventId"] for event in events]
    expected = expected_ids(WINDOW_START, WINDOW_END, keep)
    assert expected, f"the scenario has no event for {key}={value}"
    assert ids == expected


def test_lookup_events_sensitive_actions_found(client: Any) -> None:
    body = lookup(client, {"SensitiveAction": "true"}, **WINDOW)

    names = {event["eventName"] for event in body.events}
    assert names == {
        "CreateUser",
        "CreateAccessKey",
        "AttachPolicyToUser",
        "StopLogging",
    }


def test_lookup_events_two_attributes_anded(client: Any) -> None:
    attributes = {"EventAccessKeyId": APP_KEY, "EventRW": "Write"}
    events, _ = lookup_all(client, attributes, **WINDOW)

    names = [event["eventName"] for event in events]
    assert names == [
        "StopLogging",
        "AttachPolicyToUser",
        "CreateAccessKey",
        "CreateUser",
    ]


def test_lookup_events_three_attributes_rejected(client: Any) -> None:
    attributes = {"EventRW": "Write", "User": "app-backend", "ServiceName": "Ims"}
    with pytest.raises(ClientException) as caught:
        lookup(client, attributes)

    assert caught.value.code == "InvalidQueryParameter"
    assert caught.value.status_code == 400
    assert "at most 2" in caught.value.message


def test_lookup_events_unknown_key_rejected(client: Any) -> None:
    with pytest.raises(ClientException) as caught:
        lookup(client, {"SourceIp": "203.0.113.7"})

    assert caught.value.code == "InvalidQueryParameter"
    assert "SourceIp" in caught.value.message
    assert "EventAccessKeyId" in caught.value.message


@pytest.mark.parametrize(
    ("key", "value"), [("EventRW", "read"), ("SensitiveAction", "yes")]
)
def test_lookup_events_bad_attribute_value_rejected(
    client: Any, key: str, value: str
) -> None:
    with pytest.raises(ClientException) as caught:
        lookup(client, {key: value})

    assert caught.value.code == "InvalidQueryParameter"
    assert repr(value) in caught.value.message


def test_lookup_events_forward_oldest_first(client: Any) -> None:
    events, _ = lookup_all(client, direction="FORWARD", max_results="50", **WINDOW)

    ids = [event["eventId"] for event in events]
    assert ids == list(reversed(expected_ids(WINDOW_START, WINDOW_END)))


def test_lookup_events_bad_direction_rejected(client: Any) -> None:
    with pytest.raises(ClientException) as caught:
        lookup(client, direction="SIDEWAYS")

    assert caught.value.code == "InvalidQueryParameter"
    assert "SIDEWAYS" in caught.value.message


@pytest.mark.parametrize("direction", ["BACKWARD", "FORWARD"])
def test_lookup_events_pages_without_duplicates(client: Any, direction: str) -> None:
    attributes = {"EventName": "DescribeInstances"}
    events, pages = lookup_all(
        client, attributes, direction=direction, max_results="20", **WINDOW
    )

    ids = [event["eventId"] for event in events]
    expected = expected_ids(
        WINDOW_START, WINDOW_END, lambda e: e["eventName"] == "DescribeInstances"
    )
    if direction == "FORWARD":
        expected.reverse()
    assert len(expected) == 55
    assert pages == 3
    assert len(ids) == len(set(ids))
    assert ids == expected


def test_lookup_events_last_page_has_no_token(client: Any) -> None:
    body = lookup(
        client, {"EventName": "DescribeInstances"}, max_results="50", **WINDOW
    )
    assert body.next_token is not None

    last = lookup(
        client,
        {"EventName": "DescribeInstances"},
        max_results="50",
        next_token=body.next_token,
        **WINDOW,
    )

    assert len(last.events) == 5
    assert last.next_token is None
    assert "NextToken" not in last.to_map()


def test_lookup_events_token_is_base64_json(client: Any) -> None:
    body = lookup(client, max_results="1", **WINDOW)

    payload = json.loads(base64.b64decode(body.next_token))
    assert payload["account"] == "1234567890123456"
    assert payload["eventId"] == body.events[0]["eventId"]
    assert isinstance(payload["time"], int)


def test_lookup_events_token_parameters_mismatch(client: Any) -> None:
    body = lookup(client, {"EventName": "DescribeInstances"}, max_results="5", **WINDOW)

    with pytest.raises(ClientException) as caught:
        lookup(
            client,
            {"EventName": "ListUsers"},
            max_results="5",
            next_token=body.next_token,
            **WINDOW,
        )

    assert caught.value.code == "InvalidParameter"
    assert "NextToken" in caught.value.message


def test_lookup_events_garbage_token_rejected(client: Any) -> None:
    with pytest.raises(ClientException) as caught:
        lookup(client, next_token="not-a-token")

    assert caught.value.code == "InvalidParameter"
    assert "NextToken" in caught.value.message
    assert "not-a-token" in caught.value.message


def test_lookup_events_window_over_30_days_rejected(client: Any) -> None:
    start, end = "2026-10-01T00:00:00Z", "2026-11-01T00:00:01Z"
    with pytest.raises(ClientException) as caught:
        lookup(client, start_time=start, end_time=end)

    assert caught.value.code == "InvalidParameterCombination"
    assert start in caught.value.message
    assert end in caught.value.message
    assert "30 days" in caught.value.message


def test_lookup_events_window_of_30_days_accepted(client: Any) -> None:
    body = lookup(
        client, start_time="2026-10-21T08:00:00Z", end_time="2026-11-20T08:00:00Z"
    )

    assert len(body.events) == 20


def test_lookup_events_start_past_90_days_rejected(client: Any) -> None:
    start = "2026-08-22T07:59:59Z"
    with pytest.raises(ClientException) as caught:
        lookup(client, start_time=start, end_time="2026-09-01T00:00:00Z")

    assert caught.value.code == "InvalidParameterStartTime"
    assert start in caught.value.message
    assert "2026-08-22T08:00:00Z" in caught.value.message


def test_lookup_events_inside_90_days_returned(client: Any) -> None:
    body = lookup(
        client, start_time="2026-08-22T08:00:00Z", end_time="2026-09-01T00:00:00Z"
    )

    assert [event["eventId"] for event in body.events] == [INSIDE_90_DAYS_EVENT]


def test_lookup_events_drop_out_after_90_days(
    audit: RunningEmulator, client: Any
) -> None:
    audit.control("POST", "clock", {"advance_seconds": 4 * 86400})

    body = lookup(
        client, start_time="2026-08-26T08:00:00Z", end_time="2026-09-01T00:00:00Z"
    )

    assert body.events == []
    with pytest.raises(ClientException) as caught:
        lookup(
            client, start_time="2026-08-26T07:59:59Z", end_time="2026-09-01T00:00:00Z"
        )
    assert caught.value.code == "InvalidParameterStartTime"


def test_lookup_events_old_event_never_returned(client: Any) -> None:
    events, _ = lookup_all(client, {"EventName": "DescribeRegions"})

    assert OLD_EVENT not in [event["eventId"] for event in events]


def test_lookup_events_future_event_hidden_until_due(
    audit: RunningEmulator, client: Any
) -> None:
    window = {"start_time": "2026-11-19T00:00:00Z", "end_time": "2026-11-22T00:00:00Z"}
    before = lookup(client, {"EventName": "RunInstances"}, **window)
    audit.control("POST", "clock", {"advance_seconds": 16 * 3600})
    after = lookup(client, {"EventName": "RunInstances"}, **window)

    assert before.events == []
    assert [event["eventId"] for event in after.events] == [FUTURE_EVENT]


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        ({"start_time": "2026-11-19T00:00:00Z"}, "EndTime"),
        ({"end_time": "2026-11-19T00:00:00Z"}, "StartTime"),
    ],
)
def test_lookup_events_needs_both_times(
    client: Any, options: dict[str, str], missing: str
) -> None:
    with pytest.raises(ClientException) as caught:
        lookup(client, **options)

    assert caught.value.code == "InvalidParameterCombination"
    assert f"without {missing}" in caught.value.message


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ("start_time", "InvalidParameterStartTime"),
        ("end_time", "InvalidParameterEndTime"),
    ],
)
def test_lookup_events_bad_time_format_rejected(
    client: Any, field: str, code: str
) -> None:
    times = {"start_time": "2026-11-19T00:00:00Z", "end_time": "2026-11-20T00:00:00Z"}
    times[field] = "2026-11-19 00:00:00"
    with pytest.raises(ClientException) as caught:
        lookup(client, **times)

    assert caught.value.code == code
    assert "'2026-11-19 00:00:00'" in caught.value.message
    assert "YYYY-MM-DDThh:mm:ssZ" in caught.value.message


def test_lookup_events_end_before_start_rejected(client: Any) -> None:
    with pytest.raises(ClientException) as caught:
        lookup(
            client, start_time="2026-11-19T00:00:00Z", end_time="2026-11-18T00:00:00Z"
        )

    assert caught.value.code == "InvalidParameterCombination"
    assert "must be later than" in caught.value.message


@pytest.mark.parametrize(("max_results", "count"), [("0", 20), ("1", 1), ("50", 50)])
def test_lookup_events_max_results_accepted(
    client: Any, max_results: str, count: int
) -> None:
    body = lookup(client, max_results=max_results, **WINDOW)

    assert len(body.events) == count


@pytest.mark.parametrize("max_results", ["51", "-1", "ten"])
def test_lookup_events_max_results_rejected(client: Any, max_results: str) -> None:
    with pytest.raises(ClientException) as caught:
        lookup(client, max_results=max_results)

    assert caught.value.code == "InvalidQueryParameter"
    assert repr(max_results) in caught.value.message
    assert "1 to 50" in caught.value.message


def test_lookup_events_sees_new_calls(audit: RunningEmulator, client: Any) -> None:
    client.describe_trails(at_models.DescribeTrailsRequest())

    body = lookup(client, {"EventName": "DescribeTrails"})

    assert len(body.events) == 1
    event = body.events[0]
    assert event["serviceName"] == "Actiontrail"
    assert event["eventSource"] == "actiontrail.cn-hangzhou.aliyuncs.com"
    assert event["userIdentity"]["accessKeyId"] == RESPONDER[0]
