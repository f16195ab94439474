"""Checks of command-line values that run before any cloud call.

A bad path or number must stop the command at once with one line that names the
option, the value and the fix, instead of failing after the triage's API calls
with a raw errno or pydantic's wording. Every check raises ``InvalidOption``, a
``ValueError`` whose message is that line without the ``akresponder:`` prefix.
"""

from __future__ import annotations

import os
from pathlib import Path


class InvalidOption(ValueError):
    """A command-line value that cannot work; the message names the fix."""


def _nearest_existing(path: Path) -> Path:
    """Return ``path`` or its closest ancestor that exists."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def check_folder(option: str, value: str | os.PathLike[str], shown: str = "") -> Path:
    """Check that ``value`` is a folder, or can be created as one, and is writable.

    ``shown`` is the value as the user typed it, such as ``file:out/secrets``,
    when it differs from the path. Returns the expanded path.
    """
    path = Path(value).expanduser()
    text = shown or str(value)
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
    """Check that a file can be written at ``value``: not a folder, parent usable."""
    path = Path(value).expanduser()
    if path.is_dir():
        raise InvalidOption(
            f"invalid {option} {value}: {path} is a folder; give a file path, such "
            f"as {path / 'report.json'}"
        )
    check_folder(option, path.parent, shown=str(value))
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
