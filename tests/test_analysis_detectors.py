"""Tests for akresponder.analysis.detectors: every finding kind, both ways."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from akresponder.analysis.detectors import DETECTORS, IncidentScope, run_detectors
from akresponder.analysis.events import normalise_events
from akresponder.analysis.findings import FINDING_KINDS, Finding
from akresponder.analysis.settings import AnalysisSettings
from akresponder.analysis.synthetic import make_event

WINDOW_START = datetime(2026, 11, 20, tzinfo=UTC)
KEY = "LTAI5tAPPBACKEND00000001"
OTHER_KEY = "LTAI5tCIDEPLOY000000001A"
ATTACKER_IP = "203.0.113.66"
APP_AGENT = "aliyun-sdk-java/2.8.3"


def _baseline() -> list[dict[str, Any]]:
    """Ten days of ordinary use: KEY from one IP/region/client, OTHER_KEY elsewhere."""
    records = []
    for day in range(1, 11):
        for hour in (2, 9, 16):
            moment = WINDOW_START - timedelta(days=day) + timedelta(hours=hour)
            records.append(make_event("DescribeInstances", time=moment))
            records.append(
                make_event(
                    "DescribeDisks",
                    time=moment,
                    access_key_id=OTHER_KEY,
                    user_name="ci-deploy",
                    source_ip="198.51.100.20",
                    region="cn-shanghai",
                    user_agent="aliyun-cli/3.0.200",
                )
            )
        records.append(
            make_event(
                "ConsoleSignin",
                time=WINDOW_START - timedelta(days=day, hours=-8),
                access_key_id="",
                user_name="alice",
                source_ip="198.51.100.99",
                event_type="ConsoleSignin",
                error_message="success",
                additional_event_data={"mfaChecked": "true"},
            )
        )
    records.append(
        make_event(
            "AssumeRole",
            time=WINDOW_START - timedelta(days=3),
            request_parameters={"RoleArn": "acs:ram::1234567890123456:role/ops-admin"},
        )
    )
    return records


def _attack(action: str, minutes: float = 5, **fields: Any) -> dict[str, Any]:
    """Return a call with the stolen key from the attacker's IP, in the window."""
    values: dict[str, Any] = {
        "time": WINDOW_START + timedelta(minutes=minutes),
        "source_ip": ATTACKER_IP,
    }
    values.update(fields)
    return make_event(action, **values)


def _detect(
    records: list[dict[str, Any]],
    kind: str,
    *,
    keys: tuple[str, ...] = (KEY,),
    users: tuple[str, ...] = (),
    settings: AnalysisSettings | None = None,
) -> list[Finding]:
    events = normalise_events(_baseline() + records)
    scope = IncidentScope(
        window_start=WINDOW_START, access_key_ids=keys, user_names=users
    )
    return run_detectors(events, scope, settings, kinds=[kind])


def _one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [finding.summary for finding in findings]
    return findings[0]


# Scope and framework ----------------------------------------------------------------


def test_detectors_cover_every_event_kind() -> None:
    assert set(DETECTORS) == set(FINDING_KINDS) - {"billing_anomaly"}


def test_run_detectors_unknown_kind_rejected() -> None:
    events = normalise_events(_baseline())
    scope = IncidentScope(window_start=WINDOW_START, access_key_ids=(KEY,))

    with pytest.raises(ValueError, match="unknown detector kind.*'?no_such"):
        run_detectors(events, scope, kinds=["no_such"])


def test_incident_scope_naive_time_rejected() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        IncidentScope(window_start=datetime(2026, 11, 20))


def test_incident_scope_end_before_start_rejected() -> None:
    with pytest.raises(ValueError, match="not after window_start"):
        IncidentScope(
            window_start=WINDOW_START, window_end=WINDOW_START - timedelta(hours=1)
        )


def test_run_detectors_baseline_only_no_findings() -> None:
    events = normalise_events(_baseline())
    scope = IncidentScope(window_start=WINDOW_START, access_key_ids=(KEY,))

    assert run_detectors(events, scope) == []


def test_run_detectors_other_keys_out_of_scope() -> None:
    records = [_attack("CreateUser", access_key_id=OTHER_KEY, user_name="ci-deploy")]

    assert _detect(records, "user_created") == []


def test_run_detectors_window_end_excludes_later() -> None:
    events = normalise_events(_baseline() + [_attack("CreateUser", minutes=120)])
    scope = IncidentScope(
        window_start=WINDOW_START,
        window_end=WINDOW_START + timedelta(hours=1),
        access_key_ids=(KEY,),
    )

    assert run_detectors(events, scope, kinds=["user_created"]) == []


def test_findings_explainable_and_json_ready() -> None:
    records = [
        _attack("CreateUser", request_parameters={"UserName": "svc-backup"}),
        _attack("RunInstances", region="ap-southeast-1"),
    ]
    events = normalise_events(_baseline() + records)
    scope = IncidentScope(window_start=WINDOW_START, access_key_ids=(KEY,))

    findings = run_detectors(events, scope)

    assert findings
    for finding in findings:
        assert finding.event_ids, finding.kind
        assert {"baseline", "threshold", "values", "rule"} <= set(finding.evidence)
        assert finding.evidence["event_count"] >= len(finding.event_ids)
        assert finding.first_seen is not None
        json.dumps(finding.to_dict())


def test_findings_event_ids_capped() -> None:
    records = [_attack("DescribeInstances", minutes=index / 10) for index in range(30)]
    settings = AnalysisSettings(max_event_ids_per_finding=5)

    finding = _one(_detect(records, "unknown_source_ip", settings=settings))

    assert len(finding.event_ids) == 5
    assert finding.evidence["event_count"] == 30


def test_detection_ignores_user_agent_labels() -> None:
    """An attack that reuses the application's client is still found."""
    records = [
        _attack(
            "CreateUser",
            user_agent=APP_AGENT,
            request_parameters={"UserName": "svc-backup"},
        )
    ]
    benign = [
        make_event(
            "DescribeInstances",
            time=WINDOW_START + timedelta(minutes=1),
            user_agent="stratus-red-team_0f6e",
        )
    ]

    assert _one(_detect(records, "user_created")).kind == "user_created"
    assert _one(_detect(records, "unknown_source_ip")).kind == "unknown_source_ip"
    assert _detect(records, "new_user_agent") == []
    assert _detect(benign, "user_created") == []
    assert _detect(benign, "unknown_source_ip") == []
    assert _detect(benign, "high_risk_call") == []


# Novel values -----------------------------------------------------------------------


def test_unusual_region_write_is_high() -> None:
    records = [_attack("RunInstances", region="ap-southeast-1")]

    finding = _one(_detect(records, "unusual_region"))

    assert finding.severity == "high"
    assert finding.access_key_id == KEY
    assert list(finding.evidence["values"]) == ["ap-southeast-1"]
    assert finding.evidence["baseline"]["values"] == ["cn-hangzhou"]
    assert finding.evidence["baseline"]["compared_with"] == "identity"


def test_unusual_region_read_is_medium() -> None:
    records = [_attack("DescribeInstances", region="eu-central-1")]

    assert _one(_detect(records, "unusual_region")).severity == "medium"


def test_unusual_region_negative_cases() -> None:
    same_region = [_attack("RunInstances")]
    allowed = [_attack("RunInstances", region="ap-southeast-1")]
    global_call = [_attack("CreateUser", region="us-east-1")]

    assert _detect(same_region, "unusual_region") == []
    assert (
        _detect(
            allowed,
            "unusual_region",
            settings=AnalysisSettings(allowed_regions=("ap-southeast-1",)),
        )
        == []
    )
    assert _detect(global_call, "unusual_region") == []


def test_unknown_source_ip_new_to_account_high() -> None:
    finding = _one(_detect([_attack("DescribeInstances")], "unknown_source_ip"))

    assert finding.severity == "high"
    assert finding.evidence["values"][ATTACKER_IP]["new_to_account"] is True
    assert finding.evidence["baseline"]["values"] == ["198.51.100.10"]


def test_unknown_source_ip_known_to_account_medium() -> None:
    records = [_attack("DescribeInstances", source_ip="198.51.100.20")]

    assert _one(_detect(records, "unknown_source_ip")).severity == "medium"


def test_unknown_source_ip_negative_cases() -> None:
    own_ip = [_attack("DescribeInstances", source_ip="198.51.100.10")]
    allowed = [_attack("DescribeInstances")]
    service = [_attack("DescribeInstances", source_ip="ecs.aliyuncs.com")]
    settings = AnalysisSettings(allowed_cidrs=("203.0.113.0/24",))

    assert _detect(own_ip, "unknown_source_ip") == []
    assert _detect(allowed, "unknown_source_ip", settings=settings) == []
    assert _detect(service, "unknown_source_ip") == []


def test_unknown_source_ip_invalid_value_reported() -> None:
    records = [_attack("DescribeInstances", source_ip="AWS Internal")]

    finding = _one(_detect(records, "unknown_source_ip"))

    assert finding.evidence["values"]["AWS Internal"]["kind"] == "invalid"


def test_unknown_source_ip_new_key_compared_with_account() -> None:
    new_key = "LTAI5tBACKDOOR000000001"
    records = [
        _attack("DescribeInstances", access_key_id=new_key, user_name="svc-backup"),
        _attack(
            "DescribeInstances",
            access_key_id=new_key,
            user_name="svc-backup",
            source_ip="198.51.100.20",
        ),
    ]

    finding = _one(_detect(records, "unknown_source_ip", keys=(new_key,)))

    assert list(finding.evidence["values"]) == [ATTACKER_IP]
    assert finding.evidence["baseline"]["compared_with"] == "account"


def test_new_user_agent_positive_and_negative() -> None:
    new_agent = [_attack("DescribeInstances", user_agent="aliyun-cli/3.0.204")]
    settings = AnalysisSettings(allowed_user_agent_prefixes=("ALIYUN-CLI/",))

    finding = _one(_detect(new_agent, "new_user_agent"))

    assert finding.severity == "medium"
    assert list(finding.evidence["values"]) == ["aliyun-cli/3.0.204"]
    assert _detect(new_agent, "new_user_agent", settings=settings) == []
    assert _detect([_attack("DescribeInstances")], "new_user_agent") == []


# Calls by action ---------------------------------------------------------------------


def test_high_risk_call_reference_list() -> None:
    records = [
        _attack("CreateUser"),
        _attack("DeleteBucket", service="Oss", minutes=6),
    ]

    finding = _one(_detect(records, "high_risk_call"))

    assert finding.severity == "high"
    assert set(finding.evidence["values"]) == {"ram:CreateUser", "oss:DeleteBucket"}
    assert finding.evidence["reference_list_calls"] == 2


def test_high_risk_call_denied_attempts_medium() -> None:
    records = [_attack("CreateUser", error_code="NoPermission", error_message="denied")]

    finding = _one(_detect(records, "high_risk_call"))

    assert finding.severity == "medium"
    assert finding.evidence["values"]["ram:CreateUser"]["succeeded"] == 0


def test_high_risk_call_security_group_open_to_internet() -> None:
    opened = [
        _attack(
            "AuthorizeSecurityGroup",
            request_parameters={"Permissions.1.SourceCidrIp": "0.0.0.0/0"},
        )
    ]
    internal = [
        _attack(
            "AuthorizeSecurityGroup",
            request_parameters={"Permissions.1.SourceCidrIp": "10.0.0.0/8"},
        )
    ]

    finding = _one(_detect(opened, "high_risk_call"))

    assert "ecs:AuthorizeSecurityGroup" in finding.evidence["values"]
    assert _detect(internal, "high_risk_call") == []


def test_high_risk_call_negative_read() -> None:
    assert _detect([_attack("DescribeInstances")], "high_risk_call") == []


def test_resource_created_instances_high() -> None:
    records = [
        _attack(
            "RunInstances",
            response_elements={"InstanceIdSets": {"InstanceIdSet": ["i-a", "i-b"]}},
        )
    ]

    finding = _one(_detect(records, "resource_created"))

    assert finding.severity == "high"
    assert finding.evidence["values"]["resources"] == ["i-a", "i-b"]


def test_resource_created_other_medium() -> None:
    records = [
        _attack(
            "CreateVpc",
            service="Vpc",
            resource_type="ACS::VPC::VPC",
            resource_name="vpc-1",
        )
    ]

    finding = _one(_detect(records, "resource_created"))

    assert finding.severity == "medium"
    assert finding.evidence["values"]["resources"] == ["vpc-1"]


def test_resource_created_negative_cases() -> None:
    failed = [_attack("RunInstances", error_code="NoPermission", error_message="no")]
    identity = [_attack("CreateUser")]

    assert _detect(failed, "resource_created") == []
    assert _detect(identity, "resource_created") == []


def test_resource_deleted_destructive_high() -> None:
    records = [
        _attack(
            "DeleteInstance",
            resource_type="ACS::ECS::Instance",
            resource_name="i-prod",
        )
    ]

    finding = _one(_detect(records, "resource_deleted"))

    assert finding.severity == "high"
    assert finding.evidence["values"]["resources"] == ["i-prod"]


def test_resource_deleted_configuration_medium() -> None:
    records = [_attack("DeleteSecurityGroup")]

    assert _one(_detect(records, "resource_deleted")).severity == "medium"


def test_resource_deleted_negative_failed() -> None:
    records = [_attack("DeleteInstance", error_code="Forbidden", error_message="no")]

    assert _detect(records, "resource_deleted") == []


def test_logging_disabled_stop_logging_critical() -> None:
    records = [
        _attack(
            "StopLogging",
            resource_type="ACS::ActionTrail::Trail",
            resource_name="main",
        )
    ]

    finding = _one(_detect(records, "logging_disabled"))

    assert finding.severity == "critical"
    assert finding.evidence["values"]["resources"] == ["main"]


def test_logging_disabled_update_trail_read_only() -> None:
    records = [
        _attack("UpdateTrail", request_parameters={"Name": "main", "EventRW": "Read"})
    ]

    finding = _one(_detect(records, "logging_disabled"))

    assert finding.severity == "high"
    assert list(finding.evidence["values"]["update_reasons"].values()) == [
        "records only read events, so writes go unlogged"
    ]


def test_logging_disabled_trail_logstore_and_flow_log() -> None:
    records = [
        _attack(
            "DeleteLogStore",
            service="Sls",
            request_parameters={"logstoreName": "actiontrail_main"},
        ),
        _attack("DeleteFlowLog", minutes=6, request_parameters={"FlowLogId": "fl-1"}),
    ]

    finding = _one(_detect(records, "logging_disabled"))

    assert finding.severity == "critical"
    assert set(finding.evidence["values"]["actions"]) == {
        "sls:DeleteLogStore",
        "vpc:DeleteFlowLog",
    }


def test_logging_disabled_negative_cases() -> None:
    harmless_update = [
        _attack("UpdateTrail", request_parameters={"Name": "main", "EventRW": "All"})
    ]
    other_logstore = [
        _attack(
            "DeleteLogStore",
            service="Sls",
            request_parameters={"logstoreName": "app-logs"},
        )
    ]
    denied = [_attack("StopLogging", error_code="NoPermission", error_message="no")]

    assert _detect(harmless_update, "logging_disabled") == []
    assert _detect(other_logstore, "logging_disabled") == []
    assert _detect(denied, "logging_disabled") == []


def test_user_created_positive_and_negative() -> None:
    created = [_attack("CreateUser", request_parameters={"UserName": "svc-backup"})]
    denied = [
        _attack(
            "CreateUser",
            request_parameters={"UserName": "svc-backup"},
            error_code="NoPermission",
            error_message="no",
        )
    ]

    finding = _one(_detect(created, "user_created"))

    assert finding.severity == "high"
    assert finding.evidence["values"]["user_names"] == ["svc-backup"]
    assert _detect(denied, "user_created") == []


def test_access_key_created_for_another_user_critical() -> None:
    records = [
        _attack(
            "CreateAccessKey",
            request_parameters={"UserName": "alice"},
            response_elements={"AccessKey": {"AccessKeyId": "LTAI5tNEW0000000000001"}},
        )
    ]

    finding = _one(_detect(records, "access_key_created"))

    assert finding.severity == "critical"
    created = finding.evidence["values"]["created"][0]
    assert created["access_key_id"] == "LTAI5tNEW0000000000001"
    assert created["user_name"] == "alice"
    assert created["for_another_user"] is True


def test_access_key_created_for_self_high() -> None:
    records = [_attack("CreateAccessKey")]

    finding = _one(_detect(records, "access_key_created"))

    assert finding.severity == "high"
    assert finding.evidence["values"]["created"][0]["access_key_id"] == ""


def test_access_key_created_negative_list() -> None:
    assert _detect([_attack("ListAccessKeys")], "access_key_created") == []


def test_login_profile_changed_positive_and_negative() -> None:
    created = [_attack("CreateLoginProfile", request_parameters={"UserName": "alice"})]

    finding = _one(_detect(created, "login_profile_changed"))

    assert finding.evidence["values"]["changes"][0]["user_name"] == "alice"
    assert _detect([_attack("GetLoginProfile")], "login_profile_changed") == []


def test_policy_attached_admin_critical() -> None:
    records = [
        _attack(
            "AttachPolicyToUser",
            request_parameters={
                "UserName": "svc-backup",
                "PolicyName": "AdministratorAccess",
                "PolicyType": "System",
            },
        )
    ]

    finding = _one(_detect(records, "policy_attached"))

    assert finding.severity == "critical"
    grant = finding.evidence["values"]["grants"][0]
    assert grant["principal"] == "svc-backup"
    assert grant["principal_type"] == "user"


def test_policy_attached_group_membership_high() -> None:
    records = [
        _attack(
            "AddUserToGroup",
            request_parameters={"UserName": "svc-backup", "GroupName": "admins"},
        )
    ]

    finding = _one(_detect(records, "policy_attached"))

    assert finding.severity == "high"
    assert finding.evidence["values"]["grants"][0]["group_name"] == "admins"


def test_policy_attached_negative_detach() -> None:
    records = [
        _attack(
            "DetachPolicyFromUser",
            request_parameters={"UserName": "u", "PolicyName": "AdministratorAccess"},
        )
    ]

    assert _detect(records, "policy_attached") == []


def test_role_assumed_new_role_high() -> None:
    records = [
        _attack(
            "AssumeRole",
            request_parameters={
                "RoleArn": "acs:ram::1234567890123456:role/billing-admin",
                "RoleSessionName": "x",
            },
            response_elements={"Credentials": {"AccessKeyId": "STS.NUabc"}},
        )
    ]

    finding = _one(_detect(records, "role_assumed"))

    assert finding.severity == "high"
    assert finding.evidence["values"]["sessions"][0]["sts_access_key_id"] == "STS.NUabc"


def test_role_assumed_known_role_medium() -> None:
    records = [
        _attack(
            "AssumeRole",
            request_parameters={"RoleArn": "acs:ram::1234567890123456:role/ops-admin"},
        )
    ]

    finding = _one(_detect(records, "role_assumed"))

    assert finding.severity == "medium"
    assert finding.evidence["values"]["new_roles"] == []


def test_role_assumed_negative() -> None:
    assert _detect([_attack("GetCallerIdentity")], "role_assumed") == []


def _signin(
    user: str,
    minutes: float,
    *,
    ip: str = ATTACKER_IP,
    failed: bool = False,
    mfa: str = "true",
) -> dict[str, Any]:
    return make_event(
        "ConsoleSignin",
        time=WINDOW_START + timedelta(minutes=minutes),
        access_key_id="",
        user_name=user,
        source_ip=ip,
        event_type="ConsoleSignin",
        error_message="Password is wrong." if failed else "success",
        additional_event_data={"mfaChecked": mfa},
    )


def test_console_login_new_ip_without_mfa_high() -> None:
    records = [_signin("alice", 5, mfa="false")]

    finding = _one(_detect(records, "console_login", keys=(), users=("alice",)))

    assert finding.severity == "high"
    assert finding.evidence["values"]["new_ips"] == [ATTACKER_IP]
    assert len(finding.evidence["values"]["without_mfa"]) == 1


def test_console_login_known_ip_medium() -> None:
    records = [_signin("alice", 5, ip="198.51.100.99")]

    finding = _one(_detect(records, "console_login", keys=(), users=("alice",)))

    assert finding.severity == "medium"


def test_console_login_failed_burst() -> None:
    burst = [_signin("alice", minute * 4, failed=True) for minute in range(6)]
    sparse = [_signin("alice", minute * 10, failed=True) for minute in range(6)]

    finding = _one(_detect(burst, "console_login", keys=(), users=("alice",)))

    assert finding.severity == "high"
    assert finding.evidence["values"]["max_in_window"] == 6
    assert _detect(sparse, "console_login", keys=(), users=("alice",)) == []


def test_console_login_users_made_by_key_in_scope() -> None:
    records = [
        _attack("CreateLoginProfile", request_parameters={"UserName": "svc-backup"}),
        _signin("svc-backup", 30),
        _signin("bob", 31),
    ]

    finding = _one(_detect(records, "console_login"))

    assert "svc-backup" in finding.summary


def test_mfa_changed_positive_and_negative() -> None:
    unbound = [_attack("UnbindMFADevice", request_parameters={"UserName": "alice"})]

    finding = _one(_detect(unbound, "mfa_changed"))

    assert finding.evidence["values"]["user_names"] == ["alice"]
    assert _detect([_attack("ListVirtualMFADevices")], "mfa_changed") == []


def _secret_reads(count: int, spacing_seconds: float) -> list[dict[str, Any]]:
    return [
        _attack(
            "GetSecretValue",
            minutes=index * spacing_seconds / 60,
            request_parameters={"SecretName": f"prod/db-{index:02d}"},
            response_elements={"SecretData": "do-not-leak"},
        )
        for index in range(count)
    ]


def test_secrets_read_few_medium() -> None:
    finding = _one(_detect(_secret_reads(3, 5), "secrets_read"))

    assert finding.severity == "medium"
    assert finding.evidence["values"]["secrets"] == [
        "prod/db-00",
        "prod/db-01",
        "prod/db-02",
    ]
    assert "do-not-leak" not in json.dumps(finding.to_dict())


def test_secrets_read_bulk_high() -> None:
    finding = _one(_detect(_secret_reads(20, 10), "secrets_read"))

    assert finding.severity == "high"
    assert finding.evidence["values"]["max_distinct_in_window"] == 20


def test_secrets_read_slow_reads_stay_medium() -> None:
    finding = _one(_detect(_secret_reads(20, 600), "secrets_read"))

    assert finding.severity == "medium"


def test_secrets_read_negative_list() -> None:
    assert _detect([_attack("ListSecrets")], "secrets_read") == []


def test_resource_shared_image_with_account() -> None:
    records = [
        _attack(
            "ModifyImageSharePermission",
            request_parameters={"ImageId": "m-1", "AddAccount.1": "9999888877776666"},
        )
    ]

    finding = _one(_detect(records, "resource_shared"))

    assert "9999888877776666" in finding.summary


def test_resource_shared_bucket_acl_and_role_trust() -> None:
    records = [
        _attack(
            "PutBucketAcl",
            request_parameters={"BucketName": "data", "x-oss-acl": "public-read"},
        ),
        _attack(
            "UpdateRole",
            minutes=6,
            request_parameters={
                "RoleName": "ops-admin",
                "NewAssumeRolePolicyDocument": json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {
                                    "RAM": ["acs:ram::5555666677778888:root"]
                                },
                            }
                        ]
                    }
                ),
            },
        ),
    ]

    finding = _one(_detect(records, "resource_shared"))

    shares = list(finding.evidence["values"]["shares"].values())
    assert "data ACL set to public-read" in shares
    assert "role ops-admin trusts account(s) 5555666677778888" in shares


def test_resource_shared_negative_cases() -> None:
    records = [
        _attack(
            "ModifyImageSharePermission",
            request_parameters={
                "ImageId": "m-1",
                "RemoveAccount.1": "9999888877776666",
            },
        ),
        _attack(
            "PutBucketAcl",
            request_parameters={"BucketName": "data", "x-oss-acl": "private"},
        ),
        _attack(
            "UpdateRole",
            request_parameters={
                "RoleName": "ops-admin",
                "NewAssumeRolePolicyDocument": '{"Principal": '
                '{"RAM": ["acs:ram::1234567890123456:root"]}}',
            },
        ),
    ]

    assert _detect(records, "resource_shared") == []


# Bursts ------------------------------------------------------------------------------


def _denied(count: int, spacing_minutes: float, **fields: Any) -> list[dict[str, Any]]:
    values: dict[str, Any] = {
        "error_code": "NoPermission",
        "error_message": "You are not authorized to do this action.",
    }
    values.update(fields)
    return [
        _attack("DescribeDBInstances", minutes=index * spacing_minutes, **values)
        for index in range(count)
    ]


def test_permission_error_burst_positive() -> None:
    finding = _one(_detect(_denied(6, 1), "permission_error_burst"))

    assert finding.severity == "high"
    assert finding.evidence["values"]["max_in_window"] == 6
    assert len(finding.event_ids) == 6


def test_permission_error_burst_below_threshold() -> None:
    assert _detect(_denied(5, 1), "permission_error_burst") == []


def test_permission_error_burst_spread_out() -> None:
    assert _detect(_denied(6, 6), "permission_error_burst") == []


def test_permission_error_burst_matches_messages_and_variants() -> None:
    by_message = _denied(
        6, 1, error_code="", error_message="The user has no permission"
    )
    misspelt = _denied(6, 1, error_code="Forbbiden.RAM")
    other_errors = _denied(
        6, 1, error_code="Throttling.User", error_message="slow down"
    )

    assert len(_detect(by_message, "permission_error_burst")) == 1
    assert len(_detect(misspelt, "permission_error_burst")) == 1
    assert _detect(other_errors, "permission_error_burst") == []


def test_permission_error_burst_grouped_by_source_ip() -> None:
    records = _denied(3, 1) + _denied(3, 1, source_ip="192.0.2.1")

    assert _detect(records, "permission_error_burst") == []


def _discovery(actions: list[str], start_seconds: float = 0) -> list[dict[str, Any]]:
    return [
        _attack(action, minutes=(start_seconds + index) / 60)
        for index, action in enumerate(actions)
    ]


DISCOVERY = [
    "ListUsers",
    "ListRoles",
    "DescribeInstances",
    "DescribeRegions",
    "GetUser",
    "ListBuckets",
]


def test_enumeration_burst_positive() -> None:
    finding = _one(_detect(_discovery(DISCOVERY), "enumeration_burst"))

    assert finding.severity == "medium"
    assert list(finding.evidence["values"]["bursts"].values()) == [6]


def test_enumeration_burst_negative_cases() -> None:
    five_distinct = _discovery(DISCOVERY[:5])
    repeated = _discovery(["DescribeInstances"] * 8)
    slow = [_attack(action, minutes=index) for index, action in enumerate(DISCOVERY)]

    assert _detect(five_distinct, "enumeration_burst") == []
    assert _detect(repeated, "enumeration_burst") == []
    assert _detect(slow, "enumeration_burst") == []


def test_trailing_counts_groups_independent() -> None:
    from akresponder.analysis.detectors import _trailing_counts

    times = pd.Series(
        pd.to_datetime(
            ["2026-11-20T00:00:00Z", "2026-11-20T00:00:30Z", "2026-11-20T00:00:10Z"]
        )
    )
    groups = pd.Series([0, 0, 1]).to_numpy()

    counts = _trailing_counts(groups, times, pd.Timedelta(minutes=1))

    assert counts.tolist() == [1, 2, 1]


def _role_call(moment: datetime, key: str, ip: str) -> dict[str, Any]:
    return make_event(
        "DescribeInstances",
        time=moment,
        access_key_id=key,
        user_name=f"ops-admin:{key[-4:]}",
        identity_type="assumed-role",
        principal_id=f"300000000000000001:{key[-4:]}",
        source_ip=ip,
    )


def test_role_sessions_share_one_baseline() -> None:
    history = [
        _role_call(WINDOW_START - timedelta(days=day), f"STS.old{day:04d}", "10.0.0.5")
        for day in range(1, 4)
    ]
    same_ip = [_role_call(WINDOW_START + timedelta(minutes=5), "STS.new1", "10.0.0.5")]
    new_ip = [_role_call(WINDOW_START + timedelta(minutes=6), "STS.new2", ATTACKER_IP)]

    assert _detect(history + same_ip, "unknown_source_ip", keys=("STS.new1",)) == []
    finding = _one(_detect(history + new_ip, "unknown_source_ip", keys=("STS.new2",)))

    assert finding.summary.startswith("Role ops-admin was used from 1 source IP")
    assert finding.evidence["baseline"]["compared_with"] == "identity"
    assert finding.access_key_id == "STS.new2"


def test_baseline_notes_without_history() -> None:
    from akresponder.analysis.detectors import baseline_notes

    scope = IncidentScope(window_start=WINDOW_START, access_key_ids=(KEY,))
    only_window = normalise_events([_attack("DescribeInstances")])

    assert baseline_notes(normalise_events(_baseline()), scope) == []
    assert "no events in the 90 days" in baseline_notes(only_window, scope)[0]
    assert run_detectors(only_window, scope, kinds=["unknown_source_ip"]) == []
