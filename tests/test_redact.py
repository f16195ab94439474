"""Redaction of secrets in log records, messages, reports and Prefect's API logs."""

from __future__ import annotations

import logging

import pytest

from akresponder import redact
from akresponder.errors import CloudError

SECRET = "Rk7mQ2vX9pL4sT8wZ1nB6cY3dF5gH0"  # 30 characters


def test_redact_registered_secret_masked_everywhere() -> None:
    redact.register_secret(SECRET)
    text = f"got {SECRET} and again {SECRET}!"
    assert redact.scrub_text(text) == "got *** and again ***!"


def test_redact_short_values_not_registered() -> None:
    before = redact.registered_count()
    redact.register_secret("abc")
    redact.register_secret("")
    redact.register_secret(None)
    assert redact.registered_count() == before
    assert redact.scrub_text("abc is fine") == "abc is fine"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AccessKeySecret=abcDEF123456", "AccessKeySecret=***"),
        (
            '{"AccessKeySecret": "abcDEF123456", "x": 1}',
            '{"AccessKeySecret": "***", "x": 1}',
        ),
        ("access_key_secret='abcDEF123456'", "access_key_secret='***'"),
        ("x-acs-security-token: CAIS123abc+/=", "x-acs-security-token: ***"),
        ("SecurityToken=CAIStoken&Signature=x", "SecurityToken=***&Signature=x"),
        ("Password=hunter22 user=bob", "Password=*** user=bob"),
        ("password: 'two words'", "password: '***'"),
        ("--password=hunter22 --user bob", "--password=*** --user bob"),
        ("Password: hunter22 was rejected", "Password: *** was rejected"),
        ("passwd: hunter", "passwd: ***"),
        ('"SecurityToken":"CAIS123abc"}', '"SecurityToken":"***"}'),
        ("{'password': 'hunter22'}", "{'password': '***'}"),
        (
            "the secret is Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0, keep it",
            "the secret is ***, keep it",
        ),
    ],
)
def test_redact_secret_shaped_text(text: str, expected: str) -> None:
    assert redact.scrub_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "PasswordResetRequired=True MFABindRequired=False",
        "NextToken=eyJvZmZzZXQiOiAyfQ",
        "access_key_id=LTAI5tAPPBACKEND00000001 action=UpdateAccessKey",
        "passwd: is required for console login",
        "Reset the Password: the user must sign in again",
        "invalid AccessKey ID 'LTAI5t../../etc/passwd': expected 'LTAI' and digits",
        "invalid incident_id '../../etc/passwd: x'; use letters",
        "the passwd file was changed",
        'set "Password": "" to clear it',
    ],
)
def test_redact_leaves_ordinary_fields(text: str) -> None:
    assert redact.scrub_text(text) == text


def test_redact_scrub_removes_secret_fields() -> None:
    redact.register_secret(SECRET)  # the note's secret is masked only when known
    report = {
        "AccessKey": {
            "AccessKeyId": "LTAI5tAPPBACKEND00000001",
            "AccessKeySecret": "abcdefghijklmnopqrstuvwxyz0123",
        },
        "NextToken": "page-2",
        "Credentials": {"SecurityToken": "CAIS-token"},
        "steps": [{"Password": "hunter22", "note": f"leaked {SECRET}"}],
        "count": 3,
    }
    cleaned = redact.scrub(report)
    assert cleaned["AccessKey"]["AccessKeyId"] == "LTAI5tAPPBACKEND00000001"
    assert cleaned["AccessKey"]["AccessKeySecret"] == "***"
    assert cleaned["NextToken"] == "page-2"
    assert cleaned["Credentials"] == "***"
    assert cleaned["steps"][0]["Password"] == "***"
    assert SECRET not in cleaned["steps"][0]["note"]
    assert cleaned["count"] == 3
    assert report["AccessKey"]["AccessKeySecret"] != "***"  # the input is untouched


def test_redact_filter_masks_log_records(caplog: pytest.LogCaptureFixture) -> None:
    redact.register_secret(SECRET)
    redact.install()
    logger = logging.getLogger("akresponder.tasks")
    with caplog.at_level(logging.INFO, logger="akresponder.tasks"):
        logger.info("created key secret=%s for %s", SECRET, "alice")
        try:
            raise RuntimeError(f"auth failed with {SECRET}")
        except RuntimeError:
            logger.exception("call failed")
    assert caplog.records
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in (record.exc_text or "")
    assert "for alice" in caplog.records[0].getMessage()
    assert SECRET not in caplog.text


def test_redact_cloud_error_message_has_no_secret() -> None:
    redact.register_secret(SECRET)
    error = CloudError(
        code="SignatureDoesNotMatch",
        status=400,
        api="ram:ListUsers",
        detail=f"server string to sign is: GET&%2F&AccessKeySecret%3D{SECRET}",
        data={"AccessKeySecret": SECRET, "Code": "SignatureDoesNotMatch"},
    )
    assert SECRET not in str(error)
    assert SECRET not in repr(error.data)
    assert "Check the responder's AccessKey pair" in str(error)


def test_redact_prefect_run_logs_masked(prefect_harness: None) -> None:
    from prefect import flow, get_client, task
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging import get_run_logger
    from prefect.logging.handlers import APILogHandler

    leaked = "Tq1wE2rT3yU4iO5pA6sD7fG8hJ9kL0"
    redact.register_secret(leaked)
    redact.install()

    @task
    def careless() -> None:
        get_run_logger().info("task saw %s", leaked)

    @flow
    def leaky() -> str:
        get_run_logger().info("flow saw %s", leaked)
        careless()
        from prefect.runtime import flow_run

        return flow_run.id

    run_id = leaky()
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
        )
    messages = [log.message for log in logs]
    assert any("flow saw ***" in message for message in messages)
    assert any("task saw ***" in message for message in messages)
    assert not any(leaked in message for message in messages)


def test_redact_scrub_keeps_counts_under_secret_named_keys():
    cleaned = redact.scrub({"by_event_name": {"GetSecretValue": 3, "DeleteSecret": 1}})

    assert cleaned == {"by_event_name": {"GetSecretValue": 3, "DeleteSecret": 1}}
