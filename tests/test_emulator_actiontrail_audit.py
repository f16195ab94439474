"""ActionTrail AccessKey audit APIs through the real SDK client.

The account is the audit scenario of test_emulator_actiontrail. Its app-backend key
made 54 Ecs DescribeInstances calls from 198.51.100.10, and on 2026-11-19 made Ims,
Ram, Actiontrail and Ecs calls from 203.0.113.7. It also has a RunInstances call after
the scenario's clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_actiontrail20200706 import models as at_models
from alibabacloud_tea_openapi.exceptions import ClientException

from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import RESPONDER, actiontrail_client
from tests.test_emulator_actiontrail import APP_KEY, SCENARIO_EVENTS, audit_scenario

EXAMPLES = Path(__file__).parent / "data" / "alibaba_openapi_examples"
UNUSED_KEY = "LTAI5tCIDEPLOY000000002B"
# 2026-11-19T04:00:00Z, app-backend's latest visible call (Ecs DescribeInstances).
LATEST_MS = 1795060800000


@pytest.fixture
def audit() -> Iterator[RunningEmulator]:
    with start_emulator(
        audit_scenario(), freeze_clock=True, check_clock_skew=False
    ) as running:
        yield running


@pytest.fixture
def client(audit: RunningEmulator) -> Any:
    return actiontrail_client(audit, *RESPONDER)


def vendor_example(action: str) -> dict[str, Any]:
    path = EXAMPLES / f"actiontrail_2020-07-06__{action}.response_example.json"
    return json.loads(path.read_text(encoding="utf-8"))


def scenario_event(event_id: str) -> dict[str, Any]:
    return next(event for event in SCENARIO_EVENTS if event["eventId"] == event_id)


def test_last_used_info_latest_call(client: Any) -> None:
    request = at_models.GetAccessKeyLastUsedInfoRequest(access_key=APP_KEY)
    body = client.get_access_key_last_used_info(request).body

    assert body.access_key_id == APP_KEY
    assert body.account_id == "1234567890123456"
    assert body.owner_id == "200000000000000002"
    assert body.user_name == "app-backend"
    assert body.account_type == "ram-user"
    assert body.used_timestamp == LATEST_MS
    assert body.service_name == "Ecs"
    assert body.service_name_en == "Elastic Compute Service"
    assert body.service_name_cn == "云服务器ECS"
    assert body.source == "ManagementEvent"
    detail = json.loads(body.detail)
    assert detail == scenario_event("1A0D17E0-0000-4000-8000-000000000009")


def test_last_used_info_unused_key_empty(client: Any) -> None:
    request = at_models.GetAccessKeyLastUsedInfoRequest(access_key=UNUSED_KEY)
    body = client.get_access_key_last_used_info(request).body

    assert body.access_key_id == UNUSED_KEY
    assert body.used_timestamp is None
    assert body.service_name == ""
    assert body.detail == ""


def test_last_used_info_needs_access_key(client: Any) -> None:
    with pytest.raises(ClientException) as caught:
        client.get_access_key_last_used_info(
            at_models.GetAccessKeyLastUsedInfoRequest()
        )

    assert caught.value.code == "MissingParameter"
    assert "AccessKey" in caught.value.message


def test_last_used_products_newest_first(client: Any) -> None:
    request = at_models.GetAccessKeyLastUsedProductsRequest(access_key=APP_KEY)
    products = client.get_access_key_last_used_products(request).body.products

    names = [product.service_name for product in products]
    assert names == ["Ecs", "Actiontrail", "Ram", "Ims"]
    assert products[0].used_timestamp == LATEST_MS
    assert products[1].service_name_en == "ActionTrail"
    assert json.loads(products[3].detail)["eventName"] == "CreateAccessKey"


def test_last_used_events_per_operation(client: Any) -> None:
    request = at_models.GetAccessKeyLastUsedEventsRequest(
        access_key=APP_KEY, service_name="Ecs"
    )
    body = client.get_access_key_last_used_events(request).body

    assert [event.event_name for event in body.events] == [
        "DescribeInstances",
        "DescribeRegions",
    ]
    assert body.events[0].used_timestamp == LATEST_MS
    assert body.events[1].source == "ManagementEvent"
    assert body.next_token is None


def test_last_used_events_pages(client: Any) -> None:
    names = []
    token = None
    pages = 0
    while True:
        request = at_models.GetAccessKeyLastUsedEventsRequest(
            access_key=APP_KEY, service_name="Ecs", page_size="1", next_token=token
        )
        body = client.get_access_key_last_used_events(request).body
        pages += 1
        names.extend(event.event_name for event in body.events)
        token = body.next_token
        if not token:
            break

    assert pages == 2
    assert names == ["DescribeInstances", "DescribeRegions"]


def test_last_used_events_token_mismatch(client: Any) -> None:
    first = at_models.GetAccessKeyLastUsedEventsRequest(
        access_key=APP_KEY, service_name="Ecs", page_size="1"
    )
    token = client.get_access_key_last_used_events(first).body.next_token
    other = at_models.GetAccessKeyLastUsedEventsRequest(
        access_key=APP_KEY, service_name="Ram", page_size="1", next_token=token
    )

    with pytest.raises(ClientException) as caught:
        client.get_access_key_last_used_events(other)

    assert caught.value.code == "InvalidParameter"
    assert "NextToken" in caught.value.message


def test_last_used_events_show_due_call(audit: RunningEmulator, client: Any) -> None:
    audit.control("POST", "clock", {"advance_seconds": 16 * 3600})
    request = at_models.GetAccessKeyLastUsedEventsRequest(
        access_key=APP_KEY, service_name="Ecs"
    )

    body = client.get_access_key_last_used_events(request).body

    assert body.events[0].event_name == "RunInstances"


@pytest.mark.parametrize(
    "action",
    [
        "get_access_key_last_used_events",
        "get_access_key_last_used_ips",
        "get_access_key_last_used_resources",
    ],
)
def test_last_used_lists_need_service_name(client: Any, action: str) -> None:
    request_class = {
        "get_access_key_last_used_events": at_models.GetAccessKeyLastUsedEventsRequest,
        "get_access_key_last_used_ips": at_models.GetAccessKeyLastUsedIpsRequest,
        "get_access_key_last_used_resources": (
            at_models.GetAccessKeyLastUsedResourcesRequest
        ),
    }[action]

    with pytest.raises(ClientException) as caught:
        getattr(client, action)(request_class(access_key=APP_KEY))

    assert caught.value.code == "MissingParameter"
    assert "ServiceName" in caught.value.message


@pytest.mark.parametrize("page_size", ["101", "-1", "many"])
def test_last_used_page_size_rejected(client: Any, page_size: str) -> None:
    request = at_models.GetAccessKeyLastUsedIpsRequest(
        access_key=APP_KEY, service_name="Ecs", page_size=page_size
    )

    with pytest.raises(ClientException) as caught:
        client.get_access_key_last_used_ips(request)

    assert caught.value.code == "InvalidQueryParameter"
    assert repr(page_size) in caught.value.message
    assert "0 to 100" in caught.value.message


def test_last_used_ips_per_address(client: Any) -> None:
    request = at_models.GetAccessKeyLastUsedIpsRequest(
        access_key=APP_KEY, service_name="ecs", page_size="0"
    )
    ips = client.get_access_key_last_used_ips(request).body.ips

    assert [item.ip for item in ips] == ["203.0.113.7", "198.51.100.10"]
    assert ips[0].used_timestamp == LATEST_MS
    assert json.loads(ips[1].detail)["eventTime"] == "2026-11-18T15:10:00Z"


def test_last_used_resources_split_lists(client: Any) -> None:
    request = at_models.GetAccessKeyLastUsedResourcesRequest(
        access_key=APP_KEY, service_name="Ims"
    )
    resources = client.get_access_key_last_used_resources(request).body.resources

    pairs = [(item.resource_type, item.resource_name) for item in resources]
    assert pairs == [
        ("ACS::RAM::User", "backdoor"),
        ("ACS::RAM::AccessKey", "LTAI5tBACKDOOR00000001"),
    ]
    assert json.loads(resources[0].detail)["eventName"] == "CreateAccessKey"


def test_last_used_unused_key_lists_empty(client: Any) -> None:
    products = client.get_access_key_last_used_products(
        at_models.GetAccessKeyLastUsedProductsRequest(access_key=UNUSED_KEY)
    ).body
    ips = client.get_access_key_last_used_ips(
        at_models.GetAccessKeyLastUsedIpsRequest(
            access_key=UNUSED_KEY, service_name="Ecs"
        )
    ).body

    assert products.products == []
    assert ips.ips == []
    assert ips.next_token is None


AUDIT_SHAPES = [
    ("GetAccessKeyLastUsedInfo", None, {"access_key": APP_KEY}),
    ("GetAccessKeyLastUsedProducts", "Products", {"access_key": APP_KEY}),
    (
        "GetAccessKeyLastUsedEvents",
        "Events",
        {"access_key": APP_KEY, "service_name": "Ecs", "page_size": "1"},
    ),
    (
        "GetAccessKeyLastUsedIps",
        "Ips",
        {"access_key": APP_KEY, "service_name": "Ecs", "page_size": "1"},
    ),
    (
        "GetAccessKeyLastUsedResources",
        "Resources",
        {"access_key": APP_KEY, "service_name": "Ims", "page_size": "1"},
    ),
]


@pytest.mark.parametrize(("action", "list_name", "options"), AUDIT_SHAPES)
def test_audit_fields_match_vendor_example(
    client: Any, action: str, list_name: str | None, options: dict[str, str]
) -> None:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in action).lstrip("_")
    request = getattr(at_models, f"{action}Request")(**options)
    body = getattr(client, snake)(request).body.to_map()
    example = vendor_example(action)

    assert set(body) == set(example)
    if list_name is not None:
        assert set(body[list_name][0]) == set(example[list_name][0])
        item = body[list_name][0]
    else:
        item = body
    assert isinstance(item["UsedTimestamp"], int)
    assert isinstance(json.loads(item["Detail"]), dict)
