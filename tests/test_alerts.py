"""The alert parsers: every accepted shape, malformed payloads, secrets kept out."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from akresponder import redact
from akresponder.alerts import (
    ACCEPTED_SHAPES,
    AlertFormatError,
    AlertIgnored,
    canonical_hash,
    normalize_source,
    parse_alert,
    redact_payload,
)

DATA = Path(__file__).parent / "data" / "alerts"
APP_KEY = "LTAI5tAPPBACKEND00000001"
CI_KEY = "LTAI5tCIDEPLOY000000001A"
APP_SECRET = "abSecretAppBackendKey00000000001"


def load(name: str) -> dict | list:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def test_parse_alert_sas_leak_list_yields_each_key() -> None:
    keys = parse_alert(load("sas_leak_list.json"))

    assert [key.access_key_id for key in keys] == [APP_KEY, CI_KEY]
    assert [key.alert_id for key in keys] == ["sas-leak-389357", "sas-leak-389358"]
    assert keys[0].source_kind == "sas"
    assert keys[0].observed_at == datetime(2025, 11, 20, 8, 0, tzinfo=UTC)
    assert "config/prod.ini" in keys[0].summary
    assert "status pending" in keys[0].summary


def test_parse_alert_sas_single_record() -> None:
    record = load("sas_leak_list.json")["AccessKeyLeakList"][1]

    keys = parse_alert(record)

    assert [key.access_key_id for key in keys] == [CI_KEY]
    assert keys[0].alert_id == "sas-leak-389358"


def test_parse_alert_sls_notification() -> None:
    keys = parse_alert(load("sls_alert_actiontrail.json"))

    assert len(keys) == 1
    key = keys[0]
    assert key.access_key_id == APP_KEY
    assert key.source_kind == "sls"
    assert key.alert_id == (
        "sls-audit-1234567890123456-akresponder-ak-abnormal-usage-1763625600"
    )
    assert key.observed_at == datetime.fromtimestamp(1763625600, tz=UTC)
    # The key is in fire_results and in results[0].fire_result: one row each.
    assert "2 result row(s)" in key.summary


def test_parse_alert_sls_rows_as_json_text() -> None:
    payload = load("sls_alert_actiontrail.json")
    payload["fire_results"] = json.dumps(payload["fire_results"])
    payload["results"] = json.dumps(payload["results"])

    keys = parse_alert(payload)

    assert [key.access_key_id for key in keys] == [APP_KEY]


def test_parse_alert_sls_event_field_and_several_keys() -> None:
    event = {"userIdentity": {"accessKeyId": CI_KEY}, "eventName": "RunInstances"}
    payload = {
        "alert_name": "denied calls",
        "alert_id": "denied",
        "project": "audit",
        "fire_time": 1763625600,
        "fire_results": [
            {"ak": APP_KEY, "cnt": "3"},
            {"__topic__": "actiontrail_audit_event", "event": json.dumps(event)},
            {"accessKeyId": "", "cnt": "1"},
        ],
    }

    keys = parse_alert(payload)

    assert [key.access_key_id for key in keys] == [APP_KEY, CI_KEY]
    assert {key.alert_id for key in keys} == {"sls-audit-denied-1763625600"}


def test_parse_alert_sls_without_key_column() -> None:
    payload = {
        "alert_name": "errors",
        "alert_id": "errors",
        "fire_results": [{"status": "500", "cnt": "9"}],
    }

    with pytest.raises(AlertFormatError) as caught:
        parse_alert(payload)

    assert "has 1 result rows and none has an AccessKey ID column" in str(caught.value)


def test_parse_alert_eventbridge_envelope() -> None:
    keys = parse_alert(load("eventbridge_actiontrail.json"))

    assert len(keys) == 1
    key = keys[0]
    assert key.access_key_id == APP_KEY
    assert key.source_kind == "actiontrail"
    assert key.alert_id == (
        "eventbridge-acs.actiontrail-45ef4dewdwe1-7c35-447a-bd93-fab000000001"
    )
    assert key.observed_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert "CreateAccessKey by app-backend" in key.summary
    assert "203.0.113.77" in key.summary


def test_parse_alert_bare_and_cloudmonitor_event() -> None:
    event = load("eventbridge_actiontrail.json")["data"]

    bare = parse_alert(event)
    wrapped = parse_alert({"product": "ActionTrail", "content": json.dumps(event)})

    assert [key.access_key_id for key in bare] == [APP_KEY]
    assert bare[0].alert_id == "actiontrail-7E570000-0000-4000-8000-0000000000E1"
    assert [key.access_key_id for key in wrapped] == [APP_KEY]


def test_parse_alert_event_without_access_key() -> None:
    event = {
        "eventId": "1",
        "eventName": "ConsoleSignin",
        "eventType": "ConsoleSignin",
        "userIdentity": {"type": "ram-user", "userName": "alice"},
    }

    with pytest.raises(AlertFormatError) as caught:
        parse_alert(event)

    assert "has no userIdentity.accessKeyId" in str(caught.value)


def test_parse_alert_cloudevent_of_other_source() -> None:
    envelope = {
        "specversion": "1.0",
        "id": "1",
        "source": "acs.ecs",
        "type": "ecs:Instance:StateChange",
        "data": {"instanceId": "i-1"},
    }

    with pytest.raises(AlertFormatError) as caught:
        parse_alert(envelope)

    assert "is not an ActionTrail event" in str(caught.value)


def test_parse_alert_github_rest_alert() -> None:
    keys = parse_alert(load("github_secret_scanning_rest.json"))

    assert len(keys) == 1
    key = keys[0]
    assert key.access_key_id == APP_KEY
    assert key.source_kind == "github"
    assert key.alert_id == "github-example-org-app-backend-42-created"
    assert key.observed_at == datetime(2026, 11, 20, 7, 58, tzinfo=UTC)
    assert "validity active" in key.summary


def test_parse_alert_github_webhook_without_secret() -> None:
    with pytest.raises(AlertFormatError) as caught:
        parse_alert(load("github_secret_scanning_webhook.json"))

    message = str(caught.value)
    assert "example-org/app-backend#43 has no secret value" in message
    assert "secret-scanning/alerts/NUMBER" in message


def test_parse_alert_github_resolved_is_ignored() -> None:
    payload = load("github_secret_scanning_rest.json")
    payload["action"] = "resolved"

    with pytest.raises(AlertIgnored) as caught:
        parse_alert(payload)

    assert "was resolved" in str(caught.value)


def test_parse_alert_github_secret_type_is_ignored_unquoted() -> None:
    payload = load("github_secret_scanning_rest.json")
    payload["alert"]["secret_type"] = "alibaba_cloud_access_key_secret"
    payload["alert"]["secret"] = APP_SECRET

    with pytest.raises(AlertIgnored) as caught:
        parse_alert(payload)

    assert APP_SECRET not in str(caught.value)
    assert redact.scrub_text(f"x {APP_SECRET} y") == "x *** y"


def test_parse_alert_github_partner_message() -> None:
    keys = parse_alert(load("github_partner.json"))

    assert [key.access_key_id for key in keys] == [APP_KEY]
    assert keys[0].alert_id.startswith("sha256-")
    assert APP_SECRET not in keys[0].summary


def test_parse_alert_github_form_encoded() -> None:
    body = "payload=" + json.dumps(load("github_secret_scanning_rest.json"))
    import urllib.parse

    encoded = "payload=" + urllib.parse.quote(body.removeprefix("payload="))

    keys = parse_alert(encoded.encode("utf-8"))

    assert [key.access_key_id for key in keys] == [APP_KEY]


@pytest.mark.parametrize(
    "payload",
    [
        {"access_key_id": APP_KEY},
        {"access_key_ids": [APP_KEY, CI_KEY]},
        [{"access_key_id": APP_KEY}, {"access_key_id": CI_KEY}],
        [APP_KEY, CI_KEY, APP_KEY],
        f"{APP_KEY}\n{CI_KEY}\n",
        f"{APP_KEY}, {CI_KEY}".encode(),
    ],
)
def test_parse_alert_plain_shapes(payload: object) -> None:
    keys = parse_alert(payload)

    assert keys[0].access_key_id == APP_KEY
    assert {key.access_key_id for key in keys} <= {APP_KEY, CI_KEY}
    assert all(key.source_kind == "plain" for key in keys)


def test_parse_alert_plain_with_own_id() -> None:
    keys = parse_alert(load("plain.json"))

    assert keys[0].alert_id == "alert-ticket-SEC-1234"
    assert keys[0].summary == "Key pasted in a public chat channel."
    assert keys[0].observed_at == datetime(2026, 11, 20, 7, 50, tzinfo=UTC)


def test_parse_alert_mixed_list_of_shapes() -> None:
    sas = load("sas_leak_list.json")["AccessKeyLeakList"][1]
    event = load("eventbridge_actiontrail.json")

    keys = parse_alert([sas, event])

    assert [key.access_key_id for key in keys] == [CI_KEY, APP_KEY]


def test_parse_alert_sts_key_accepted() -> None:
    keys = parse_alert({"access_key_id": "STS.NUgYrLnoC37mZZCNnAbez2"})

    assert keys[0].access_key_id == "STS.NUgYrLnoC37mZZCNnAbez2"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"\xff\xfe", "is not UTF-8"),
        ('{"access_key_id": ', "is not valid JSON"),
        ("", "alert payload is empty"),
        ({"hello": "world"}, "fields hello has no known shape"),
        ([], "alert list is empty"),
        ([1, 2], "item 0 of the alert list has no recognised shape"),
        (42, "must be bytes, text, an object or a list"),
        ({"access_key_id": "AKIAIOSFODNN7EXAMPLE"}, "invalid AccessKey ID"),
        ({"access_key_ids": []}, "access_key_ids must be a non-empty list"),
        ({"access_key_id": None}, "AccessKey ID must be text"),
        ({"AccesskeyId": "bad key", "Url": "x"}, "contains whitespace"),
    ],
)
def test_parse_alert_malformed(payload: object, expected: str) -> None:
    with pytest.raises(AlertFormatError) as caught:
        parse_alert(payload)  # type: ignore[arg-type]

    assert expected in str(caught.value)


def test_parse_alert_error_lists_shapes() -> None:
    with pytest.raises(AlertFormatError) as caught:
        parse_alert({"hello": "world"})

    assert ACCEPTED_SHAPES in str(caught.value)


def test_parse_alert_secret_as_key_not_echoed() -> None:
    pasted = "qqSecretPastedAsKeyId0000000001"

    with pytest.raises(AlertFormatError) as caught:
        parse_alert({"access_key_id": pasted})

    assert pasted not in str(caught.value)
    assert "looks like an AccessKeySecret" in str(caught.value)


def test_parse_alert_secret_fields_registered_and_masked() -> None:
    secret = "zzSecretNeverSeenBefore000000001"
    payload = {"access_key_id": APP_KEY, "access_key_secret": secret}

    keys = parse_alert(payload)
    masked = redact_payload(payload)

    assert keys[0].access_key_id == APP_KEY
    assert masked["access_key_secret"] == "***"
    assert secret not in json.dumps(masked)
    assert redact.scrub_text(f"leaked {secret}!") == "leaked ***!"


def test_redact_payload_keeps_key_id_in_secret_field() -> None:
    payload = load("github_secret_scanning_rest.json")

    masked = redact_payload(payload)

    assert masked["alert"]["secret"] == APP_KEY


def test_redact_payload_masks_event_secret() -> None:
    payload = load("eventbridge_actiontrail.json")

    masked = redact_payload(payload)

    elements = masked["data"]["responseElements"]["AccessKey"]
    assert elements["AccessKeySecret"] == "***"
    assert elements["AccessKeyId"] == "LTAI5tATTACKER000000001Z"


def test_alert_id_stable_after_masking() -> None:
    payload = {"access_key_id": APP_KEY, "password": "hunter2-secret"}

    first = parse_alert(payload)[0].alert_id
    again = parse_alert(redact_payload(payload))[0].alert_id
    reordered = parse_alert(dict(reversed(list(payload.items()))))[0].alert_id

    assert first == again
    assert first == reordered
    assert first == canonical_hash(redact_payload(payload))


def test_alert_id_differs_for_different_payloads() -> None:
    first = parse_alert({"access_key_id": APP_KEY, "note": "a"})[0].alert_id
    second = parse_alert({"access_key_id": APP_KEY, "note": "b"})[0].alert_id

    assert first != second


@pytest.mark.parametrize(
    ("hint", "kind"),
    [
        ("eventbridge", "actiontrail"),
        ("AEGIS", "sas"),
        ("github", "github"),
        ("", None),
    ],
)
def test_normalize_source_aliases(hint: str, kind: str | None) -> None:
    assert normalize_source(hint) == kind


def test_normalize_source_unknown() -> None:
    with pytest.raises(AlertFormatError) as caught:
        normalize_source("pagerduty")

    assert "unknown alert source 'pagerduty'" in str(caught.value)


def test_parse_alert_hint_forces_parser() -> None:
    payload = copy.deepcopy(load("sls_alert_actiontrail.json"))

    with pytest.raises(AlertFormatError) as caught:
        parse_alert(payload, source_hint="sas")

    assert "has no AccesskeyId field" in str(caught.value)
    assert parse_alert(payload, source_hint="sls")[0].access_key_id == APP_KEY


def test_parse_alert_never_registers_key_id_as_secret() -> None:
    key_id = "LTAI5tNEVERASECRET000001"
    partner = [{"token": key_id, "type": "other_vendor_token", "url": "u"}]
    github = load("github_secret_scanning_rest.json")
    github["alert"]["secret_type"] = "alibaba_cloud_access_key_secret"
    github["alert"]["secret"] = key_id

    for payload in (partner, github, {"access_key_id": key_id, "token": key_id}):
        try:
            parse_alert(payload)
        except (AlertFormatError, AlertIgnored):
            pass

    assert redact.scrub_text(f"key {key_id}") == f"key {key_id}"


def test_alert_id_of_whole_alert() -> None:
    from akresponder.alerts import alert_id_of

    keys = parse_alert(load("sas_leak_list.json"))

    combined = alert_id_of(keys)
    assert combined == canonical_hash(["sas-leak-389357", "sas-leak-389358"])
    assert alert_id_of(keys[:1]) == "sas-leak-389357"
    assert alert_id_of(list(reversed(keys))) == combined
    with pytest.raises(ValueError, match="at least one key"):
        alert_id_of([])


def test_parse_alert_invalid_id_keeps_valid_ones() -> None:
    from akresponder.alerts import parse_alert_with_rejected

    payload = {"access_key_ids": [APP_KEY, "AKIAIOSFODNN7EXAMPLE", CI_KEY]}

    parsed = parse_alert_with_rejected(payload)

    assert [key.access_key_id for key in parsed.keys] == [APP_KEY, CI_KEY]
    assert len(parsed.rejected) == 1
    assert parsed.rejected[0].location == "access_key_ids[1]"
    assert "invalid AccessKey ID 'AKIAIOSFODNN7EXAMPLE'" in parsed.rejected[0].problem
    assert [key.access_key_id for key in parse_alert(payload)] == [APP_KEY, CI_KEY]


def test_parse_alert_rejected_secret_not_quoted() -> None:
    from akresponder.alerts import parse_alert_with_rejected

    pasted = "qqSecretPastedInKeyList00000001"

    parsed = parse_alert_with_rejected({"access_key_ids": [pasted, APP_KEY]})

    assert [key.access_key_id for key in parsed.keys] == [APP_KEY]
    assert pasted not in parsed.rejected[0].problem
    assert "looks like an AccessKeySecret" in parsed.rejected[0].problem


def test_parse_alert_every_id_invalid() -> None:
    with pytest.raises(AlertFormatError) as caught:
        parse_alert({"access_key_ids": ["AKIAIOSFODNN7EXAMPLE", "not-a-key"]})

    message = str(caught.value)
    assert message.startswith("the alert names no valid AccessKey ID: ")
    assert "access_key_ids[0]: invalid AccessKey ID 'AKIAIOSFODNN7EXAMPLE'" in message
    assert "access_key_ids[1]: invalid AccessKey ID 'not-a-key'" in message


@pytest.mark.parametrize(
    ("payload", "location"),
    [
        ([APP_KEY, 42], "item 1 of the alert list"),
        (
            {"AccessKeyLeakList": [{"AccesskeyId": APP_KEY, "Id": 1}, {"Id": 2}]},
            "Security Center leak record 1",
        ),
        (
            [
                {"token": APP_KEY, "type": "alibaba_cloud_access_key_id"},
                # A token is masked and registered as a secret for the whole
                # process, so this value must appear in no other test.
                {"token": "partner-token-x1", "type": "alibaba_cloud_access_key_id"},
            ],
            "partner message item 1 token",
        ),
        (
            {
                "alert_name": "a",
                "fire_results": [{"accessKeyId": APP_KEY}, {"accessKeyId": "x-1"}],
            },
            "fire_results[1].accessKeyId",
        ),
    ],
)
def test_parse_alert_rejects_entry_per_shape(payload: object, location: str) -> None:
    from akresponder.alerts import parse_alert_with_rejected

    parsed = parse_alert_with_rejected(payload)  # type: ignore[arg-type]

    assert [key.access_key_id for key in parsed.keys] == [APP_KEY]
    assert [entry.location for entry in parsed.rejected] == [location]


def test_parse_alert_mixed_list_skips_ignored_item() -> None:
    resolved = load("github_secret_scanning_rest.json")
    resolved["action"] = "resolved"

    keys = parse_alert([resolved, {"access_key_id": CI_KEY}])

    assert [key.access_key_id for key in keys] == [CI_KEY]
    with pytest.raises(AlertIgnored):
        parse_alert([resolved])
