"""Errors the emulator returns, one class per Alibaba Cloud error code.

Each class carries the code, HTTP status and message that the real service sends, so
that the SDK raises the same exception class with the same ``code`` as in the cloud.
Service packages add their own subclasses in their ``exceptions.py``.
"""

from __future__ import annotations


class AlibabaError(Exception):
    """An error response of a POP (RPC) API: RAM, STS, ActionTrail, BSS or ECS."""

    code: str = "InternalError"
    status: int = 500
    message: str = "The request processing has failed due to some unknown error."

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        access_denied_detail: dict | None = None,
    ) -> None:
        if message is not None:
            self.message = message
        self.headers = dict(headers or {})
        self.access_denied_detail = access_denied_detail
        super().__init__(f"{self.code}: {self.message}")


def make_error(code: str, status: int, message: str, **kwargs) -> AlibabaError:
    """Build an error for a code that has no class of its own (fault injection)."""
    error_class = type(code.replace(".", "_"), (AlibabaError,), {})
    error = error_class(message, **kwargs)
    error.code = code
    error.status = status
    return error


# Gateway errors, shared by every POP product.


class InvalidAccessKeyIdNotFound(AlibabaError):
    code = "InvalidAccessKeyId.NotFound"
    status = 404
    message = "Specified access key is not found."


class InvalidAccessKeyIdInactive(AlibabaError):
    code = "InvalidAccessKeyId.Inactive"
    status = 400
    message = "Specified access key is disabled."


class SignatureDoesNotMatch(AlibabaError):
    code = "SignatureDoesNotMatch"
    status = 400
    message = "Specified signature is not matched with our calculation."


class IncompleteSignature(AlibabaError):
    code = "IncompleteSignature"
    status = 400
    message = "The request signature does not conform to Aliyun standards."


class SignatureNonceUsed(AlibabaError):
    code = "SignatureNonceUsed"
    status = 400
    message = "Specified signature nonce was used already."


class InvalidTimeStampExpired(AlibabaError):
    code = "InvalidTimeStamp.Expired"
    status = 400
    message = "Specified time stamp or date value is expired."


class InvalidTimeStampFormat(AlibabaError):
    code = "InvalidTimeStamp.Format"
    status = 400
    message = "Specified time stamp or date value is not well formatted."


class MissingParameter(AlibabaError):
    code = "MissingParameter"
    status = 400

    def __init__(self, name: str) -> None:
        super().__init__(
            f'The input parameter "{name}" that is mandatory for processing this '
            "request is not supplied."
        )


class InvalidParameter(AlibabaError):
    code = "InvalidParameter"
    status = 400

    def __init__(self, name: str, detail: str = "") -> None:
        text = f'The parameter "{name}" is invalid.'
        super().__init__(f"{text} {detail}".strip())


class InvalidApiNotFound(AlibabaError):
    code = "InvalidApi.NotFound"
    status = 404
    message = "Specified api is not found, please check your url and method."


class NoPermission(AlibabaError):
    code = "NoPermission"
    status = 403
    message = (
        "You are not authorized to do this action. You should be authorized by RAM."
    )


class ForbiddenRam(AlibabaError):
    """The permission error of ECS-style products."""

    code = "Forbidden.RAM"
    status = 403
    message = (
        "User not authorized to operate on the specified resource, "
        "or this API doesn't support RAM."
    )


class ThrottlingUser(AlibabaError):
    code = "Throttling.User"
    status = 400
    message = "Request was denied due to user flow control."


class ThrottlingApi(AlibabaError):
    code = "Throttling.Api"
    status = 400
    message = "Request was denied due to api flow control."


class InvalidSecurityTokenExpired(AlibabaError):
    code = "InvalidSecurityToken.Expired"
    status = 400
    message = "Specified SecurityToken is expired."


class InvalidSecurityTokenMalformed(AlibabaError):
    code = "InvalidSecurityToken.Malformed"
    status = 400
    message = "Specified SecurityToken is malformed."


class InvalidSecurityTokenMismatch(AlibabaError):
    code = "InvalidSecurityToken.MismatchWithAccessKey"
    status = 400
    message = "Specified SecurityToken mismatch with the AccessKey."


class MissingSecurityToken(AlibabaError):
    code = "MissingSecurityToken"
    status = 400
    message = "SecurityToken is mandatory for this action."


class InternalError(AlibabaError):
    code = "InternalError"
    status = 500


class ServiceUnavailable(AlibabaError):
    code = "ServiceUnavailable"
    status = 503
    message = "The request has failed due to a temporary failure of the server."


class SlsError(Exception):
    """An error response of the SLS (Log Service) API, which has its own body shape."""

    def __init__(self, code: str, status: int, message: str) -> None:
        self.code = code
        self.status = status
        self.message = message
        super().__init__(f"{code}: {message}")
