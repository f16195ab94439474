"""Turn SDK exceptions into one error type that names the failure and the next step.

The SDKs raise many classes: the Tea/darabonba POP core raises ``ClientException``
(4xx), ``ServerException`` (5xx), ``ThrottlingException`` (any status with an
``x-acs-retry-after`` header) and ``UnretryableException`` wrapping transport errors
such as a refused or dropped connection; the SLS SDK raises ``LogException``.
``classify`` maps all of them to ``CloudError``, which carries the error code, HTTP
status, API, target, request id, whether a retry can help and how long the server
asked to wait. Its message never contains a secret.
"""

from __future__ import annotations

import re
from typing import Any

from akresponder import redact

# Error codes a retry can fix. Throttling is matched by prefix ("Throttling.User",
# "Throttling.Api", ...), because the HTTP status of a throttled POP call is 400.
_RETRYABLE_CODES = {
    "ServiceUnavailable",
    "ServiceUnavailableTemporary",
    "InternalError",
    "InternalServerError",
    "ServerBusy",
    "RequestTimeout",
    "ReadQuotaExceed",
    "WriteQuotaExceed",
    "ExceedQuota",
    "Timeout",
    "ConnectionRefused",
    "ConnectionDropped",
}
# Codes that mean the request was rejected before the service acted on it, so even a
# request that creates something may be sent again.
_NOT_PROCESSED_CODES = {"ConnectionRefused", "ServiceUnavailable", "ServerBusy"}

_PERMISSION_CODES = ("NoPermission", "Forbidden", "Unauthorized", "NotAuthorized")
_CREDENTIAL_CODES = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "SignatureNotMatch",
    "InvalidSecurityToken",
    "MissingSecurityToken",
    "IncompleteSignature",
)
# "code: 400, <message> request id: <id>" is how the POP core formats messages.
_POP_MESSAGE = re.compile(r"^code: \d+, (?P<text>.*?)(?: request id: \S*)?$", re.S)


class CloudError(Exception):
    """A failed Alibaba Cloud API call.

    Attributes:
        code: the service's error code ("NoPermission", "Throttling.User", ...) or one
            of ours for transport failures ("ConnectionRefused", "ConnectionDropped",
            "Timeout", "TransportError").
        status: HTTP status, 0 when no response arrived.
        api: "<service>:<Action>", for example "ram:UpdateAccessKey".
        target: the resource the call was about, as key=value fields.
        request_id: the service's request id, for support cases.
        retryable: whether sending the same request again can succeed.
        retry_after: seconds the service asked the caller to wait, or None.
        permission: the RAM action the task declared for this API.
        auth_action: the RAM action the service reported as denied, if any.
        processed: False when the service certainly did not act on the request.
    """

    def __init__(
        self,
        *,
        code: str,
        status: int,
        api: str,
        detail: str,
        target: str = "",
        request_id: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
        permission: str | None = None,
        auth_action: str | None = None,
        processed: bool = True,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.status = status
        self.api = api
        self.detail = redact.scrub_text(detail)
        self.target = target
        self.request_id = request_id
        self.retryable = retryable
        self.retry_after = retry_after
        self.permission = permission
        self.auth_action = auth_action
        self.processed = processed
        self.data = redact.scrub(data or {})
        super().__init__(self._compose())

    def __reduce__(self) -> tuple[Any, ...]:
        # The default reduce passes only the message to __init__, which takes
        # keyword-only arguments, so unpickling (multiprocessing, result storage)
        # would fail without this.
        return (_rebuild, (self._kwargs(),))

    def _kwargs(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "status": self.status,
            "api": self.api,
            "detail": self.detail,
            "target": self.target,
            "request_id": self.request_id,
            "retryable": self.retryable,
            "retry_after": self.retry_after,
            "permission": self.permission,
            "auth_action": self.auth_action,
            "processed": self.processed,
            "data": self.data,
        }

    @property
    def is_permission_error(self) -> bool:
        return self.code.startswith(_PERMISSION_CODES)

    @property
    def is_credential_error(self) -> bool:
        return self.code.startswith(_CREDENTIAL_CODES)

    @property
    def is_not_found(self) -> bool:
        if self.code.startswith("InvalidAccessKeyId"):
            return False
        return self.code.startswith("EntityNotExist") or self.code.endswith(
            ("NotExist", "NotFound")
        )

    def _compose(self) -> str:
        where = f" for {self.target}" if self.target else ""
        status = f"HTTP {self.status}" if self.status else "no response"
        text = f"{self.api} failed{where}: {self.code} ({status}): {self.detail}"
        if not text.endswith("."):
            text += "."
        hint = self._hint()
        if hint:
            text += f" {hint}"
        if self.request_id:
            text += f" RequestId={self.request_id}"
        return redact.scrub_text(text)

    def _hint(self) -> str:
        if self.is_permission_error:
            missing = [p for p in (self.permission, self.auth_action) if p]
            missing = list(dict.fromkeys(missing))
            if missing:
                actions = " and ".join(missing)
                return (
                    f"The responder's identity lacks the RAM permission {actions}; "
                    "grant it (`akresponder policy` prints the minimal policy)."
                )
            return (
                "The responder's identity lacks a RAM permission; attach the policy "
                "that `akresponder policy` prints."
            )
        if self.is_credential_error:
            return (
                "Check the responder's AccessKey pair (ALIBABA_CLOUD_ACCESS_KEY_ID / "
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET or the credentials block): it is "
                "unknown, disabled, expired or does not match its secret."
            )
        if self.code in ("ConnectionRefused", "ConnectionDropped", "Timeout"):
            return "Check the endpoint, the network path and the service status."
        if self.retryable:
            return "The call can be retried later."
        return ""


def _rebuild(kwargs: dict[str, Any]) -> CloudError:
    return CloudError(**kwargs)


def _clean_pop_message(message: str | None) -> str:
    if not message:
        return ""
    match = _POP_MESSAGE.match(message)
    return (match["text"] if match else message).strip()


def _transport_code(exc: BaseException) -> tuple[str, bool]:
    """Return a code for a transport failure and whether the service may have acted.

    The second value is False only when the request cannot have reached the service
    (connection refused, connect timeout, TLS failure).
    """
    import requests

    text = f"{type(exc).__name__}: {exc}".lower()
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "Timeout", False
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text:
        return "Timeout", True
    if isinstance(exc, requests.exceptions.SSLError) or "ssl" in text:
        return "TransportError", False
    if "refused" in text or "failed to establish" in text:
        return "ConnectionRefused", False
    if isinstance(exc, requests.exceptions.ConnectionError) or any(
        word in text
        for word in ("remotedisconnected", "connection aborted", "reset by peer")
    ):
        return "ConnectionDropped", True
    return "TransportError", True


def _retry_after_seconds(value: Any) -> float | None:
    try:
        milliseconds = int(value)
    except (TypeError, ValueError):
        return None
    return milliseconds / 1000 if milliseconds > 0 else None


def _auth_action(detail: Any) -> str | None:
    if isinstance(detail, dict):
        action = detail.get("AuthAction") or detail.get("authAction")
        return str(action) if action else None
    return None


def classify(
    exc: BaseException,
    *,
    api: str,
    target: str = "",
    permission: str | None = None,
) -> CloudError:
    """Map any SDK or transport exception to a ``CloudError``."""
    if isinstance(exc, CloudError):
        return exc

    from aliyun.log.logexception import LogException
    from Tea.exceptions import TeaException, UnretryableException

    common = {"api": api, "target": target, "permission": permission}

    if isinstance(exc, UnretryableException):
        inner = exc.inner_exception
        if isinstance(inner, TeaException) and not isinstance(
            inner, UnretryableException
        ):
            return classify(inner, api=api, target=target, permission=permission)
        code, processed = _transport_code(inner)
        # darabonba wraps requests errors in a RetryError whose message is the text.
        text = getattr(inner, "message", None) or str(inner)
        return CloudError(
            code=code,
            status=0,
            detail=f"{type(inner).__name__}: {text}",
            retryable=code != "TransportError",
            processed=processed,
            **common,
        )

    if isinstance(exc, TeaException):
        data = exc.data if isinstance(exc.data, dict) else {}
        status = int(
            getattr(exc, "status_code", None) or getattr(exc, "statusCode", 0) or 0
        )
        code = str(exc.code or data.get("Code") or "UnknownError")
        retry_after = _retry_after_seconds(getattr(exc, "retry_after", None))
        detail_dict = getattr(exc, "access_denied_detail", None) or getattr(
            exc, "accessDeniedDetail", None
        )
        if not detail_dict and isinstance(data, dict):
            detail_dict = data.get("AccessDeniedDetail")
        retryable = (
            code.startswith("Throttling")
            or code in _RETRYABLE_CODES
            or status >= 500
            or retry_after is not None
        )
        return CloudError(
            code=code,
            status=status,
            detail=_clean_pop_message(exc.message) or code,
            request_id=str(getattr(exc, "request_id", "") or data.get("RequestId", "")),
            retryable=retryable,
            retry_after=retry_after,
            auth_action=_auth_action(detail_dict),
            processed=not (
                code.startswith("Throttling") or code in _NOT_PROCESSED_CODES
            ),
            data={k: v for k, v in data.items() if k != "statusCode"},
            **common,
        )

    if isinstance(exc, LogException):
        code = exc.get_error_code() or "LogRequestError"
        message = exc.get_error_message() or ""
        status = int(exc.get_resp_status() or 0)
        if code == "LogRequestError" and status in (0, 200):
            # No HTTP response: the SDK wraps the requests error text. The SLS SDK
            # (0.9.52) has already retried errors whose text names the
            # HTTPConnectionPool ten times, but not a connection the server closed
            # without a response ("Connection aborted."), so that one is retried here.
            transport, processed = _transport_code(Exception(message))
            resent_by_sdk = "httpconnectionpool" in message.lower()
            return CloudError(
                code=transport,
                status=0,
                detail=message,
                retryable=transport == "Timeout"
                or (transport == "ConnectionDropped" and not resent_by_sdk),
                processed=processed,
                **common,
            )
        # The SLS SDK retries 5xx, InternalServerError and RequestTimeout ten times
        # with 1 s sleeps before raising, so only quota errors are retried again here.
        retryable = code in ("ReadQuotaExceed", "WriteQuotaExceed", "ExceedQuota")
        return CloudError(
            code=code,
            status=status,
            detail=message,
            request_id=exc.get_request_id() or "",
            retryable=retryable,
            processed=not retryable,
            **common,
        )

    import requests

    if isinstance(exc, requests.exceptions.RequestException | ConnectionError):
        code, processed = _transport_code(exc)
        return CloudError(
            code=code,
            status=0,
            detail=f"{type(exc).__name__}: {exc}",
            retryable=code != "TransportError",
            processed=processed,
            **common,
        )

    return CloudError(
        code="UnexpectedError",
        status=0,
        detail=f"{type(exc).__name__}: {exc}",
        **common,
    )
