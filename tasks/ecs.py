"""ECS tasks for finding instances an attacker may have started.

``describe_regions`` lists the regions ECS offers (``RegionId``, ``LocalName``,
``RegionEndpoint``); ``describe_instances`` lists one region's instances, following
``NextToken`` to the end. An attacker with a stolen key often starts instances in
regions the account never uses, so a sweep calls ``describe_instances`` per region.
"""

from __future__ import annotations

import json
import re
from typing import Any

from alibabacloud_ecs20140526 import models as ecs_models

from akresponder.config import CloudConnection
from tasks._common import (
    body_map,
    call_api,
    cloud_task,
    fields,
    items,
    task_logger,
)

PAGE_MIN = 10
PAGE_MAX = 100
_REGION = re.compile(r"[a-z]{2,}(-[a-z0-9]+)+")
_INSTANCE_ID = re.compile(r"[A-Za-z0-9-]{3,64}")
STATUSES = ("Pending", "Running", "Starting", "Stopping", "Stopped")


@cloud_task("ecs:DescribeRegions")
def describe_regions(
    connection: CloudConnection, *, incident: str = ""
) -> list[dict[str, Any]]:
    """List the regions available to the account."""
    log = task_logger()
    log.info("Describing ECS regions %s", fields(incident=incident))

    request = ecs_models.DescribeRegionsRequest(accept_language="en-US")
    response = call_api(
        connection,
        "ecs",
        "DescribeRegions",
        lambda client: client.describe_regions(request),
        target=f"region={connection.region}",
    )
    regions = items(body_map(response), "Regions", "Region")

    log.info(
        "Described ECS regions %s", fields(incident=incident, regions=len(regions))
    )
    return regions


@cloud_task("ecs:DescribeInstances")
def describe_instances(
    connection: CloudConnection,
    region_id: str | None = None,
    *,
    instance_ids: list[str] | None = None,
    status: str | None = None,
    page_size: int = PAGE_MAX,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List a region's instances (the connection's region by default).

    ``instance_ids`` (at most 100) and ``status`` narrow the result.
    """
    region = region_id or connection.region
    if not _REGION.fullmatch(region):
        raise ValueError(
            f"invalid region_id {region!r}; give a region id such as cn-hangzhou"
        )
    if instance_ids is not None:
        if not 1 <= len(instance_ids) <= 100:
            raise ValueError(
                f"instance_ids has {len(instance_ids)} ids; give 1 to 100 per call"
            )
        for instance_id in instance_ids:
            if not _INSTANCE_ID.fullmatch(instance_id):
                raise ValueError(
                    f"invalid instance id {instance_id!r}; ids look like "
                    "i-bp1abc2def3ghi4jkl5m"
                )
    if status is not None and status not in STATUSES:
        raise ValueError(f"invalid status {status!r}; use one of {', '.join(STATUSES)}")
    if not PAGE_MIN <= page_size <= PAGE_MAX:
        raise ValueError(
            f"invalid page_size {page_size!r}; ECS takes MaxResults from "
            f"{PAGE_MIN} to {PAGE_MAX}"
        )
    # The public ECS endpoint is regional, so a call about another region needs a
    # client for that region.
    regional = (
        connection
        if region == connection.region
        else connection.model_copy(update={"region": region})
    )
    log = task_logger()
    log.info(
        "Describing ECS instances %s",
        fields(incident=incident, region=region, status=status),
    )

    instances: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        request = ecs_models.DescribeInstancesRequest(
            region_id=region,
            instance_ids=json.dumps(instance_ids) if instance_ids else None,
            status=status,
            max_results=page_size,
            next_token=token,
        )
        response = call_api(
            regional,
            "ecs",
            "DescribeInstances",
            lambda client, request=request: client.describe_instances(request),
            target=f"region={region}",
        )
        body = body_map(response)
        instances.extend(items(body, "Instances", "Instance"))
        token = body.get("NextToken") or None
        if token is None:
            break

    log.info(
        "Described ECS instances %s",
        fields(incident=incident, region=region, instances=len(instances)),
    )
    return instances
