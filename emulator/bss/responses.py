"""BSS OpenAPI 2017-12-14 on the wire: bill queries and the account balance.

Every response has the BSS envelope ``{"Success", "Code", "Message", "Data"}``. The
Query* APIs page with ``PageNum``/``PageSize`` and wrap their lines as
``Data.Items.Item[]``; DescribeInstanceBill pages with ``MaxResults``/``NextToken``
and returns ``Data.Items`` as a bare list. Amounts are JSON numbers, except in
QueryAccountBalance, whose amounts are strings such as ``"10000.00"``.

A BillingCycle after the current one gets a response with HTTP 200, ``"Success": false``
and ``"Code": "NotApplicable"``: BSS reports some business failures this way rather
than as HTTP errors, and callers must check ``Success`` to notice them. A cycle
older than the last 18 is an HTTP 400 ``InvalidParameter``.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from emulator.bss.exceptions import BusinessFailure, NotApplicable
from emulator.bss.models import (
    AMOUNT_FIELDS,
    QUERYABLE_CYCLES,
    BillLine,
    BssBackend,
    Charge,
    cycles_back,
    format_usage_time,
    group_lines,
    local_now,
    parse_cycle,
    shift_cycle,
)
from emulator.errors import InvalidParameter, MissingParameter
from emulator.registry import PopRequest, pop_action

VERSION = "2017-12-14"
MAX_PAGE_SIZE = 300
GRANULARITIES = ("MONTHLY", "DAILY")
SUBSCRIPTION_TYPES = ("Subscription", "PayAsYouGo")
BILL_TYPES = ("SubscriptionOrder", "PayAsYouGoBill", "Refund", "Adjustment")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Handler = Callable[[PopRequest], dict[str, Any]]


def bss_action(action: str) -> Callable[[Handler], Handler]:
    """Register a read-only BSS action, checked against ``bssapi:<Action>``.

    The registered handler turns a ``BusinessFailure`` into an HTTP 200 body with
    ``"Success": false``.
    """

    def register(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def respond(req: PopRequest) -> dict[str, Any]:
            try:
                return handler(req)
            except BusinessFailure as failure:
                return {
                    "Success": False,
                    "Code": failure.code,
                    "Message": failure.message,
                }

        pop_action(
            "bss",
            VERSION,
            action,
            rw="Read",
            service_name="BssOpenApi",
            event_source="business.aliyuncs.com",
            host_id="business.aliyuncs.com",
            auth_action=f"bssapi:{action}",
        )(respond)
        return respond

    return register


# Parameters.


@dataclass
class BillQuery:
    """The billing period that a bill API request selects."""

    cycle: str
    daily: bool = False
    billing_date: date | None = None  # set when daily


def _bill_query(req: PopRequest, *, granularity: bool) -> BillQuery:
    """Parse BillingCycle and, for APIs that take them, Granularity and BillingDate."""
    now = local_now(req.cloud)
    current = (now.year, now.month)
    current_text = f"{now.year:04d}-{now.month:02d}"
    cycle_text = req.require("BillingCycle")
    cycle = parse_cycle(cycle_text)
    if cycle is None:
        raise InvalidParameter(
            "BillingCycle",
            f"Got {cycle_text!r}; use a month in YYYY-MM form, such as {current_text}.",
        )
    back = cycles_back(cycle, current)
    if back < 0:
        raise NotApplicable(
            f"BillingCycle {cycle_text} has not started yet; the current billing"
            f" cycle is {current_text} (UTC+8)."
        )
    if back >= QUERYABLE_CYCLES:
        oldest = shift_cycle(current, -(QUERYABLE_CYCLES - 1))
        raise InvalidParameter(
            "BillingCycle",
            f"Got {cycle_text}, but only the last {QUERYABLE_CYCLES} billing cycles,"
            f" {oldest} to {current_text}, can be queried.",
        )
    if not granularity:
        return BillQuery(cycle_text)

    granularity_text = req.get("Granularity", "MONTHLY")
    if granularity_text.upper() not in GRANULARITIES:
        raise InvalidParameter(
            "Granularity",
            f"Got {granularity_text!r}; use MONTHLY or DAILY.",
        )
    daily = granularity_text.upper() == "DAILY"
    date_text = req.get("BillingDate")
    if daily and date_text is None:
        raise MissingParameter("BillingDate")
    if date_text is None:
        return BillQuery(cycle_text)
    billing_date = _parse_date(date_text)
    if billing_date.strftime("%Y-%m") != cycle_text:
        raise InvalidParameter(
            "BillingDate",
            f"Got {date_text}, which is not in BillingCycle {cycle_text}; give a"
            f" date of that month, such as {cycle_text}-01.",
        )
    return BillQuery(cycle_text, daily, billing_date if daily else None)


def _parse_date(text: str) -> date:
    if _DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidParameter(
        "BillingDate", f"Got {text!r}; use a day in YYYY-MM-DD form."
    )


def _page(req: PopRequest) -> tuple[int, int]:
    page_num = req.get_int("PageNum", 1, minimum=1)
    page_size = req.get_int("PageSize", 20, minimum=1, maximum=MAX_PAGE_SIZE)
    return page_num, page_size


def _choice(req: PopRequest, name: str, allowed: tuple[str, ...]) -> str | None:
    value = req.get(name)
    if value is not None and value not in allowed:
        raise InvalidParameter(name, f"Got {value!r}; use one of {', '.join(allowed)}.")
    return value


def _subscription_type(req: PopRequest, *, needs_product: bool) -> str | None:
    value = _choice(req, "SubscriptionType", SUBSCRIPTION_TYPES)
    if value is not None and needs_product and req.get("ProductCode") is None:
        raise InvalidParameter(
            "SubscriptionType",
            "It filters only together with ProductCode; add ProductCode, such as ecs.",
        )
    return value


def _select(
    req: PopRequest, charges: list[Charge], query: BillQuery, *, bill_type: str | None
) -> list[Charge]:
    """Keep the charges that the call's period and filters select."""
    owner = req.get("BillOwnerId")
    if owner is not None and owner != req.cloud.account_id:
        return []
    filters = {
        "ProductCode": req.get("ProductCode"),
        "ProductType": req.get("ProductType"),
        "SubscriptionType": req.get("SubscriptionType"),
        "InstanceID": req.get("InstanceID"),
        "PipCode": req.get("PipCode"),
        "Item": bill_type,
    }
    selected = []
    for charge in charges:
        if query.daily and charge.billing_date != query.billing_date:
            continue
        if any(
            value is not None and charge.fields.get(name, "") != value
            for name, value in filters.items()
        ):
            continue
        selected.append(charge)
    return selected


def _hide_zero(lines: list[BillLine], names: tuple[str, ...]) -> list[BillLine]:
    return [line for line in lines if any(line.cents.get(n, 0) for n in names)]


# Response shapes.


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {"Success": True, "Code": "Success", "Message": "Successful!", "Data": data}


def _data_header(req: PopRequest, query: BillQuery) -> dict[str, Any]:
    return {
        "BillingCycle": query.cycle,
        "AccountID": req.cloud.account_id,
        "AccountName": req.cloud.account_name,
    }


def _amounts(line: BillLine) -> dict[str, float]:
    amounts = {name: line.amount(name) for name in AMOUNT_FIELDS}
    if "AfterTaxAmount" not in line.cents:
        amounts["AfterTaxAmount"] = amounts["PretaxAmount"] + amounts["Tax"]
    return amounts


def _account_fields(req: PopRequest) -> dict[str, str]:
    return {
        "OwnerID": req.cloud.account_id,
        "BillAccountID": req.cloud.account_id,
        "BillAccountName": req.cloud.account_name,
    }


def _product_fields(line: BillLine) -> dict[str, Any]:
    product_name = line.get("ProductName")
    return {
        "ProductCode": line.get("ProductCode"),
        "ProductName": product_name,
        "ProductType": line.get("ProductType"),
        "ProductDetail": line.get("ProductDetail", product_name),
        "PipCode": line.get("PipCode"),
        "CommodityCode": line.get("CommodityCode"),
        "SubscriptionType": line.get("SubscriptionType"),
        "Item": line.get("Item"),
        "Currency": line.get("Currency", "CNY"),
        "BizType": line.get("BizType", "aliyun"),
    }


def _instance_item(req: PopRequest, line: BillLine, query: BillQuery) -> dict:
    """Build one line of QueryInstanceBill and DescribeInstanceBill."""
    return {
        "BillingDate": query.billing_date.isoformat() if query.daily else query.cycle,
        "InstanceID": line.get("InstanceID"),
        "InstanceSpec": line.get("InstanceSpec"),
        "InstanceConfig": line.get("InstanceConfig"),
        "NickName": line.get("NickName"),
        "Region": line.get("Region"),
        "Zone": line.get("Zone"),
        "InternetIP": line.get("InternetIP"),
        "IntranetIP": line.get("IntranetIP"),
        "ResourceGroup": line.get("ResourceGroup"),
        "Tag": line.get("Tag"),
        "CostUnit": line.get("CostUnit"),
        "BillingType": line.get("BillingType", "Other"),
        "DeductedByResourcePackage": str(line.get("DeductedByResourcePackage", "0")),
        **_usage_fields(line),
        **_product_fields(line),
        **_account_fields(req),
        **_amounts(line),
    }


def _usage_fields(line: BillLine) -> dict[str, str]:
    """Describe the usage: started hours for emulated instances, else the item's."""
    if line.hours:
        return {
            "BillingItem": "Cloud server configuration",
            "ListPrice": f"{line.hourly_price_cents / 100:.2f}",
            "ListPriceUnit": "CNY/Hour",
            "Usage": str(line.hours),
            "UsageUnit": "Hour",
            "ServicePeriod": str(line.hours * 3600),
            "ServicePeriodUnit": "Second",
        }
    names = ("BillingItem", "ListPrice", "ListPriceUnit", "Usage", "UsageUnit")
    fields = {name: str(line.get(name)) for name in names}
    fields["ServicePeriod"] = str(line.get("ServicePeriod"))
    fields["ServicePeriodUnit"] = str(line.get("ServicePeriodUnit"))
    return fields


# Actions.


@bss_action("QueryBill")
def query_bill(req: PopRequest) -> dict[str, Any]:
    query = _bill_query(req, granularity=False)
    page_num, page_size = _page(req)
    bill_type = _choice(req, "Type", BILL_TYPES)
    _subscription_type(req, needs_product=True)

    charges = BssBackend(req.cloud).charges(query.cycle, daily=False)
    lines = group_lines(
        _select(req, charges, query, bill_type=bill_type), ("RecordID",)
    )
    if req.get_bool("IsHideZeroCharge"):
        lines = _hide_zero(lines, ("PretaxGrossAmount",))
    page = lines[(page_num - 1) * page_size : page_num * page_size]
    items = []
    for line in page:
        usage_end = format_usage_time(line.usage_end)
        amounts = _amounts(line)
        items.append(
            {
                "RecordID": line.record_id,
                "Status": line.get("Status", "PayFinish"),
                "UsageStartTime": format_usage_time(line.usage_start),
                "UsageEndTime": usage_end,
                "PaymentTime": line.get("PaymentTime", usage_end),
                "PaymentTransactionID": line.get("PaymentTransactionID"),
                "SubOrderId": line.get("SubOrderId"),
                "PaymentCurrency": line.get("PaymentCurrency", "CNY"),
                "RoundDownDiscount": "0",
                "PretaxAmountLocal": amounts["PretaxAmount"],
                "OwnerID": req.cloud.account_id,
                **_product_fields(line),
                **amounts,
            }
        )
    return _envelope(
        {
            **_data_header(req, query),
            "PageNum": page_num,
            "PageSize": page_size,
            "TotalCount": len(lines),
            "Items": {"Item": items},
        }
    )


@bss_action("QueryAccountBill")
def query_account_bill(req: PopRequest) -> dict[str, Any]:
    query = _bill_query(req, granularity=True)
    page_num, page_size = _page(req)
    by_product = req.get_bool("IsGroupByProduct")

    charges = BssBackend(req.cloud).charges(query.cycle, daily=query.daily)
    key = ("ProductCode",) if by_product else ("ProductCode", "SubscriptionType")
    lines = group_lines(_select(req, charges, query, bill_type=None), key)
    page = lines[(page_num - 1) * page_size : page_num * page_size]
    items = []
    for line in page:
        product = _product_fields(line)
        items.append(
            {
                "ProductCode": product["ProductCode"],
                "ProductName": product["ProductName"],
                "PipCode": product["PipCode"],
                "SubscriptionType": product["SubscriptionType"],
                "BizType": product["BizType"],
                "Currency": product["Currency"],
                "BillingDate": query.billing_date.isoformat() if query.daily else "",
                "OwnerName": req.cloud.account_name,
                "CostUnit": line.get("CostUnit"),
                **_account_fields(req),
                **_amounts(line),
            }
        )
    return _envelope(
        {
            **_data_header(req, query),
            "PageNum": page_num,
            "PageSize": page_size,
            "TotalCount": len(lines),
            "Items": {"Item": items},
        }
    )


@bss_action("QueryInstanceBill")
def query_instance_bill(req: PopRequest) -> dict[str, Any]:
    query = _bill_query(req, granularity=True)
    page_num, page_size = _page(req)
    _subscription_type(req, needs_product=True)

    lines = _instance_lines(req, query)
    page = lines[(page_num - 1) * page_size : page_num * page_size]
    return _envelope(
        {
            **_data_header(req, query),
            "PageNum": page_num,
            "PageSize": page_size,
            "TotalCount": len(lines),
            "Items": {"Item": [_instance_item(req, line, query) for line in page]},
        }
    )


@bss_action("DescribeInstanceBill")
def describe_instance_bill(req: PopRequest) -> dict[str, Any]:
    query = _bill_query(req, granularity=True)
    max_results = req.get_int("MaxResults", 20, minimum=1, maximum=MAX_PAGE_SIZE)
    token = req.get("NextToken")
    start = _decode_token(token) if token is not None else 0
    _subscription_type(req, needs_product=False)

    lines = _instance_lines(req, query)
    page = lines[start : start + max_results]
    more = start + max_results < len(lines)
    items = []
    for line in page:
        item = _instance_item(req, line, query)
        item["BillingItemCode"] = line.get("BillingItemCode", "")
        item["ItemName"] = item["NickName"]
        item["AfterDiscountAmount"] = item["PretaxAmount"]
        items.append(item)
    return _envelope(
        {
            **_data_header(req, query),
            "MaxResults": max_results,
            "NextToken": _encode_token(start + max_results) if more else "",
            "TotalCount": len(lines),
            "Items": items,
        }
    )


@bss_action("QueryBillOverview")
def query_bill_overview(req: PopRequest) -> dict[str, Any]:
    query = _bill_query(req, granularity=False)
    _subscription_type(req, needs_product=False)

    charges = BssBackend(req.cloud).charges(query.cycle, daily=False)
    selected = _select(req, charges, query, bill_type=None)
    lines = group_lines(selected, ("ProductCode", "SubscriptionType", "Item"))
    items = []
    for line in lines:
        amounts = _amounts(line)
        items.append(
            {
                "PaymentCurrency": line.get("PaymentCurrency", "CNY"),
                "RoundDownDiscount": "0",
                "PretaxAmountLocal": amounts["PretaxAmount"],
                **_product_fields(line),
                **_account_fields(req),
                **amounts,
            }
        )
    return _envelope({**_data_header(req, query), "Items": {"Item": items}})


@bss_action("QueryAccountBalance")
def query_account_balance(req: PopRequest) -> dict[str, Any]:
    accrued = BssBackend(req.cloud).accrued_instance_cents()
    available = round(req.cloud.account_balance * 100) - accrued
    text = f"{available / 100:.2f}"
    return {
        "Success": True,
        "Code": "200",
        "Message": "success",
        "Data": {
            "AvailableAmount": text,
            "AvailableCashAmount": text,
            "CreditAmount": "0.00",
            "MybankCreditAmount": "0.00",
            "QuotaLimit": "0.00",
            "Currency": "CNY",
        },
    }


# Helpers.


def _instance_lines(req: PopRequest, query: BillQuery) -> list[BillLine]:
    """Sum the selected charges per instance for the queried day or cycle."""
    charges = BssBackend(req.cloud).charges(query.cycle, daily=query.daily)
    selected = _select(req, charges, query, bill_type=None)
    lines = group_lines(
        selected, ("ProductCode", "SubscriptionType", "Item", "Instance")
    )
    if req.get_bool("IsHideZeroCharge"):
        lines = _hide_zero(lines, ("PretaxGrossAmount", "PretaxAmount"))
    return lines


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"bss:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, offset = text.partition(":")
        if prefix == "bss" and offset.isdigit():
            return int(offset)
    except ValueError:
        pass
    raise InvalidParameter(
        "NextToken",
        f"Got {token!r}, which no earlier DescribeInstanceBill call returned; pass the"
        " NextToken of the previous page, or none for the first page.",
    )
