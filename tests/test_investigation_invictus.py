"""The response flow on real attack data: the invictus-ir Stratus Red Team run.

The shipped scenario (emulator/scenarios/invictus-attack.json, the leaked key of
``bert-jan``, see emulator/scenarios/SOURCE.md) is moved to the present and served
by the emulator. A response in contain mode must find every technique that
``TECHNIQUES`` lists, reading the events through LookupEvents and the trail's SLS
logstore, and leave ``benjamin`` (a bystander) out of the lineage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from akresponder.analysis import FINDING_KINDS
from akresponder.analysis import Finding as AnalysisFinding
from tests.investigation_support import invictus_scenario, serve
from tests.respond_support import respond
from tests.test_analysis_invictus import TECHNIQUES

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

LEAKED_KEY = "LTAI5tbuZIjVAVKRpqJhK7px"
BYSTANDER_KEYS = ("LTAI5t0QkiR7lshSFIUVWcUG", "LTAI5t9NmmpnrCTHgBVcFqu5")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    monkeypatch = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("invictus")
    try:
        with serve(monkeypatch, invictus_scenario()):
            yield respond(folder, LEAKED_KEY, mode="contain")
    finally:
        monkeypatch.undo()


def _findings(report: dict[str, Any]) -> list[AnalysisFinding]:
    return [
        AnalysisFinding.model_validate(
            {
                key: value
                for key, value in item.items()
                if key in AnalysisFinding.model_fields
            }
        )
        for item in report["findings"]
        if item["kind"] in FINDING_KINDS
    ]


@pytest.mark.parametrize("technique", sorted(TECHNIQUES))
def test_investigation_invictus_technique_found(
    report: dict[str, Any], technique: str
) -> None:
    kind, shows = TECHNIQUES[technique]

    candidates = [item for item in _findings(report) if item.kind == kind]

    assert candidates, f"no {kind} finding for {technique}"
    assert any(shows(item) for item in candidates), technique


def test_investigation_invictus_both_routes_read(report: dict[str, Any]) -> None:
    counts = report["investigation"]["events_by_source"]
    sls = [entry for entry in report["coverage"]["sources"] if entry["source"] == "sls"]

    assert report["decision"]["path"] == "contain"
    assert counts["both"] > 1000
    assert counts["both"] == counts["actiontrail"]
    assert sls and all(entry["status"] == "complete" for entry in sls)


def test_investigation_invictus_bystander_untouched(report: dict[str, Any]) -> None:
    suspects = report["investigation"]["suspect_access_key_ids"]
    nodes = {node["id"] for node in report["investigation"]["lineage"]["nodes"]}

    assert LEAKED_KEY in suspects
    for key in BYSTANDER_KEYS:
        assert key not in suspects
    assert "user:benjamin" not in nodes


def test_investigation_invictus_deleted_keys_not_responded(
    report: dict[str, Any],
) -> None:
    """The simulation deleted the users it created, so their keys need no response."""
    minted = [
        item
        for item in report["related_credentials"]
        if item["relation"] == "created-by-compromised-key"
    ]

    assert minted
    for item in minted:
        assert item["response"]["status"] == "skipped"
        assert "was deleted" in item["response"]["detail"]
