"""The sweep's results as the JSON document, the table rows and the markdown summary.

docs/sweep-schema.md describes the JSON document field by field. Everything here is
pure: it formats assessments that ``akresponder.sweep`` produced.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from akresponder import redact
from akresponder.sweep import KeyAssessment, Reason, Severity, SweepSettings, iso
from akresponder.sweep import severity as score_severity

SCHEMA = "akresponder.sweep/1"
MARKDOWN_TOP_KEYS = 20


def key_row(assessment: KeyAssessment, settings: SweepSettings) -> dict[str, Any]:
    """Return one entry of the document's ``keys`` list."""
    facts = assessment.facts
    return {
        "access_key_id": facts.access_key_id,
        "user_name": facts.user_name,
        "owner_type": facts.owner_type,
        "status": facts.status,
        "create_date": iso(facts.create_date),
        "last_used": iso(facts.last_used),
        "last_used_known": facts.last_used_known,
        "score": assessment.score,
        "severity": score_severity(assessment.score, settings).value,
        "reasons": [finding.to_dict() for finding in assessment.findings],
        "usage": facts.usage.to_dict() if facts.usage is not None else None,
        "usage_error": facts.usage_error,
        "is_responder": facts.is_responder,
    }


def sort_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order rows by score (highest first), then user and key."""
    return sorted(
        rows,
        key=lambda row: (
            -row["score"],
            row["user_name"] or "",
            row["access_key_id"] or "",
        ),
    )


def totals(
    rows: list[dict[str, Any]], users_listed: int, users_assessed: int, failed: int
) -> dict[str, Any]:
    """Count users, keys, flagged keys, severities and reasons."""
    by_severity = Counter(row["severity"] for row in rows if row["score"] > 0)
    by_reason = Counter(
        reason["code"] for row in rows for reason in row["reasons"] if row["score"] > 0
    )
    keys = [row for row in rows if row["access_key_id"]]
    return {
        "users_listed": users_listed,
        "users_assessed": users_assessed,
        "users_failed": failed,
        "keys": len(keys),
        "active_keys": sum(1 for row in keys if row["status"] == "Active"),
        "rows_flagged": sum(1 for row in rows if row["score"] > 0),
        "by_severity": {
            level.value: by_severity.get(level.value, 0)
            for level in (Severity.HIGH, Severity.MEDIUM, Severity.LOW)
        },
        "by_reason": {
            reason.value: by_reason.get(reason.value, 0)
            for reason in Reason
            if by_reason.get(reason.value)
        },
    }


def table_rows(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Return the flagged rows as flat dicts for the Prefect table artifact."""
    flagged = [row for row in rows if row["score"] > 0][:limit]
    return [
        {
            "score": row["score"],
            "severity": row["severity"],
            "access_key_id": row["access_key_id"] or "(no key)",
            "user": row["user_name"] or "(root)",
            "status": row["status"],
            "last_used": row["last_used"]
            or ("never" if row["last_used_known"] else ""),
            "reasons": ", ".join(reason["code"] for reason in row["reasons"]),
        }
        for row in flagged
    ]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(document: dict[str, Any]) -> str:
    """Render the summary artifact: totals, the top keys, failures and coverage."""
    total = document["totals"]
    lines = [
        f"# AccessKey sweep of account {document.get('account_id') or '(unknown)'}",
        "",
        f"Started {document['started_at']}, took "
        f"{document['duration_seconds']:.0f} s. "
        f"{'Complete' if document['complete'] else 'INCOMPLETE'}: "
        f"{total['users_assessed']} of {total['users_listed']} users assessed, "
        f"{total['users_failed']} failed; {total['keys']} keys "
        f"({total['active_keys']} active).",
        "",
        "| severity | keys |",
        "|---|---|",
    ]
    for level, count in total["by_severity"].items():
        lines.append(f"| {level} | {count} |")
    if total["by_reason"]:
        lines += ["", "| reason | keys |", "|---|---|"]
        for code, count in total["by_reason"].items():
            lines.append(f"| `{code}` | {count} |")

    flagged = [row for row in document["keys"] if row["score"] > 0]
    if flagged:
        top = flagged[:MARKDOWN_TOP_KEYS]
        lines += [
            "",
            f"## Highest scores ({len(top)} of {len(flagged)} flagged)",
            "",
            "| score | key | user | reasons |",
            "|---|---|---|---|",
        ]
        for row in top:
            reasons = "<br>".join(
                f"`{reason['code']}` {_cell(reason['detail'])}"
                for reason in row["reasons"]
            )
            lines.append(
                f"| {row['score']} | {row['access_key_id'] or '(no key)'} | "
                f"{row['user_name'] or '(root)'} | {reasons} |"
            )

    if document["failed_users"]:
        lines += ["", f"## Users not assessed ({len(document['failed_users'])})", ""]
        for failure in document["failed_users"][:MARKDOWN_TOP_KEYS]:
            lines.append(
                f"- {failure['user_name']}: `{failure['error_code']}` "
                f"{_cell(failure['reason'])}"
            )

    responses = document["responses"]
    lines += ["", "## Responses", ""]
    if responses["started"]:
        for started in responses["started"]:
            lines.append(
                f"- {started['access_key_id']}: flow run {started['flow_run_id']}"
            )
    elif responses["candidates"]:
        lines.append(f"{responses['note']}")
        lines.append("")
        for key_id in responses["candidates"]:
            lines.append(f"- `akresponder respond {key_id}`")
    else:
        lines.append(responses["note"])

    lines += ["", "## Coverage", ""]
    for note in document["coverage"]["notes"]:
        lines.append(f"- {note}")
    return redact.scrub_text("\n".join(lines)) + "\n"


def write_document(document: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the document as JSON atomically (temp file and rename); return the path.

    The document passes through ``redact.scrub`` first, so a secret-shaped field can
    never reach the file.
    """
    target = Path(path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(redact.scrub(document), indent=1, sort_keys=False)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.write("\n")
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target
