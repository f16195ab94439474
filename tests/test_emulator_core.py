"""Core emulator tests through the real SDKs: dispatch and authentication."""

from __future__ import annotations

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_tea_openapi.exceptions import ClientException

from emulator.testing import RunningEmulator, start_emulator_process
from tests.helpers import APP_BACKEND, RESPONDER, ram_client


def test_acs3_signature_accepted(emulator: RunningEmulator) -> None:
    client = ram_client(emulator, *RESPONDER)
    response = client.list_users(ram_models.ListUsersRequest())
    names = [user.user_name for user in response.body.users.user]
    assert "app-backend" in names
    assert response.body.request_id


def test_v2_signature_accepted(emulator: RunningEmulator) -> None:
    client = ram_client(emulator, *RESPONDER, signature_algorithm="v2")
    response = client.get_user(ram_models.GetUserRequest(user_name="alice"))
    assert response.body.user.user_id == "200000000000000004"


def test_wrong_secret_rejected(emulator: RunningEmulator) -> None:
    client = ram_client(emulator, RESPONDER[0], "not-the-secret")
    with pytest.raises(ClientException) as caught:
        client.list_users(ram_models.ListUsersRequest())
    assert caught.value.code == "SignatureDoesNotMatch"
    assert caught.value.status_code == 400
    assert "server string to sign is:ACS3-HMAC-SHA256" in caught.value.message


def test_implicit_deny_names_permission(emulator: RunningEmulator) -> None:
    client = ram_client(emulator, *APP_BACKEND)
    with pytest.raises(ClientException) as caught:
        client.delete_user(ram_models.DeleteUserRequest(user_name="alice"))
    assert caught.value.code == "NoPermission"
    assert caught.value.status_code == 403
    assert "ram:DeleteUser" in caught.value.message
    assert "alice" in emulator.cloud.users


def test_serve_prints_listening_line(basic_scenario) -> None:
    with start_emulator_process(basic_scenario) as process:
        assert process.url.startswith("http://127.0.0.1:")
        assert process.control("GET", "health")["status"] == "ok"
