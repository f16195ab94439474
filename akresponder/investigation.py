"""The investigation of a response, behind one seam: ``run_investigation``.

The flow calls ``run_investigation`` once, after containment. It collects the
compromised key's ActionTrail events from LookupEvents and the trail's SLS logstore
(``akresponder.evidence_collect``) and chooses the incident window. Then it runs
the analysis library (``akresponder.analysis``): the credential lineage walk, which
fetches the events of every credential and attacker IP it finds, every detector,
and the billing analysis over daily bills and the instances still present. It
returns the findings, the coverage, the related credentials and the pictures for
the report, and writes the evidence bundle.

The pure helpers below (``summarize_events``, ``summarize_bills``, ...) build the
report's ``audit`` and ``billing`` summaries from the wire shapes: LookupEvents
event dicts (camelCase keys) and QueryInstanceBill items (PascalCase keys). Their
simple findings are the fallback when the analysis itself fails.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from prefect import task
from prefect.context import FlowRunContext
from pydantic import BaseModel, Field

from akresponder.analysis import AnalysisSettings, analyse_billing, investigate
from akresponder.analysis import Investigation as AnalysisInvestigation
from akresponder.analysis.evidence import save_evidence
from akresponder.analysis.findings import SEVERITY_RANK, sort_findings
from akresponder.analysis.window import estimate_incident_start
from akresponder.config import CloudConnection
from akresponder.errors import CloudError
from akresponder.evidence_collect import NOT_VISIBLE, EvidenceCollector
from akresponder.investigation_records import (
    billing_record,
    lineage_record,
    related_credentials,
    report_findings,
)
from akresponder.report import (
    AuditSummary,
    BillingSummary,
    CoverageEntry,
    CoverageGap,
    EvidenceRecord,
    Finding,
    InvestigationRecord,
    RelatedCredential,
)
from akresponder.responder_activity import ResponderActivity
from akresponder.retry import task_options

T = TypeVar("T")

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
    gaps: list[CoverageGap] = field(default_factory=list)
    not_visible: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    record: InvestigationRecord | None = None
    # PNG bytes by name (timeline, lineage, spend), written beside the report.
    pictures: dict[str, bytes] = field(default_factory=dict)
    # The library's result, for the markdown and table artifacts; None when the
    # analysis did not run.
    analysis: Any = None


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


# BSS states billing dates and cycles in China Standard Time, so a day or month
# of the bill starts at midnight UTC+8.
BILLING_TIMEZONE = timezone(timedelta(hours=8), "UTC+8")


def billing_time(moment: datetime) -> datetime:
    """Convert ``moment`` to the bill's time zone, reading a naive time as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BILLING_TIMEZONE)


def billing_cycles(start: datetime, end: datetime) -> list[str]:
    """Return the ``YYYY-MM`` billing cycles from ``start`` to ``end``, inclusive."""
    start, end = billing_time(start), billing_time(end)
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

    findings.extend(context_findings(summary, access_key_id))
    return findings


def context_findings(summary: AuditSummary, access_key_id: str) -> list[Finding]:
    """Note a key used from several source IPs or regions in the look-back window.

    These hold without a baseline, so they still inform when the detectors have
    none to compare with.
    """
    findings: list[Finding] = []
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


class InvestigationOptions(BaseModel):
    """Options of the investigation: analysis settings, searches, related keys."""

    analysis: AnalysisSettings = Field(
        default_factory=AnalysisSettings,
        description="Detector thresholds, baselines, allow-lists and lineage limits.",
    )
    search_sls: bool = Field(
        default=True,
        description="Also search the trails' SLS logstores (older history and a "
        "second route for every search).",
    )
    search_attacker_ips: bool = Field(
        default=True,
        description="Search the account's events from each attacker IP for other "
        "identities that used it (through the trail logstores).",
    )
    scan_lookup_events_for_ips: bool = Field(
        default=False,
        description="When no trail logstore holds the incident window, scan every "
        "LookupEvents event since the incident start for the attacker IPs (at most "
        "5,000 events; LookupEvents allows 2 calls a second).",
    )
    respond_to_related: bool = Field(
        default=True,
        description="After approval, start a response for each AccessKey the "
        "compromised credentials created.",
    )
    evidence_dir: str | None = Field(
        default=None,
        description="Folder for the evidence bundles; default <state dir>/evidence, "
        "or the settings block's evidence_location.",
    )


def run_investigation(
    connection: CloudConnection,
    access_key_id: str,
    *,
    window_start: datetime,
    window_end: datetime,
    incident: str,
    check_billing: bool = True,
    incident_start: datetime | None = None,
    options: InvestigationOptions | None = None,
    evidence_root: str | Path | None = None,
    state_dir: str | Path | None = None,
) -> Investigation:
    """Collect the key's events, analyse them and check the bills.

    ``window_start`` to ``window_end`` is the look-back window. ``incident_start``,
    when known (an alert's time), starts the incident window; otherwise it is
    estimated from the key's history (``analysis.window``). Events from
    ``baseline_days`` before the look-back window are read as the baseline.
    ``evidence_root`` receives the evidence bundle in ``<root>/<incident>``; None
    writes none. The journals and reports in ``state_dir`` name the responder's own
    calls, which are left out of the findings and the lineage
    (``akresponder.responder_activity``); None leaves every event in.

    A read that fails with ``CloudError`` shows as failed coverage or a gap, and the
    investigation goes on. If the analysis itself raises, the simple audit
    findings replace it and a coverage note names the error, so the report is
    still written after the containment already happened.
    """
    options = options or InvestigationOptions()
    settings = options.analysis
    result = Investigation(not_visible=list(NOT_VISIBLE))
    collector = EvidenceCollector(
        connection,
        incident,
        end=window_end,
        use_sls=options.search_sls,
        scan_lookup_for_ips=options.scan_lookup_events_for_ips,
    )
    history_start = window_start - timedelta(days=settings.baseline_days)
    activity = ResponderActivity.load(state_dir, [connection.access_key_id])

    seed = _step(
        "collect-key-events",
        collector.key_and_owner_events,
        access_key_id,
        history_start,
    )
    seed = activity.drop(seed)
    own_records = [
        record
        for record in collector.records.values()
        if _identity(record).get("accessKeyId") == access_key_id
        and _in_range(record, window_start, window_end)
    ]
    # The audit counts every call of the key. Findings come from the calls that
    # are not the responder's own.
    result.audit = summarize_events(own_records)
    suspect_records = [record for record in own_records if activity.keep_record(record)]
    collector.uncovered_history(history_start)

    if incident_start is not None:
        start = incident_start.astimezone(UTC)
        source = "request"
        reason = "given with the request"
    else:
        estimate = estimate_incident_start(
            seed, access_key_id, fallback=window_start, settings=settings
        )
        start = estimate.start
        source = "estimated" if estimate.estimated else "look-back"
        reason = estimate.reason
    logger.info(
        "incident window incident=%s start=%s source=%s",
        incident,
        start.isoformat(),
        source,
    )
    trail_changes = _step(
        "check-trail-changes", collector.check_trail_changes, window_start
    )

    analysis = None
    try:
        analysis = _step(
            "analyse-incident",
            _analyse,
            collector,
            access_key_id,
            seed,
            start=start,
            end=window_end,
            lookback_start=window_start,
            settings=settings,
            search_ips=options.search_attacker_ips,
            activity=activity,
        )
    except Exception as error:  # noqa: BLE001 - the report must still be written
        logger.exception(
            "analysis failed incident=%s access_key_id=%s", incident, access_key_id
        )
        result.notes.append(
            f"The analysis failed ({type(error).__name__}: {error}); the findings "
            "are the simple audit's. Re-run the response to retry it."
        )
        result.findings.extend(
            audit_findings(suspect_records, result.audit, access_key_id)
        )
        result.related_credentials.extend(created_access_keys(suspect_records))
    else:
        result.findings.extend(report_findings(analysis.findings))
        result.findings.extend(context_findings(result.audit, access_key_id))
        result.related_credentials.extend(related_credentials(analysis.lineage))
        result.notes.extend(analysis.notes)

    record = InvestigationRecord(
        incident_start=start,
        incident_start_source=source,
        incident_start_reason=reason,
        events_analysed=len(analysis.events) if analysis is not None else 0,
        events_by_source=collector.route_counts(),
    )
    if analysis is not None:
        record.suspect_access_key_ids = list(analysis.suspect_access_key_ids)
        record.suspect_user_names = list(analysis.suspect_user_names)
        record.lineage = lineage_record(analysis.lineage)

    if check_billing:
        _check_billing(
            connection, result, record, analysis, start, window_start, window_end,
            incident, settings,
        )  # fmt: skip
    else:
        result.coverage.append(
            CoverageEntry(source="bss", status="skipped", detail="Not requested.")
        )

    if analysis is not None:
        try:
            result.pictures = analysis.pictures()
        except Exception as error:  # noqa: BLE001 - pictures are optional
            logger.exception("pictures failed incident=%s", incident)
            result.notes.append(f"The report pictures failed: {error}")
    result.coverage[:0] = collector.coverage
    if activity.matched:
        result.coverage.append(
            CoverageEntry(
                source="responder-activity",
                status="complete",
                detail=activity.summary(),
                items=len(activity.matched),
                target=f"journals and reports in {state_dir}",
            )
        )
        result.notes.append(activity.summary())
    result.gaps = collector.gaps
    result.notes[:0] = collector.notes
    result.analysis = analysis
    result.record = record

    if evidence_root is not None:
        raw = list(collector.records.values()) + trail_changes
        try:
            record.evidence = _step(
                "save-evidence", _save_evidence, result, raw, incident, evidence_root
            )
        except (OSError, ValueError) as error:
            logger.error(
                "evidence not saved incident=%s root=%s: %s",
                incident,
                evidence_root,
                error,
            )
            result.notes.append(
                f"The evidence bundle could not be written under {evidence_root}: "
                f"{error}. Fix the folder (or set investigation.evidence_dir) and "
                "re-run the response."
            )
    result.findings.sort(key=lambda finding: -SEVERITY_RANK[finding.severity])
    return result


def _analyse(
    collector: EvidenceCollector,
    access_key_id: str,
    seed: pd.DataFrame,
    *,
    start: datetime,
    end: datetime,
    lookback_start: datetime,
    settings: AnalysisSettings,
    search_ips: bool,
    activity: ResponderActivity | None = None,
) -> AnalysisInvestigation:
    """Run the lineage walk and the detectors, fetching events as the walk needs.

    Credentials the walk finds are read over the look-back window only: they were
    made or first seen during the incident, and the compromised key's own history
    already gives the account's baseline. Each read costs LookupEvents calls at 2
    a second.
    """

    activity = activity or ResponderActivity()

    def fetch_key(key: str) -> pd.DataFrame:
        return activity.drop(collector.key_events(key, lookback_start))

    def fetch_user(user: str) -> pd.DataFrame:
        return activity.drop(collector.user_events(user, lookback_start))

    def fetch_ip(ip: str) -> pd.DataFrame:
        return activity.drop(collector.ip_events(ip, start))

    return investigate(
        access_key_id,
        seed,
        window_start=start,
        window_end=end,
        fetch_key=fetch_key,
        fetch_user=fetch_user,
        fetch_ip=fetch_ip if search_ips else None,
        settings=settings,
    )


def _check_billing(
    connection: CloudConnection,
    result: Investigation,
    record: InvestigationRecord,
    analysis: AnalysisInvestigation | None,
    start: datetime,
    window_start: datetime,
    window_end: datetime,
    incident: str,
    settings: AnalysisSettings,
) -> None:
    """Summarise the cycles' bills, and analyse daily bills and live instances."""
    from tasks import bss as bss_tasks

    bills: dict[str, list[dict[str, Any]]] = {}
    failures = []
    for cycle in billing_cycles(window_start, window_end):
        try:
            bills[cycle] = bss_tasks.query_instance_bill.fn(
                connection, cycle, incident=incident
            )
        except CloudError as error:
            if _cycle_not_started(error, bool(bills)):
                logger.info(
                    "billing cycle not started in the cloud incident=%s cycle=%s",
                    incident,
                    cycle,
                )
                break
            logger.error(
                "billing check failed incident=%s cycle=%s code=%s",
                incident,
                cycle,
                error.code,
            )
            failures.append(f"{cycle}: {error}")
    if bills:
        result.billing = summarize_bills(bills)
    result.coverage.append(
        _coverage(
            "bss",
            bills,
            failures,
            "QueryInstanceBill per billing cycle of the look-back window.",
        )
    )
    if analysis is None:
        return

    baseline_start = (start - timedelta(days=settings.billing_baseline_days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    daily, daily_failures = _step(
        "collect-daily-bills", _daily_bills, connection, baseline_start, window_end,
        incident,
    )  # fmt: skip
    result.coverage.append(
        _coverage(
            "bss-daily",
            daily,
            daily_failures,
            "QueryInstanceBill DAILY for the billing baseline and the incident window.",
            start=baseline_start,
            end=window_end,
        )
    )
    regions = _regions_seen(analysis, start)
    instances, instance_failures = _step(
        "describe-instances", _instances, connection, regions, incident
    )
    result.coverage.append(
        _coverage(
            "ecs",
            instances,
            instance_failures,
            "DescribeInstances in the regions the suspect credentials used: "
            + (", ".join(regions) or "none"),
        )
    )
    try:
        billing = analyse_billing(
            [item for items in daily.values() for item in items],
            window_start=start,
            window_end=window_end,
            events=analysis.events,
            attacker_keys=analysis.suspect_access_key_ids,
            instances=[item for items in instances.values() for item in items],
            settings=settings,
        )
    except Exception as error:  # noqa: BLE001 - the report must still be written
        logger.exception("billing analysis failed incident=%s", incident)
        result.notes.append(f"The billing analysis failed: {error}")
        return
    analysis.billing = billing
    analysis.findings = sort_findings(analysis.findings + billing.findings)
    result.findings[:0] = report_findings(billing.findings)
    result.notes.extend(billing.notes)
    record.billing = billing_record(
        billing,
        incident_start=start,
        baseline_start=baseline_start,
        regions_checked=regions,
    )


def _cycle_not_started(error: CloudError, earlier_cycle_succeeded: bool) -> bool:
    """Return True when BSS rejected a billing cycle because it has not started.

    BSS returns ``NotApplicable`` both for a cycle after the cloud's current one and
    for a caller to whom the API does not apply. After an earlier cycle or day
    succeeded, the code can only mean the first, so only then is it no failure.
    """
    return error.code == "NotApplicable" and earlier_cycle_succeeded


def _daily_bills(
    connection: CloudConnection, start: datetime, end: datetime, incident: str
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Query every day's bill from ``start`` to ``end``; return items and failures.

    ``end`` is this machine's time, and the cloud's clock may be behind it. The
    days stop at the first one whose billing cycle BSS reports as not started.
    """
    from tasks import bss as bss_tasks

    days: dict[str, list[dict[str, Any]]] = {}
    failures = []
    day = billing_time(start).date()
    while day <= billing_time(end).date():
        text = day.isoformat()
        try:
            days[text] = bss_tasks.query_instance_bill.fn(
                connection,
                text[:7],
                granularity="DAILY",
                billing_date=day,
                incident=incident,
            )
        except CloudError as error:
            if _cycle_not_started(error, bool(days)):
                logger.info(
                    "daily bills end before %s incident=%s: the billing cycle has "
                    "not started in the cloud",
                    text,
                    incident,
                )
                break
            logger.error(
                "daily bill failed incident=%s day=%s code=%s",
                incident,
                text,
                error.code,
            )
            failures.append(f"{text}: {error}")
        day += timedelta(days=1)
    return days, failures


def _regions_seen(analysis: AnalysisInvestigation, start: datetime) -> list[str]:
    """Return the regions of the suspect credentials' regional calls since ``start``."""
    events = analysis.events
    suspect = events["access_key_id"].isin(analysis.suspect_access_key_ids)
    recent = events["time"] >= pd.Timestamp(start)
    rows = events.loc[
        suspect & recent & ~events["is_global"] & (events["region"] != "")
    ]
    return sorted(set(rows["region"]))


def _instances(
    connection: CloudConnection, regions: list[str], incident: str
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """List the instances of each region; return them and the failures."""
    from tasks import ecs as ecs_tasks

    found: dict[str, list[dict[str, Any]]] = {}
    failures = []
    for region in regions:
        try:
            found[region] = ecs_tasks.describe_instances.fn(
                connection, region, incident=incident
            )
        except (CloudError, ValueError) as error:
            logger.error(
                "DescribeInstances failed incident=%s region=%s error=%s",
                incident,
                region,
                error,
            )
            failures.append(f"{region}: {error}")
    return found, failures


def _coverage(
    source: str,
    results: dict[str, list[Any]],
    failures: list[str],
    detail: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> CoverageEntry:
    if not failures:
        status = "complete"
    elif results:
        status = "partial"
    else:
        status = "failed"
    if failures:
        detail += " Failed: " + "; ".join(failures)
    return CoverageEntry(
        source=source,
        status=status,
        items=sum(len(items) for items in results.values()),
        start=start,
        end=end,
        detail=detail,
    )


def _save_evidence(
    result: Investigation,
    raw: list[dict[str, Any]],
    incident: str,
    root: str | Path,
) -> EvidenceRecord:
    """Write the evidence bundle; a re-run of the incident gets a new folder."""
    analysis = result.analysis
    frames: dict[str, pd.DataFrame] = {}
    documents: dict[str, Any] = {
        "coverage": {
            "sources": [entry.model_dump(mode="json") for entry in result.coverage],
            "gaps": [gap.model_dump(mode="json") for gap in result.gaps],
            "not_visible": result.not_visible,
            "notes": result.notes,
        },
        "findings": [finding.model_dump(mode="json") for finding in result.findings],
    }
    if analysis is not None:
        frames["events"] = analysis.events
        frames["findings"] = analysis.findings_frame()
        documents["analysis"] = analysis.to_dict()
    name = incident
    if (Path(root) / incident / "manifest.json").exists():
        name = f"{incident}.{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    manifest = save_evidence(
        name,
        raw_events=raw,
        frames=frames,
        documents=documents,
        images=result.pictures,
        root=root,
    )
    manifest_path = manifest.folder / "manifest.json"
    digest = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
    return EvidenceRecord(
        folder=str(manifest.folder.resolve()),
        manifest=str(manifest_path.resolve()),
        manifest_sha256=digest,
        files=[item.path for item in manifest.files],
    )


def _step(name: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``function`` as a Prefect task named ``name`` inside a flow run.

    Outside a flow run (scripts, tests) it is called directly.
    """
    if FlowRunContext.get() is None:
        return function(*args, **kwargs)
    return task(name=name, **task_options())(function)(*args, **kwargs)


def _in_range(record: dict[str, Any], start: datetime, end: datetime) -> bool:
    moment = _event_time(record)
    return moment is not None and start <= moment < end
