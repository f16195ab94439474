"""Tests for akresponder.analysis.billing: spend, spikes and attributable cost."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from akresponder.analysis.billing import (
    analyse_billing,
    bill_items,
    modified_z_scores,
    normalise_bill_items,
)
from akresponder.analysis.events import normalise_events
from akresponder.analysis.settings import AnalysisSettings
from akresponder.analysis.synthetic import make_event

DATA = Path(__file__).parent / "data" / "analysis"
WINDOW_START = datetime(2026, 11, 20, 1, tzinfo=UTC)
ATTACK_KEY = "LTAI5tBACKDOOR000000001"
ATTACK_INSTANCES = ["i-attack01", "i-attack02"]


def _daily(day: datetime, amount: float, **fields: Any) -> dict[str, Any]:
    item = {
        "BillingCycle": day.strftime("%Y-%m"),
        "BillingDate": day.strftime("%Y-%m-%d"),
        "ProductCode": "ecs",
        "ProductName": "Elastic Compute Service",
        "PretaxAmount": amount,
        "Currency": "CNY",
        "Region": "cn-hangzhou",
        "InstanceID": "i-bp1appbackend000001",
    }
    item.update(fields)
    return item


def _steady_bills(days: int = 30) -> list[dict[str, Any]]:
    start = datetime(2026, 11, 20, tzinfo=UTC) - timedelta(days=days)
    return [_daily(start + timedelta(days=i), 26.0 + i % 3) for i in range(days + 1)]


def _attack_bills() -> list[dict[str, Any]]:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    return [
        _daily(day, "310.5", InstanceID=instance, Region="新加坡")
        for instance in ATTACK_INSTANCES
    ]


def _attack_events() -> pd.DataFrame:
    return normalise_events(
        [
            make_event(
                "RunInstances",
                time=WINDOW_START + timedelta(minutes=30),
                access_key_id=ATTACK_KEY,
                user_name="svc-backup",
                region="ap-southeast-1",
                response_elements={
                    "InstanceIdSets": {"InstanceIdSet": ATTACK_INSTANCES}
                },
            ),
            make_event(
                "RunInstances",
                time=WINDOW_START - timedelta(days=2),
                access_key_id=ATTACK_KEY,
                response_elements={"InstanceIdSets": {"InstanceIdSet": ["i-old"]}},
            ),
        ]
    )


# Parsing -----------------------------------------------------------------------------


def test_bill_items_both_list_shapes() -> None:
    query = json.loads((DATA / "bss_QueryInstanceBill.json").read_text())
    describe = json.loads((DATA / "bss_DescribeInstanceBill.json").read_text())

    items = bill_items([query, describe, {"body": query}, [_daily(WINDOW_START, 1)]])

    assert len(items) == 4
    assert items[1]["InstanceID"] == "i-dadada"


def test_normalise_bill_items_vendor_examples() -> None:
    describe = json.loads((DATA / "bss_DescribeInstanceBill.json").read_text())
    query_bill = json.loads((DATA / "bss_QueryBill.json").read_text())
    account = json.loads((DATA / "bss_QueryAccountBill.json").read_text())

    frame = normalise_bill_items([describe, query_bill, account])

    assert len(frame) == 3
    described = frame.iloc[0]
    assert described["region"] == "cn-hangzhou"  # "杭州" in the example
    assert described["instance_id"] == "i-dadada"
    assert described["amount"] == pytest.approx(0.1)
    assert described["date"] == pd.Timestamp("2020-03-20", tz="UTC")
    usage = frame.iloc[1]
    assert usage["date"] == pd.Timestamp("2020-03-11", tz="UTC")
    assert usage["amount"] == 100
    assert not usage["spread"]
    assert frame.iloc[2]["date"] == pd.Timestamp("2021-03-01", tz="UTC")


def test_normalise_bill_items_monthly_spread_keeps_total() -> None:
    scenario = json.loads(
        (Path(__file__).parent / "scenarios" / "basic.json").read_text()
    )

    frame = normalise_bill_items(scenario["bills"])

    october = frame.loc[frame["billing_cycle"] == "2026-10"]
    november = frame.loc[frame["billing_cycle"] == "2026-11"]
    assert len(october) == 31
    assert october["amount"].sum() == pytest.approx(820.5)
    assert len(november) == 19
    assert november["amount"].sum() == pytest.approx(520.1)
    assert frame["spread"].all()


def test_normalise_bill_items_cycle_only_covers_month() -> None:
    frame = normalise_bill_items(
        [{"BillingCycle": "2026-02", "ProductCode": "oss", "PretaxAmount": 28}]
    )

    assert len(frame) == 28
    assert frame["amount"].sum() == pytest.approx(28)


def test_normalise_bill_items_unusable_counted() -> None:
    frame = normalise_bill_items(
        [
            {"BillingDate": "2026-11-01", "PretaxAmount": "NULL"},
            {"ProductCode": "ecs", "PretaxAmount": 3},
            "not a bill",
            _daily(WINDOW_START, 5),
        ]
    )

    assert len(frame) == 1
    assert frame.attrs["unusable_items"] == 2


def test_normalise_bill_items_region_from_zone() -> None:
    frame = normalise_bill_items(
        [_daily(WINDOW_START, 5, Region="", Zone="cn-shanghai-b")]
    )

    assert frame.iloc[0]["region"] == "cn-shanghai"


# Spikes ------------------------------------------------------------------------------


def test_modified_z_scores_mad() -> None:
    baseline = np.array([10.0, 11.0, 12.0, 11.0, 10.0])

    scores = modified_z_scores(np.array([11.0, 40.0]), baseline)

    assert scores[0] == pytest.approx(0.0)
    assert scores[1] == pytest.approx(0.6745 * 29 / 1)


def test_modified_z_scores_mean_ad_fallback() -> None:
    baseline = np.array([10.0, 10.0, 10.0, 10.0, 20.0])

    scores = modified_z_scores(np.array([30.0]), baseline)

    assert scores[0] == pytest.approx(20 / (1.253314 * 2))


def test_modified_z_scores_constant_baseline() -> None:
    scores = modified_z_scores(np.array([10.0, 10.5]), np.array([10.0] * 7))

    assert scores[0] == 0
    assert math.isinf(scores[1])


# Analysis ----------------------------------------------------------------------------


def test_analyse_billing_attack_spike_and_attribution() -> None:
    instances = {
        "Instances": {
            "Instance": [
                {
                    "InstanceId": "i-attack01",
                    "Status": "Running",
                    "RegionId": "ap-southeast-1",
                },
                {"InstanceId": "i-attack02", "Status": "Deleted"},
                {
                    "InstanceId": "i-unknown",
                    "Status": "Running",
                    "CreationTime": "2026-11-20T03:00Z",
                },
            ]
        }
    }

    report = analyse_billing(
        _steady_bills() + _attack_bills(),
        window_start=WINDOW_START,
        events=_attack_events(),
        attacker_keys=[ATTACK_KEY],
        instances=[instances],
    )

    assert report.attributable_total == {"CNY": pytest.approx(621.0)}
    assert sorted(report.attributed["instance_id"]) == ATTACK_INSTANCES
    assert [item["instance_id"] for item in report.still_present] == ["i-attack01"]
    assert [item["instance_id"] for item in report.unexplained_instances] == [
        "i-unknown"
    ]
    assert report.new_regions == ["ap-southeast-1"]
    assert set(report.spikes["scope"]) == {"total", "product:ecs"}
    kinds = {finding.kind for finding in report.findings}
    assert kinds == {"billing_anomaly"}
    summaries = " ".join(finding.summary for finding in report.findings)
    assert "621.00 CNY" in summaries
    assert "i-attack01" in summaries
    attributed = next(f for f in report.findings if f.event_ids)
    assert attributed.severity == "high"
    assert attributed.access_key_id == ATTACK_KEY


def test_analyse_billing_steady_spend_no_findings() -> None:
    report = analyse_billing(_steady_bills(), window_start=WINDOW_START)

    assert report.spikes.empty
    assert report.new_products == []
    assert report.new_regions == []
    assert report.findings == []


def test_analyse_billing_short_baseline_noted() -> None:
    bills = _steady_bills(days=3) + _attack_bills()

    report = analyse_billing(bills, window_start=WINDOW_START)

    assert report.spikes.empty
    assert "billing_min_baseline_days" in report.notes[0]


def test_analyse_billing_threshold_is_a_setting() -> None:
    # The steady bills already charge 26 on the incident day; 3 more makes 29
    # against a median of 27 and a MAD of 1, a modified z-score of 1.35.
    bills = _steady_bills() + [_daily(datetime(2026, 11, 20, tzinfo=UTC), 3.0)]

    # A ratio of 1 lets the z-score alone decide, as this test is about the z-score.
    strict = analyse_billing(
        bills,
        window_start=WINDOW_START,
        settings=AnalysisSettings(billing_spike_z=1, billing_spike_min_ratio=1),
    )
    default = analyse_billing(bills, window_start=WINDOW_START)

    assert not strict.spikes.empty
    assert default.spikes.empty


def test_analyse_billing_to_dict_json_ready() -> None:
    report = analyse_billing(
        _steady_bills() + _attack_bills(),
        window_start=WINDOW_START,
        events=_attack_events(),
        attacker_keys=[ATTACK_KEY],
    )

    data = json.loads(json.dumps(report.to_dict()))

    assert data["attributable_total"] == {"CNY": 621.0}
    assert data["findings"]


def test_analyse_billing_naive_time_rejected() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        analyse_billing([], window_start=datetime(2026, 11, 20))
