"""SLS GetLogs, GetHistograms and logstore calls through the real ``LogClient``.

The account is the audit scenario of test_emulator_actiontrail: its trail logstore
actiontrail_main contains one log per scenario event. The clock is frozen at
2026-11-20T08:00:00Z, so the RunInstances log dated 2026-11-21 is not visible yet.
Expected results are computed from the scenario's events with plain Python filters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aliyun.log import GetHistogramsRequest, LogException

from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import RESPONDER, SLS_PROJECT, TRAIL_LOGSTORE, log_client
from tests.test_emulator_actiontrail import SCENARIO_EVENTS, audit_scenario

NOW = 1795161600  # 2026-11-20T08:00:00Z
NOVEMBER = 1793491200  # 2026-11-01T00:00:00Z
JUNE = 1780272000  # 2026-06-01T00:00:00Z
APP_KEY = "LTAI5tAPPBACKEND00000001"


def epoch(event: dict[str, Any]) -> int:
    moment = datetime.strptime(event["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
    return int(moment.replace(tzinfo=UTC).timestamp())


def expected_ids(
    keep: Callable[[dict[str, Any]], bool], start: int = JUNE, end: int = NOW + 86400
) -> list[str]:
    """List the visible scenario events in [start, end) that ``keep`` accepts."""
    chosen = [
        event
        for event in SCENARIO_EVENTS
        if start <= epoch(event) < end and epoch(event) <= NOW and keep(event)
    ]
    chosen.sort(key=epoch)
    return [event["eventId"] for event in chosen]


def event_ids(response: Any) -> list[str]:
    return [
        json.loads(log.get_contents()["event"])["eventId"]
        for log in response.get_logs()
    ]


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with start_emulator(
        audit_scenario(), freeze_clock=True, check_clock_skew=False
    ) as running:
        yield running


@pytest.fixture
def sls(emulator: RunningEmulator) -> Any:
    return log_client(emulator, *RESPONDER)


def search(sls: Any, query: str, start: int = JUNE, end: int = NOW + 86400, **options):
    return sls.get_log(SLS_PROJECT, TRAIL_LOGSTORE, start, end, query=query, **options)


def identity(event: dict[str, Any]) -> dict[str, Any]:
    return event["userIdentity"]


SEARCH_CASES = [
    ("*", lambda e: True),
    ("event.eventName: CreateUser", lambda e: e["eventName"] == "CreateUser"),
    ('"event.eventName": "CreateUser"', lambda e: e["eventName"] == "CreateUser"),
    ("event.eventName: createuser", lambda e: e["eventName"] == "CreateUser"),
    ("event.eventName: Create*", lambda e: e["eventName"].startswith("Create")),
    ("event.eventName: Describe*", lambda e: e["eventName"].startswith("Describe")),
    (
        "event.eventName: CreateUser or event.eventName: StopLogging",
        lambda e: e["eventName"] in ("CreateUser", "StopLogging"),
    ),
    (
        f"event.userIdentity.accessKeyId: {APP_KEY} and event.eventRW: Write",
        lambda e: identity(e).get("accessKeyId") == APP_KEY and e["eventRW"] == "Write",
    ),
    (
        f"event.userIdentity.accessKeyId: {APP_KEY} and not event.serviceName: Ecs",
        lambda e: (
            identity(e).get("accessKeyId") == APP_KEY and e["serviceName"] != "Ecs"
        ),
    ),
    (
        "NOT event.serviceName: Ecs AND event.eventRW: Read",
        lambda e: e["serviceName"] != "Ecs" and e["eventRW"] == "Read",
    ),
    (
        "(event.serviceName: Ims or event.serviceName: Ram) and event.errorCode: "
        "NoPermission",
        lambda e: (
            e["serviceName"] in ("Ims", "Ram") and e["errorCode"] == "NoPermission"
        ),
    ),
    ("NoPermission", lambda e: e["errorCode"] == "NoPermission"),
    ("backdoor", lambda e: "backdoor" in json.dumps(e)),
    (
        '"ims-share.aliyuncs.com"',
        lambda e: e["eventSource"] == "ims-share.aliyuncs.com",
    ),
    (
        "event.userIdentity.userName: alice",
        lambda e: identity(e)["userName"] == "alice",
    ),
    ("event.errorMessage: success", lambda e: e["errorMessage"] == "success"),
    (
        "__topic__: actiontrail_audit_event and event.sourceIpAddress: 198.51.100.20",
        lambda e: e["sourceIpAddress"] == "198.51.100.20",
    ),
    (
        "event.resourceName: LTAI5tBACKDOOR00000001",
        lambda e: "LTAI5tBACKDOOR00000001" in e.get("resourceName", ""),
    ),
    (
        "event.isGlobal: true and event.serviceName: Ram",
        lambda e: e["isGlobal"] is True and e["serviceName"] == "Ram",
    ),
    (
        "event.requestParameters.UserName: backdoor",
        lambda e: e["requestParameters"].get("UserName") == "backdoor",
    ),
]


@pytest.mark.parametrize(("query", "keep"), SEARCH_CASES)
def test_get_logs_search_syntax(sls: Any, query: str, keep: Any) -> None:
    response = search(sls, query)

    expected = expected_ids(keep)
    assert expected, f"the scenario has no log for {query!r}"
    assert response.is_completed()
    assert event_ids(response) == expected
    assert response.get_count() == len(expected)


def test_get_logs_row_shape(sls: Any) -> None:
    response = search(sls, "event.eventName: CreateAccessKey")

    log = response.get_logs()[0]
    assert log.get_time() == 1795050060
    assert log.get_source() == "actiontrail"
    contents = log.get_contents()
    assert set(contents) == {"__topic__", "event"}
    assert contents["__topic__"] == "actiontrail_audit_event"
    assert json.loads(contents["event"])["eventName"] == "CreateAccessKey"


def test_get_logs_topic_filter(sls: Any) -> None:
    matching = search(sls, "*", topic="actiontrail_audit_event")
    other = search(sls, "*", topic="actiontrail_event")

    assert matching.get_count() == len(expected_ids(lambda e: True))
    assert other.get_count() == 0


def test_get_logs_window_half_open(sls: Any) -> None:
    created = 1795050000  # 2026-11-19T01:00:00Z, the CreateUser log

    at_start = search(sls, "event.eventName: CreateUser", created, created + 1)
    at_end = search(sls, "event.eventName: CreateUser", created - 10, created)

    assert at_start.get_count() == 1
    assert at_end.get_count() == 0


def test_get_logs_future_log_hidden(emulator: RunningEmulator, sls: Any) -> None:
    before = search(sls, "event.eventName: RunInstances")
    emulator.control("POST", "clock", {"advance_seconds": 16 * 3600})
    after = search(sls, "event.eventName: RunInstances")

    assert before.get_count() == 0
    assert after.get_count() == 1


@pytest.mark.parametrize("reverse", [False, True])
def test_get_logs_offset_pages(sls: Any, reverse: bool) -> None:
    query = "event.eventName: DescribeInstances"
    pages = []
    offset = 0
    while True:
        response = search(
            sls, query, NOVEMBER, NOW, offset=offset, size=20, reverse=reverse
        )
        if response.get_count() == 0:
            break
        pages.append(event_ids(response))
        offset += response.get_count()

    expected = expected_ids(
        lambda e: e["eventName"] == "DescribeInstances", NOVEMBER, NOW
    )
    if reverse:
        expected.reverse()
    ids = [event_id for page in pages for event_id in page]
    assert [len(page) for page in pages] == [20, 20, 15]
    assert len(ids) == len(set(ids))
    assert ids == expected


def test_get_logs_size_all_follows_pages(sls: Any) -> None:
    response = search(sls, "*", size=-1)

    assert response.get_count() == len(expected_ids(lambda e: True))


def test_get_logs_v1_same_results(sls: Any) -> None:
    sls._get_logs_v2_enabled = False
    query = f"event.userIdentity.accessKeyId: {APP_KEY} and event.eventRW: Write"

    response = search(sls, query, reverse=True)

    expected = expected_ids(
        lambda e: identity(e).get("accessKeyId") == APP_KEY and e["eventRW"] == "Write"
    )
    assert event_ids(response) == list(reversed(expected))
    assert response.is_completed()
    assert response.get_has_sql() is False
    assert response.get_where_query() == query


def test_get_logs_v4_signature(emulator: RunningEmulator) -> None:
    client = log_client(emulator, *RESPONDER, auth_version="v4")

    response = search(client, "event.eventName: CreateUser")

    assert response.get_count() == 1


def sql_rows(response: Any) -> list[dict[str, str]]:
    return [log.get_contents() for log in response.get_logs()]


def test_get_logs_sql_count(sls: Any) -> None:
    response = search(sls, "* | select count(*) as n")

    assert sql_rows(response) == [{"n": str(len(expected_ids(lambda e: True)))}]
    assert response.get_has_sql() is True
    assert response.get_agg_query() == "select count(*) as n"
    assert response.get_logs()[0].get_time() == 0


def test_get_logs_sql_group_by(sls: Any) -> None:
    query = (
        f"event.userIdentity.accessKeyId: {APP_KEY} | select "
        '"event.sourceIpAddress" as ip, count(*) as c group by ip order by c desc'
    )

    response = search(sls, query)

    assert sql_rows(response) == [
        {"ip": "198.51.100.10", "c": "55"},
        {"ip": "203.0.113.7", "c": "6"},
    ]


def test_get_logs_sql_presto_functions(sls: Any) -> None:
    query = (
        "event.eventName: DescribeInstances and event.sourceIpAddress: 198.51.100.10 "
        "| select date_trunc('day', __time__) as day, count(*) as c, "
        "from_unixtime(min(__time__)) as first_seen, "
        "date_format(max(__time__), '%Y-%m-%d %H:%i') as last_seen, "
        'approx_distinct("event.eventId") as ids, '
        "arbitrary(json_extract_scalar(event, '$.userIdentity.userName')) as user "
        "group by day order by day limit 2"
    )

    rows = sql_rows(search(sls, query, NOVEMBER, NOW))

    assert rows == [
        {
            "day": "1793491200",
            "c": "3",
            "first_seen": "2026-11-01 02:10:00.000",
            "last_seen": "2026-11-01 15:10",
            "ids": "3",
            "user": "app-backend",
        },
        {
            "day": "1793577600",
            "c": "3",
            "first_seen": "2026-11-02 02:10:00.000",
            "last_seen": "2026-11-02 15:10",
            "ids": "3",
            "user": "app-backend",
        },
    ]


def test_get_logs_sql_json_extract(sls: Any) -> None:
    query = (
        "event.eventName: CreateAccessKey | select "
        "json_extract(event, '$.responseElements.AccessKey') as key_json, "
        "json_extract_scalar(event, '$.responseElements.AccessKey.Status') as status, "
        '"event.missing" as missing'
    )

    row = sql_rows(search(sls, query))[0]

    assert json.loads(row["key_json"])["AccessKeyId"] == "LTAI5tBACKDOOR00000001"
    assert row["status"] == "Active"
    assert row["missing"] == "null"


@pytest.mark.parametrize(
    ("query", "code", "detail"),
    [
        ("event.eventName:", "InvalidQueryString", "no value"),
        ("(event.eventName: CreateUser", "InvalidQueryString", "closing parenthesis"),
        ('event.eventName: "CreateUser', "InvalidQueryString", "not closed"),
        ("event.eventName: *User", "InvalidQueryString", "wildcard"),
        ("and", "InvalidQueryString", "'and'"),
        ("* | select no_such_function(1)", "ParameterInvalid", "no_such_function"),
        ("* | delete from log", "ParameterInvalid", "not a SELECT"),
        ("* | select (1", "ParameterInvalid", "parentheses"),
    ],
)
def test_get_logs_bad_query_rejected(
    sls: Any, query: str, code: str, detail: str
) -> None:
    with pytest.raises(LogException) as caught:
        search(sls, query)

    assert caught.value.get_error_code() == code
    assert caught.value.get_resp_status() == 400
    assert detail in caught.value.get_error_message()


def test_get_logs_empty_window_rejected(sls: Any) -> None:
    with pytest.raises(LogException) as caught:
        search(sls, "*", NOW, NOW)

    assert caught.value.get_error_code() == "InvalidTimeRange"
    assert str(NOW) in caught.value.get_error_message()


def test_get_logs_negative_offset_rejected(sls: Any) -> None:
    with pytest.raises(LogException) as caught:
        search(sls, "*", offset=-5, size=10)

    assert caught.value.get_error_code() == "InvalidOffset"
    assert "-5" in caught.value.get_error_message()


def test_get_logs_offset_with_sql_rejected(sls: Any) -> None:
    with pytest.raises(LogException) as caught:
        search(sls, "* | select count(*) as n", offset=10)

    assert caught.value.get_error_code() == "ParameterInvalid"
    assert "LIMIT" in caught.value.get_error_message()


def test_get_logs_line_over_100_rejected(sls: Any) -> None:
    # LogClient.get_log splits sizes above 100 into pages of 100, so the oversized
    # line goes through the client's signed request method directly.
    body = json.dumps({"from": JUNE, "to": NOW, "line": 101, "offset": 0, "query": "*"})
    headers = {"Content-Type": "application/json", "x-log-bodyrawsize": str(len(body))}

    with pytest.raises(LogException) as caught:
        sls._send(
            "POST",
            SLS_PROJECT,
            body.encode(),
            f"/logstores/{TRAIL_LOGSTORE}/logs",
            None,
            headers,
        )

    assert caught.value.get_error_code() == "InvalidLine"
    assert "101" in caught.value.get_error_message()


def test_get_logs_missing_project_rejected(sls: Any) -> None:
    with pytest.raises(LogException) as caught:
        sls.get_log("no-such-project", TRAIL_LOGSTORE, JUNE, NOW, query="*")

    assert caught.value.get_error_code() == "ProjectNotExist"
    assert caught.value.get_resp_status() == 404
    assert "no-such-project" in caught.value.get_error_message()


def test_get_logs_missing_logstore_rejected(sls: Any) -> None:
    with pytest.raises(LogException) as caught:
        sls.get_log(SLS_PROJECT, "actiontrail_other", JUNE, NOW, query="*")

    assert caught.value.get_error_code() == "LogStoreNotExist"
    assert caught.value.get_resp_status() == 404
    assert "actiontrail_other" in caught.value.get_error_message()


def histogram(sls: Any, query: str, start: int, end: int) -> Any:
    request = GetHistogramsRequest(SLS_PROJECT, TRAIL_LOGSTORE, start, end, query=query)
    return sls.get_histograms(request)


def test_get_histograms_match_counts(sls: Any) -> None:
    query = "event.eventName: DescribeInstances"

    response = histogram(sls, query, NOVEMBER, NOW)

    buckets = response.get_histograms()
    assert response.is_completed()
    assert response.get_total_count() == 55
    assert len(buckets) == 60
    assert buckets[0].get_from() == NOVEMBER
    assert buckets[-1].get_to() == NOW
    for previous, following in zip(buckets, buckets[1:], strict=False):
        assert previous.get_to() == following.get_from()
    busiest = max(buckets, key=lambda bucket: bucket.get_count())
    logs = search(sls, query, busiest.get_from(), busiest.get_to())
    assert busiest.get_count() == logs.get_count()
    assert busiest.get_count() > 0


def test_get_histograms_short_window_one_second_buckets(sls: Any) -> None:
    response = histogram(sls, "*", 1795050000, 1795050030)

    buckets = response.get_histograms()
    assert len(buckets) == 30
    assert [bucket.get_count() for bucket in buckets] == [1] + [0] * 29


def test_incomplete_then_complete(emulator: RunningEmulator, sls: Any) -> None:
    emulator.control("POST", "config", {"sls_incomplete_polls": 1})
    emulator.control("DELETE", "requests")

    response = search(sls, "event.eventName: Describe*")

    calls = [
        entry
        for entry in emulator.control("GET", "requests")["requests"]
        if entry["action"] == "GetLogs"
    ]
    assert len(calls) == 2
    assert response.is_completed()
    assert response.get_count() == 56


def test_incomplete_histogram_partial(emulator: RunningEmulator, sls: Any) -> None:
    emulator.control("POST", "config", {"sls_incomplete_polls": 1})

    first = histogram(sls, "event.eventName: DescribeInstances", NOVEMBER, NOW)
    second = histogram(sls, "event.eventName: DescribeInstances", NOVEMBER, NOW)

    assert first.is_completed() is False
    assert first.get_total_count() == 27
    assert not any(bucket.is_completed() for bucket in first.get_histograms())
    assert second.is_completed() is True
    assert second.get_total_count() == 55


def test_list_logstores(sls: Any) -> None:
    response = sls.list_logstore(SLS_PROJECT)

    assert response.get_logstores() == [TRAIL_LOGSTORE]
    assert response.get_total() == 1
    assert sls.list_logstore(SLS_PROJECT, "nothing").get_logstores() == []


def test_get_logstore(sls: Any) -> None:
    response = sls.get_logstore(SLS_PROJECT, TRAIL_LOGSTORE)

    assert response.get_shard_count() == 2
    assert response.get_ttl() == 180


def generated_scenario(count: int) -> dict[str, Any]:
    """Return the audit scenario plus ``count`` ListUsers calls, one a minute."""
    scenario = audit_scenario()
    template = SCENARIO_EVENTS[0]
    for number in range(count):
        moment = datetime.fromtimestamp(JUNE + 60 * number, UTC)
        event_id = f"5E0D17E0-0000-4000-8000-{number:012d}"
        scenario["events"].append(
            {
                **template,
                "eventId": event_id,
                "requestId": event_id,
                "eventName": "ListUsers",
                "serviceName": "Ram",
                "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return scenario


@pytest.fixture
def busy() -> Iterator[RunningEmulator]:
    """The audit account with 250 more ListUsers logs on 2026-06-01."""
    with start_emulator(
        generated_scenario(250), freeze_clock=True, check_clock_skew=False
    ) as running:
        yield running


def test_get_logs_pages_of_100_to_end(busy: RunningEmulator) -> None:
    sls = log_client(busy, *RESPONDER)

    pages = list(
        sls.get_log_all(
            SLS_PROJECT,
            TRAIL_LOGSTORE,
            JUNE,
            JUNE + 86400,
            query="event.eventName: ListUsers",
        )
    )

    counts = [page.get_count() for page in pages]
    ids = [event_id for page in pages for event_id in event_ids(page)]
    assert counts == [100, 100, 50, 0]
    assert len(set(ids)) == 250
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("limit", "rows"), [("", 100), ("limit 200", 200), ("limit 1000", 250)]
)
def test_get_logs_sql_default_limit_100(
    busy: RunningEmulator, limit: str, rows: int
) -> None:
    sls = log_client(busy, *RESPONDER)
    query = f'event.eventName: ListUsers | select "event.eventId" as id {limit}'

    response = sls.get_log(SLS_PROJECT, TRAIL_LOGSTORE, JUNE, JUNE + 86400, query=query)

    assert response.get_count() == rows
    assert len({row["id"] for row in sql_rows(response)}) == rows


def test_ram_call_reaches_lookup_and_sls(emulator: RunningEmulator, sls: Any) -> None:
    from alibabacloud_actiontrail20200706 import models as at_models
    from alibabacloud_ram20150501 import models as ram_models

    from tests.helpers import actiontrail_client, ram_client

    ram = ram_client(emulator, *RESPONDER)
    ram.create_user(ram_models.CreateUserRequest(user_name="ir-probe"))
    created = ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="ir-probe")
    )
    secret = created.body.access_key.access_key_secret

    trail = actiontrail_client(emulator, *RESPONDER)
    attributes = [
        at_models.LookupEventsRequestLookupAttribute(
            key="EventName", value="CreateAccessKey"
        ),
        at_models.LookupEventsRequestLookupAttribute(
            key="EventAccessKeyId", value=RESPONDER[0]
        ),
    ]
    looked_up = trail.lookup_events(
        at_models.LookupEventsRequest(lookup_attribute=attributes)
    ).body.events
    delivered = search(
        sls,
        f"event.eventName: CreateAccessKey and "
        f'event.userIdentity.accessKeyId: "{RESPONDER[0]}"',
        NOW - 60,
        NOW + 60,
    )

    assert [event["requestParameters"]["UserName"] for event in looked_up] == [
        "ir-probe"
    ]
    assert delivered.get_count() == 1
    row = delivered.get_logs()[0].get_contents()["event"]
    assert json.loads(row)["eventId"] == looked_up[0]["eventId"]
    assert secret not in json.dumps(looked_up)
    assert secret not in row
