"""BSS billing tasks against the emulator: paging and Success=false responses."""

from __future__ import annotations

import pytest
from cloud_helpers import calls, connect

from akresponder.errors import CloudError
from tasks import bss

INSTANCE = "i-bp1appbackend000001"


def test_bss_query_instance_bill_pages(emulator) -> None:
    connection = connect(emulator)
    everything = bss.query_instance_bill.fn(connection, "2026-10")
    paged = bss.query_instance_bill.fn(connection, "2026-10", page_size=1)
    assert everything
    assert paged == everything
    assert INSTANCE in {item["InstanceID"] for item in everything}
    assert all(item["Region"] for item in everything)
    assert len(calls(emulator, "QueryInstanceBill")) == 1 + len(everything)


def test_bss_query_instance_bill_daily_needs_date(emulator) -> None:
    with pytest.raises(ValueError) as caught:
        bss.query_instance_bill.fn(connect(emulator), "2026-11", granularity="DAILY")
    assert "granularity DAILY needs billing_date" in str(caught.value)


def test_bss_query_instance_bill_daily(emulator) -> None:
    items = bss.query_instance_bill.fn(
        connect(emulator), "2026-11", granularity="DAILY", billing_date="2026-11-10"
    )
    assert all(item["BillingDate"] == "2026-11-10" for item in items)


@pytest.mark.parametrize("cycle", ["2026-13", "202611", "2026-1", "Nov 2026"])
def test_bss_rejects_billing_cycle(emulator, cycle: str) -> None:
    with pytest.raises(ValueError) as caught:
        bss.query_bill.fn(connect(emulator), cycle)
    assert f"invalid billing_cycle {cycle!r}; use YYYY-MM" in str(caught.value)


def test_bss_query_bill_has_usage_times(emulator) -> None:
    items = bss.query_bill.fn(connect(emulator), "2026-10", product_code="ecs")
    assert items
    assert all(item["ProductCode"] == "ecs" for item in items)
    assert all("UsageStartTime" in item for item in items)


def test_bss_query_bill_subscription_needs_product(emulator) -> None:
    with pytest.raises(ValueError) as caught:
        bss.query_bill.fn(connect(emulator), "2026-10", subscription_type="PayAsYouGo")
    assert "subscription_type needs product_code" in str(caught.value)


def test_bss_query_account_bill_and_overview(emulator) -> None:
    connection = connect(emulator)
    account = bss.query_account_bill.fn(connection, "2026-10")
    overview = bss.query_bill_overview.fn(connection, "2026-10")
    assert {item["ProductCode"] for item in account} == {"ecs"}
    assert {item["ProductCode"] for item in overview} == {"ecs"}
    assert sum(item["PretaxAmount"] for item in overview) == pytest.approx(
        sum(item["PretaxAmount"] for item in account)
    )


def test_bss_describe_instance_bill_follows_token(emulator) -> None:
    connection = connect(emulator)
    items = bss.describe_instance_bill.fn(
        connection, "2026-11", granularity="DAILY", billing_date="2026-11-10"
    )
    paged = bss.describe_instance_bill.fn(
        connection,
        "2026-11",
        granularity="DAILY",
        billing_date="2026-11-10",
        max_results=1,
    )
    assert paged == items
    by_instance = bss.describe_instance_bill.fn(
        connection, "2026-10", instance_id=INSTANCE
    )
    assert {item["InstanceID"] for item in by_instance} == {INSTANCE}


def test_bss_future_cycle_raises_success_false(emulator) -> None:
    with pytest.raises(CloudError) as caught:
        bss.query_bill_overview.fn(connect(emulator), "2027-06")
    error = caught.value
    assert error.status == 200
    assert error.code == "NotApplicable"
    assert "bss:QueryBillOverview failed for billing_cycle=2027-06" in str(error)
