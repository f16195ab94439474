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


def _investigation(report: dict[str, Any]) -> dict[str, Any]:
    value = report.get("investigation")
    return value if isinstance(value, dict) else {}


def picture_paths(report: dict[str, Any], report_path: Path) -> list[str]:
    """List the report's pictures (schema 1.1), else the PNG files beside it."""
    pictures = _investigation(report).get("pictures")
    if isinstance(pictures, dict) and pictures:
        return [str(path) for path in pictures.values()]
    stem = report_path.name.removesuffix(".report.json")
    return [
        str(path)
        for path in sorted(report_path.parent.glob(f"{stem}.*"))
        if path.suffix in PICTURE_SUFFIXES and ".related-" not in path.name
    ]


def evidence_location(report: dict[str, Any]) -> str | None:
    """Return the folder of the evidence bundle named in the report, or None."""
    evidence = _investigation(report).get("evidence")
    if isinstance(evidence, dict) and evidence.get("folder"):
        return str(evidence["folder"])
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
    """Describe the AccessKeys the investigation followed and their responses.

    Temporary STS tokens are counted, not listed: they expire by themselves.
    """
    owner = (report.get("owner") or {}).get("user_name") or "unknown owner"
    lines = [f"{report.get('access_key_id')} ({owner}): the compromised key"]
    related = {
        str(item.get("access_key_id")): item
        for item in report.get("related_credentials") or []
        if isinstance(item, dict)
    }
    lineage = _investigation(report).get("lineage")
    nodes = []
    if isinstance(lineage, dict):
        nodes = [node for node in lineage.get("nodes") or [] if isinstance(node, dict)]
    keys = [
        str(node.get("label"))
        for node in sorted(nodes, key=lambda item: item.get("depth") or 0)
        if node.get("type") == "access_key"
    ]
    keys += [key for key in related if key not in keys]
    for key in keys:
        if key == report.get("access_key_id") or key.startswith("STS."):
            continue
        lines.append("-> " + _related_key_line(key, related.get(key), nodes))
    tokens = sum(1 for key in keys if key.startswith("STS."))
    if tokens:
        lines.append(f"{tokens} STS tokens of linked users and roles (they expire)")
    if isinstance(lineage, dict):
        lines.append(
            f"lineage graph: {len(nodes)} nodes, {len(lineage.get('edges') or [])} "
            "edges (picture and data in the report)"
        )
    if len(lines) == 1:
        lines.append("no other key was created or used by the attacker")
    return lines


def _related_key_line(
    key: str, credential: dict[str, Any] | None, nodes: list[dict[str, Any]]
) -> str:
    node = next((item for item in nodes if item.get("label") == key), {})
    parts = [key]
    if credential and credential.get("user_name"):
        parts.append(f"user {credential['user_name']}")
    if node.get("depth") is not None:
        parts.append(f"depth {node['depth']}")
    text = ", ".join(parts)
    reason = node.get("reason") or (credential or {}).get("relation")
    if reason:
        text += f": {reason}"
    response = (credential or {}).get("response")
    if isinstance(response, dict):
        text += (
            f"; child response {response.get('status')}, path "
            f"{response.get('path') or '-'}"
        )
    elif node.get("response"):
        text += f"; recommended: {node['response']}"
    return text


def _by_currency(amounts: Any) -> str:
    if not isinstance(amounts, dict) or not amounts:
        return "none"
    return ", ".join(_money(amount, currency) for currency, amount in amounts.items())


def cost_lines(report: dict[str, Any]) -> list[str]:
    """Describe the cost the attacker caused and the spend in the incident window."""
    lines = []
    billing = _investigation(report).get("billing")
    if isinstance(billing, dict):
        lines.append(
            "attributable to the compromised credentials: "
            f"{_by_currency(billing.get('attributable_total'))}"
        )
        for item in billing.get("attributed") or []:
            if isinstance(item, dict):
                lines.append(
                    f"  {item.get('instance_id')} in {item.get('region')}: "
                    f"{_money(item.get('amount'), item.get('currency'))}"
                )
        present = [
            str(item.get("instance_id"))
            for item in billing.get("still_present") or []
            if isinstance(item, dict)
        ]
        if present:
            lines.append(
                f"instances they created that still exist: {', '.join(present)}"
            )
        lines.append(
            f"spend since the incident start: "
            f"{_by_currency(billing.get('incident_total'))} (baseline before it: "
            f"{_by_currency(billing.get('baseline_total'))})"
        )
        return lines
    summary = report.get("billing")
    if not isinstance(summary, dict):
        return ["billing was not checked"]
    cycles = ", ".join(summary.get("billing_cycles") or []) or "-"
    total = _money(summary.get("total"), summary.get("currency"))
    return [f"spend in billing cycles {cycles}: {total}"]
