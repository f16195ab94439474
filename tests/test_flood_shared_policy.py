"""Responses for several keys share one deny policy; a race to create it is harmless.

During a flood, two responses can both find the policy missing and both call
CreatePolicy; RAM then rejects the later call with EntityAlreadyExists.Policy. The
emulator reproduces that order here: the policy exists, and a fault makes every
GetPolicy call report it missing, as a check made just before the other response
created it would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alibabacloud_ram20150501 import models as ram_models

from blocks.settings import ResponderSettings
from tests.respond_support import (
    APP_KEY,
    RESPONDER_KEY,
    RESPONDER_SECRET,
    actions_by_id,
    ram_client,
    respond,
    responder_emulator,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_deny_policy_created_elsewhere_is_reused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = ResponderSettings()
    with responder_emulator(monkeypatch) as running:
        ram_client(running, RESPONDER_KEY, RESPONDER_SECRET).create_policy(
            ram_models.CreatePolicyRequest(
                policy_name=settings.deny_policy_name,
                policy_document=settings.deny_policy_text(),
            )
        )
        running.control(
            "POST",
            "faults",
            {
                "service": "ram",
                "action": "GetPolicy",
                "kind": "error",
                "status": 404,
                "code": "EntityNotExist.Policy",
                "message": "The policy does not exist.",
            },
        )

        report = respond(tmp_path, APP_KEY)

        actions = actions_by_id(report)
        user = running.cloud.users["app-backend"]
        assert report["decision"]["path"] == "contain"
        assert actions["create-deny-policy"]["status"] == "done"
        assert "created by another response" in actions["create-deny-policy"]["detail"]
        assert actions["attach-deny-policy"]["status"] == "done"
        assert any(
            attachment.policy_name == settings.deny_policy_name
            for attachment in user.policies
        )
