"""Tables of ActionTrail actions that the detectors and the lineage walk look for.

Actions are keyed by ``(service, action)``, where ``service`` is the event's
serviceName lower-cased and folded by ``SERVICE_ALIASES``: RAM user and key operations
are logged under ``Ims`` as well as ``Ram``, so both fold to ``ram``.
"""

from __future__ import annotations

import pandas as pd

SERVICE_ALIASES: dict[str, str] = {
    "ims": "ram",
    "log": "sls",
    "dysmsapi": "dysms",
    "aascustomer": "aas",
    "aassub": "aas",
}

# The deny policy in Alibaba Cloud's procedure for a compromised AccessKey pair that
# cannot be rotated at once ("Respond to a compromised RAM user AccessKey pair", step
# 1). PassRole is omitted: it is a permission checked inside other calls, never an
# event of its own.
REFERENCE_DENY_LIST: frozenset[tuple[str, str]] = frozenset(
    [
        ("ram", action)
        for action in (
            "AddUserToGroup",
            "AttachPolicyToGroup",
            "AttachPolicyToRole",
            "AttachPolicyToUser",
            "ChangePassword",
            "CreateAccessKey",
            "CreateLoginProfile",
            "CreatePolicyVersion",
            "CreateRole",
            "CreateUser",
            "DetachPolicyFromUser",
            "SetDefaultPolicyVersion",
            "UpdateAccessKey",
            "SetPasswordPolicy",
            "UpdateRole",
            "UpdateLoginProfile",
            "UpdateUser",
        )
    ]
    + [
        ("ecs", action)
        for action in (
            "DeleteInstance",
            "DeleteInstances",
            "DeregisterManagedInstance",
            "ReleaseDedicatedHost",
        )
    ]
    + [
        ("rds", action)
        for action in (
            "DeleteAccount",
            "DeleteDatabase",
            "DeleteDBInstance",
            "DestroyDBInstance",
        )
    ]
    + [
        ("oss", action)
        for action in (
            "DeleteBucket",
            "DeleteObject",
            "PutBucketAcl",
            "PutBucketPolicy",
        )
    ]
    + [
        ("sls", action)
        for action in (
            "DeleteLogStore",
            "DeleteProject",
            "PutProjectPolicy",
            "DeleteProjectPolicy",
        )
    ]
    + [
        ("dysms", action)
        for action in (
            "CreateProductNew",
            "CreateSmsTemplateNew",
            "AddSmsTemplate",
            "SendSms",
            "SendBatchSms",
        )
    ]
)

# Calls outside the reference list that attackers use after stealing a key, with the
# reason each is risky. AuthorizeSecurityGroup counts only when it opens a port to the
# whole internet (see ``opens_to_internet``).
EXTENDED_HIGH_RISK: dict[tuple[str, str], str] = {
    ("actiontrail", "StopLogging"): "stops ActionTrail logging",
    ("actiontrail", "DeleteTrail"): "deletes an ActionTrail trail",
    ("actiontrail", "UpdateTrail"): "changes what a trail records or where it delivers",
    ("kms", "GetSecretValue"): "reads a secret from KMS Secrets Manager",
    ("kms", "Decrypt"): "decrypts data with a KMS key",
    ("kms", "DisableKey"): "disables a KMS key",
    ("kms", "ScheduleKeyDeletion"): "schedules a KMS key for deletion",
    ("kms", "DeleteKeyMaterial"): "deletes imported KMS key material",
    ("oos", "GetSecretParameter"): "reads an OOS encrypted parameter",
    ("oos", "GetSecretParameters"): "reads OOS encrypted parameters",
    ("oos", "GetSecretParametersByPath"): "reads OOS encrypted parameters by path",
    ("ecs", "ModifyImageSharePermission"): "shares a custom image with other accounts",
    ("ecs", "ModifyImageShareGroupPermission"): "makes a custom image public",
    ("ecs", "AuthorizeSecurityGroup"): "opens a security group to 0.0.0.0/0 or ::/0",
    ("ecs", "RunCommand"): "runs a command on instances through Cloud Assistant",
    ("ecs", "InvokeCommand"): "runs a command on instances through Cloud Assistant",
    ("ecs", "StartTerminalSession"): "opens a Session Manager shell on an instance",
    ("ecs", "DescribeUserData"): "reads instance user data, which often holds secrets",
    ("ram", "UnbindMFADevice"): "removes a user's MFA device",
    ("ram", "DeleteVirtualMFADevice"): "deletes an MFA device",
    ("ram", "DeleteLoginProfile"): "removes a user's console password",
    ("ram", "AttachPolicyToRole"): "grants a role more permissions",
    ("vpc", "DeleteFlowLog"): "deletes a VPC flow log",
    ("vpc", "DeactiveFlowLog"): "stops a VPC flow log",
    ("resourcemanager", "RemoveCloudAccount"): "removes the account from its directory",
    ("resourcemanager", "AttachPolicy"): "grants permissions through Resource Manager",
}

# Policies that grant everything, or grant the right to grant everything.
ADMIN_POLICIES: frozenset[str] = frozenset(
    {"AdministratorAccess", "AliyunRAMFullAccess"}
)

USER_CREATION = frozenset({("ram", "CreateUser")})
ACCESS_KEY_CREATION = frozenset({("ram", "CreateAccessKey")})
LOGIN_PROFILE_CHANGES = frozenset(
    {
        ("ram", "CreateLoginProfile"),
        ("ram", "UpdateLoginProfile"),
        ("ram", "DeleteLoginProfile"),
        ("ram", "ChangePassword"),
        ("aas", "PasswordReset"),
    }
)
POLICY_GRANTS = frozenset(
    {
        ("ram", "AttachPolicyToUser"),
        ("ram", "AttachPolicyToGroup"),
        ("ram", "AttachPolicyToRole"),
        ("ram", "AddUserToGroup"),
        ("ram", "CreatePolicyVersion"),
        ("ram", "SetDefaultPolicyVersion"),
        ("resourcemanager", "AttachPolicy"),
    }
)
ROLE_ASSUMPTION = frozenset({("sts", "AssumeRole")})
MFA_CHANGES = frozenset(
    {
        ("ram", "UnbindMFADevice"),
        ("ram", "BindMFADevice"),
        ("ram", "CreateVirtualMFADevice"),
        ("ram", "DeleteVirtualMFADevice"),
    }
)
SECRET_READS = frozenset(
    {
        ("kms", "GetSecretValue"),
        ("oos", "GetSecretParameter"),
        ("oos", "GetSecretParameters"),
        ("oos", "GetSecretParametersByPath"),
        ("ecs", "DescribeUserData"),
    }
)
TRAIL_STOPS = frozenset(
    {("actiontrail", "StopLogging"), ("actiontrail", "DeleteTrail")}
)
TRAIL_UPDATES = frozenset({("actiontrail", "UpdateTrail")})
LOG_DELETIONS = frozenset({("sls", "DeleteLogStore")})
FLOW_LOG_STOPS = frozenset({("vpc", "DeleteFlowLog"), ("vpc", "DeactiveFlowLog")})
SHARING = frozenset(
    {
        ("ecs", "ModifyImageSharePermission"),
        ("ecs", "ModifyImageShareGroupPermission"),
        ("ecs", "ModifySnapshotAttribute"),
        ("oss", "PutBucketAcl"),
        ("oss", "PutBucketPolicy"),
        ("resourcesharing", "CreateResourceShare"),
        ("resourcesharing", "AssociateResourceShare"),
        ("ram", "UpdateRole"),
    }
)
INSTANCE_CREATION = frozenset({("ecs", "RunInstances"), ("ecs", "CreateInstance")})

CREATE_PREFIXES = ("Create", "Run", "Allocate", "Purchase", "Import", "Copy", "Clone")
DELETE_PREFIXES = ("Delete", "Release", "Remove", "Destroy", "Terminate", "Purge")
# The action prefixes Elastic's rule "AWS Discovery API Calls via CLI from a Single
# Resource" counts as discovery.
DISCOVERY_PREFIXES = ("Describe", "Get", "List", "Generate")
# Creation and deletion in these services is reported by the identity findings.
IDENTITY_SERVICES = frozenset({"ram", "sts"})
# Deleting these destroys data or audit records, not only configuration.
DESTRUCTIVE_DELETIONS = frozenset(
    {
        ("ecs", "DeleteInstance"),
        ("ecs", "DeleteInstances"),
        ("ecs", "DeleteSnapshot"),
        ("ecs", "DeleteImage"),
        ("ecs", "DeleteDisk"),
        ("oss", "DeleteBucket"),
        ("oss", "DeleteObject"),
        ("rds", "DeleteDBInstance"),
        ("rds", "DestroyDBInstance"),
        ("rds", "DeleteDatabase"),
        ("sls", "DeleteLogStore"),
        ("sls", "DeleteProject"),
        ("actiontrail", "DeleteTrail"),
    }
)

# Denied-call error codes from Alibaba Cloud's landing-zone alert cis_at_unauth_apicall
# (aliyun/alibabacloud-landing-zone). "Forbbiden" is the misspelling some services
# return. A code matches when it equals an entry or starts with the entry and a dot.
DENIED_ERROR_CODES: tuple[str, ...] = (
    "NoPermission",
    "Forbidden",
    "Forbbiden",
    "InvalidAccessKeyId",
    "InvalidSecurityToken",
    "SignatureDoesNotMatch",
    "InvalidAuthorization",
    "AccessForbidden",
    "NotAuthorized",
)
# Denied-call messages from Palo Alto Cortex XSIAM's ActionTrail correlation rule
# (demisto/content, AlibabaActionTrail_Correlation.yml), compared case-insensitively.
DENIED_ERROR_MESSAGES: frozenset[str] = frozenset(
    {
        "this api is not authorized for caller.",
        "no permission",
        "the user has no permission",
        "caller has no permission",
    }
)


def service_keys(services: pd.Series) -> pd.Series:
    """Fold serviceName values to the keys used in these tables."""
    lowered = services.str.lower()
    return lowered.replace(SERVICE_ALIASES)


def action_keys(services: pd.Series, actions: pd.Series) -> pd.Series:
    """Return ``service:action`` keys for matching rows against the tables."""
    return service_keys(services) + ":" + actions


def keyset(pairs: frozenset[tuple[str, str]] | dict[tuple[str, str], str]) -> set[str]:
    """Return ``service:action`` strings for a table of pairs."""
    return {f"{service}:{action}" for service, action in pairs}


def is_denied(error_codes: pd.Series, error_messages: pd.Series) -> pd.Series:
    """Mark rows whose error is a denied call (see ``DENIED_ERROR_CODES``)."""
    pattern = r"^(?:" + "|".join(DENIED_ERROR_CODES) + r")(?:\..*)?$"
    by_code = error_codes.str.match(pattern)
    by_message = error_messages.str.strip().str.lower().isin(DENIED_ERROR_MESSAGES)
    return by_code | by_message
