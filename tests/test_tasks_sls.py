"""SLS tasks against the emulator: paging, SQL, histograms and errors."""

from __future__ import annotations

import json
import time

import pytest
from cloud_helpers import APP_BACKEND, SLS_PROJECT, TRAIL_LOGSTORE, add_fault, connect

from akresponder.errors import CloudError
from tasks import sls

FROM, TO = 0, 2_000_000_000


def test_sls_get_logs_pages_to_the_end(emulator) -> None:
    connection = connect(emulator)
    everything = sls.get_logs.fn(connection, SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO)
    paged = sls.get_logs.fn(
        connection, SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO, page_size=7
    )
    assert len(everything) > 7
    assert sorted(json.dumps(row, sort_keys=True) for row in paged) == sorted(
        json.dumps(row, sort_keys=True) for row in everything
    )
    for row in everything:
        assert isinstance(row["__time__"], str)
        assert json.loads(row["event"])["eventId"]


def test_sls_get_logs_query_by_key(emulator) -> None:
    query = f'"event.userIdentity.accessKeyId": "{APP_BACKEND[0]}"'
    rows = sls.get_logs.fn(
        connect(emulator), SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO, query=query
    )
    assert rows
    for row in rows:
        event = json.loads(row["event"])
        assert event["userIdentity"]["accessKeyId"] == APP_BACKEND[0]


def test_sls_get_logs_max_rows(emulator) -> None:
    rows = sls.get_logs.fn(
        connect(emulator),
        SLS_PROJECT,
        TRAIL_LOGSTORE,
        FROM,
        TO,
        page_size=5,
        max_rows=8,
    )
    assert len(rows) == 8


def test_sls_get_logs_sql_single_request(emulator) -> None:
    query = '* | select "event.eventName" as name, count(*) as calls group by name'
    rows = sls.get_logs.fn(
        connect(emulator), SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO, query=query
    )
    counts = {row["name"]: int(row["calls"]) for row in rows}
    assert counts["DescribeInstances"] >= 1


def test_sls_get_histograms_counts(emulator) -> None:
    connection = connect(emulator)
    result = sls.get_histograms.fn(connection, SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO)
    rows = sls.get_logs.fn(connection, SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO)
    assert result["Complete"] is True
    assert result["Total"] == len(rows)
    assert sum(bucket["Count"] for bucket in result["Histograms"]) == len(rows)


def test_sls_get_logs_missing_logstore(emulator) -> None:
    with pytest.raises(CloudError) as caught:
        sls.get_logs.fn(connect(emulator), SLS_PROJECT, "actiontrail_nope", FROM, TO)
    assert caught.value.code == "LogStoreNotExist"
    assert caught.value.status == 404
    assert "logstore=actiontrail_nope" in str(caught.value)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"project": "Bad_Project"}, "invalid SLS project 'Bad_Project'"),
        ({"logstore": "x"}, "invalid SLS logstore 'x'"),
        ({"from_time": 100, "to_time": 100}, "is not before to_time"),
        ({"page_size": 101}, "invalid page_size 101; use 1 to 100"),
    ],
)
def test_sls_get_logs_rejects(emulator, arguments: dict, expected: str) -> None:
    values = {
        "project": SLS_PROJECT,
        "logstore": TRAIL_LOGSTORE,
        "from_time": FROM,
        "to_time": TO,
    }
    values.update(arguments)
    with pytest.raises(ValueError) as caught:
        sls.get_logs.fn(connect(emulator), **values)
    assert expected in str(caught.value)


def test_sls_get_logs_retries_quota_errors(emulator) -> None:
    add_fault(emulator, service="sls", action="*", kind="throttle", count=2)
    rows = sls.get_logs.fn(connect(emulator), SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO)
    assert rows


def test_sls_get_logs_server_error_retried_by_sdk(emulator) -> None:
    # The SLS SDK retries a 5xx itself after 1 s, so one injected error costs ~1 s.
    add_fault(emulator, service="sls", action="*", kind="error", count=1)
    started = time.monotonic()
    rows = sls.get_logs.fn(connect(emulator), SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO)
    assert rows
    assert time.monotonic() - started >= 1.0
