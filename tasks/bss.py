"""BSS OpenAPI (billing) tasks, each following every page to the end.

``query_instance_bill``, ``query_bill`` and ``query_account_bill`` page with
``PageNum``/``PageSize`` (at most 300 a page); ``describe_instance_bill`` pages with
``NextToken``/``MaxResults``; ``query_bill_overview`` has no paging. All return the
bill items as the API names their fields (``ProductCode``, ``PretaxAmount``,
``Region``, ``InstanceID``, ...).

BSS can respond with HTTP 200 and ``"Success": false``. The SDK raises nothing then,
so these tasks raise ``CloudError`` with the body's ``Code`` and ``Message``. Only the
last 18 billing cycles are queryable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from alibabacloud_bssopenapi20171214 import models as bss_models

from akresponder.config import CloudConnection
from akresponder.errors import CloudError
from tasks._common import (
    body_map,
    call_api,
    check_billing_cycle,
    check_billing_date,
    check_choice,
    check_page_size,
    cloud_task,
    fields,
    task_logger,
)

PAGE_MAX = 300
GRANULARITIES = ("MONTHLY", "DAILY")
BILL_TYPES = ("SubscriptionOrder", "PayAsYouGoBill", "Refund", "Adjustment")
SUBSCRIPTION_TYPES = ("Subscription", "PayAsYouGo")


def _bss_call(
    connection: CloudConnection,
    action: str,
    invoke: Callable[[Any], Any],
    target: str,
) -> dict[str, Any]:
    response = call_api(connection, "bss", action, invoke, target=target)
    body = body_map(response)
    if body.get("Success") is False:
        code = str(body.get("Code") or "Unsuccessful")
        raise CloudError(
            code=code,
            status=200,
            api=f"bss:{action}",
            target=target,
            detail=str(body.get("Message") or "the response has Success=false"),
            request_id=str(body.get("RequestId") or ""),
            retryable=code in ("InternalError", "ServiceUnavailable"),
        )
    return body


def _check_granularity(granularity: str, billing_date: str | date | None) -> str | None:
    check_choice("granularity", granularity, GRANULARITIES)
    day = check_billing_date(billing_date)
    if granularity == "DAILY" and day is None:
        raise ValueError(
            "granularity DAILY needs billing_date (YYYY-MM-DD within billing_cycle)"
        )
    return day


def _item_list(data: dict[str, Any]) -> list[dict[str, Any]]:
    container = data.get("Items")
    if isinstance(container, list):
        return container
    return list((container or {}).get("Item") or [])


def _paged_by_number(
    connection: CloudConnection,
    action: str,
    method: str,
    build: Callable[[int], Any],
    target: str,
) -> list[dict[str, Any]]:
    collected: list[dict[str, Any]] = []
    page = 1
    while True:
        request = build(page)
        body = _bss_call(
            connection,
            action,
            lambda client, request=request: getattr(client, method)(request),
            f"{target} page={page}",
        )
        data = body.get("Data") or {}
        page_items = _item_list(data)
        collected.extend(page_items)
        total = data.get("TotalCount")
        if not page_items or (total is not None and len(collected) >= int(total)):
            break
        page += 1
    return collected


@cloud_task("bssapi:QueryInstanceBill")
def query_instance_bill(
    connection: CloudConnection,
    billing_cycle: str,
    *,
    product_code: str | None = None,
    granularity: str = "MONTHLY",
    billing_date: str | date | None = None,
    is_billing_item: bool = False,
    page_size: int = PAGE_MAX,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List a cycle's bill items per instance (``InstanceID``, ``Region``, ...)."""
    check_billing_cycle(billing_cycle)
    day = _check_granularity(granularity, billing_date)
    check_page_size(page_size, PAGE_MAX)
    log = task_logger()
    log.info(
        "Querying instance bill %s",
        fields(incident=incident, cycle=billing_cycle, product=product_code, day=day),
    )

    items = _paged_by_number(
        connection,
        "QueryInstanceBill",
        "query_instance_bill",
        lambda page: bss_models.QueryInstanceBillRequest(
            billing_cycle=billing_cycle,
            product_code=product_code,
            granularity=granularity,
            billing_date=day,
            is_billing_item=is_billing_item,
            page_num=page,
            page_size=page_size,
        ),
        f"billing_cycle={billing_cycle}",
    )

    log.info(
        "Queried instance bill %s",
        fields(incident=incident, cycle=billing_cycle, items=len(items)),
    )
    return items


@cloud_task("bssapi:QueryBill")
def query_bill(
    connection: CloudConnection,
    billing_cycle: str,
    *,
    product_code: str | None = None,
    bill_type: str | None = None,
    subscription_type: str | None = None,
    is_hide_zero_charge: bool = False,
    page_size: int = PAGE_MAX,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List a cycle's bills (with ``UsageStartTime``/``UsageEndTime``, ``Status``)."""
    check_billing_cycle(billing_cycle)
    if bill_type is not None:
        check_choice("bill_type", bill_type, BILL_TYPES)
    if subscription_type is not None:
        check_choice("subscription_type", subscription_type, SUBSCRIPTION_TYPES)
        if product_code is None:
            raise ValueError("subscription_type needs product_code as well")
    check_page_size(page_size, PAGE_MAX)
    log = task_logger()
    log.info(
        "Querying bill %s",
        fields(incident=incident, cycle=billing_cycle, product=product_code),
    )

    items = _paged_by_number(
        connection,
        "QueryBill",
        "query_bill",
        lambda page: bss_models.QueryBillRequest(
            billing_cycle=billing_cycle,
            product_code=product_code,
            type=bill_type,
            subscription_type=subscription_type,
            is_hide_zero_charge=is_hide_zero_charge,
            page_num=page,
            page_size=page_size,
        ),
        f"billing_cycle={billing_cycle}",
    )

    log.info(
        "Queried bill %s",
        fields(incident=incident, cycle=billing_cycle, items=len(items)),
    )
    return items


@cloud_task("bssapi:QueryAccountBill")
def query_account_bill(
    connection: CloudConnection,
    billing_cycle: str,
    *,
    granularity: str = "MONTHLY",
    billing_date: str | date | None = None,
    is_group_by_product: bool = True,
    product_code: str | None = None,
    page_size: int = PAGE_MAX,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List a cycle's account bill, by product unless ``is_group_by_product=False``."""
    check_billing_cycle(billing_cycle)
    day = _check_granularity(granularity, billing_date)
    check_page_size(page_size, PAGE_MAX)
    log = task_logger()
    log.info(
        "Querying account bill %s",
        fields(
            incident=incident, cycle=billing_cycle, granularity=granularity, day=day
        ),
    )

    items = _paged_by_number(
        connection,
        "QueryAccountBill",
        "query_account_bill",
        lambda page: bss_models.QueryAccountBillRequest(
            billing_cycle=billing_cycle,
            granularity=granularity,
            billing_date=day,
            is_group_by_product=is_group_by_product,
            product_code=product_code,
            page_num=page,
            page_size=page_size,
        ),
        f"billing_cycle={billing_cycle}",
    )

    log.info(
        "Queried account bill %s",
        fields(incident=incident, cycle=billing_cycle, items=len(items)),
    )
    return items


@cloud_task("bssapi:QueryBillOverview")
def query_bill_overview(
    connection: CloudConnection,
    billing_cycle: str,
    *,
    product_code: str | None = None,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List a cycle's totals per product (one page; the API does not page)."""
    check_billing_cycle(billing_cycle)
    log = task_logger()
    log.info(
        "Querying bill overview %s", fields(incident=incident, cycle=billing_cycle)
    )

    request = bss_models.QueryBillOverviewRequest(
        billing_cycle=billing_cycle, product_code=product_code
    )
    body = _bss_call(
        connection,
        "QueryBillOverview",
        lambda client: client.query_bill_overview(request),
        f"billing_cycle={billing_cycle}",
    )
    items = _item_list(body.get("Data") or {})

    log.info(
        "Queried bill overview %s",
        fields(incident=incident, cycle=billing_cycle, items=len(items)),
    )
    return items


@cloud_task("bssapi:DescribeInstanceBill")
def describe_instance_bill(
    connection: CloudConnection,
    billing_cycle: str,
    *,
    granularity: str = "MONTHLY",
    billing_date: str | date | None = None,
    instance_id: str | None = None,
    product_code: str | None = None,
    is_billing_item: bool = False,
    max_results: int = PAGE_MAX,
    incident: str = "",
) -> list[dict[str, Any]]:
    """List a cycle's instance bill items, following ``NextToken`` to the end."""
    check_billing_cycle(billing_cycle)
    day = _check_granularity(granularity, billing_date)
    check_page_size(max_results, PAGE_MAX, "max_results")
    log = task_logger()
    log.info(
        "Describing instance bill %s",
        fields(incident=incident, cycle=billing_cycle, instance=instance_id, day=day),
    )

    collected: list[dict[str, Any]] = []
    token: str | None = None
    pages = 0
    while True:
        request = bss_models.DescribeInstanceBillRequest(
            billing_cycle=billing_cycle,
            granularity=granularity,
            billing_date=day,
            instance_id=instance_id,
            product_code=product_code,
            is_billing_item=is_billing_item,
            max_results=max_results,
            next_token=token,
        )
        body = _bss_call(
            connection,
            "DescribeInstanceBill",
            lambda client, request=request: client.describe_instance_bill(request),
            f"billing_cycle={billing_cycle} page={pages + 1}",
        )
        pages += 1
        data = body.get("Data") or {}
        page_items = _item_list(data)
        collected.extend(page_items)
        token = data.get("NextToken") or None
        if token is None or not page_items:
            break

    log.info(
        "Described instance bill %s",
        fields(
            incident=incident, cycle=billing_cycle, items=len(collected), pages=pages
        ),
    )
    return collected
