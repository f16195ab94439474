"""Anomaly checks over the normalised events frame.

Every detector takes a ``DetectionContext`` and returns ``Finding`` objects whose
evidence names the events, the baseline, the threshold and the public rule behind the
threshold. Detectors look only at event fields: actions, parameters, errors, IPs,
regions, user agents and times. None keys on a user-agent string or other label that
only a test harness or replay tool leaves.

The incident scope decides which events are suspect: the events in the incident
window made with the given AccessKeys or by the given RAM users. The baseline is every
event in the ``baseline_days`` before the window. A key's own baseline is its own
events there; a key with no history (one the attacker created) is compared with the
whole account's baseline instead.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from akresponder.analysis import catalog
from akresponder.analysis.events import parse_json_objects
from akresponder.analysis.findings import Finding, sort_findings
from akresponder.analysis.settings import AnalysisSettings

Detector = Callable[["DetectionContext"], list[Finding]]

_BASELINE_SAMPLE = 20  # baseline values listed in a finding's evidence
_ACCOUNT_ID = re.compile(r"acs:ram::(\d+):")


@dataclass(frozen=True)
class IncidentScope:
    """The time window and the suspect identities under investigation.

    Suspect events are those made with ``access_key_ids``, and the keyless (console)
    events of ``user_names`` and of users the suspect keys created or gave a console
    password. With neither keys nor users, every event in the window is suspect.
    """

    window_start: datetime
    window_end: datetime | None = None
    access_key_ids: tuple[str, ...] = ()
    user_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.window_start.tzinfo is None:
            raise ValueError(
                f"window_start {self.window_start.isoformat()} has no time zone; "
                "pass an aware datetime such as datetime(..., tzinfo=UTC)"
            )
        if self.window_end is not None and self.window_end <= self.window_start:
            raise ValueError(
                f"window_end {self.window_end.isoformat()} is not after window_start "
                f"{self.window_start.isoformat()}; swap them or widen the window"
            )


@dataclass
class DetectionContext:
    """The frames a detector reads, prepared once by ``prepare_context``."""

    scope: IncidentScope
    settings: AnalysisSettings
    window: pd.DataFrame  # suspect events in the window, with entity and key columns
    baseline: pd.DataFrame  # every event in the baseline period, same extra columns
    user_names: tuple[str, ...]  # scope.user_names plus users the suspect keys made

    def finding(
        self,
        kind: str,
        severity: str,
        summary: str,
        rows: pd.DataFrame,
        evidence: dict[str, Any],
    ) -> Finding:
        """Build a finding for ``rows``, keeping at most the configured event ids."""
        keys = [key for key in rows["access_key_id"].unique() if key]
        cap = self.settings.max_event_ids_per_finding
        return Finding(
            kind=kind,
            severity=severity,
            summary=summary,
            event_ids=rows["event_id"].iloc[:cap].tolist(),
            evidence={"event_count": len(rows), **evidence},
            first_seen=_as_datetime(rows["time"].min()),
            last_seen=_as_datetime(rows["time"].max()),
            access_key_id=keys[0] if len(keys) == 1 else None,
        )


def prepare_context(
    events: pd.DataFrame,
    scope: IncidentScope,
    settings: AnalysisSettings | None = None,
) -> DetectionContext:
    """Split ``events`` into the suspect window and the baseline for the detectors."""
    settings = settings or AnalysisSettings()
    frame = _with_keys(events)
    start = pd.Timestamp(scope.window_start).tz_convert(UTC)
    in_window = frame["time"] >= start
    if scope.window_end is not None:
        in_window &= frame["time"] < pd.Timestamp(scope.window_end).tz_convert(UTC)
    baseline_start = start - pd.Timedelta(days=settings.baseline_days)
    baseline = frame.loc[(frame["time"] < start) & (frame["time"] >= baseline_start)]

    window = frame.loc[in_window]
    user_names = set(scope.user_names)
    if scope.access_key_ids:
        by_key = window.loc[window["access_key_id"].isin(scope.access_key_ids)]
        user_names |= _users_made_by(by_key)
    if scope.access_key_ids or user_names:
        suspect = window["access_key_id"].isin(scope.access_key_ids)
        suspect |= window["identity_name"].isin(user_names) & (
            window["access_key_id"] == ""
        )
        window = window.loc[suspect]
    return DetectionContext(
        scope=scope,
        settings=settings,
        window=window,
        baseline=baseline,
        user_names=tuple(sorted(user_names)),
    )


def baseline_notes(
    events: pd.DataFrame,
    scope: IncidentScope,
    settings: AnalysisSettings | None = None,
) -> list[str]:
    """Say which checks had nothing to compare with, for the report's coverage."""
    settings = settings or AnalysisSettings()
    start = pd.Timestamp(scope.window_start).tz_convert(UTC)
    earliest = start - pd.Timedelta(days=settings.baseline_days)
    before = (events["time"] < start) & (events["time"] >= earliest)
    if before.any():
        return []
    return [
        f"no events in the {settings.baseline_days} days before the window, so "
        "unusual_region, unknown_source_ip and new_user_agent had no baseline and "
        "report nothing; fetch older events to enable them"
    ]


def run_detectors(
    events: pd.DataFrame,
    scope: IncidentScope,
    settings: AnalysisSettings | None = None,
    kinds: Iterable[str] | None = None,
) -> list[Finding]:
    """Run the detectors (all, or those named in ``kinds``) and sort the findings.

    ``billing_anomaly`` findings come from ``billing.analyse_billing``, which needs
    bills rather than events.
    """
    selected = list(kinds) if kinds is not None else list(DETECTORS)
    unknown = [kind for kind in selected if kind not in DETECTORS]
    if unknown:
        raise ValueError(
            f"unknown detector kind(s) {', '.join(unknown)}; "
            f"choose from {', '.join(DETECTORS)}"
        )
    context = prepare_context(events, scope, settings)
    findings: list[Finding] = []
    if context.window.empty:
        return findings
    for kind in selected:
        findings.extend(DETECTORS[kind](context))
    return sort_findings(findings)


# Novel values: region, source IP, user agent -----------------------------------------


def detect_unusual_region(context: DetectionContext) -> list[Finding]:
    """Report regions an identity used in the window but never in its baseline.

    Global services (RAM, STS, console sign-in) are skipped because their region is
    the endpoint's, not the caller's choice. Severity is high when a successful write
    happened in the new region: Alibaba Cloud's procedure for a compromised AccessKey
    names resource creation or deletion in unexpected regions as the sign to look for.
    """
    settings = context.settings
    window = context.window.loc[~context.window["is_global"]]
    baseline = context.baseline.loc[~context.baseline["is_global"]]
    allowed = window["region"].isin(settings.allowed_regions)
    novel = _novel_rows(window, baseline, "region", window["region"] != "")
    rows = window.loc[novel & ~allowed]
    findings = []
    for entity, group in rows.groupby("entity", sort=True):
        writes = group["succeeded"] & (group["rw"] == "Write")
        severity = "high" if writes.any() else "medium"
        regions = sorted(group["region"].unique())
        findings.append(
            context.finding(
                "unusual_region",
                severity,
                f"{_label(group)} called APIs in {len(regions)} region(s) absent from "
                f"its baseline: {_short_list(regions)}.",
                group,
                {
                    "baseline": _baseline_summary(baseline, entity, "region", settings),
                    "threshold": "region absent from the baseline and allowed_regions",
                    "values": _value_counts(group, "region", writes),
                    "rule": (
                        "Alibaba Cloud compromised-AccessKey procedure: look for "
                        "resource creation or deletion in unexpected regions"
                    ),
                },
            )
        )
    return findings


def detect_unknown_source_ip(context: DetectionContext) -> list[Finding]:
    """Report source IPs an identity used in the window but never in its baseline.

    Service hostnames (an Alibaba Cloud service calling on the user's behalf) are
    skipped. Values that are not addresses are reported with their kind, because a
    malformed source is itself worth a look. Severity is high when the IP is new to
    the whole account, medium when only this identity had not used it.
    """
    settings = context.settings
    window = context.window
    candidates = window["source_ip_kind"].isin(["ipv4", "ipv6", "invalid"])
    allowed = _in_networks(window["source_ip"], settings)
    novel = _novel_rows(window, context.baseline, "source_ip", candidates)
    rows = window.loc[novel & ~allowed]
    account_ips = set(context.baseline["source_ip"].unique())
    findings = []
    for entity, group in rows.groupby("entity", sort=True):
        ips = sorted(group["source_ip"].unique())
        new_to_account = [ip for ip in ips if ip not in account_ips]
        severity = "high" if new_to_account else "medium"
        values = _value_counts(group, "source_ip")
        for ip in ips:
            values[ip]["kind"] = group.loc[
                group["source_ip"] == ip, "source_ip_kind"
            ].iat[0]
            values[ip]["new_to_account"] = ip in new_to_account
        findings.append(
            context.finding(
                "unknown_source_ip",
                severity,
                f"{_label(group)} was used from {len(ips)} source IP(s) absent from "
                f"its baseline: {_short_list(ips)}.",
                group,
                {
                    "baseline": _baseline_summary(
                        context.baseline, entity, "source_ip", settings
                    ),
                    "threshold": "source IP absent from the baseline and allowed_cidrs",
                    "values": values,
                    "rule": (
                        "Alibaba Cloud compromised-AccessKey procedure: look for API "
                        "calls from unknown IP addresses"
                    ),
                },
            )
        )
    return findings


def detect_new_user_agent(context: DetectionContext) -> list[Finding]:
    """Report user agents an identity used in the window but never in its baseline.

    A user agent is set by the client, so this is weak evidence on its own. Severity
    is medium for an identity with a baseline, where one application's key suddenly
    appears with another client, and low otherwise.
    """
    settings = context.settings
    window = context.window
    prefixes = tuple(prefix.lower() for prefix in settings.allowed_user_agent_prefixes)
    allowed = (
        window["user_agent"].str.lower().str.startswith(prefixes)
        if prefixes
        else pd.Series(False, index=window.index)
    )
    novel = _novel_rows(
        window, context.baseline, "user_agent", window["user_agent"] != ""
    )
    rows = window.loc[novel & ~allowed]
    with_history = set(context.baseline["entity"].unique())
    findings = []
    for entity, group in rows.groupby("entity", sort=True):
        agents = sorted(group["user_agent"].unique())
        severity = "medium" if entity in with_history else "low"
        findings.append(
            context.finding(
                "new_user_agent",
                severity,
                f"{_label(group)} used {len(agents)} user agent(s) absent from its "
                f"baseline: {_short_list(agents, limit=3)}.",
                group,
                {
                    "baseline": _baseline_summary(
                        context.baseline, entity, "user_agent", settings
                    ),
                    "threshold": (
                        "user agent absent from the baseline and "
                        "allowed_user_agent_prefixes"
                    ),
                    "values": _value_counts(group, "user_agent"),
                    "rule": "new value compared with the identity's own history",
                },
            )
        )
    return findings


# Calls by action ---------------------------------------------------------------------


def detect_high_risk_call(context: DetectionContext) -> list[Finding]:
    """Report calls from Alibaba Cloud's deny list for a compromised key, and more.

    The reference list is the deny policy in Alibaba Cloud's compromised-AccessKey
    procedure. ``catalog.EXTENDED_HIGH_RISK`` adds trail tampering, secret reads,
    image sharing, remote commands and security groups opened to the internet. Failed
    attempts count too, because an attempt shows intent: severity is high when at
    least one call succeeded and medium when all were denied.
    """
    window = context.window
    reference = window["action_key"].isin(catalog.keyset(catalog.REFERENCE_DENY_LIST))
    extended = window["action_key"].isin(catalog.keyset(catalog.EXTENDED_HIGH_RISK))
    security_group = window["action_key"] == "ecs:AuthorizeSecurityGroup"
    if security_group.any():
        opened = _opens_to_internet(window.loc[security_group, "request_parameters"])
        extended &= ~security_group | opened.reindex(window.index, fill_value=False)
    rows = window.loc[reference | extended]
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        in_reference = group["action_key"].isin(
            catalog.keyset(catalog.REFERENCE_DENY_LIST)
        )
        values: dict[str, Any] = {}
        for action_key, calls in group.groupby("action_key", sort=True):
            service, action = action_key.split(":", 1)
            values[action_key] = {
                "count": len(calls),
                "succeeded": int(calls["succeeded"].sum()),
                "reason": catalog.EXTENDED_HIGH_RISK.get(
                    (service, action), "in the reference deny list"
                ),
            }
        severity = "high" if group["succeeded"].any() else "medium"
        succeeded = int(group["succeeded"].sum())
        findings.append(
            context.finding(
                "high_risk_call",
                severity,
                f"{_label(group)} made {len(group)} high-risk call(s) "
                f"({succeeded} succeeded): {_short_list(sorted(values), limit=8)}.",
                group,
                {
                    "baseline": None,
                    "threshold": "any call to a listed action",
                    "values": values,
                    "reference_list_calls": int(in_reference.sum()),
                    "rule": (
                        "deny policy in Alibaba Cloud's compromised-AccessKey "
                        "procedure, extended with catalog.EXTENDED_HIGH_RISK"
                    ),
                },
            )
        )
    return findings


def detect_resource_created(context: DetectionContext) -> list[Finding]:
    """Report resources the suspect identities created (RAM identities excluded).

    Severity is high when instances were created, because Alibaba Cloud's procedure
    names unauthorized resources such as cryptocurrency mining as the cause of
    abnormal charges; medium otherwise.
    """
    rows = _lifecycle_rows(context.window, catalog.CREATE_PREFIXES)
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        instances = group["action_key"].isin(catalog.keyset(catalog.INSTANCE_CREATION))
        resources = _created_resources(group)
        severity = "high" if instances.any() else "medium"
        findings.append(
            context.finding(
                "resource_created",
                severity,
                f"{_label(group)} created {len(resources)} resource(s) with "
                f"{len(group)} call(s): {_short_list(resources)}.",
                group,
                {
                    "baseline": None,
                    "threshold": (
                        "any successful write whose action starts with "
                        + "/".join(catalog.CREATE_PREFIXES)
                    ),
                    "values": {
                        "resources": resources,
                        "actions": _counts(group["action_key"]),
                    },
                    "rule": (
                        "Alibaba Cloud compromised-AccessKey procedure: look for "
                        "resource creation"
                    ),
                },
            )
        )
    return findings


def detect_resource_deleted(context: DetectionContext) -> list[Finding]:
    """Report resources the suspect identities deleted or released.

    Severity is high when data or audit records were destroyed (instances, disks,
    snapshots, buckets, objects, databases, logstores, trails); medium otherwise.
    """
    rows = _lifecycle_rows(context.window, catalog.DELETE_PREFIXES)
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        destructive = group["action_key"].isin(
            catalog.keyset(catalog.DESTRUCTIVE_DELETIONS)
        )
        resources = _named_resources(group)
        shown = resources or sorted(group["action"].unique())
        severity = "high" if destructive.any() else "medium"
        findings.append(
            context.finding(
                "resource_deleted",
                severity,
                f"{_label(group)} deleted or released resources with {len(group)} "
                f"call(s): {_short_list(shown)}.",
                group,
                {
                    "baseline": None,
                    "threshold": (
                        "any successful write whose action starts with "
                        + "/".join(catalog.DELETE_PREFIXES)
                    ),
                    "values": {
                        "resources": resources,
                        "actions": _counts(group["action_key"]),
                    },
                    "rule": (
                        "Alibaba Cloud compromised-AccessKey procedure: look for "
                        "resource deletion"
                    ),
                },
            )
        )
    return findings


def detect_logging_disabled(context: DetectionContext) -> list[Finding]:
    """Report successful calls that stop or narrow audit logging.

    StopLogging and DeleteTrail are what Alibaba Cloud's landing-zone alert
    cis_at_trail_off fires on (one event is enough). UpdateTrail counts when it turns
    logging off, records only reads, or removes a delivery target. Deleting a trail's
    ``actiontrail_*`` logstore and deleting or stopping VPC flow logs count too.
    """
    window = context.window.loc[context.window["succeeded"]]
    stops = window["action_key"].isin(catalog.keyset(catalog.TRAIL_STOPS))
    flow_logs = window["action_key"].isin(catalog.keyset(catalog.FLOW_LOG_STOPS))
    updates = window["action_key"].isin(catalog.keyset(catalog.TRAIL_UPDATES))
    deletions = window["action_key"].isin(catalog.keyset(catalog.LOG_DELETIONS))
    narrowing = pd.Series(False, index=window.index)
    reasons: dict[str, str] = {}
    for index, params in _params(window.loc[updates | deletions]).items():
        reason = _logging_reduction(window.at[index, "action"], params)
        if reason:
            narrowing.at[index] = True
            reasons[window.at[index, "event_id"]] = reason
    rows = window.loc[stops | flow_logs | narrowing]
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        critical = group["action_key"].isin(catalog.keyset(catalog.TRAIL_STOPS))
        critical |= group["action_key"].isin(catalog.keyset(catalog.LOG_DELETIONS))
        findings.append(
            context.finding(
                "logging_disabled",
                "critical" if critical.any() else "high",
                f"{_label(group)} stopped or reduced audit logging: "
                f"{', '.join(sorted(group['action'].unique()))} on "
                f"{_short_list(_named_resources(group) or ['(unnamed)'])}.",
                group,
                {
                    "baseline": None,
                    "threshold": "one event",
                    "values": {
                        "actions": _counts(group["action_key"]),
                        "resources": _named_resources(group),
                        "update_reasons": {
                            event_id: reasons[event_id]
                            for event_id in group["event_id"]
                            if event_id in reasons
                        },
                    },
                    "rule": (
                        "Alibaba Cloud landing-zone alert cis_at_trail_off "
                        "(DeleteTrail or StopLogging, at least 1); Sumo Logic Cloud "
                        "SIEM 'Logging Configuration Change'"
                    ),
                },
            )
        )
    return findings


def detect_user_created(context: DetectionContext) -> list[Finding]:
    """Report RAM users created by the suspect identities (possible backdoors)."""
    rows = _successful(context.window, catalog.USER_CREATION)
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        users = _param_values(group, "UserName")
        findings.append(
            context.finding(
                "user_created",
                "high",
                f"{_label(group)} created RAM user(s) {_short_list(users)}.",
                group,
                {
                    "baseline": None,
                    "threshold": "one event",
                    "values": {"user_names": users},
                    "rule": "Sumo Logic Cloud SIEM 'IAM CreateUser Observed' (S00601)",
                },
            )
        )
    return findings


def detect_access_key_created(context: DetectionContext) -> list[Finding]:
    """Report AccessKeys created by the suspect identities.

    Severity is critical when a key was created for another user than the caller,
    the pattern of Elastic's prebuilt rule 'AWS IAM User Created Access Keys For
    Another User'; high when a user made a second key for itself.
    """
    rows = _successful(context.window, catalog.ACCESS_KEY_CREATION)
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        created = []
        for index, params in _params(group).items():
            caller = group.at[index, "identity_name"]
            target = str(params.get("UserName") or caller)
            response = parse_json_objects([group.at[index, "response_elements"]])[0]
            key = _nested(response, "AccessKey", "AccessKeyId")
            created.append(
                {
                    "user_name": target,
                    "access_key_id": key or "",
                    "for_another_user": target != caller,
                    "event_id": group.at[index, "event_id"],
                }
            )
        other = [item for item in created if item["for_another_user"]]
        keys = [item["access_key_id"] or "(id not logged)" for item in created]
        owners = sorted({item["user_name"] for item in created})
        findings.append(
            context.finding(
                "access_key_created",
                "critical" if other else "high",
                f"{_label(group)} created AccessKey(s) {_short_list(keys)} for "
                f"{_short_list(owners)}.",
                group,
                {
                    "baseline": None,
                    "threshold": "one event",
                    "values": {"created": created},
                    "rule": (
                        "Elastic prebuilt rule 'AWS IAM User Created Access Keys For "
                        "Another User'; Sumo Logic 'Access Key Action Detected'"
                    ),
                },
            )
        )
    return findings


def detect_login_profile_changed(context: DetectionContext) -> list[Finding]:
    """Report console passwords created, changed or removed by the suspect identities.

    Creating a login profile on a user gives the attacker console access that
    survives key rotation.
    """
    rows = _successful(context.window, catalog.LOGIN_PROFILE_CHANGES)
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        changes = []
        for index, params in _params(group).items():
            changes.append(
                {
                    "action": group.at[index, "action"],
                    "user_name": str(
                        params.get("UserName") or group.at[index, "identity_name"]
                    ),
                    "event_id": group.at[index, "event_id"],
                }
            )
        users = sorted({change["user_name"] for change in changes})
        findings.append(
            context.finding(
                "login_profile_changed",
                "high",
                f"{_label(group)} changed console sign-in for {_short_list(users)} "
                f"({', '.join(sorted(group['action'].unique()))}).",
                group,
                {
                    "baseline": None,
                    "threshold": "one event",
                    "values": {"changes": changes},
                    "rule": (
                        "Alibaba Cloud landing-zone alerts cis_at_password_reset and "
                        "cis_at_abnormal_pwd_mod_cnt"
                    ),
                },
            )
        )
    return findings


def detect_policy_attached(context: DetectionContext) -> list[Finding]:
    """Report permissions granted by the suspect identities.

    Covers policy attachment to users, groups and roles, group membership, and new
    default policy versions. Severity is critical when the policy is one of
    ``catalog.ADMIN_POLICIES``, high otherwise.
    """
    rows = _successful(context.window, catalog.POLICY_GRANTS)
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        grants = [
            _grant(group.at[index, "action"], params, group.at[index, "event_id"])
            for index, params in _params(group).items()
        ]
        admin = any(grant["policy_name"] in catalog.ADMIN_POLICIES for grant in grants)
        described = [
            f"{grant['policy_name'] or grant['group_name']} to "
            f"{grant['principal_type']} {grant['principal']}"
            for grant in grants
        ]
        findings.append(
            context.finding(
                "policy_attached",
                "critical" if admin else "high",
                f"{_label(group)} granted permissions: {_short_list(described)}.",
                group,
                {
                    "baseline": None,
                    "threshold": "one event",
                    "values": {"grants": grants},
                    "rule": (
                        "Alibaba Cloud landing-zone alerts cis_at_ram_auth_change and "
                        "cis_at_ram_policy_change"
                    ),
                },
            )
        )
    return findings


def detect_role_assumed(context: DetectionContext) -> list[Finding]:
    """Report roles the suspect identities assumed, with the STS keys issued.

    Severity is high when the identity never assumed that role in its baseline,
    medium otherwise.
    """
    rows = _successful(context.window, catalog.ROLE_ASSUMPTION)
    baseline = _successful(context.baseline, catalog.ROLE_ASSUMPTION)
    findings = []
    for entity, group in rows.groupby("entity", sort=True):
        known_roles = set(
            _param_values(baseline[baseline["entity"] == entity], "RoleArn")
        )
        sessions = []
        for index, params in _params(group).items():
            response = parse_json_objects([group.at[index, "response_elements"]])[0]
            sessions.append(
                {
                    "role_arn": str(params.get("RoleArn", "")),
                    "session_name": str(params.get("RoleSessionName", "")),
                    "sts_access_key_id": _sts_key(response),
                    "event_id": group.at[index, "event_id"],
                }
            )
        roles = sorted({session["role_arn"] for session in sessions})
        new_roles = [role for role in roles if role not in known_roles]
        findings.append(
            context.finding(
                "role_assumed",
                "high" if new_roles else "medium",
                f"{_label(group)} assumed role(s) {_short_list(roles)} "
                f"{len(sessions)} time(s).",
                group,
                {
                    "baseline": {"roles_assumed_before": sorted(known_roles)},
                    "threshold": "one event; high when the role is new",
                    "values": {"sessions": sessions, "new_roles": new_roles},
                    "rule": "role chaining review in the lineage walk",
                },
            )
        )
    return findings


def detect_console_login(context: DetectionContext) -> list[Finding]:
    """Report console sign-ins by the suspect users, and bursts of failed ones.

    A successful sign-in is high severity when its source IP is new for the user or
    MFA was not checked, medium otherwise. Failed sign-ins make a high finding when
    more than ``failed_login_min_count - 1`` fall within ``failed_login_window_minutes``
    for one user, as in Alibaba Cloud's landing-zone alert cis_at_abnormal_login.
    """
    settings = context.settings
    window = context.window
    rows = window.loc[
        (window["event_type"] == "ConsoleSignin")
        | (window["action"] == "ConsoleSignin")
    ]
    findings = []
    for user, group in rows.groupby("identity_name", sort=True):
        failed = group.loc[~group["succeeded"]]
        succeeded = group.loc[group["succeeded"]]
        if not succeeded.empty:
            findings.append(_successful_login_finding(context, str(user), succeeded))
        if failed.empty:
            continue
        counts = _trailing_counts(
            np.zeros(len(failed), dtype=np.int64),
            failed["time"],
            pd.Timedelta(minutes=settings.failed_login_window_minutes),
        )
        if counts.max() < settings.failed_login_min_count:
            continue
        findings.append(
            context.finding(
                "console_login",
                "high",
                f"User {user} had {len(failed)} failed console sign-in(s), up to "
                f"{int(counts.max())} within {settings.failed_login_window_minutes} "
                "minutes.",
                failed,
                {
                    "baseline": None,
                    "threshold": (
                        f"at least {settings.failed_login_min_count} failures within "
                        f"{settings.failed_login_window_minutes} minutes"
                    ),
                    "values": {
                        "max_in_window": int(counts.max()),
                        "source_ips": _counts(failed["source_ip"]),
                        "error_messages": _counts(failed["error_message"]),
                    },
                    "rule": (
                        "Alibaba Cloud landing-zone alert cis_at_abnormal_login "
                        "(more than 5 failures in 30 minutes per user)"
                    ),
                },
            )
        )
    return findings


def detect_mfa_changed(context: DetectionContext) -> list[Finding]:
    """Report MFA devices bound, unbound, created or deleted by suspect identities."""
    rows = _successful(context.window, catalog.MFA_CHANGES)
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        users = _param_values(group, "UserName") or sorted(
            group["identity_name"].unique()
        )
        findings.append(
            context.finding(
                "mfa_changed",
                "high",
                f"{_label(group)} changed MFA for {_short_list(users)} "
                f"({', '.join(sorted(group['action'].unique()))}).",
                group,
                {
                    "baseline": None,
                    "threshold": "one event",
                    "values": {
                        "user_names": users,
                        "actions": _counts(group["action"]),
                    },
                    "rule": (
                        "Elastic prebuilt rule 'AWS IAM Deactivation of MFA Device'"
                    ),
                },
            )
        )
    return findings


def detect_secrets_read(context: DetectionContext) -> list[Finding]:
    """Report secrets read by the suspect identities, and bulk reads.

    Any successful read is reported (Sumo Logic's 'Secrets Manager Activity' fires on
    one). Severity is high when at least ``secrets_bulk_min_distinct`` distinct
    secrets were read within ``secrets_bulk_window_minutes``, as in Elastic's 'AWS
    Secrets Manager Rapid Secrets Retrieval'; medium otherwise.
    """
    settings = context.settings
    rows = _successful(context.window, catalog.SECRET_READS)
    window_length = pd.Timedelta(minutes=settings.secrets_bulk_window_minutes)
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        times: list[pd.Timestamp] = []
        names: list[str] = []
        for index, params in _params(group).items():
            for name in _secret_names(group.at[index, "action"], params):
                times.append(group.at[index, "time"])
                names.append(name)
        peak = _max_distinct_in_window(times, names, window_length)
        distinct = sorted(set(names))
        bulk = peak >= settings.secrets_bulk_min_distinct
        findings.append(
            context.finding(
                "secrets_read",
                "high" if bulk else "medium",
                f"{_label(group)} read {len(distinct)} distinct secret(s) in "
                f"{len(group)} call(s): {_short_list(distinct)}.",
                group,
                {
                    "baseline": None,
                    "threshold": (
                        f"any read; high at {settings.secrets_bulk_min_distinct} "
                        "distinct secrets within "
                        f"{settings.secrets_bulk_window_minutes} minutes"
                    ),
                    "values": {
                        "secrets": distinct,
                        "max_distinct_in_window": peak,
                        "actions": _counts(group["action_key"]),
                    },
                    "rule": (
                        "Sumo Logic 'Secrets Manager Activity' (S00596); Elastic "
                        "'AWS Secrets Manager Rapid Secrets Retrieval'"
                    ),
                },
            )
        )
    return findings


def detect_resource_shared(context: DetectionContext) -> list[Finding]:
    """Report resources shared outside the account or made public.

    Image sharing, snapshot permission changes, public bucket ACLs, bucket policies,
    resource shares, and role trust policies that admit another account or anyone.
    """
    window = context.window.loc[context.window["succeeded"]]
    candidates = window.loc[window["action_key"].isin(catalog.keyset(catalog.SHARING))]
    shared = pd.Series(False, index=candidates.index)
    targets: dict[str, str] = {}
    for index, params in _params(candidates).items():
        target = _share_target(
            candidates.at[index, "action_key"],
            params,
            candidates.at[index, "account_id"],
        )
        if target:
            shared.at[index] = True
            targets[candidates.at[index, "event_id"]] = target
    rows = candidates.loc[shared]
    findings = []
    for _, group in rows.groupby("entity", sort=True):
        described = [targets[event_id] for event_id in group["event_id"]]
        findings.append(
            context.finding(
                "resource_shared",
                "high",
                f"{_label(group)} shared resources outside the account: "
                f"{_short_list(described)}.",
                group,
                {
                    "baseline": None,
                    "threshold": "one event that grants access to another account",
                    "values": {
                        "shares": dict(zip(group["event_id"], described, strict=True))
                    },
                    "rule": (
                        "Elastic prebuilt rules 'AWS EC2 EBS Snapshot Shared with "
                        "Another Account' and 'AWS IAM Assume Role Policy Update'"
                    ),
                },
            )
        )
    return findings


# Bursts ------------------------------------------------------------------------------


def detect_permission_error_burst(context: DetectionContext) -> list[Finding]:
    """Report bursts of denied calls: a key probing what it is allowed to do.

    Denied calls are matched by the error codes of Alibaba Cloud's landing-zone alert
    cis_at_unauth_apicall and the error messages of Cortex XSIAM's ActionTrail rule,
    grouped by identity and source IP. A burst is at least
    ``permission_error_min_count`` within ``permission_error_window_minutes``.
    """
    settings = context.settings
    window = context.window
    denied = window.loc[
        catalog.is_denied(window["error_code"], window["error_message"])
    ]
    if denied.empty:
        return []
    denied = denied.sort_values("time", kind="stable")
    length = pd.Timedelta(minutes=settings.permission_error_window_minutes)
    codes = denied.groupby(["entity", "source_ip"], sort=False).ngroup().to_numpy()
    counts = _trailing_counts(codes, denied["time"], length)
    denied = denied.assign(_count=counts, _group=codes)
    findings = []
    for _, group in denied.groupby("_group", sort=True):
        peak = int(group["_count"].max())
        if peak < settings.permission_error_min_count:
            continue
        bursts = group.loc[group["_count"] >= settings.permission_error_min_count]
        start = bursts["time"].min() - length
        in_burst = group.loc[
            (group["time"] > start) & (group["time"] <= bursts["time"].max())
        ]
        findings.append(
            context.finding(
                "permission_error_burst",
                "high",
                f"{_label(in_burst)} had {len(in_burst)} denied call(s) from "
                f"{in_burst['source_ip'].iat[0] or '(no IP)'}, up to {peak} within "
                f"{settings.permission_error_window_minutes} minutes.",
                in_burst.drop(columns=["_count", "_group"]),
                {
                    "baseline": None,
                    "threshold": (
                        f"at least {settings.permission_error_min_count} denied calls "
                        f"within {settings.permission_error_window_minutes} minutes "
                        "per identity and source IP"
                    ),
                    "values": {
                        "max_in_window": peak,
                        "error_codes": _counts(in_burst["error_code"]),
                        "actions": _counts(in_burst["action_key"]),
                    },
                    "rule": (
                        "Cortex XSIAM ActionTrail correlation rule (more than 5 denied "
                        "calls in 10 minutes); landing-zone alert cis_at_unauth_apicall"
                    ),
                },
            )
        )
    return findings


def detect_enumeration_burst(context: DetectionContext) -> list[Finding]:
    """Report bursts of distinct discovery calls (Describe, Get, List, Generate).

    Time is cut into ``enumeration_bucket_seconds`` buckets and a bucket with at least
    ``enumeration_min_distinct_actions`` distinct discovery actions by one identity
    from one source IP is a burst, as in Elastic's 'AWS Discovery API Calls via CLI
    from a Single Resource'. Grouping by source IP keeps the owner's own calls out of
    an attacker's burst when both use the same key at the same time. Unlike that rule
    this one does not require a CLI user agent. Elastic rates the rule low for an
    account-wide search; here the identity is already a suspect, so the severity is
    medium.
    """
    settings = context.settings
    window = context.window
    discovery = window.loc[window["action"].str.startswith(catalog.DISCOVERY_PREFIXES)]
    if discovery.empty:
        return []
    bucket = discovery["time"].dt.floor(f"{settings.enumeration_bucket_seconds}s")
    distinct = discovery.groupby(["entity", "source_ip", bucket])["action"].nunique()
    bursts = distinct[distinct >= settings.enumeration_min_distinct_actions]
    findings = []
    for entity in sorted(bursts.index.get_level_values(0).unique()):
        burst_keys = bursts.loc[entity]
        in_burst = pd.MultiIndex.from_arrays([discovery["source_ip"], bucket]).isin(
            burst_keys.index
        )
        rows = discovery.loc[(discovery["entity"] == entity).to_numpy() & in_burst]
        buckets = burst_keys.groupby(level=1).max()
        findings.append(
            context.finding(
                "enumeration_burst",
                "medium",
                f"{_label(rows)} made {len(rows)} discovery call(s) in "
                f"{len(buckets)} burst(s), up to {int(buckets.max())} distinct actions "
                f"within {settings.enumeration_bucket_seconds} seconds.",
                rows,
                {
                    "baseline": None,
                    "threshold": (
                        f"at least {settings.enumeration_min_distinct_actions} "
                        "distinct discovery actions from one source IP in one "
                        f"{settings.enumeration_bucket_seconds}-second bucket"
                    ),
                    "values": {
                        "bursts": {
                            _as_datetime(moment).isoformat(): int(count)
                            for moment, count in buckets.items()
                        },
                        "actions": _counts(rows["action_key"]),
                        "source_ips": _counts(rows["source_ip"]),
                    },
                    "rule": (
                        "Elastic prebuilt rule 'AWS Discovery API Calls via CLI from a "
                        "Single Resource' (more than 5 distinct actions in 10 seconds)"
                    ),
                },
            )
        )
    return findings


DETECTORS: dict[str, Detector] = {
    "unusual_region": detect_unusual_region,
    "unknown_source_ip": detect_unknown_source_ip,
    "new_user_agent": detect_new_user_agent,
    "high_risk_call": detect_high_risk_call,
    "resource_created": detect_resource_created,
    "resource_deleted": detect_resource_deleted,
    "permission_error_burst": detect_permission_error_burst,
    "enumeration_burst": detect_enumeration_burst,
    "logging_disabled": detect_logging_disabled,
    "user_created": detect_user_created,
    "access_key_created": detect_access_key_created,
    "login_profile_changed": detect_login_profile_changed,
    "policy_attached": detect_policy_attached,
    "role_assumed": detect_role_assumed,
    "console_login": detect_console_login,
    "mfa_changed": detect_mfa_changed,
    "secrets_read": detect_secrets_read,
    "resource_shared": detect_resource_shared,
}


# Frame helpers -----------------------------------------------------------------------


def _with_keys(events: pd.DataFrame) -> pd.DataFrame:
    """Add entity, action_key and succeeded columns used by every detector."""
    frame = events
    entity = frame["access_key_id"].where(
        frame["access_key_id"] != "", "user:" + frame["identity_name"]
    )
    entity = entity.where(entity != "user:", "principal:" + frame["principal_id"])
    # Every session of a role gets a new STS key, so a role's history is the history
    # of all its sessions: the role name is the part of userName before the colon.
    role = frame["identity_name"].str.split(":", n=1).str[0]
    entity = entity.where(frame["identity_type"] != "assumed-role", "role:" + role)
    message = frame["error_message"].str.lower()
    succeeded = (frame["error_code"] == "") & (
        (frame["error_message"] == "") | (message == "success")
    )
    return frame.assign(
        entity=entity,
        action_key=catalog.action_keys(frame["service"], frame["action"]),
        succeeded=succeeded,
    )


def _users_made_by(rows: pd.DataFrame) -> set[str]:
    """Return users that the rows created or gave a console password."""
    made = _successful(rows, catalog.USER_CREATION | catalog.LOGIN_PROFILE_CHANGES)
    return set(_param_values(made, "UserName"))


def _successful(
    frame: pd.DataFrame, actions: frozenset[tuple[str, str]]
) -> pd.DataFrame:
    return frame.loc[
        frame["succeeded"] & frame["action_key"].isin(catalog.keyset(actions))
    ]


def _lifecycle_rows(window: pd.DataFrame, prefixes: tuple[str, ...]) -> pd.DataFrame:
    services = window["action_key"].str.split(":", n=1).str[0]
    return window.loc[
        window["succeeded"]
        & (window["rw"] == "Write")
        & window["action"].str.startswith(prefixes)
        & ~services.isin(catalog.IDENTITY_SERVICES)
    ]


def _novel_rows(
    window: pd.DataFrame, baseline: pd.DataFrame, column: str, candidates: pd.Series
) -> pd.Series:
    """Mark window rows whose value the identity (or, without history, the account)
    never used in the baseline.

    With no baseline events at all nothing is new, because nothing can be compared.
    ``baseline_notes`` reports that gap to the caller.
    """
    if baseline.empty:
        return pd.Series(False, index=window.index)
    known = baseline.loc[baseline[column] != "", ["entity", column]].drop_duplicates()
    pairs = pd.MultiIndex.from_frame(window[["entity", column]])
    known_pair = (
        pairs.isin(pd.MultiIndex.from_frame(known))
        if len(known)
        else (np.zeros(len(window), dtype=bool))
    )
    has_history = window["entity"].isin(baseline["entity"].unique()).to_numpy()
    known_to_account = window[column].isin(known[column].unique()).to_numpy()
    novel = np.where(has_history, ~known_pair, ~known_to_account)
    return pd.Series(novel, index=window.index) & candidates


def _in_networks(ips: pd.Series, settings: AnalysisSettings) -> pd.Series:
    networks = settings.networks()
    if not networks:
        return pd.Series(False, index=ips.index)
    inside: dict[str, bool] = {}
    for value in ips.unique():
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            inside[value] = False
            continue
        inside[value] = any(
            address.version == network.version and address in network
            for network in networks
        )
    return ips.map(inside).astype(bool)


def _baseline_summary(
    baseline: pd.DataFrame, entity: str, column: str, settings: AnalysisSettings
) -> dict[str, Any]:
    own = baseline.loc[(baseline["entity"] == entity) & (baseline[column] != "")]
    source = own if len(own) else baseline.loc[baseline[column] != ""]
    values = sorted(source[column].unique())
    return {
        "compared_with": "identity" if len(own) else "account",
        "days": settings.baseline_days,
        "events": len(source),
        "distinct_values": len(values),
        "values": values[:_BASELINE_SAMPLE],
    }


def _value_counts(
    group: pd.DataFrame, column: str, writes: pd.Series | None = None
) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    for value, rows in group.groupby(column, sort=True):
        entry: dict[str, Any] = {
            "count": len(rows),
            "first_seen": _as_datetime(rows["time"].min()).isoformat(),
        }
        if writes is not None:
            entry["successful_writes"] = int(writes.loc[rows.index].sum())
        values[str(value)] = entry
    return values


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(key): int(count) for key, count in values.value_counts().items()}


def _label(rows: pd.DataFrame) -> str:
    entity = rows["entity"].iat[0]
    if entity.startswith("role:") and rows["entity"].nunique() == 1:
        return f"Role {entity.removeprefix('role:')}"
    keys = [key for key in rows["access_key_id"].unique() if key]
    if len(keys) == 1:
        return f"AccessKey {keys[0]}"
    names = [name for name in rows["identity_name"].unique() if name]
    if len(names) == 1:
        return f"User {names[0]}"
    return f"Identity {rows['entity'].iat[0]}"


def _short_list(values: list[str], limit: int = 5) -> str:
    if not values:
        return "(none)"
    shown = ", ".join(values[:limit])
    return shown if len(values) <= limit else f"{shown} and {len(values) - limit} more"


def _as_datetime(value: Any) -> datetime:
    return pd.Timestamp(value).to_pydatetime()


def _params(rows: pd.DataFrame) -> dict[Any, dict[str, Any]]:
    parsed = parse_json_objects(rows["request_parameters"].tolist())
    return dict(zip(rows.index, parsed, strict=True))


def _param_values(rows: pd.DataFrame, name: str) -> list[str]:
    values = {
        str(params[name]) for params in _params(rows).values() if params.get(name)
    }
    return sorted(values)


def _nested(data: dict[str, Any], *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, dict):
            return None
        # ActionTrail documents both PascalCase and camelCase response keys.
        value = value.get(key, value.get(key[:1].lower() + key[1:]))
    return value


def _sts_key(response: dict[str, Any]) -> str:
    key = _nested(response, "Credentials", "AccessKeyId")
    return str(key) if key else ""


def _created_resources(group: pd.DataFrame) -> list[str]:
    resources = set(_named_resources(group))
    instance_rows = group.loc[
        group["action_key"].isin(catalog.keyset(catalog.INSTANCE_CREATION))
    ]
    for text in instance_rows["response_elements"]:
        resources.update(instance_ids_from_response(parse_json_objects([text])[0]))
    return sorted(resources)


def instance_ids_from_response(response: dict[str, Any]) -> list[str]:
    """Return instance ids from a RunInstances or CreateInstance response."""
    ids = _nested(response, "InstanceIdSets", "InstanceIdSet")
    found = [str(item) for item in ids] if isinstance(ids, list) else []
    single = _nested(response, "InstanceId")
    if single:
        found.append(str(single))
    return found


def _named_resources(group: pd.DataFrame) -> list[str]:
    names: set[str] = set()
    for text in group["resource_name"]:
        names.update(part for part in text.split(";") if part)
    return sorted(names)


def _opens_to_internet(texts: pd.Series) -> pd.Series:
    """Mark AuthorizeSecurityGroup calls that allow 0.0.0.0/0 or ::/0.

    The CIDR may sit in SourceCidrIp, Ipv6SourceCidrIp or a nested permission list
    (``Permissions.1.SourceCidrIp``), so any parameter whose name mentions a CIDR
    counts.
    """
    opened = []
    for params in parse_json_objects(texts.tolist()):
        opened.append(
            any(
                "cidr" in key.lower() and str(value) in ("0.0.0.0/0", "::/0")
                for key, value in params.items()
            )
        )
    return pd.Series(opened, index=texts.index, dtype=bool)


def _logging_reduction(action: str, params: dict[str, Any]) -> str:
    """Say how an UpdateTrail or DeleteLogStore call reduces logging, or return ""."""
    lowered = {str(key).lower(): value for key, value in params.items()}
    if action == "DeleteLogStore":
        name = str(lowered.get("logstorename") or lowered.get("logstore") or "")
        return (
            f"deletes trail logstore {name}" if name.startswith("actiontrail_") else ""
        )
    reasons = []
    if str(lowered.get("startlogging", "")).lower() == "false":
        reasons.append("sets StartLogging to false")
    read_only = str(lowered.get("eventrw", "")) == "Read"
    management_off = False
    # Event selectors, as in requests converted from CloudTrail PutEventSelectors.
    for key, value in lowered.items():
        if key.endswith("includemanagementevents") and str(value).lower() == "false":
            management_off = True
        if key.endswith("readwritetype") and str(value) in ("ReadOnly", "Read"):
            read_only = True
    if read_only:
        reasons.append("records only read events, so writes go unlogged")
    if management_off:
        reasons.append("stops recording management events")
    for target in ("slsprojectarn", "ossbucketname"):
        if target in lowered and lowered[target] in ("", None):
            reasons.append(f"clears {target}")
    return "; ".join(reasons)


def _grant(action: str, params: dict[str, Any], event_id: str) -> dict[str, Any]:
    principal_type = {
        "AttachPolicyToUser": "user",
        "AttachPolicyToGroup": "group",
        "AttachPolicyToRole": "role",
        "AddUserToGroup": "user",
    }.get(action, str(params.get("PrincipalType", "")).lower() or "policy")
    principal = str(
        params.get("UserName")
        or params.get("GroupName")
        or params.get("RoleName")
        or params.get("PrincipalName")
        or ""
    )
    return {
        "action": action,
        "policy_name": str(params.get("PolicyName", "")),
        "policy_type": str(params.get("PolicyType", "")),
        "group_name": str(params.get("GroupName", ""))
        if action == "AddUserToGroup"
        else "",
        "principal_type": principal_type,
        "principal": principal,
        "event_id": event_id,
    }


def _secret_names(action: str, params: dict[str, Any]) -> list[str]:
    """Return the secrets a read names; ``Names.1``, ``Names.2``... give several."""
    names = [
        str(value)
        for key, value in params.items()
        if value and re.fullmatch(r"(SecretName|SecretId|Names?|Path)(\.\d+)?", key)
    ]
    if not names and params.get("InstanceId"):
        names = [str(params["InstanceId"])]
    return names or [f"({action} without a name)"]


def _max_distinct_in_window(
    times: list[pd.Timestamp], names: list[str], length: pd.Timedelta
) -> int:
    """Return the most distinct names seen within any ``length`` of time."""
    order = sorted(range(len(times)), key=lambda index: times[index])
    best = 0
    start = 0
    active: dict[str, int] = {}
    for index in order:
        active[names[index]] = active.get(names[index], 0) + 1
        while times[index] - times[order[start]] >= length:
            name = names[order[start]]
            active[name] -= 1
            if not active[name]:
                del active[name]
            start += 1
        best = max(best, len(active))
    return best


def _share_target(action_key: str, params: dict[str, Any], account_id: str) -> str:
    """Describe whom a sharing call grants access to; "" when it adds no outsider."""
    if action_key in (
        "ecs:ModifyImageSharePermission",
        "ecs:ModifyImageShareGroupPermission",
        "ecs:ModifySnapshotAttribute",
    ):
        resource = params.get("ImageId") or params.get("SnapshotId") or "resource"
        granted = _granted_principals(params, account_id)
        if "all" in granted:
            return f"{resource} made public"
        if granted:
            return f"{resource} shared with account(s) {', '.join(granted)}"
        return ""
    if action_key == "oss:PutBucketAcl":
        acl = str(
            params.get("x-oss-acl") or params.get("acl") or params.get("Acl") or ""
        )
        bucket = params.get("BucketName") or params.get("bucket") or "bucket"
        return f"{bucket} ACL set to {acl}" if acl.startswith("public") else ""
    if action_key == "oss:PutBucketPolicy":
        bucket = params.get("BucketName") or params.get("bucket") or "bucket"
        outsiders = _outside_accounts(params, account_id)
        if outsiders:
            return f"bucket {bucket} policy grants account(s) {', '.join(outsiders)}"
        public = any(
            "principal" in str(key).lower() and str(value).strip() == "*"
            for key, value in params.items()
        )
        return f"bucket {bucket} policy grants anyone" if public else ""
    if action_key.startswith("resourcesharing:"):
        targets = [str(v) for k, v in params.items() if k.startswith("Targets") and v]
        return f"resource share with {', '.join(targets)}" if targets else ""
    if action_key == "ram:UpdateRole":
        document = str(params.get("NewAssumeRolePolicyDocument") or "")
        if not document:
            return ""
        outsiders = _outside_accounts({"document": document}, account_id)
        role = params.get("RoleName", "role")
        if outsiders:
            return f"role {role} trusts account(s) {', '.join(outsiders)}"
        if re.search(r'"RAM"\s*:\s*\[?\s*"\*"', document):
            return f"role {role} trusts any account"
    return ""


# Parameters that add a principal to a share: ECS's AddAccount.N and AddGroup.N, and
# the ``<Permission>.Add.Items.N.<field>`` lists of requests converted from CloudTrail.
_ADDED_PRINCIPAL = re.compile(r"^(AddAccount|AddGroup)(\.\d+)?$|\.Add\.")


def _outside_accounts(params: dict[str, Any], account_id: str) -> list[str]:
    """Return account ids other than ``account_id`` named in ``acs:ram::`` ARNs."""
    text = " ".join(str(value) for value in params.values())
    return sorted({acct for acct in _ACCOUNT_ID.findall(text) if acct != account_id})


def _granted_principals(params: dict[str, Any], account_id: str) -> list[str]:
    """Return the accounts (or "all") that a sharing call adds, except the owner."""
    granted = []
    for key, value in params.items():
        text = str(value or "")
        if not text or text == account_id or not _ADDED_PRINCIPAL.search(key):
            continue
        if text.lower() == "all" or text.isdigit():
            granted.append(text.lower())
    return sorted(set(granted))


def _successful_login_finding(
    context: DetectionContext, user: str, rows: pd.DataFrame
) -> Finding:
    baseline = context.baseline
    known_ips = set(
        baseline.loc[
            (baseline["identity_name"] == user)
            & (baseline["event_type"] == "ConsoleSignin"),
            "source_ip",
        ]
    )
    new_ips = sorted(set(rows["source_ip"]) - known_ips)
    without_mfa = []
    for event_id, data in zip(
        rows["event_id"],
        parse_json_objects(rows["additional_event_data"].tolist()),
        strict=True,
    ):
        checked = data.get("mfaChecked", data.get("isMFAChecked"))
        if str(checked).lower() == "false":
            without_mfa.append(event_id)
    severity = "high" if new_ips or without_mfa else "medium"
    return context.finding(
        "console_login",
        severity,
        f"User {user} signed in to the console {len(rows)} time(s) from "
        f"{_short_list(sorted(rows['source_ip'].unique()))}"
        + (f"; {len(without_mfa)} without MFA." if without_mfa else "."),
        rows,
        {
            "baseline": {"console_ips": sorted(known_ips)[:_BASELINE_SAMPLE]},
            "threshold": "one sign-in; high when the IP is new or MFA was not checked",
            "values": {"new_ips": new_ips, "without_mfa": without_mfa},
            "rule": (
                "Alibaba Cloud landing-zone alerts cis_at_unauth_login and "
                "cis_at_ram_mfa_login"
            ),
        },
    )


def _trailing_counts(
    groups: np.ndarray, times: pd.Series, length: pd.Timedelta
) -> np.ndarray:
    """Count, for each row, the rows of its group in the ``length`` before it.

    Rows must be sorted by time within each group. Groups are laid side by side on
    one millisecond axis, separated by more than the window, so one searchsorted call
    serves them all.
    """
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    millis = times.astype("int64").to_numpy() // 1_000_000
    window = int(length / pd.Timedelta(milliseconds=1))
    spread = int(millis.max() - millis.min()) + window + 1
    order = np.lexsort((millis, groups))
    axis = (millis[order] - millis.min()) + groups[order].astype(np.int64) * spread
    starts = np.searchsorted(axis, axis - window, side="right")
    counts_sorted = np.arange(len(axis)) - starts + 1
    counts = np.empty_like(counts_sorted)
    counts[order] = counts_sorted
    return counts
