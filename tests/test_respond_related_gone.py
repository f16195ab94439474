"""Next steps of a response whose attacker-made keys no longer exist.

In tests/scenarios/lineage-chain.json app-backend's leaked key creates user
svc-sync with a key (B), and B creates user svc-report with a key (C). Here both
users are gone before the response starts, so neither key needs a response: the
report keeps them in the lineage and the actions, but lists no step for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.investigation_support import SCENARIOS, present, serve
from tests.respond_support import APP_KEY, actions_by_id, respond

B_KEY = "LTAI5tCHAINUSERB00000001"
C_KEY = "LTAI5tCHAINUSERC00000001"


@pytest.mark.usefixtures("prefect_harness")
def test_respond_gone_related_keys_not_next_steps(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scenario = present(json.loads((SCENARIOS / "lineage-chain.json").read_text()))
    scenario["users"] = [
        user
        for user in scenario["users"]
        if user["UserName"] not in ("svc-sync", "svc-report")
    ]
    with serve(monkeypatch, scenario):
        report = respond(
            tmp_path, APP_KEY, rotatable_now="no", approval={"auto_approve": True}
        )

        related = {
            item["access_key_id"]: item for item in report["related_credentials"]
        }
        actions = actions_by_id(report)
        for key in (B_KEY, C_KEY):
            assert related[key]["response"]["status"] == "skipped"
            assert "no longer exists" in related[key]["response"]["detail"]
            assert actions[f"respond-related-{key.lower()}"]["status"] == "skipped"
            assert not any(key in step for step in report["next_steps"])
        nodes = report["investigation"]["lineage"]["nodes"]
        labels = {node["label"] for node in nodes if node["type"] == "access_key"}
        assert {B_KEY, C_KEY} <= labels
        assert report["complete"] is True, report["next_steps"]
