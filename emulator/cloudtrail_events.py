"""Convert one AWS CloudTrail record into ActionTrail records in the LookupEvents shape.

The field mapping follows how the two services describe the same call: identity types
(IAMUser -> ram-user, Root -> root-account, AssumedRole -> assumed-role, AWSService ->
system), ``readOnly`` -> ``eventRW``, event types, regions, error codes, and the event
names and services of ``emulator.cloudtrail_tables``. ``requestParameters`` become flat
PascalCase wire parameters (``Tags.1.Key``) and ``responseElements`` keep PascalCase
keys. Both are approximations, except for the calls that lineage analysis follows:
the RAM user, key, login-profile and role calls, AssumeRole and RunInstances.

Secrets never reach the output: keys that name a password, secret key, session token
or private key are removed at any depth, and AssumeRole responses keep only the key id.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from emulator import cloudtrail_tables as tables
from emulator.cloudtrail_ids import IdMapper, map_access_key_id, map_region

# Request and response keys whose values are credentials, matched at the end of the
# key name so that "masterUserPassword" and "sessionToken" both match.
SECRET_KEY = re.compile(
    r"(?i)(password|secretaccesskey|accesskeysecret|sessiontoken|securitytoken|"
    r"secretstring|secretbinary|privatekey|plaintext)$"
)
LAMBDA_VERSION_SUFFIX = re.compile(r"\d{8}(v\d+)?$")
CLOUDTRAIL_DATE = re.compile(
    r"^(?P<date>[A-Z][a-z]{2} \d{1,2}, \d{4}),? (?P<time>\d{1,2}:\d{2}:\d{2} [AP]M)$"
)
READ_PREFIXES = ("Get", "List", "Describe", "Lookup", "Query", "Check")
EVENT_ID_NAMESPACE = uuid.UUID("5b0f4c8e-2a6d-4d3e-9c1a-7f0e8d2b6a41")

EVENT_TYPES = {
    "AwsApiCall": "ApiCall",
    "AwsConsoleSignIn": "ConsoleSignin",
    "AwsServiceEvent": "AliyunServiceEvent",
    "AwsConsoleAction": "ConsoleOperation",
}
IAM_PARAMETER_NAMES = {"accessKeyId": "UserAccessKeyId"}
INLINE_POLICY_CALLS = frozenset(
    "PutUserPolicy PutRolePolicy PutGroupPolicy GetUserPolicy GetRolePolicy "
    "DeleteUserPolicy DeleteRolePolicy DeleteGroupPolicy".split()
)
RAM_RESOURCE_PARAMETERS = {
    "UserName": "ACS::RAM::User",
    "GroupName": "ACS::RAM::Group",
    "RoleName": "ACS::RAM::Role",
    "PolicyName": "ACS::RAM::Policy",
    "UserAccessKeyId": "ACS::RAM::AccessKey",
}


def aws_service(record: dict[str, Any]) -> str:
    """Return the AWS service of a record: ``iam`` for ``iam.amazonaws.com``."""
    return str(record.get("eventSource", "")).split(".", 1)[0]


def aws_event_name(record: dict[str, Any]) -> str:
    """Return the event name without Lambda's API date suffix."""
    name = str(record.get("eventName", ""))
    if aws_service(record) == "lambda":
        return LAMBDA_VERSION_SUFFIX.sub("", name)
    return name


def parse_cloudtrail_date(text: str) -> str | None:
    """Convert IAM dates (``Jul 10, 2023 12:23:05 PM``) to ISO; None for others."""
    match = CLOUDTRAIL_DATE.match(text)
    if not match:
        return None
    moment = datetime.strptime(
        f"{match['date']} {match['time']}", "%b %d, %Y %I:%M:%S %p"
    ).replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def policy_from_arn(arn: str) -> tuple[str, str]:
    """Return the RAM (PolicyName, PolicyType) for an IAM policy ARN."""
    name = arn.rsplit("/", 1)[-1]
    if ":aws:policy/" in arn or arn.startswith("arn:aws:iam::aws:"):
        return tables.MANAGED_POLICIES.get(name, name), "System"
    return name, "Custom"


def map_instance_type(aws_type: str) -> str:
    """Map an EC2 instance type to a common ECS type of the same kind."""
    family = aws_type.split(".", 1)[0]
    for families, ecs_type in tables.INSTANCE_TYPE_FAMILIES:
        if family in families:
            return ecs_type
    return tables.DEFAULT_INSTANCE_TYPE


class EventConverter:
    """Convert CloudTrail records of one account, keeping ids consistent across them."""

    def __init__(self, ids: IdMapper, default_region: str) -> None:
        self.ids = ids
        self.default_region = default_region

    def targets(self, record: dict[str, Any]) -> tuple[str, ...] | None:
        """Return the ``Service:EventName`` targets of a record, None without one."""
        service = aws_service(record)
        name = aws_event_name(record)
        targets = tables.EVENT_MAP.get(service, {}).get(name)
        if targets is None:
            return None
        parameters = record.get("requestParameters") or {}
        if service == "ec2" and name == "DescribeInstanceAttribute":
            if parameters.get("attribute") == "userData":
                return ("Ecs:DescribeUserData",)
        if service == "ssm" and name in ("GetParameter", "GetParameters"):
            if parameters.get("withDecryption"):
                return (f"Oos:GetSecret{name[3:]}",)
        if service == "ssm" and name == "PutParameter":
            if parameters.get("type") == "SecureString":
                return ("Oos:CreateSecretParameter",)
        if service == "signin" and record.get("userIdentity", {}).get("type") == "Root":
            return ("AasCustomer:ConsoleSignin",)
        return targets

    def identity(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Map ``userIdentity``, or return None for types ActionTrail does not have."""
        source = record.get("userIdentity") or {}
        identity_type = source.get("type")
        account = self.ids.account(
            source.get("accountId") or record.get("recipientAccountId")
        )
        if identity_type == "IAMUser":
            name = source.get("userName") or source.get("arn", "").rsplit("/", 1)[-1]
            identity = {
                "type": "ram-user",
                "principalId": self.ids.user_id(source.get("principalId") or name),
                "accountId": account,
                "userName": name,
            }
        elif identity_type == "Root":
            identity = {
                "type": "root-account",
                "principalId": account,
                "accountId": account,
                "userName": "root",
            }
        elif identity_type == "AssumedRole":
            identity = self._assumed_role(source, account)
        elif identity_type == "AWSService" or (
            identity_type is None and record.get("eventType") == "AwsServiceEvent"
        ):
            invoked_by = source.get("invokedBy") or record.get("eventSource", "")
            host = self.source_host(invoked_by, self._record_region(record))
            identity = {
                "type": "system",
                "principalId": host,
                "accountId": account,
                "userName": host,
            }
        else:
            return None
        key_id = source.get("accessKeyId")
        if key_id:
            identity["accessKeyId"] = map_access_key_id(key_id)
        attributes = (source.get("sessionContext") or {}).get("attributes")
        if attributes:
            identity["sessionContext"] = {"attributes": dict(attributes)}
        return identity

    def _assumed_role(self, source: dict[str, Any], account: str) -> dict[str, Any]:
        # arn:aws:sts::<account>:assumed-role/<role>/<session>
        path = source.get("arn", "").split(":assumed-role/", 1)[-1]
        role, _, session = path.partition("/")
        role = role.rsplit("/", 1)[-1]
        aws_role_id = str(source.get("principalId", "")).split(":", 1)[0] or role
        return {
            "type": "assumed-role",
            "principalId": f"{self.ids.role_id(aws_role_id)}:{session}",
            "accountId": account,
            "userName": f"{role}:{session}",
        }

    def _record_region(self, record: dict[str, Any]) -> str:
        return map_region(record.get("awsRegion"), self.default_region)

    def source_host(self, aws_host: str, region: str) -> str:
        """Map an AWS service host such as ``kms.amazonaws.com`` to an Alibaba host."""
        service = aws_host.split(".", 1)[0]
        targets = tables.EVENT_MAP.get(service)
        if targets:
            first = next(iter(targets.values()))[0].split(":", 1)[0]
            return tables.SERVICES[first].event_source.format(region=region)
        return aws_host.replace("amazonaws.com", "aliyuncs.com")

    def convert(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Convert one record, or return [] when no event or identity matches it."""
        targets = self.targets(record)
        identity = self.identity(record)
        if targets is None or identity is None:
            return []
        return [
            self._event(record, identity, target, index, len(targets))
            for index, target in enumerate(targets)
        ]

    def _event(
        self,
        record: dict[str, Any],
        identity: dict[str, Any],
        target: str,
        index: int,
        count: int,
    ) -> dict[str, Any]:
        service_name, event_name = target.split(":", 1)
        service = tables.SERVICES[service_name]
        region = self._record_region(record)
        source_event_id = str(record.get("eventID", ""))
        event_id = source_event_id.upper()
        if index:
            event_id = str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{source_event_id}/{index}"))
            event_id = event_id.upper()
        request_id = str(record.get("requestID") or event_id).upper()
        error_code, error_message = self._error(record, service_name, event_name)
        failed = bool(error_code)
        is_console_signin = event_name == "ConsoleSignin"
        if is_console_signin:
            # Console sign-ins carry no error code. The message is "success" or the
            # reason the sign-in failed.
            error_code = ""
            error_message = self._signin_message(record)
            failed = error_message != "success"

        parameters = self._request_parameters(record, event_name)
        event: dict[str, Any] = {
            "eventId": event_id,
            "eventVersion": "1",
            "eventType": self._event_type(record),
            "eventCategory": record.get("eventCategory") or "Management",
            "eventName": event_name,
            "eventRW": self._event_rw(record, event_name, count),
            "eventSource": service.event_source.format(region=region),
            "serviceName": service_name,
            "eventTime": record["eventTime"],
            "acsRegion": region,
        }
        if service.api_version:
            event["apiVersion"] = service.api_version
        event.update(
            {
                "requestId": request_id,
                "sourceIpAddress": self._source_ip(record, event["eventSource"]),
                "userAgent": str(record.get("userAgent", "")),
                "errorCode": error_code,
                "errorMessage": error_message,
                "isGlobal": service.is_global,
                "recipientAccountId": self.ids.account(
                    record.get("recipientAccountId")
                ),
            }
        )
        if not is_console_signin:
            parameters.update(
                {
                    "AcsHost": event["eventSource"],
                    "AcsProduct": service_name,
                    "RegionId": region,
                    "RequestId": request_id,
                }
            )
        event["requestParameters"] = parameters
        response: dict[str, Any] = {}
        if not failed:
            response = self._response_elements(record, event_name, index, parameters)
            if not is_console_signin:
                response["RequestId"] = request_id
        event["responseElements"] = response
        resources = self._resources(record, service_name, parameters, response)
        if resources:
            event["resourceType"] = ";".join(resources)
            event["resourceName"] = ";".join(",".join(v) for v in resources.values())
            event["referencedResources"] = resources
        event["additionalEventData"] = self._additional_data(record, identity)
        vpc_endpoint = record.get("vpcEndpointId")
        if vpc_endpoint:
            event["vpcId"] = self.ids.rewrite(str(vpc_endpoint))
        event["userIdentity"] = identity
        return event

    @staticmethod
    def _event_type(record: dict[str, Any]) -> str:
        event_type = EVENT_TYPES.get(str(record.get("eventType")), "ApiCall")
        if event_type == "ApiCall" and record.get("sessionCredentialFromConsole") in (
            True,
            "true",
        ):
            return "ConsoleOperation"
        return event_type

    @staticmethod
    def _event_rw(record: dict[str, Any], event_name: str, count: int) -> str:
        read_only = record.get("readOnly")
        if isinstance(read_only, bool) and count == 1:
            return "Read" if read_only else "Write"
        return "Read" if event_name.startswith(READ_PREFIXES) else "Write"

    def _source_ip(self, record: dict[str, Any], event_source: str) -> str:
        address = str(record.get("sourceIPAddress", ""))
        if address == "AWS Internal":
            return event_source
        if address.endswith(".amazonaws.com"):
            return self.source_host(address, self._record_region(record))
        return address

    @staticmethod
    def _signin_message(record: dict[str, Any]) -> str:
        response = record.get("responseElements") or {}
        if response.get("ConsoleLogin", "Success") == "Success":
            return "success"
        return str(record.get("errorMessage") or "Failed authentication")

    def _error(
        self, record: dict[str, Any], service_name: str, event_name: str
    ) -> tuple[str, str]:
        code = record.get("errorCode")
        if not code:
            return "", ""
        bare = re.sub(r"^(Client|Server)\.", "", str(code))
        if bare in tables.PERMISSION_ERRORS:
            if service_name == "Ecs":
                return "Forbidden.RAM", tables.FORBIDDEN_RAM_MESSAGE
            return "NoPermission", tables.NO_PERMISSION_MESSAGE
        if bare in tables.ERROR_MAP:
            return tables.ERROR_MAP[bare]
        message = self.ids.rewrite(str(record.get("errorMessage", "")))
        entity = self._entity(event_name)
        if bare in ("NoSuchEntity", "NoSuchEntityException"):
            return f"EntityNotExist.{entity}", message
        if bare in ("EntityAlreadyExists", "EntityAlreadyExistsException"):
            return f"EntityAlreadyExists.{entity}", message
        if bare in ("LimitExceeded", "LimitExceededException"):
            return f"LimitExceeded.{entity}", message
        # EC2 "InvalidVpcID.NotFound" is "InvalidVpcId.NotFound" in Alibaba spelling.
        return re.sub(r"ID\b", "Id", bare), message

    @staticmethod
    def _entity(event_name: str) -> str:
        for marker, entity in (
            ("LoginProfile", "User.LoginProfile"),
            ("AccessKey", "User.AccessKey"),
            ("Role", "Role"),
            ("Group", "Group"),
            ("Policy", "Policy"),
        ):
            if marker in event_name:
                return entity
        return "User"

    def _request_parameters(
        self, record: dict[str, Any], event_name: str
    ) -> dict[str, str]:
        source = record.get("requestParameters") or {}
        if not isinstance(source, dict):
            return {}
        service = aws_service(record)
        parameters: dict[str, str] = {}
        for key, value in source.items():
            if SECRET_KEY.search(key):
                continue
            if service == "iam" and key == "policyArn":
                name, policy_type = policy_from_arn(str(value))
                parameters["PolicyName"] = name
                parameters["PolicyType"] = policy_type
                continue
            name = IAM_PARAMETER_NAMES.get(key, key) if service == "iam" else key
            self._flatten(pascal(name), value, parameters)
        if event_name == "UpdateRole" and "PolicyDocument" in parameters:
            parameters["NewAssumeRolePolicyDocument"] = parameters.pop("PolicyDocument")
        if service == "iam" and aws_event_name(record) in INLINE_POLICY_CALLS:
            self._inline_policy_parameters(event_name, parameters)
        if event_name == "RunInstances":
            self._run_instances_parameters(source, parameters)
        return parameters

    @staticmethod
    def _inline_policy_parameters(event_name: str, parameters: dict[str, str]) -> None:
        # An inline policy becomes a custom policy: only CreatePolicy carries the
        # document, and only the attach and detach calls name the owner.
        if event_name != "CreatePolicy":
            parameters.pop("PolicyDocument", None)
            parameters["PolicyType"] = "Custom"
        if event_name in ("CreatePolicy", "DeletePolicy", "GetPolicy"):
            for owner in ("UserName", "GroupName", "RoleName"):
                parameters.pop(owner, None)

    def _flatten(self, key: str, value: Any, out: dict[str, str]) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for child_key, child in value.items():
                if not SECRET_KEY.search(child_key):
                    self._flatten(f"{key}.{pascal(child_key)}", child, out)
        elif isinstance(value, list):
            for position, item in enumerate(value, start=1):
                self._flatten(f"{key}.{position}", item, out)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = self.ids.rewrite(str(value))

    def _run_instances_parameters(
        self, source: dict[str, Any], parameters: dict[str, str]
    ) -> None:
        items = (source.get("instancesSet") or {}).get("items") or [{}]
        first = items[0]
        for key in [key for key in parameters if key.startswith("InstancesSet.")]:
            del parameters[key]
        if first.get("imageId"):
            parameters["ImageId"] = self.ids.rewrite(str(first["imageId"]))
        if first.get("maxCount") is not None:
            parameters["Amount"] = str(first["maxCount"])
        if first.get("minCount") is not None:
            parameters["MinAmount"] = str(first["minCount"])
        if source.get("instanceType"):
            parameters["InstanceType"] = map_instance_type(str(source["instanceType"]))
        if "SubnetId" in parameters:
            parameters["VSwitchId"] = parameters.pop("SubnetId")

    def _response_elements(
        self,
        record: dict[str, Any],
        event_name: str,
        index: int,
        parameters: dict[str, str],
    ) -> dict[str, Any]:
        source = record.get("responseElements")
        source = source if isinstance(source, dict) else {}
        time = str(record["eventTime"])
        if event_name == "CreateUser":
            user = source.get("user") or {}
            name = str(user.get("userName") or parameters.get("UserName", ""))
            return {
                "User": {
                    "UserName": name,
                    "UserId": self.ids.user_id(str(user.get("userId") or name)),
                    "DisplayName": name,
                    "CreateDate": self._date(user.get("createDate"), time),
                }
            }
        if event_name == "CreateAccessKey":
            key = source.get("accessKey") or {}
            if not key.get("accessKeyId"):
                return {}
            return {
                "AccessKey": {
                    "AccessKeyId": map_access_key_id(str(key["accessKeyId"])),
                    "Status": str(key.get("status", "Active")),
                    "CreateDate": self._date(key.get("createDate"), time),
                }
            }
        if event_name == "CreateLoginProfile":
            profile = source.get("loginProfile") or {}
            return {
                "LoginProfile": {
                    "UserName": str(
                        profile.get("userName", parameters.get("UserName"))
                    ),
                    "PasswordResetRequired": bool(profile.get("passwordResetRequired")),
                    "MFABindRequired": False,
                    "CreateDate": self._date(profile.get("createDate"), time),
                }
            }
        if event_name == "AssumeRole":
            return self._assume_role_response(source)
        if event_name == "RunInstances":
            items = (source.get("instancesSet") or {}).get("items") or []
            instance_ids = [
                self.ids.rewrite(str(item["instanceId"]))
                for item in items
                if item.get("instanceId")
            ]
            return {"InstanceIdSets": {"InstanceIdSet": instance_ids}}
        if index or event_name == "ConsoleSignin":
            return {}
        return self._generic_response(source)

    def _assume_role_response(self, source: dict[str, Any]) -> dict[str, Any]:
        credentials = source.get("credentials") or {}
        role_user = source.get("assumedRoleUser") or {}
        response: dict[str, Any] = {}
        if credentials.get("accessKeyId"):
            expiration = str(credentials.get("expiration", ""))
            response["Credentials"] = {
                "AccessKeyId": map_access_key_id(str(credentials["accessKeyId"])),
                "Expiration": parse_cloudtrail_date(expiration) or expiration,
            }
        if role_user:
            aws_role_id, _, session = str(role_user.get("assumedRoleId", "")).partition(
                ":"
            )
            response["AssumedRoleUser"] = {
                "Arn": self.ids.rewrite(str(role_user.get("arn", ""))),
                "AssumedRoleId": f"{self.ids.role_id(aws_role_id)}:{session}",
            }
        return response

    def _generic_response(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                pascal(key): self._generic_response(child)
                for key, child in value.items()
                if not SECRET_KEY.search(key)
            }
        if isinstance(value, list):
            return [self._generic_response(item) for item in value]
        if isinstance(value, str):
            return parse_cloudtrail_date(value) or self.ids.rewrite(value)
        return value

    @staticmethod
    def _date(value: Any, fallback: str) -> str:
        if isinstance(value, str):
            return parse_cloudtrail_date(value) or value
        return fallback

    def _resources(
        self,
        record: dict[str, Any],
        service_name: str,
        parameters: dict[str, str],
        response: dict[str, Any],
    ) -> dict[str, list[str]]:
        resources: dict[str, list[str]] = {}

        def add(resource_type: str, name: str) -> None:
            names = resources.setdefault(resource_type, [])
            if name and name not in names:
                names.append(name)

        for resource in record.get("resources") or []:
            aws_type = str(resource.get("type", ""))
            arn = str(resource.get("ARN", ""))
            if aws_type in tables.RESOURCE_TYPES and arn:
                name = re.split(r"[/:]", arn)[-1]
                add(tables.RESOURCE_TYPES[aws_type], self.ids.rewrite(name))
        if service_name in ("Ram", "Ims"):
            for parameter, resource_type in RAM_RESOURCE_PARAMETERS.items():
                if parameters.get(parameter):
                    add(resource_type, parameters[parameter])
            created_key = response.get("AccessKey", {}).get("AccessKeyId")
            if created_key:
                add("ACS::RAM::AccessKey", created_key)
        if service_name == "Sts" and response.get("Credentials"):
            role_arn = parameters.get("RoleArn", "")
            add("ACS::RAM::Role", role_arn.rsplit("/", 1)[-1])
            add("ACS::RAM::AccessKey", response["Credentials"]["AccessKeyId"])
        if service_name == "Ecs":
            for instance_id in response.get("InstanceIdSets", {}).get(
                "InstanceIdSet", []
            ):
                add("ACS::ECS::Instance", instance_id)
            if parameters.get("InstanceId"):
                add("ACS::ECS::Instance", parameters["InstanceId"])
        if service_name == "Actiontrail":
            trail = parameters.get("Name") or parameters.get("TrailName")
            if trail:
                add("ACS::ActionTrail::Trail", trail)
        return {key: names for key, names in resources.items() if names}

    def _additional_data(
        self, record: dict[str, Any], identity: dict[str, Any]
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sourceEventName": str(record.get("eventName", "")),
            "sourceEventId": str(record.get("eventID", "")),
            "sourceEventSource": str(record.get("eventSource", "")),
        }
        tls = record.get("tlsDetails") or {}
        if tls.get("tlsVersion"):
            data["Scheme"] = "https"
        if record.get("eventName") == "ConsoleLogin":
            source = record.get("additionalEventData") or {}
            mfa = "true" if source.get("MFAUsed") == "Yes" else "false"
            account = identity["accountId"]
            if identity["type"] == "root-account":
                data["loginAccount"] = f"{account}@aliyun.com"
                data["isMFAChecked"] = mfa
            else:
                data["loginAccount"] = f"{identity['userName']}@{account}.onaliyun.com"
                data["mfaChecked"] = mfa
        return data
