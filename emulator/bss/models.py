"""The BSS backend: the account's bills, from the scenario and from running instances.

Two sources feed every bill API:

* ``Cloud.bills``, the scenario's bill items. An item with a ``BillingDate`` is one
  day's charge. An item without one covers its billing cycle. Daily queries spread
  such an item evenly, to the cent, over the days from its ``UsageStartTime`` to its
  ``UsageEndTime``. Without those times they spread it over the cycle up to today.
* ``Cloud.instances``: every emulated instance accrues its hourly price for each
  started hour of the emulator's clock from creation until release. An hour belongs
  to the day and the billing cycle in which it starts.

Billing dates, billing cycles and usage times here are China Standard Time (UTC+8):
an hour that starts at 2026-11-30T20:00Z belongs to the 2026-12 cycle.
NOTE: Alibaba Cloud's billing pages state billing times in UTC+8, for example for
ApsaraDB for Redis subscriptions. That daily bills also end at midnight UTC+8 is an
assumption.

Amounts are integer cents, so the daily shares of an item add up to its exact total.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from emulator import pricing
from emulator.errors import InternalError
from emulator.state import Cloud, Instance

BILLING_TIMEZONE = timezone(timedelta(hours=8), "UTC+8")
QUERYABLE_CYCLES = 18  # the current billing cycle and the 17 before it
HOUR = 3600

# Amount fields of bill items; scenario items may carry any of them.
AMOUNT_FIELDS = (
    "PretaxGrossAmount",
    "PretaxAmount",
    "PaymentAmount",
    "CashAmount",
    "OutstandingAmount",
    "DeductedByCoupons",
    "DeductedByCashCoupons",
    "DeductedByPrepaidCard",
    "InvoiceDiscount",
    "AdjustAmount",
    "Tax",
    "AfterTaxAmount",
)
ITEM_BY_SUBSCRIPTION_TYPE = {
    "PayAsYouGo": "PayAsYouGoBill",
    "Subscription": "SubscriptionOrder",
}
ECS_PRODUCT = {
    "ProductCode": "ecs",
    "ProductName": "Elastic Compute Service",
    "PipCode": "ecs",
    "CommodityCode": "ecs",
    "SubscriptionType": "PayAsYouGo",
    "Item": "PayAsYouGoBill",
    "Currency": "CNY",
}
_CYCLE = re.compile(r"^(\d{4})-(\d{2})$")
_USAGE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class Charge:
    """Money charged for one bill record on one day, or over a whole cycle.

    ``fields`` are the record's descriptive bill fields (ProductCode, InstanceID,
    Region, ...); ``cents`` its amounts by field name.
    """

    record_id: str
    billing_date: date | None  # None for a cycle-level scenario item
    fields: dict[str, Any]
    cents: dict[str, int]
    usage_start: datetime | None = None  # naive UTC+8
    usage_end: datetime | None = None
    hours: int = 0  # started hours, for emulated instances
    hourly_price_cents: int = 0


@dataclass
class BillLine:
    """Charges summed into one line of a bill API's response."""

    fields: dict[str, Any]
    cents: dict[str, int] = field(default_factory=dict)
    billing_date: date | None = None
    usage_start: datetime | None = None
    usage_end: datetime | None = None
    hours: int = 0
    hourly_price_cents: int = 0
    record_id: str = ""
    # Names of fields whose values differ between the summed charges.
    mixed: set[str] = field(default_factory=set)

    def get(self, name: str, default: Any = "") -> Any:
        """Return a descriptive field, or "" if the summed charges disagree on it."""
        if name in self.mixed:
            return ""
        return self.fields.get(name, default)

    def add(self, charge: Charge) -> None:
        for name, value in self.fields.items():
            if charge.fields.get(name) != value:
                self.mixed.add(name)
        for name, cents in charge.cents.items():
            self.cents[name] = self.cents.get(name, 0) + cents
        self.hours += charge.hours
        self.hourly_price_cents = self.hourly_price_cents or charge.hourly_price_cents
        if charge.usage_start is not None:
            if self.usage_start is None or charge.usage_start < self.usage_start:
                self.usage_start = charge.usage_start
        if charge.usage_end is not None:
            if self.usage_end is None or charge.usage_end > self.usage_end:
                self.usage_end = charge.usage_end

    def amount(self, name: str) -> float:
        return self.cents.get(name, 0) / 100


# Billing cycles and dates.


def local_now(cloud: Cloud) -> datetime:
    """Return the emulator's time in China Standard Time."""
    return cloud.now().astimezone(BILLING_TIMEZONE)


def parse_cycle(text: str) -> tuple[int, int] | None:
    """Parse ``YYYY-MM`` into (year, month), or return None if it is not one."""
    match = _CYCLE.match(text)
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    return (year, month) if 1 <= month <= 12 else None


def cycle_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def cycles_back(cycle: tuple[int, int], current: tuple[int, int]) -> int:
    """Return how many months ``cycle`` lies before ``current`` (negative: after)."""
    return (current[0] * 12 + current[1]) - (cycle[0] * 12 + cycle[1])


def shift_cycle(cycle: tuple[int, int], months: int) -> str:
    index = cycle[0] * 12 + cycle[1] - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def cycle_days(cycle: str) -> list[date]:
    year, month = int(cycle[:4]), int(cycle[5:7])
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return [first + timedelta(days=n) for n in range((following - first).days)]


# Charges.


class BssBackend:
    """Bill queries on one ``Cloud``; callers must acquire ``Cloud.lock`` first."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def charges(self, cycle: str, *, daily: bool) -> list[Charge]:
        """Return the cycle's charges, ordered by date and record.

        With ``daily`` every charge has a ``billing_date``; without it, scenario
        items that cover the whole cycle stay one charge each.
        """
        today = local_now(self.cloud).date()
        found: list[Charge] = []
        for number, item in enumerate(self.cloud.bills):
            if item.get("BillingCycle") == cycle:
                found.extend(_scenario_charges(item, number, cycle, today, daily))
        now = self.cloud.now()
        for instance in self.cloud.instances.values():
            found.extend(_instance_charges(instance, cycle, now))
        found.sort(key=_charge_order)
        return found

    def accrued_instance_cents(self) -> int:
        """Sum what every emulated instance has accrued, over all cycles."""
        now = self.cloud.now()
        return sum(
            started_hours(instance, instance.creation_time, now)
            * _price_cents(instance)
            for instance in self.cloud.instances.values()
        )


def _charge_order(charge: Charge) -> date:
    # Sorting is stable, so one day's charges keep the scenario's order, then the
    # order in which the instances were created.
    return charge.billing_date or date.min


def _price_cents(instance: Instance) -> int:
    return round(instance.hourly_price * 100)


def started_hours(instance: Instance, start: datetime, end: datetime) -> int:
    """Count the instance's billed hours that start in ``[start, end)``.

    Hours run from the creation time. An hour is billed once any of it has passed
    before the release or the present: a release 61 minutes after creation bills
    two hours.
    """
    stop = instance.deletion_time or end
    stop = min(stop, end)
    created = instance.creation_time
    first = max(start, created)
    if stop <= first:
        return 0
    # Hour k starts at created + k hours; count k with first <= start_k < stop.
    first_index = _ceil_div((first - created).total_seconds(), HOUR)
    stop_index = _ceil_div((stop - created).total_seconds(), HOUR)
    return max(0, stop_index - first_index)


def _ceil_div(value: float, divisor: int) -> int:
    return -int(-value // divisor)


def _instance_charges(
    instance: Instance, cycle: str, now: datetime
) -> Iterator[Charge]:
    """Yield one charge per day of the cycle on which the instance was billed."""
    end = min(instance.deletion_time or now, now)
    first_day = instance.creation_time.astimezone(BILLING_TIMEZONE).date()
    last_day = end.astimezone(BILLING_TIMEZONE).date()
    price_cents = _price_cents(instance)
    spec = pricing.INSTANCE_TYPES.get(instance.instance_type)
    for day in cycle_days(cycle):
        if day < first_day or day > last_day:
            continue
        day_start = datetime.combine(day, time(), BILLING_TIMEZONE)
        day_end = day_start + timedelta(days=1)
        hours = started_hours(instance, day_start, min(day_end, now))
        if hours == 0:
            continue
        first_hour = _first_hour_start(instance, day_start)
        amount = hours * price_cents
        yield Charge(
            record_id=f"{instance.instance_id}/{day.isoformat()}",
            billing_date=day,
            fields={
                **ECS_PRODUCT,
                "InstanceID": instance.instance_id,
                "InstanceSpec": instance.instance_type,
                "InstanceConfig": _instance_config(spec),
                "NickName": instance.instance_name,
                "Region": instance.region_id,
                "Zone": instance.zone_id,
                "IntranetIP": instance.attributes.get("PrivateIpAddress", ""),
                "InternetIP": ",".join(instance.attributes.get("PublicIpAddress", [])),
            },
            cents={
                "PretaxGrossAmount": amount,
                "PretaxAmount": amount,
                "PaymentAmount": amount,
                "CashAmount": amount,
            },
            usage_start=_naive_local(first_hour),
            usage_end=_naive_local(first_hour + timedelta(hours=hours)),
            hours=hours,
            hourly_price_cents=price_cents,
        )


def _first_hour_start(instance: Instance, day_start: datetime) -> datetime:
    """Return the start of the instance's first billed hour on or after day_start."""
    created = instance.creation_time
    if day_start <= created:
        return created
    index = _ceil_div((day_start - created).total_seconds(), HOUR)
    return created + timedelta(hours=index)


def _naive_local(moment: datetime) -> datetime:
    return moment.astimezone(BILLING_TIMEZONE).replace(tzinfo=None)


def _instance_config(spec: pricing.InstanceType | None) -> str:
    if spec is None:
        return ""
    config = f"CPU:{spec.cpu};Memory:{spec.memory_gib:g}GB"
    if spec.gpu_amount:
        config += f";GPU:{spec.gpu_amount} x {spec.gpu_spec}"
    return config


# Scenario items.


def _scenario_charges(
    item: dict[str, Any], number: int, cycle: str, today: date, daily: bool
) -> list[Charge]:
    fields = {
        name: value
        for name, value in item.items()
        if name not in AMOUNT_FIELDS and name != "BillingCycle"
    }
    subscription_type = fields.get("SubscriptionType", "PayAsYouGo")
    fields.setdefault("SubscriptionType", subscription_type)
    fields.setdefault("Item", ITEM_BY_SUBSCRIPTION_TYPE.get(subscription_type, ""))
    fields.setdefault("Currency", "CNY")
    product_code = fields.get("ProductCode", "")
    fields.setdefault("PipCode", product_code)
    fields.setdefault("CommodityCode", product_code)
    record_id = str(fields.pop("RecordID", f"scenario-{cycle}-{number:05d}"))
    cents = _scenario_cents(item, number)
    usage_start = _parse_usage_time(item, number, "UsageStartTime")
    usage_end = _parse_usage_time(item, number, "UsageEndTime")
    fields.pop("UsageStartTime", None)
    fields.pop("UsageEndTime", None)
    billing_date = fields.pop("BillingDate", None)

    if billing_date:
        day = _parse_billing_date(item, number)
        return [Charge(record_id, day, fields, cents, usage_start, usage_end)]
    if not daily:
        return [Charge(record_id, None, fields, cents, usage_start, usage_end)]

    days = _usage_days(cycle, usage_start, usage_end, today)
    if not days:
        return []
    charges = []
    shares = {name: _split_cents(total, len(days)) for name, total in cents.items()}
    for index, day in enumerate(days):
        day_start = datetime.combine(day, time())
        charges.append(
            Charge(
                record_id,
                day,
                fields,
                {name: parts[index] for name, parts in shares.items()},
                max(day_start, usage_start) if usage_start else day_start,
                min(day_start + timedelta(days=1), usage_end)
                if usage_end
                else day_start + timedelta(days=1),
            )
        )
    return charges


def _scenario_cents(item: dict[str, Any], number: int) -> dict[str, int]:
    """Read the item's amounts, filling the ones a paid bill implies."""
    amounts = {}
    for name in AMOUNT_FIELDS:
        value = item.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid_item(number, name, value, "a JSON number such as 820.5")
        amounts[name] = round(value * 100)
    pretax = amounts.setdefault("PretaxAmount", 0)
    amounts.setdefault("PretaxGrossAmount", pretax)
    payment = amounts.setdefault("PaymentAmount", pretax)
    amounts.setdefault("CashAmount", payment)
    return amounts


def _parse_usage_time(item: dict[str, Any], number: int, name: str) -> datetime | None:
    text = item.get(name)
    if not text:
        return None
    try:
        return datetime.strptime(str(text), _USAGE_TIME_FORMAT)
    except ValueError:
        raise _invalid_item(
            number, name, text, "a UTC+8 time such as 2026-11-01 00:00:00"
        ) from None


def _parse_billing_date(item: dict[str, Any], number: int) -> date:
    text = item["BillingDate"]
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise _invalid_item(
            number, "BillingDate", text, "a day such as 2026-11-01"
        ) from None


def _invalid_item(number: int, name: str, value: Any, expected: str) -> InternalError:
    """Report a scenario bill item that the emulator cannot bill."""
    return InternalError(
        f"The scenario's bills[{number}] has {name}={value!r}; fix the scenario to"
        f" give {expected}."
    )


def _usage_days(
    cycle: str, start: datetime | None, end: datetime | None, today: date
) -> list[date]:
    """List the cycle's days that a cycle-level item's usage covers."""
    days = cycle_days(cycle)
    if start is not None:
        days = [day for day in days if day >= start.date()]
    if end is not None:
        # The end is exclusive: usage that ends at midnight does not reach that day.
        days = [day for day in days if datetime.combine(day, time()) < end]
    else:
        days = [day for day in days if day <= today]
    return days


def _split_cents(total: int, parts: int) -> list[int]:
    """Split an amount into equal daily shares whose sum is exact."""
    share, remainder = divmod(abs(total), parts)
    sign = -1 if total < 0 else 1
    return [sign * (share + (1 if index < remainder else 0)) for index in range(parts)]


# Grouping.


def group_lines(
    charges: Iterable[Charge], key_fields: tuple[str, ...]
) -> list[BillLine]:
    """Sum charges into lines that share the values of ``key_fields``.

    ``"RecordID"`` and ``"BillingDate"`` in ``key_fields`` group by the charge's
    record and date, and ``"Instance"`` by its InstanceID or, lacking one, by its
    record. Lines keep the order of their first charge.
    """
    lines: dict[tuple, BillLine] = {}
    for charge in charges:
        key = tuple(_key_value(charge, name) for name in key_fields)
        line = lines.get(key)
        if line is None:
            line = BillLine(
                fields=dict(charge.fields),
                billing_date=charge.billing_date,
                record_id=charge.record_id,
            )
            lines[key] = line
        line.add(charge)
    return list(lines.values())


def _key_value(charge: Charge, name: str) -> Any:
    if name == "RecordID":
        return charge.record_id
    if name == "Instance":
        # Items without an instance are lines of their own.
        return charge.fields.get("InstanceID") or charge.record_id
    if name == "BillingDate":
        return charge.billing_date
    return charge.fields.get(name, "")


def format_usage_time(moment: datetime | None) -> str:
    return moment.strftime(_USAGE_TIME_FORMAT) if moment else ""
