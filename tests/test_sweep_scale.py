"""The sweep of a 2,000-user account with throttling injected, against the emulator."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.sweep_support import expected, flagged, sweep, sweep_account

pytestmark = pytest.mark.usefixtures("prefect_harness")

PLANTS = {
    "never-used": 3,
    "unused": 3,
    "rotation": 3,
    "two-active": 2,
    "root": 1,
    "created-by-key": 2,
    "new-ip": 2,
    "new-region": 1,
    "new-agent": 1,
    "console-no-mfa": 3,
    "recent-known": 2,
}
# Throttling from two sources: the emulator's RAM limit of 80 calls per second per
# action, which the client's 120 exceeds, and fault rules on top.
FAULTS = [
    {
        "service": "ram",
        "action": "GetAccessKeyLastUsed",
        "kind": "throttle",
        "rate": 0.03,
        "seed": 11,
    },
    {
        "service": "ram",
        "action": "ListAccessKeys",
        "kind": "error",
        "rate": 0.01,
        "seed": 5,
    },
    {"service": "ram", "action": "GetLoginProfile", "kind": "drop", "count": 3},
    {"service": "ram", "action": "ListUsers", "kind": "throttle", "count": 1},
]


@pytest.mark.slow
def test_sweep_2000_users_under_throttling(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with sweep_account(
        monkeypatch,
        tmp_path,
        users=2000,
        plants=PLANTS,
        faults=FAULTS,
        ram_rate_limit=80,
        lift_lookup_limit=False,
    ) as account:
        document = sweep(tmp_path, ram_calls_per_second=120)

        log = account.running.control("GET", "requests")["requests"]

    assert flagged(document) == expected(account.manifest)
    assert document["complete"] is True
    users = document["coverage"]["users"]
    assert users["listed"] == 2001
    assert users["assessed"] == 2001
    assert users["failed"] == 0
    assert users["list_pages"] == 3
    assert document["totals"]["keys"] == account.manifest["keys"]
    codes = Counter(
        (entry["action"], entry["error_code"])
        for entry in log
        if entry["service"] == "ram"
    )
    # No fault rule throttles ListAccessKeys, so these come from the rate limit.
    assert codes[("ListAccessKeys", "Throttling.User")] > 0
    assert codes[("GetAccessKeyLastUsed", "Throttling.User")] > 0
    assert codes[("ListAccessKeys", "ServiceUnavailable")] > 0
    assert codes[("GetLoginProfile", "Dropped")] == 3
    calls = document["coverage"]["api_calls"]
    assert calls["ram:GetAccessKeyLastUsed"]["retries"] > 0
    assert calls["ram:ListUsers"]["retries"] == 1
