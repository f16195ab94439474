"""ECS (2014-05-26) errors, one class per Alibaba Cloud error code.

Codes, HTTP statuses and message texts follow the error tables of the ECS API reference.
Each message starts with the text the real service sends and may add a detail that
names the value that failed and what to do about it. ECS permission errors
(``Forbidden.RAM``) come from the server's policy check, not from this module.
"""

from __future__ import annotations

from emulator.errors import AlibabaError


class EcsError(AlibabaError):
    """An ECS error whose message may carry a detail after the service's text."""

    def __init__(self, detail: str = "") -> None:
        text = type(self).message
        super().__init__(f"{text} {detail}".strip())


class InvalidRegionIdNotFound(EcsError):
    code = "InvalidRegionId.NotFound"
    status = 404
    message = "The specified RegionId does not exist."


class InvalidInstanceIdNotFound(EcsError):
    code = "InvalidInstanceId.NotFound"
    status = 404
    message = "The specified InstanceId does not exist."


class IncorrectInstanceStatus(EcsError):
    code = "IncorrectInstanceStatus"
    status = 403
    message = "The current status of the resource does not support this operation."


class InvalidInstanceTypeValueNotSupported(EcsError):
    code = "InvalidInstanceType.ValueNotSupported"
    status = 400
    message = "The specified InstanceType beyond the permitted range."


class InvalidInstanceNameMalformed(EcsError):
    code = "InvalidInstanceName.Malformed"
    status = 400
    message = 'The specified parameter "InstanceName" is not valid.'


class InvalidZoneIdNotFound(EcsError):
    code = "InvalidZoneId.NotFound"
    status = 404
    message = "The specified zoneId does not exist."


class DryRunOperation(EcsError):
    """The error that RunInstances, DescribeInstances, DeleteInstance and
    StopInstance return for ``DryRun=true`` when every check passed."""

    code = "DryRunOperation"
    status = 400
    message = "Request validation has been passed with DryRun flag set."


class DryRunSuccess(EcsError):
    """The error that DeleteInstances and StopInstances return for ``DryRun=true``
    when every check passed."""

    code = "DRYRUN.SUCCESS"
    status = 400
    # NOTE: the ECS reference documents this code but not its message text.
    message = "This request is a dryrun request with successful result."


class InvalidStatusNotFound(EcsError):
    code = "InvalidStatus.NotFound"
    status = 404
    message = "The specified Status is not found"
