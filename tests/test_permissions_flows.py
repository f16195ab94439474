"""The per-flow task tables of ``akresponder.permissions`` match the flows' code.

``minimal_policy`` is built from ``FLOW_TASKS`` and ``FLOW_DIRECT_ACTIONS``, not from
every task in ``tasks/``. These tests scan each flow's modules for task calls (the
same ``from tasks import ram as ram_tasks`` ... ``ram_tasks.list_users(`` pattern the
README table test uses) and for the sweep's direct RAM calls, so that a new call
fails here until its table entry exists, and a stale entry fails too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from akresponder.cli import main
from akresponder.permissions import (
    DEFAULT_DENY_POLICY_NAME,
    FLOW_DIRECT_ACTIONS,
    FLOW_TASKS,
    FLOWS,
    minimal_policy,
    parse_flows,
    registered,
)

REPO = Path(__file__).resolve().parent.parent
# The modules whose cloud calls each flow makes. The alert intake starts response
# runs and calls no cloud API itself.
FLOW_MODULES: dict[str, tuple[str, ...]] = {
    "respond": (
        "akresponder/triage.py",
        "akresponder/paths.py",
        "akresponder/investigation.py",
        "akresponder/evidence_collect.py",
        "flows/respond.py",
        "flows/related.py",
    ),
    "undo": ("flows/undo.py",),
    "sweep": (
        "akresponder/sweep.py",
        "akresponder/sweep_collect.py",
        "flows/sweep.py",
        "flows/sweep_tasks.py",
    ),
}
_IMPORT = re.compile(r"from tasks import (\w+) as (\w+)")
_USES_TASKS = re.compile(r"^\s*(?:from tasks[ .]|import tasks\b)", re.MULTILINE)
# The sweep's RAM calls: self._body("ListUsers", ...) and self.call("GetLoginProfile",
# ...) in akresponder/sweep_collect.py.
_DIRECT_CALL = re.compile(r"self\.(?:_body|call)\(\s*\"([A-Z]\w+)\"")


def _task_calls(relative: str) -> set[str]:
    source = (REPO / relative).read_text(encoding="utf-8")
    calls = set()
    for module, alias in _IMPORT.findall(source):
        for name in re.findall(rf"\b{alias}\.([a-z_]+)(?:\.fn)?\(", source):
            calls.add(f"{module}.{name}")
    return calls


def _direct_actions(relative: str) -> set[str]:
    source = (REPO / relative).read_text(encoding="utf-8")
    return {f"ram:{action}" for action in _DIRECT_CALL.findall(source)}


@pytest.mark.parametrize("flow", FLOWS)
def test_flow_tasks_match_task_calls(flow: str) -> None:
    called = set()
    for relative in FLOW_MODULES[flow]:
        called |= _task_calls(relative)

    assert set(FLOW_TASKS.get(flow, ())) == called


@pytest.mark.parametrize("flow", FLOWS)
def test_flow_direct_actions_match_calls(flow: str) -> None:
    called = set()
    for relative in FLOW_MODULES[flow]:
        called |= _direct_actions(relative)

    assert set(FLOW_DIRECT_ACTIONS.get(flow, ())) == called


def test_flow_modules_cover_task_users() -> None:
    # Every module that imports from tasks/ belongs to a flow, or its calls would
    # reach no policy.
    listed = {relative for modules in FLOW_MODULES.values() for relative in modules}
    users = set()
    for folder in ("akresponder", "flows", "deployments", "blocks"):
        for path in (REPO / folder).rglob("*.py"):
            if _USES_TASKS.search(path.read_text(encoding="utf-8")):
                users.add(path.relative_to(REPO).as_posix())

    assert users - listed == set()


def test_flow_tasks_are_declared_tasks() -> None:
    declared = registered()
    for flow, tasks in FLOW_TASKS.items():
        for task in tasks:
            assert f"tasks.{task}" in declared, f"{flow}: {task}"


def test_minimal_policy_leaves_out_uncalled_writes() -> None:
    actions = {
        action
        for statement in minimal_policy()["Statement"]
        for action in statement["Action"]
    }

    for action in (
        "ram:DeleteUser",
        "ram:CreatePolicyVersion",
        "ram:DeletePolicyVersion",
        "ram:RemoveUserFromGroup",
        "ram:DeleteLoginProfile",
        "sts:AssumeRole",
        "bssapi:QueryBill",
        "ecs:DescribeRegions",
    ):
        assert action not in actions


def test_minimal_policy_narrows_deny_policy_actions() -> None:
    statements = minimal_policy()["Statement"]
    narrowed = [s for s in statements if s["Resource"] != "*"]

    assert narrowed == [
        {
            "Effect": "Allow",
            "Action": ["ram:CreatePolicy", "ram:DeletePolicy"],
            "Resource": f"acs:ram:*:*:policy/{DEFAULT_DENY_POLICY_NAME}",
        }
    ]
    for statement in statements:
        if statement["Resource"] == "*":
            assert "ram:CreatePolicy" not in statement["Action"]
            assert "ram:DeletePolicy" not in statement["Action"]


def test_minimal_policy_uses_given_deny_name() -> None:
    statements = minimal_policy(deny_policy_name="ir-deny")["Statement"]

    assert statements[-1]["Resource"] == "acs:ram:*:*:policy/ir-deny"


def test_minimal_policy_rejects_invalid_deny_name() -> None:
    with pytest.raises(ValueError) as caught:
        minimal_policy(deny_policy_name="bad name")

    assert "invalid deny policy name 'bad name'" in str(caught.value)


def test_minimal_policy_per_flow() -> None:
    def actions(*flows: str) -> set[str]:
        document = minimal_policy(flows=flows)
        return {a for statement in document["Statement"] for a in statement["Action"]}

    undo = actions("undo")
    sweep = actions("sweep")

    assert "ram:DeletePolicy" in undo
    assert "ram:CreateAccessKey" not in undo
    assert "ram:ListVirtualMFADevices" in sweep
    assert all(
        not action.startswith("ram:")
        or action.split(":")[1].startswith(("List", "Get"))
        for action in sweep
    )
    default = minimal_policy()["Statement"]
    assert actions("respond", "undo", "sweep") == {
        action for statement in default for action in statement["Action"]
    }


def test_parse_flows_rejects_unknown_flow() -> None:
    with pytest.raises(ValueError) as caught:
        parse_flows("respond,alert")

    assert "invalid flow list 'respond,alert'" in str(caught.value)
    assert parse_flows("undo, respond") == ("undo", "respond")


def test_cli_policy_for_some_flows(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["policy", "--flows", "sweep"])

    printed = json.loads(capsys.readouterr().out)
    assert status == 0
    assert printed == minimal_policy(flows=("sweep",))


def test_cli_policy_invalid_flow_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["policy", "--flows", "everything"])

    assert status == 2
    assert "invalid flow list 'everything'" in capsys.readouterr().err


def test_default_deny_name_matches_settings() -> None:
    from blocks.settings import ResponderSettings

    default = ResponderSettings.model_fields["deny_policy_name"].default

    assert default == DEFAULT_DENY_POLICY_NAME
