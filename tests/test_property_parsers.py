"""Property tests for every parser of outside data: a result or a clear error.

Each parser gets valid documents with one random change (a value of another type, a
deleted key, an unknown key) and arbitrary JSON. It must return a correct result or
raise its module's own ``ValueError`` subclass with a one-line message; any other
exception is a crash. Pytest turns warnings into errors here, so a parser that only
warns about odd input fails too.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from akresponder.alerts import AlertedKey, AlertFormatError, AlertIgnored, parse_alert
from akresponder.analysis.billing import (
    BILL_COLUMNS,
    analyse_billing,
    normalise_bill_items,
)
from akresponder.analysis.events import (
    EVENT_COLUMNS,
    IP_KINDS,
    normalise_events_with_report,
)
from akresponder.config import ConfigurationError, validate_access_key_id
from akresponder.investigation import summarize_bills
from akresponder.report import BillingSummary
from emulator.cloudtrail import (
    ConversionError,
    convert_records,
    find_source_files,
    read_records,
)
from emulator.scenario import ScenarioError, load_scenario
from tests.property_support import (
    ALNUM,
    BOUNDED,
    EDGE_TEXT,
    JSON_VALUES,
    SCALARS,
    json_paths,
    mutations,
    one_line,
)

DATA = Path(__file__).parent / "data"
SCENARIO = Path(__file__).parent / "scenarios" / "basic.json"
BASIC = json.loads(SCENARIO.read_text())
ALERTS = {
    path.stem: json.loads(path.read_text())
    for path in sorted((DATA / "alerts").glob("*.json"))
}
CLOUDTRAIL = [
    record
    for path in find_source_files([DATA / "invictus" / "CloudTrail"])
    for record in read_records(path)
][:8]
EVENT = BASIC["events"][0]
SECRET = "zzPlantedSecretValue0000000000001"
KEY_LIKE = st.text(ALNUM + "._-'\" \t", max_size=30)


# --- AccessKey IDs ---------------------------------------------------------------


@BOUNDED
@given(
    st.one_of(
        KEY_LIKE,
        KEY_LIKE.map(lambda tail: "LTAI" + tail),
        KEY_LIKE.map(lambda tail: "STS." + tail),
        st.text(ALNUM, min_size=26, max_size=40),
        EDGE_TEXT,
        SCALARS,
    )
)
def test_validate_access_key_id_any_value(value: Any) -> None:
    try:
        result = validate_access_key_id(value)
    except ConfigurationError as error:
        message = str(error)
        assert one_line(message)
        if isinstance(value, str) and "AccessKeySecret" in message:
            assert value.strip("'\"` ") not in message
        elif isinstance(value, str) and value.strip():
            assert repr(value) in message
        return
    assert result == value
    assert result.startswith(("LTAI", "STS."))
    assert result.isascii()
    assert not any(character.isspace() for character in result)


# --- alert payloads ---------------------------------------------------------------


def _alert_outcome(payload: Any) -> list[AlertedKey] | Exception:
    try:
        return parse_alert(payload)
    except (AlertFormatError, AlertIgnored) as error:
        return error


@BOUNDED
@given(st.sampled_from(sorted(ALERTS)), st.data())
def test_parse_alert_mutated_sample(name: str, data: st.DataObject) -> None:
    payload, _, _ = data.draw(mutations(ALERTS[name]))

    outcome = _alert_outcome(payload)

    if isinstance(outcome, Exception):
        assert one_line(str(outcome))
        return
    assert outcome
    for key in outcome:
        assert validate_access_key_id(key.access_key_id) == key.access_key_id
        assert one_line(key.summary) or key.summary == ""


@BOUNDED
@given(st.sampled_from(sorted(ALERTS)), st.data())
def test_parse_alert_mutated_as_text(name: str, data: st.DataObject) -> None:
    payload, _, _ = data.draw(mutations(ALERTS[name]))
    text = json.dumps(payload)
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))

    for candidate in (text, text[:cut], text.encode("utf-8")[:cut]):
        outcome = _alert_outcome(candidate)
        assert isinstance(outcome, list | AlertFormatError | AlertIgnored)


@BOUNDED
@given(st.sampled_from(sorted(ALERTS)), st.data())
def test_parse_alert_planted_secret_not_echoed(name: str, data: st.DataObject) -> None:
    paths = [path for path in json_paths(ALERTS[name]) if path]
    payload, path, _ = data.draw(mutations(ALERTS[name], paths=paths))
    parent = payload
    for step in path[:-1]:
        parent = parent[step] if isinstance(parent, dict | list) else parent
    if isinstance(parent, dict):
        parent["AccessKeySecret"] = SECRET

    outcome = _alert_outcome(payload)

    if isinstance(outcome, Exception):
        assert SECRET not in str(outcome)
    else:
        dumped = json.dumps([key.model_dump(mode="json") for key in outcome])
        assert SECRET not in dumped


# --- ActionTrail events -----------------------------------------------------------


def _event_records(data: st.DataObject) -> list[Any]:
    """Draw a mix of valid events, mutated events, SLS rows and raw JSON."""
    records: list[Any] = []
    for number in range(data.draw(st.integers(min_value=0, max_value=4))):
        valid = json.loads(json.dumps(EVENT))
        valid["eventId"] = f"7E570000-0000-4000-8000-{number:012d}"
        records.append(valid)
    for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
        mutated, _, _ = data.draw(mutations(EVENT))
        wrap = data.draw(st.sampled_from(["dict", "text", "sls", "sls-text", "body"]))
        if wrap == "text":
            mutated = json.dumps(mutated)
        elif wrap == "sls":
            mutated = {"__time__": "1763625600", "event": mutated}
        elif wrap == "sls-text":
            mutated = {"__time__": "1763625600", "event": json.dumps(mutated)[:-1]}
        elif wrap == "body":
            mutated = {"Events": [mutated]}
        records.append(mutated)
    noise = st.lists(JSON_VALUES | st.binary(max_size=16), max_size=2)
    records.extend(data.draw(noise))
    return records


@BOUNDED
@given(st.data())
def test_normalise_events_any_records(data: st.DataObject) -> None:
    records = _event_records(data)
    valid = sum(
        1
        for record in records
        if isinstance(record, dict)
        and record.get("eventTime") == EVENT["eventTime"]
        and str(record.get("eventId", "")).startswith("7E570000")
    )

    frame, report = normalise_events_with_report(records)

    assert list(frame.columns) == list(EVENT_COLUMNS)
    assert report.events == len(frame)
    assert len(frame) >= valid
    assert frame["time"].notna().all()
    assert set(frame["source_ip_kind"]) <= set(IP_KINDS)
    assert frame["event_id"].is_unique
    for column in EVENT_COLUMNS:
        if column not in ("time", "is_global"):
            assert frame[column].map(lambda value: isinstance(value, str)).all()


@BOUNDED
@given(st.data())
def test_normalise_events_masks_planted_secret(data: st.DataObject) -> None:
    record = json.loads(json.dumps(EVENT))
    field = data.draw(st.sampled_from(["AccessKeySecret", "SecurityToken", "Password"]))
    place = data.draw(st.sampled_from(["requestParameters", "responseElements"]))
    nested = data.draw(st.booleans())
    record[place] = {"Outer": {field: SECRET}} if nested else {field: SECRET}
    if data.draw(st.booleans()):
        record[place] = json.dumps(record[place])

    frame, _ = normalise_events_with_report([record])

    assert len(frame) == 1
    assert SECRET not in frame.to_json()


@BOUNDED
@given(
    st.sampled_from(
        [
            "203.0.113.77",
            "2001:db8::1",
            "ecs.aliyuncs.com",
            "",
            "300.1.1.1",
            "203.0.113.77, 10.0.0.1",
            "fe80::1%eth0",
            "not an address",
        ]
    )
    | st.text(max_size=20)
    | st.integers()
    | st.none()
)
def test_normalise_events_odd_ip_kept(value: Any) -> None:
    record = json.loads(json.dumps(EVENT))
    record["sourceIpAddress"] = value

    frame, report = normalise_events_with_report([record])

    assert len(frame) == 1
    assert frame["source_ip_kind"].iloc[0] in IP_KINDS
    if frame["source_ip_kind"].iloc[0] == "invalid":
        assert report.odd_source_ips == 1


# --- bill items -------------------------------------------------------------------

BILL_FIELDS = [
    "BillingDate",
    "UsageStartTime",
    "UsageEndTime",
    "BillingCycle",
    "PretaxAmount",
    "PaymentAmount",
    "PretaxGrossAmount",
    "ProductCode",
    "Region",
    "Zone",
    "InstanceID",
    "Currency",
    "SubscriptionType",
]
BILL_ITEMS = st.dictionaries(st.sampled_from(BILL_FIELDS), SCALARS, max_size=8)
BILL_RESPONSES = st.lists(BILL_ITEMS).map(
    lambda items: {"Data": {"Items": {"Item": items}}}
)
BILL_PAYLOADS = st.lists(
    BILL_ITEMS | BILL_RESPONSES | JSON_VALUES,
    max_size=5,
)


@BOUNDED
@given(BILL_PAYLOADS)
def test_normalise_bill_items_any_payload(payloads: list[Any]) -> None:
    frame = normalise_bill_items(payloads)

    assert list(frame.columns) == list(BILL_COLUMNS)
    assert frame.attrs["unusable_items"] >= 0
    assert frame["amount"].map(math.isfinite).all()
    assert (frame["date"] >= pd.Timestamp("2000-01-01", tz="UTC")).all()


@pytest.mark.parametrize(
    "item",
    [
        {"BillingDate": "2026-02-30", "PretaxAmount": 1},
        {"BillingDate": "9999-12-31", "PretaxAmount": 1},
        {"UsageStartTime": "0001-01-01T00:00:00Z", "PretaxAmount": 1},
        {"UsageStartTime": "1700-01-01T00:00:00Z", "PretaxAmount": 1,
         "UsageEndTime": "2200-01-01T00:00:00Z"},
        {"BillingCycle": "2945-01", "PretaxAmount": 1},
        {"UsageStartTime": "yesterday", "PretaxAmount": 1},
    ],
)  # fmt: skip
def test_normalise_bill_items_bad_date_unusable(item: dict[str, Any]) -> None:
    frame = normalise_bill_items([item])

    assert len(frame) == 0
    assert frame.attrs["unusable_items"] == 1


@pytest.mark.parametrize("amount", [float("inf"), "NaN", "1e999", "-Infinity", 1e300])
def test_normalise_bill_items_bad_amount_unusable(amount: Any) -> None:
    frame = normalise_bill_items(
        [{"BillingDate": "2026-11-03", "PretaxAmount": amount}]
    )

    assert len(frame) == 0
    assert frame.attrs["unusable_items"] == 1


@BOUNDED
@given(BILL_PAYLOADS, st.lists(JSON_VALUES, max_size=3))
def test_analyse_billing_any_payload(payloads: list[Any], instances: list) -> None:
    report = analyse_billing(
        payloads,
        window_start=datetime(2026, 11, 1, tzinfo=UTC),
        window_end=datetime(2026, 11, 20, tzinfo=UTC),
        instances=instances,
    )

    data = report.to_dict()
    json.dumps(data, allow_nan=False, default=str)
    assert all(math.isfinite(value) for value in report.attributable_total.values())


@BOUNDED
@given(st.lists(BILL_ITEMS | JSON_VALUES, max_size=6))
def test_summarize_bills_report_round_trip(items: list[Any]) -> None:
    summary = summarize_bills({"2026-11": items})

    text = summary.model_dump_json()
    assert BillingSummary.model_validate_json(text) == summary
    assert math.isfinite(summary.total)


# --- scenario files ---------------------------------------------------------------


@BOUNDED
@given(mutations(BASIC))
def test_load_scenario_mutated(mutation: tuple[Any, tuple, str]) -> None:
    scenario, path, _ = mutation

    try:
        cloud = load_scenario(scenario)
    except ScenarioError as error:
        assert one_line(str(error))
        return
    assert cloud.account_id


@BOUNDED
@given(
    content=st.binary(max_size=200)
    | JSON_VALUES.map(lambda value: json.dumps(value).encode())
)
def test_load_scenario_any_file(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("scenario") / "scenario.json"
    path.write_bytes(content)

    try:
        load_scenario(path)
    except ScenarioError as error:
        assert one_line(str(error))
        assert str(path) in str(error) or "$" in str(error) or "must be" in str(error)


# --- CloudTrail import ------------------------------------------------------------


@BOUNDED
@given(mutations(CLOUDTRAIL))
def test_convert_records_mutated(mutation: tuple[Any, tuple, str]) -> None:
    records, _, _ = mutation

    try:
        conversion = convert_records(records)
    except ConversionError as error:
        assert one_line(str(error))
        return
    assert conversion.events
    load_scenario({**conversion.scenario, "events": conversion.events})


def test_convert_renamed_user_loads() -> None:
    original = convert_records(json.loads(json.dumps(CLOUDTRAIL)))
    records = json.loads(json.dumps(CLOUDTRAIL))
    earliest = min(records, key=lambda record: record["eventTime"])
    name = earliest["userIdentity"]["userName"]
    earliest["userIdentity"]["userName"] = f"{name}-old"

    conversion = convert_records(records)

    load_scenario({**conversion.scenario, "events": conversion.events})
    users = {user["UserName"]: user for user in conversion.scenario["users"]}
    before = {user["UserName"]: user for user in original.scenario["users"]}
    assert sorted(users) == sorted(before)
    assert users[name]["UserId"] == before[name]["UserId"]
    assert conversion.stats.renamed_users == [(f"{name}-old", name)]


def test_convert_update_user_keeps_new_name() -> None:
    records = json.loads(json.dumps(CLOUDTRAIL))
    latest = max(records, key=lambda record: record["eventTime"])
    rename = json.loads(json.dumps(latest))
    name = rename["userIdentity"]["userName"]
    rename.update(
        eventID="0b9a3c51-0000-4000-8000-000000000001",
        eventName="UpdateUser",
        eventSource="iam.amazonaws.com",
        eventTime="2023-07-10T11:50:00Z",
        requestParameters={"userName": name, "newUserName": f"{name}-new"},
        responseElements=None,
        errorCode=None,
    )
    rename.pop("errorMessage", None)

    conversion = convert_records([*records, rename])

    load_scenario({**conversion.scenario, "events": conversion.events})
    names = [user["UserName"] for user in conversion.scenario["users"]]
    assert names == [f"{name}-new"]
    assert conversion.stats.renamed_users == [(name, f"{name}-new")]


@BOUNDED
@given(
    mutation=mutations({"Records": CLOUDTRAIL[:5]}),
    layout=st.sampled_from(["json", "lines", "gz"]),
)
def test_read_records_mutated_file(
    tmp_path_factory: pytest.TempPathFactory,
    mutation: tuple[Any, tuple, str],
    layout: str,
) -> None:
    import gzip

    document, _, _ = mutation
    folder = tmp_path_factory.mktemp("cloudtrail")
    if layout == "lines":
        records = document.get("Records") if isinstance(document, dict) else None
        lines = records if isinstance(records, list) else [document]
        path = folder / "trail.jsonl"
        path.write_text("\n".join(json.dumps(line) for line in lines))
    elif layout == "gz":
        path = folder / "trail.json.gz"
        path.write_bytes(gzip.compress(json.dumps(document).encode()))
    else:
        path = folder / "trail.json"
        path.write_text(json.dumps(document))

    try:
        records = read_records(path)
        convert_records(records)
    except ConversionError as error:
        assert one_line(str(error))
