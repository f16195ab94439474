"""Checks of command-line values that run before any cloud call.

A bad path or number must stop the command at once with one line that names the
option, the value and the fix, instead of failing after the triage's API calls
with a raw errno or pydantic's wording. Every check raises ``InvalidOption``, a
``ValueError`` whose message is that line without the ``akresponder:`` prefix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError


class InvalidOption(ValueError):
    """An invalid command-line value. The message names the value and the fix."""


def _nearest_existing(path: Path) -> Path:
    """Return ``path`` or its closest ancestor that exists."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def check_folder(
    option: str, value: str | os.PathLike[str], typed_value: str = ""
) -> Path:
    """Check that ``value`` is a folder, or can be created as one, and is writable.

    ``typed_value`` is the value as the user typed it, such as ``file:out/secrets``,
    when it differs from the path. Returns the expanded path.
    """
    path = Path(value).expanduser()
    text = typed_value or str(value)
    if path.exists() and not path.is_dir():
        raise InvalidOption(
            f"invalid {option} {text}: {path} is a file, not a folder; give a "
            "folder path (it is created when missing)"
        )
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise InvalidOption(
            f"invalid {option} {text}: {existing} is a file, so the folder {path} "
            "cannot be created; give a path under a folder"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidOption(
            f"invalid {option} {text}: folder {existing} is not writable; give a "
            "folder you can write to"
        )
    return path


def check_output_file(option: str, value: str | os.PathLike[str]) -> Path:
    """Check that ``value`` is not a folder and its parent passes ``check_folder``."""
    path = Path(value).expanduser()
    if path.is_dir():
        raise InvalidOption(
            f"invalid {option} {value}: {path} is a folder; give a file path, such "
            f"as {path / 'report.json'}"
        )
    check_folder(option, path.parent, typed_value=str(value))
    return path


def check_input_file(option: str, value: str | os.PathLike[str]) -> Path:
    """Check that ``value`` is an existing, readable file."""
    path = Path(value).expanduser()
    if not path.exists():
        raise InvalidOption(
            f"invalid {option} {value}: file not found; give the path of an "
            "existing file"
        )
    if path.is_dir():
        raise InvalidOption(
            f"invalid {option} {value}: {path} is a folder; give the path of a file"
        )
    if not os.access(path, os.R_OK):
        raise InvalidOption(
            f"invalid {option} {value}: file is not readable; check its permissions"
        )
    return path


def _field(model: type[BaseModel], location: tuple[Any, ...]) -> Any:
    """Return the ``FieldInfo`` at ``location``, following nested models."""
    info = None
    current: Any = model
    for part in location:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return None
        info = fields[part]
        current = info.annotation
    return info


def expected_range(model: type[BaseModel], location: tuple[Any, ...]) -> str | None:
    """Describe the numbers a field accepts, from its ge/gt/le/lt bounds.

    Returns text such as "a whole number from 1 to 90", or None when the field
    has no numeric bound. The model stays the only place the bounds are written.
    """
    info = _field(model, location)
    if info is None:
        return None
    low = high = None
    low_open = high_open = False
    for item in info.metadata:
        if isinstance(item, Ge):
            low = item.ge
        elif isinstance(item, Gt):
            low, low_open = item.gt, True
        elif isinstance(item, Le):
            high = item.le
        elif isinstance(item, Lt):
            high, high_open = item.lt, True
    if low is None and high is None:
        return None
    kind = "a whole number" if info.annotation is int else "a number"
    if low is not None and high is not None and not low_open and not high_open:
        return f"{kind} from {low} to {high}"
    parts = []
    if low is not None:
        parts.append(f"greater than {low}" if low_open else f"at least {low}")
    if high is not None:
        parts.append(f"less than {high}" if high_open else f"at most {high}")
    return f"{kind} " + " and ".join(parts)


def option_error(
    error: ValidationError,
    model: type[BaseModel],
    options: dict[str, tuple[str, Any]],
) -> InvalidOption:
    """Turn the first validation error into one line in the CLI's words.

    ``options`` maps a dotted field location, such as ``lookback_days`` or
    ``approval.timeout_seconds``, to the option and the value the user gave.
    A range error then reads "invalid --lookback-days '0': expected a whole
    number from 1 to 90". Other errors keep the validator's message.
    """
    first = error.errors()[0]
    location = tuple(first["loc"])
    field = ".".join(str(part) for part in location) or "arguments"
    message = first["msg"].removeprefix("Value error, ")
    if field not in options:
        return InvalidOption(f"invalid {field}: {message}")
    option, value = options[field]
    expected = expected_range(model, location)
    if expected is not None:
        return InvalidOption(f"invalid {option} '{value}': expected {expected}")
    return InvalidOption(f"invalid {option} '{value}': {message}")
