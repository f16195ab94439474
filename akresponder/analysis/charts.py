"""Pictures and tables for the incident report: PNG bytes and markdown text.

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas, so they
need no display and leave pyplot's global state alone (flows may draw from several
threads).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from akresponder.analysis.findings import Finding, sort_findings

_SUSPECT = "#d62728"
_OTHER = "#9e9e9e"
_WINDOW = "#ffe0b2"


def timeline_png(
    events: pd.DataFrame,
    *,
    suspect_keys: Iterable[str] = (),
    suspect_users: Iterable[str] = (),
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    findings: Iterable[Finding] = (),
    title: str = "ActionTrail events per hour",
) -> bytes:
    """Draw events per hour as PNG bytes, with the suspect events in red.

    Suspect events are those of ``suspect_keys``, and the keyless (console) events of
    ``suspect_users``, inside the window.

    The window is shaded and each finding's first_seen is marked with a short
    vertical line at the top of the plot.
    """
    figure, axes = _figure(width=11, height=4)
    axes.set_title(title)
    if events.empty:
        axes.text(0.5, 0.5, "no events", ha="center", va="center")
        return _png(figure)
    keys = set(suspect_keys)
    users = set(suspect_users)
    suspect = events["access_key_id"].isin(keys) | (
        events["identity_name"].isin(users) & (events["access_key_id"] == "")
    )
    # Before the window the suspect keys were in legitimate use, so only their
    # events inside the window are drawn as suspect.
    if window_start is not None:
        suspect &= events["time"] >= pd.Timestamp(window_start)
    if window_end is not None:
        suspect &= events["time"] < pd.Timestamp(window_end)
    hours = events["time"].dt.floor("h")
    span = pd.date_range(hours.min(), hours.max(), freq="h")
    other_counts = hours[~suspect].value_counts().reindex(span, fill_value=0)
    suspect_counts = hours[suspect].value_counts().reindex(span, fill_value=0)
    # One filled step outline per series instead of a bar per hour: months of
    # history are thousands of hours, and a patch per bar takes seconds to draw.
    edges = pd.date_range(span[0], periods=len(span) + 1, freq="h")
    other = other_counts.to_numpy()
    total = other + suspect_counts.to_numpy()
    axes.stairs(other, edges, fill=True, color=_OTHER, label="other")
    axes.stairs(
        total,
        edges,
        baseline=other,
        fill=True,
        color=_SUSPECT,
        label="suspect identities in the window",
    )
    _shade_window(axes, window_start, window_end, span)
    marks = sorted({finding.first_seen for finding in findings if finding.first_seen})
    if marks:
        top = float((other_counts + suspect_counts).max() or 1)
        axes.vlines(marks, top * 1.02, top * 1.12, color="black", linewidth=1)
        axes.text(marks[0], top * 1.14, "findings", fontsize=7)
    axes.set_ylabel("events")
    axes.legend(loc="upper left", fontsize=8, frameon=False)
    figure.autofmt_xdate()
    return _png(figure)


def spend_png(
    daily: pd.DataFrame,
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    title: str = "Daily spend by product",
) -> bytes:
    """Draw daily spend stacked by product (``BillingReport.daily``) as PNG bytes.

    With several currencies only the one with the largest total is drawn, and the
    title names it.
    """
    figure, axes = _figure(width=11, height=4)
    if daily.empty:
        axes.set_title(title)
        axes.text(0.5, 0.5, "no bills", ha="center", va="center")
        return _png(figure)
    currency = daily.groupby("currency")["amount"].sum().idxmax()
    spend = daily.loc[daily["currency"] == currency]
    table = spend.pivot_table(
        index="date", columns="product_code", values="amount", aggfunc="sum"
    ).fillna(0.0)
    days = pd.date_range(table.index.min(), table.index.max(), freq="D")
    table = table.reindex(days, fill_value=0.0)
    bottom = pd.Series(0.0, index=table.index)
    for product in table.columns:
        axes.bar(
            table.index,
            table[product].to_numpy(),
            bottom=bottom.to_numpy(),
            width=pd.Timedelta(hours=20),
            label=product or "(no product)",
        )
        bottom += table[product]
    _shade_window(axes, window_start, window_end, days)
    axes.set_title(f"{title} ({currency})")
    axes.set_ylabel(currency)
    axes.legend(loc="upper left", fontsize=8, frameon=False)
    figure.autofmt_xdate()
    return _png(figure)


def findings_markdown(findings: Iterable[Finding], *, limit: int = 200) -> str:
    """Return a markdown table of findings, most severe first.

    Pipes and line breaks inside values are escaped so each finding stays one row.
    Findings beyond ``limit`` are counted in a last line instead of listed.
    """
    ordered = sort_findings(list(findings))
    lines = [
        "| severity | kind | AccessKey | first seen (UTC) | events | summary |",
        "|---|---|---|---|---|---|",
    ]
    for finding in ordered[:limit]:
        count = finding.evidence.get("event_count", len(finding.event_ids))
        first = (
            finding.first_seen.strftime("%Y-%m-%d %H:%M:%S")
            if finding.first_seen
            else ""
        )
        cells = [
            finding.severity,
            finding.kind,
            finding.access_key_id or "",
            first,
            str(count),
            finding.summary,
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    if len(ordered) > limit:
        lines.append(f"\n{len(ordered) - limit} more finding(s) are not listed.")
    if not ordered:
        lines.append("| | | | | | no findings |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _figure(*, width: float, height: float) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _shade_window(
    axes: Axes,
    start: datetime | None,
    end: datetime | None,
    span: pd.DatetimeIndex,
) -> None:
    if start is None or len(span) == 0:
        return
    left = pd.Timestamp(start)
    right = pd.Timestamp(end) if end is not None else span.max() + pd.Timedelta(hours=1)
    axes.axvspan(
        left, right, color=_WINDOW, alpha=0.6, zorder=0, label="incident window"
    )


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
