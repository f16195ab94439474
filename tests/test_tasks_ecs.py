"""ECS tasks against the emulator."""

from __future__ import annotations

import pytest
from cloud_helpers import APP_BACKEND, calls, connect

from akresponder.clients import get_client
from akresponder.errors import CloudError
from tasks import ecs


def _run_instances(emulator, region: str, amount: int) -> list[str]:
    """Start instances with the compromised key, as an attacker would."""
    from alibabacloud_ecs20140526 import models as ecs_models

    client = get_client("ecs", connect(emulator, APP_BACKEND))
    response = client.run_instances(
        ecs_models.RunInstancesRequest(
            region_id=region,
            instance_type="ecs.g7.large",
            image_id="ubuntu_22_04_x64_20G_alibase_20240101.vhd",
            amount=amount,
        )
    )
    return list(response.body.instance_id_sets.instance_id_set)


def test_ecs_describe_regions(emulator) -> None:
    regions = ecs.describe_regions.fn(connect(emulator))
    region_ids = {region["RegionId"] for region in regions}
    assert {"cn-hangzhou", "ap-southeast-1"} <= region_ids


def test_ecs_describe_instances_pages_and_regions(emulator) -> None:
    started = _run_instances(emulator, "ap-southeast-1", 12)
    connection = connect(emulator)
    found = ecs.describe_instances.fn(connection, "ap-southeast-1", page_size=10)
    assert sorted(instance["InstanceId"] for instance in found) == sorted(started)
    assert len(calls(emulator, "DescribeInstances")) == 2
    assert ecs.describe_instances.fn(connection, "cn-beijing") == []


def test_ecs_describe_instances_by_id(emulator) -> None:
    started = _run_instances(emulator, "cn-hangzhou", 2)
    found = ecs.describe_instances.fn(connect(emulator), instance_ids=started[:1])
    assert [instance["InstanceId"] for instance in found] == started[:1]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"region_id": "Hangzhou"}, "invalid region_id 'Hangzhou'"),
        ({"status": "Broken"}, "invalid status 'Broken'"),
        ({"instance_ids": []}, "give 1 to 100 per call"),
        ({"instance_ids": ["i-1;drop"]}, "invalid instance id"),
    ],
)
def test_ecs_describe_instances_rejects(
    emulator, arguments: dict, expected: str
) -> None:
    with pytest.raises(ValueError) as caught:
        ecs.describe_instances.fn(connect(emulator), **arguments)
    assert expected in str(caught.value)


def test_ecs_describe_instances_unknown_region(emulator) -> None:
    with pytest.raises(CloudError) as caught:
        ecs.describe_instances.fn(connect(emulator), "xx-nowhere-1")
    assert caught.value.retryable is False
    assert "region=xx-nowhere-1" in str(caught.value)
