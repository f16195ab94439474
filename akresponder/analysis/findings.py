"""The ``Finding`` model every detector returns.

A finding is explainable on its own: ``event_ids`` names the events behind it and
``evidence`` contains the baseline it was compared with, the threshold it crossed, the
values that crossed it and the public rule the threshold comes from.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, get_args

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

FindingKind = Literal[
    "unusual_region",
    "unknown_source_ip",
    "new_user_agent",
    "high_risk_call",
    "resource_created",
    "resource_deleted",
    "permission_error_burst",
    "enumeration_burst",
    "logging_disabled",
    "user_created",
    "access_key_created",
    "login_profile_changed",
    "policy_attached",
    "role_assumed",
    "console_login",
    "mfa_changed",
    "secrets_read",
    "resource_shared",
    "billing_anomaly",
]
Severity = Literal["info", "low", "medium", "high", "critical"]

FINDING_KINDS: tuple[str, ...] = get_args(FindingKind)
SEVERITIES: tuple[str, ...] = get_args(Severity)
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}


class Finding(BaseModel):
    """One suspicious pattern, with the events and comparison that show it."""

    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    severity: Severity
    summary: str = Field(description="One plain sentence a responder can act on.")
    event_ids: list[str] = Field(default_factory=list)
    evidence: dict[str, Any] = Field(
        default_factory=dict,
        description="Keys: baseline, threshold, values, and rule (the public source).",
    )
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    access_key_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as JSON-ready data (times as ISO 8601 strings)."""
        return self.model_dump(mode="json")


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Order findings most severe first, then by first_seen, then by kind."""

    def key(finding: Finding) -> tuple[int, float, str]:
        seen = finding.first_seen.timestamp() if finding.first_seen else float("inf")
        return (-SEVERITY_RANK[finding.severity], seen, finding.kind)

    return sorted(findings, key=key)


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Return findings as a DataFrame, with ``event_ids`` and ``evidence`` as JSON text.

    The flat shape is what Parquet and the markdown table need. ``event_count`` is the
    full count from the evidence, which can exceed the ids kept in ``event_ids``.
    """
    rows = []
    for finding in findings:
        data = finding.to_dict()
        rows.append(
            {
                "kind": data["kind"],
                "severity": data["severity"],
                "summary": data["summary"],
                "access_key_id": data["access_key_id"] or "",
                "first_seen": finding.first_seen,
                "last_seen": finding.last_seen,
                "event_count": int(
                    finding.evidence.get("event_count", len(finding.event_ids))
                ),
                "event_ids": json.dumps(data["event_ids"]),
                "evidence": json.dumps(data["evidence"], sort_keys=True, default=str),
            }
        )
    columns = [
        "kind",
        "severity",
        "summary",
        "access_key_id",
        "first_seen",
        "last_seen",
        "event_count",
        "event_ids",
        "evidence",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("first_seen", "last_seen"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
