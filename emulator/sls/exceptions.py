"""SLS error codes, with the HTTP status the real service sends.

SLS errors have their own body shape (``errorCode`` / ``errorMessage``), so each class
derives from ``emulator.errors.SlsError`` and takes the message, which names the value
that failed and how to fix it.
"""

from __future__ import annotations

from emulator.errors import SlsError


class _SlsCodeError(SlsError):
    code = "InternalServerError"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(type(self).code, type(self).status, message)


class ProjectNotExist(_SlsCodeError):
    code = "ProjectNotExist"
    status = 404


class LogStoreNotExist(_SlsCodeError):
    code = "LogStoreNotExist"
    status = 404


class InvalidQueryString(_SlsCodeError):
    code = "InvalidQueryString"
    status = 400


class ParameterInvalid(_SlsCodeError):
    code = "ParameterInvalid"
    status = 400


class InvalidTimeRange(_SlsCodeError):
    code = "InvalidTimeRange"
    status = 400


class InvalidLine(_SlsCodeError):
    code = "InvalidLine"
    status = 400


class InvalidOffset(_SlsCodeError):
    code = "InvalidOffset"
    status = 400


class InvalidReverse(_SlsCodeError):
    code = "InvalidReverse"
    status = 400
