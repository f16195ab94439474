"""Input rules of RAM 2015-05-01: entity names, policy documents and list paging.

The limits follow Alibaba's RAM API reference: user and group names 1-64
characters, policy names 1-128, role names 1-64, policy documents at most 6144
characters. STS reuses the policy document check for AssumeRole's session policy.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from emulator.errors import InvalidParameter
from emulator.ram import exceptions as ram_errors

USER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9.@_-]+$")
GROUP_NAME_PATTERN = re.compile(r"^[A-Za-z0-9-]+$")
POLICY_NAME_PATTERN = re.compile(r"^[A-Za-z0-9-]+$")
ROLE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9.-]+$")
VERSION_ID_PATTERN = re.compile(r"^v[1-9][0-9]*$")

MAX_POLICY_DOCUMENT_LENGTH = 6144
MAX_DESCRIPTION_LENGTH = 1024
POLICY_TYPES = ("System", "Custom")

T = TypeVar("T")


def validate_user_name(name: str, *, parameter: str = "UserName") -> None:
    """Raise the RAM error for a user name that breaks the 1-64 [A-Za-z0-9.@_-] rule.

    ``parameter`` is ``UserName`` or ``NewUserName``, which have separate error codes.
    """
    if parameter == "NewUserName":
        length_error = ram_errors.InvalidParameterNewUserNameLength
        chars_error = ram_errors.InvalidParameterNewUserNameInvalidChars
    else:
        length_error = ram_errors.InvalidParameterUserNameLength
        chars_error = ram_errors.InvalidParameterUserNameInvalidChars
    if not 1 <= len(name) <= 64:
        raise length_error(
            f"{parameter} has {len(name)} characters; give 1 to 64 characters."
        )
    if not USER_NAME_PATTERN.match(name):
        raise chars_error(
            f"{parameter} {name!r} may contain only letters, digits and . @ _ -."
        )


def validate_group_name(name: str) -> None:
    """Raise the RAM error for a group name that breaks the 1-64 [A-Za-z0-9-] rule."""
    if not 1 <= len(name) <= 64:
        raise ram_errors.InvalidParameterGroupNameLength(
            f"GroupName has {len(name)} characters; give 1 to 64 characters."
        )
    if not GROUP_NAME_PATTERN.match(name):
        raise ram_errors.InvalidParameterGroupNameInvalidChars(
            f"GroupName {name!r} may contain only letters, digits and hyphens."
        )


def validate_policy_name(name: str) -> None:
    """Raise the RAM error for a policy name that breaks the 1-128 [A-Za-z0-9-] rule."""
    if not 1 <= len(name) <= 128:
        raise ram_errors.InvalidParameterPolicyNameLength(
            f"PolicyName has {len(name)} characters; give 1 to 128 characters."
        )
    if not POLICY_NAME_PATTERN.match(name):
        raise ram_errors.InvalidParameterPolicyNameInvalidChars(
            f"PolicyName {name!r} may contain only letters, digits and hyphens."
        )


def validate_role_name(name: str) -> None:
    """Raise the RAM error for a role name that breaks the 1-64 [A-Za-z0-9.-] rule."""
    if not 1 <= len(name) <= 64:
        raise ram_errors.InvalidParameterRoleNameLength(
            f"RoleName has {len(name)} characters; give 1 to 64 characters."
        )
    if not ROLE_NAME_PATTERN.match(name):
        raise ram_errors.InvalidParameterRoleNameInvalidChars(
            f"RoleName {name!r} may contain only letters, digits, periods and hyphens."
        )


def validate_policy_type(policy_type: str) -> None:
    """Raise InvalidParameter.PolicyType unless the type is System or Custom."""
    if policy_type not in POLICY_TYPES:
        raise ram_errors.InvalidParameterPolicyType(
            f"Got {policy_type!r}; give System or Custom."
        )


def validate_version_id(version_id: str) -> None:
    """Raise InvalidParameter.VersionId.Format unless the id looks like ``v3``."""
    if not VERSION_ID_PATTERN.match(version_id):
        raise ram_errors.InvalidParameterVersionIdFormat(
            f"Got {version_id!r}; give a version id such as v1 from ListPolicyVersions."
        )


def validate_description(description: str) -> None:
    """Raise InvalidParameter.Description.Length for more than 1024 characters."""
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise ram_errors.InvalidParameterDescriptionLength(
            f"Description has {len(description)} characters; give at most "
            f"{MAX_DESCRIPTION_LENGTH}."
        )


def parse_policy_document(text: str, *, trust: bool = False) -> dict[str, Any]:
    """Parse a RAM policy document and raise ValueError naming the first problem.

    A document is a JSON object with ``Version`` "1" and a non-empty ``Statement``
    list. Each statement has ``Effect`` Allow or Deny and an ``Action`` (or
    ``NotAction``) string or list. A permission policy statement also needs a
    ``Resource``; a trust policy (a role's AssumeRolePolicyDocument) needs a
    ``Principal`` object instead.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"the document is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise ValueError("the document must be a JSON object")
    if document.get("Version") != "1":
        raise ValueError('"Version" must be the string "1"')
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        raise ValueError('"Statement" must be a non-empty list')
    for index, statement in enumerate(statements, start=1):
        _check_statement(statement, index, trust=trust)
    return document


def _check_statement(statement: Any, index: int, *, trust: bool) -> None:
    where = f"statement {index}"
    if not isinstance(statement, dict):
        raise ValueError(f"{where} must be a JSON object")
    if statement.get("Effect") not in ("Allow", "Deny"):
        raise ValueError(f'{where}: "Effect" must be "Allow" or "Deny"')
    action_key = "Action" if "Action" in statement else "NotAction"
    if not _is_string_or_string_list(statement.get(action_key)):
        raise ValueError(f'{where}: "Action" must be a string or a list of strings')
    if trust:
        if not isinstance(statement.get("Principal"), dict):
            raise ValueError(f'{where}: "Principal" must be a JSON object')
        return
    resource_key = "Resource" if "Resource" in statement else "NotResource"
    if not _is_string_or_string_list(statement.get(resource_key)):
        raise ValueError(f'{where}: "Resource" must be a string or a list of strings')


def _is_string_or_string_list(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, str) and item for item in value)
    )


def validate_policy_document(
    text: str, *, parameter: str = "PolicyDocument", trust: bool = False
) -> None:
    """Raise the RAM error for a policy document that is too long or malformed."""
    if len(text) > MAX_POLICY_DOCUMENT_LENGTH:
        raise ram_errors.InvalidParameterPolicyDocumentLength(
            f"{parameter} has {len(text)} characters; give at most "
            f"{MAX_POLICY_DOCUMENT_LENGTH}."
        )
    try:
        parse_policy_document(text, trust=trust)
    except ValueError as error:
        raise ram_errors.MalformedPolicyDocument(
            f"{parameter}: {error}. Fix the JSON policy and send it again."
        ) from None


def encode_marker(key: str) -> str:
    """Encode a list position as the opaque ``Marker`` string RAM returns."""
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_marker(marker: str) -> str:
    """Decode a ``Marker``, raising InvalidParameter when it was not one of ours."""
    try:
        key = base64.b64decode(marker.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = ""
    if not key:
        raise InvalidParameter(
            "Marker",
            f"Got {marker!r}; pass the Marker value of the previous response.",
        )
    return key


def paginate(
    items: Sequence[T],
    sort_key: Callable[[T], str],
    marker: str | None,
    max_items: int,
) -> tuple[list[T], str | None]:
    """Return one page of ``items`` and the ``Marker`` of the next page, if any.

    Items are ordered by ``sort_key``. The marker contains the key of the last item
    returned, so that deleting items between calls neither repeats nor skips any.
    """
    ordered = sorted(items, key=sort_key)
    if marker is not None:
        after = decode_marker(marker)
        ordered = [item for item in ordered if sort_key(item) > after]
    page = ordered[:max_items]
    if len(ordered) > max_items:
        return page, encode_marker(sort_key(page[-1]))
    return page, None
