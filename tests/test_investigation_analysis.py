"""The analysis additions the response needs: incident start, IP pivot, bursts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from akresponder.analysis import (
    AnalysisSettings,
    IncidentScope,
    build_lineage,
    normalise_events,
    run_detectors,
)
from akresponder.analysis.synthetic import make_event
from akresponder.analysis.window import estimate_incident_start

KEY = "LTAI5tAPPBACKEND00000001"
OTHER_KEY = "LTAI5tCIDEPLOY000000001A"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
LOOKBACK = NOW - timedelta(days=30)
ATTACKER_IP = "203.0.113.66"


def _history(days: int, *, ips: tuple[str, ...] = ("198.51.100.10",)) -> list[dict]:
    """Two calls a day for ``days`` days before NOW, alternating over ``ips``."""
    return [
        make_event(
            "DescribeInstances",
            time=NOW - timedelta(days=day, hours=hour),
            source_ip=ips[(day + hour) % len(ips)],
        )
        for day in range(days, 0, -1)
        for hour in (3, 9)
    ]


def _attack(minutes_ago: float, action: str = "ListUsers", **fields: Any) -> dict:
    return make_event(
        action,
        time=NOW - timedelta(minutes=minutes_ago),
        source_ip=fields.pop("source_ip", ATTACKER_IP),
        **fields,
    )


def test_incident_start_first_novel_call() -> None:
    attack = _attack(30)
    events = normalise_events(_history(60) + [attack, _attack(20)])

    estimate = estimate_incident_start(events, KEY, fallback=LOOKBACK)

    assert estimate.estimated is True
    assert estimate.start == NOW - timedelta(minutes=30)
    assert estimate.event_id == attack["eventId"]
    assert ("source_ip", ATTACKER_IP) in estimate.values
    assert ATTACKER_IP in estimate.reason


def test_incident_start_short_history_falls_back() -> None:
    events = normalise_events(_history(5) + [_attack(30)])

    estimate = estimate_incident_start(events, KEY, fallback=LOOKBACK)

    assert estimate.estimated is False
    assert estimate.start == LOOKBACK
    assert "less than 7 days" in estimate.reason


def test_incident_start_ignores_novelty_before_lookback() -> None:
    # A second office address appears 40 days ago, before the look-back window.
    old = _history(60)
    newer = [
        make_event(
            "DescribeInstances",
            time=NOW - timedelta(days=40 - day),
            source_ip="198.51.100.11",
        )
        for day in range(30)
    ]
    events = normalise_events(old + newer + [_attack(30)])

    estimate = estimate_incident_start(events, KEY, fallback=LOOKBACK)

    assert estimate.start == NOW - timedelta(minutes=30)


def test_incident_start_nothing_new_falls_back() -> None:
    events = normalise_events(_history(60, ips=("198.51.100.10", "198.51.100.11")))

    estimate = estimate_incident_start(events, KEY, fallback=LOOKBACK)

    assert estimate.estimated is False
    assert estimate.start == LOOKBACK
    assert "no call" in estimate.reason


def test_incident_start_allowed_cidr_and_service_ignored() -> None:
    settings = AnalysisSettings(allowed_cidrs=("203.0.113.0/24",))
    service_call = _attack(40, source_ip="ecs.aliyuncs.com")
    events = normalise_events(_history(60) + [service_call, _attack(30)])

    estimate = estimate_incident_start(
        events, KEY, fallback=LOOKBACK, settings=settings
    )

    assert estimate.estimated is False


def test_incident_start_naive_fallback_rejected() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        estimate_incident_start(
            normalise_events([]), KEY, fallback=LOOKBACK.replace(tzinfo=None)
        )


def test_enumeration_burst_owner_calls_left_out() -> None:
    """The owner's calls in the same seconds, from its office, are not the burst."""
    discovery = ["ListUsers", "ListRoles", "DescribeInstances", "DescribeRegions",
                 "GetUser", "ListBuckets"]  # fmt: skip
    burst = [_attack(10 - index / 60, action) for index, action in enumerate(discovery)]
    owner = [
        _attack(10 - index / 60, "DescribeDisks", source_ip="198.51.100.10")
        for index in range(3)
    ]
    events = normalise_events(_history(60) + burst + owner)
    scope = IncidentScope(window_start=NOW - timedelta(hours=1), access_key_ids=(KEY,))

    findings = run_detectors(events, scope, kinds=["enumeration_burst"])

    assert len(findings) == 1
    assert set(findings[0].event_ids) == {record["eventId"] for record in burst}
    assert findings[0].evidence["values"]["source_ips"] == {ATTACKER_IP: 6}


def test_lineage_fetch_ip_finds_other_identities() -> None:
    seed = normalise_events(_history(60) + [_attack(30)])
    other = _attack(
        20,
        access_key_id=OTHER_KEY,
        user_name="ci-deploy",
        principal_id="200000000000000003",
    )
    asked: list[str] = []

    def fetch_ip(ip: str) -> list[dict]:
        asked.append(ip)
        return [other]

    graph = build_lineage(
        KEY, seed, fetch_ip=fetch_ip, window_start=NOW - timedelta(hours=1)
    )

    assert asked == [ATTACKER_IP]
    node = graph.nodes[f"key:{OTHER_KEY}"]
    assert node.response == "rotate_key"
    assert ATTACKER_IP in node.reason
    assert other["eventId"] in set(graph.events["event_id"])


def test_lineage_fetch_ip_failure_recorded() -> None:
    seed = normalise_events(_history(60) + [_attack(30)])

    def fetch_ip(ip: str) -> pd.DataFrame:
        raise RuntimeError(f"search for {ip} failed")

    graph = build_lineage(
        KEY, seed, fetch_ip=fetch_ip, window_start=NOW - timedelta(hours=1)
    )

    assert graph.errors == [
        {
            "source_ip": ATTACKER_IP,
            "error": f"RuntimeError: search for {ATTACKER_IP} failed",
        }
    ]


def _bill(day: datetime, amount: float) -> dict[str, Any]:
    return {
        "BillingCycle": day.strftime("%Y-%m"),
        "BillingDate": day.strftime("%Y-%m-%d"),
        "ProductCode": "ecs",
        "PretaxAmount": amount,
        "Currency": "CNY",
        "Region": "cn-hangzhou",
    }


def test_billing_spike_needs_min_ratio() -> None:
    """Near-constant spend: 64 against a median of 61.7 is no spike, 150 is."""
    from akresponder.analysis import analyse_billing

    start = NOW - timedelta(days=30)
    flat = [_bill(start + timedelta(days=day), 61.73) for day in range(30)]
    small = flat + [_bill(NOW, 63.93)]
    large = flat + [_bill(NOW, 150.0)]

    assert analyse_billing(small, window_start=NOW).spikes.empty
    spikes = analyse_billing(large, window_start=NOW).spikes
    assert list(spikes["amount"].unique()) == [150.0]


def test_lineage_console_session_not_rotated() -> None:
    """A session token of a user signed in from the attacker IP is revoked."""
    session = "STS.ConsoleSession0000000001"
    signin = make_event(
        "ConsoleSignin",
        time=NOW - timedelta(minutes=40),
        access_key_id="",
        user_name="alice",
        principal_id="200000000000000004",
        source_ip=ATTACKER_IP,
        event_type="ConsoleSignin",
    )
    # The console calls the API for her from its own address, with a session key.
    console_call = make_event(
        "DescribeInstances",
        time=NOW - timedelta(minutes=35),
        access_key_id=session,
        user_name="alice",
        principal_id="200000000000000004",
        source_ip="10.8.8.10",
    )
    seed = normalise_events(_history(60) + [_attack(30), signin, console_call])

    graph = build_lineage(KEY, seed, window_start=NOW - timedelta(hours=1))

    assert graph.nodes["user:alice"].response == "reset_password_and_enforce_mfa"
    node = graph.nodes[f"key:{session}"]
    assert node.response == "revoke_role_sessions"
    assert node.reason == "used by alice during the incident"


def test_lineage_picture_folds_large_groups() -> None:
    from akresponder.analysis import draw_lineage
    from akresponder.analysis.lineage import _drawn_columns

    calls = [
        _attack(
            30 - number / 10,
            "DescribeInstances",
            access_key_id=f"STS.Token{number:020d}",
        )
        for number in range(12)
    ]
    signin = make_event(
        "ConsoleSignin",
        time=NOW - timedelta(minutes=45),
        access_key_id="",
        source_ip=ATTACKER_IP,
        event_type="ConsoleSignin",
    )
    seed = normalise_events(_history(60) + [_attack(31), signin] + calls)
    graph = build_lineage(KEY, seed, window_start=NOW - timedelta(hours=1))

    columns, shown_as = _drawn_columns(graph)

    tokens = [node for node in graph.nodes.values() if node.type == "sts_token"]
    assert len(tokens) == 12
    assert len(shown_as) == 12
    labels = [node.label for nodes in columns.values() for node in nodes]
    assert "12 sts_token nodes" in labels
    assert draw_lineage(graph).startswith(b"\x89PNG")
