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

import base64
import json
import os
import tempfile
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from akresponder import redact

SCHEMA_VERSION = "1.1"


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
    evidence: dict[str, Any] = Field(
        default_factory=dict,
        description="Since 1.1: the baseline, threshold, values and public rule "
        "behind the finding, and event_count (the full count when event_ids is "
        "capped).",
    )
    first_seen: datetime | None = Field(
        default=None, description="Since 1.1: time of the first event behind it."
    )
    last_seen: datetime | None = Field(
        default=None, description="Since 1.1: time of the last event behind it."
    )
    access_key_id: str | None = Field(
        default=None,
        description="Since 1.1: the AccessKey all its events used, when only one.",
    )


class ChildResponse(_Model):
    """The response run started for a related credential (since 1.1)."""

    status: Literal["done", "planned", "skipped", "failed"] = Field(
        description="done: the child run finished; planned: dry run; skipped: not "
        "approved or not started; failed: the child run raised."
    )
    mode: str = Field(description="The mode the child run was given.")
    incident_id: str | None = None
    flow_run_id: str | None = None
    path: str | None = Field(
        default=None, description="The path the child run's decision chose."
    )
    complete: bool | None = None
    report_path: str | None = None
    detail: str = ""


class RelatedCredential(_Model):
    """Another credential tied to the incident, for example a key the attacker made."""

    access_key_id: str
    user_name: str | None = None
    relation: str
    status: str | None = None
    detail: str = ""
    recommended_response: str | None = Field(
        default=None,
        description="Since 1.1: the lineage graph's response code for this key, "
        "such as disable_and_delete_key or rotate_key.",
    )
    response: ChildResponse | None = Field(
        default=None,
        description="Since 1.1: the child response started for this key, if any.",
    )


class CoverageEntry(_Model):
    """The completeness of one evidence source."""

    source: str
    status: Literal["complete", "partial", "failed", "skipped"]
    detail: str = ""
    items: int | None = None
    target: str = Field(
        default="",
        description="Since 1.1: what was searched, such as EventAccessKeyId=LTAI...",
    )
    start: datetime | None = Field(
        default=None, description="Since 1.1: start of the time range searched."
    )
    end: datetime | None = Field(
        default=None, description="Since 1.1: end of the time range searched."
    )


class CoverageGap(_Model):
    """A time range that a source could not show (since 1.1)."""

    source: str
    start: datetime | None = None
    end: datetime | None = None
    reason: str


class Coverage(_Model):
    window_start: datetime | None = None
    window_end: datetime | None = None
    sources: list[CoverageEntry] = Field(default_factory=list)
    gaps: list[CoverageGap] = Field(
        default_factory=list,
        description="Since 1.1: ranges no source could show: retention passed, "
        "logging stopped, a failed query.",
    )
    not_visible: list[str] = Field(
        default_factory=list,
        description="Since 1.1: activity that none of the sources records at all.",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="Since 1.1: limits of the analysis, such as a missing baseline.",
    )


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


class LineageNodeRecord(_Model):
    """One credential, identity or grant in the credential lineage graph."""

    id: str = Field(description="Stable node id such as key:LTAI... or user:name.")
    type: str = Field(
        description="access_key, sts_token, user, account_root, login_profile, "
        "policy_attachment, policy, group_membership, role or source_ip."
    )
    label: str
    depth: int = Field(description="Generations from the compromised key (0).")
    response: str = Field(description="Recommended response code.")
    reason: str
    how: str = Field(description="The recommended response in words.")
    first_seen: datetime | None = None
    event_ids: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)


class LineageEdgeRecord(_Model):
    """``source`` did ``relation`` to ``target`` in event ``event_id``."""

    source: str
    target: str
    relation: str
    event_id: str = ""
    time: datetime | None = None


class LineageRecord(_Model):
    """The credential lineage graph as data (since 1.1)."""

    seeds: list[str] = Field(default_factory=list)
    nodes: list[LineageNodeRecord] = Field(default_factory=list)
    edges: list[LineageEdgeRecord] = Field(default_factory=list)
    attacker_ips: list[str] = Field(default_factory=list)
    truncated: bool = Field(
        default=False,
        description="True when the walk stopped at its depth or node limit.",
    )
    errors: list[dict[str, str]] = Field(
        default_factory=list, description="Event fetches that failed during the walk."
    )


class EvidenceRecord(_Model):
    """The location and manifest of the incident's evidence bundle (since 1.1)."""

    folder: str
    manifest: str = Field(description="Path of manifest.json (SHA-256 per file).")
    manifest_sha256: str
    files: list[str] = Field(default_factory=list)


class BillingAnalysis(_Model):
    """Spend before and during the incident, and the attacker's share (since 1.1)."""

    baseline_start: datetime | None = None
    incident_start: datetime | None = None
    baseline_total: dict[str, float] = Field(
        default_factory=dict, description="Spend in the baseline days, by currency."
    )
    incident_total: dict[str, float] = Field(
        default_factory=dict, description="Spend since the incident start, by currency."
    )
    new_products: list[str] = Field(default_factory=list)
    new_regions: list[str] = Field(default_factory=list)
    spike_days: list[str] = Field(default_factory=list)
    attributable_total: dict[str, float] = Field(
        default_factory=dict,
        description="Cost of the instances the compromised credentials created.",
    )
    attributed: list[dict[str, Any]] = Field(default_factory=list)
    still_present: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Attacker-created instances that DescribeInstances still lists.",
    )
    regions_checked: list[str] = Field(default_factory=list)


class InvestigationRecord(_Model):
    """The investigation's incident window, suspects, lineage and outputs (1.1)."""

    incident_start: datetime | None = Field(
        default=None,
        description="Start of the incident window; events before it are the baseline.",
    )
    incident_start_source: Literal["request", "estimated", "look-back"] = Field(
        default="look-back",
        description="request: given by the caller; estimated: the first call that "
        "broke with the key's earlier use; look-back: the start of the look-back "
        "window.",
    )
    incident_start_reason: str = ""
    suspect_access_key_ids: list[str] = Field(default_factory=list)
    suspect_user_names: list[str] = Field(default_factory=list)
    events_analysed: int = 0
    events_by_source: dict[str, int] = Field(
        default_factory=dict,
        description="Events read by route (actiontrail, sls) and found by both.",
    )
    lineage: LineageRecord | None = None
    billing: BillingAnalysis | None = None
    pictures: dict[str, str] = Field(
        default_factory=dict,
        description="PNG files written beside the JSON report, by name (timeline, "
        "lineage, spend).",
    )
    evidence: EvidenceRecord | None = None


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
    investigation: InvestigationRecord | None = Field(
        default=None,
        description="Since 1.1: the analysis behind the findings; null when the "
        "investigation did not run.",
    )
    coverage: Coverage = Field(default_factory=Coverage)
    timings: Timings
    responder: Responder = Field(default_factory=Responder)
    next_steps: list[str] = Field(default_factory=list)
    complete: bool = Field(
        default=False,
        description="True when every action of the chosen path is done (or planned "
        "in a dry run) and no person needs to act.",
    )

    @model_validator(mode="after")
    def _mark_deleted_keys_irreversible(self) -> Report:
        """Mark a key's re-enable as not reversible once the response deleted it.

        The delete and rotate paths disable a key and then delete it. The disable
        step records UpdateAccessKey(Active) as its undo, but RAM cannot enable a
        deleted key, so that undo would fail. The check also runs on reports
        written before it existed, when undo reads them.
        """
        deleted = {
            str(action.params.get("UserAccessKeyId")): action.id
            for action in self.actions
            if action.status == ActionStatus.DONE
            and action.api == "ram:DeleteAccessKey"
            and action.params.get("UserAccessKeyId")
        }
        for index, action in enumerate(self.actions):
            undo = action.undo
            if (
                undo is None
                or not undo.reversible
                or undo.api != "ram:UpdateAccessKey"
                or str(undo.params.get("UserAccessKeyId")) not in deleted
            ):
                continue
            key = undo.params["UserAccessKeyId"]
            # The api and params stay, so the report still shows the call that
            # would have reverted the step.
            note = (
                f"Step {deleted[key]} deleted AccessKey {key}, and a deleted "
                "AccessKey cannot be enabled again; create a new key if one is "
                "needed."
            )
            self.actions[index] = action.model_copy(
                update={
                    "undo": undo.model_copy(update={"reversible": False, "note": note})
                }
            )
        return self


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


class ReportError(ValueError):
    """A file or dict that is not a readable akresponder report.

    The message names the file, the problem and the fix.
    """


_FIX = "give a report written by akresponder respond"


def load_report(source: str | os.PathLike[str] | dict[str, Any]) -> Report:
    """Read a report from a JSON file path or a dict, checking its schema version.

    Raises ``ReportError`` naming the file, the first problems and the fix when
    the file cannot be read or is not a report of this schema's major version.
    """
    if isinstance(source, dict):
        data: Any = source
        origin = "the report dict"
    else:
        path = Path(source).expanduser()
        origin = f"report {path}"
        data = _read_json(path)
    if not isinstance(data, dict):
        raise ReportError(
            f"{origin} is not an akresponder report: it contains a JSON "
            f"{type(data).__name__}, not an object; {_FIX}"
        )
    if "source_report" in data and "decision" not in data:
        source_report = data.get("source_report") or "the response report"
        raise ReportError(
            f"{origin} is an undo report, not a response report; give the report "
            f"it was made from: {source_report}"
        )
    version = data.get("schema_version")
    major = SCHEMA_VERSION.split(".", 1)[0]
    if version is not None and str(version).split(".", 1)[0] != major:
        raise ReportError(
            f"{origin} has schema_version {str(version)!r}, but this akresponder "
            f"reads {major}.x; use the matching akresponder version"
        )
    try:
        return Report.model_validate(data)
    except ValidationError as error:
        raise ReportError(
            f"{origin} is not an akresponder report: {_problems(error)}; {_FIX}"
        ) from None


def _read_json(path: Path) -> Any:
    """Parse the JSON file at ``path``, raising ``ReportError`` on any failure."""
    if path.is_dir():
        raise ReportError(
            f"report {path} is a folder, not a file; give the report's JSON file, "
            f"such as {path / '<ACCESS_KEY_ID>.report.json'}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(
            f"report file {path} not found; give the path that respond wrote"
        ) from None
    except UnicodeDecodeError:
        raise ReportError(
            f"report {path} is not a text file (not UTF-8); {_FIX}"
        ) from None
    except OSError as error:
        raise ReportError(
            f"failed to read report {path}: {error.strerror or error}; check the "
            "path and its permissions"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(
            f"report file {path} is not valid JSON ({error.msg} at line "
            f"{error.lineno}); {_FIX}"
        ) from None


def _problems(error: ValidationError, limit: int = 4) -> str:
    """Summarise a validation error as 'missing a, b and 2 more; invalid c (why)'."""
    missing: list[str] = []
    invalid: list[str] = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "the document"
        if item["type"] == "missing":
            missing.append(field)
        else:
            reason = item["msg"][:1].lower() + item["msg"][1:]
            invalid.append(f"{field} ({reason})")
    parts = []
    for label, names in (("missing", missing), ("invalid", invalid)):
        if not names:
            continue
        text = f"{label} {', '.join(names[:limit])}"
        if len(names) > limit:
            text += f" and {len(names) - limit} more"
        parts.append(text)
    return "; ".join(parts)


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


def _child_text(response: ChildResponse | None) -> str:
    if response is None:
        return ""
    text = f"{response.status} (mode {response.mode})"
    if response.path:
        text += f", path {response.path}"
    return text


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def write_pictures(
    pictures: dict[str, bytes], report_path: str | os.PathLike[str]
) -> dict[str, str]:
    """Write each PNG beside the report as ``<report name>.<picture>.png``.

    Returns the written paths by picture name, for ``InvestigationRecord.pictures``.
    """
    target = Path(report_path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    stem = target.name.removesuffix(".json")
    written = {}
    for name, data in pictures.items():
        path = target.with_name(f"{stem}.{name}.png")
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        written[name] = str(path)
    return written


def findings_table(report: Report) -> list[dict[str, Any]]:
    """Return the findings as rows for a Prefect table artifact."""
    return [
        {
            "severity": finding.severity,
            "kind": finding.kind,
            "summary": _scrub(finding.summary),
            "first_seen": finding.first_seen.isoformat() if finding.first_seen else "",
            "events": int(finding.evidence.get("event_count", len(finding.event_ids))),
            "access_key_id": finding.access_key_id or "",
        }
        for finding in report.findings
    ]


def _picture(
    name: str, report: Report, images: dict[str, bytes] | None, alt: str
) -> list[str]:
    """Embed a picture as a data URI, or link the file written beside the report."""
    if images and name in images:
        data = base64.b64encode(images[name]).decode("ascii")
        return [f"![{alt}](data:image/png;base64,{data})", ""]
    investigation = report.investigation
    if investigation is not None and name in investigation.pictures:
        return [f"![{alt}]({investigation.pictures[name]})", ""]
    return []


def _investigation_lines(report: Report, images: dict[str, bytes] | None) -> list[str]:
    investigation = report.investigation
    if investigation is None:
        return []
    lines = ["", "## Investigation", ""]
    if investigation.incident_start:
        lines.append(
            f"- Incident window from {investigation.incident_start.isoformat()} "
            f"({investigation.incident_start_source}): "
            f"{investigation.incident_start_reason}"
        )
    counts = investigation.events_by_source
    lines.append(
        f"- Events analysed: {investigation.events_analysed} (LookupEvents "
        f"{counts.get('actiontrail', 0)}, SLS {counts.get('sls', 0)}, both "
        f"{counts.get('both', 0)})"
    )
    if investigation.suspect_access_key_ids:
        keys = ", ".join(f"`{key}`" for key in investigation.suspect_access_key_ids)
        lines.append(f"- Suspect keys: {keys}")
    if investigation.suspect_user_names:
        users = ", ".join(f"`{user}`" for user in investigation.suspect_user_names)
        lines.append(f"- Suspect users: {users}")
    if investigation.evidence is not None:
        lines.append(
            f"- Evidence: `{investigation.evidence.folder}` (manifest SHA-256 "
            f"`{investigation.evidence.manifest_sha256}`)"
        )
    lines.append("")
    lines += _picture("timeline", report, images, "Events per hour")

    lineage = investigation.lineage
    if lineage is not None and lineage.nodes:
        lines += ["## Credential lineage", ""]
        if lineage.attacker_ips:
            lines += [f"Attacker IPs: {', '.join(lineage.attacker_ips)}", ""]
        lines += _picture("lineage", report, images, "Credential lineage")
        rows = [
            [node.type, node.label, node.depth, node.response, node.reason]
            for node in sorted(lineage.nodes, key=lambda node: (node.depth, node.id))
        ]
        lines += _table(["type", "node", "depth", "response", "why"], rows)
        if lineage.truncated:
            lines += [
                "",
                "The walk stopped at its depth or node limit; deeper credentials are "
                "listed but were not followed.",
            ]

    billing = investigation.billing
    if billing is not None:
        lines += ["", "## Spend", ""]
        lines.append(
            f"- Baseline: {billing.baseline_total or 'none'}; since the incident "
            f"start: {billing.incident_total or 'none'}"
        )
        if billing.attributable_total:
            lines.append(
                f"- Attributable to the attacker's instances: "
                f"{billing.attributable_total}"
            )
        if billing.still_present:
            present = ", ".join(
                str(item.get("instance_id")) for item in billing.still_present
            )
            lines.append(f"- Attacker instances still present: {present}")
        if billing.new_products or billing.new_regions:
            lines.append(
                "- New in the incident: "
                + ", ".join(billing.new_products + billing.new_regions)
            )
        lines.append("")
        lines += _picture("spend", report, images, "Daily spend")
    return lines


def render_markdown(report: Report, images: dict[str, bytes] | None = None) -> str:
    """Render the report as the markdown artifact people read in the Prefect UI.

    ``images`` (PNG bytes by name: timeline, lineage, spend) are embedded as data
    URIs; without them the pictures written beside the report are linked.
    """
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

    lines += _investigation_lines(report, images)

    if report.related_credentials:
        lines += ["", "## Related credentials", ""]
        rows = [
            [item.access_key_id, item.user_name, item.relation, item.status,
             item.recommended_response, _child_text(item.response), item.detail]
            for item in report.related_credentials
        ]  # fmt: skip
        lines += _table(
            ["access key", "user", "relation", "status", "recommended", "response",
             "detail"],
            rows,
        )  # fmt: skip

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
    if window.gaps:
        lines += ["", "Gaps:", ""]
        lines += [
            f"- {gap.source}: {gap.start.isoformat() if gap.start else '?'} to "
            f"{gap.end.isoformat() if gap.end else '?'}: {gap.reason}"
            for gap in window.gaps
        ]
    if window.not_visible:
        lines += ["", "Not visible to any source:", ""]
        lines += [f"- {item}" for item in window.not_visible]
    if window.notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {note}" for note in window.notes]

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
