"""A two-level chain of minted keys, followed to its end by the response.

In tests/scenarios/lineage-chain.json app-backend's leaked key creates user
svc-sync with a key (B) from 203.0.113.66, and B's key creates user svc-report with
a key (C). The response to app-backend's key must put all three keys in the lineage
graph and, with auto-approve, start a child response that deletes B and C.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.investigation_support import SCENARIOS, present, serve
from tests.respond_support import APP_KEY, respond

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

B_KEY = "LTAI5tCHAINUSERB00000001"
C_KEY = "LTAI5tCHAINUSERC00000001"


def test_lineage_chain_each_key_gets_a_response(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scenario = present(json.loads((SCENARIOS / "lineage-chain.json").read_text()))
    with serve(monkeypatch, scenario) as running:
        report = respond(
            tmp_path, APP_KEY, rotatable_now="no", approval={"auto_approve": True}
        )

        lineage = report["investigation"]["lineage"]
        keys = {node["label"]: node for node in lineage["nodes"]
                if node["type"] == "access_key"}  # fmt: skip
        assert set(keys) == {APP_KEY, B_KEY, C_KEY}
        assert keys[APP_KEY]["depth"] == 0
        assert keys[B_KEY]["depth"] == 1
        assert keys[C_KEY]["depth"] == 2
        assert keys[B_KEY]["response"] == "disable_and_delete_key"
        assert keys[C_KEY]["response"] == "disable_and_delete_key"
        created = {(edge["source"], edge["target"]) for edge in lineage["edges"]
                   if edge["relation"] == "created_key"}  # fmt: skip
        assert (f"key:{APP_KEY}", f"key:{B_KEY}") in created
        assert (f"key:{B_KEY}", f"key:{C_KEY}") in created

        assert report["decision"]["path"] == "contain"
        related = {
            item["access_key_id"]: item for item in report["related_credentials"]
        }
        for key in (B_KEY, C_KEY):
            response = related[key]["response"]
            assert response["status"] == "done", response
            assert response["mode"] == "delete"
            assert response["path"] == "delete"
            assert response["complete"] is True
            assert key not in running.cloud.access_keys
            child = json.loads(Path(response["report_path"]).read_text())
            assert child["access_key_id"] == key
            assert child["decision"]["path"] == "delete"
        started = [action for action in report["actions"]
                   if action["id"].startswith("respond-related-")]  # fmt: skip
        assert [action["status"] for action in started] == ["done", "done"]
        # The leaked key itself was contained, not deleted.
        assert APP_KEY in running.cloud.access_keys

        # A re-run of the incident starts no child response again.
        again = respond(
            tmp_path,
            APP_KEY,
            rotatable_now="no",
            approval={"auto_approve": True},
            incident_id=report["incident_id"],
        )
        responses = [
            item["response"]
            for item in again["related_credentials"]
            if item["access_key_id"] in (B_KEY, C_KEY)
        ]
        assert len(responses) == 2
        for response in responses:
            assert response["detail"].startswith("Started in an earlier run")
