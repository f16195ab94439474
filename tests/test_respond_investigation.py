"""The pure parts of the investigation: windows, summaries and findings."""

from __future__ import annotations

from datetime import UTC, datetime

from akresponder.investigation import (
    audit_findings,
    billing_cycles,
    billing_findings,
    created_access_keys,
    lookup_windows,
    summarize_bills,
    summarize_events,
)

KEY = "LTAI5tAPPBACKEND00000001"


def event(number: int, name: str, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "eventId": f"E{number}",
        "eventName": name,
        "eventRW": "Read",
        "eventTime": f"2026-11-{10 + number:02d}T00:00:00Z",
        "acsRegion": "cn-hangzhou",
        "sourceIpAddress": "198.51.100.10",
        "errorCode": "",
        "userIdentity": {"type": "ram-user", "userName": "app-backend"},
    }
    base.update(fields)
    return base


EVENTS = [
    event(1, "DescribeInstances"),
    event(2, "DescribeInstances", sourceIpAddress="203.0.113.9"),
    event(
        3,
        "CreateAccessKey",
        eventRW="Write",
        sourceIpAddress="203.0.113.9",
        acsRegion="cn-shanghai",
        requestParameters={"UserName": "backdoor"},
        responseElements={"AccessKey": {"AccessKeyId": "LTAI5tBACKDOOR0000000001"}},
    ),
    event(4, "DeleteBucket", eventRW="Write", errorCode="NoPermission"),
    event(5, "StopInstance", eventRW="Write"),
]


def test_lookup_windows_split_at_30_days() -> None:
    start = datetime(2026, 8, 22, tzinfo=UTC)
    end = datetime(2026, 11, 20, tzinfo=UTC)

    windows = lookup_windows(start, end)

    assert len(windows) == 3
    assert windows[0][0] == start
    assert windows[-1][1] == end
    assert all((upper - lower).days <= 30 for lower, upper in windows)
    assert all(windows[i][1] == windows[i + 1][0] for i in range(2))


def test_billing_cycles_cross_year() -> None:
    cycles = billing_cycles(
        datetime(2026, 11, 20, tzinfo=UTC), datetime(2027, 1, 3, tzinfo=UTC)
    )

    assert cycles == ["2026-11", "2026-12", "2027-01"]


def test_summarize_events_counts() -> None:
    summary = summarize_events(EVENTS)

    assert summary.events == 5
    assert summary.by_event_name["DescribeInstances"] == 2
    assert summary.by_region == {"cn-hangzhou": 4, "cn-shanghai": 1}
    assert summary.by_source_ip == {"198.51.100.10": 3, "203.0.113.9": 2}
    assert summary.write_events == 3
    assert summary.error_events == 1
    assert summary.by_error_code == {"NoPermission": 1}
    assert summary.first_event_at == datetime(2026, 11, 11, tzinfo=UTC)
    assert summary.last_event_at == datetime(2026, 11, 15, tzinfo=UTC)


def test_summarize_events_empty() -> None:
    summary = summarize_events([])

    assert summary.events == 0
    assert summary.first_event_at is None


def test_created_access_keys_found() -> None:
    related = created_access_keys(EVENTS)

    assert [item.access_key_id for item in related] == ["LTAI5tBACKDOOR0000000001"]
    assert related[0].user_name == "backdoor"
    assert related[0].relation == "created-by-compromised-key"


def test_audit_findings_kinds() -> None:
    findings = audit_findings(EVENTS, summarize_events(EVENTS), KEY)
    by_kind = {finding.kind: finding for finding in findings}

    assert by_kind["persistence-calls"].severity == "high"
    assert by_kind["persistence-calls"].event_ids == ["E3"]
    assert by_kind["write-calls"].event_ids == ["E5"]
    assert by_kind["denied-calls"].event_ids == ["E4"]
    assert "203.0.113.9" in by_kind["several-source-ips"].summary
    assert "cn-shanghai" in by_kind["several-regions"].summary


def test_audit_findings_none_for_quiet_reads() -> None:
    quiet = [event(1, "DescribeInstances")]

    assert audit_findings(quiet, summarize_events(quiet), KEY) == []


def test_summarize_bills_by_region_and_product() -> None:
    summary = summarize_bills(
        {
            "2026-11": [
                {"Region": "cn-hangzhou", "ProductCode": "ecs", "PretaxAmount": 10.5,
                 "Currency": "CNY"},
                {"Region": "ap-southeast-1", "ProductCode": "ecs",
                 "PretaxAmount": "4.5", "Currency": "CNY"},
                {"ProductCode": "oss", "PretaxAmount": None, "PaymentAmount": 1},
            ]
        }
    )  # fmt: skip

    assert summary.billing_cycles == ["2026-11"]
    assert summary.total == 16.0
    assert summary.by_region == {
        "cn-hangzhou": 10.5,
        "ap-southeast-1": 4.5,
        "global": 1,
    }
    assert summary.by_product == {"ecs": 15.0, "oss": 1.0}
    assert summary.currency == "CNY"


def test_billing_findings_flag_unexpected_region() -> None:
    bills = summarize_bills(
        {"2026-11": [{"Region": "ap-southeast-1", "ProductCode": "ecs",
                      "PretaxAmount": 99}]}
    )  # fmt: skip

    findings = billing_findings(bills, summarize_events(EVENTS))
    kinds = [finding.kind for finding in findings]

    assert kinds == ["billing-spend", "billing-unexpected-region"]
    assert "ap-southeast-1" in findings[1].summary
