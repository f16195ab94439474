"""Tests for akresponder.analysis.charts: PNG pictures and the findings table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from akresponder.analysis.charts import findings_markdown, spend_png, timeline_png
from akresponder.analysis.events import normalise_events
from akresponder.analysis.findings import Finding
from akresponder.analysis.synthetic import generate_events

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
END = datetime(2026, 11, 20, 8, tzinfo=UTC)


def _finding(severity: str, summary: str, minutes: int = 0) -> Finding:
    return Finding(
        kind="user_created",
        severity=severity,
        summary=summary,
        event_ids=["E-1", "E-2"],
        evidence={"event_count": 7},
        first_seen=END - timedelta(minutes=minutes),
        access_key_id="LTAI5tAPPBACKEND00000001",
    )


def test_timeline_png_marks_window_and_findings() -> None:
    events = normalise_events(generate_events(2000, days=3))

    picture = timeline_png(
        events,
        suspect_keys=["LTAI5tAPPBACKEND00000001"],
        window_start=END - timedelta(hours=6),
        findings=[_finding("high", "x")],
    )

    assert picture.startswith(PNG_SIGNATURE)


def test_timeline_png_empty_frame() -> None:
    assert timeline_png(normalise_events([])).startswith(PNG_SIGNATURE)


def test_spend_png_stacks_products() -> None:
    days = pd.date_range("2026-11-01", periods=20, freq="D", tz="UTC")
    daily = pd.DataFrame(
        {
            "date": list(days) * 2,
            "currency": ["CNY"] * 40,
            "product_code": ["ecs"] * 20 + ["oss"] * 20,
            "region": ["cn-hangzhou"] * 40,
            "amount": [27.0] * 20 + [1.5] * 20,
        }
    )

    picture = spend_png(daily, window_start=datetime(2026, 11, 18, tzinfo=UTC))

    assert picture.startswith(PNG_SIGNATURE)


def test_spend_png_empty_frame() -> None:
    empty = pd.DataFrame(columns=["date", "currency", "product_code", "amount"])

    assert spend_png(empty).startswith(PNG_SIGNATURE)


def test_findings_markdown_orders_and_escapes() -> None:
    findings = [
        _finding("medium", "plain", minutes=1),
        _finding("critical", "a | pipe\nand a line break", minutes=2),
    ]

    table = findings_markdown(findings)
    lines = table.strip().splitlines()

    assert lines[0].startswith("| severity | kind |")
    assert len(lines) == 4
    assert lines[2].startswith("| critical | user_created |")
    assert "a \\| pipe and a line break" in lines[2]
    assert "| 7 |" in lines[2]
    assert lines[3].startswith("| medium |")


def test_findings_markdown_limit_and_empty() -> None:
    many = [_finding("low", f"finding {index}") for index in range(5)]

    limited = findings_markdown(many, limit=2)

    assert "3 more finding(s) are not listed." in limited
    assert "no findings" in findings_markdown([])
