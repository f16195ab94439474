"""Reference data of the ActionTrail emulator: lookup keys, sensitive actions, names."""

from __future__ import annotations

LOOKUP_KEYS = (
    "ServiceName",
    "EventName",
    "User",
    "EventId",
    "ResourceType",
    "ResourceName",
    "EventRW",
    "EventAccessKeyId",
    "SensitiveAction",
)

# Event names that the emulator treats as sensitive for the SensitiveAction lookup
# attribute. ActionTrail does not publish its own list, so this one contains the calls a
# responder to a leaked AccessKey looks for first: trail tampering, identity and
# credential changes, policy escalation, role assumption, key destruction, compute
# launched for the attacker, and opened network or sharing paths.
SENSITIVE_ACTIONS = frozenset(
    {
        # ActionTrail: hiding the attacker's tracks.
        "DeleteTrail",
        "StopLogging",
        "UpdateTrail",
        # RAM and IMS: identities and their credentials.
        "CreateUser",
        "DeleteUser",
        "CreateAccessKey",
        "UpdateAccessKey",
        "DeleteAccessKey",
        "CreateLoginProfile",
        "UpdateLoginProfile",
        "DeleteLoginProfile",
        "ChangePassword",
        "UnbindMFADevice",
        "DeleteVirtualMFADevice",
        "SetSecurityPreference",
        "SetPasswordPolicy",
        "AddUserToGroup",
        # RAM: policies and roles.
        "CreatePolicy",
        "DeletePolicy",
        "CreatePolicyVersion",
        "SetDefaultPolicyVersion",
        "AttachPolicyToUser",
        "AttachPolicyToGroup",
        "AttachPolicyToRole",
        "DetachPolicyFromUser",
        "DetachPolicyFromGroup",
        "DetachPolicyFromRole",
        "CreateRole",
        "UpdateRole",
        "DeleteRole",
        # STS.
        "AssumeRole",
        # KMS.
        "DisableKey",
        "ScheduleKeyDeletion",
        "DeleteKeyMaterial",
        # ECS: compute, remote commands, network and image sharing.
        "RunInstances",
        "CreateInstance",
        "DeleteInstance",
        "DeleteInstances",
        "RunCommand",
        "InvokeCommand",
        "AuthorizeSecurityGroup",
        "ModifyImageSharePermission",
        "ModifySnapshotAttribute",
        # OSS: bucket exposure.
        "PutBucketAcl",
        "PutBucketPolicy",
        # VPC: flow logs.
        "DeleteFlowLog",
        "DeactiveFlowLog",
    }
)

# Display names that the AccessKey audit APIs return next to a serviceName. The
# English and Chinese names of Ecs are the vendor's; the others are the products'
# public names. An unknown service gets its serviceName in both languages.
SERVICE_DISPLAY_NAMES: dict[str, tuple[str, str]] = {
    "Ecs": ("Elastic Compute Service", "云服务器ECS"),
    "Ram": ("Resource Access Management", "访问控制"),
    "Ims": ("Resource Access Management", "访问控制"),
    "Sts": ("Security Token Service", "访问控制"),
    "Actiontrail": ("ActionTrail", "操作审计"),
    "BssOpenApi": ("Expenses and Costs", "费用与成本"),
    "Oss": ("Object Storage Service", "对象存储"),
    "Sls": ("Simple Log Service", "日志服务"),
    "Kms": ("Key Management Service", "密钥管理服务"),
    "Vpc": ("Virtual Private Cloud", "专有网络VPC"),
}
