"""Tests for akresponder.analysis.events: one frame from every ActionTrail route."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from akresponder.analysis.events import (
    EVENT_COLUMNS,
    combine_events,
    normalise_events,
    normalise_events_with_report,
    read_events_file,
    redact_event,
)
from akresponder.analysis.synthetic import make_event, sls_row

DATA = Path(__file__).parent / "data" / "analysis"


def _event(event_id: str = "E-1", **overrides: object) -> dict:
    fields: dict = {
        "time": "2026-11-20T02:03:45Z",
        "event_id": event_id,
        "request_parameters": {"UserName": "svc-backup"},
        "response_elements": {"User": {"UserName": "svc-backup"}},
    }
    fields.update(overrides)
    return make_event("CreateUser", **fields)


def test_normalise_events_lookup_record_columns() -> None:
    frame = normalise_events([_event()])

    assert list(frame.columns) == list(EVENT_COLUMNS)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["time"] == pd.Timestamp("2026-11-20T02:03:45Z")
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert row["event_id"] == "E-1"
    assert row["service"] == "Ims"
    assert row["action"] == "CreateUser"
    assert row["rw"] == "Write"
    assert row["identity_type"] == "ram-user"
    assert row["identity_name"] == "app-backend"
    assert row["access_key_id"] == "LTAI5tAPPBACKEND00000001"
    assert row["account_id"] == "1234567890123456"
    assert row["source_ip_kind"] == "ipv4"
    assert row["is_global"]
    assert row["source"] == "actiontrail"
    assert json.loads(row["request_parameters"])["UserName"] == "svc-backup"
    assert json.loads(row["response_elements"])["User"]["UserName"] == "svc-backup"


def test_normalise_events_sls_rows_parse_event_text() -> None:
    frame = normalise_events([sls_row(_event())], "sls")

    assert len(frame) == 1
    assert frame.iloc[0]["action"] == "CreateUser"
    assert frame.iloc[0]["source"] == "sls"


def test_normalise_events_sls_time_fallback() -> None:
    record = _event()
    del record["eventTime"]
    row = sls_row({**record, "eventTime": "2026-11-20T02:03:45Z"})
    inner = json.loads(row["event"])
    del inner["eventTime"]
    row["event"] = json.dumps(inner)

    frame = normalise_events([row], "sls")

    assert frame.iloc[0]["time"] == pd.Timestamp("2026-11-20T02:03:45Z")


def test_normalise_events_sls_request_parameter_json() -> None:
    record = _event()
    record["requestParameterJson"] = json.dumps(record.pop("requestParameters"))

    frame = normalise_events([sls_row(record)], "sls")

    assert json.loads(frame.iloc[0]["request_parameters"])["UserName"] == "svc-backup"


def test_normalise_events_oss_array_and_json_text() -> None:
    array = [_event("E-1"), _event("E-2")]

    from_list = normalise_events([array], "oss")
    from_bytes = normalise_events([json.dumps(array).encode()], "oss")

    assert from_list["event_id"].tolist() == ["E-1", "E-2"]
    assert from_bytes["event_id"].tolist() == ["E-1", "E-2"]


def test_normalise_events_lookup_response_body() -> None:
    body = {"RequestId": "R", "Events": [_event("E-1")], "NextToken": ""}

    frame = normalise_events([body])

    assert frame["event_id"].tolist() == ["E-1"]


def test_normalise_events_vendor_placeholder_unusable() -> None:
    body = json.loads((DATA / "actiontrail_LookupEvents.json").read_text())

    frame, report = normalise_events_with_report([body])

    assert frame.empty
    assert report.unusable == 1
    assert report.reasons["not_an_event"] == 1


def test_normalise_events_dedupe_prefers_richer_record() -> None:
    rich = _event("E-1")
    poor = _event("E-1")
    del poor["responseElements"]
    poor["userAgent"] = ""

    for order in ([rich, poor], [poor, rich]):
        frame, report = normalise_events_with_report(order)
        assert len(frame) == 1
        assert report.duplicates == 1
        assert frame.iloc[0]["user_agent"] == "aliyun-sdk-java/2.8.3"
        assert "svc-backup" in frame.iloc[0]["response_elements"]


def test_combine_events_dedupes_across_sources() -> None:
    lookup = normalise_events([_event("E-1"), _event("E-2")], "actiontrail")
    poorer = _event("E-2")
    del poorer["responseElements"]
    sls = normalise_events([sls_row(poorer), sls_row(_event("E-3"))], "sls")

    combined = combine_events(lookup, sls)

    assert combined["event_id"].tolist() == ["E-1", "E-2", "E-3"]
    by_id = combined.set_index("event_id")
    assert by_id.loc["E-2", "source"] == "actiontrail"
    assert by_id.loc["E-3", "source"] == "sls"
    assert combined.attrs["normalise_report"]["duplicates"] == 1
    assert combined.attrs["normalise_report"]["records"] == 4


def test_normalise_events_malformed_records_counted() -> None:
    odd_types = _event("E-odd")
    odd_types["eventName"] = 42
    odd_types["userIdentity"] = "not an object"
    odd_types["isGlobal"] = "true"
    no_time = _event("E-no-time")
    del no_time["eventTime"]
    records = [
        "{not json",
        None,
        17,
        ["nested", 3],
        {"unrelated": True},
        {"event": "{broken"},
        odd_types,
        no_time,
        _event("E-ok"),
    ]

    frame, report = normalise_events_with_report(records)

    assert frame["event_id"].tolist() == ["E-odd", "E-ok"]
    odd = frame.set_index("event_id").loc["E-odd"]
    assert odd["action"] == "42"
    assert odd["identity_name"] == ""
    assert odd["is_global"]
    assert report.records == 10
    assert report.unusable == 8
    # "nested" is a string, so it is parsed as JSON text and fails like "{not json".
    assert report.reasons["invalid_json"] == 3
    assert report.reasons["not_an_object"] == 3
    assert report.reasons["not_an_event"] == 1
    assert report.reasons["missing_or_invalid_event_time"] == 1
    assert report.invalid_json == 3
    assert frame.attrs["normalise_report"]["unusable"] == 8


def test_normalise_events_epoch_times() -> None:
    moment = pd.Timestamp("2026-11-20T02:03:45Z")
    seconds = _event("E-s")
    seconds["eventTime"] = int(moment.timestamp())
    millis = _event("E-ms")
    millis["eventTime"] = str(int(moment.timestamp() * 1000) + 123)

    frame = normalise_events([seconds, millis]).set_index("event_id")

    assert frame.loc["E-s", "time"] == moment
    assert frame.loc["E-ms", "time"] == moment + pd.Timedelta(milliseconds=123)


def test_normalise_events_invalid_parameter_json_kept() -> None:
    record = _event()
    record["requestParameters"] = "{UserName: svc-backup"

    frame, report = normalise_events_with_report([record])

    assert json.loads(frame.iloc[0]["request_parameters"]) == {
        "_unparsed": "{UserName: svc-backup"
    }
    assert report.invalid_json == 1


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("203.0.113.7", "ipv4"),
        ("2001:db8::1", "ipv6"),
        ("ecs.aliyuncs.com", "hostname"),
        ("", "missing"),
        ("AWS Internal", "invalid"),
        ("300.1.1.1", "invalid"),
        ("1.2.3.4:8080", "invalid"),
    ],
)
def test_normalise_events_source_ip_kind(value: str, kind: str) -> None:
    frame, report = normalise_events_with_report([_event(source_ip=value)])

    assert frame.iloc[0]["source_ip"] == value
    assert frame.iloc[0]["source_ip_kind"] == kind
    assert report.odd_source_ips == (1 if kind == "invalid" else 0)


def test_normalise_events_missing_event_id_synthesised() -> None:
    first = _event()
    del first["eventId"]
    second = dict(first)

    frame, report = normalise_events_with_report([first, second])

    assert len(frame) == 1
    assert frame.iloc[0]["event_id"].startswith("synthetic-")
    assert report.missing_event_ids == 2
    assert report.duplicates == 1


def test_normalise_events_secrets_masked() -> None:
    record = _event(
        response_elements={
            "AccessKey": {
                "AccessKeyId": "LTAI5tNEWKEY0000000001",
                "AccessKeySecret": "s3cr3tValueThatMustNotLeak00001",
            }
        },
        request_parameters={"UserName": "u", "Password": "Hunter2-password"},
    )

    frame = normalise_events([record])
    text = frame.to_json()

    assert "s3cr3tValueThatMustNotLeak00001" not in text
    assert "Hunter2-password" not in text
    response = json.loads(frame.iloc[0]["response_elements"])
    assert response["AccessKey"]["AccessKeyId"] == "LTAI5tNEWKEY0000000001"
    assert response["AccessKey"]["AccessKeySecret"] == "***"


def test_redact_event_nested_credentials() -> None:
    record = {
        "responseElements": {
            "Credentials": {
                "AccessKeyId": "STS.abc",
                "AccessKeySecret": "secret-value",
                "SecurityToken": "token-value",
            },
            "SecretName": "prod/db",
            "SecretData": "hunter2",
        }
    }

    redacted = redact_event(record)

    credentials = redacted["responseElements"]["Credentials"]
    assert credentials == {
        "AccessKeyId": "STS.abc",
        "AccessKeySecret": "***",
        "SecurityToken": "***",
    }
    assert redacted["responseElements"]["SecretName"] == "prod/db"
    assert redacted["responseElements"]["SecretData"] == "***"
    assert record["responseElements"]["SecretData"] == "hunter2"


def test_normalise_events_streamalert_fixture() -> None:
    fixture = json.loads((DATA / "streamalert_actiontrail_events.json").read_text())

    frame, report = normalise_events_with_report([item["data"] for item in fixture])

    assert report.unusable == 0
    assert len(frame) == len(fixture)
    by_action = frame.set_index("action")
    attach = by_action.loc["AttachPolicyToUser"]
    assert attach["identity_type"] == "root-account"
    assert attach["resource_type"] == "Policy;User"
    assert attach["resource_name"] == "AdministratorAccess;tob_actiontrail"
    assert by_action.loc["UpdateTrail", "access_key_id"] == "f6IzzFZMmzNwEI4d"


def test_normalise_events_chunking_matches() -> None:
    records = [_event(f"E-{index:02d}") for index in range(10)]

    small = normalise_events(records, chunk_size=3)
    whole = normalise_events(records)

    pd.testing.assert_frame_equal(small, whole)


def test_normalise_events_empty_input() -> None:
    frame = normalise_events([])

    assert frame.empty
    assert list(frame.columns) == list(EVENT_COLUMNS)


def test_normalise_events_unknown_source_rejected() -> None:
    with pytest.raises(ValueError, match="'splunk'.*actiontrail, sls, oss"):
        normalise_events([], "splunk")


def test_read_events_file_jsonl_and_gzip_array(tmp_path: Path) -> None:
    records = [_event("E-1"), _event("E-2")]
    lines = tmp_path / "events.jsonl"
    lines.write_text("\n".join(json.dumps(sls_row(r)) for r in records) + "\n\n")
    oss = tmp_path / "Actiontrail_cn-hangzhou_20261120.json.gz"
    with gzip.open(oss, "wt") as handle:
        json.dump(records, handle)

    assert read_events_file(lines, "sls")["event_id"].tolist() == ["E-1", "E-2"]
    assert read_events_file(oss, "oss")["event_id"].tolist() == ["E-1", "E-2"]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = st.sampled_from(
    [
        "eventId",
        "eventName",
        "eventTime",
        "userIdentity",
        "sourceIpAddress",
        "requestParameters",
        "responseElements",
        "isGlobal",
        "event",
        "Events",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.dictionaries(_FIELDS, _JSON_VALUES, max_size=6) | _JSON_VALUES, max_size=6
    )
)
def test_normalise_events_never_raises(records: list) -> None:
    frame, report = normalise_events_with_report(records)

    assert list(frame.columns) == list(EVENT_COLUMNS)
    assert report.events == len(frame)
    assert report.records == report.events + report.unusable + report.duplicates
