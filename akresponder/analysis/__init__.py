"""Investigation library: pure functions over ActionTrail events and BSS bills.

Typical use from a flow::

    from akresponder.analysis import investigate, normalise_events

    events = normalise_events(lookup_events_pages, "actiontrail")
    result = investigate(
        "LTAI5t...", events, window_start=alert_time, bills=bill_items
    )
    result.findings          # list of Finding, most severe first
    result.lineage.responses()  # what to do with each derived credential
    result.pictures()        # PNG bytes: timeline, lineage, spend

Modules: ``events`` (normalisation), ``detectors`` (anomaly checks), ``lineage``
(credential lineage), ``billing`` (spend analysis), ``charts`` (pictures and tables),
``evidence`` (saving with a SHA-256 manifest), ``settings`` and ``findings``.
"""

from akresponder.analysis.billing import BillingReport, analyse_billing
from akresponder.analysis.charts import findings_markdown, spend_png, timeline_png
from akresponder.analysis.detectors import DETECTORS, IncidentScope, run_detectors
from akresponder.analysis.events import (
    EVENT_COLUMNS,
    NormaliseReport,
    combine_events,
    normalise_events,
    normalise_events_with_report,
    read_events_file,
    redact_event,
)
from akresponder.analysis.evidence import (
    EvidenceManifest,
    save_evidence,
    verify_evidence,
)
from akresponder.analysis.findings import FINDING_KINDS, Finding, findings_frame
from akresponder.analysis.investigate import Investigation, investigate
from akresponder.analysis.lineage import (
    RESPONSES,
    LineageGraph,
    build_lineage,
    draw_lineage,
)
from akresponder.analysis.settings import AnalysisSettings

__all__ = [
    "DETECTORS",
    "EVENT_COLUMNS",
    "FINDING_KINDS",
    "RESPONSES",
    "AnalysisSettings",
    "BillingReport",
    "EvidenceManifest",
    "Finding",
    "IncidentScope",
    "Investigation",
    "LineageGraph",
    "NormaliseReport",
    "analyse_billing",
    "build_lineage",
    "combine_events",
    "draw_lineage",
    "findings_frame",
    "findings_markdown",
    "investigate",
    "normalise_events",
    "normalise_events_with_report",
    "read_events_file",
    "redact_event",
    "run_detectors",
    "save_evidence",
    "spend_png",
    "timeline_png",
    "verify_evidence",
]
