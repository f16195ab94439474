"""The README's playbook table matches the permissions the tasks declare.

Each row names a task and the RAM permissions it needs; ``@requires`` in ``tasks/``
is the source of truth, and ``akresponder policy`` is built from it. The second test
scans the modules of the response and the undo for task calls, so that a new call
without a row fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from akresponder.permissions import registered

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
# Modules whose task calls the table lists, and what their stage is.
STAGE_MODULES = (
    "akresponder/triage.py",
    "akresponder/paths.py",
    "akresponder/investigation.py",
    "akresponder/evidence_collect.py",
    "flows/respond.py",
    "flows/related.py",
    "flows/undo.py",
)
_ROW = re.compile(r"^\| ([^|]+) \| `([a-z_]+\.[a-z_]+)` \| ([^|]+) \|$")
_IMPORT = re.compile(r"from tasks import (\w+) as (\w+)")


def playbook_rows() -> list[tuple[str, str, set[str]]]:
    """Return (stage, task, permissions) for each row of the playbook table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Playbook stages", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = _ROW.match(line.strip())
        if match:
            stage, task, cell = match.groups()
            permissions = set(re.findall(r"`([a-z]+:[A-Za-z]+)`", cell))
            rows.append((stage.strip(), task, permissions))
    return rows


def test_readme_playbook_rows_match_declarations() -> None:
    declared = registered()
    rows = playbook_rows()

    assert len(rows) > 20
    for stage, task, permissions in rows:
        name = f"tasks.{task}"
        assert name in declared, f"{stage}: {task} is not a task with @requires"
        assert permissions == set(declared[name]), f"{stage}: {task}"


def test_readme_playbook_lists_every_task_call() -> None:
    listed = {task for _, task, _ in playbook_rows()}
    missing = []

    for relative in STAGE_MODULES:
        path = REPO / relative
        if not path.exists():
            continue
        source = path.read_text(encoding="utf-8")
        aliases = {alias: module for module, alias in _IMPORT.findall(source)}
        for alias, module in aliases.items():
            calls = re.findall(rf"\b{alias}\.([a-z_]+)(?:\.fn)?\(", source)
            for name in calls:
                if f"{module}.{name}" not in listed:
                    missing.append(f"{relative}: {module}.{name}")

    assert missing == []


def test_readme_deployment_run_parameters_valid() -> None:
    from flows.respond import ResponseRequest

    text = README.read_text(encoding="utf-8")
    match = re.search(r"--params '(\{.+?\})'", text)
    assert match, "no prefect deployment run --params example in the README"

    params = json.loads(match.group(1))["params"]
    request = ResponseRequest(**params)

    assert request.access_key_id == "LTAI5tCIDEPLOY000000001A"


@pytest.mark.parametrize(
    "link",
    sorted(set(re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README.read_text()))),
)
def test_readme_links_exist(link: str) -> None:
    assert (REPO / link).exists(), link
