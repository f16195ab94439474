"""The sweep's pure risk rules: each reason positive and negative, scores, settings."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from akresponder.sweep import (
    Creation,
    KeyFacts,
    Reason,
    ReasonWeights,
    Severity,
    SweepSettings,
    UsageChange,
    assess_key,
    compare_usage,
    creations_by_key,
    needs_usage_check,
    normalize_user_agent,
    root_keys_from_events,
    severity,
)
from akresponder.sweep_collect import TokenBucket

NOW = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)
KEY = "LTAI5tSWEEPTEST000000001"
OTHER_KEY = "LTAI5tSWEEPTEST000000002"
SETTINGS = SweepSettings()


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def clean(**changes: Any) -> KeyFacts:
    """An active key of a RAM user that no rule flags: 30 days old, used yesterday."""
    values: dict[str, Any] = {
        "access_key_id": KEY,
        "owner_type": "ram-user",
        "user_name": "alice",
        "status": "Active",
        "create_date": days_ago(30),
        "last_used": days_ago(2),
        "last_used_known": True,
        "user_active_keys": (KEY,),
    }
    values.update(changes)
    return KeyFacts(**values)


def codes(facts: KeyFacts, settings: SweepSettings = SETTINGS) -> list[str]:
    return assess_key(facts, settings, NOW).codes


CREATION = Creation(KEY, OTHER_KEY, "bob", "198.51.100.23", "2026-11-18T08:00:00Z")
NEW_IP = UsageChange(3, 4, new_source_ips=("203.0.113.9",))

# (case, facts, expected reason codes)
CASES = [
    ("clean key", clean(), []),
    (
        "root key listed as root",
        clean(owner_type="root-account", user_name=None, source="ram-root"),
        ["root_key"],
    ),
    (
        "root key seen in events",
        clean(
            owner_type="root-account",
            user_name=None,
            status="Unknown",
            create_date=None,
            last_used_known=False,
            source="actiontrail",
        ),
        ["root_key"],
    ),
    (
        "inactive root key",
        clean(owner_type="root-account", status="Inactive"),
        ["root_key"],
    ),
    ("created by a key", clean(creation=CREATION), ["created_by_key"]),
    ("new source ip", clean(usage=NEW_IP), ["new_source_ip"]),
    (
        "new region",
        clean(usage=UsageChange(3, 4, new_regions=("ap-southeast-1",))),
        ["new_region"],
    ),
    (
        "new user agent",
        clean(usage=UsageChange(3, 4, new_user_agents=("python-requests",))),
        ["new_user_agent"],
    ),
    ("usage unchanged", clean(usage=UsageChange(3, 4)), []),
    (
        "never used past grace",
        clean(last_used=None, create_date=days_ago(8)),
        ["never_used"],
    ),
    ("never used within grace", clean(last_used=None, create_date=days_ago(6)), []),
    (
        "last use unknown",
        clean(last_used=None, last_used_known=False, create_date=days_ago(30)),
        [],
    ),
    ("unused 91 days", clean(last_used=days_ago(91)), ["unused"]),
    ("used 89 days ago", clean(last_used=days_ago(89)), []),
    ("older than rotation age", clean(create_date=days_ago(91)), ["rotation_overdue"]),
    ("younger than rotation age", clean(create_date=days_ago(89)), []),
    (
        "two active keys",
        clean(user_active_keys=(KEY, OTHER_KEY)),
        ["two_active_keys"],
    ),
    (
        "console without mfa",
        clean(console_login=True, mfa_bound=False),
        ["console_without_mfa"],
    ),
    ("console with mfa", clean(console_login=True, mfa_bound=True), []),
    (
        "inactive key of a risky user",
        clean(
            status="Inactive",
            create_date=days_ago(300),
            last_used=None,
            last_used_known=False,
            console_login=True,
            user_active_keys=(),
        ),
        [],
    ),
    (
        "user row without a key",
        clean(access_key_id=None, status="Unknown", console_login=True),
        ["console_without_mfa"],
    ),
    (
        "several reasons",
        clean(
            create_date=days_ago(200),
            last_used=days_ago(100),
            user_active_keys=(KEY, OTHER_KEY),
        ),
        ["unused", "rotation_overdue", "two_active_keys"],
    ),
]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [(facts, expected) for _, facts, expected in CASES],
    ids=[case for case, _, _ in CASES],
)
def test_assess_key_reasons(facts: KeyFacts, expected: list[str]) -> None:
    assert codes(facts) == expected


def test_assess_key_score_sums_weights() -> None:
    facts = clean(creation=CREATION, usage=NEW_IP)

    assessment = assess_key(facts, SETTINGS, NOW)

    assert assessment.score == 40 + 30
    assert [finding.weight for finding in assessment.findings] == [40, 30]


def test_assess_key_uses_configured_weights() -> None:
    settings = SweepSettings(weights=ReasonWeights(created_by_key=5))

    assessment = assess_key(clean(creation=CREATION), settings, NOW)

    assert assessment.score == 5


def test_assess_key_details_name_the_evidence() -> None:
    details = {
        finding.code: finding.detail
        for finding in assess_key(
            clean(
                creation=CREATION,
                usage=NEW_IP,
                console_login=True,
                mfa_bind_required=True,
            ),
            SETTINGS,
            NOW,
        ).findings
    }

    assert OTHER_KEY in details[Reason.CREATED_BY_KEY]
    assert "198.51.100.23" in details[Reason.CREATED_BY_KEY]
    assert "203.0.113.9" in details[Reason.NEW_SOURCE_IP]
    assert "MFA binding is required" in details[Reason.CONSOLE_WITHOUT_MFA]


def test_assess_key_thresholds_follow_settings() -> None:
    settings = SweepSettings(unused_days=30, rotation_days=20, never_used_grace_days=0)

    assert codes(clean(last_used=days_ago(31)), settings) == [
        "unused",
        "rotation_overdue",
    ]
    assert codes(clean(last_used=None, create_date=days_ago(1)), settings) == [
        "never_used"
    ]


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0, Severity.NONE),
        (1, Severity.LOW),
        (29, Severity.LOW),
        (30, Severity.MEDIUM),
        (59, Severity.MEDIUM),
        (60, Severity.HIGH),
    ],
)
def test_severity_thresholds(score: int, expected: Severity) -> None:
    assert severity(score, SETTINGS) is expected


def test_settings_reject_medium_above_high() -> None:
    with pytest.raises(ValidationError, match="medium_score 70 is above high_score"):
        SweepSettings(medium_score=70, high_score=60)


def test_settings_reject_invalid_trusted_key() -> None:
    with pytest.raises(ValidationError, match="invalid AccessKey ID 'AKIA"):
        SweepSettings(trusted_creator_key_ids=["AKIAIOSFODNN7EXAMPLE"])


def test_settings_reject_unknown_field() -> None:
    with pytest.raises(ValidationError, match="unused_dayz"):
        SweepSettings(unused_dayz=3)


# --- ActionTrail evidence -------------------------------------------------------------


def create_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventName": "CreateAccessKey",
        "eventType": "ApiCall",
        "eventTime": "2026-11-18T08:00:00Z",
        "errorCode": "",
        "sourceIpAddress": "198.51.100.23",
        "userIdentity": {
            "type": "ram-user",
            "userName": "bob",
            "accessKeyId": OTHER_KEY,
        },
        "responseElements": {"AccessKey": {"AccessKeyId": KEY, "Status": "Active"}},
    }
    event.update(changes)
    return event


def test_creations_by_key_finds_api_creation() -> None:
    found = creations_by_key([create_event()])

    assert found[KEY].creator_key_id == OTHER_KEY
    assert found[KEY].creator_user == "bob"
    assert found[KEY].source_ip == "198.51.100.23"


@pytest.mark.parametrize(
    "changes",
    [
        {"eventType": "ConsoleOperation"},
        {"errorCode": "NoPermission"},
        {"eventName": "UpdateAccessKey"},
        {"responseElements": {}},
        {"userIdentity": {"type": "ram-user", "userName": "bob"}},
    ],
    ids=["console", "failed", "other action", "no response", "no caller key"],
)
def test_creations_by_key_skips_non_key_creations(changes: dict[str, Any]) -> None:
    assert creations_by_key([create_event(**changes)]) == {}


def test_creations_by_key_skips_trusted_creator() -> None:
    assert creations_by_key([create_event()], [OTHER_KEY]) == {}


def test_creations_by_key_keeps_newest() -> None:
    older = create_event(eventTime="2026-11-17T08:00:00Z", sourceIpAddress="10.0.0.1")
    newer = create_event(eventTime="2026-11-18T09:00:00Z", sourceIpAddress="10.0.0.2")

    found = creations_by_key([newer, older])

    assert found[KEY].source_ip == "10.0.0.2"


def test_root_keys_from_events_keeps_root_ltai_keys() -> None:
    events = [
        {
            "eventTime": "2026-11-18T08:00:00Z",
            "userIdentity": {"type": "root-account", "accessKeyId": KEY},
        },
        {
            "eventTime": "2026-11-19T08:00:00Z",
            "userIdentity": {"type": "root-account", "accessKeyId": KEY},
        },
        {
            "eventTime": "2026-11-19T08:00:00Z",
            "userIdentity": {"type": "root-account", "accessKeyId": "STS.Nx1234567"},
        },
        {
            "eventTime": "2026-11-19T08:00:00Z",
            "userIdentity": {"type": "ram-user", "accessKeyId": OTHER_KEY},
        },
        {"eventTime": "2026-11-19T08:00:00Z", "userIdentity": {"type": "root-account"}},
    ]

    found = root_keys_from_events(events)

    assert found == {KEY: datetime(2026, 11, 19, 8, 0, 0, tzinfo=UTC)}


def usage_event(ip: str, region: str = "cn-hangzhou", agent: str = "cli/1.0") -> dict:
    return {"sourceIpAddress": ip, "acsRegion": region, "userAgent": agent}


def test_compare_usage_finds_new_values() -> None:
    baseline = [usage_event("10.0.0.1"), usage_event("10.0.0.2")]
    recent = [
        usage_event("10.0.0.1"),
        usage_event("203.0.113.9", "ap-southeast-1", "python-requests/2.31.0"),
    ]

    change = compare_usage(recent, baseline)

    assert change.new_source_ips == ("203.0.113.9",)
    assert change.new_regions == ("ap-southeast-1",)
    assert change.new_user_agents == ("python-requests",)
    assert change.recent_events == 2
    assert change.baseline_events == 2


def test_compare_usage_known_values_are_not_new() -> None:
    baseline = [usage_event("10.0.0.1", agent="aliyun-cli/3.0.200")]
    recent = [usage_event("10.0.0.1", agent="aliyun-cli/3.0.211")]

    change = compare_usage(recent, baseline)

    assert change.new_source_ips == ()
    assert change.new_regions == ()
    assert change.new_user_agents == ()


def test_compare_usage_without_history_finds_nothing() -> None:
    change = compare_usage([usage_event("203.0.113.9")], [], truncated=True)

    assert change.new_source_ips == ()
    assert change.baseline_events == 0
    assert change.truncated is True


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("aliyun-cli/3.0.200", "aliyun-cli"),
        (
            "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/1.0.9 TeaDSL/2",
            "AlibabaCloud (Linux; x86_64) Python Core TeaDSL",
        ),
        ("  curl/8.5.0   extra ", "curl extra"),
        ("no-version", "no-version"),
    ],
)
def test_normalize_user_agent_drops_versions(agent: str, expected: str) -> None:
    assert normalize_user_agent(agent) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"last_used": NOW - timedelta(hours=3)}, True),
        ({"last_used": NOW - timedelta(hours=25)}, False),
        ({"last_used": None}, False),
        ({"last_used": NOW - timedelta(hours=3), "status": "Inactive"}, False),
        ({"last_used": NOW - timedelta(hours=3), "is_responder": True}, False),
        ({"last_used": NOW - timedelta(hours=3), "access_key_id": None}, False),
    ],
    ids=["recent", "old", "never", "inactive", "responder", "no key"],
)
def test_needs_usage_check(changes: dict[str, Any], expected: bool) -> None:
    assert needs_usage_check(clean(**changes), SETTINGS, NOW) is expected


# --- pacing ---------------------------------------------------------------------------


def test_token_bucket_holds_rate_across_threads() -> None:
    bucket = TokenBucket(100.0, capacity=1.0)
    calls_per_thread = 15

    def work() -> None:
        for _ in range(calls_per_thread):
            bucket.wait()

    threads = [threading.Thread(target=work) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # 60 tokens at 100/s with one in the bucket: the last is due after 0.59 s.
    assert elapsed >= 0.58
    assert elapsed < 2.0
    assert bucket.attempts == 60


def test_token_bucket_allows_burst_up_to_capacity() -> None:
    bucket = TokenBucket(10.0, capacity=5.0)

    waits = [bucket.wait() for _ in range(6)]

    assert waits[:5] == [0.0] * 5
    assert waits[5] == pytest.approx(0.1, abs=0.02)
