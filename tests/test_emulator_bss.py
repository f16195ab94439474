"""BSS OpenAPI bill queries through the real SDK client and real HTTP.

The scenario's clock is 2026-11-20T08:00:00Z, which is 16:00 on 2026-11-20 in UTC+8,
the time zone of Alibaba Cloud bills; the current billing cycle is 2026-11.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_bssopenapi20171214 import models as bss_models
from alibabacloud_bssopenapi20171214.client import Client as BssClient
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException

from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import RESPONDER, bss_client, ram_client

BASIC = Path(__file__).parent / "scenarios" / "basic.json"
EXAMPLES = Path(__file__).parent / "data" / "alibaba_openapi_examples"

# Extra bill items: a subscription line for ECS, an RDS line and a zero line.
EXTRA_BILLS = [
    {
        "BillingCycle": "2026-10",
        "ProductCode": "ecs",
        "ProductName": "Elastic Compute Service",
        "SubscriptionType": "Subscription",
        "PretaxAmount": 100.0,
        "Region": "cn-hangzhou",
        "InstanceID": "i-bp1subscription0001",
    },
    {
        "BillingCycle": "2026-10",
        "ProductCode": "rds",
        "ProductName": "ApsaraDB RDS",
        "SubscriptionType": "PayAsYouGo",
        "PretaxAmount": 60.25,
        "Region": "cn-hangzhou",
        "InstanceID": "rm-bp1database000001",
    },
    {
        "BillingCycle": "2026-10",
        "ProductCode": "oss",
        "ProductName": "Object Storage Service",
        "SubscriptionType": "PayAsYouGo",
        "PretaxAmount": 0,
        "Region": "cn-hangzhou",
    },
]


@pytest.fixture(scope="module")
def emu():
    scenario = json.loads(BASIC.read_text(encoding="utf-8"))
    scenario["bills"].extend(EXTRA_BILLS)
    with start_emulator(scenario, freeze_clock=True) as running:
        yield running


@pytest.fixture(scope="module")
def bss(emu: RunningEmulator) -> BssClient:
    return bss_client(emu, *RESPONDER)


def expect_error(call, code: str, status: int) -> ClientException:
    """Run ``call`` and return the ClientException, checking its code and status."""
    with pytest.raises(ClientException) as caught:
        call()
    assert caught.value.code == code
    assert caught.value.status_code == status
    return caught.value


def query_bill(bss: BssClient, cycle: str | None = "2026-10", **kwargs):
    request = bss_models.QueryBillRequest(billing_cycle=cycle, **kwargs)
    return bss.query_bill(request).body


def account_bill(bss: BssClient, cycle: str = "2026-10", **kwargs):
    request = bss_models.QueryAccountBillRequest(billing_cycle=cycle, **kwargs)
    return bss.query_account_bill(request).body


def instance_bill(bss: BssClient, cycle: str = "2026-10", **kwargs):
    request = bss_models.QueryInstanceBillRequest(billing_cycle=cycle, **kwargs)
    return bss.query_instance_bill(request).body


# Envelope and scenario items.


def test_query_bill_envelope_and_items(bss):
    body = query_bill(bss, product_code="ecs", subscription_type="PayAsYouGo")

    assert body.success is True
    assert body.code == "Success"
    assert body.message == "Successful!"
    assert body.data.billing_cycle == "2026-10"
    assert body.data.account_id == "1234567890123456"
    assert body.data.total_count == 1
    [item] = body.data.items.item
    assert item.product_code == "ecs"
    assert item.pretax_amount == 820.5
    assert item.payment_amount == 820.5
    assert item.item == "PayAsYouGoBill"
    assert item.usage_start_time == "2026-10-01 00:00:00"
    assert item.usage_end_time == "2026-11-01 00:00:00"


def test_query_bill_lists_every_cycle_item(bss):
    body = query_bill(bss)

    codes = sorted(item.product_code for item in body.data.items.item)
    assert codes == ["ecs", "ecs", "oss", "rds"]


def test_query_instance_bill_monthly_lines(bss):
    body = instance_bill(bss, granularity="MONTHLY", product_code="rds")

    [item] = body.data.items.item
    assert item.instance_id == "rm-bp1database000001"
    assert item.region == "cn-hangzhou"
    assert item.billing_date == "2026-10"
    assert item.pretax_amount == 60.25


def test_query_account_bill_splits_subscription_types(bss):
    body = account_bill(bss, product_code="ecs")

    totals = {i.subscription_type: i.pretax_amount for i in body.data.items.item}
    assert totals == {"PayAsYouGo": 820.5, "Subscription": 100.0}


def test_query_account_bill_groups_by_product(bss):
    body = account_bill(bss, is_group_by_product=True)

    totals = {i.product_code: i.pretax_amount for i in body.data.items.item}
    assert totals == {"ecs": 920.5, "rds": 60.25, "oss": 0.0}
    ecs = next(i for i in body.data.items.item if i.product_code == "ecs")
    assert ecs.subscription_type == ""


def test_query_bill_overview_per_product(bss):
    request = bss_models.QueryBillOverviewRequest(billing_cycle="2026-10")
    body = bss.query_bill_overview(request).body

    lines = {(i.product_code, i.item): i.pretax_amount for i in body.data.items.item}
    assert lines == {
        ("ecs", "PayAsYouGoBill"): 820.5,
        ("ecs", "SubscriptionOrder"): 100.0,
        ("rds", "PayAsYouGoBill"): 60.25,
        ("oss", "PayAsYouGoBill"): 0.0,
    }


def test_query_account_balance_amounts_are_strings(bss):
    body = bss.query_account_balance().body

    assert body.success is True
    assert body.code == "200"
    assert body.message == "success"
    assert body.data.available_amount == "10000.00"
    assert body.data.currency == "CNY"


# Daily granularity.


def test_cycle_item_spread_evenly_over_days(bss):
    totals = []
    for day in range(1, 32):
        body = account_bill(
            bss,
            granularity="DAILY",
            billing_date=f"2026-10-{day:02d}",
            product_code="ecs",
        )
        [item] = [
            i for i in body.data.items.item if i.subscription_type == "PayAsYouGo"
        ]
        assert item.billing_date == f"2026-10-{day:02d}"
        totals.append(round(item.pretax_amount * 100))

    assert sum(totals) == 82050
    assert max(totals) - min(totals) <= 1


def test_daily_instance_line_for_scenario_item(bss):
    body = instance_bill(
        bss, granularity="DAILY", billing_date="2026-10-05", product_code="rds"
    )

    [item] = body.data.items.item
    assert item.billing_date == "2026-10-05"
    assert item.instance_id == "rm-bp1database000001"
    assert item.pretax_amount in (1.94, 1.95)


def test_current_cycle_item_stops_at_usage_end(bss):
    # The 2026-11 item's usage ends at 2026-11-20 00:00:00.
    last = instance_bill(bss, "2026-11", granularity="DAILY", billing_date="2026-11-19")
    after = instance_bill(
        bss, "2026-11", granularity="DAILY", billing_date="2026-11-20"
    )

    assert last.data.items.item[0].pretax_amount == pytest.approx(520.1 / 19, abs=0.01)
    assert after.data.items.item == []


# Filters.


def test_filter_by_product_code(bss):
    body = query_bill(bss, product_code="rds")

    assert [item.product_code for item in body.data.items.item] == ["rds"]


def test_filter_by_type(bss):
    body = query_bill(bss, type="SubscriptionOrder")

    [item] = body.data.items.item
    assert item.subscription_type == "Subscription"


def test_filter_hides_zero_charges(bss):
    visible = query_bill(bss).data.items.item
    hidden = query_bill(bss, is_hide_zero_charge=True).data.items.item

    assert "oss" in [item.product_code for item in visible]
    assert "oss" not in [item.product_code for item in hidden]
    assert len(hidden) == len(visible) - 1


def test_filter_subscription_type_needs_product_code(bss):
    error = expect_error(
        lambda: query_bill(bss, subscription_type="PayAsYouGo"),
        "InvalidParameter",
        400,
    )

    assert "ProductCode" in error.message


def test_filter_unknown_type_rejected(bss):
    error = expect_error(lambda: query_bill(bss, type="Gift"), "InvalidParameter", 400)

    assert "Gift" in error.message
    assert "PayAsYouGoBill" in error.message


def test_filter_other_bill_owner_empty(bss):
    body = query_bill(bss, bill_owner_id=999)

    assert body.data.total_count == 0


# BillingCycle, BillingDate and Granularity errors.


def test_billing_cycle_missing_rejected(bss):
    error = expect_error(lambda: query_bill(bss, None), "MissingParameter", 400)

    assert "BillingCycle" in error.message


@pytest.mark.parametrize("cycle", ["2026-13", "202611", "2026/11", "26-11"])
def test_billing_cycle_malformed_rejected(bss, cycle):
    error = expect_error(lambda: query_bill(bss, cycle), "InvalidParameter", 400)

    assert cycle in error.message
    assert "YYYY-MM" in error.message


def test_billing_cycle_last_18_accepted(bss):
    assert query_bill(bss, "2025-06").success is True


def test_billing_cycle_older_than_18_rejected(bss):
    error = expect_error(lambda: query_bill(bss, "2025-05"), "InvalidParameter", 400)

    assert "2025-05" in error.message
    assert "2025-06 to 2026-11" in error.message


FUTURE_CALLS = {
    "QueryBill": lambda bss: bss.query_bill(
        bss_models.QueryBillRequest(billing_cycle="2026-12")
    ),
    "QueryAccountBill": lambda bss: bss.query_account_bill(
        bss_models.QueryAccountBillRequest(billing_cycle="2026-12")
    ),
    "QueryInstanceBill": lambda bss: bss.query_instance_bill(
        bss_models.QueryInstanceBillRequest(billing_cycle="2026-12")
    ),
    "QueryBillOverview": lambda bss: bss.query_bill_overview(
        bss_models.QueryBillOverviewRequest(billing_cycle="2026-12")
    ),
    "DescribeInstanceBill": lambda bss: bss.describe_instance_bill(
        bss_models.DescribeInstanceBillRequest(billing_cycle="2026-12")
    ),
}


@pytest.mark.parametrize("action", sorted(FUTURE_CALLS))
def test_billing_cycle_future_is_success_false(bss, action):
    response = FUTURE_CALLS[action](bss)

    assert response.status_code == 200
    assert response.body.success is False
    assert response.body.code == "NotApplicable"
    assert "2026-12" in response.body.message
    assert response.body.data is None


def test_daily_requires_billing_date(bss):
    error = expect_error(
        lambda: instance_bill(bss, granularity="DAILY"), "MissingParameter", 400
    )

    assert "BillingDate" in error.message


def test_billing_date_outside_cycle_rejected(bss):
    error = expect_error(
        lambda: instance_bill(bss, granularity="DAILY", billing_date="2026-09-30"),
        "InvalidParameter",
        400,
    )

    assert "2026-09-30" in error.message
    assert "2026-10" in error.message


def test_billing_date_malformed_rejected(bss):
    error = expect_error(
        lambda: instance_bill(bss, granularity="DAILY", billing_date="2026-10-32"),
        "InvalidParameter",
        400,
    )

    assert "2026-10-32" in error.message


def test_granularity_unknown_rejected(bss):
    error = expect_error(
        lambda: instance_bill(bss, granularity="HOURLY"), "InvalidParameter", 400
    )

    assert "HOURLY" in error.message


def test_page_size_over_300_rejected(bss):
    error = expect_error(
        lambda: query_bill(bss, page_size=301), "InvalidParameter", 400
    )

    assert "301" in error.message


def test_max_results_over_300_rejected(bss):
    request = bss_models.DescribeInstanceBillRequest(
        billing_cycle="2026-10", max_results=301
    )

    expect_error(lambda: bss.describe_instance_bill(request), "InvalidParameter", 400)


def test_bad_next_token_rejected(bss):
    request = bss_models.DescribeInstanceBillRequest(
        billing_cycle="2026-10", next_token="garbage"
    )

    error = expect_error(
        lambda: bss.describe_instance_bill(request), "InvalidParameter", 400
    )
    assert "garbage" in error.message


# Shapes compared with Alibaba's published examples.


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _first_item(data: dict[str, Any]) -> dict[str, Any]:
    items = data["Items"]
    return items[0] if isinstance(items, list) else items["Item"][0]


EXAMPLE_CALLS = {
    "QueryBill": (
        bss_models.QueryBillResponseBody,
        lambda bss: bss.query_bill(
            bss_models.QueryBillRequest(billing_cycle="2026-10")
        ),
    ),
    "QueryAccountBill": (
        bss_models.QueryAccountBillResponseBody,
        lambda bss: bss.query_account_bill(
            bss_models.QueryAccountBillRequest(billing_cycle="2026-10")
        ),
    ),
    "QueryInstanceBill": (
        bss_models.QueryInstanceBillResponseBody,
        lambda bss: bss.query_instance_bill(
            bss_models.QueryInstanceBillRequest(billing_cycle="2026-10")
        ),
    ),
    "QueryBillOverview": (
        bss_models.QueryBillOverviewResponseBody,
        lambda bss: bss.query_bill_overview(
            bss_models.QueryBillOverviewRequest(billing_cycle="2026-10")
        ),
    ),
    "DescribeInstanceBill": (
        bss_models.DescribeInstanceBillResponseBody,
        lambda bss: bss.describe_instance_bill(
            bss_models.DescribeInstanceBillRequest(billing_cycle="2026-10")
        ),
    ),
}


@pytest.mark.parametrize("action", sorted(EXAMPLE_CALLS))
def test_fields_match_vendor_example(bss, action):
    model, call = EXAMPLE_CALLS[action]
    path = EXAMPLES / f"bssopenapi_2017-12-14__{action}.response_example.json"
    # Keep the example's fields that the SDK model reads, as it reads the emulator's.
    example = model().from_map(json.loads(path.read_text(encoding="utf-8"))).to_map()
    response = call(bss).body.to_map()

    assert response["Code"] == example["Code"]
    assert set(example["Data"]) - {"Items"} <= set(response["Data"])
    example_item = _first_item(example["Data"])
    response_item = _first_item(response["Data"])
    missing = set(example_item) - set(response_item)
    assert missing == set()
    for name, value in example_item.items():
        assert _json_type(response_item[name]) == _json_type(value), name


def test_balance_fields_match_vendor_example(bss):
    path = EXAMPLES / "bssopenapi_2017-12-14__QueryAccountBalance.response_example.json"
    example = json.loads(path.read_text(encoding="utf-8"))
    response = bss.query_account_balance().body.to_map()

    assert response["Code"] == example["Code"]
    assert response["Message"] == example["Message"]
    assert set(response["Data"]) == set(example["Data"])
    assert all(isinstance(value, str) for value in response["Data"].values())


# Permissions.


def test_bss_permission_error_shape(emu, bss):
    ram = ram_client(emu, *RESPONDER)
    ram.create_user(ram_models.CreateUserRequest(user_name="no-billing"))
    key = ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="no-billing")
    ).body.access_key
    denied = bss_client(emu, key.access_key_id, key.access_key_secret)

    error = expect_error(lambda: query_bill(denied), "NoPermission", 403)
    assert error.access_denied_detail["AuthAction"] == "bssapi:QueryBill"


# Scenario items the emulator cannot bill.


def test_malformed_scenario_item_names_field():
    scenario = json.loads(BASIC.read_text(encoding="utf-8"))
    scenario["bills"].append(
        {"BillingCycle": "2026-10", "ProductCode": "ecs", "PretaxAmount": "12.5"}
    )
    with start_emulator(scenario, freeze_clock=True) as running:
        bss = bss_client(running, *RESPONDER)
        with pytest.raises(ServerException) as caught:
            query_bill(bss)

    assert caught.value.code == "InternalError"
    assert "bills[2]" in caught.value.message
    assert "PretaxAmount='12.5'" in caught.value.message
