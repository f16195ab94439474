"""The incident report: a JSON document for machines and a markdown page for people.

``Report`` is the contract that ``docs/report-schema.md`` documents and
``docs/report.schema.json`` states as JSON Schema. ``schema_version`` follows
semantic versioning: a new optional field raises the minor number, a removed or
redefined field raises the major number, and readers ignore fields they do not
know.

A report never contains a secret: the models have no field meant for one, and
``write_report`` and ``render_markdown`` pass everything through
``akresponder.redact`` before it leaves the process.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from akresponder import redact

SCHEMA_VERSION = "1.0"


class ActionStatus(StrEnum):
    """The status of one action of the response."""

    DONE = "done"
    PLANNED = "planned"
    SKIPPED = "skipped"
    FAILED = "failed"
    AWAITING_APPROVAL = "awaiting-approval"


Severity = Literal["info", "low", "medium", "high", "critical"]


class _Model(BaseModel):
    # The schema is generated in serialization mode with defaults required,
    # because the writer always emits every field: readers may rely on them.
    model_config = ConfigDict(
        extra="ignore",
        use_enum_values=True,
        json_schema_serialization_defaults_required=True,
    )


class UndoStep(_Model):
    """The call that reverts an action, or why none can."""

    reversible: bool = Field(
        description="True when undo_response can make the call without a person."
    )
    api: str | None = Field(
        default=None, description="The reverting API as product:Action."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="The reverting call's request parameters."
    )
    note: str = Field(default="", description="Why the action is not reversible.")


class Action(_Model):
    """One step of the response, in the order it ran."""

    id: str = Field(description="Stable step id, the same in every run of an incident.")
    step: str = Field(description="What the step does, in plain words.")
    api: str | None = Field(
        default=None, description="The API that makes the change, as product:Action."
    )
    target: str = Field(description="The resource the step acts on.")
    status: ActionStatus
    at: datetime | None = Field(
        default=None, description="When the step reached its status (UTC)."
    )
    undo: UndoStep | None = None
    before: dict[str, Any] | None = Field(
        default=None, description="The state of the target before the change."
    )
    detail: str = ""
    params: dict[str, Any] = Field(
        default_factory=dict, description="The request parameters of the change."
    )


class Owner(_Model):
    """The identity that owns the compromised key."""

    type: Literal["ram-user", "root-account", "unknown"]
    user_name: str | None = None
    user_id: str | None = None
    account_id: str | None = None
    found_by: list[str] = Field(
        default_factory=list, description="The lookups that identified the owner."
    )


class KeyState(_Model):
    """Status, age and use of the compromised key at triage time."""

    status: str | None = Field(default=None, description="Active, Inactive or null.")
    create_date: datetime | None = None
    age_days: float | None = None
    in_use: bool | None = Field(
        default=None, description="Used in the look-back window; null if unknown."
    )
    last_used: datetime | None = None
    source_ips: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)
    free_key_slot: bool | None = None
    other_keys: list[str] = Field(default_factory=list)


class Permission(_Model):
    """A policy attached to the owner directly or through a group."""

    policy_name: str
    policy_type: str
    attached_to: str = Field(description="user:<name> or group:<name>.")
    proposed_for_removal: bool = False
    reason: str = ""


class DecisionRecord(_Model):
    path: Literal["delete", "rotate", "contain", "manual", "audit-only"]
    reasons: list[str]
    forced: bool = False


class Finding(_Model):
    """Something the investigation found that a person should look at."""

    kind: str
    severity: Severity
    summary: str
    event_ids: list[str] = Field(default_factory=list)


class RelatedCredential(_Model):
    """Another credential tied to the incident, for example a key the attacker made."""

    access_key_id: str
    user_name: str | None = None
    relation: str
    status: str | None = None
    detail: str = ""


class CoverageEntry(_Model):
    """The completeness of one evidence source."""

    source: str
    status: Literal["complete", "partial", "failed", "skipped"]
    detail: str = ""
    items: int | None = None


class Coverage(_Model):
    window_start: datetime | None = None
    window_end: datetime | None = None
    sources: list[CoverageEntry] = Field(default_factory=list)


class AuditSummary(_Model):
    """Counts of the key's LookupEvents records over the look-back window."""

    events: int = 0
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    by_event_name: dict[str, int] = Field(default_factory=dict)
    by_region: dict[str, int] = Field(default_factory=dict)
    by_source_ip: dict[str, int] = Field(default_factory=dict)
    write_events: int = 0
    write_event_names: dict[str, int] = Field(default_factory=dict)
    error_events: int = 0
    by_error_code: dict[str, int] = Field(default_factory=dict)


class BillingSummary(_Model):
    """Spend in the billing cycles that the incident window touches (BSS)."""

    billing_cycles: list[str] = Field(default_factory=list)
    currency: str | None = None
    total: float = 0.0
    by_region: dict[str, float] = Field(default_factory=dict)
    by_product: dict[str, float] = Field(default_factory=dict)


class Timings(_Model):
    started_at: datetime
    finished_at: datetime | None = None
    to_containment_seconds: float | None = Field(
        default=None,
        description="From flow start until the key was stopped; null if it was not.",
    )
    total_seconds: float | None = None


class Responder(_Model):
    """The identity the responder signed its calls with (STS GetCallerIdentity)."""

    access_key_id: str | None = None
    identity_type: str | None = None
    arn: str | None = None
    account_id: str | None = None
    principal_id: str | None = None


class Report(_Model):
    """A complete incident report, as written to the JSON file."""

    schema_version: str = Field(default=SCHEMA_VERSION, pattern=r"^1\.[0-9]+$")
    incident_id: str
    access_key_id: str
    dry_run: bool = False
    mode: Literal["auto", "delete", "rotate", "contain", "audit-only"] = "auto"
    owner: Owner
    key: KeyState = Field(default_factory=KeyState)
    permissions: list[Permission] = Field(default_factory=list)
    decision: DecisionRecord
    actions: list[Action] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    related_credentials: list[RelatedCredential] = Field(default_factory=list)
    audit: AuditSummary | None = None
    billing: BillingSummary | None = None
    coverage: Coverage = Field(default_factory=Coverage)
    timings: Timings
    responder: Responder = Field(default_factory=Responder)
    next_steps: list[str] = Field(default_factory=list)
    complete: bool = Field(
        default=False,
        description="True when every action of the chosen path is done (or planned "
        "in a dry run) and no person needs to act.",
    )


class UndoReport(_Model):
    """The result of undo_response: which changes were reverted."""

    schema_version: str = SCHEMA_VERSION
    incident_id: str
    access_key_id: str
    dry_run: bool = False
    source_report: str | None = None
    actions: list[Action] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    complete: bool = Field(
        default=False,
        description="True when every reversible change was reverted (or planned "
        "in a dry run).",
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def _scrub(text: str) -> str:
    return redact.scrub_text(text)


def report_dict(report: Report | UndoReport) -> dict[str, Any]:
    """Return the report as JSON-ready data with every secret masked."""
    return redact.scrub(report.model_dump(mode="json"))


def report_json(report: Report | UndoReport) -> str:
    """Serialise a report to scrubbed, indented JSON."""
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False)


def write_report(report: Report | UndoReport, path: str | os.PathLike[str]) -> Path:
    """Write the report as JSON to ``path`` atomically and return the resolved path.

    The file is written beside its destination and renamed, so a reader never sees
    half a report; parent folders are created.
    """
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    text = report_json(report)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def load_report(source: str | os.PathLike[str] | dict[str, Any]) -> Report:
    """Read a report from a JSON file path or a dict, checking its schema version."""
    if isinstance(source, dict):
        data = source
        origin = "the report dict"
    else:
        path = Path(source).expanduser()
        origin = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(
                f"report file {origin} not found; give the path that respond wrote"
            ) from None
        except json.JSONDecodeError as error:
            raise ValueError(
                f"report file {origin} is not valid JSON ({error.msg} at line "
                f"{error.lineno}); give a report written by akresponder respond"
            ) from None
    version = str(data.get("schema_version", ""))
    major = version.split(".", 1)[0]
    if major != SCHEMA_VERSION.split(".", 1)[0]:
        raise ValueError(
            f"{origin} has schema_version {version!r}, but this akresponder reads "
            f"{SCHEMA_VERSION.split('.', 1)[0]}.x; use the matching akresponder version"
        )
    return Report.model_validate(data)


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of ``Report`` as committed in docs/report.schema.json."""
    schema = Report.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "akresponder incident report"
    return schema


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list[object]]) -> list[str]:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(value) for value in row) + " |")
    return lines


def _undo_text(undo: UndoStep | None) -> str:
    if undo is None:
        return ""
    if undo.reversible and undo.api:
        return undo.api
    return f"manual: {undo.note}" if undo.note else "not reversible"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def render_markdown(report: Report) -> str:
    """Render the report as the markdown artifact people read in the Prefect UI."""
    owner = report.owner
    owner_text = owner.type + (f" `{owner.user_name}`" if owner.user_name else "")
    title = f"# Compromised AccessKey `{report.access_key_id}`"
    lines = [
        title,
        "",
        f"- Incident: `{report.incident_id}`",
        f"- Owner: {owner_text}",
        f"- Path: **{report.decision.path}**"
        + (" (forced by mode)" if report.decision.forced else ""),
        f"- Dry run: {'yes, nothing was changed' if report.dry_run else 'no'}",
        f"- Complete: {'yes' if report.complete else 'no, see next steps'}",
        f"- Responder: `{report.responder.arn or report.responder.access_key_id}`",
        "",
        "## Decision",
        "",
    ]
    lines += [f"- {reason}" for reason in report.decision.reasons]

    lines += ["", "## Actions", ""]
    if report.actions:
        rows = [
            [action.step, action.api, action.target, action.status,
             action.at.isoformat() if action.at else "", _undo_text(action.undo),
             action.detail]
            for action in report.actions
        ]  # fmt: skip
        lines += _table(
            ["step", "api", "target", "status", "at", "undo", "detail"], rows
        )
    else:
        lines.append("No action was taken.")

    lines += ["", "## Findings", ""]
    if report.findings:
        rows = [
            [finding.severity, finding.kind, finding.summary,
             ", ".join(finding.event_ids[:5])
             + (" ..." if len(finding.event_ids) > 5 else "")]
            for finding in report.findings
        ]  # fmt: skip
        lines += _table(["severity", "kind", "summary", "events"], rows)
    else:
        lines.append("No finding.")

    proposed = [item for item in report.permissions if item.proposed_for_removal]
    if report.permissions:
        lines += ["", "## Permissions of the key", ""]
        rows = [
            [item.policy_name, item.policy_type, item.attached_to,
             "yes" if item.proposed_for_removal else "", item.reason]
            for item in report.permissions
        ]  # fmt: skip
        lines += _table(
            ["policy", "type", "attached to", "propose removal", "why"], rows
        )
        if proposed:
            lines += [
                "",
                "Detaching a policy is destructive and needs approval: review the "
                "proposed removals before approving them.",
            ]

    if report.related_credentials:
        lines += ["", "## Related credentials", ""]
        rows = [
            [item.access_key_id, item.user_name, item.relation, item.status,
             item.detail]
            for item in report.related_credentials
        ]  # fmt: skip
        lines += _table(["access key", "user", "relation", "status", "detail"], rows)

    lines += ["", "## Coverage", ""]
    window = report.coverage
    if window.window_start and window.window_end:
        lines.append(
            f"Window: {window.window_start.isoformat()} to "
            f"{window.window_end.isoformat()}"
        )
        lines.append("")
    if window.sources:
        rows = [
            [entry.source, entry.status, entry.items, entry.detail]
            for entry in window.sources
        ]
        lines += _table(["source", "status", "items", "detail"], rows)
    else:
        lines.append("No evidence source was read.")

    timings = report.timings
    lines += [
        "",
        "## Timings",
        "",
        f"- To containment: {_seconds(timings.to_containment_seconds)}",
        f"- Total: {_seconds(timings.total_seconds)}",
    ]

    lines += ["", "## Next steps", ""]
    if report.next_steps:
        lines += [f"{number}. {step}" for number, step in
                  enumerate(report.next_steps, start=1)]  # fmt: skip
    else:
        lines.append("None.")
    return _scrub("\n".join(lines) + "\n")


if __name__ == "__main__":
    # Regenerates docs/report.schema.json: python -m akresponder.report > FILE
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
