"""Turn the analysis library's results into the report's records.

The library (``akresponder.analysis``) returns pandas frames, dataclasses and its own
``Finding`` model; the report (``akresponder.report``) is a pydantic contract. These
converters sit between them so neither depends on the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd

from akresponder.analysis import Finding as AnalysisFinding
from akresponder.analysis import LineageGraph
from akresponder.analysis.billing import BillingReport
from akresponder.analysis.lineage import RESPONSES
from akresponder.report import (
    BillingAnalysis,
    Finding,
    LineageEdgeRecord,
    LineageNodeRecord,
    LineageRecord,
    RelatedCredential,
)

# Report relation of a related key, by the lineage edge that reached it.
RELATIONS: dict[str, str] = {
    "created_key": "created-by-compromised-key",
    "activated_key": "re-activated-by-compromised-key",
    "also_used_by": "active-from-attacker-ip",
    "uses_key": "used-by-linked-user",
    "issued_session": "sts-token-of-linked-role",
}
# Relations of keys that the compromised credentials minted, the keys that get a
# response run of their own.
MINTED_RELATIONS = frozenset({"created-by-compromised-key", "created-for-new-user"})


def report_findings(findings: Iterable[AnalysisFinding]) -> list[Finding]:
    """Convert the library's findings, keeping evidence, times and the key."""
    converted = []
    for finding in findings:
        data = finding.to_dict()
        converted.append(
            Finding(
                kind=data["kind"],
                severity=data["severity"],
                summary=data["summary"],
                event_ids=data["event_ids"],
                evidence=data["evidence"],
                first_seen=finding.first_seen,
                last_seen=finding.last_seen,
                access_key_id=data["access_key_id"],
            )
        )
    return converted


def lineage_record(graph: LineageGraph) -> LineageRecord:
    """Convert the lineage graph to its report record."""
    nodes = [
        LineageNodeRecord(
            id=node.id,
            type=node.type,
            label=node.label,
            depth=node.depth,
            response=node.response,
            reason=node.reason,
            how=RESPONSES[node.response],
            first_seen=node.first_seen,
            event_ids=list(node.event_ids),
            attributes=_plain(node.attributes),
        )
        for node in graph.nodes.values()
    ]
    edges = [
        LineageEdgeRecord(
            source=edge.source,
            target=edge.target,
            relation=edge.relation,
            event_id=edge.event_id,
            time=edge.time,
        )
        for edge in graph.edges
    ]
    return LineageRecord(
        seeds=list(graph.seeds),
        nodes=nodes,
        edges=edges,
        attacker_ips=list(graph.attacker_ips),
        truncated=graph.truncated,
        errors=[dict(error) for error in graph.errors],
    )


def related_credentials(graph: LineageGraph) -> list[RelatedCredential]:
    """List the graph's AccessKeys and STS keys other than the seeds.

    Each carries the lineage's recommended response, and its relation names the
    edge by which the walk reached it. A key found through a user the attacker
    created counts as created for that user.
    """
    seeds = set(graph.seeds)
    incoming: dict[str, list[tuple[str, str]]] = {}
    owners: dict[str, str] = {}
    for edge in graph.edges:
        incoming.setdefault(edge.target, []).append((edge.relation, edge.source))
        if edge.relation == "owns" and edge.source.startswith("user:"):
            owners[edge.target] = edge.source.split(":", 1)[1]
    related = []
    for node in graph.nodes.values():
        if node.type not in ("access_key", "sts_token") or node.label in seeds:
            continue
        relation = "linked-to-incident"
        for edge_relation, source in incoming.get(node.id, []):
            if edge_relation not in RELATIONS:
                continue
            relation = RELATIONS[edge_relation]
            creator = graph.nodes.get(source)
            if (
                edge_relation == "uses_key"
                and creator is not None
                and creator.attributes.get("created_in_incident")
            ):
                relation = "created-for-new-user"
            if relation in MINTED_RELATIONS:
                break
        seen = f" First seen {node.first_seen.isoformat()}." if node.first_seen else ""
        related.append(
            RelatedCredential(
                access_key_id=node.label,
                user_name=owners.get(node.id),
                relation=relation,
                detail=f"{node.reason[:1].upper()}{node.reason[1:]}.{seen}",
                recommended_response=node.response,
            )
        )
    related.sort(
        key=lambda item: (item.relation not in MINTED_RELATIONS, item.access_key_id)
    )
    return related


def billing_record(
    report: BillingReport,
    *,
    incident_start: datetime,
    baseline_start: datetime,
    regions_checked: Iterable[str],
) -> BillingAnalysis:
    """Summarise the billing analysis for the report."""
    totals = report.period_totals

    def by_currency(period: str) -> dict[str, float]:
        rows = totals.loc[totals["period"] == period]
        return {
            str(currency): round(float(amount), 2)
            for currency, amount in rows.groupby("currency")["amount"].sum().items()
        }

    spike_days = sorted(
        {moment.strftime("%Y-%m-%d") for moment in report.spikes.get("date", [])}
    )
    return BillingAnalysis(
        baseline_start=baseline_start,
        incident_start=incident_start,
        baseline_total=by_currency("baseline"),
        incident_total=by_currency("incident"),
        new_products=list(report.new_products),
        new_regions=list(report.new_regions),
        spike_days=spike_days,
        attributable_total={
            currency: round(amount, 2)
            for currency, amount in report.attributable_total.items()
        },
        attributed=report.to_dict()["attributed"],
        still_present=_plain(report.still_present),
        regions_checked=sorted(set(regions_checked)),
    )


def _plain(value: Any) -> Any:
    """Return ``value`` with timestamps as ISO text, so it is JSON-ready."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(item) for item in value]
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    return value
