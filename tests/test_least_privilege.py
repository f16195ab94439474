"""The response runs with only ``minimal_policy()`` and names any permission it lacks.

The responder user ``ir-responder`` of the base scenario gets one custom policy, the
document ``akresponder policy`` prints, instead of AdministratorAccess. Each path
(contain, rotate, delete) must then succeed. ``PATH_PERMISSIONS`` lists the RAM actions
each path uses. A test compares it with the request log of a clean run, so the table
fails loudly when the flow starts using another API. For each of those permissions,
a run with it removed must name it in the report: a failed run in its failed step
and in the ``CloudError``, a finished run in a coverage gap or a note.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from akresponder.errors import CloudError
from akresponder.permissions import minimal_policy, permission_for
from emulator import registry
from emulator.testing import RunningEmulator, start_emulator
from tests.respond_support import (
    APP_KEY,
    CI_KEY_A,
    RESPONDER_KEY,
    RESPONDER_SECRET,
    event,
    present_scenario,
    respond,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")

POLICY_NAME = "akresponder-responder"
# The app-backend key, used from a second address besides its usual 198.51.100.10,
# so that the triage chooses rotation when the applications can take a new key.
SECOND_PLACE = [
    event(1, "DescribeInstances", ip="203.0.113.77", when="2026-11-19T10:00:00Z"),
    event(2, "DescribeInstances", ip="203.0.113.77", when="2026-11-19T11:00:00Z"),
]
PATHS: dict[str, dict[str, Any]] = {
    "contain": {"key": APP_KEY, "rotatable_now": "no"},
    "rotate": {
        "key": APP_KEY,
        "rotatable_now": "yes",
        "approval": {"auto_approve": True},
        "extra_events": SECOND_PLACE,
    },
    "delete": {"key": CI_KEY_A, "approval": {"auto_approve": True}},
}
# The RAM actions each path's calls need, learnt from the request log of a clean run.
# The triage and the investigation read the same things on every path, except that
# ListUsers is needed only when ActionTrail's last-use record names no owner (the
# unused ci-deploy key), ListPoliciesForGroup only for an owner in a group, and
# DescribeInstances only for a key whose events touched ECS.
TRIAGE_READS = {
    "actiontrail:DescribeTrails",
    "actiontrail:GetAccessKeyLastUsedInfo",
    "actiontrail:GetAccessKeyLastUsedProducts",
    "actiontrail:LookupEvents",
    "bssapi:QueryInstanceBill",
    "log:GetLogStore",
    "log:GetLogStoreHistogram",
    "log:GetLogStoreLogs",
    "ram:GetAccessKeyLastUsed",
    "ram:GetLoginProfile",
    "ram:GetPolicy",
    "ram:GetUser",
    "ram:GetUserMFAInfo",
    "ram:ListAccessKeys",
    "ram:ListGroupsForUser",
    "ram:ListPoliciesForUser",
}
PATH_PERMISSIONS: dict[str, set[str]] = {
    "contain": TRIAGE_READS
    | {
        "actiontrail:GetAccessKeyLastUsedIps",
        "ecs:DescribeInstances",
        "ram:ListPoliciesForGroup",
        "ram:CreatePolicy",
        "ram:AttachPolicyToUser",
        "ram:UpdateLoginProfile",
    },
    "rotate": TRIAGE_READS
    | {
        "actiontrail:GetAccessKeyLastUsedIps",
        "ecs:DescribeInstances",
        "ram:ListPoliciesForGroup",
        "ram:CreateAccessKey",
        "ram:UpdateAccessKey",
        "ram:DeleteAccessKey",
    },
    "delete": TRIAGE_READS
    | {"ram:ListUsers", "ram:UpdateAccessKey", "ram:DeleteAccessKey"},
}


def _removals() -> list[tuple[str, str]]:
    """List (path, permission) pairs to remove, each read once and every write.

    A read is removed on the first path that uses it. A path's own writes are
    removed on that path, because a missing write fails differently on each.
    """
    removals: list[tuple[str, str]] = []
    for path in ("contain", "rotate", "delete"):
        for permission in sorted(PATH_PERMISSIONS[path]):
            action = permission.split(":")[1]
            writes = action.startswith(("Create", "Attach", "Update", "Delete"))
            if writes or not any(item[1] == permission for item in removals):
                removals.append((path, permission))
    return removals


def _policy_document(without: str | None = None) -> str:
    import flows.undo  # noqa: F401 - registers the DeletePolicy task's permission

    document = copy.deepcopy(minimal_policy())
    for statement in document["Statement"]:
        statement["Action"] = [
            action for action in statement["Action"] if action != without
        ]
    document["Statement"] = [item for item in document["Statement"] if item["Action"]]
    return json.dumps(document)


@contextmanager
def least_privilege_emulator(
    monkeypatch: pytest.MonkeyPatch,
    *,
    without: str | None = None,
    extra_events: list[dict[str, Any]] | None = None,
) -> Iterator[RunningEmulator]:
    """Serve the present base scenario with the responder on the minimal policy."""
    scenario = present_scenario(extra_events)
    scenario["policies"].append(
        {
            "PolicyName": POLICY_NAME,
            "Description": "akresponder policy",
            "PolicyDocument": _policy_document(without),
        }
    )
    for user in scenario["users"]:
        if user["UserName"] == "ir-responder":
            user["Policies"] = [{"PolicyName": POLICY_NAME, "PolicyType": "Custom"}]
    with start_emulator(scenario, config={"lookup_events_rate_limit": None}) as running:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", RESPONDER_KEY)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", RESPONDER_SECRET)
        monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
        monkeypatch.setenv("AKRESPONDER_ENDPOINT", running.url)
        monkeypatch.setenv("AKRESPONDER_ACTIONTRAIL_RPS", "1000")
        yield running


def _used_permissions(running: RunningEmulator) -> set[str]:
    """Return the RAM actions of the responder's calls in the request log."""
    import emulator.services  # noqa: F401 - registers every service's actions

    by_action = {
        (spec.product, spec.action): spec.auth_action
        for spec in registry.POP_ACTIONS.values()
    }
    used = set()
    for entry in running.control("GET", "requests")["requests"]:
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


def _run_path(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    path: str,
    without: str | None = None,
) -> tuple[set[str], dict[str, Any] | CloudError]:
    """Run one path; return the permissions used and the report or the error."""
    settings = dict(PATHS[path])
    key = settings.pop("key")
    extra_events = settings.pop("extra_events", None)
    with least_privilege_emulator(
        monkeypatch, without=without, extra_events=extra_events
    ) as running:
        try:
            outcome: dict[str, Any] | CloudError = respond(tmp_path, key, **settings)
        except CloudError as error:
            outcome = error
        return _used_permissions(running), outcome


@pytest.mark.parametrize("path", sorted(PATHS))
def test_least_privilege_path_succeeds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str
) -> None:
    used, outcome = _run_path(monkeypatch, tmp_path, path)

    assert isinstance(outcome, dict), outcome
    assert outcome["decision"]["path"] == path
    assert outcome["complete"] is True, outcome["next_steps"]
    assert {action["status"] for action in outcome["actions"]} <= {"done", "skipped"}
    failed = [
        item for item in outcome["coverage"]["sources"] if item["status"] == "failed"
    ]
    assert failed == []
    assert used == PATH_PERMISSIONS[path]


@pytest.mark.parametrize(("path", "permission"), _removals())
def test_least_privilege_missing_permission_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str, permission: str
) -> None:
    used, outcome = _run_path(monkeypatch, tmp_path, path, without=permission)

    report_file = tmp_path / "report.json"
    assert report_file.exists()
    places = _places_naming(json.loads(report_file.read_text()), permission)
    assert places, f"the report names {permission} nowhere"
    if isinstance(outcome, CloudError):
        assert permission in str(outcome)
        assert json.loads(report_file.read_text())["complete"] is False
        assert any(place.startswith(("actions", "next_steps")) for place in places)


def _places_naming(document: Any, text: str, path: str = "") -> list[str]:
    """Return the JSON paths of the strings in ``document`` that contain ``text``."""
    if isinstance(document, dict):
        return [
            place
            for key, value in document.items()
            for place in _places_naming(value, text, f"{path}.{key}".lstrip("."))
        ]
    if isinstance(document, list):
        return [
            place
            for index, value in enumerate(document)
            for place in _places_naming(value, text, f"{path}[{index}]")
        ]
    return [path] if isinstance(document, str) and text in document else []
