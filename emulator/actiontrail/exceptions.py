"""ActionTrail error codes, with the status and message the real service sends.

Codes and default messages come from the error tables of the ActionTrail 2020-07-06
OpenAPI metadata. The backend raises them with a message that names the failed value
and the fix.
"""

from __future__ import annotations

from emulator.errors import AlibabaError


class InvalidQueryParameter(AlibabaError):
    code = "InvalidQueryParameter"
    status = 400
    message = "The specified query parameter is invalid."


class InvalidParameterCombination(AlibabaError):
    code = "InvalidParameterCombination"
    status = 400
    message = "The end time must be later than the start time."


class InvalidParameterStartTime(AlibabaError):
    code = "InvalidParameterStartTime"
    status = 400
    message = "The specified StartTime is invalid."


class InvalidParameterEndTime(AlibabaError):
    code = "InvalidParameterEndTime"
    status = 400
    message = "The specified EndTime is invalid."


class TrailNotFoundException(AlibabaError):
    code = "TrailNotFoundException"
    status = 404
    message = "The specified Trail does not exist."


class TrailAlreadyExistsException(AlibabaError):
    code = "TrailAlreadyExistsException"
    status = 400
    message = "The specified Trail name already exists."


class InvalidTrailNameException(AlibabaError):
    code = "InvalidTrailNameException"
    status = 400
    message = "The specified Trail name is invalid."


class InvalidDeliveryConfigurationException(AlibabaError):
    code = "InvalidDeliveryConfigurationException"
    status = 400
    message = (
        "You must specify at least one Log Service project or OSS bucket for a Trail."
    )


class MaximumNumberOfTrailsExceededException(AlibabaError):
    code = "MaximumNumberOfTrailsExceededException"
    status = 403
    message = "The number of Trails in the same region exceeds the upper limit (5)."
