"""Tests of the CloudTrail converter on a subset of the invictus-ir dataset.

tests/data/invictus/CloudTrail/ contains 8 of the dataset's 55 delivery files, chosen
for their calls: the creation and deletion of attacker users and keys, a console
sign-in, trail tampering, inline policies, GPU launches, throttling and permission
errors. golden-events.json pins a few converted records exactly. After a
deliberate change, rewrite it with
``PYTHONPATH=. python tests/test_cloudtrail_import.py --update-golden``
and review the diff.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from emulator.cloudtrail import (
    ConversionError,
    ConvertOptions,
    convert_records,
    find_source_files,
    read_records,
    write_scenario,
)
from emulator.cloudtrail_ids import generated_secret, map_access_key_id
from emulator.scenario import load_scenario

DATA = Path(__file__).parent / "data" / "invictus"
CLOUDTRAIL = DATA / "CloudTrail"
GOLDEN = DATA / "golden-events.json"
REPO = Path(__file__).parent.parent
LEAKED_AWS_KEY = "AKIATFQR7NSC8Q4X20BJ"  # bert-jan's key, used by the attack tool
LEAKED_KEY = "LTAI5tbuZIjVAVKRpqJhK7px"
BACKDOOR_AWS_KEY = (
    "AKIATFQR7NSC3ZO6PKAZ"  # created for stratus-red-team-backdoor-u-user
)
GOLDEN_EVENTS = {
    "create_access_key": "64B7DE64-BF53-47AE-B7E3-D30CB1B5136E",
    "attach_admin_policy": "F4923A37-92D5-4DFD-9786-6CAEF2B5F33C",
    "delete_user": "0BB0DBE3-F64F-461A-AA94-BDE583FF90B6",
    "console_signin": "70E5932E-9022-4B38-837E-CA10DAD94EB7",
    "assume_role": "7C53CAE3-F037-4394-8AD9-086F099EFA7D",
    "assume_role_denied": "073C57C4-C3BB-4D4C-908E-29FA31EEFC0D",
    "stop_logging_missing_trail": "9790EE84-ED2B-4866-83D1-F32AF0DD4CD2",
    "inline_policy_create": "39B115ED-5806-43B7-ABD5-C4E078B1528A",
    "ecs_forbidden": "91BC9D28-E014-49D4-AC84-BCEE8D219C72",
    "gpu_quota_exceeded": "2F4876BA-B0FC-4A24-B406-BEF4DCC9656F",
    "throttled": "E2846BCE-D392-47C0-BFD7-D341B4785E6F",
}
KEY_ID = re.compile(r"^(LTAI5t[0-9A-Za-z]{18}|STS\.[0-9A-Za-z]{24})$")


def subset_records() -> list[dict[str, Any]]:
    return [
        record
        for path in find_source_files([CLOUDTRAIL])
        for record in read_records(path)
    ]


def convert_subset(**options: Any) -> Any:
    settings = {"attach_policies": (("bert-jan", "AdministratorAccess"),)}
    settings.update(options)
    return convert_records(subset_records(), ConvertOptions(**settings))


@pytest.fixture(scope="module")
def conversion() -> Any:
    return convert_subset()


@pytest.fixture(scope="module")
def events_by_id(conversion: Any) -> dict[str, dict[str, Any]]:
    return {event["eventId"]: event for event in conversion.events}


def record(
    event_source: str = "iam.amazonaws.com",
    event_name: str = "ListUsers",
    identity: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A minimal CloudTrail record for the mapping tests."""
    base: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": identity
        or {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE000000001",
            "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLE000000001",
            "userName": "alice",
        },
        "eventTime": "2024-05-01T10:00:00Z",
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": None,
        "responseElements": None,
        "requestID": "a1b2c3d4-0000-4000-8000-000000000001",
        "eventID": "e1b2c3d4-0000-4000-8000-000000000001",
        "readOnly": event_name.startswith(("List", "Get", "Describe")),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
    }
    base.update(fields)
    return base


def convert_one(source: dict[str, Any]) -> list[dict[str, Any]]:
    return convert_records([source]).events


# --- the subset: counts, users and keys, golden records -------------------------------


def test_convert_subset_counts(conversion: Any) -> None:
    stats = conversion.stats
    assert stats.records == 334
    assert stats.duplicates == 0
    assert stats.converted_records == 256
    assert stats.events == 258  # two inline policies became two events each
    assert sum(stats.dropped_calls.values()) == 78
    assert not stats.dropped_identities


def test_convert_subset_service_counts(conversion: Any) -> None:
    counts = Counter(event["serviceName"] for event in conversion.events)
    assert counts == {
        "Oss": 51,
        "Ecs": 49,
        "Ims": 40,
        "Vpc": 40,
        "Ram": 29,
        "Sts": 12,
        "Actiontrail": 10,
        "Fc": 9,
        "Oos": 6,
        "Rds": 6,
        "Kms": 4,
        "AasSub": 1,
        "Slb": 1,
    }


def test_convert_subset_error_counts(conversion: Any) -> None:
    counts = Counter(event["errorCode"] for event in conversion.events)
    assert counts == {
        "": 215,
        "Forbidden.RAM": 15,
        "NoSuchCORSConfiguration": 4,
        "InvalidParameter": 4,
        "ReplicationConfigurationNotFoundError": 3,
        "TrailNotFoundException": 3,
        "NoSuchWebsiteConfiguration": 3,
        "NoPermission": 2,
        "NoSuchTagSet": 2,
        "NoSuchLifecycleConfiguration": 2,
        "Throttling.User": 1,
        "QuotaExceed.ElasticQuota": 1,
        "VpcLimitExceeded": 1,
        "InvalidSubnetId.NotFound": 1,
        "InvalidRouteTableId.NotFound": 1,
    }


def test_convert_subset_identity_counts(conversion: Any) -> None:
    counts = Counter(event["userIdentity"]["type"] for event in conversion.events)
    assert counts == {"ram-user": 235, "assumed-role": 16, "system": 7}


def test_convert_subset_attacker_event_names(conversion: Any) -> None:
    counts = Counter(event["eventName"] for event in conversion.events)
    expected = {
        "CreateUser": 4,
        "CreateAccessKey": 2,
        "AttachPolicyToUser": 1,
        "CreateLoginProfile": 1,
        "DeleteAccessKey": 1,
        "DeleteUser": 1,
        "ConsoleSignin": 1,
        "StopLogging": 3,
        "UpdateTrail": 1,
        "DeleteFlowLog": 1,
        "UpdateRole": 1,
        "AssumeRole": 11,
        "GetCallerIdentity": 1,
        "RunInstances": 2,
        "ListUsers": 1,
    }
    assert {name: counts[name] for name in expected} == expected


def test_convert_subset_users_and_keys(conversion: Any) -> None:
    users = {
        user["UserName"]: [key["AccessKeyId"] for key in user["AccessKeys"]]
        for user in conversion.scenario["users"]
    }
    assert users == {
        "benjamin": ["LTAI5t0QkiR7lshSFIUVWcUG", "LTAI5t9NmmpnrCTHgBVcFqu5"],
        "bert-jan": [LEAKED_KEY],
        "stratus-red-team-backdoor-u-user": [map_access_key_id(BACKDOOR_AWS_KEY)],
        "stratus-red-team-login-profile-user": [],
        "stratus-red-team-nmfalu-gfjyeaypjt": [],
    }


def test_convert_subset_deleted_user_absent(conversion: Any) -> None:
    # malicious-iam-user and its key are created and deleted inside the subset.
    names = {user["UserName"] for user in conversion.scenario["users"]}
    assert "malicious-iam-user" not in names
    key_ids = {
        key["AccessKeyId"]
        for user in conversion.scenario["users"]
        for key in user["AccessKeys"]
    }
    assert map_access_key_id("AKIATFQR7NSCQLA2F4OD") not in key_ids


def test_convert_subset_created_user_dates(conversion: Any) -> None:
    users = {user["UserName"]: user for user in conversion.scenario["users"]}
    backdoor = users["stratus-red-team-backdoor-u-user"]
    assert backdoor["CreateDate"] == "2023-07-10T12:24:28Z"
    assert backdoor["AccessKeys"][0]["CreateDate"] == "2023-07-10T12:24:29Z"
    # Users older than the records start with the account, six months earlier.
    assert users["bert-jan"]["CreateDate"] == "2023-01-01T00:00:00Z"


def test_convert_subset_signin_login_profile(conversion: Any) -> None:
    users = {user["UserName"]: user for user in conversion.scenario["users"]}
    assert users["stratus-red-team-nmfalu-gfjyeaypjt"]["LoginProfile"] == {
        "MFABindRequired": False,
        "PasswordResetRequired": False,
    }
    assert users["benjamin"]["LoginProfile"] is None


def test_convert_subset_granted_policy(conversion: Any) -> None:
    users = {user["UserName"]: user for user in conversion.scenario["users"]}
    assert users["bert-jan"]["Policies"] == [
        {"PolicyName": "AdministratorAccess", "PolicyType": "System"}
    ]
    assert users["benjamin"]["Policies"] == []


def test_convert_subset_key_secrets_generated(conversion: Any) -> None:
    for user in conversion.scenario["users"]:
        for key in user["AccessKeys"]:
            assert key["AccessKeySecret"] == generated_secret(key["AccessKeyId"])
            assert len(key["AccessKeySecret"]) == 30
            assert key["Status"] == "Active"


def test_convert_subset_golden_records(events_by_id: dict[str, Any]) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(golden) == sorted(GOLDEN_EVENTS)
    for name, event_id in GOLDEN_EVENTS.items():
        assert events_by_id[event_id] == golden[name], name


def test_convert_subset_key_lineage(conversion: Any, events_by_id: dict) -> None:
    created = events_by_id[GOLDEN_EVENTS["create_access_key"]]
    new_key = created["responseElements"]["AccessKey"]["AccessKeyId"]
    assert created["userIdentity"]["accessKeyId"] == LEAKED_KEY
    assert new_key == map_access_key_id(BACKDOOR_AWS_KEY)
    assert created["referencedResources"]["ACS::RAM::AccessKey"] == [new_key]
    owners = {
        key["AccessKeyId"]: user["UserName"]
        for user in conversion.scenario["users"]
        for key in user["AccessKeys"]
    }
    assert owners[new_key] == "stratus-red-team-backdoor-u-user"


def test_convert_subset_keeps_source_names(conversion: Any) -> None:
    derived_ids = 0
    for event in conversion.events:
        extra = event["additionalEventData"]
        assert extra["sourceEventName"]
        assert extra["sourceEventSource"].endswith(".amazonaws.com")
        if event["eventId"] != extra["sourceEventId"].upper():
            derived_ids += 1
    # Only the second event of each split inline-policy call has a derived id.
    assert derived_ids == 2


def test_convert_subset_event_shape(conversion: Any) -> None:
    for event in conversion.events:
        assert event["eventVersion"] == "1"
        assert event["eventRW"] in ("Read", "Write")
        assert event["recipientAccountId"] == "1000123837392027"
        assert event["eventId"] == event["eventId"].upper()
        assert isinstance(event["requestParameters"], dict)
        assert all(isinstance(v, str) for v in event["requestParameters"].values())
        key_id = event["userIdentity"].get("accessKeyId")
        if key_id is not None:
            assert KEY_ID.match(key_id), key_id


def test_convert_subset_no_aws_identifiers(conversion: Any) -> None:
    text = json.dumps(conversion.events)
    assert not re.search(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b", text)
    assert not re.search(r"\b(AIDA|AROA)[A-Z0-9]{13,17}\b", text)
    assert '"123837392027"' not in text
    assert "arn:aws:iam::123837392027" not in text


def test_convert_subset_no_secrets(conversion: Any) -> None:
    text = json.dumps(conversion.events)
    # AWS session tokens in the source AssumeRole responses start with "IQoJ".
    assert "IQoJ" not in text
    for field in ("sessionToken", "SessionToken", "SecretAccessKey", 'Password"'):
        assert field not in text


def test_convert_assume_role_key_only(events_by_id: dict) -> None:
    event = events_by_id[GOLDEN_EVENTS["assume_role"]]
    credentials = event["responseElements"]["Credentials"]
    assert sorted(credentials) == ["AccessKeyId", "Expiration"]
    assert credentials["AccessKeyId"].startswith("STS.")
    assert event["referencedResources"]["ACS::RAM::AccessKey"] == [
        credentials["AccessKeyId"]
    ]


def test_convert_subset_scenario_fields(conversion: Any) -> None:
    scenario = conversion.scenario
    assert scenario["account_id"] == "1000123837392027"
    assert scenario["region"] == "us-east-1"
    assert scenario["now"] == "2023-07-10T12:30:48Z"
    assert scenario["trail"] == {
        "Name": "main",
        "SlsProject": "actiontrail-1000123837392027",
        "Region": "us-east-1",
    }
    cycles = sorted({bill["BillingCycle"] for bill in scenario["bills"]})
    assert cycles == [f"2023-0{month}" for month in range(1, 8)]


def test_convert_subset_loads_in_emulator(conversion: Any, tmp_path: Path) -> None:
    write_scenario(conversion, tmp_path / "subset.json")
    cloud = load_scenario(tmp_path / "subset.json")
    assert len(cloud.events) == 258
    assert sorted(cloud.users) == sorted(
        u["UserName"] for u in conversion.scenario["users"]
    )
    leaked = cloud.access_keys[LEAKED_KEY]
    assert leaked.user_name == "bert-jan"
    assert leaked.last_used is not None


# --- determinism and file formats -----------------------------------------------------


def test_convert_output_deterministic(tmp_path: Path) -> None:
    first = tmp_path / "one" / "scenario.json"
    second = tmp_path / "two" / "scenario.json"
    write_scenario(convert_subset(), first, "file")
    reversed_records = list(reversed(subset_records()))
    write_scenario(
        convert_records(
            reversed_records,
            ConvertOptions(attach_policies=(("bert-jan", "AdministratorAccess"),)),
        ),
        second,
        "file",
    )
    assert first.read_bytes() == second.read_bytes()
    first_events = first.with_name("scenario.events.jsonl").read_bytes()
    second_events = second.with_name("scenario.events.jsonl").read_bytes()
    assert first_events == second_events


def test_convert_duplicates_skipped() -> None:
    records = subset_records()
    conversion = convert_records(records + records[:10])
    assert conversion.stats.duplicates == 10
    assert conversion.stats.events == 258


def test_read_records_formats(tmp_path: Path) -> None:
    records = [record(), record(eventID="e1b2c3d4-0000-4000-8000-000000000002")]
    array = tmp_path / "array.json"
    array.write_text(json.dumps(records))
    lines = tmp_path / "lines.jsonl"
    lines.write_text("\n".join(json.dumps(item) for item in records) + "\n")
    zipped = tmp_path / "delivery.json.gz"
    with gzip.open(zipped, "wt") as stream:
        json.dump({"Records": records}, stream)
    single = tmp_path / "single.json"
    single.write_text(json.dumps(records[0]))
    assert read_records(array) == records
    assert read_records(lines) == records
    assert read_records(zipped) == records
    assert read_records(single) == records[:1]


def test_find_source_files_recurses(tmp_path: Path) -> None:
    nested = tmp_path / "AWSLogs" / "2024" / "05"
    nested.mkdir(parents=True)
    (nested / "a.json.gz").write_bytes(gzip.compress(b'{"Records": []}'))
    (nested / "notes.txt").write_text("not a trail file")
    (tmp_path / "b.json").write_text('{"Records": []}')
    found = find_source_files([tmp_path])
    assert [path.name for path in found] == ["a.json.gz", "b.json"]


def test_read_records_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(record()) + "\n{not json\n")
    with pytest.raises(ConversionError, match=r"broken.jsonl line 2 is not JSON"):
        read_records(path)


def test_read_records_not_cloudtrail(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps([{"eventName": "X"}]))
    with pytest.raises(ConversionError, match=r"record 0 .* lacks eventTime"):
        read_records(path)


def test_find_source_files_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="does not exist"):
        find_source_files([tmp_path / "absent"])


# --- mapping rules --------------------------------------------------------------------


def test_map_access_key_ids() -> None:
    long_term = map_access_key_id("AKIAEXAMPLE000000001")
    session = map_access_key_id("ASIAEXAMPLE000000001")
    assert re.fullmatch(r"LTAI5t[0-9A-Za-z]{18}", long_term)
    assert re.fullmatch(r"STS\.[0-9A-Za-z]{24}", session)
    assert map_access_key_id("AKIAEXAMPLE000000001") == long_term
    assert map_access_key_id(LEAKED_AWS_KEY) == LEAKED_KEY


@pytest.mark.parametrize(
    ("source", "name", "service", "expected"),
    [
        ("iam.amazonaws.com", "AttachUserPolicy", "Ram", "AttachPolicyToUser"),
        ("iam.amazonaws.com", "CreateLoginProfile", "Ims", "CreateLoginProfile"),
        ("iam.amazonaws.com", "UpdateAssumeRolePolicy", "Ram", "UpdateRole"),
        ("iam.amazonaws.com", "ListAttachedUserPolicies", "Ram", "ListPoliciesForUser"),
        ("sts.amazonaws.com", "GetCallerIdentity", "Sts", "GetCallerIdentity"),
        ("cloudtrail.amazonaws.com", "StopLogging", "Actiontrail", "StopLogging"),
        ("cloudtrail.amazonaws.com", "DeleteTrail", "Actiontrail", "DeleteTrail"),
        ("cloudtrail.amazonaws.com", "PutEventSelectors", "Actiontrail", "UpdateTrail"),
        ("secretsmanager.amazonaws.com", "GetSecretValue", "Kms", "GetSecretValue"),
        (
            "ec2.amazonaws.com",
            "ModifySnapshotAttribute",
            "Ecs",
            "ModifySnapshotAttribute",
        ),
        (
            "ec2.amazonaws.com",
            "ModifyImageAttribute",
            "Ecs",
            "ModifyImageSharePermission",
        ),
        ("ec2.amazonaws.com", "RunInstances", "Ecs", "RunInstances"),
        ("ec2.amazonaws.com", "TerminateInstances", "Ecs", "DeleteInstances"),
        ("ec2.amazonaws.com", "DeleteFlowLogs", "Vpc", "DeleteFlowLog"),
        ("s3.amazonaws.com", "CreateBucket", "Oss", "PutBucket"),
        ("s3.amazonaws.com", "PutBucketPolicy", "Oss", "PutBucketPolicy"),
        ("ssm.amazonaws.com", "SendCommand", "Ecs", "InvokeCommand"),
        (
            "organizations.amazonaws.com",
            "LeaveOrganization",
            "ResourceManager",
            "RemoveCloudAccount",
        ),
        (
            "lambda.amazonaws.com",
            "UpdateFunctionCode20150331v2",
            "Fc",
            "UpdateFunction",
        ),
    ],
)
def test_map_event_names(source: str, name: str, service: str, expected: str) -> None:
    (event,) = convert_one(record(source, name))
    assert event["serviceName"] == service
    assert event["eventName"] == expected
    assert event["additionalEventData"]["sourceEventName"] == name


def test_map_unknown_call_dropped() -> None:
    records = [
        record(),
        record("ec2.amazonaws.com", "GetPasswordData", eventID="e-password-data"),
    ]
    conversion = convert_records(records)
    assert conversion.stats.dropped_calls == {"ec2:GetPasswordData": 1}
    assert len(conversion.events) == 1


def test_map_console_login() -> None:
    source = record(
        "signin.amazonaws.com",
        "ConsoleLogin",
        identity={
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE000000001",
            "accountId": "111122223333",
            "userName": "alice",
        },
        eventType="AwsConsoleSignIn",
        responseElements={"ConsoleLogin": "Success"},
        additionalEventData={"MFAUsed": "No"},
    )
    (event,) = convert_one(source)
    assert event["eventName"] == "ConsoleSignin"
    assert event["eventType"] == "ConsoleSignin"
    assert event["serviceName"] == "AasSub"
    assert event["errorMessage"] == "success"
    assert "accessKeyId" not in event["userIdentity"]
    assert event["additionalEventData"]["mfaChecked"] == "false"
    assert (
        event["additionalEventData"]["loginAccount"]
        == "alice@1000111122223333.onaliyun.com"
    )


def test_map_failed_root_console_login() -> None:
    source = record(
        "signin.amazonaws.com",
        "ConsoleLogin",
        identity={"type": "Root", "principalId": "111122223333"},
        eventType="AwsConsoleSignIn",
        responseElements={"ConsoleLogin": "Failure"},
        errorMessage="Failed authentication",
    )
    (event,) = convert_one(source)
    assert event["serviceName"] == "AasCustomer"
    assert event["userIdentity"]["type"] == "root-account"
    assert event["errorCode"] == ""
    assert event["errorMessage"] == "Failed authentication"


@pytest.mark.parametrize(
    ("service", "name", "aws_code", "code"),
    [
        ("iam", "CreateUser", "AccessDenied", "NoPermission"),
        ("ec2", "RunInstances", "Client.UnauthorizedOperation", "Forbidden.RAM"),
        ("iam", "ListUsers", "ThrottlingException", "Throttling.User"),
        ("ec2", "DescribeVpcs", "Client.RequestLimitExceeded", "Throttling.User"),
        (
            "sts",
            "GetCallerIdentity",
            "InvalidClientTokenId",
            "InvalidAccessKeyId.NotFound",
        ),
        ("sts", "GetCallerIdentity", "ExpiredToken", "InvalidSecurityToken.Expired"),
        (
            "iam",
            "DeleteLoginProfile",
            "NoSuchEntityException",
            "EntityNotExist.User.LoginProfile",
        ),
        (
            "iam",
            "CreateAccessKey",
            "LimitExceededException",
            "LimitExceeded.User.AccessKey",
        ),
        (
            "iam",
            "CreateUser",
            "EntityAlreadyExistsException",
            "EntityAlreadyExists.User",
        ),
        ("ec2", "DeleteVpc", "Client.InvalidVpcID.NotFound", "InvalidVpcId.NotFound"),
    ],
)
def test_map_error_codes(service: str, name: str, aws_code: str, code: str) -> None:
    source = record(
        f"{service}.amazonaws.com", name, errorCode=aws_code, errorMessage="failed"
    )
    (event,) = convert_one(source)
    assert event["errorCode"] == code
    assert event["errorMessage"]
    assert event["responseElements"] == {}


def test_map_regions() -> None:
    regions = {
        aws: convert_one(record(awsRegion=aws))[0]["acsRegion"]
        for aws in (
            "us-east-1",
            "us-east-2",
            "eu-west-3",
            "ap-east-1",
            "ap-southeast-3",
        )
    }
    assert regions == {
        "us-east-1": "us-east-1",
        "us-east-2": "us-east-1",
        "eu-west-3": "eu-central-1",
        "ap-east-1": "cn-hongkong",
        "ap-southeast-3": "ap-southeast-5",
    }


def test_map_event_time_whole_seconds() -> None:
    (event,) = convert_one(record(eventTime="2024-05-01T10:00:00.250Z"))
    assert event["eventTime"] == "2024-05-01T10:00:00Z"


def test_convert_bad_event_time() -> None:
    with pytest.raises(ConversionError, match="eventTime 'yesterday'"):
        convert_records([record(eventTime="yesterday")])


def test_map_read_only_to_event_rw() -> None:
    assert convert_one(record(readOnly=True))[0]["eventRW"] == "Read"
    write = record("iam.amazonaws.com", "CreateUser", readOnly=False)
    assert convert_one(write)[0]["eventRW"] == "Write"


def test_map_assumed_role_identity() -> None:
    identity = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE000000001:session-1",
        "arn": "arn:aws:sts::111122223333:assumed-role/deployer/session-1",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLE000000001",
    }
    (event,) = convert_one(record(identity=identity))
    mapped = event["userIdentity"]
    assert mapped["type"] == "assumed-role"
    assert mapped["userName"] == "deployer:session-1"
    assert re.fullmatch(r"3\d{17}:session-1", mapped["principalId"])
    assert mapped["accessKeyId"].startswith("STS.")


def test_map_federated_identity_dropped() -> None:
    identity = {"type": "FederatedUser", "principalId": "111122223333:bob"}
    conversion = convert_records([record(), record(identity=identity, eventID="f-2")])
    assert conversion.stats.dropped_identities == {"FederatedUser": 1}


def test_map_policy_arn() -> None:
    managed = record(
        "iam.amazonaws.com",
        "AttachUserPolicy",
        requestParameters={
            "userName": "alice",
            "policyArn": "arn:aws:iam::aws:policy/IAMFullAccess",
        },
    )
    (event,) = convert_one(managed)
    parameters = event["requestParameters"]
    assert parameters["PolicyName"] == "AliyunRAMFullAccess"
    assert parameters["PolicyType"] == "System"
    assert parameters["UserName"] == "alice"
    assert "PolicyArn" not in parameters


def test_map_request_parameters_flattened() -> None:
    source = record(
        "iam.amazonaws.com",
        "CreateUser",
        requestParameters={
            "userName": "bob",
            "tags": [{"key": "team", "value": "red"}],
            "permissionsBoundary": None,
        },
    )
    parameters = convert_one(source)[0]["requestParameters"]
    assert parameters["UserName"] == "bob"
    assert parameters["Tags.1.Key"] == "team"
    assert parameters["Tags.1.Value"] == "red"
    assert "PermissionsBoundary" not in parameters
    assert parameters["AcsProduct"] == "Ims"


def test_map_secret_parameters_removed() -> None:
    source = record(
        "rds.amazonaws.com",
        "CreateDBInstance",
        requestParameters={"dBInstanceIdentifier": "db1", "masterUserPassword": "pw"},
    )
    parameters = convert_one(source)[0]["requestParameters"]
    assert parameters["DBInstanceIdentifier"] == "db1"
    assert not any("Password" in key for key in parameters)


def test_map_inline_policy_split() -> None:
    source = record(
        "iam.amazonaws.com",
        "PutRolePolicy",
        requestParameters={
            "roleName": "builder",
            "policyName": "inline",
            "policyDocument": "{}",
        },
    )
    create, attach = convert_one(source)
    assert create["eventName"] == "CreatePolicy"
    assert create["requestParameters"]["PolicyDocument"] == "{}"
    assert "RoleName" not in create["requestParameters"]
    assert attach["eventName"] == "AttachPolicyToRole"
    assert attach["requestParameters"]["RoleName"] == "builder"
    assert attach["requestParameters"]["PolicyType"] == "Custom"
    assert create["eventId"] != attach["eventId"]


def test_convert_attach_policy_unknown_user() -> None:
    options = ConvertOptions(attach_policies=(("nobody", "AdministratorAccess"),))
    with pytest.raises(ConversionError, match="user 'nobody'.*users: alice"):
        convert_records([record()], options)


def test_convert_attach_policy_unknown_policy() -> None:
    options = ConvertOptions(attach_policies=(("alice", "PowerUserAccess"),))
    with pytest.raises(ConversionError, match="'PowerUserAccess'.*use one of"):
        convert_records([record()], options)


def test_convert_bad_account_id() -> None:
    with pytest.raises(ConversionError, match="16 digits"):
        convert_records([record()], ConvertOptions(account_id="123"))


def test_convert_account_id_option() -> None:
    options = ConvertOptions(account_id="1234567890123456")
    conversion = convert_records([record()], options)
    assert conversion.scenario["account_id"] == "1234567890123456"
    assert conversion.events[0]["userIdentity"]["accountId"] == "1234567890123456"


def test_convert_third_key_left_out() -> None:
    records = [
        record(
            eventID=f"e-{index}",
            eventTime=f"2024-05-01T10:0{index}:00Z",
            userIdentity={
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE000000001",
                "accountId": "111122223333",
                "accessKeyId": f"AKIAEXAMPLE00000000{index}",
                "userName": "alice",
            },
        )
        for index in range(3)
    ]
    conversion = convert_records(records)
    keys = conversion.scenario["users"][0]["AccessKeys"]
    assert [key["AccessKeyId"] for key in keys] == sorted(
        map_access_key_id(f"AKIAEXAMPLE00000000{index}") for index in (1, 2)
    )
    assert conversion.stats.dropped_keys == [map_access_key_id("AKIAEXAMPLE000000000")]


# --- command line ---------------------------------------------------------------------


def test_cli_import_writes_scenario(tmp_path: Path) -> None:
    out = tmp_path / "imported.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "import-cloudtrail",
            str(CLOUDTRAIL),
            "--out",
            str(out),
            "--attach-policy",
            "bert-jan=AdministratorAccess",
            "--now",
            "2023-07-10T13:00:00Z",
            "--events",
            "file",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "wrote 258 ActionTrail events from 256 records" in completed.stdout
    assert "dropped 78 records" in completed.stdout
    scenario = json.loads(out.read_text())
    assert scenario["now"] == "2023-07-10T13:00:00Z"
    assert scenario["events_file"] == "imported.events.jsonl"
    assert len(load_scenario(out).events) == 258


def test_cli_import_bad_option_exits_2(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "import-cloudtrail",
            str(CLOUDTRAIL),
            "--out",
            str(tmp_path / "x.json"),
            "--account-id",
            "42",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "--account-id '42' is not an Alibaba account id" in completed.stderr
    assert not (tmp_path / "x.json").exists()


def _write_golden() -> None:
    events = {event["eventId"]: event for event in convert_subset().events}
    golden = {name: events[event_id] for name, event_id in GOLDEN_EVENTS.items()}
    GOLDEN.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--update-golden"]:
        _write_golden()
    else:
        sys.exit("usage: python tests/test_cloudtrail_import.py --update-golden")
