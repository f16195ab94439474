"""Spend analysis from BSS OpenAPI bills: what the incident cost and what still runs.

Bill items come from QueryBill, QueryAccountBill, QueryInstanceBill or
DescribeInstanceBill, as item dicts or as whole response bodies (Query* APIs put items
under ``Data.Items.Item``, Describe* under ``Data.Items``). Amounts may be numbers or
strings such as ``"NULL"``; regions may be region ids or Chinese city names.

An item covers a day (``BillingDate`` YYYY-MM-DD), a usage period (``UsageStartTime``
to ``UsageEndTime``) or a whole month. Items that cover more than a day are spread
evenly over the days they cover, and marked ``spread``: daily figures built from them
are estimates.

Spikes are scored with the modified z-score of Iglewicz and Hoaglin,
``0.6745 * (x - median) / MAD``, against the daily spend before the incident. When the
MAD is 0 the score uses ``1.253314 * mean absolute deviation`` instead (IBM SPSS's
fallback); when both are 0 any day above the median scores as a spike. A spike must
also reach ``billing_spike_min_ratio`` times the baseline median, because spend
that is nearly constant (monthly bills spread over days) has a tiny MAD, and cent
changes would otherwise score as outliers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from akresponder.analysis import catalog
from akresponder.analysis.detectors import instance_ids_from_response
from akresponder.analysis.events import parse_json_objects
from akresponder.analysis.findings import Finding
from akresponder.analysis.settings import AnalysisSettings

BILL_COLUMNS: tuple[str, ...] = (
    "date",
    "billing_cycle",
    "product_code",
    "product_name",
    "region",
    "instance_id",
    "amount",
    "currency",
    "subscription_type",
    "spread",
)
# Chinese region names that BSS examples use in ``Region``, by region id. Matched as
# substrings, so "华东1（杭州）" maps too.
REGION_NAMES: dict[str, str] = {
    "杭州": "cn-hangzhou",
    "上海": "cn-shanghai",
    "北京": "cn-beijing",
    "深圳": "cn-shenzhen",
    "青岛": "cn-qingdao",
    "张家口": "cn-zhangjiakou",
    "呼和浩特": "cn-huhehaote",
    "乌兰察布": "cn-wulanchabu",
    "河源": "cn-heyuan",
    "广州": "cn-guangzhou",
    "成都": "cn-chengdu",
    "香港": "cn-hongkong",
    "新加坡": "ap-southeast-1",
    "东京": "ap-northeast-1",
    "法兰克福": "eu-central-1",
    "伦敦": "eu-west-1",
    "弗吉尼亚": "us-east-1",
    "硅谷": "us-west-1",
}
# Amount fields in order of preference: the pre-tax amount after discounts is what
# the account is charged for the usage, before coupons and prepaid cards.
_AMOUNT_FIELDS = ("PretaxAmount", "PaymentAmount", "PretaxGrossAmount", "CashAmount")
# Instance states that still cost money: stopped pay-as-you-go instances keep billing
# for disks unless they were stopped in economical mode.
_PRESENT_STATES = frozenset({"Pending", "Starting", "Running", "Stopping", "Stopped"})
# Bill dates outside these bounds are unusable: BSS has no bills before 2000, and
# nanosecond timestamps end in 2262.
_EARLIEST = pd.Timestamp("2000-01-01", tz="UTC")
_LATEST = pd.Timestamp("2200-01-01", tz="UTC")
# No bill item comes near this amount in any currency. A larger amount, NaN or
# infinity ("nan" and "1e999" as text parse to them) marks a malformed item.
_MAX_AMOUNT = 1e15
_MODIFIED_Z = 0.6745
_MEAN_AD_FACTOR = 1.253314


@dataclass
class BillingReport:
    """Spend before and during the incident, spikes, and the attacker's share."""

    daily: pd.DataFrame  # date, currency, product_code, region, amount
    period_totals: pd.DataFrame  # period, currency, product_code, region, amount
    new_products: list[str]
    new_regions: list[str]
    spikes: pd.DataFrame  # date, currency, scope, amount, median, mad, score
    attributed: pd.DataFrame  # instance_id, access_key_id, event_id, region, amount
    attributable_total: dict[str, float]  # by currency
    still_present: list[dict[str, Any]]
    unexplained_instances: list[dict[str, Any]]
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    unusable_items: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (frames as lists of records)."""
        return {
            "daily": _records(self.daily),
            "period_totals": _records(self.period_totals),
            "new_products": self.new_products,
            "new_regions": self.new_regions,
            "spikes": _records(self.spikes),
            "attributed": _records(self.attributed),
            "attributable_total": self.attributable_total,
            "still_present": self.still_present,
            "unexplained_instances": self.unexplained_instances,
            "findings": [finding.to_dict() for finding in self.findings],
            "notes": self.notes,
            "unusable_items": self.unusable_items,
        }


def bill_items(payloads: Iterable[Any]) -> list[dict[str, Any]]:
    """Return the bill item dicts inside BSS response bodies, items or lists of them."""
    items: list[dict[str, Any]] = []
    for payload in payloads:
        items.extend(_items_of(payload))
    return items


def normalise_bill_items(payloads: Iterable[Any]) -> pd.DataFrame:
    """Build a daily bill frame (``BILL_COLUMNS``) from BSS items or responses.

    Items without a usable amount or period are dropped and counted in
    ``attrs["unusable_items"]``.
    """
    items = bill_items(payloads)
    raw = pd.DataFrame(items)
    if raw.empty:
        return _empty_bills(unusable=0)
    amount = pd.Series(np.nan, index=raw.index)
    for name in _AMOUNT_FIELDS:
        if name in raw:
            values = pd.to_numeric(raw[name], errors="coerce")
            amount = amount.fillna(values.where(values.abs() < _MAX_AMOUNT))
    cycle = _text(raw, "BillingCycle")
    start, days = _periods(raw, cycle)
    usable = amount.notna() & start.notna() & (days > 0)
    raw, amount, start, days, cycle = (
        raw.loc[usable],
        amount[usable],
        start[usable],
        days[usable],
        cycle[usable],
    )
    region = _regions(raw)
    naive_start = start.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    repeats = days.astype(int).to_numpy()
    positions = np.repeat(np.arange(len(raw)), repeats)
    offsets = np.arange(repeats.sum()) - np.repeat(
        np.cumsum(repeats) - repeats, repeats
    )
    frame = pd.DataFrame(
        {
            "date": naive_start[positions] + offsets.astype("timedelta64[D]"),
            "billing_cycle": cycle.to_numpy()[positions],
            "product_code": _text(raw, "ProductCode").str.lower().to_numpy()[positions],
            "product_name": _text(raw, "ProductName").to_numpy()[positions],
            "region": region.to_numpy()[positions],
            "instance_id": _text(raw, "InstanceID").str.strip().to_numpy()[positions],
            "amount": (amount / days).to_numpy()[positions],
            "currency": _text(raw, "Currency").replace("", "CNY").to_numpy()[positions],
            "subscription_type": _text(raw, "SubscriptionType").to_numpy()[positions],
            "spread": (days > 1).to_numpy()[positions],
        }
    )
    frame["date"] = frame["date"].dt.tz_localize(UTC).dt.as_unit("ns")
    frame.attrs["unusable_items"] = int((~usable).sum())
    return frame


def analyse_billing(
    payloads: Iterable[Any],
    *,
    window_start: datetime,
    window_end: datetime | None = None,
    events: pd.DataFrame | None = None,
    attacker_keys: Iterable[str] = (),
    instances: Iterable[Any] | None = None,
    settings: AnalysisSettings | None = None,
) -> BillingReport:
    """Compare spend before and during the incident and attribute the attacker's cost.

    ``events`` (a normalised frame) and ``attacker_keys`` name the instances the
    attacker created: successful RunInstances or CreateInstance calls by those keys
    in the window. ``instances`` is a DescribeInstances-shaped list (items or response
    bodies) used to tell which of them still exist.
    """
    if window_start.tzinfo is None:
        raise ValueError(
            f"window_start {window_start.isoformat()} has no time zone; pass an aware "
            "datetime such as datetime(..., tzinfo=UTC)"
        )
    settings = settings or AnalysisSettings()
    bills = normalise_bill_items(payloads)
    start_day = pd.Timestamp(window_start).tz_convert(UTC).floor("D")
    end_day = (
        pd.Timestamp(window_end).tz_convert(UTC).floor("D")
        if window_end is not None
        else None
    )
    baseline_start = start_day - pd.Timedelta(days=settings.billing_baseline_days)
    period = pd.Series("outside", index=bills.index)
    period[(bills["date"] >= baseline_start) & (bills["date"] < start_day)] = "baseline"
    incident = bills["date"] >= start_day
    if end_day is not None:
        incident &= bills["date"] <= end_day
    period[incident] = "incident"
    bills = bills.assign(period=period)

    daily = (
        bills.groupby(["date", "currency", "product_code", "region"], as_index=False)[
            "amount"
        ]
        .sum()
        .sort_values(["date", "currency", "product_code", "region"])
        .reset_index(drop=True)
    )
    period_totals = (
        bills.loc[bills["period"] != "outside"]
        .groupby(["period", "currency", "product_code", "region"], as_index=False)[
            "amount"
        ]
        .sum()
    )
    before = bills.loc[bills["period"] == "baseline"]
    during = bills.loc[(bills["period"] == "incident") & (bills["amount"] > 0)]
    new_products = sorted(set(during["product_code"]) - set(before["product_code"]))
    new_regions = sorted(set(during["region"]) - set(before["region"]) - {""})
    notes: list[str] = []
    spikes = _spikes(bills, start_day, end_day, baseline_start, settings, notes)

    attacker = _attacker_instances(events, attacker_keys, window_start, window_end)
    attributed = _attribute(attacker, bills)
    attributable_total = {
        currency: round(float(amount), 6)
        for currency, amount in attributed.groupby("currency")["amount"].sum().items()
    }
    described = _described_instances(instances)
    still_present = [
        described[instance_id]
        for instance_id in attacker["instance_id"]
        if instance_id in described
        and described[instance_id].get("status") in _PRESENT_STATES
    ]
    unexplained = [
        info
        for instance_id, info in described.items()
        if instance_id not in set(attacker["instance_id"])
        and info.get("creation_time")
        and pd.Timestamp(info["creation_time"]) >= pd.Timestamp(window_start)
    ]
    if bills.attrs.get("unusable_items"):
        notes.append(
            f"{bills.attrs['unusable_items']} bill item(s) had no usable amount or "
            "period and were skipped"
        )
    report = BillingReport(
        daily=daily,
        period_totals=period_totals,
        new_products=new_products,
        new_regions=new_regions,
        spikes=spikes,
        attributed=attributed,
        attributable_total=attributable_total,
        still_present=still_present,
        unexplained_instances=unexplained,
        findings=[],
        notes=notes,
        unusable_items=int(bills.attrs.get("unusable_items", 0)),
    )
    report.findings = _findings(report, attacker, bills, settings)
    return report


# Bill parsing ------------------------------------------------------------------------


def _items_of(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, list):
        return [item for element in payload for item in _items_of(element)]
    if not isinstance(payload, dict):
        return []
    if "body" in payload and isinstance(payload["body"], dict):
        return _items_of(payload["body"])
    data = payload.get("Data")
    if isinstance(data, dict) and "Items" in data:
        return _items_of({"Items": data["Items"]})
    if "Items" in payload:
        items = payload["Items"]
        if isinstance(items, dict):
            items = items.get("Item", [])
        return (
            [item for item in items if isinstance(item, dict)]
            if isinstance(items, list)
            else []
        )
    return [payload]


def _text(raw: pd.DataFrame, name: str) -> pd.Series:
    if name not in raw:
        return pd.Series("", index=raw.index, dtype="str")
    column = raw[name]
    text = column.where(column.notna(), "").astype("str").str.strip()
    return text.replace({"NULL": "", "None": "", "nan": ""})


def _periods(raw: pd.DataFrame, cycle: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return each item's first day and the number of days it covers."""
    start = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    days = pd.Series(0, index=raw.index, dtype="int64")

    billing_date = _text(raw, "BillingDate")
    billing_day = _utc_times(billing_date)
    daily = billing_date.str.fullmatch(r"\d{4}-\d{2}-\d{2}") & billing_day.notna()
    start[daily] = billing_day[daily]
    days[daily] = 1

    usage_start = _utc_times(_text(raw, "UsageStartTime"))
    usage_end = _utc_times(_text(raw, "UsageEndTime"))
    usage = ~daily & usage_start.notna()
    first_day = usage_start.dt.floor("D")
    last_moment = usage_end.where(usage_end > usage_start, usage_start)
    # A period ending at midnight does not bill the day that starts then.
    last_day = (last_moment - pd.Timedelta(microseconds=1)).dt.floor("D")
    span = ((last_day - first_day) / pd.Timedelta(days=1)).fillna(0).astype(int) + 1
    start[usage] = first_day[usage]
    days[usage] = span[usage].clip(lower=1)

    month_text = billing_date.where(billing_date.str.fullmatch(r"\d{4}-\d{2}"), cycle)
    monthly = ~daily & ~usage & month_text.str.fullmatch(r"\d{4}-\d{2}")
    month_start = _utc_times(month_text[monthly] + "-01")
    monthly.loc[monthly] = month_start.notna()
    month_start = month_start[month_start.notna()]
    start[monthly] = month_start
    days[monthly] = month_start.dt.days_in_month
    return start, days


def _utc_times(texts: pd.Series) -> pd.Series:
    """Parse ISO 8601 text to UTC nanosecond times; anything else becomes NaT.

    An impossible date (2026-02-30) or one outside ``_EARLIEST`` to ``_LATEST`` is
    NaT too, so that such an item counts as unusable instead of raising.
    """
    parsed = pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
    inside = (parsed >= _EARLIEST) & (parsed < _LATEST)
    return parsed.where(inside).dt.as_unit("ns")


def _regions(raw: pd.DataFrame) -> pd.Series:
    region = _text(raw, "Region")
    zone = _text(raw, "Zone")
    mapping: dict[str, str] = {}
    for value in region.unique():
        mapping[value] = next(
            (code for name, code in REGION_NAMES.items() if name in value), value
        )
    region = region.map(mapping).astype("str")
    from_zone = zone.str.extract(r"^([a-z]{2}-[a-z0-9]+(?:-\d)?)-[a-z0-9]$")[0]
    return region.where(region != "", from_zone.fillna("")).astype("str")


def _empty_bills(unusable: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "date": pd.Series([], dtype="datetime64[ns, UTC]"),
            "billing_cycle": pd.Series([], dtype="str"),
            "product_code": pd.Series([], dtype="str"),
            "product_name": pd.Series([], dtype="str"),
            "region": pd.Series([], dtype="str"),
            "instance_id": pd.Series([], dtype="str"),
            "amount": pd.Series([], dtype="float64"),
            "currency": pd.Series([], dtype="str"),
            "subscription_type": pd.Series([], dtype="str"),
            "spread": pd.Series([], dtype="bool"),
        }
    )
    frame.attrs["unusable_items"] = unusable
    return frame


# Spikes ------------------------------------------------------------------------------


def modified_z_scores(values: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Score ``values`` against ``baseline`` with the modified z-score.

    Uses the MAD, falls back to the mean absolute deviation when the MAD is 0, and
    returns +inf (or 0 at or below the median) when both are 0.
    """
    median = float(np.median(baseline))
    deviations = np.abs(baseline - median)
    mad = float(np.median(deviations))
    if mad > 0:
        return _MODIFIED_Z * (values - median) / mad
    mean_ad = float(np.mean(deviations))
    if mean_ad > 0:
        return (values - median) / (_MEAN_AD_FACTOR * mean_ad)
    return np.where(values > median, np.inf, 0.0)


def _spikes(
    bills: pd.DataFrame,
    start_day: pd.Timestamp,
    end_day: pd.Timestamp | None,
    baseline_start: pd.Timestamp,
    settings: AnalysisSettings,
    notes: list[str],
) -> pd.DataFrame:
    columns = ["date", "currency", "scope", "amount", "median", "mad", "score"]
    if bills.empty:
        return pd.DataFrame(columns=columns)
    first_bill = bills["date"].min()
    baseline_days = pd.date_range(
        max(baseline_start, first_bill), start_day, freq="D", inclusive="left"
    )
    last_day = end_day if end_day is not None else bills["date"].max()
    incident_days = pd.date_range(start_day, last_day, freq="D")
    if len(baseline_days) < settings.billing_min_baseline_days:
        notes.append(
            f"only {len(baseline_days)} day(s) of bills before the incident; spikes "
            f"need {settings.billing_min_baseline_days} (billing_min_baseline_days)"
        )
        return pd.DataFrame(columns=columns)
    rows = []
    for currency, spend in bills.groupby("currency"):
        series = {"total": spend.groupby("date")["amount"].sum()}
        for product, product_spend in spend.groupby("product_code"):
            series[f"product:{product}"] = product_spend.groupby("date")["amount"].sum()
        for scope, by_day in series.items():
            baseline = by_day.reindex(baseline_days, fill_value=0.0).to_numpy()
            during = by_day.reindex(incident_days, fill_value=0.0)
            scores = modified_z_scores(during.to_numpy(), baseline)
            median = float(np.median(baseline))
            mad = float(np.median(np.abs(baseline - median)))
            for moment, amount, score in zip(
                during.index, during.to_numpy(), scores, strict=True
            ):
                large = (
                    median <= 0 or amount >= median * settings.billing_spike_min_ratio
                )
                if score > settings.billing_spike_z and large:
                    rows.append(
                        {
                            "date": moment,
                            "currency": currency,
                            "scope": scope,
                            "amount": float(amount),
                            "median": median,
                            "mad": mad,
                            "score": float(score),
                        }
                    )
    return pd.DataFrame(rows, columns=columns)


# Attribution -------------------------------------------------------------------------


def _attacker_instances(
    events: pd.DataFrame | None,
    attacker_keys: Iterable[str],
    window_start: datetime,
    window_end: datetime | None,
) -> pd.DataFrame:
    columns = ["instance_id", "access_key_id", "event_id", "time", "event_region"]
    if events is None or events.empty:
        return pd.DataFrame(columns=columns)
    keys = set(attacker_keys)
    action_keys = catalog.action_keys(events["service"], events["action"])
    rows = events.loc[
        action_keys.isin(catalog.keyset(catalog.INSTANCE_CREATION))
        & (events["error_code"] == "")
        & (events["time"] >= pd.Timestamp(window_start))
    ]
    if window_end is not None:
        rows = rows.loc[rows["time"] < pd.Timestamp(window_end)]
    if keys:
        rows = rows.loc[rows["access_key_id"].isin(keys)]
    found = []
    for (_, row), response in zip(
        rows.iterrows(),
        parse_json_objects(rows["response_elements"].tolist()),
        strict=True,
    ):
        for instance_id in instance_ids_from_response(response):
            found.append(
                {
                    "instance_id": instance_id,
                    "access_key_id": row["access_key_id"],
                    "event_id": row["event_id"],
                    "time": row["time"],
                    "event_region": row["region"],
                }
            )
    return pd.DataFrame(found, columns=columns).drop_duplicates("instance_id")


def _attribute(attacker: pd.DataFrame, bills: pd.DataFrame) -> pd.DataFrame:
    columns = [
        "instance_id",
        "access_key_id",
        "event_id",
        "region",
        "product_code",
        "currency",
        "amount",
        "first_billed",
        "last_billed",
    ]
    if attacker.empty or bills.empty:
        return pd.DataFrame(columns=columns)
    billed = bills.loc[bills["instance_id"].isin(set(attacker["instance_id"]))]
    if billed.empty:
        return pd.DataFrame(columns=columns)
    summary = billed.groupby(
        ["instance_id", "currency", "product_code", "region"], as_index=False
    ).agg(
        amount=("amount", "sum"),
        first_billed=("date", "min"),
        last_billed=("date", "max"),
    )
    merged = summary.merge(
        attacker[["instance_id", "access_key_id", "event_id"]], on="instance_id"
    )
    return merged[columns].sort_values("amount", ascending=False).reset_index(drop=True)


def _described_instances(payloads: Iterable[Any] | None) -> dict[str, dict[str, Any]]:
    if payloads is None:
        return {}
    described: dict[str, dict[str, Any]] = {}
    for item in _instance_items(list(payloads)):
        instance_id = str(item.get("InstanceId") or "")
        if not instance_id:
            continue
        described[instance_id] = {
            "instance_id": instance_id,
            "status": str(item.get("Status") or ""),
            "region": str(item.get("RegionId") or ""),
            "instance_type": str(item.get("InstanceType") or ""),
            "creation_time": str(item.get("CreationTime") or ""),
        }
    return described


def _instance_items(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, list):
        return [item for element in payload for item in _instance_items(element)]
    if not isinstance(payload, dict):
        return []
    if "body" in payload and isinstance(payload["body"], dict):
        return _instance_items(payload["body"])
    if "Instances" in payload:
        instances = payload["Instances"]
        if isinstance(instances, dict):
            instances = instances.get("Instance", [])
        return _instance_items(instances)
    return [payload] if "InstanceId" in payload else []


# Findings ----------------------------------------------------------------------------


def _findings(
    report: BillingReport,
    attacker: pd.DataFrame,
    bills: pd.DataFrame,
    settings: AnalysisSettings,
) -> list[Finding]:
    findings: list[Finding] = []
    for (currency, scope), spikes in report.spikes.groupby(["currency", "scope"]):
        total = scope == "total"
        label = "Total spend" if total else f"Spend on {scope.split(':', 1)[1]}"
        peak = spikes.loc[spikes["score"].idxmax()]
        findings.append(
            Finding(
                kind="billing_anomaly",
                severity="high" if total else "medium",
                summary=(
                    f"{label} spiked on {len(spikes)} day(s), up to "
                    f"{peak['amount']:.2f} {currency} against a baseline median of "
                    f"{peak['median']:.2f} {currency} a day."
                ),
                evidence={
                    "baseline": {
                        "median": float(peak["median"]),
                        "mad": float(peak["mad"]),
                        "days": settings.billing_baseline_days,
                    },
                    "threshold": f"modified z-score above {settings.billing_spike_z}",
                    "values": {
                        _day(moment): {"amount": float(amount), "score": _score(score)}
                        for moment, amount, score in zip(
                            spikes["date"],
                            spikes["amount"],
                            spikes["score"],
                            strict=True,
                        )
                    },
                    "rule": "Iglewicz and Hoaglin modified z-score",
                },
                first_seen=spikes["date"].min().to_pydatetime(),
                last_seen=spikes["date"].max().to_pydatetime(),
            )
        )
    if report.new_products or report.new_regions:
        during = bills.loc[bills["period"] == "incident"]
        new = during.loc[
            during["product_code"].isin(report.new_products)
            | during["region"].isin(report.new_regions)
        ]
        findings.append(
            Finding(
                kind="billing_anomaly",
                severity="medium",
                summary=(
                    "Bills during the incident include products or regions absent "
                    f"before it: {', '.join(report.new_products + report.new_regions)}."
                ),
                evidence={
                    "baseline": {"days": settings.billing_baseline_days},
                    "threshold": "product or region with spend only in the incident",
                    "values": {
                        "new_products": report.new_products,
                        "new_regions": report.new_regions,
                        "spend": {
                            str(currency): round(float(amount), 6)
                            for currency, amount in new.groupby("currency")["amount"]
                            .sum()
                            .items()
                        },
                    },
                    "rule": "new value compared with the account's bills",
                },
                first_seen=_min_date(new),
                last_seen=_max_date(new),
            )
        )
    if not attacker.empty:
        event_ids = attacker["event_id"].drop_duplicates().tolist()
        keys = sorted(set(attacker["access_key_id"]))
        totals = ", ".join(
            f"{amount:.2f} {currency}"
            for currency, amount in report.attributable_total.items()
        )
        present = [item["instance_id"] for item in report.still_present]
        findings.append(
            Finding(
                kind="billing_anomaly",
                severity="high",
                summary=(
                    f"{len(attacker)} instance(s) created by the compromised "
                    f"credentials "
                    + (f"cost {totals}" if totals else "have no bills yet")
                    + (f"; still present: {', '.join(present)}." if present else ".")
                ),
                event_ids=event_ids[: settings.max_event_ids_per_finding],
                evidence={
                    "event_count": len(event_ids),
                    "baseline": None,
                    "threshold": "any instance created by an attacker key",
                    "values": {
                        "instances": attacker["instance_id"].tolist(),
                        "attributable_total": report.attributable_total,
                        "still_present": present,
                        "per_instance": _records(report.attributed),
                    },
                    "rule": (
                        "Alibaba Cloud compromised-AccessKey procedure, step 4: check "
                        "for abnormal charges and delete unauthorized resources"
                    ),
                },
                first_seen=attacker["time"].min().to_pydatetime(),
                last_seen=attacker["time"].max().to_pydatetime(),
                access_key_id=keys[0] if len(keys) == 1 else None,
            )
        )
    return findings


# Small helpers -----------------------------------------------------------------------


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records = []
    for row in frame.to_dict(orient="records"):
        records.append({key: _plain(value) for key, value in row.items()})
    return records


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _day(moment: pd.Timestamp) -> str:
    return moment.strftime("%Y-%m-%d")


def _score(score: float) -> float | str:
    return float(score) if math.isfinite(score) else "inf"


def _min_date(frame: pd.DataFrame) -> datetime | None:
    return frame["date"].min().to_pydatetime() if not frame.empty else None


def _max_date(frame: pd.DataFrame) -> datetime | None:
    return frame["date"].max().to_pydatetime() if not frame.empty else None
