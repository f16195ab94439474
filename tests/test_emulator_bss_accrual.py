"""Charges of emulated instances in BSS bills, through the real SDK clients.

The clock is frozen at 2026-11-20T08:00:00Z (16:00 in UTC+8, the bills' time zone),
so an instance started then bills 8 hours on 2026-11-20 before midnight in UTC+8.
GPU instances in ap-southeast-1, a region the basic scenario never used, cost 14.04
CNY per hour (10.80 in cn-hangzhou times the region's 1.3).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alibabacloud_bssopenapi20171214 import models as bss_models
from alibabacloud_bssopenapi20171214.client import Client as BssClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient

from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import RESPONDER, bss_client, ecs_client

BASIC = Path(__file__).parent / "scenarios" / "basic.json"
GPU_TYPE = "ecs.gn6i-c4g1.xlarge"
GPU_PRICE = 14.04
REGION = "ap-southeast-1"
HOUR = 3600


@pytest.fixture
def emu():
    with start_emulator(BASIC, freeze_clock=True) as running:
        yield running


@pytest.fixture
def ecs(emu: RunningEmulator) -> EcsClient:
    return ecs_client(emu, *RESPONDER)


@pytest.fixture
def bss(emu: RunningEmulator) -> BssClient:
    return bss_client(emu, *RESPONDER)


def run_gpus(ecs: EcsClient, amount: int, region: str = REGION) -> list[str]:
    request = ecs_models.RunInstancesRequest(
        region_id=region,
        instance_type=GPU_TYPE,
        image_id="ubuntu_22_04_x64_20G_alibase_20240101.vhd",
        amount=amount,
    )
    return ecs.run_instances(request).body.instance_id_sets.instance_id_set


def daily_lines(bss: BssClient, day: str, **kwargs) -> dict[str, object]:
    request = bss_models.QueryInstanceBillRequest(
        billing_cycle=day[:7],
        granularity="DAILY",
        billing_date=day,
        page_size=300,
        **kwargs,
    )
    items = bss.query_instance_bill(request).body.data.items.item
    return {item.instance_id: item for item in items}


def monthly_lines(bss: BssClient, cycle: str) -> dict[str, object]:
    request = bss_models.QueryInstanceBillRequest(
        billing_cycle=cycle, granularity="MONTHLY", page_size=300
    )
    items = bss.query_instance_bill(request).body.data.items.item
    return {item.instance_id: item for item in items}


def test_gpu_instances_in_new_region_appear_daily(emu, ecs, bss):
    ids = run_gpus(ecs, 2)
    emu.cloud.clock.advance(10 * HOUR)

    first_day = daily_lines(bss, "2026-11-20")
    second_day = daily_lines(bss, "2026-11-21")
    for instance_id in ids:
        line = first_day[instance_id]
        assert line.region == REGION
        assert line.product_code == "ecs"
        assert line.subscription_type == "PayAsYouGo"
        assert line.instance_spec == GPU_TYPE
        assert line.usage == "8"
        assert line.list_price == "14.04"
        assert line.pretax_amount == pytest.approx(8 * GPU_PRICE)
        assert second_day[instance_id].pretax_amount == pytest.approx(2 * GPU_PRICE)


def test_started_hour_is_billed_whole(emu, ecs, bss):
    [instance_id] = run_gpus(ecs, 1)
    assert daily_lines(bss, "2026-11-20") == {}

    emu.cloud.clock.advance(1)
    assert daily_lines(bss, "2026-11-20")[instance_id].usage == "1"

    emu.cloud.clock.advance(HOUR)
    assert daily_lines(bss, "2026-11-20")[instance_id].usage == "2"


def test_accrual_stops_once_deleted(emu, ecs, bss):
    [instance_id] = run_gpus(ecs, 1)
    emu.cloud.clock.advance(3 * HOUR)
    request = ecs_models.DeleteInstancesRequest(
        region_id=REGION, instance_id=[instance_id], force=True
    )
    ecs.delete_instances(request)
    emu.cloud.clock.advance(5 * HOUR)

    line = daily_lines(bss, "2026-11-20")[instance_id]
    assert line.usage == "3"
    assert line.pretax_amount == pytest.approx(3 * GPU_PRICE)
    assert daily_lines(bss, "2026-11-21") == {}


def test_stopped_instance_keeps_accruing(emu, ecs, bss):
    [instance_id] = run_gpus(ecs, 1)
    emu.cloud.clock.advance(HOUR)
    ecs.stop_instance(ecs_models.StopInstanceRequest(instance_id=instance_id))
    emu.cloud.clock.advance(2 * HOUR)

    assert daily_lines(bss, "2026-11-20")[instance_id].usage == "3"


def test_hours_split_at_utc8_cycle_end(emu, ecs, bss):
    [instance_id] = run_gpus(ecs, 1)
    # 2026-11-30T20:00Z is 04:00 on 2026-12-01 in UTC+8.
    emu.cloud.clock.advance((10 * 24 + 12) * HOUR)

    november = monthly_lines(bss, "2026-11")[instance_id]
    december = monthly_lines(bss, "2026-12")[instance_id]
    assert november.usage == str(10 * 24 + 8)
    assert november.billing_date == "2026-11"
    assert december.usage == "4"
    assert december.pretax_amount == pytest.approx(4 * GPU_PRICE)


def test_overview_adds_accrual_to_scenario_items(emu, ecs, bss):
    run_gpus(ecs, 2)
    emu.cloud.clock.advance(10 * HOUR)

    request = bss_models.QueryBillOverviewRequest(
        billing_cycle="2026-11", product_code="ecs"
    )
    [item] = bss.query_bill_overview(request).body.data.items.item
    assert item.pretax_amount == pytest.approx(520.1 + 2 * 10 * GPU_PRICE)


def test_query_bill_has_daily_records(emu, ecs, bss):
    [instance_id] = run_gpus(ecs, 1)
    emu.cloud.clock.advance(10 * HOUR)

    request = bss_models.QueryBillRequest(billing_cycle="2026-11", product_code="ecs")
    items = bss.query_bill(request).body.data.items.item
    records = [item for item in items if instance_id in item.record_id]
    assert [r.usage_start_time for r in records] == [
        "2026-11-20 16:00:00",
        "2026-11-21 00:00:00",
    ]
    assert [r.usage_end_time for r in records] == [
        "2026-11-21 00:00:00",
        "2026-11-21 02:00:00",
    ]


def test_account_balance_drops_with_accrual(emu, ecs, bss):
    run_gpus(ecs, 2)
    emu.cloud.clock.advance(5 * HOUR)

    balance = bss.query_account_balance().body.data.available_amount
    assert balance == f"{10000 - 2 * 5 * GPU_PRICE:.2f}"


def test_describe_instance_bill_filters_instance(emu, ecs, bss):
    first, _second = run_gpus(ecs, 2)
    emu.cloud.clock.advance(HOUR)

    request = bss_models.DescribeInstanceBillRequest(
        billing_cycle="2026-11",
        granularity="DAILY",
        billing_date="2026-11-20",
        instance_id=first,
    )
    data = bss.describe_instance_bill(request).body.data
    assert data.total_count == 1
    assert data.items[0].instance_id == first
    assert data.items[0].region == REGION
    assert data.next_token == ""


# Paging beyond one page of 300.


@pytest.fixture(scope="module")
def busy():
    """An emulator with 400 GPU instances that have run for one hour."""
    with start_emulator(BASIC, freeze_clock=True) as running:
        ecs = ecs_client(running, *RESPONDER)
        ids = []
        for _ in range(4):
            ids.extend(run_gpus(ecs, 100))
        running.cloud.clock.advance(HOUR)
        yield running, ids


def test_query_instance_bill_pages_to_last_page(busy):
    emu, ids = busy
    bss = bss_client(emu, *RESPONDER)

    seen = []
    for page_num, expected in ((1, 300), (2, 100), (3, 0)):
        request = bss_models.QueryInstanceBillRequest(
            billing_cycle="2026-11",
            granularity="DAILY",
            billing_date="2026-11-20",
            product_code="ecs",
            page_num=page_num,
            page_size=300,
        )
        data = bss.query_instance_bill(request).body.data
        assert data.total_count == 400
        assert data.page_num == page_num
        assert len(data.items.item) == expected
        seen.extend(item.instance_id for item in data.items.item)
    assert seen == ids


def test_query_bill_pages_to_last_page(busy):
    emu, ids = busy
    bss = bss_client(emu, *RESPONDER)

    request = bss_models.QueryBillRequest(
        billing_cycle="2026-11", page_num=2, page_size=300
    )
    data = bss.query_bill(request).body.data
    # 400 daily instance records and the scenario's 2026-11 item.
    assert data.total_count == 401
    assert len(data.items.item) == 101


def test_describe_instance_bill_next_token_to_last_page(busy):
    emu, ids = busy
    bss = bss_client(emu, *RESPONDER)

    seen = []
    token = None
    pages = 0
    while True:
        request = bss_models.DescribeInstanceBillRequest(
            billing_cycle="2026-11",
            granularity="DAILY",
            billing_date="2026-11-20",
            max_results=300,
            next_token=token,
        )
        data = bss.describe_instance_bill(request).body.data
        pages += 1
        assert data.total_count == 400
        seen.extend(item.instance_id for item in data.items)
        token = data.next_token
        if not token:
            break
    assert pages == 2
    assert seen == ids
