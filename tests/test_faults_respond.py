"""The response under throttling, 5xx errors, latency and dropped connections.

A clean run of each path (contain, rotate, delete) records, in the emulator's request
log, every API action the responder calls. The faulted runs then make the first calls
of every one of those actions fail in one way, or one action at a time. Each run must
end in the right cloud state with every action once: no second policy, no second new
key, each step once in the report. Otherwise it must fail with a ``CloudError`` that
names the failed API, and a plain re-run then finishes the job without repeating a
step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from akresponder.errors import CloudError
from emulator import registry
from tests.fault_support import (
    PATHS,
    WRITES,
    check_final_state,
    path_actions,
)
from tests.respond_support import respond, responder_emulator

pytestmark = pytest.mark.usefixtures("prefect_harness")

# How each fault kind is written as a rule, and whether a run under it must finish
# by itself. A throttled call and a 503 were not acted on, so even a call that
# creates something is retried. After a dropped connection or a 500 the service may
# have acted, so such a call is not resent and the run must fail instead.
FAULTS: dict[str, tuple[dict[str, Any], bool]] = {
    "throttle": ({"kind": "throttle", "count": 2}, True),
    "throttle-retry-after": (
        {"kind": "throttle", "count": 2, "retry_after_ms": 30},
        True,
    ),
    "error-503": ({"kind": "error", "count": 2}, True),
    "error-500": (
        {"kind": "error", "count": 1, "status": 500, "code": "InternalError"},
        False,
    ),
    "latency": ({"kind": "latency", "count": 2, "latency_ms": 40}, True),
    "drop": ({"kind": "drop", "count": 1}, False),
}
NON_IDEMPOTENT = {"CreatePolicy", "CreateAccessKey", "DeleteAccessKey"}

_clean_actions: dict[str, list[tuple[str, str]]] = {}


def run_path(tmp_path: Path, path: str) -> dict[str, Any]:
    settings = dict(PATHS[path])
    key = settings.pop("key")
    return respond(tmp_path, key, **settings)


def clean_actions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str) -> list:
    """Return the (service, action) pairs a clean run of ``path`` calls (cached)."""
    if path not in _clean_actions:
        with responder_emulator(monkeypatch) as running:
            report = run_path(tmp_path / "clean", path)
            check_final_state(running, path, report, tmp_path / "clean" / "secrets")
            _clean_actions[path] = path_actions(running)
    return _clean_actions[path]


def rules_for(actions: list[tuple[str, str]], rule: dict[str, Any]) -> list[dict]:
    """One rule per action. SLS rules fire once: the SLS SDK itself resends a 5xx
    up to ten times with one-second sleeps."""
    rules = []
    for service, action in actions:
        count = 1 if service == "sls" and "count" in rule else rule.get("count")
        rules.append({"service": service, "action": action, **rule, "count": count})
    return rules


def run_until_done(
    tmp_path: Path, path: str, *, allowed_failures: int
) -> tuple[dict[str, Any], list[CloudError]]:
    """Run the path, and run it again after each failure, as an operator would.

    Every failed run must raise a ``CloudError`` for a call that creates or deletes
    something and was not resent, and its report must be incomplete and name the
    failed API. Returns the final report and the errors of the failed runs.
    """
    failures: list[CloudError] = []
    while True:
        try:
            return run_path(tmp_path, path), failures
        except CloudError as error:
            failures.append(error)
        assert len(failures) <= allowed_failures, [str(item) for item in failures]
        error = failures[-1]
        assert error.code in ("ConnectionDropped", "InternalError"), str(error)
        assert error.api.split(":")[1] in NON_IDEMPOTENT, str(error)
        crashed = json.loads((tmp_path / "report.json").read_text())
        failed = [
            action["api"]
            for action in crashed["actions"]
            if action["status"] == "failed"
        ]
        assert crashed["complete"] is False
        assert error.api in failed or error.api in crashed["next_steps"][0]


# The kinds that fail a run take two to four runs, so they are the slow ones.
KINDS = [
    pytest.param(kind, marks=[] if FAULTS[kind][1] else [pytest.mark.slow])
    for kind in sorted(FAULTS)
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", sorted(PATHS))
def test_faults_every_action_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str, kind: str
) -> None:
    actions = clean_actions(monkeypatch, tmp_path, path)
    rule, finishes = FAULTS[kind]

    with responder_emulator(monkeypatch) as running:
        running.control("POST", "faults", rules_for(actions, rule))
        allowed = 0 if finishes else len(WRITES[path])
        report, failures = run_until_done(tmp_path, path, allowed_failures=allowed)

        rules = running.control("GET", "faults")["rules"]
        assert [item for item in rules if item["fired"] == 0] == []
        assert len({error.api for error in failures}) == len(failures)
        check_final_state(running, path, report, tmp_path / "secrets")


# The write calls of each path. Each is dropped alone below. Reads are retried, and
# every read is dropped once by test_faults_every_action_at_once.
ONE_ACTION: dict[str, list[str]] = {
    "contain": ["CreatePolicy", "AttachPolicyToUser", "UpdateLoginProfile"],
    "rotate": ["CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey"],
    "delete": ["UpdateAccessKey", "DeleteAccessKey"],
}


def _write_actions() -> set[str]:
    import emulator.services  # noqa: F401 - registers every service's actions

    return {
        spec.action
        for spec in registry.POP_ACTIONS.values()
        if spec.event_rw == "Write"
    }


@pytest.mark.parametrize("path", sorted(PATHS))
def test_faults_clean_writes_listed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str
) -> None:
    called = {action for _, action in clean_actions(monkeypatch, tmp_path, path)}

    assert called & _write_actions() == set(ONE_ACTION[path])
    assert set(WRITES[path]) == set(ONE_ACTION[path])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "action"),
    [(path, action) for path, actions in ONE_ACTION.items() for action in actions],
)
def test_faults_one_action_dropped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str, action: str
) -> None:
    with responder_emulator(monkeypatch) as running:
        running.control(
            "POST", "faults", {"action": action, "kind": "drop", "count": 1}
        )
        report, failures = run_until_done(tmp_path, path, allowed_failures=1)

        if action in NON_IDEMPOTENT:
            assert len(failures) == 1, "a call that creates or deletes was resent"
            assert failures[0].code == "ConnectionDropped"
            assert failures[0].api.endswith(f":{action}")
            assert action in str(failures[0])
        else:
            assert failures == []
        check_final_state(running, path, report, tmp_path / "secrets")
