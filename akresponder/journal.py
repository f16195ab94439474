"""The incident journal: what a response has done so far, kept on disk for resuming.

One JSON file per compromised key, by default
``~/.akresponder/incidents/<access_key_id>.json``. The flow saves it after every
step, so a run that crashed or was stopped resumes where it left off. A step whose
action is recorded ``done`` is not repeated. The facts a later step needs (the id
of the new key, the name of the deny policy) are read back from it.

The file is replaced atomically (written beside itself, then renamed) and is
readable by its owner only. It contains ids, names and statuses, never a secret.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from akresponder.report import Action, ActionStatus

logger = logging.getLogger(__name__)

JOURNAL_VERSION = 1
DEFAULT_STATE_DIR = "~/.akresponder/incidents"
STATE_DIR_ENV = "AKRESPONDER_STATE_DIR"

# AccessKey ids are letters and digits; anything else must not reach a file name.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def default_state_dir() -> Path:
    """Return the journal folder: ``$AKRESPONDER_STATE_DIR`` or the default."""
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR).expanduser()


class JournalError(RuntimeError):
    """The journal file exists but cannot be used."""


class Journal:
    """The persisted progress of one incident for one AccessKey."""

    def __init__(self, path: Path, data: dict[str, Any], *, writable: bool = True):
        self.path = path
        self.data = data
        # A dry run reads the journal to plan but never writes it, so that a
        # later real run does not mistake planned steps for an earlier run.
        self.writable = writable

    @classmethod
    def open(
        cls,
        access_key_id: str,
        *,
        state_dir: str | os.PathLike[str] | None = None,
        incident_id: str | None = None,
        writable: bool = True,
    ) -> Journal:
        """Load the journal of ``access_key_id``, or start a new one in memory.

        A new journal is written to disk on the first ``save``. ``incident_id``
        replaces the stored one only when given; a resumed run keeps the id of the
        run it resumes.
        """
        if not _SAFE_NAME.match(access_key_id):
            raise ValueError(
                f"access key id {access_key_id!r} cannot name a journal file; give "
                "an id of letters and digits"
            )
        folder = Path(state_dir).expanduser() if state_dir else default_state_dir()
        path = folder / f"{access_key_id}.json"
        if path.exists():
            data = cls._read(path)
            if data.get("access_key_id") != access_key_id:
                raise JournalError(
                    f"journal {path} is for key {data.get('access_key_id')!r}, not "
                    f"{access_key_id}; move the file away or pick another --state-dir"
                )
            if incident_id and incident_id != data.get("incident_id"):
                logger.info(
                    "journal %s: incident id changes from %s to %s; completed steps "
                    "are kept",
                    path,
                    data.get("incident_id"),
                    incident_id,
                )
                data["incident_id"] = incident_id
            data["runs"] = int(data.get("runs", 0)) + 1
            return cls(path, data, writable=writable)
        now = _now()
        data = {
            "journal_version": JOURNAL_VERSION,
            "access_key_id": access_key_id,
            "incident_id": incident_id,
            "created_at": now,
            "updated_at": now,
            "runs": 1,
            "decision": None,
            "facts": {},
            "actions": {},
        }
        return cls(path, data, writable=writable)

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise JournalError(
                f"journal {path} is not valid JSON ({error.msg} at line "
                f"{error.lineno}); move it away to start the incident afresh"
            ) from None
        if not isinstance(data, dict) or data.get("journal_version") != JOURNAL_VERSION:
            raise JournalError(
                f"journal {path} has version {data.get('journal_version')!r}, "
                f"expected {JOURNAL_VERSION}; move it away to start afresh"
            )
        return data

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def resumed(self) -> bool:
        """True when this run continues an earlier run's journal."""
        return int(self.data.get("runs", 1)) > 1

    @property
    def incident_id(self) -> str | None:
        return self.data.get("incident_id")

    @incident_id.setter
    def incident_id(self, value: str) -> None:
        self.data["incident_id"] = value

    def action(self, action_id: str) -> Action | None:
        """Return the recorded action with this id, whatever its status."""
        stored = self.data["actions"].get(action_id)
        return Action.model_validate(stored) if stored else None

    def is_done(self, action_id: str) -> bool:
        action = self.action(action_id)
        return action is not None and action.status == ActionStatus.DONE

    def actions(self) -> list[Action]:
        """Return every recorded action in the order first recorded."""
        return [Action.model_validate(item) for item in self.data["actions"].values()]

    def record(self, action: Action, *, persist: bool = True) -> None:
        """Store ``action`` under its id (replacing an earlier record) and save."""
        self.data["actions"][action.id] = action.model_dump(mode="json")
        if persist:
            self.save()

    def fact(self, name: str, default: Any = None) -> Any:
        return self.data["facts"].get(name, default)

    def set_fact(self, name: str, value: Any, *, persist: bool = True) -> None:
        """Store a fact a later step or run needs (an id or a name, never a secret)."""
        self.data["facts"][name] = value
        if persist:
            self.save()

    def set_decision(self, decision: dict[str, Any], *, persist: bool = True) -> None:
        self.data["decision"] = decision
        if persist:
            self.save()

    def save(self) -> None:
        """Write the journal atomically, readable by its owner only."""
        if not self.writable:
            return
        self.data["updated_at"] = _now()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = json.dumps(self.data, indent=2, sort_keys=False)
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.write("\n")
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp_name, 0o600)
            os.replace(temp_name, self.path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
