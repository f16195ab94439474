"""ECS regions and instances through the real SDK client and real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi.exceptions import ClientException

from emulator import pricing
from emulator.ecs.regions import REGIONS
from emulator.ecs.responses import _instance_shape
from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import APP_BACKEND, RESPONDER, ecs_client, ram_client

BASIC = Path(__file__).parent / "scenarios" / "basic.json"
GPU_TYPE = "ecs.gn6i-c4g1.xlarge"
IMAGE = "ubuntu_22_04_x64_20G_alibase_20240101.vhd"


@pytest.fixture
def emu():
    with start_emulator(BASIC, freeze_clock=True) as running:
        yield running


@pytest.fixture
def ecs(emu: RunningEmulator) -> EcsClient:
    return ecs_client(emu, *RESPONDER)


def expect_error(call, code: str, status: int) -> ClientException:
    """Run ``call`` and return the ClientException, checking its code and status."""
    with pytest.raises(ClientException) as caught:
        call()
    assert caught.value.code == code
    assert caught.value.status_code == status
    return caught.value


def run(ecs: EcsClient, region: str = "ap-southeast-1", **kwargs) -> list[str]:
    request = ecs_models.RunInstancesRequest(
        region_id=region,
        instance_type=kwargs.pop("instance_type", GPU_TYPE),
        image_id=kwargs.pop("image_id", IMAGE),
        **kwargs,
    )
    return ecs.run_instances(request).body.instance_id_sets.instance_id_set


def describe(ecs: EcsClient, region: str = "ap-southeast-1", **kwargs):
    request = ecs_models.DescribeInstancesRequest(region_id=region, **kwargs)
    return ecs.describe_instances(request).body


# Tables.


def test_pricing_covers_every_region():
    assert set(pricing.REGION_PRICE_MULTIPLIERS) == set(REGIONS)


def test_pricing_gpu_types_cost_more():
    cheapest_gpu = min(
        t.base_hourly_price for t in pricing.INSTANCE_TYPES.values() if t.gpu_amount
    )
    general = pricing.INSTANCE_TYPES["ecs.g7.large"].base_hourly_price

    assert cheapest_gpu > 5 * general
    assert pricing.hourly_price(GPU_TYPE, "ap-southeast-1") == 14.04
    assert pricing.INSTANCE_TYPES[GPU_TYPE].family == "ecs.gn6i"


# DescribeRegions.


def test_describe_regions_lists_real_regions(ecs):
    body = ecs.describe_regions(ecs_models.DescribeRegionsRequest()).body

    regions = {region.region_id: region for region in body.regions.region}
    assert "cn-hangzhou" in regions
    assert "ap-southeast-1" in regions
    assert len(regions) == len(REGIONS)
    assert regions["cn-hangzhou"].local_name == "华东1（杭州）"
    assert regions["cn-hangzhou"].region_endpoint == "ecs.aliyuncs.com"
    assert regions["eu-central-1"].region_endpoint == "ecs.eu-central-1.aliyuncs.com"
    assert regions["cn-hangzhou"].status == "available"


def test_describe_regions_english_names(ecs):
    request = ecs_models.DescribeRegionsRequest(accept_language="en-US")
    body = ecs.describe_regions(request).body

    names = {region.region_id: region.local_name for region in body.regions.region}
    assert names["cn-hangzhou"] == "China (Hangzhou)"
    assert names["ap-southeast-1"] == "Singapore"


# RunInstances.


def test_run_instances_creates_running_instances(emu, ecs):
    ids = run(ecs, amount=3, instance_name="miner", unique_suffix=True)

    assert len(ids) == 3
    assert len(set(ids)) == 3
    for instance_id in ids:
        assert instance_id.startswith("i-t4n")
        assert len(instance_id) == 22
        instance = emu.cloud.instances[instance_id]
        assert instance.status == "Running"
        assert instance.region_id == "ap-southeast-1"
        assert instance.created_by_key == RESPONDER[0]
        assert instance.hourly_price == 14.04
    names = [emu.cloud.instances[i].instance_name for i in ids]
    assert names == ["miner001", "miner002", "miner003"]


def test_run_instances_region_sets_id_prefix(ecs):
    hangzhou = run(ecs, "cn-hangzhou", instance_type="ecs.g7.large")
    beijing = run(ecs, "cn-beijing", instance_type="ecs.g7.large")

    assert hangzhou[0].startswith("i-bp1")
    assert beijing[0].startswith("i-2ze")


def test_run_instances_records_trail_resources(emu, ecs):
    ids = run(ecs, amount=2)

    event = emu.cloud.events[-1]
    assert event["eventName"] == "RunInstances"
    assert event["serviceName"] == "Ecs"
    assert event["eventSource"] == "ecs.aliyuncs.com"
    assert event["acsRegion"] == "ap-southeast-1"
    assert event["userIdentity"]["accessKeyId"] == RESPONDER[0]
    assert event["referencedResources"] == {"ACS::ECS::Instance": ids}


def test_run_instances_password_stays_out_of_trail(emu, ecs):
    run(ecs, password="Attacker-Pass-123!")

    assert "Attacker-Pass-123!" not in json.dumps(emu.cloud.events)
    assert "Attacker-Pass-123!" not in json.dumps(
        [instance.attributes for instance in emu.cloud.instances.values()]
    )


def test_run_instances_unknown_type_rejected(emu, ecs):
    error = expect_error(
        lambda: run(ecs, instance_type="ecs.nonexistent.large"),
        "InvalidInstanceType.ValueNotSupported",
        400,
    )

    assert "ecs.nonexistent.large" in error.message
    assert "ecs.g7.large" in error.message
    assert emu.cloud.instances == {}


def test_run_instances_invalid_region_rejected(emu, ecs):
    error = expect_error(
        lambda: run(ecs, "xx-nowhere-1"), "InvalidRegionId.NotFound", 404
    )

    assert "xx-nowhere-1" in error.message
    assert "DescribeRegions" in error.message
    assert emu.cloud.instances == {}


@pytest.mark.parametrize("amount", [0, 101])
def test_run_instances_amount_out_of_range(emu, ecs, amount):
    error = expect_error(lambda: run(ecs, amount=amount), "InvalidParameter", 400)

    assert str(amount) in error.message
    assert emu.cloud.instances == {}


def test_run_instances_missing_image_rejected(ecs):
    request = ecs_models.RunInstancesRequest(
        region_id="cn-hangzhou", instance_type="ecs.g7.large"
    )

    error = expect_error(lambda: ecs.run_instances(request), "MissingParameter", 400)
    assert "ImageId" in error.message


def test_run_instances_bad_zone_rejected(ecs):
    error = expect_error(
        lambda: run(ecs, zone_id="cn-hangzhou-b"), "InvalidZoneId.NotFound", 404
    )

    assert "ap-southeast-1-a" in error.message


def test_run_instances_bad_name_rejected(ecs):
    error = expect_error(
        lambda: run(ecs, instance_name="1-starts-with-digit"),
        "InvalidInstanceName.Malformed",
        400,
    )

    assert "1-starts-with-digit" in error.message


def test_run_instances_prepaid_rejected(ecs):
    error = expect_error(
        lambda: run(ecs, instance_charge_type="PrePaid"), "InvalidParameter", 400
    )

    assert "PostPaid" in error.message


def test_run_instances_dry_run_creates_nothing(emu, ecs):
    expect_error(lambda: run(ecs, dry_run=True), "DryRunOperation", 400)

    assert emu.cloud.instances == {}


# DescribeInstances.


def test_describe_instances_nested_shapes(ecs):
    [instance_id] = run(
        ecs,
        internet_max_bandwidth_out=10,
        description="GPU box",
        tag=[ecs_models.RunInstancesRequestTag(key="team", value="x")],
    )

    [instance] = describe(ecs).instances.instance
    assert instance.instance_id == instance_id
    assert instance.status == "Running"
    assert instance.instance_type == GPU_TYPE
    assert instance.instance_type_family == "ecs.gn6i"
    assert instance.cpu == 4
    assert instance.memory == 15 * 1024
    assert instance.gpuamount == 1
    assert instance.gpuspec == "NVIDIA T4"
    assert instance.zone_id == "ap-southeast-1-a"
    assert instance.creation_time == "2026-11-20T08:00Z"
    assert instance.description == "GPU box"
    assert instance.public_ip_address.ip_address[0].startswith("203.0.113.")
    assert instance.vpc_attributes.private_ip_address.ip_address[0].startswith("172.")
    assert len(instance.security_group_ids.security_group_id) == 1
    assert instance.network_interfaces.network_interface[0].type == "Primary"
    assert instance.tags.tag[0].tag_key == "team"
    assert instance.tags.tag[0].tag_value == "x"
    assert instance.operation_locks.lock_reason == []


def test_describe_instances_shape_known_to_sdk_model(emu, ecs):
    [instance_id] = run(ecs, internet_max_bandwidth_out=5)
    shape = _instance_shape(emu.cloud.instances[instance_id])

    model = ecs_models.DescribeInstancesResponseBodyInstancesInstance()
    assert model.from_map(shape).to_map() == shape


def test_describe_instances_other_region_empty(ecs):
    run(ecs)

    body = describe(ecs, "cn-hangzhou")
    assert body.total_count == 0
    assert body.instances.instance == []


def test_describe_instances_pages_by_page_number(ecs):
    ids = run(ecs, amount=25)

    seen = []
    for page_number in (1, 2, 3):
        body = describe(ecs, page_number=page_number, page_size=10)
        assert body.total_count == 25
        assert body.page_number == page_number
        seen.extend(instance.instance_id for instance in body.instances.instance)
    assert seen == ids
    assert describe(ecs, page_number=4, page_size=10).instances.instance == []


def test_describe_instances_default_page_size_ten(ecs):
    run(ecs, amount=12)

    body = describe(ecs)
    assert body.page_size == 10
    assert len(body.instances.instance) == 10


def test_describe_instances_page_size_over_100_rejected(ecs):
    error = expect_error(lambda: describe(ecs, page_size=101), "InvalidParameter", 400)

    assert "101" in error.message


def test_describe_instances_pages_by_next_token(ecs):
    ids = run(ecs, amount=25)

    seen = []
    token = None
    pages = 0
    while True:
        body = describe(ecs, max_results=10, next_token=token)
        pages += 1
        seen.extend(instance.instance_id for instance in body.instances.instance)
        token = body.next_token
        if not token:
            break
    assert pages == 3
    assert seen == ids


def test_describe_instances_bad_next_token_rejected(ecs):
    error = expect_error(
        lambda: describe(ecs, next_token="not-a-token"), "InvalidParameter", 400
    )

    assert "not-a-token" in error.message


def test_describe_instances_instance_ids_filter(ecs):
    ids = run(ecs, amount=3)

    body = describe(ecs, instance_ids=json.dumps([ids[2], ids[0], "i-unknown"]))
    assert [instance.instance_id for instance in body.instances.instance] == [
        ids[0],
        ids[2],
    ]
    assert describe(ecs, instance_ids="[]").total_count == 0


def test_describe_instances_malformed_ids_rejected(ecs):
    error = expect_error(
        lambda: describe(ecs, instance_ids="i-abc,i-def"), "InvalidParameter", 400
    )

    assert "JSON array" in error.message


def test_describe_instances_status_and_name_filters(ecs):
    first, second = run(ecs, amount=2, instance_name="miner", unique_suffix=True)
    ecs.stop_instance(ecs_models.StopInstanceRequest(instance_id=first))

    stopped = describe(ecs, status="Stopped").instances.instance
    assert [instance.instance_id for instance in stopped] == [first]
    named = describe(ecs, instance_name="*002").instances.instance
    assert [instance.instance_id for instance in named] == [second]
    expect_error(
        lambda: describe(ecs, status="Sleeping"), "InvalidStatus.NotFound", 404
    )


def test_describe_instances_region_required(ecs):
    error = expect_error(
        lambda: ecs.describe_instances(ecs_models.DescribeInstancesRequest()),
        "MissingParameter",
        400,
    )

    assert "RegionId" in error.message


# DeleteInstances, DeleteInstance, StopInstance(s).


def delete(ecs: EcsClient, ids: list[str], region="ap-southeast-1", **kwargs):
    request = ecs_models.DeleteInstancesRequest(
        region_id=region, instance_id=ids, **kwargs
    )
    return ecs.delete_instances(request)


def test_delete_instances_running_needs_force(emu, ecs):
    ids = run(ecs, amount=2)

    error = expect_error(lambda: delete(ecs, ids), "IncorrectInstanceStatus", 403)
    assert ids[0] in error.message
    assert "Force" in error.message
    assert all(emu.cloud.instances[i].status == "Running" for i in ids)

    delete(ecs, ids, force=True)
    event = emu.cloud.events[-1]
    assert event["eventName"] == "DeleteInstances"
    assert event["referencedResources"] == {"ACS::ECS::Instance": ids}
    assert describe(ecs).total_count == 0
    assert all(emu.cloud.instances[i].status == "Deleted" for i in ids)


def test_delete_instances_released_id_not_found(ecs):
    ids = run(ecs)
    delete(ecs, ids, force=True)

    error = expect_error(
        lambda: delete(ecs, ids, force=True), "InvalidInstanceId.NotFound", 404
    )
    assert ids[0] in error.message


def test_delete_instances_unknown_id_deletes_nothing(emu, ecs):
    ids = run(ecs)

    expect_error(
        lambda: delete(ecs, [ids[0], "i-t4nunknown000000000"], force=True),
        "InvalidInstanceId.NotFound",
        404,
    )
    assert emu.cloud.instances[ids[0]].status == "Running"


def test_delete_instances_wrong_region_not_found(ecs):
    ids = run(ecs)

    error = expect_error(
        lambda: delete(ecs, ids, region="cn-hangzhou", force=True),
        "InvalidInstanceId.NotFound",
        404,
    )
    assert "ap-southeast-1" in error.message


def test_delete_instances_dry_run_keeps_instances(emu, ecs):
    ids = run(ecs)

    expect_error(
        lambda: delete(ecs, ids, force=True, dry_run=True), "DRYRUN.SUCCESS", 400
    )
    assert emu.cloud.instances[ids[0]].status == "Running"


def test_stop_instances_then_delete_without_force(emu, ecs):
    ids = run(ecs, amount=2)

    request = ecs_models.StopInstancesRequest(
        region_id="ap-southeast-1", instance_id=ids
    )
    body = ecs.stop_instances(request).body
    responses = body.instance_responses.instance_response
    assert [r.instance_id for r in responses] == ids
    assert all(r.code == "200" for r in responses)
    assert all(r.previous_status == "Running" for r in responses)
    assert all(emu.cloud.instances[i].status == "Stopped" for i in ids)

    delete(ecs, ids)
    assert describe(ecs).total_count == 0


def test_stop_instances_all_together_fails_whole_batch(emu, ecs):
    first, second = run(ecs, amount=2)
    ecs.stop_instance(ecs_models.StopInstanceRequest(instance_id=first))
    request = ecs_models.StopInstancesRequest(
        region_id="ap-southeast-1", instance_id=[first, second]
    )

    expect_error(lambda: ecs.stop_instances(request), "IncorrectInstanceStatus", 403)
    assert emu.cloud.instances[second].status == "Running"


def test_stop_instances_success_first_reports_each(emu, ecs):
    first, second = run(ecs, amount=2)
    ecs.stop_instance(ecs_models.StopInstanceRequest(instance_id=first))
    request = ecs_models.StopInstancesRequest(
        region_id="ap-southeast-1",
        instance_id=[first, second],
        batch_optimization="SuccessFirst",
    )

    responses = ecs.stop_instances(request).body.instance_responses.instance_response
    assert responses[0].code == "IncorrectInstanceStatus"
    assert responses[1].code == "200"
    assert emu.cloud.instances[second].status == "Stopped"


def test_delete_instance_single(emu, ecs):
    [instance_id] = run(ecs)

    request = ecs_models.DeleteInstanceRequest(instance_id=instance_id)
    expect_error(lambda: ecs.delete_instance(request), "IncorrectInstanceStatus", 403)
    ecs.delete_instance(
        ecs_models.DeleteInstanceRequest(instance_id=instance_id, force=True)
    )
    assert emu.cloud.instances[instance_id].status == "Deleted"


def test_delete_instance_missing_id_rejected(ecs):
    expect_error(
        lambda: ecs.delete_instance(ecs_models.DeleteInstanceRequest()),
        "MissingParameter",
        400,
    )


# Permissions.


def test_ecs_permission_error_shape(emu, ecs):
    ram = ram_client(emu, *RESPONDER)
    ram.create_user(ram_models.CreateUserRequest(user_name="no-ecs"))
    key = ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="no-ecs")
    ).body.access_key
    denied = ecs_client(emu, key.access_key_id, key.access_key_secret)

    error = expect_error(lambda: run(denied), "Forbidden.RAM", 403)
    assert error.access_denied_detail["AuthAction"] == "ecs:RunInstances"
    assert emu.cloud.instances == {}


def test_run_instances_records_creating_key(emu):
    # app-backend, the usual compromised key, has AliyunECSFullAccess.
    backend = ecs_client(emu, *APP_BACKEND)

    ids = run(backend, amount=2)
    assert all(emu.cloud.instances[i].created_by_key == APP_BACKEND[0] for i in ids)
    assert emu.cloud.events[-1]["userIdentity"]["userName"] == "app-backend"
