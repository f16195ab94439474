"""A smaller run of bench/detection_quality.py must meet its targets.

The run covers two weeks of the owner's ordinary use, the replayed full attack from
another address, and the response flow. Findings must name at least 95% of the
attack's events, and at least 90% of the events they name must be the attack's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.detection_quality import (
    ATTACKER_IP,
    PRECISION_TARGET,
    RECALL_TARGET,
    run_detection_quality,
)

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

CREDENTIAL_VARIABLES = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "AKRESPONDER_ENDPOINT",
    "AKRESPONDER_ACTIONTRAIL_RPS",
)


def test_detection_quality_meets_targets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The run sets these for the response flow; monkeypatch restores them after.
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.setenv(name, "")

    score, report = run_detection_quality(weeks=2, per_day=40, seed=5, folder=tmp_path)

    assert score.attack_events >= 15
    assert score.owner_events > 300
    assert score.recall >= RECALL_TARGET, score
    assert score.precision >= PRECISION_TARGET, score
    investigation = report["investigation"]
    assert investigation["incident_start_source"] == "estimated"
    assert ATTACKER_IP in investigation["incident_start_reason"]
