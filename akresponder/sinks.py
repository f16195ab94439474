"""Secret sinks: the only places a newly created AccessKey's secret goes.

A sink's ``deliver(user_name, access_key_id, secret)`` stores the secret and returns a
description of where it went (a block name or a file path, never the secret). Three
kinds:

* ``PrefectSecretSink`` (default): a Prefect ``Secret`` block named from a template,
  ``akresponder-{user}-{key_id}`` by default, holding ``{"AccessKeyId": ...,
  "AccessKeySecret": ...}``. Prefect encrypts block data at rest and masks it in the
  API and UI.
* ``FileSink``: a JSON file with mode 0600 in a 0700 directory, for the CLI without a
  Prefect server.
* ``DiscardSink``: keeps nothing, for dry runs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Protocol, runtime_checkable

from akresponder import redact

DEFAULT_NAME_TEMPLATE = "akresponder-{user}-{key_id}"
SINK_KINDS = ("prefect-secret", "file", "none")
_BLOCK_NAME_INVALID = re.compile(r"[^a-z0-9-]+")


class SinkError(RuntimeError):
    """The secret could not be stored; the message names the sink, never the secret."""


@runtime_checkable
class SecretSink(Protocol):
    """Stores a new AccessKey secret."""

    kind: str

    def deliver(self, user_name: str, access_key_id: str, secret: str) -> str:
        """Store the secret; return where it went (never the secret)."""
        ...


def secret_name(template: str, user_name: str, access_key_id: str) -> str:
    """Fill the name template and reduce it to lower-case letters, digits and dashes.

    Prefect block names allow only those characters, and file names stay portable.
    """
    try:
        raw = template.format(user=user_name, key_id=access_key_id.lower())
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"invalid secret name template {template!r} ({exc}); use the fields "
            "{user} and {key_id}, for example akresponder-{user}-{key_id}"
        ) from None
    name = _BLOCK_NAME_INVALID.sub("-", raw.lower()).strip("-")
    if not name:
        raise ValueError(
            f"secret name template {template!r} produced an empty name; include "
            "{user} or {key_id}"
        )
    return name


def _payload(access_key_id: str, secret: str) -> dict[str, str]:
    return {"AccessKeyId": access_key_id, "AccessKeySecret": secret}


class PrefectSecretSink:
    """Saves the secret as a Prefect ``Secret`` block; needs a Prefect API."""

    kind = "prefect-secret"

    def __init__(self, name_template: str = DEFAULT_NAME_TEMPLATE) -> None:
        secret_name(name_template, "user", "LTAI0000000000000000")  # check it early
        self.name_template = name_template

    def deliver(self, user_name: str, access_key_id: str, secret: str) -> str:
        from prefect.blocks.system import Secret

        redact.register_secret(secret)
        name = secret_name(self.name_template, user_name, access_key_id)
        try:
            Secret(value=_payload(access_key_id, secret)).save(
                name, overwrite=False, _sync=True
            )
        except Exception as exc:
            raise SinkError(
                f"could not save Secret block {name!r} for AccessKey {access_key_id}: "
                f"{type(exc).__name__}: {redact.scrub_text(str(exc))}; check that "
                "the Prefect API is reachable and no block of that name exists"
            ) from None
        return f"prefect Secret block {name}"


class FileSink:
    """Writes the secret to ``<directory>/<name>.json`` with mode 0600."""

    kind = "file"

    def __init__(
        self, directory: str | Path, name_template: str = DEFAULT_NAME_TEMPLATE
    ) -> None:
        secret_name(name_template, "user", "LTAI0000000000000000")
        self.directory = Path(directory)
        self.name_template = name_template

    def deliver(self, user_name: str, access_key_id: str, secret: str) -> str:
        redact.register_secret(secret)
        name = secret_name(self.name_template, user_name, access_key_id)
        path = self.directory / f"{name}.json"
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # O_EXCL: never overwrite an earlier key's secret; the mode is set at
            # creation, so the file is never readable by others, even briefly.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise SinkError(
                f"could not create secret file {path} for AccessKey {access_key_id}: "
                f"{exc.strerror}; choose a writable directory without a file of "
                "that name"
            ) from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(_payload(access_key_id, secret), handle)
            handle.write("\n")
        return str(path)


class DiscardSink:
    """Keeps nothing; for dry runs, where no real key is created."""

    kind = "none"

    def deliver(self, user_name: str, access_key_id: str, secret: str) -> str:
        redact.register_secret(secret)
        return "discarded (sink kind 'none')"


def make_sink(
    kind: str,
    *,
    name_template: str = DEFAULT_NAME_TEMPLATE,
    directory: str | Path | None = None,
) -> SecretSink:
    """Build a sink of kind "prefect-secret", "file" (needs ``directory``) or "none"."""
    if kind == "prefect-secret":
        return PrefectSecretSink(name_template)
    if kind == "file":
        if directory is None:
            raise ValueError(
                "the file secret sink needs a directory; pass directory=... "
                "(it is created with mode 0700)"
            )
        return FileSink(directory, name_template)
    if kind == "none":
        return DiscardSink()
    raise ValueError(
        f"unknown secret sink kind {kind!r}; use one of {', '.join(SINK_KINDS)}"
    )
