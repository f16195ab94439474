"""STS (2015-04-01) errors, one class per Alibaba Cloud error code.

Codes, HTTP statuses and messages follow Alibaba's AssumeRole API reference. Each
message starts with the text the real service sends, and the optional
``detail`` names the value that failed and what to do about it.
"""

from __future__ import annotations

from emulator.errors import AlibabaError, NoPermission


class StsError(AlibabaError):
    """An STS error whose message may carry a detail after the service's text."""

    def __init__(self, detail: str = "") -> None:
        text = type(self).message
        super().__init__(f"{text} {detail}".strip())


class InvalidParameterRoleArn(StsError):
    code = "InvalidParameter.RoleArn"
    status = 400
    message = "The parameter RoleArn is wrongly formed."


class InvalidParameterRoleSessionName(StsError):
    code = "InvalidParameter.RoleSessionName"
    status = 400
    message = "The parameter RoleSessionName is wrongly formed."


class InvalidParameterDurationSeconds(StsError):
    code = "InvalidParameter.DurationSeconds"
    status = 400
    message = "The Min/Max value of DurationSeconds is 15min/1hr."


class InvalidParameterPolicyGrammar(StsError):
    code = "InvalidParameter.PolicyGrammar"
    status = 400
    message = "The parameter Policy has not passed grammar check."


class InvalidParameterPolicySize(StsError):
    # The message is the published one and names 1024 bytes, but the request
    # model of alibabacloud_sts20150401 1.2.0 documents 1 to 2048 characters, and
    # the emulator enforces 2048.
    code = "InvalidParameter.PolicySize"
    status = 400
    message = "The size of Policy must be smaller than 1024 bytes."


class EntityNotExistRole(StsError):
    code = "EntityNotExist.Role"
    status = 404
    message = "The specified Role not exists."


def role_not_trusted(detail: str) -> NoPermission:
    """Build the NoPermission error STS returns when a role's trust policy or the
    caller's policies do not allow the AssumeRole."""
    return NoPermission(
        "No permission perform sts:AssumeRole on this Role. Maybe you are not "
        "authorized to perform sts:AssumeRole or the specified role does not trust "
        f"you. {detail}".strip()
    )


def root_cannot_assume_roles() -> NoPermission:
    """Build the NoPermission error for an AssumeRole signed with a root key."""
    return NoPermission(
        "Roles may not be assumed by root accounts. Call AssumeRole with the "
        "AccessKey of a RAM user instead."
    )
