"""The audit and billing checks of a response, behind one seam: ``run_investigation``.

The checks here are deliberately simple. The audit reads every ActionTrail event
of the key over the look-back window and counts them by name, region and source
IP, with the write calls and errors. The billing check adds up BSS spend by region
and product for the billing cycles that the window touches.

``run_investigation`` is the only function the flow calls, so a deeper analysis
can replace its body without touching the flow. It returns findings, coverage and
the two summaries.

The summarising functions are pure and work on the wire shapes: LookupEvents
event dicts (camelCase keys) and QueryInstanceBill items (PascalCase keys).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from akresponder.config import CloudConnection
from akresponder.errors import CloudError
from akresponder.report import (
    AuditSummary,
    BillingSummary,
    CoverageEntry,
    Finding,
    RelatedCredential,
)

logger = logging.getLogger(__name__)

# LookupEvents accepts a window of at most 30 days per query.
LOOKUP_WINDOW_DAYS = 30

# Write calls that give an attacker persistence or more reach. A write call by a
# compromised key that is on this list is a high-severity finding.
PERSISTENCE_EVENTS = frozenset(
    {
        "CreateUser",
        "CreateAccessKey",
        "UpdateAccessKey",
        "CreateLoginProfile",
        "UpdateLoginProfile",
        "ChangePassword",
        "AddUserToGroup",
        "CreatePolicy",
        "CreatePolicyVersion",
        "SetDefaultPolicyVersion",
        "AttachPolicyToUser",
        "AttachPolicyToGroup",
        "AttachPolicyToRole",
        "CreateRole",
        "UpdateRole",
        "AssumeRole",
        "UnbindMFADevice",
        "DeleteTrail",
        "StopLogging",
        "UpdateTrail",
        "RunInstances",
        "CreateInstance",
        "AuthorizeSecurityGroup",
        "PutBucketAcl",
        "PutBucketPolicy",
    }
)
# Error codes of calls the key was not allowed to make: a sign of probing.
_DENIED_PREFIXES = ("NoPermission", "Forbidden", "NotAuthorized", "AccessForbidden")


@dataclass
class Investigation:
    """The findings, coverage and summaries that ``run_investigation`` returns."""

    findings: list[Finding] = field(default_factory=list)
    coverage: list[CoverageEntry] = field(default_factory=list)
    related_credentials: list[RelatedCredential] = field(default_factory=list)
    audit: AuditSummary | None = None
    billing: BillingSummary | None = None


def lookup_windows(
    start: datetime, end: datetime, days: int = LOOKUP_WINDOW_DAYS
) -> list[tuple[datetime, datetime]]:
    """Split ``start``..``end`` into consecutive windows of at most ``days`` days."""
    windows = []
    cursor = start
    step = timedelta(days=days)
    while cursor < end:
        upper = min(cursor + step, end)
        windows.append((cursor, upper))
        cursor = upper
    return windows


def billing_cycles(start: datetime, end: datetime) -> list[str]:
    """Return the ``YYYY-MM`` billing cycles from ``start`` to ``end``, inclusive."""
    cycles = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        cycles.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return cycles


def _event_time(event: dict[str, Any]) -> datetime | None:
    text = event.get("eventTime")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _identity(event: dict[str, Any]) -> dict[str, Any]:
    identity = event.get("userIdentity")
    return identity if isinstance(identity, dict) else {}


def summarize_events(events: Iterable[dict[str, Any]]) -> AuditSummary:
    """Count the events by name, region, source IP, write calls and error code."""
    names: Counter[str] = Counter()
    regions: Counter[str] = Counter()
    ips: Counter[str] = Counter()
    writes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    times = []
    total = 0
    for event in events:
        total += 1
        name = str(event.get("eventName") or "unknown")
        names[name] += 1
        regions[str(event.get("acsRegion") or "unknown")] += 1
        ips[str(event.get("sourceIpAddress") or "unknown")] += 1
        if event.get("eventRW") == "Write":
            writes[name] += 1
        code = event.get("errorCode")
        if code:
            errors[str(code)] += 1
        moment = _event_time(event)
        if moment is not None:
            times.append(moment)
    return AuditSummary(
        events=total,
        first_event_at=min(times) if times else None,
        last_event_at=max(times) if times else None,
        by_event_name=dict(names.most_common()),
        by_region=dict(regions.most_common()),
        by_source_ip=dict(ips.most_common()),
        write_events=sum(writes.values()),
        write_event_names=dict(writes.most_common()),
        error_events=sum(errors.values()),
        by_error_code=dict(errors.most_common()),
    )


def created_access_keys(events: Iterable[dict[str, Any]]) -> list[RelatedCredential]:
    """Return the AccessKeys that successful CreateAccessKey events made."""
    found: dict[str, RelatedCredential] = {}
    for event in events:
        if event.get("eventName") != "CreateAccessKey" or event.get("errorCode"):
            continue
        response = event.get("responseElements") or {}
        created = response.get("AccessKey") if isinstance(response, dict) else None
        key_id = created.get("AccessKeyId") if isinstance(created, dict) else None
        if not key_id:
            continue
        parameters = event.get("requestParameters") or {}
        user = parameters.get("UserName") if isinstance(parameters, dict) else None
        found[key_id] = RelatedCredential(
            access_key_id=key_id,
            user_name=user or _identity(event).get("userName"),
            relation="created-by-compromised-key",
            status=created.get("Status"),
            detail=f"CreateAccessKey at {event.get('eventTime')} "
            f"(event {event.get('eventId')}).",
        )
    return list(found.values())


def audit_findings(
    events: list[dict[str, Any]], summary: AuditSummary, access_key_id: str
) -> list[Finding]:
    """Turn the key's events into findings a person should review."""
    findings: list[Finding] = []

    persistence = [
        event
        for event in events
        if event.get("eventName") in PERSISTENCE_EVENTS
        and event.get("eventRW") == "Write"
        and not event.get("errorCode")
    ]
    if persistence:
        names = Counter(str(event.get("eventName")) for event in persistence)
        listed = ", ".join(f"{name} x{count}" for name, count in names.most_common())
        findings.append(
            Finding(
                kind="persistence-calls",
                severity="high",
                summary=f"{access_key_id} made calls that create access or hide "
                f"activity: {listed}. Check each one and revert what is not yours.",
                event_ids=[str(event.get("eventId")) for event in persistence],
            )
        )

    other_writes = [
        event
        for event in events
        if event.get("eventRW") == "Write"
        and event.get("eventName") not in PERSISTENCE_EVENTS
        and not event.get("errorCode")
    ]
    if other_writes:
        names = Counter(str(event.get("eventName")) for event in other_writes)
        listed = ", ".join(f"{name} x{count}" for name, count in names.most_common(10))
        findings.append(
            Finding(
                kind="write-calls",
                severity="medium",
                summary=f"{access_key_id} changed resources: {listed}.",
                event_ids=[str(event.get("eventId")) for event in other_writes],
            )
        )

    denied = [
        event
        for event in events
        if str(event.get("errorCode") or "").startswith(_DENIED_PREFIXES)
    ]
    if denied:
        ips = sorted({str(event.get("sourceIpAddress")) for event in denied})
        findings.append(
            Finding(
                kind="denied-calls",
                severity="medium",
                summary=f"{len(denied)} calls by {access_key_id} were denied, from "
                f"{', '.join(ips)}: someone may be probing what the key can do.",
                event_ids=[str(event.get("eventId")) for event in denied],
            )
        )

    if len(summary.by_source_ip) > 1:
        listed = ", ".join(
            f"{ip} ({count})" for ip, count in summary.by_source_ip.items()
        )
        findings.append(
            Finding(
                kind="several-source-ips",
                severity="medium",
                summary=f"{access_key_id} was used from {len(summary.by_source_ip)} "
                f"source IPs: {listed}. Confirm which are your applications.",
            )
        )

    if len(summary.by_region) > 1:
        listed = ", ".join(summary.by_region)
        findings.append(
            Finding(
                kind="several-regions",
                severity="low",
                summary=f"{access_key_id} was used in {len(summary.by_region)} "
                f"regions: {listed}.",
            )
        )
    return findings


# No bill item comes near this amount in any currency. A larger amount, NaN or
# infinity (all of which "1e999" or "nan" as text parse to) marks a malformed item,
# and a non-finite total would be written as null and break the report's schema.
_MAX_AMOUNT = 1e15


def _amount(item: dict[str, Any]) -> float:
    for name in ("PretaxAmount", "PretaxGrossAmount", "PaymentAmount"):
        value = item.get(name)
        if isinstance(value, bool):
            continue
        try:
            amount = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(amount) and abs(amount) < _MAX_AMOUNT:
            return amount
    return 0.0


def summarize_bills(
    items_by_cycle: dict[str, list[dict[str, Any]]],
) -> BillingSummary:
    """Add up the pre-tax amounts of bill items by region and product."""
    regions: Counter[str] = Counter()
    products: Counter[str] = Counter()
    currencies = set()
    for items in items_by_cycle.values():
        for item in items:
            if not isinstance(item, dict):
                continue
            amount = _amount(item)
            regions[str(item.get("Region") or "global")] += amount
            products[str(item.get("ProductCode") or "unknown")] += amount
            if item.get("Currency"):
                currencies.add(str(item["Currency"]))
    total = round(sum(products.values()), 2)
    return BillingSummary(
        billing_cycles=sorted(items_by_cycle),
        currency=", ".join(sorted(currencies)) or None,
        total=total,
        by_region={name: round(value, 2) for name, value in regions.most_common()},
        by_product={name: round(value, 2) for name, value in products.most_common()},
    )


def billing_findings(
    summary: BillingSummary, audit: AuditSummary | None
) -> list[Finding]:
    """Flag spend in regions where the key was not seen working before."""
    findings: list[Finding] = []
    if summary.total > 0:
        top = ", ".join(
            f"{name} {value:.2f}"
            for name, value in list(summary.by_product.items())[:5]
        )
        findings.append(
            Finding(
                kind="billing-spend",
                severity="info",
                summary=f"Spend in {', '.join(summary.billing_cycles)}: "
                f"{summary.total:.2f} {summary.currency or ''} ({top}). Compare with "
                "the usual bill for unexpected resources such as mining instances.",
            )
        )
    known_regions = set(audit.by_region) if audit else set()
    unexpected = [
        region
        for region, value in summary.by_region.items()
        if value > 0 and region != "global" and region not in known_regions
    ]
    if audit is not None and audit.events and unexpected:
        findings.append(
            Finding(
                kind="billing-unexpected-region",
                severity="medium",
                summary=f"Charges in regions where this key made no call in the "
                f"window: {', '.join(unexpected)}. Check whether the account expects "
                "resources there.",
            )
        )
    return findings


def run_investigation(
    connection: CloudConnection,
    access_key_id: str,
    *,
    window_start: datetime,
    window_end: datetime,
    incident: str,
    check_billing: bool = True,
) -> Investigation:
    """Audit the key's events and check the bills.

    A read that fails with ``CloudError`` leaves its summary None and shows as
    ``failed`` coverage, so the report says what was not checked instead of the
    flow stopping after the containment already happened.
    """
    from tasks import actiontrail as trail_tasks
    from tasks import bss as bss_tasks

    result = Investigation()

    try:
        events = trail_tasks.lookup_events(
            connection,
            start_time=window_start,
            end_time=window_end,
            attributes={"EventAccessKeyId": access_key_id},
            incident=incident,
        )
    except CloudError as error:
        logger.error(
            "audit failed incident=%s access_key_id=%s code=%s",
            incident,
            access_key_id,
            error.code,
        )
        result.coverage.append(
            CoverageEntry(source="actiontrail", status="failed", detail=str(error))
        )
    else:
        result.audit = summarize_events(events)
        result.findings.extend(audit_findings(events, result.audit, access_key_id))
        result.related_credentials.extend(created_access_keys(events))
        result.coverage.append(
            CoverageEntry(
                source="actiontrail",
                status="complete",
                items=len(events),
                detail="LookupEvents EventAccessKeyId over the look-back window.",
            )
        )

    if not check_billing:
        result.coverage.append(
            CoverageEntry(source="bss", status="skipped", detail="Not requested.")
        )
        return result

    bills: dict[str, list[dict[str, Any]]] = {}
    failures = []
    for cycle in billing_cycles(window_start, window_end):
        try:
            bills[cycle] = bss_tasks.query_instance_bill(
                connection, cycle, incident=incident
            )
        except CloudError as error:
            logger.error(
                "billing check failed incident=%s cycle=%s code=%s",
                incident,
                cycle,
                error.code,
            )
            failures.append(f"{cycle}: {error}")
    if bills:
        result.billing = summarize_bills(bills)
        result.findings.extend(billing_findings(result.billing, result.audit))
    if not failures:
        status = "complete"
    elif bills:
        status = "partial"
    else:
        status = "failed"
    result.coverage.append(
        CoverageEntry(
            source="bss",
            status=status,
            items=sum(len(items) for items in bills.values()),
            detail="; ".join(failures) or "QueryInstanceBill per billing cycle.",
        )
    )
    return result
