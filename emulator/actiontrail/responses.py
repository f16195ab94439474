"""ActionTrail 2020-07-06 wire handlers: parameter parsing and response shapes.

LookupEvents returns the stored records unchanged, as camelCase dicts. The AccessKey
audit APIs return PascalCase fields, with ``UsedTimestamp`` in epoch milliseconds and
``Detail`` containing the event as a JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from emulator.actiontrail.models import (
    UsageRecord,
    default_sls_write_role,
    get_backend,
    usage_source,
)
from emulator.registry import Handler, PopRequest, pop_action
from emulator.state import Trail, iso

VERSION = "2020-07-06"
ENDPOINT = "actiontrail.cn-hangzhou.aliyuncs.com"
TRAIL_RESOURCE_TYPE = "ACS::ActionTrail::Trail"


def actiontrail_action(action: str, *, rw: str) -> Callable[[Handler], Handler]:
    """Register an ActionTrail action with the service's ActionTrail event fields."""
    return pop_action(
        "actiontrail",
        VERSION,
        action,
        rw=rw,
        service_name="Actiontrail",
        event_source=ENDPOINT,
        host_id=ENDPOINT,
    )


def _optional_time(moment: Any) -> str:
    return iso(moment) if moment is not None else ""


def _trail_arn(request: PopRequest, trail: Trail) -> str:
    account = request.cloud.account_id
    return f"acs:actiontrail:{trail.home_region}:{account}:trail/{trail.name}"


def _trail_settings(request: PopRequest, trail: Trail) -> dict[str, Any]:
    """The fields that CreateTrail, UpdateTrail and DescribeTrails all return."""
    write_role = trail.sls_write_role_arn
    if trail.sls_project and not write_role:
        write_role = default_sls_write_role(request.cloud.account_id)
    return {
        "Name": trail.name,
        "HomeRegion": trail.home_region,
        "TrailRegion": trail.trail_region,
        "EventRW": trail.event_rw,
        "SlsProjectArn": trail.sls_project_arn or "",
        "SlsWriteRoleArn": write_role,
        "OssBucketName": trail.oss_bucket_name,
        "OssKeyPrefix": trail.oss_key_prefix,
        "OssWriteRoleArn": trail.oss_write_role_arn,
        "MaxComputeProjectArn": "",
        "MaxComputeWriteRoleArn": "",
    }


def _trail_options(request: PopRequest) -> dict[str, str | None]:
    return {
        "sls_project_arn": request.get("SlsProjectArn"),
        "sls_write_role_arn": request.get("SlsWriteRoleArn"),
        "oss_bucket_name": request.get("OssBucketName"),
        "oss_key_prefix": request.get("OssKeyPrefix"),
        "oss_write_role_arn": request.get("OssWriteRoleArn"),
        "event_rw": request.get("EventRW"),
        "trail_region": request.get("TrailRegion"),
    }


def _name_trail(request: PopRequest, name: str) -> None:
    request.resources[TRAIL_RESOURCE_TYPE] = [name]


@actiontrail_action("LookupEvents", rw="Read")
def lookup_events(request: PopRequest) -> dict[str, Any]:
    attributes = [
        (item.get("Key", ""), item.get("Value", ""))
        for item in request.list_param("LookupAttribute")
    ]
    page = get_backend(request.cloud).lookup_events(
        attributes=attributes,
        start_time=request.get("StartTime"),
        end_time=request.get("EndTime"),
        direction=request.get("Direction"),
        max_results=request.get("MaxResults"),
        next_token=request.get("NextToken"),
    )
    body: dict[str, Any] = {
        "StartTime": iso(page.start),
        "EndTime": iso(page.end),
        "Events": page.events,
    }
    if page.next_token:
        body["NextToken"] = page.next_token
    return body


@actiontrail_action("GetAccessKeyLastUsedInfo", rw="Read")
def get_access_key_last_used_info(request: PopRequest) -> dict[str, Any]:
    access_key_id = request.require("AccessKey")
    return get_backend(request.cloud).access_key_last_used_info(access_key_id)


def _usage_items(records: list[UsageRecord]) -> list[dict[str, Any]]:
    return [
        {
            **record.values,
            "UsedTimestamp": record.used_ms,
            "Source": usage_source(record.event),
            "Detail": json.dumps(record.event, ensure_ascii=False),
        }
        for record in records
    ]


@actiontrail_action("GetAccessKeyLastUsedProducts", rw="Read")
def get_access_key_last_used_products(request: PopRequest) -> dict[str, Any]:
    access_key_id = request.require("AccessKey")
    records = get_backend(request.cloud).access_key_last_used_products(access_key_id)
    return {"Products": _usage_items(records)}


def _paged_usage(
    request: PopRequest, list_name: str, finder_name: str
) -> dict[str, Any]:
    access_key_id = request.require("AccessKey")
    service_name = request.require("ServiceName")
    backend = get_backend(request.cloud)
    records = getattr(backend, finder_name)(access_key_id, service_name)
    page, token = backend.page_records(
        records,
        access_key_id=access_key_id,
        service_name=service_name,
        page_size=request.get("PageSize"),
        next_token=request.get("NextToken"),
    )
    body: dict[str, Any] = {list_name: _usage_items(page)}
    if token:
        body["NextToken"] = token
    return body


@actiontrail_action("GetAccessKeyLastUsedEvents", rw="Read")
def get_access_key_last_used_events(request: PopRequest) -> dict[str, Any]:
    return _paged_usage(request, "Events", "access_key_last_used_events")


@actiontrail_action("GetAccessKeyLastUsedIps", rw="Read")
def get_access_key_last_used_ips(request: PopRequest) -> dict[str, Any]:
    return _paged_usage(request, "Ips", "access_key_last_used_ips")


@actiontrail_action("GetAccessKeyLastUsedResources", rw="Read")
def get_access_key_last_used_resources(request: PopRequest) -> dict[str, Any]:
    return _paged_usage(request, "Resources", "access_key_last_used_resources")


@actiontrail_action("DescribeTrails", rw="Read")
def describe_trails(request: PopRequest) -> dict[str, Any]:
    name_list = request.get("NameList")
    names = [name.strip() for name in name_list.split(",")] if name_list else None
    trails = get_backend(request.cloud).describe_trails(names)
    return {
        "TrailList": [
            {
                **_trail_settings(request, trail),
                "Status": trail.status,
                "Region": trail.home_region,
                "TrailArn": _trail_arn(request, trail),
                "CreateTime": iso(trail.create_time),
                "UpdateTime": _optional_time(trail.update_time or trail.create_time),
                "StartLoggingTime": _optional_time(trail.start_logging_time),
                "StopLoggingTime": _optional_time(trail.stop_logging_time),
                "IsOrganizationTrail": False,
                "OrganizationId": "",
                "OssBucketLocation": (
                    f"oss-{trail.home_region}" if trail.oss_bucket_name else ""
                ),
            }
            for trail in trails
        ]
    }


@actiontrail_action("GetTrailStatus", rw="Read")
def get_trail_status(request: PopRequest) -> dict[str, Any]:
    name = request.require("Name")
    backend = get_backend(request.cloud)
    trail = backend.get_trail(name)
    _name_trail(request, name)
    delivered = _optional_time(backend.latest_delivery_time(trail))
    return {
        "IsLogging": trail.status == "Enable",
        "StartLoggingTime": _optional_time(trail.start_logging_time),
        "StopLoggingTime": _optional_time(trail.stop_logging_time),
        "LatestDeliveryTime": delivered,
        "LatestDeliveryLogServiceTime": delivered,
        "LatestDeliveryError": "",
        "LatestDeliveryLogServiceError": "",
        "SlsLogStoreStatus": bool(trail.sls_project),
        "OssBucketStatus": bool(trail.oss_bucket_name),
    }


@actiontrail_action("CreateTrail", rw="Write")
def create_trail(request: PopRequest) -> dict[str, Any]:
    name = request.require("Name")
    _name_trail(request, name)
    trail = get_backend(request.cloud).create_trail(
        name=name, **_trail_options(request)
    )
    return _trail_settings(request, trail)


@actiontrail_action("UpdateTrail", rw="Write")
def update_trail(request: PopRequest) -> dict[str, Any]:
    name = request.require("Name")
    _name_trail(request, name)
    trail = get_backend(request.cloud).update_trail(
        name=name, **_trail_options(request)
    )
    return _trail_settings(request, trail)


@actiontrail_action("DeleteTrail", rw="Write")
def delete_trail(request: PopRequest) -> dict[str, Any]:
    name = request.require("Name")
    _name_trail(request, name)
    get_backend(request.cloud).delete_trail(name)
    return {}


@actiontrail_action("StartLogging", rw="Write")
def start_logging(request: PopRequest) -> dict[str, Any]:
    name = request.require("Name")
    _name_trail(request, name)
    get_backend(request.cloud).start_logging(name)
    return {}


@actiontrail_action("StopLogging", rw="Write")
def stop_logging(request: PopRequest) -> dict[str, Any]:
    name = request.require("Name")
    _name_trail(request, name)
    get_backend(request.cloud).stop_logging(name)
    return {}
