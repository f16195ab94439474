"""RAM (2015-05-01) errors, one class per Alibaba Cloud error code.

Codes, HTTP statuses and messages follow Alibaba's published RAM error list. Each
message starts with the text the real service sends, so that code matching on
``e.code`` or on the message prefix behaves the same as against the cloud. The
optional ``detail`` names the value that failed and what to do about it.
"""

from __future__ import annotations

from emulator.errors import AlibabaError


class RamError(AlibabaError):
    """A RAM error whose message may carry a detail after the service's text."""

    def __init__(self, detail: str = "") -> None:
        text = type(self).message
        super().__init__(f"{text} {detail}".strip())


# 400: invalid parameters.


class InvalidParameterUserNameInvalidChars(RamError):
    code = "InvalidParameter.UserName.InvalidChars"
    status = 400
    message = 'The parameter - "UserName" contains invalid chars.'


class InvalidParameterUserNameLength(RamError):
    code = "InvalidParameter.UserName.Length"
    status = 400
    message = 'The parameter - "UserName" beyond the length limit.'


class InvalidParameterNewUserNameInvalidChars(RamError):
    code = "InvalidParameter.NewUserName.InvalidChars"
    status = 400
    message = 'The parameter - "NewUserName" contains invalid chars.'


class InvalidParameterNewUserNameLength(RamError):
    code = "InvalidParameter.NewUserName.Length"
    status = 400
    message = 'The parameter - "NewUserName" beyond the length limit.'


class InvalidParameterGroupNameInvalidChars(RamError):
    code = "InvalidParameter.GroupName.InvalidChars"
    status = 400
    message = 'The parameter - "GroupName" contains invalid chars.'


class InvalidParameterGroupNameLength(RamError):
    code = "InvalidParameter.GroupName.Length"
    status = 400
    message = 'The parameter - "GroupName" beyond the length limit.'


class InvalidParameterPolicyNameInvalidChars(RamError):
    code = "InvalidParameter.PolicyName.InvalidChars"
    status = 400
    message = 'The parameter - "PolicyName" contains invalid chars.'


class InvalidParameterPolicyNameLength(RamError):
    code = "InvalidParameter.PolicyName.Length"
    status = 400
    message = 'The parameter - "PolicyName" beyond the length limit.'


class InvalidParameterRoleNameInvalidChars(RamError):
    # NOTE: the RAM error list has no RoleName entries, so this code follows the
    # UserName and GroupName pattern and is unverified against the cloud.
    code = "InvalidParameter.RoleName.InvalidChars"
    status = 400
    message = 'The parameter - "RoleName" contains invalid chars.'


class InvalidParameterRoleNameLength(RamError):
    code = "InvalidParameter.RoleName.Length"
    status = 400
    message = 'The parameter - "RoleName" beyond the length limit.'


class InvalidParameterPolicyType(RamError):
    code = "InvalidParameter.PolicyType"
    status = 400
    message = 'The parameter - "PolicyType" is incorrect.'


class InvalidParameterPolicyDocumentLength(RamError):
    code = "InvalidParameter.PolicyDocument.Length"
    status = 400
    message = 'The parameter - "PolicyDocument" beyond the length limit.'


class InvalidParameterDescriptionLength(RamError):
    code = "InvalidParameter.Description.Length"
    status = 400
    message = 'The parameter - "Description" beyond the length limit.'


class InvalidParameterVersionIdFormat(RamError):
    code = "InvalidParameter.VersionId.Format"
    status = 400
    message = 'The format of the parameter - "VersionId" is incorrect.'


class InvalidParameterPasswordTooWeak(RamError):
    code = "InvalidParameter.Password.TooWeak"
    status = 400
    message = 'The parameter - "Password" is not compliant with the password policy.'


class MalformedPolicyDocument(RamError):
    code = "MalformedPolicyDocument"
    status = 400
    message = "The policy document is malformed."


# 404: the named entity does not exist.


class EntityNotExistUser(RamError):
    code = "EntityNotExist.User"
    status = 404
    message = "The user does not exist."


class EntityNotExistUserAccessKey(RamError):
    code = "EntityNotExist.User.AccessKey"
    status = 404
    message = "The user access key does not exist."


class EntityNotExistUserLoginProfile(RamError):
    code = "EntityNotExist.User.LoginProfile"
    status = 404
    message = "The user login profile does not exist."


class EntityNotExistUserMFADevice(RamError):
    code = "EntityNotExist.User.MFADevice"
    status = 404
    message = "The user has not bound any MFA device."


class EntityNotExistUserPolicy(RamError):
    code = "EntityNotExist.User.Policy"
    status = 404
    message = "The indicate policy of the user does not exist."


class EntityNotExistUserGroup(RamError):
    code = "EntityNotExist.User.Group"
    status = 404
    message = "The user has not joined the group."


class EntityNotExistGroup(RamError):
    code = "EntityNotExist.Group"
    status = 404
    message = "The group does not exist."


class EntityNotExistGroupPolicy(RamError):
    code = "EntityNotExist.Group.Policy"
    status = 404
    message = "The indicate policy attached to the group does not exist."


class EntityNotExistPolicy(RamError):
    code = "EntityNotExist.Policy"
    status = 404
    message = "The policy does not exist."


class EntityNotExistPolicyVersion(RamError):
    code = "EntityNotExist.Policy.Version"
    status = 404
    message = "The policy version does not exist."


class EntityNotExistRole(RamError):
    code = "EntityNotExist.Role"
    status = 404
    message = "The role does not exist."


class EntityNotExistRolePolicy(RamError):
    # NOTE: unverified. The code and message follow the Group.Policy pattern.
    code = "EntityNotExist.Role.Policy"
    status = 404
    message = "The indicate policy attached to the role does not exist."


# 409: already exists, delete conflicts and limits.


class EntityAlreadyExistsUser(RamError):
    code = "EntityAlreadyExists.User"
    status = 409
    message = "The user does already EXIST."


class EntityAlreadyExistsUserLoginProfile(RamError):
    code = "EntityAlreadyExists.User.LoginProfile"
    status = 409
    message = "The user login profile does already EXIST."


class EntityAlreadyExistsUserGroup(RamError):
    code = "EntityAlreadyExists.User.Group"
    status = 409
    message = "The user has already joined the group."


class EntityAlreadyExistsUserPolicy(RamError):
    code = "EntityAlreadyExists.User.Policy"
    status = 409
    message = "The user has already been attached this policy."


class EntityAlreadyExistsGroup(RamError):
    code = "EntityAlreadyExists.Group"
    status = 409
    message = "The group does already EXIST."


class EntityAlreadyExistsGroupPolicy(RamError):
    code = "EntityAlreadyExists.Group.Policy"
    status = 409
    message = "The group has already been attached this policy."


class EntityAlreadyExistsPolicy(RamError):
    # RAM's published message for this code is the group's message. The emulator
    # repeats that copy error so that messages match the cloud.
    code = "EntityAlreadyExists.Policy"
    status = 409
    message = "The group does already EXIST."


class EntityAlreadyExistsRole(RamError):
    code = "EntityAlreadyExists.Role"
    status = 409
    message = "The role does already EXIST."


class EntityAlreadyExistsRolePolicy(RamError):
    # NOTE: unverified. The code and message follow the Group.Policy pattern.
    code = "EntityAlreadyExists.Role.Policy"
    status = 409
    message = "The role has already been attached this policy."


class DeleteConflictUserAccessKey(RamError):
    code = "DeleteConflict.User.AccessKey"
    status = 409
    message = "The user CAN NOT has any access key while deleting the user."


class DeleteConflictUserPolicy(RamError):
    code = "DeleteConflict.User.Policy"
    status = 409
    message = "The user CAN NOT has any attached policy while deleting the user."


class DeleteConflictUserGroup(RamError):
    code = "DeleteConflict.User.Group"
    status = 409
    message = "The user CAN NOT be in any group while deleting the user."


class DeleteConflictUserLoginProfile(RamError):
    code = "DeleteConflict.User.LoginProfile"
    status = 409
    message = "The user CAN NOT has any login profile while deleting the user."


class DeleteConflictUserMFADevice(RamError):
    code = "DeleteConflict.User.MFADevice"
    status = 409
    message = "The user CAN NOT has any mfa device while deleting the user."


class DeleteConflictGroupUser(RamError):
    code = "DeleteConflict.Group.User"
    status = 409
    message = "The group CAN NOT has any user member while deleting the group."


class DeleteConflictGroupPolicy(RamError):
    code = "DeleteConflict.Group.Policy"
    status = 409
    message = "The entity CAN NOT has any attached policy while deleting the group."


class DeleteConflictPolicyUser(RamError):
    code = "DeleteConflict.Policy.User"
    status = 409
    message = "The policy CAN NOT been attached to any user while deleting the policy."


class DeleteConflictPolicyGroup(RamError):
    code = "DeleteConflict.Policy.Group"
    status = 409
    message = "The policy CAN NOT been attached to any group while deleting the policy."


class DeleteConflictPolicyRole(RamError):
    # NOTE: unverified. The code and message follow the Policy.User pattern.
    code = "DeleteConflict.Policy.Role"
    status = 409
    message = "The policy CAN NOT been attached to any role while deleting the policy."


class DeleteConflictPolicyVersion(RamError):
    code = "DeleteConflict.Policy.Version"
    status = 409
    message = "The policy CAN NOT has any version except the default version."


class DeleteConflictPolicyVersionDefault(RamError):
    code = "DeleteConflict.Policy.Version.Default"
    status = 409
    message = "The default policy version CAN NOT been deleted directly."


class DeleteConflictRolePolicy(RamError):
    code = "DeleteConflict.Role.Policy"
    status = 409
    message = "The role CAN NOT has any attached policy while deleting the role."


class LimitExceededUserAccessKey(RamError):
    code = "LimitExceeded.User.AccessKey"
    status = 409
    message = "The access key count of the user access keys beyond the current limits."


class LimitExceededUserGroup(RamError):
    code = "LimitExceeded.User.Group"
    status = 409
    message = "The count of groups the target user joined beyond the current limits."


class LimitExceededUserPolicy(RamError):
    code = "LimitExceeded.User.Policy"
    status = 409
    message = (
        "The policy count of the user attached policies beyond the current limits."
    )


class LimitExceededGroupPolicy(RamError):
    code = "LimitExceeded.Group.Policy"
    status = 409
    message = "The policy count of the group beyond the current limits."


class LimitExceededRolePolicy(RamError):
    code = "LimitExceeded.Role.Policy"
    status = 409
    message = "The count of policies attached to the role beyond the current limits."


class LimitExceededPolicyVersion(RamError):
    code = "LimitExceeded.Policy.Version"
    status = 409
    message = "The count of policy version beyond the current limits."
