"""BSS OpenAPI (2017-12-14) errors.

Parameter errors are the shared ``MissingParameter`` and ``InvalidParameter`` (HTTP
400). Some BSS business failures come back instead as HTTP 200 with ``"Success":
false`` and a ``Code``, so that the SDK raises nothing and the caller must check
``body.success``. ``BusinessFailure`` models those: the BSS handlers turn it into such
a body.
"""

from __future__ import annotations


class BusinessFailure(Exception):
    """A BSS failure that the service reports in a successful HTTP response."""

    code: str = "InternalError"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{self.code}: {message}")


class NotApplicable(BusinessFailure):
    """The query cannot apply, such as a billing cycle that has not started yet."""

    code = "NotApplicable"
