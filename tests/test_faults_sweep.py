"""The sweep under throttling, 5xx errors, latency and dropped connections.

A clean sweep of a small generated account records every API action the sweep
calls. Each faulted sweep makes the first calls of every one of those actions fail in
one way. The sweep only reads, so every call may be resent. It must flag exactly the
keys the clean sweep flagged and report itself complete, or name each user it could
not assess. It must never report itself complete with a user missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.sweep_support import flagged, sweep, sweep_account

pytestmark = pytest.mark.usefixtures("prefect_harness")

PLANTS = {"unused": 1, "two-active": 1, "created-by-key": 1, "new-ip": 1}
USERS = 6
FAULTS: dict[str, dict[str, Any]] = {
    "throttle": {"kind": "throttle", "count": 2},
    "throttle-retry-after": {"kind": "throttle", "count": 2, "retry_after_ms": 30},
    "error-503": {"kind": "error", "count": 2},
    "error-500": {
        "kind": "error",
        "count": 1,
        "status": 500,
        "code": "InternalError",
    },
    "latency": {"kind": "latency", "count": 2, "latency_ms": 40},
    "drop": {"kind": "drop", "count": 1},
}

_clean: dict[str, Any] = {}


def clean_sweep(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """Return the actions and the flagged keys of a clean sweep (cached)."""
    if not _clean:
        folder = tmp_path / "clean"
        folder.mkdir()
        with sweep_account(monkeypatch, folder, users=USERS, plants=PLANTS) as account:
            document = sweep(folder)
            entries = account.running.control("GET", "requests")["requests"]
        assert document["complete"] is True
        actions: dict[tuple[str, str], None] = {}
        for entry in entries:
            actions.setdefault((entry["service"], entry["action"]), None)
        _clean.update(
            actions=list(actions), flagged=flagged(document), keys=len(document["keys"])
        )
    return _clean


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_faults_sweep_every_action(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    clean = clean_sweep(monkeypatch, tmp_path)
    rules = [
        {"service": service, "action": action, **FAULTS[kind]}
        for service, action in clean["actions"]
    ]

    with sweep_account(
        monkeypatch, tmp_path, users=USERS, plants=PLANTS, faults=rules
    ) as account:
        document = sweep(tmp_path)
        fired = account.running.control("GET", "faults")["rules"]

    assert [rule["action"] for rule in fired if rule["fired"] == 0] == []
    totals = document["totals"]
    if document["complete"]:
        assert document["failed_users"] == []
        assert totals["users_assessed"] == totals["users_listed"]
        assert flagged(document) == clean["flagged"]
        assert len(document["keys"]) == clean["keys"]
    else:
        failed = document["failed_users"]
        assert failed
        assert totals["users_assessed"] + len(failed) == totals["users_listed"]
        for item in failed:
            assert item.get("reason") or item.get("error"), item
    assert document["complete"] is True, document["failed_users"]
