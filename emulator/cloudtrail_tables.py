"""Tables that map AWS CloudTrail names onto Alibaba Cloud ActionTrail names.

``emulator.cloudtrail`` converts CloudTrail records with these tables. The RAM, STS, ECS
and ActionTrail API names were checked against the official Python SDKs installed with
this project (alibabacloud_ram20150501 1.3, alibabacloud_sts20150401 1.2,
alibabacloud_ecs20140526 7.11, alibabacloud_actiontrail20200706 2.6).

NOTE: the VPC, KMS, OOS, OSS, RDS, SLB, FC, ResourceManager and BSS names are the
closest Alibaba API by the public API catalogues of those products. They were not
checked against an SDK here, and some AWS calls (internet gateways) have no exact match.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    """An ActionTrail ``serviceName`` and the fields that come with it."""

    name: str  # ActionTrail serviceName
    event_source: str  # host; "{region}" is replaced by the event's acsRegion
    api_version: str | None  # None for products whose events carry no apiVersion
    is_global: bool = False
    arn_service: str = ""  # the service part of an ``acs:`` ARN


SERVICES: dict[str, Service] = {
    service.name: service
    for service in (
        Service("Ims", "ims.aliyuncs.com", "2015-05-01", True, "ram"),
        Service("Ram", "ram.aliyuncs.com", "2015-05-01", True, "ram"),
        Service("Sts", "sts.aliyuncs.com", "2015-04-01", True, "ram"),
        Service("AasSub", "signin.aliyun.com", None, True),
        Service("AasCustomer", "signin.aliyun.com", None, True),
        Service("Ecs", "ecs.aliyuncs.com", "2014-05-26", False, "ecs"),
        Service("Vpc", "vpc.aliyuncs.com", "2016-04-28", False, "vpc"),
        Service("Kms", "kms.{region}.aliyuncs.com", "2016-01-20", False, "kms"),
        Service("Oos", "oos.{region}.aliyuncs.com", "2019-06-01", False, "oos"),
        Service("Oss", "oss-{region}.aliyuncs.com", None, False, "oss"),
        Service(
            "Actiontrail",
            "actiontrail.{region}.aliyuncs.com",
            "2020-07-06",
            False,
            "actiontrail",
        ),
        Service(
            "ResourceManager",
            "resourcemanager.aliyuncs.com",
            "2020-03-31",
            True,
            "resourcemanager",
        ),
        Service("Fc", "fc.{region}.aliyuncs.com", "2021-04-06", False, "fc"),
        Service("Rds", "rds.aliyuncs.com", "2014-08-15", False, "rds"),
        Service("Slb", "slb.aliyuncs.com", "2014-05-15", False, "slb"),
        Service("BssOpenApi", "business.aliyuncs.com", "2017-12-14", True, "bss"),
    )
}

# The AWS service of a CloudTrail ``eventSource`` ("iam" for "iam.amazonaws.com")
# mapped to the ``acs:`` ARN service, for rewriting ARNs inside parameters.
ARN_SERVICES: dict[str, str] = {
    "iam": "ram",
    "sts": "ram",
    "ec2": "ecs",
    "s3": "oss",
    "kms": "kms",
    "secretsmanager": "kms",
    "ssm": "oos",
    "cloudtrail": "actiontrail",
    "lambda": "fc",
    "rds": "rds",
    "logs": "log",
    "organizations": "resourcemanager",
    "elasticloadbalancing": "slb",
}


def _table(service: str, names: str) -> dict[str, tuple[str, ...]]:
    """Build entries whose Alibaba name equals the AWS name: ``"A B C"``."""
    return {name: (f"{service}:{name}",) for name in names.split()}


def _renamed(service: str, pairs: dict[str, str]) -> dict[str, tuple[str, ...]]:
    return {aws: (f"{service}:{alibaba}",) for aws, alibaba in pairs.items()}


# (AWS service, AWS eventName) -> one or more "ServiceName:EventName" targets. One AWS
# call becomes two ActionTrail events where Alibaba needs two calls for the same effect
# (RAM has no inline policies: PutRolePolicy is CreatePolicy then AttachPolicyToRole).
EVENT_MAP: dict[str, dict[str, tuple[str, ...]]] = {
    "sts": _table("Sts", "GetCallerIdentity AssumeRole"),
    "iam": {
        **_table(
            "Ims",
            "CreateUser DeleteUser GetUser ListUsers UpdateUser "
            "CreateAccessKey DeleteAccessKey UpdateAccessKey ListAccessKeys "
            "GetAccessKeyLastUsed CreateLoginProfile DeleteLoginProfile "
            "GetLoginProfile UpdateLoginProfile ListGroupsForUser AddUserToGroup "
            "RemoveUserFromGroup CreateGroup DeleteGroup GetGroup ListGroups "
            "ListVirtualMFADevices CreateVirtualMFADevice ChangePassword",
        ),
        **_renamed(
            "Ims",
            {
                "ListMFADevices": "GetUserMFAInfo",
                "DeactivateMFADevice": "UnbindMFADevice",
                "EnableMFADevice": "BindMFADevice",
                "GetAccountPasswordPolicy": "GetPasswordPolicy",
                "UpdateAccountPasswordPolicy": "SetPasswordPolicy",
            },
        ),
        **_table(
            "Ram",
            "CreatePolicy DeletePolicy GetPolicy GetPolicyVersion ListPolicyVersions "
            "CreatePolicyVersion DeletePolicyVersion SetDefaultPolicyVersion "
            "ListEntitiesForPolicy ListPolicies "
            "CreateRole DeleteRole GetRole ListRoles",
        ),
        **_renamed(
            "Ram",
            {
                "AttachUserPolicy": "AttachPolicyToUser",
                "DetachUserPolicy": "DetachPolicyFromUser",
                "AttachRolePolicy": "AttachPolicyToRole",
                "DetachRolePolicy": "DetachPolicyFromRole",
                "AttachGroupPolicy": "AttachPolicyToGroup",
                "DetachGroupPolicy": "DetachPolicyFromGroup",
                "ListAttachedUserPolicies": "ListPoliciesForUser",
                "ListAttachedRolePolicies": "ListPoliciesForRole",
                "ListAttachedGroupPolicies": "ListPoliciesForGroup",
                "ListUserPolicies": "ListPoliciesForUser",
                "ListRolePolicies": "ListPoliciesForRole",
                "GetUserPolicy": "GetPolicy",
                "GetRolePolicy": "GetPolicy",
                "UpdateAssumeRolePolicy": "UpdateRole",
                "ListAccountAliases": "GetAccountAlias",
            },
        ),
        "PutUserPolicy": ("Ram:CreatePolicy", "Ram:AttachPolicyToUser"),
        "PutRolePolicy": ("Ram:CreatePolicy", "Ram:AttachPolicyToRole"),
        "PutGroupPolicy": ("Ram:CreatePolicy", "Ram:AttachPolicyToGroup"),
        "DeleteUserPolicy": ("Ram:DetachPolicyFromUser", "Ram:DeletePolicy"),
        "DeleteRolePolicy": ("Ram:DetachPolicyFromRole", "Ram:DeletePolicy"),
        "DeleteGroupPolicy": ("Ram:DetachPolicyFromGroup", "Ram:DeletePolicy"),
    },
    # ConsoleLogin is rewritten by the converter: AasSub for RAM users, AasCustomer
    # for the root account.
    "signin": {"ConsoleLogin": ("AasSub:ConsoleSignin",)},
    "cloudtrail": {
        **_table(
            "Actiontrail",
            "CreateTrail DeleteTrail DescribeTrails GetTrailStatus StartLogging "
            "StopLogging UpdateTrail LookupEvents",
        ),
        "PutEventSelectors": ("Actiontrail:UpdateTrail",),
    },
    "ec2": {
        **_table(
            "Ecs",
            "RunInstances DescribeInstances DescribeInstanceAttribute "
            "ModifyInstanceAttribute StopInstances StartInstances RebootInstances "
            "DescribeRegions DescribeImages CreateSnapshot DeleteSnapshot "
            "DescribeSnapshots ModifySnapshotAttribute CreateSecurityGroup "
            "DeleteSecurityGroup DescribeSecurityGroups AuthorizeSecurityGroupEgress "
            "RevokeSecurityGroupEgress CreateNetworkInterface DeleteNetworkInterface "
            "DescribeNetworkInterfaces AttachNetworkInterface DetachNetworkInterface "
            "DescribeKeyPairs CreateKeyPair ImportKeyPair DescribeTags "
            "DescribeAccountAttributes DescribeInstanceStatus DescribeLaunchTemplates",
        ),
        **_renamed(
            "Ecs",
            {
                "TerminateInstances": "DeleteInstances",
                "DescribeAvailabilityZones": "DescribeZones",
                "RegisterImage": "CreateImage",
                "DeregisterImage": "DeleteImage",
                "ModifyImageAttribute": "ModifyImageSharePermission",
                "CreateVolume": "CreateDisk",
                "DeleteVolume": "DeleteDisk",
                "DescribeVolumes": "DescribeDisks",
                "AttachVolume": "AttachDisk",
                "DetachVolume": "DetachDisk",
                "AuthorizeSecurityGroupIngress": "AuthorizeSecurityGroup",
                "RevokeSecurityGroupIngress": "RevokeSecurityGroup",
                "DeleteKeyPair": "DeleteKeyPairs",
                "CreateTags": "TagResources",
                "DeleteTags": "UntagResources",
                "DescribeHosts": "DescribeDedicatedHosts",
            },
        ),
        **_table(
            "Vpc",
            "CreateVpc DeleteVpc DescribeVpcs DescribeVpcAttribute CreateRouteTable "
            "DeleteRouteTable AssociateRouteTable CreateNatGateway DeleteNatGateway "
            "DescribeNatGateways DescribeFlowLogs DescribeNetworkAcls "
            "DescribeVpnGateways DescribeVpnConnections DescribeCustomerGateways",
        ),
        **_renamed(
            "Vpc",
            {
                "CreateSubnet": "CreateVSwitch",
                "DeleteSubnet": "DeleteVSwitch",
                "DescribeSubnets": "DescribeVSwitches",
                "DescribeRouteTables": "DescribeRouteTableList",
                "DisassociateRouteTable": "UnassociateRouteTable",
                "CreateRoute": "CreateRouteEntry",
                "DeleteRoute": "DeleteRouteEntry",
                "AllocateAddress": "AllocateEipAddress",
                "ReleaseAddress": "ReleaseEipAddress",
                "DescribeAddresses": "DescribeEipAddresses",
                "AssociateAddress": "AssociateEipAddress",
                "DisassociateAddress": "UnassociateEipAddress",
                "CreateFlowLogs": "CreateFlowLog",
                "DeleteFlowLogs": "DeleteFlowLog",
                "CreateInternetGateway": "CreateIpv4Gateway",
                "DeleteInternetGateway": "DeleteIpv4Gateway",
                "DescribeInternetGateways": "ListIpv4Gateways",
                "AttachInternetGateway": "EnableVpcIpv4Gateway",
                "DetachInternetGateway": "DisableVpcIpv4Gateway",
            },
        ),
    },
    "kms": _table(
        "Kms",
        "Decrypt Encrypt GenerateDataKey DisableKey EnableKey ScheduleKeyDeletion "
        "CancelKeyDeletion CreateKey DescribeKey ListKeys",
    ),
    "secretsmanager": {
        **_table(
            "Kms",
            "GetSecretValue CreateSecret DeleteSecret DescribeSecret ListSecrets "
            "PutSecretValue RestoreSecret",
        ),
        "BatchGetSecretValue": ("Kms:GetSecretValue",),
    },
    # GetParameter(s) and PutParameter become the Secret variants for SecureString
    # parameters; the converter decides from the request.
    "ssm": {
        **_renamed(
            "Oos",
            {
                "GetParameter": "GetParameter",
                "GetParameters": "GetParameters",
                "PutParameter": "CreateParameter",
                "DeleteParameter": "DeleteParameter",
                "DescribeParameters": "ListParameters",
                "ListTagsForResource": "ListTagResources",
            },
        ),
        **_renamed(
            "Ecs",
            {
                "SendCommand": "InvokeCommand",
                "GetCommandInvocation": "DescribeInvocationResults",
                "DescribeInstanceInformation": "DescribeCloudAssistantStatus",
                "StartSession": "StartTerminalSession",
            },
        ),
    },
    "s3": {
        **_table(
            "Oss",
            "ListBuckets DeleteBucket GetBucketAcl PutBucketAcl GetBucketPolicy "
            "PutBucketPolicy DeleteBucketPolicy GetBucketLocation GetBucketLogging "
            "PutBucketLogging GetBucketLifecycle PutBucketLifecycle "
            "DeleteBucketLifecycle GetBucketCors GetBucketEncryption "
            "GetBucketReplication GetBucketVersioning GetBucketWebsite "
            "GetBucketRequestPayment ListObjects GetObject PutObject DeleteObject",
        ),
        **_renamed(
            "Oss",
            {
                "CreateBucket": "PutBucket",
                "GetBucketTagging": "GetBucketTags",
                "PutBucketTagging": "PutBucketTags",
            },
        ),
    },
    # Lambda event names carry an API date suffix ("CreateFunction20150331"); the
    # converter strips it before the lookup.
    "lambda": _table("Fc", "CreateFunction DeleteFunction GetFunction")
    | _renamed("Fc", {"UpdateFunctionCode": "UpdateFunction"}),
    "organizations": {
        **_renamed(
            "ResourceManager",
            {
                "LeaveOrganization": "RemoveCloudAccount",
                "DescribeOrganization": "GetResourceDirectory",
            },
        ),
        **_table("ResourceManager", "ListDelegatedAdministrators ListAccounts"),
    },
    "rds": {
        **_table("Rds", "CreateDBInstance DeleteDBInstance DescribeDBInstances"),
        **_renamed(
            "Rds",
            {
                "CreateDBSnapshot": "CreateBackup",
                "DeleteDBSnapshot": "DeleteBackup",
                "DescribeDBSnapshots": "DescribeBackups",
            },
        ),
    },
    "elasticloadbalancing": _table("Slb", "DescribeLoadBalancers"),
    "ce": _renamed("BssOpenApi", {"GetCostAndUsage": "QueryAccountBill"}),
}

# AWS regions that have an Alibaba region of the same id keep it; the others go to
# the nearest Alibaba region.
SAME_REGIONS = frozenset(
    "us-east-1 us-west-1 eu-central-1 eu-west-1 ap-southeast-1 ap-northeast-1 "
    "ap-south-1 me-east-1".split()
)
REGION_MAP: dict[str, str] = {
    "us-east-2": "us-east-1",
    "us-west-2": "us-west-1",
    "ca-central-1": "us-east-1",
    "sa-east-1": "us-east-1",
    "eu-west-2": "eu-west-1",
    "eu-west-3": "eu-central-1",
    "eu-north-1": "eu-central-1",
    "eu-south-1": "eu-central-1",
    "eu-south-2": "eu-central-1",
    "eu-central-2": "eu-central-1",
    "me-south-1": "me-east-1",
    "me-central-1": "me-east-1",
    "il-central-1": "me-east-1",
    "af-south-1": "me-east-1",
    "ap-east-1": "cn-hongkong",
    "ap-northeast-2": "ap-northeast-2",
    "ap-northeast-3": "ap-northeast-1",
    "ap-southeast-2": "ap-southeast-1",
    "ap-southeast-3": "ap-southeast-5",
    "ap-southeast-4": "ap-southeast-1",
    "ap-south-2": "ap-south-1",
    "cn-north-1": "cn-beijing",
    "cn-northwest-1": "cn-beijing",
}

# CloudTrail error codes with a fixed Alibaba code and message. Codes that depend on
# the call (NoSuchEntity, EntityAlreadyExists, LimitExceeded) and the permission
# errors (NoPermission or the ECS Forbidden.RAM) are decided by the converter.
ERROR_MAP: dict[str, tuple[str, str]] = {
    "ThrottlingException": (
        "Throttling.User",
        "Request was denied due to user flow control.",
    ),
    "Throttling": ("Throttling.User", "Request was denied due to user flow control."),
    "RequestLimitExceeded": (
        "Throttling.User",
        "Request was denied due to user flow control.",
    ),
    "TooManyRequestsException": (
        "Throttling.User",
        "Request was denied due to user flow control.",
    ),
    "InvalidClientTokenId": (
        "InvalidAccessKeyId.NotFound",
        "Specified access key is not found.",
    ),
    "SignatureDoesNotMatch": (
        "SignatureDoesNotMatch",
        "Specified signature is not matched with our calculation.",
    ),
    "IncompleteSignature": (
        "IncompleteSignature",
        "The request signature does not conform to Aliyun standards.",
    ),
    "ExpiredToken": (
        "InvalidSecurityToken.Expired",
        "Specified SecurityToken is expired.",
    ),
    "ExpiredTokenException": (
        "InvalidSecurityToken.Expired",
        "Specified SecurityToken is expired.",
    ),
    "VcpuLimitExceeded": (
        "QuotaExceed.ElasticQuota",
        "No additional quota is available for the specified ECS instance type.",
    ),
    "InvalidParameterValue": (
        "InvalidParameter",
        "The specified parameter is invalid.",
    ),
    "InvalidParameterValueException": (
        "InvalidParameter",
        "The specified parameter is invalid.",
    ),
    "ValidationException": ("InvalidParameter", "The specified parameter is invalid."),
    "TrailNotFoundException": (
        "TrailNotFoundException",
        "The specified trail does not exist.",
    ),
}

PERMISSION_ERRORS = frozenset(
    "AccessDenied AccessDeniedException UnauthorizedOperation UnauthorizedAccess "
    "AuthorizationError".split()
)
NO_PERMISSION_MESSAGE = (
    "You are not authorized to do this action. You should be authorized by RAM."
)
FORBIDDEN_RAM_MESSAGE = (
    "User not authorized to operate on the specified resource, or this API doesn't "
    "support RAM."
)

# AWS managed policies with an Alibaba system policy of the same purpose.
MANAGED_POLICIES: dict[str, str] = {
    "AdministratorAccess": "AdministratorAccess",
    "ReadOnlyAccess": "ReadOnlyAccess",
    "IAMFullAccess": "AliyunRAMFullAccess",
    "IAMReadOnlyAccess": "AliyunRAMReadOnlyAccess",
    "AmazonEC2FullAccess": "AliyunECSFullAccess",
    "AmazonEC2ReadOnlyAccess": "AliyunECSReadOnlyAccess",
    "AWSCloudTrail_FullAccess": "AliyunActionTrailFullAccess",
    "AWSCloudTrail_ReadOnlyAccess": "AliyunActionTrailReadOnlyAccess",
    "AWSCloudTrailReadOnlyAccess": "AliyunActionTrailReadOnlyAccess",
    "Billing": "AliyunBSSFullAccess",
    "AWSBillingReadOnlyAccess": "AliyunBSSReadOnlyAccess",
    "CloudWatchLogsFullAccess": "AliyunLogFullAccess",
    "CloudWatchLogsReadOnlyAccess": "AliyunLogReadOnlyAccess",
    "AmazonS3FullAccess": "AliyunOSSFullAccess",
    "AmazonS3ReadOnlyAccess": "AliyunOSSReadOnlyAccess",
}

# EC2 instance families by the kind of machine they are. Each maps to a common Alibaba
# type of the same kind, so GPU launches stay GPU launches.
INSTANCE_TYPE_FAMILIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("t1", "t2", "t3", "t3a", "t4g"), "ecs.t6-c1m1.large"),
    (
        ("p2", "p3", "p4d", "p4de", "p5", "g3", "g4dn", "g4ad", "g5", "g5g"),
        "ecs.gn6i-c4g1.xlarge",
    ),
    (("c4", "c5", "c5a", "c5n", "c6g", "c6i", "c7g", "c7i"), "ecs.c7.large"),
    (("r4", "r5", "r5a", "r6g", "r6i", "r7g"), "ecs.r7.large"),
)
DEFAULT_INSTANCE_TYPE = "ecs.g7.large"

# AWS resource types in ``resources[]`` -> ActionTrail resource types.
RESOURCE_TYPES: dict[str, str] = {
    "AWS::EC2::Instance": "ACS::ECS::Instance",
    "AWS::EC2::Image": "ACS::ECS::Image",
    "AWS::EC2::Snapshot": "ACS::ECS::Snapshot",
    "AWS::EC2::Volume": "ACS::ECS::Disk",
    "AWS::EC2::SecurityGroup": "ACS::ECS::SecurityGroup",
    "AWS::EC2::NetworkInterface": "ACS::ECS::NetworkInterface",
    "AWS::EC2::KeyPair": "ACS::ECS::KeyPair",
    "AWS::EC2::VPC": "ACS::VPC::VPC",
    "AWS::EC2::Subnet": "ACS::VPC::VSwitch",
    "AWS::EC2::RouteTable": "ACS::VPC::RouteTable",
    "AWS::EC2::NatGateway": "ACS::VPC::NatGateway",
    "AWS::EC2::EIP": "ACS::VPC::EIP",
    "AWS::IAM::User": "ACS::RAM::User",
    "AWS::IAM::Role": "ACS::RAM::Role",
    "AWS::IAM::Policy": "ACS::RAM::Policy",
    "AWS::IAM::Group": "ACS::RAM::Group",
    "AWS::IAM::AccessKey": "ACS::RAM::AccessKey",
    "AWS::KMS::Key": "ACS::KMS::Key",
    "AWS::SecretsManager::Secret": "ACS::KMS::Secret",
    "AWS::S3::Bucket": "ACS::OSS::Bucket",
    "AWS::S3::Object": "ACS::OSS::Object",
    "AWS::CloudTrail::Trail": "ACS::ActionTrail::Trail",
    "AWS::Lambda::Function": "ACS::FC::Function",
    "AWS::RDS::DBInstance": "ACS::RDS::DBInstance",
    "AWS::SSM::Parameter": "ACS::OOS::Parameter",
}

# AWS resource id prefixes -> Alibaba id prefixes, for the deterministic id rewrite.
RESOURCE_ID_PREFIXES: dict[str, str] = {
    "i": "i",
    "ami": "m",
    "snap": "s",
    "vol": "d",
    "sg": "sg",
    "vpc": "vpc",
    "subnet": "vsw",
    "rtb": "vtb",
    "rtbassoc": "vtbassoc",
    "eni": "eni",
    "igw": "igw",
    "nat": "ngw",
    "eipalloc": "eip",
    "fl": "fl",
    "r": "r",
}
