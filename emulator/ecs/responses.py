"""ECS 2014-05-26 on the wire: parameter parsing and response shapes.

The shapes are those of the API reference and of the ``alibabacloud_ecs20140526``
response models: lists sit inside a wrapper object (``Instances.Instance[]``,
``InstanceIdSets.InstanceIdSet[]``), and times have minute precision
(``2026-11-20T08:00Z``).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from emulator import pricing
from emulator.ecs.exceptions import (
    DryRunOperation,
    DryRunSuccess,
    InvalidStatusNotFound,
)
from emulator.ecs.models import MAX_INSTANCES_PER_CALL, EcsBackend, LaunchSpec
from emulator.errors import InvalidParameter, MissingParameter
from emulator.registry import PopRequest, pop_action
from emulator.state import Instance

VERSION = "2014-05-26"
INSTANCE_RESOURCE_TYPE = "ACS::ECS::Instance"
INSTANCE_STATUSES = ("Pending", "Running", "Starting", "Stopping", "Stopped")
ACCEPT_LANGUAGES = ("zh-CN", "en-US", "ja")
STOPPED_MODES = ("KeepCharging", "StopCharging")
BATCH_MODES = ("AllTogether", "SuccessFirst")
MAX_PAGE_SIZE = 100


def ecs_action(action: str, *, rw: str):
    """Register an ECS action with the service fields of its ActionTrail record."""
    return pop_action(
        "ecs",
        VERSION,
        action,
        rw=rw,
        service_name="Ecs",
        event_source="ecs.aliyuncs.com",
        host_id="ecs.aliyuncs.com",
    )


@ecs_action("DescribeRegions", rw="Read")
def describe_regions(req: PopRequest) -> dict[str, Any]:
    language = req.get("AcceptLanguage", "zh-CN")
    if language not in ACCEPT_LANGUAGES:
        raise InvalidParameter(
            "AcceptLanguage",
            f"Got {language!r}; use one of {', '.join(ACCEPT_LANGUAGES)}.",
        )
    regions = EcsBackend(req.cloud).describe_regions()
    return {
        "Regions": {
            "Region": [
                {
                    "RegionId": region.region_id,
                    "LocalName": region.local_name(language),
                    "RegionEndpoint": region.endpoint,
                    "Status": "available",
                }
                for region in regions
            ]
        }
    }


@ecs_action("RunInstances", rw="Write")
def run_instances(req: PopRequest) -> dict[str, Any]:
    charge_type = req.get("InstanceChargeType", "PostPaid")
    if charge_type != "PostPaid":
        raise InvalidParameter(
            "InstanceChargeType",
            f"Got {charge_type!r}; the emulator creates only pay-as-you-go instances,"
            " so use PostPaid.",
        )
    spec = LaunchSpec(
        region_id=req.require("RegionId"),
        instance_type=req.require("InstanceType"),
        image_id=req.require("ImageId"),
        amount=req.get_int("Amount", 1),
        instance_name=req.get("InstanceName"),
        unique_suffix=req.get_bool("UniqueSuffix"),
        zone_id=req.get("ZoneId"),
        description=req.get("Description", ""),
        host_name=req.get("HostName"),
        security_group_ids=tuple(_security_group_ids(req)),
        vswitch_id=req.get("VSwitchId"),
        internet_max_bandwidth_out=req.get_int(
            "InternetMaxBandwidthOut", 0, minimum=0, maximum=100
        ),
        tags=tuple(
            (tag.get("Key", ""), tag.get("Value", "")) for tag in req.list_param("Tag")
        ),
    )
    dry_run = req.get_bool("DryRun")
    backend = EcsBackend(req.cloud)
    instances = backend.run_instances(spec, req.caller.access_key_id, dry_run=dry_run)
    if dry_run:
        raise DryRunOperation()

    instance_ids = [instance.instance_id for instance in instances]
    req.resources[INSTANCE_RESOURCE_TYPE] = instance_ids
    trade_price = sum(instance.hourly_price for instance in instances)
    return {
        "InstanceIdSets": {"InstanceIdSet": instance_ids},
        "TradePrice": round(trade_price, 2),
    }


@ecs_action("DescribeInstances", rw="Read")
def describe_instances(req: PopRequest) -> dict[str, Any]:
    region_id = req.require("RegionId")
    status = req.get("Status")
    if status is not None and status not in INSTANCE_STATUSES:
        raise InvalidStatusNotFound(
            f"Status {status!r} is not an instance status; use one of"
            f" {', '.join(INSTANCE_STATUSES)}."
        )
    instance_ids = _instance_ids_filter(req.get("InstanceIds"))
    page_number = req.get_int("PageNumber", 1, minimum=1)
    page_size = req.get_int("PageSize", 10, minimum=1, maximum=MAX_PAGE_SIZE)
    next_token = req.get("NextToken")
    max_results = req.get_int("MaxResults", 10)

    backend = EcsBackend(req.cloud)
    instances = backend.describe_instances(
        region_id,
        instance_ids=instance_ids,
        status=status,
        instance_name=req.get("InstanceName"),
        instance_type=req.get("InstanceType"),
        zone_id=req.get("ZoneId"),
    )
    if req.get_bool("DryRun"):
        raise DryRunOperation()

    # A NextToken switches to token paging, where PageNumber and PageSize do not
    # apply and MaxResults outside 10 to 100 is moved to the nearer bound.
    if next_token is not None or req.get("MaxResults") is not None:
        start = _decode_token(next_token) if next_token is not None else 0
        size = min(max(max_results, 10), MAX_PAGE_SIZE)
    else:
        start = (page_number - 1) * page_size
        size = page_size
    page = instances[start : start + size]
    more = start + size < len(instances)
    return {
        "Instances": {"Instance": [_instance_shape(instance) for instance in page]},
        "TotalCount": len(instances),
        "PageNumber": page_number,
        "PageSize": page_size,
        "NextToken": _encode_token(start + size) if more else "",
    }


@ecs_action("DeleteInstances", rw="Write")
def delete_instances(req: PopRequest) -> dict[str, Any]:
    region_id = req.require("RegionId")
    instance_ids = _indexed_values(req, "InstanceId")
    dry_run = req.get_bool("DryRun")
    backend = EcsBackend(req.cloud)
    backend.delete_instances(
        region_id, instance_ids, force=req.get_bool("Force"), dry_run=dry_run
    )
    if dry_run:
        raise DryRunSuccess()
    req.resources[INSTANCE_RESOURCE_TYPE] = instance_ids
    return {}


@ecs_action("DeleteInstance", rw="Write")
def delete_instance(req: PopRequest) -> dict[str, Any]:
    instance_id = req.require("InstanceId")
    dry_run = req.get_bool("DryRun")
    backend = EcsBackend(req.cloud)
    backend.delete_instances(
        None, [instance_id], force=req.get_bool("Force"), dry_run=dry_run
    )
    if dry_run:
        raise DryRunOperation()
    req.resources[INSTANCE_RESOURCE_TYPE] = [instance_id]
    return {}


@ecs_action("StopInstance", rw="Write")
def stop_instance(req: PopRequest) -> dict[str, Any]:
    instance_id = req.require("InstanceId")
    dry_run = req.get_bool("DryRun")
    backend = EcsBackend(req.cloud)
    backend.stop_instances(
        None,
        [instance_id],
        all_together=True,
        stopped_mode=_stopped_mode(req),
        dry_run=dry_run,
    )
    if dry_run:
        raise DryRunOperation()
    req.resources[INSTANCE_RESOURCE_TYPE] = [instance_id]
    return {}


@ecs_action("StopInstances", rw="Write")
def stop_instances(req: PopRequest) -> dict[str, Any]:
    region_id = req.require("RegionId")
    instance_ids = _indexed_values(req, "InstanceId")
    batch_mode = req.get("BatchOptimization", "AllTogether")
    if batch_mode not in BATCH_MODES:
        raise InvalidParameter(
            "BatchOptimization",
            f"Got {batch_mode!r}; use one of {', '.join(BATCH_MODES)}.",
        )
    dry_run = req.get_bool("DryRun")
    backend = EcsBackend(req.cloud)
    results = backend.stop_instances(
        region_id,
        instance_ids,
        all_together=batch_mode == "AllTogether",
        stopped_mode=_stopped_mode(req),
        dry_run=dry_run,
    )
    if dry_run:
        raise DryRunSuccess()
    req.resources[INSTANCE_RESOURCE_TYPE] = instance_ids
    return {
        "InstanceResponses": {
            "InstanceResponse": [
                {
                    "InstanceId": result.instance_id,
                    "Code": result.code,
                    "Message": result.message,
                    "PreviousStatus": result.previous_status,
                    "CurrentStatus": result.current_status,
                }
                for result in results
            ]
        }
    }


# Parameter parsing.


def _indexed_values(req: PopRequest, name: str) -> list[str]:
    """Collect a flattened list of strings: ``InstanceId.1=a&InstanceId.2=b``."""
    prefix = name + "."
    indexed = {}
    for key, value in req.params.items():
        index = key[len(prefix) :] if key.startswith(prefix) else ""
        if index.isdigit() and value:
            indexed[int(index)] = value
    if not indexed:
        raise MissingParameter(f"{name}.1")
    return [indexed[index] for index in sorted(indexed)]


def _security_group_ids(req: PopRequest) -> list[str]:
    single = req.get("SecurityGroupId")
    ids = [single] if single else []
    prefix = "SecurityGroupIds."
    for key in sorted(req.params):
        if key.startswith(prefix) and req.params[key]:
            ids.append(req.params[key])
    return ids


def _instance_ids_filter(text: str | None) -> list[str] | None:
    """Parse the InstanceIds filter, a JSON array of up to 100 IDs."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter(
            "InstanceIds",
            f'Expected a JSON array of instance IDs such as ["i-bp1..."], got'
            f" {text!r}.",
        )
    if len(value) > MAX_INSTANCES_PER_CALL:
        raise InvalidParameter(
            "InstanceIds",
            f"Expected at most {MAX_INSTANCES_PER_CALL} IDs, got {len(value)}; split"
            " the query.",
        )
    return value


def _stopped_mode(req: PopRequest) -> str:
    mode = req.get("StoppedMode", "KeepCharging")
    if mode not in STOPPED_MODES:
        raise InvalidParameter(
            "StoppedMode", f"Got {mode!r}; use one of {', '.join(STOPPED_MODES)}."
        )
    return mode


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"ecs:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, offset = text.partition(":")
        if prefix == "ecs" and offset.isdigit():
            return int(offset)
    except ValueError:
        pass
    raise InvalidParameter(
        "NextToken",
        f"Got {token!r}, which no earlier DescribeInstances call returned; pass the"
        " NextToken of the previous page, or none for the first page.",
    )


# Response shapes.


def _ecs_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _os_names(image_id: str) -> tuple[str, str, str]:
    """Return (OSName, OSNameEn, OSType) for an image ID by its usual naming."""
    lowered = image_id.lower()
    if lowered.startswith("win"):
        return (
            "Windows Server 2022 数据中心版 64位中文版",
            "Windows Server 2022 Datacenter 64-bit (Simplified Chinese)",
            "windows",
        )
    if lowered.startswith("ubuntu"):
        return ("Ubuntu  22.04 64位", "Ubuntu  22.04 64 bit", "linux")
    if lowered.startswith("centos"):
        return ("CentOS  7.9 64位", "CentOS  7.9 64 bit", "linux")
    return (
        "Alibaba Cloud Linux  3.2104 LTS 64位",
        "Alibaba Cloud Linux  3.2104 LTS 64 bit",
        "linux",
    )


def _instance_shape(instance: Instance) -> dict[str, Any]:
    """Build one ``Instances.Instance[]`` entry of DescribeInstances."""
    spec = pricing.INSTANCE_TYPES[instance.instance_type]
    attributes = instance.attributes
    os_name, os_name_en, os_type = _os_names(instance.image_id)
    private_ip = attributes.get("PrivateIpAddress", "")
    return {
        "InstanceId": instance.instance_id,
        "InstanceName": instance.instance_name,
        "Description": attributes.get("Description", ""),
        "HostName": attributes.get("HostName", ""),
        "RegionId": instance.region_id,
        "ZoneId": instance.zone_id,
        "Status": instance.status,
        "InstanceType": instance.instance_type,
        "InstanceTypeFamily": spec.family,
        "Cpu": spec.cpu,
        "Memory": int(spec.memory_gib * 1024),
        "GPUAmount": spec.gpu_amount,
        "GPUSpec": spec.gpu_spec,
        "CpuOptions": {
            "CoreCount": max(1, spec.cpu // 2),
            "ThreadsPerCore": 2 if spec.cpu > 1 else 1,
            "Numa": "",
        },
        "ImageId": instance.image_id,
        "OSName": os_name,
        "OSNameEn": os_name_en,
        "OSType": os_type,
        "CreationTime": _ecs_time(instance.creation_time),
        "StartTime": _ecs_time(instance.creation_time),
        # Pay-as-you-go instances do not expire; the real API shows this date.
        "ExpiredTime": "2099-12-31T15:59Z",
        "AutoReleaseTime": "",
        "InstanceChargeType": "PostPaid",
        "SpotStrategy": "NoSpot",
        "SpotPriceLimit": 0.0,
        "StoppedMode": attributes.get("StoppedMode", "Not-applicable"),
        "InternetChargeType": "PayByTraffic",
        "InternetMaxBandwidthIn": 100,
        "InternetMaxBandwidthOut": attributes.get("InternetMaxBandwidthOut", 0),
        "InstanceNetworkType": "vpc",
        "IoOptimized": True,
        "DeviceAvailable": True,
        "DeletionProtection": False,
        "Recyclable": False,
        "CreditSpecification": "",
        "DeploymentSetId": "",
        "VlanId": "",
        "ResourceGroupId": "",
        "SerialNumber": attributes.get("SerialNumber", ""),
        "PublicIpAddress": {"IpAddress": list(attributes.get("PublicIpAddress", []))},
        "InnerIpAddress": {"IpAddress": []},
        "RdmaIpAddress": {"IpAddress": []},
        "EipAddress": {"AllocationId": "", "IpAddress": "", "InternetChargeType": ""},
        "VpcAttributes": {
            "VpcId": attributes.get("VpcId", ""),
            "VSwitchId": attributes.get("VSwitchId", ""),
            "NatIpAddress": "",
            "PrivateIpAddress": {"IpAddress": [private_ip] if private_ip else []},
        },
        "SecurityGroupIds": {
            "SecurityGroupId": list(attributes.get("SecurityGroupIds", []))
        },
        "NetworkInterfaces": {
            "NetworkInterface": [
                {
                    "Type": "Primary",
                    "NetworkInterfaceId": attributes.get("NetworkInterfaceId", ""),
                    "MacAddress": attributes.get("MacAddress", ""),
                    "PrimaryIpAddress": private_ip,
                    "PrivateIpSets": {
                        "PrivateIpSet": [
                            {"PrivateIpAddress": private_ip, "Primary": True}
                        ]
                    },
                }
            ]
        },
        "OperationLocks": {"LockReason": []},
        "Tags": {"Tag": list(attributes.get("Tags", []))},
        "MetadataOptions": {"HttpEndpoint": "enabled", "HttpTokens": "optional"},
        "DedicatedHostAttribute": {
            "DedicatedHostId": "",
            "DedicatedHostName": "",
            "DedicatedHostClusterId": "",
        },
        "DedicatedInstanceAttribute": {"Tenancy": "", "Affinity": ""},
        "EcsCapacityReservationAttr": {
            "CapacityReservationId": "",
            "CapacityReservationPreference": "",
        },
        "HibernationOptions": {"Configured": False},
    }
