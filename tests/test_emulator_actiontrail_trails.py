"""ActionTrail trail APIs through the real SDK, and trail tampering seen from SLS.

The base scenario's trail ``main`` delivers to the SLS logstore actiontrail_main of
project audit-1234567890123456. The clock is frozen at 2026-11-20T08:00:00Z, so calls
made by a test are recorded at that second.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_actiontrail20200706 import models as at_models
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi.exceptions import ClientException

from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import (
    RESPONDER,
    SLS_PROJECT,
    TRAIL_LOGSTORE,
    actiontrail_client,
    log_client,
    ram_client,
)
from tests.test_emulator_actiontrail import lookup

EXAMPLES = Path(__file__).parent / "data" / "alibaba_openapi_examples"
SCENARIOS = Path(__file__).parent / "scenarios"
NOW_EPOCH = 1795161600  # 2026-11-20T08:00:00Z
PROJECT_ARN = f"acs:log:cn-hangzhou:1234567890123456:project/{SLS_PROJECT}"


@pytest.fixture
def emulator() -> Iterator[RunningEmulator]:
    with start_emulator(
        SCENARIOS / "basic.json",
        freeze_clock=True,
        check_clock_skew=False,
        config={"lookup_events_rate_limit": None},
    ) as running:
        yield running


@pytest.fixture
def client(emulator: RunningEmulator) -> Any:
    return actiontrail_client(emulator, *RESPONDER)


def describe(client: Any, names: str | None = None) -> list[Any]:
    request = at_models.DescribeTrailsRequest(name_list=names)
    return client.describe_trails(request).body.trail_list


def status(client: Any, name: str) -> Any:
    return client.get_trail_status(at_models.GetTrailStatusRequest(name=name)).body


def recent_sls_events(emulator: RunningEmulator, logstore: str) -> list[dict]:
    """Return the events delivered to a logstore in the minute around the clock."""
    response = log_client(emulator, *RESPONDER).get_log(
        SLS_PROJECT, logstore, NOW_EPOCH - 60, NOW_EPOCH + 60, query="*", size=100
    )
    return [json.loads(log.get_contents()["event"]) for log in response.get_logs()]


def create_incident_trail(client: Any, **options: Any) -> Any:
    request = at_models.CreateTrailRequest(
        name="incident-trail", sls_project_arn=PROJECT_ARN, **options
    )
    return client.create_trail(request).body


def test_describe_trails_scenario_trail(client: Any) -> None:
    trails = describe(client)

    assert len(trails) == 1
    trail = trails[0]
    assert trail.name == "main"
    assert trail.status == "Enable"
    assert trail.home_region == "cn-hangzhou"
    assert trail.sls_project_arn == PROJECT_ARN
    assert trail.trail_arn == "acs:actiontrail:cn-hangzhou:1234567890123456:trail/main"
    assert trail.sls_write_role_arn.endswith(":role/aliyunserviceroleforactiontrail")
    assert trail.event_rw == "All"


def test_describe_trails_name_list_filters(client: Any) -> None:
    create_incident_trail(client)

    assert [trail.name for trail in describe(client, "incident-trail")] == [
        "incident-trail"
    ]
    assert [trail.name for trail in describe(client, "main, incident-trail")] == [
        "main",
        "incident-trail",
    ]
    assert describe(client, "no-such-trail") == []


def test_trail_fields_match_vendor_example(client: Any) -> None:
    body = client.describe_trails(at_models.DescribeTrailsRequest()).body.to_map()
    example = json.loads(
        (
            EXAMPLES / "actiontrail_2020-07-06__DescribeTrails.response_example.json"
        ).read_text(encoding="utf-8")
    )
    status_body = status(client, "main").to_map()
    status_example = json.loads(
        (
            EXAMPLES / "actiontrail_2020-07-06__GetTrailStatus.response_example.json"
        ).read_text(encoding="utf-8")
    )

    assert set(body["TrailList"][0]) == set(example["TrailList"][0])
    assert set(status_body) == set(status_example)


def test_trail_status_logging(client: Any) -> None:
    body = status(client, "main")

    assert body.is_logging is True
    assert body.sls_log_store_status is True
    assert body.oss_bucket_status is False
    assert body.latest_delivery_time == "2026-11-18T15:10:00Z"
    assert body.stop_logging_time == ""


def test_create_trail_starts_fresh(emulator: RunningEmulator, client: Any) -> None:
    created = create_incident_trail(client, event_rw="All")

    assert created.name == "incident-trail"
    assert created.home_region == "cn-hangzhou"
    assert created.trail_region == "All"
    assert created.event_rw == "All"
    assert created.sls_project_arn == PROJECT_ARN
    assert describe(client, "incident-trail")[0].status == "Fresh"
    assert status(client, "incident-trail").is_logging is False
    logstores = log_client(emulator, *RESPONDER).list_logstore(SLS_PROJECT)
    assert "actiontrail_incident-trail" in logstores.get_logstores()


def test_create_trail_default_event_rw_write(client: Any) -> None:
    assert create_incident_trail(client).event_rw == "Write"


def test_start_logging_delivers_calls(emulator: RunningEmulator, client: Any) -> None:
    create_incident_trail(client, event_rw="All")
    client.start_logging(at_models.StartLoggingRequest(name="incident-trail"))

    ram_client(emulator, *RESPONDER).list_users(ram_models.ListUsersRequest())

    body = status(client, "incident-trail")
    assert body.is_logging is True
    assert body.start_logging_time == "2026-11-20T08:00:00Z"
    names = [
        e["eventName"]
        for e in recent_sls_events(emulator, "actiontrail_incident-trail")
    ]
    assert "ListUsers" in names
    assert describe(client, "incident-trail")[0].status == "Enable"


@pytest.mark.parametrize(
    ("options", "code", "status_code", "detail"),
    [
        ({"name": "Bad_Name"}, "InvalidTrailNameException", 400, "'Bad_Name'"),
        ({"name": "short"}, "InvalidTrailNameException", 400, "6 to 36"),
        ({}, "InvalidDeliveryConfigurationException", 400, "SlsProjectArn"),
        (
            {"sls_project_arn": "audit-1234567890123456"},
            "InvalidQueryParameter",
            400,
            "'audit-1234567890123456'",
        ),
        (
            {"sls_project_arn": PROJECT_ARN, "event_rw": "Both"},
            "InvalidQueryParameter",
            400,
            "Read, Write or All",
        ),
    ],
)
def test_create_trail_invalid_rejected(
    client: Any, options: dict[str, str], code: str, status_code: int, detail: str
) -> None:
    options.setdefault("name", "incident-trail")
    with pytest.raises(ClientException) as caught:
        client.create_trail(at_models.CreateTrailRequest(**options))

    assert caught.value.code == code
    assert caught.value.status_code == status_code
    assert detail in caught.value.message
    assert [trail.name for trail in describe(client)] == ["main"]


def test_create_trail_duplicate_rejected(client: Any) -> None:
    create_incident_trail(client)

    with pytest.raises(ClientException) as caught:
        create_incident_trail(client)

    assert caught.value.code == "TrailAlreadyExistsException"
    assert "'incident-trail'" in caught.value.message


def test_create_trail_sixth_rejected(client: Any) -> None:
    for number in range(4):
        client.create_trail(
            at_models.CreateTrailRequest(
                name=f"extra-trail-{number}", oss_bucket_name="audit-bucket"
            )
        )

    with pytest.raises(ClientException) as caught:
        create_incident_trail(client)

    assert caught.value.code == "MaximumNumberOfTrailsExceededException"
    assert caught.value.status_code == 403
    assert len(describe(client)) == 5


@pytest.mark.parametrize(
    ("action", "request_class"),
    [
        ("get_trail_status", at_models.GetTrailStatusRequest),
        ("start_logging", at_models.StartLoggingRequest),
        ("stop_logging", at_models.StopLoggingRequest),
        ("delete_trail", at_models.DeleteTrailRequest),
        ("update_trail", at_models.UpdateTrailRequest),
    ],
)
def test_unknown_trail_not_found(client: Any, action: str, request_class: Any) -> None:
    with pytest.raises(ClientException) as caught:
        getattr(client, action)(request_class(name="no-such-trail"))

    assert caught.value.code == "TrailNotFoundException"
    assert caught.value.status_code == 404
    assert "'no-such-trail'" in caught.value.message
    assert "DescribeTrails" in caught.value.message


def test_stop_logging_hides_calls_from_sls(
    emulator: RunningEmulator, client: Any
) -> None:
    client.stop_logging(at_models.StopLoggingRequest(name="main"))
    ram_client(emulator, *RESPONDER).list_users(ram_models.ListUsersRequest())

    trail = describe(client, "main")[0]
    assert trail.status == "Disable"
    assert trail.stop_logging_time == "2026-11-20T08:00:00Z"
    assert status(client, "main").is_logging is False
    looked_up = lookup(client, {"EventName": "ListUsers"}).events
    assert [event["userIdentity"]["accessKeyId"] for event in looked_up] == [
        RESPONDER[0]
    ]
    stopped = lookup(client, {"EventName": "StopLogging"}).events
    assert len(stopped) == 1
    assert recent_sls_events(emulator, TRAIL_LOGSTORE) == []


def test_start_logging_resumes_delivery(emulator: RunningEmulator, client: Any) -> None:
    client.stop_logging(at_models.StopLoggingRequest(name="main"))
    ram = ram_client(emulator, *RESPONDER)
    ram.list_users(ram_models.ListUsersRequest())
    client.start_logging(at_models.StartLoggingRequest(name="main"))

    ram.list_groups(ram_models.ListGroupsRequest())

    names = [e["eventName"] for e in recent_sls_events(emulator, TRAIL_LOGSTORE)]
    assert "ListGroups" in names
    assert "ListUsers" not in names
    assert status(client, "main").is_logging is True


def test_update_trail_changes_settings(client: Any) -> None:
    request = at_models.UpdateTrailRequest(
        name="main", event_rw="Write", oss_bucket_name="audit-archive"
    )
    updated = client.update_trail(request).body

    assert updated.event_rw == "Write"
    assert updated.oss_bucket_name == "audit-archive"
    assert updated.sls_project_arn == PROJECT_ARN
    trail = describe(client, "main")[0]
    assert trail.event_rw == "Write"
    assert trail.update_time == "2026-11-20T08:00:00Z"
    assert trail.status == "Enable"


def test_delete_trail_keeps_logstore(emulator: RunningEmulator, client: Any) -> None:
    client.delete_trail(at_models.DeleteTrailRequest(name="main"))

    assert describe(client) == []
    sls = log_client(emulator, *RESPONDER)
    assert sls.list_logstore(SLS_PROJECT).get_logstores() == [TRAIL_LOGSTORE]
    history = sls.get_log(
        SLS_PROJECT, TRAIL_LOGSTORE, NOW_EPOCH - 30 * 86400, NOW_EPOCH, query="*"
    )
    assert history.get_count() == 54


def test_trail_calls_name_trail_resource(client: Any) -> None:
    client.stop_logging(at_models.StopLoggingRequest(name="main"))

    event = lookup(client, {"EventName": "StopLogging"}).events[0]

    assert event["serviceName"] == "Actiontrail"
    assert event["eventRW"] == "Write"
    assert event["referencedResources"] == {"ACS::ActionTrail::Trail": ["main"]}
    assert (
        lookup(client, {"SensitiveAction": "true"}).events[0]["eventId"]
        == (event["eventId"])
    )
