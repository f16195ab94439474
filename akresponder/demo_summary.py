"""The summary that ``akresponder demo`` prints from a response report.

``summary_lines`` turns the report dict (docs/report-schema.md) into indented lines:
where the files are, the decision and its reasons, the actions, the most severe
findings, the keys the investigation followed and the cost. Fields that a report
does not have are shown as missing, so an older report still prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
TOP_FINDINGS = 6
PICTURE_SUFFIXES = (".png", ".svg")


def find_report(state_dir: Path, access_key_id: str, incident_id: str) -> Path | None:
    """Return the response's JSON report, ``<state dir>/<key>.<incident>.report.json``.

    Returns None when the folder has no report of that incident.
    """
    expected = state_dir / f"{access_key_id}.{incident_id}.report.json"
    if expected.exists():
        return expected
    found = sorted(state_dir.glob(f"{access_key_id}.{incident_id}*.report.json"))
    return found[0] if found else None


def picture_paths(report: dict[str, Any], report_path: Path) -> list[str]:
    """List the pictures that the report names or that lie beside it."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and value.endswith(PICTURE_SUFFIXES):
            if value not in found and len(value) < 4096:
                found.append(value)

    walk(report)
    stem = report_path.name.removesuffix(".report.json")
    for path in sorted(report_path.parent.glob(f"{stem}*")):
        if path.suffix in PICTURE_SUFFIXES and str(path) not in found:
            found.append(str(path))
    return found


def evidence_location(report: dict[str, Any]) -> str | None:
    """Return the location of the evidence bundle named in the report, or None."""
    value = report.get("evidence")
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for name in ("path", "location", "directory", "manifest"):
            if isinstance(value.get(name), str):
                return value[name]
    return None


def _money(amount: Any, currency: Any) -> str:
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return "unknown"
    return f"{amount:,.2f} {currency or ''}".rstrip()


def summary_lines(
    report: dict[str, Any], report_path: Path, markdown_path: Path | None
) -> list[tuple[int, str]]:
    """Return the summary of ``report`` as (indent, text) lines."""
    lines: list[tuple[int, str]] = []
    pictures = picture_paths(report, report_path)
    lines.append((6, f"JSON:      {report_path}"))
    lines.append((6, f"Markdown:  {markdown_path or 'not written'}"))
    lines.append((6, f"Pictures:  {', '.join(pictures) if pictures else 'none'}"))
    lines.append((6, f"Evidence:  {evidence_location(report) or 'none'}"))
    lines.append((0, ""))

    decision = report.get("decision") or {}
    lines.append((0, f"Decision: {decision.get('path')}"))
    lines.extend((2, f"- {reason}") for reason in decision.get("reasons") or [])

    actions = report.get("actions") or []
    lines.append((0, f"Actions ({len(actions)}):"))
    for action in actions:
        lines.append((2, f"{action.get('status', '?'):<9} {action.get('step')}"))
        if action.get("detail"):
            lines.append((12, str(action["detail"])))

    findings = sorted(
        report.get("findings") or [],
        key=lambda item: SEVERITY_RANK.get(str(item.get("severity")), 9),
    )
    lines.append((0, f"Top findings ({len(findings)} in all):"))
    for finding in findings[:TOP_FINDINGS]:
        severity = str(finding.get("severity", "?"))
        text = f"{severity:<8} {finding.get('kind')}: {finding.get('summary')}"
        lines.append((2, text))

    lines.append((0, "Lineage (keys followed):"))
    lines.extend((2, text) for text in lineage_lines(report))
    lines.append((0, "Cost:"))
    lines.extend((2, text) for text in cost_lines(report))

    lines.append((0, f"Complete: {'yes' if report.get('complete') else 'no'}"))
    for number, step in enumerate(report.get("next_steps") or [], start=1):
        lines.append((2, f"{number}. {step}"))
    return lines


def lineage_lines(report: dict[str, Any]) -> list[str]:
    """Describe the compromised key and the keys tied to it."""
    owner = (report.get("owner") or {}).get("user_name") or "unknown owner"
    lines = [f"{report.get('access_key_id')} ({owner}): the compromised key"]
    for credential in report.get("related_credentials") or []:
        lines.append(
            f"-> {credential.get('access_key_id')} (user "
            f"{credential.get('user_name') or '-'}, {credential.get('relation')}, "
            f"status {credential.get('status') or '-'})"
        )
    if len(lines) == 1:
        lines.append("no other key was created or used by the attacker")
    return lines


def cost_lines(report: dict[str, Any]) -> list[str]:
    """Describe the spend of the billing cycles the response checked."""
    billing = report.get("billing")
    if not isinstance(billing, dict):
        return ["billing was not checked"]
    currency = billing.get("currency")
    cycles = ", ".join(billing.get("billing_cycles") or []) or "-"
    return [
        f"spend in billing cycles {cycles}: {_money(billing.get('total'), currency)}"
    ]
