"""Run the whole analysis for one incident: lineage, detectors, billing, pictures.

``investigate`` is the one call a flow needs: it walks the credential lineage from the
compromised keys, runs every detector over the lineage's keys and users, analyses the
bills when given, and returns everything in an ``Investigation``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from akresponder.analysis.billing import BillingReport, analyse_billing
from akresponder.analysis.charts import findings_markdown, spend_png, timeline_png
from akresponder.analysis.detectors import (
    IncidentScope,
    baseline_notes,
    run_detectors,
)
from akresponder.analysis.findings import Finding, findings_frame, sort_findings
from akresponder.analysis.lineage import (
    EventFetcher,
    LineageGraph,
    build_lineage,
    draw_lineage,
)
from akresponder.analysis.settings import AnalysisSettings

# Lineage responses that mark a user as the attacker's (created, or given a console
# password) rather than only linked to the incident.
_ATTACKER_USER_RESPONSES = frozenset(
    {"delete_user", "reset_password_and_enforce_mfa", "delete_login_profile"}
)


@dataclass
class Investigation:
    """Everything the analysis found for one incident."""

    window_start: datetime
    window_end: datetime | None
    events: pd.DataFrame
    lineage: LineageGraph
    findings: list[Finding]
    billing: BillingReport | None
    suspect_access_key_ids: list[str]
    suspect_user_names: list[str]
    # Gaps the report must show: checks without a baseline, failed fetches, skipped
    # records and bills.
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Return the results as JSON-ready data (the events frame is left out)."""
        return {
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "suspect_access_key_ids": self.suspect_access_key_ids,
            "suspect_user_names": self.suspect_user_names,
            "findings": [finding.to_dict() for finding in self.findings],
            "lineage": self.lineage.to_dict(),
            "responses": self.lineage.responses(),
            "billing": self.billing.to_dict() if self.billing else None,
            "normalise_report": self.events.attrs.get("normalise_report", {}),
            "notes": self.notes,
        }

    def findings_table(self) -> str:
        """Return the findings as a markdown table."""
        return findings_markdown(self.findings)

    def findings_frame(self) -> pd.DataFrame:
        """Return the findings as a flat DataFrame (for Parquet evidence)."""
        return findings_frame(self.findings)

    def pictures(self) -> dict[str, bytes]:
        """Draw the timeline, lineage and (with bills) spend pictures as PNG bytes."""
        pictures = {
            "timeline": timeline_png(
                self.events,
                suspect_keys=self.suspect_access_key_ids,
                suspect_users=self.suspect_user_names,
                window_start=self.window_start,
                window_end=self.window_end,
                findings=self.findings,
            ),
            "lineage": draw_lineage(self.lineage),
        }
        if self.billing is not None:
            pictures["spend"] = spend_png(
                self.billing.daily,
                window_start=self.window_start,
                window_end=self.window_end,
            )
        return pictures


def investigate(
    seed_keys: str | Iterable[str],
    events: pd.DataFrame | None = None,
    *,
    window_start: datetime,
    window_end: datetime | None = None,
    fetch_key: EventFetcher | None = None,
    fetch_user: EventFetcher | None = None,
    fetch_ip: EventFetcher | None = None,
    bills: Iterable[Any] | None = None,
    instances: Iterable[Any] | None = None,
    settings: AnalysisSettings | None = None,
) -> Investigation:
    """Analyse an incident that started at ``window_start`` with ``seed_keys`` leaked.

    ``events`` should reach back ``settings.baseline_days`` before the window so that
    regions, IPs and user agents have a baseline. ``fetch_key``, ``fetch_user`` and
    ``fetch_ip`` fetch more events for the credentials and attacker IPs the lineage
    walk discovers (see ``build_lineage``). ``bills`` are BSS items or responses
    and ``instances`` a DescribeInstances-shaped list, both optional.
    """
    settings = settings or AnalysisSettings()
    graph = build_lineage(
        seed_keys,
        events,
        fetch_key=fetch_key,
        fetch_user=fetch_user,
        fetch_ip=fetch_ip,
        window_start=window_start,
        window_end=window_end,
        settings=settings,
    )
    keys = graph.access_key_ids()
    users = sorted(
        node.label
        for node in graph.nodes.values()
        if node.type == "user" and node.response in _ATTACKER_USER_RESPONSES
    )
    scope = IncidentScope(
        window_start=window_start,
        window_end=window_end,
        access_key_ids=tuple(keys),
        user_names=tuple(users),
    )
    findings = run_detectors(graph.events, scope, settings)
    notes = baseline_notes(graph.events, scope, settings)
    for error in graph.errors:
        credential = (
            error.get("access_key_id")
            or error.get("identity_name")
            or error.get("source_ip")
        )
        notes.append(f"could not fetch events for {credential}: {error['error']}")
    unusable = graph.events.attrs.get("normalise_report", {}).get("unusable", 0)
    if unusable:
        notes.append(f"{unusable} event record(s) were unusable and skipped")
    if graph.truncated:
        notes.append(
            "the lineage walk stopped at lineage_max_depth or lineage_max_nodes; "
            "credentials beyond it are listed but not followed"
        )
    billing = None
    if bills is not None:
        billing = analyse_billing(
            bills,
            window_start=window_start,
            window_end=window_end,
            events=graph.events,
            attacker_keys=keys,
            instances=instances,
            settings=settings,
        )
        findings = sort_findings(findings + billing.findings)
        notes.extend(billing.notes)
    return Investigation(
        window_start=window_start,
        window_end=window_end,
        events=graph.events,
        lineage=graph,
        findings=findings,
        billing=billing,
        suspect_access_key_ids=keys,
        suspect_user_names=users,
        notes=notes,
    )
