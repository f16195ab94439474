"""Undo and the sweep run with only ``minimal_policy()`` and need no more than theirs.

The responder user of the base scenario has only the policy that
``akresponder policy`` prints. Undo reverts a containment, and the sweep assesses
every key of the account. Each must complete, and the RAM actions of its calls in
the emulator's request log must be inside the policy of that flow alone
(``akresponder policy --flows undo`` or ``--flows sweep``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from akresponder.permissions import minimal_policy, permission_for
from emulator import registry
from emulator.testing import RunningEmulator
from tests.respond_support import APP_KEY, RESPONDER_KEY, respond
from tests.test_least_privilege import least_privilege_emulator

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def _flow_actions(flow: str) -> set[str]:
    document = minimal_policy(flows=(flow,))
    return {
        action for statement in document["Statement"] for action in statement["Action"]
    }


def _permissions_since(running: RunningEmulator, first: int) -> set[str]:
    """Return the RAM actions of the responder's requests from index ``first`` on."""
    import emulator.services  # noqa: F401 - registers every service's actions

    by_action = {
        (spec.product, spec.action): spec.auth_action
        for spec in registry.POP_ACTIONS.values()
    }
    used = set()
    for entry in _requests(running)[first:]:
        if entry["access_key_id"] != RESPONDER_KEY:
            continue
        service, action = entry["service"], entry["action"]
        if service == "sls":
            permission = permission_for(f"sls:{action}")
        else:
            permission = by_action[(service, action)]
        if permission:
            used.add(permission)
    return used


def _requests(running: RunningEmulator) -> list[dict[str, Any]]:
    return running.control("GET", "requests")["requests"]


def test_least_privilege_undo_completes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from flows.undo import undo_response

    with least_privilege_emulator(monkeypatch) as running:
        report = respond(tmp_path, APP_KEY, rotatable_now="no")
        first = len(_requests(running))
        result = undo_response(
            str(tmp_path / "report.json"),
            auto_approve=True,
            state_dir=str(tmp_path / "state"),
        )
        used = _permissions_since(running, first)

    assert report["decision"]["path"] == "contain"
    assert result["complete"] is True
    assert {action["status"] for action in result["actions"]} <= {"done", "skipped"}
    assert "ram:DeletePolicy" in used
    assert used <= _flow_actions("undo")


def test_least_privilege_sweep_completes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from flows.sweep import SweepRequest, sweep_all_keys

    with least_privilege_emulator(monkeypatch) as running:
        document = sweep_all_keys(
            SweepRequest(report_path=str(tmp_path / "sweep.json"))
        )
        used = _permissions_since(running, 0)

    assert document["complete"] is True
    assert document["totals"]["users_assessed"] == document["totals"]["users_listed"]
    assert "ram:ListVirtualMFADevices" in used
    assert used <= _flow_actions("sweep")
