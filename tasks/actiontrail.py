"""ActionTrail tasks: event history and the AccessKey audit APIs.

``lookup_events_page`` fetches one LookupEvents page. ``lookup_events`` fetches every
event between two times: it splits the range into windows of at most 30 days
(LookupEvents' maximum range) and follows ``NextToken``, newest window first. It makes
at most ``AKRESPONDER_ACTIONTRAIL_RPS`` calls per second (default 2, ActionTrail's
documented limit). Events are the raw camelCase records LookupEvents returns.
ActionTrail keeps 90 days of events, so ``lookup_events`` starts no earlier than 90
days (less a 10-minute margin) before ``end_time`` and logs a warning when it cuts.

The AccessKey audit family takes an AccessKey ID: ``get_access_key_last_used_info``
(who owns the key, last use), ``get_access_key_last_used_products``, and, per
service, ``get_access_key_last_used_ips`` / ``_events`` / ``_resources`` (all pages).
These return PascalCase records. ``describe_trails`` and ``get_trail_status`` tell
whether a trail records and where it delivers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from alibabacloud_actiontrail20200706 import models as trail_models

from akresponder.config import CloudConnection
from akresponder.retry import pacer_for
from tasks._common import (
    body_map,
    call_api,
    check_access_key_id,
    check_page_size,
    cloud_task,
    fields,
    iso_z,
    task_logger,
    to_utc,
)

ENV_RPS = "AKRESPONDER_ACTIONTRAIL_RPS"
DEFAULT_RPS = 2.0
MAX_WINDOW = timedelta(days=30)
# LookupEvents rejects a StartTime older than 90 days before the service's current
# time; the margin keeps a start computed from end_time inside that limit.
RETENTION = timedelta(days=90)
RETENTION_MARGIN = timedelta(minutes=10)
LOOKUP_PAGE_MAX = 50
AUDIT_PAGE_MAX = 100
LOOKUP_KEYS = (
    "EventId",
    "EventName",
    "EventRW",
    "EventAccessKeyId",
    "ResourceName",
    "ResourceType",
    "ServiceName",
    "User",
)
DIRECTIONS = ("BACKWARD", "FORWARD")


def lookup_rate() -> float:
    """Return the LookupEvents calls per second allowed by the environment."""
    text = os.environ.get(ENV_RPS, "")
    if not text:
        return DEFAULT_RPS
    try:
        rate = float(text)
    except ValueError:
        raise ValueError(
            f"{ENV_RPS}={text!r} is not a number; give calls per second such as 2"
        ) from None
    if rate <= 0:
        raise ValueError(f"{ENV_RPS}={text!r} must be positive")
    return rate


def _attributes(
    attributes: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> list[trail_models.LookupEventsRequestLookupAttribute]:
    pairs = list(
        attributes.items() if isinstance(attributes, Mapping) else attributes or []
    )
    if len(pairs) > 2:
        raise ValueError(
            f"LookupEvents takes at most two lookup attributes, got {len(pairs)}; "
            "filter the rest on the returned events"
        )
    result = []
    for key, value in pairs:
        if key not in LOOKUP_KEYS:
            raise ValueError(
                f"invalid lookup attribute {key!r}; use one of {', '.join(LOOKUP_KEYS)}"
            )
        if key == "EventAccessKeyId":
            check_access_key_id(value)
        result.append(
            trail_models.LookupEventsRequestLookupAttribute(key=key, value=str(value))
        )
    return result


def _window(
    start_time: datetime | str, end_time: datetime | str
) -> tuple[datetime, datetime]:
    start = to_utc(start_time, "start_time")
    end = to_utc(end_time, "end_time")
    if start >= end:
        raise ValueError(
            f"start_time {iso_z(start)} is not before end_time {iso_z(end)}; "
            "swap them or widen the range"
        )
    return start, end


def _lookup(
    connection: CloudConnection,
    start: datetime,
    end: datetime,
    attributes: list[trail_models.LookupEventsRequestLookupAttribute],
    page_size: int,
    next_token: str | None,
    direction: str | None,
) -> dict[str, Any]:
    request = trail_models.LookupEventsRequest(
        start_time=iso_z(start),
        end_time=iso_z(end),
        lookup_attribute=attributes or None,
        max_results=str(page_size),
        next_token=next_token or None,
        direction=direction,
    )
    target = " ".join(f"{a.key}={a.value}" for a in attributes) or "all events"
    response = call_api(
        connection,
        "actiontrail",
        "LookupEvents",
        lambda client: client.lookup_events(request),
        target=f"{target} window={iso_z(start)}/{iso_z(end)}",
        pacer=pacer_for("actiontrail:LookupEvents", lookup_rate()),
    )
    return body_map(response)


@cloud_task("actiontrail:LookupEvents")
def lookup_events_page(
    connection: CloudConnection,
    *,
    start_time: datetime | str,
    end_time: datetime | str,
    attributes: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    page_size: int = LOOKUP_PAGE_MAX,
    next_token: str | None = None,
    direction: str | None = None,
    incident: str = "",
) -> dict[str, Any]:
    """Fetch one page of events in a range of at most 30 days.

    Returns ``{"Events": [...], "NextToken": str | None}``; pass ``NextToken`` back
    with the same other arguments for the next page.
    """
    start, end = _window(start_time, end_time)
    if end - start > MAX_WINDOW:
        raise ValueError(
            f"range {iso_z(start)}/{iso_z(end)} is longer than 30 days; use "
            "lookup_events, which splits it"
        )
    check_page_size(page_size, LOOKUP_PAGE_MAX)
    if direction is not None and direction not in DIRECTIONS:
        raise ValueError(
            f"invalid direction {direction!r}; use one of {', '.join(DIRECTIONS)}"
        )
    lookup_attributes = _attributes(attributes)
    log = task_logger()
    log.debug(
        "Looking up events %s",
        fields(incident=incident, start=iso_z(start), end=iso_z(end)),
    )

    body = _lookup(
        connection, start, end, lookup_attributes, page_size, next_token, direction
    )
    return {
        "Events": list(body.get("Events") or []),
        "NextToken": body.get("NextToken") or None,
    }


@cloud_task("actiontrail:LookupEvents")
def lookup_events(
    connection: CloudConnection,
    *,
    start_time: datetime | str,
    end_time: datetime | str,
    attributes: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    page_size: int = LOOKUP_PAGE_MAX,
    max_events: int | None = None,
    incident: str = "",
) -> list[dict[str, Any]]:
    """Fetch every event in ``[start_time, end_time)``, newest window first.

    Ranges longer than 30 days are split into windows; each window is paged to its
    end. ``max_events`` stops early (the result is then the newest events found
    first). Events that appear in two windows are returned once (by ``eventId``).
    """
    start, end = _window(start_time, end_time)
    check_page_size(page_size, LOOKUP_PAGE_MAX)
    if max_events is not None and max_events < 1:
        raise ValueError(f"invalid max_events {max_events!r}; use 1 or more, or None")
    lookup_attributes = _attributes(attributes)
    log = task_logger()
    oldest = end - RETENTION + RETENTION_MARGIN
    if start < oldest:
        log.warning(
            "ActionTrail keeps 90 days of events; querying from %s instead of %s. "
            "Query the trail's SLS logstore for older events. %s",
            iso_z(oldest),
            iso_z(start),
            fields(incident=incident),
        )
        start = oldest
    log.info(
        "Looking up events %s",
        fields(
            incident=incident,
            action="LookupEvents",
            start=iso_z(start),
            end=iso_z(end),
            filter=" ".join(f"{a.key}={a.value}" for a in lookup_attributes) or "none",
        ),
    )

    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    requests = 0
    window_end = end
    while window_end > start and (max_events is None or len(events) < max_events):
        window_start = max(start, window_end - MAX_WINDOW)
        token: str | None = None
        while True:
            body = _lookup(
                connection,
                window_start,
                window_end,
                lookup_attributes,
                page_size,
                token,
                None,
            )
            requests += 1
            for event in body.get("Events") or []:
                event_id = event.get("eventId")
                if event_id and event_id in seen:
                    continue
                if event_id:
                    seen.add(event_id)
                events.append(event)
            token = body.get("NextToken") or None
            if token is None or (max_events is not None and len(events) >= max_events):
                break
        window_end = window_start

    if max_events is not None:
        events = events[:max_events]
    log.info(
        "Looked up events %s",
        fields(incident=incident, events=len(events), requests=requests),
    )
    return events


def _audit_call(
    connection: CloudConnection,
    action: str,
    request: Any,
    method: str,
    access_key_id: str,
) -> dict[str, Any]:
    response = call_api(
        connection,
        "actiontrail",
        action,
        lambda client: getattr(client, method)(request),
        target=f"access_key_id={access_key_id}",
    )
    body = body_map(response)
    body.pop("RequestId", None)
    return body


@cloud_task("actiontrail:GetAccessKeyLastUsedInfo")
def get_access_key_last_used_info(
    connection: CloudConnection, access_key_id: str, *, incident: str = ""
) -> dict[str, Any]:
    """Return who owns a key and its last use (``UserName``, ``AccountId``,
    ``ServiceName``, ``UsedTimestamp`` in ms, ...)."""
    check_access_key_id(access_key_id)
    log = task_logger()
    log.info(
        "Getting AccessKey last use %s",
        fields(incident=incident, access_key_id=access_key_id),
    )

    request = trail_models.GetAccessKeyLastUsedInfoRequest(access_key=access_key_id)
    info = _audit_call(
        connection,
        "GetAccessKeyLastUsedInfo",
        request,
        "get_access_key_last_used_info",
        access_key_id,
    )

    log.info(
        "Got AccessKey last use %s",
        fields(
            incident=incident,
            access_key_id=access_key_id,
            owner=info.get("UserName"),
            service=info.get("ServiceName"),
        ),
    )
    return info


@cloud_task("actiontrail:GetAccessKeyLastUsedProducts")
def get_access_key_last_used_products(
    connection: CloudConnection, access_key_id: str, *, incident: str = ""
) -> list[dict[str, Any]]:
    """List the services a key was used with (``ServiceName``, ``UsedTimestamp``)."""
    check_access_key_id(access_key_id)
    log = task_logger()
    log.info(
        "Listing AccessKey products %s",
        fields(incident=incident, access_key_id=access_key_id),
    )

    request = trail_models.GetAccessKeyLastUsedProductsRequest(access_key=access_key_id)
    body = _audit_call(
        connection,
        "GetAccessKeyLastUsedProducts",
        request,
        "get_access_key_last_used_products",
        access_key_id,
    )
    return list(body.get("Products") or [])


def _audit_pages(
    connection: CloudConnection,
    action: str,
    method: str,
    list_key: str,
    access_key_id: str,
    service_name: str,
    page_size: int,
    incident: str,
) -> list[dict[str, Any]]:
    check_access_key_id(access_key_id)
    if not service_name or not service_name.isalnum():
        raise ValueError(
            f"invalid service_name {service_name!r}; give a ServiceName from "
            "get_access_key_last_used_products, such as Ecs or Ram"
        )
    check_page_size(page_size, AUDIT_PAGE_MAX)
    log = task_logger()
    log.info(
        "Listing AccessKey %s %s",
        list_key.lower(),
        fields(incident=incident, access_key_id=access_key_id, service=service_name),
    )

    model = getattr(trail_models, f"{action}Request")
    records: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        request = model(
            access_key=access_key_id,
            service_name=service_name,
            page_size=str(page_size),
            next_token=token,
        )
        body = _audit_call(connection, action, request, method, access_key_id)
        records.extend(body.get(list_key) or [])
        token = body.get("NextToken") or None
        if token is None:
            break

    log.info(
        "Listed AccessKey %s %s",
        list_key.lower(),
        fields(incident=incident, access_key_id=access_key_id, count=len(records)),
    )
    return records


@cloud_task("actiontrail:GetAccessKeyLastUsedIps")
def get_access_key_last_used_ips(
    connection: CloudConnection,
    access_key_id: str,
    service_name: str,
    *,
    page_size: int = AUDIT_PAGE_MAX,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List the source IPs a key was used from for one service (all pages)."""
    return _audit_pages(
        connection,
        "GetAccessKeyLastUsedIps",
        "get_access_key_last_used_ips",
        "Ips",
        access_key_id,
        service_name,
        page_size,
        incident,
    )


@cloud_task("actiontrail:GetAccessKeyLastUsedEvents")
def get_access_key_last_used_events(
    connection: CloudConnection,
    access_key_id: str,
    service_name: str,
    *,
    page_size: int = AUDIT_PAGE_MAX,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List the event names a key called for one service (all pages)."""
    return _audit_pages(
        connection,
        "GetAccessKeyLastUsedEvents",
        "get_access_key_last_used_events",
        "Events",
        access_key_id,
        service_name,
        page_size,
        incident,
    )


@cloud_task("actiontrail:GetAccessKeyLastUsedResources")
def get_access_key_last_used_resources(
    connection: CloudConnection,
    access_key_id: str,
    service_name: str,
    *,
    page_size: int = AUDIT_PAGE_MAX,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List the resources a key touched in one service (all pages)."""
    return _audit_pages(
        connection,
        "GetAccessKeyLastUsedResources",
        "get_access_key_last_used_resources",
        "Resources",
        access_key_id,
        service_name,
        page_size,
        incident,
    )


@cloud_task("actiontrail:DescribeTrails")
def describe_trails(
    connection: CloudConnection,
    *,
    names: list[str] | None = None,
    include_shadow_trails: bool = False,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List the account's trails (``Name``, ``Status``, ``SlsProjectArn``, ...)."""
    for name in names or []:
        if not name or "," in name:
            raise ValueError(f"invalid trail name {name!r}; give names without commas")
    log = task_logger()
    log.info("Describing trails %s", fields(incident=incident))

    request = trail_models.DescribeTrailsRequest(
        name_list=",".join(names) if names else None,
        include_shadow_trails=include_shadow_trails,
    )
    response = call_api(
        connection,
        "actiontrail",
        "DescribeTrails",
        lambda client: client.describe_trails(request),
        target=f"trails={','.join(names) if names else 'all'}",
    )
    trails = list(body_map(response).get("TrailList") or [])

    log.info("Described trails %s", fields(incident=incident, trails=len(trails)))
    return trails


@cloud_task("actiontrail:GetTrailStatus")
def get_trail_status(
    connection: CloudConnection, name: str, *, incident: str = ""
) -> dict[str, Any]:
    """Return a trail's status (``IsLogging``, ``LatestDeliveryTime``, ...)."""
    if not name:
        raise ValueError("trail name is empty; give a name from describe_trails")
    log = task_logger()
    log.info("Getting trail status %s", fields(incident=incident, trail=name))

    request = trail_models.GetTrailStatusRequest(name=name)
    response = call_api(
        connection,
        "actiontrail",
        "GetTrailStatus",
        lambda client: client.get_trail_status(request),
        target=f"trail={name}",
    )
    status = body_map(response)
    status.pop("RequestId", None)

    log.info(
        "Got trail status %s",
        fields(incident=incident, trail=name, logging=status.get("IsLogging")),
    )
    return status
