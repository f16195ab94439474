"""Paths, expected outcomes and checks shared by the fault tests.

Every check reads the emulator's live ``Cloud`` and its request log, so a run that
reports success while the cloud disagrees fails here.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from emulator.testing import RunningEmulator
from tests.respond_support import (
    APP_KEY,
    CI_KEY_A,
    CI_KEY_B,
    RESPONDER_KEY,
)

DENY_POLICY = "akresponder-deny-high-risk"
PATHS: dict[str, dict[str, Any]] = {
    "contain": {"key": APP_KEY, "rotatable_now": "no"},
    "rotate": {
        "key": APP_KEY,
        "rotatable_now": "yes",
        "approval": {"auto_approve": True},
    },
    "delete": {"key": CI_KEY_A, "approval": {"auto_approve": True}},
}
# The report's action ids of each path, in order. The contain path proposes to
# detach app-backend-oss, which stays skipped without an approval for it.
ACTION_IDS: dict[str, list[str]] = {
    "contain": [
        "create-deny-policy",
        "attach-deny-policy",
        "detach-app-backend-oss",
        "require-mfa",
    ],
    "rotate": [
        "create-new-key",
        "confirm-rotation",
        "check-old-key-traffic",
        "disable-key",
        "delete-key",
    ],
    "delete": ["disable-key", "delete-key"],
}
# The successful write calls a complete run of each path makes, by action.
WRITES: dict[str, Counter[str]] = {
    "contain": Counter(
        {"CreatePolicy": 1, "AttachPolicyToUser": 1, "UpdateLoginProfile": 1}
    ),
    "rotate": Counter(
        {"CreateAccessKey": 1, "UpdateAccessKey": 1, "DeleteAccessKey": 1}
    ),
    "delete": Counter({"UpdateAccessKey": 1, "DeleteAccessKey": 1}),
}


def responder_calls(running: Any) -> list[dict[str, Any]]:
    """Return the request log entries signed with the responder's key."""
    entries = running.control("GET", "requests")["requests"]
    return [entry for entry in entries if entry["access_key_id"] == RESPONDER_KEY]


def path_actions(running: Any) -> list[tuple[str, str]]:
    """Return the distinct (service, action) pairs the responder called, in order."""
    seen: dict[tuple[str, str], None] = {}
    for entry in responder_calls(running):
        seen.setdefault((entry["service"], entry["action"]), None)
    return list(seen)


def successful_writes(running: Any) -> Counter[str]:
    """Count the responder's successful calls of the actions in ``WRITES``."""
    names = {name for counts in WRITES.values() for name in counts}
    return Counter(
        entry["action"]
        for entry in responder_calls(running)
        if entry["status"] == 200 and entry["action"] in names
    )


def check_final_state(
    running: RunningEmulator, path: str, report: dict[str, Any], secrets: Path
) -> None:
    """Assert the cloud, the report and the secret sink after a complete run."""
    cloud = running.cloud
    actions = {action["id"]: action for action in report["actions"]}
    assert [action["id"] for action in report["actions"]] == ACTION_IDS[path]
    assert report["complete"] is True, report["next_steps"]
    assert successful_writes(running) == WRITES[path]
    if path == "contain":
        user = cloud.users["app-backend"]
        attached = [item.policy_name for item in user.policies]
        assert attached.count(DENY_POLICY) == 1
        assert ("Custom", DENY_POLICY) in cloud.policies
        assert user.login_profile is not None
        assert user.login_profile.mfa_bind_required is True
        assert cloud.access_keys[APP_KEY].status == "Active"
        for action_id in ("create-deny-policy", "attach-deny-policy", "require-mfa"):
            assert actions[action_id]["status"] == "done"
    elif path == "rotate":
        keys = cloud.users["app-backend"].access_key_ids
        assert APP_KEY not in cloud.access_keys
        assert len(keys) == 1
        delivered = [json.loads(item.read_text()) for item in secrets.iterdir()]
        assert [item["AccessKeyId"] for item in delivered] == keys
        assert delivered[0]["AccessKeySecret"] == cloud.access_keys[keys[0]].secret
        assert all(action["status"] == "done" for action in report["actions"])
    else:
        assert CI_KEY_A not in cloud.access_keys
        assert CI_KEY_B in cloud.access_keys
        assert cloud.users["ci-deploy"].access_key_ids == [CI_KEY_B]
        assert all(action["status"] == "done" for action in report["actions"])
