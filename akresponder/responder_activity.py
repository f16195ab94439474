"""Identify the responder's own recorded calls among a key's events.

A response records each change it makes (its ``api``, request ``params`` and the
time ``at`` the step reached its status) in the incident journal
``<state dir>/<key>.json``, and in the reports and undo reports written there. When
the responder later investigates a key that made those calls, usually its own key,
the calls look like an attacker's: a policy attached, a console login changed, a
key created. ``ResponderActivity`` matches an event to a recorded call when all of
these are true:

* the event's AccessKey is a responder key: the key the investigation signs with,
  or the ``responder.access_key_id`` of a report in the state folder;
* its eventName is the recorded API's action, such as ``CreatePolicy``;
* its requestParameters carry the same ``UserName``, ``PolicyName`` and
  ``UserAccessKeyId`` as the recorded params (at least one of them must be
  recorded);
* its time is from ``MATCH_BEFORE`` before to ``MATCH_AFTER`` after the recorded
  time, because the journal records the time after the call returned, retries
  included.

Matched events are left out of the findings and the lineage walk and counted in
the report's coverage. The evidence bundle keeps them. Reads are not journaled, so
the responder's own triage reads still count towards detectors such as
``enumeration_burst``.

NOTE: a responder that assumes a role signs with a new STS key each session, and
neither the journal nor the report records that key, so its calls never match.
Undo marks a reverted step as skipped in the journal, so the original call then
matches only through the report, when the report is in the state folder.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from akresponder.analysis.events import parse_json_objects
from akresponder.sweep import parse_time

logger = logging.getLogger(__name__)

# The journal records ``at`` when a step finished, which is after the call's event
# time by the call's own latency and retries (at most about a minute with the
# default retry settings). A minute after allows for clock skew between this host
# and the cloud.
MATCH_BEFORE = timedelta(minutes=5)
MATCH_AFTER = timedelta(minutes=1)
# Request parameters that name the resource a recorded call acted on.
IDENTIFYING_PARAMETERS: tuple[str, ...] = ("UserName", "PolicyName", "UserAccessKeyId")
# Action statuses whose call reached the cloud: done, or failed with an error event.
_CALLED_STATUSES = frozenset({"done", "failed"})


@dataclass(frozen=True)
class RecordedCall:
    """One call the responder recorded: the event it should have left."""

    action: str
    identifiers: tuple[tuple[str, str], ...]
    at: datetime
    origin: str


@dataclass
class ResponderActivity:
    """The responder's recorded calls and keys, and the events matched to them."""

    calls: list[RecordedCall] = field(default_factory=list)
    access_key_ids: frozenset[str] = frozenset()
    # Matched events, mapped from event id to eventName.
    matched: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        state_dir: str | Path | None,
        access_key_ids: Iterable[str | None] = (),
    ) -> ResponderActivity:
        """Read the recorded calls of every journal and report in ``state_dir``.

        Only the folder's own ``*.json`` files are read: journals, reports and
        undo reports. A file that is not a JSON object with actions adds no call.
        None reads nothing.
        """
        keys = {key for key in access_key_ids if key}
        calls: dict[tuple[Any, ...], RecordedCall] = {}
        folder = Path(state_dir).expanduser() if state_dir else None
        if folder is None or not folder.is_dir():
            return cls(access_key_ids=frozenset(keys))
        for path in sorted(folder.glob("*.json")):
            document = _read(path)
            if document is None:
                continue
            responder = document.get("responder")
            if isinstance(responder, dict) and responder.get("access_key_id"):
                keys.add(str(responder["access_key_id"]))
            for call in _recorded_calls(document, path.name):
                calls[(call.action, call.identifiers, call.at)] = call
        logger.info(
            "responder activity: %d recorded calls and %d responder keys in %s",
            len(calls),
            len(keys),
            folder,
        )
        return cls(calls=list(calls.values()), access_key_ids=frozenset(keys))

    def matches(
        self,
        action: str,
        access_key_id: str,
        moment: datetime | None,
        parameters: dict[str, Any],
    ) -> bool:
        """Return True when an event is one of the responder's recorded calls."""
        if moment is None or access_key_id not in self.access_key_ids:
            return False
        for call in self.calls:
            if call.action != action:
                continue
            if not call.at - MATCH_BEFORE <= moment <= call.at + MATCH_AFTER:
                continue
            if all(
                str(parameters.get(name)) == value for name, value in call.identifiers
            ):
                return True
        return False

    def drop(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return ``frame`` (normalised events) without the responder's calls."""
        if frame.empty or not self.calls or not self.access_key_ids:
            return frame
        actions = {call.action for call in self.calls}
        candidates = frame.loc[
            frame["action"].isin(actions)
            & frame["access_key_id"].isin(self.access_key_ids)
        ]
        if candidates.empty:
            return frame
        parameters = parse_json_objects(candidates["request_parameters"])
        found = []
        for position, index in enumerate(candidates.index):
            row = candidates.loc[index]
            moment = row["time"]
            when = None if pd.isna(moment) else moment.to_pydatetime()
            if self.matches(
                str(row["action"]),
                str(row["access_key_id"]),
                when,
                parameters[position],
            ):
                self.matched[str(row["event_id"])] = str(row["action"])
                found.append(index)
        return frame.drop(index=found) if found else frame

    def keep_record(self, record: dict[str, Any]) -> bool:
        """Return False for a raw event record that is one of the responder's calls."""
        identity = record.get("userIdentity")
        identity = identity if isinstance(identity, dict) else {}
        parameters = record.get("requestParameters")
        if isinstance(parameters, str):
            parameters = (parse_json_objects([parameters]) or [{}])[0]
        if not isinstance(parameters, dict):
            parameters = {}
        matched = self.matches(
            str(record.get("eventName") or ""),
            str(identity.get("accessKeyId") or ""),
            parse_time(record.get("eventTime")),
            parameters,
        )
        if matched:
            self.matched[str(record.get("eventId"))] = str(record.get("eventName"))
        return not matched

    def summary(self) -> str:
        """Describe the matched events in one sentence for the report."""
        counts = Counter(self.matched.values())
        listed = ", ".join(f"{name} x{count}" for name, count in counts.most_common())
        return (
            f"{len(self.matched)} event(s) were the responder's own recorded calls "
            f"({listed}), made with {', '.join(sorted(self.access_key_ids))}. They "
            "are left out of the findings and the credential lineage and kept in the "
            "evidence bundle."
        )


def _read(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        logger.debug("responder activity: skipped %s: %s", path, error)
        return None
    return document if isinstance(document, dict) else None


def _recorded_calls(document: dict[str, Any], origin: str) -> list[RecordedCall]:
    """Return the calls of a journal (actions by id) or a report (actions list)."""
    actions = document.get("actions")
    if isinstance(actions, dict):
        entries = list(actions.values())
    elif isinstance(actions, list):
        entries = actions
    else:
        return []
    calls = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("status") not in _CALLED_STATUSES:
            continue
        api = entry.get("api")
        moment = parse_time(entry.get("at"))
        params = entry.get("params")
        if not isinstance(api, str) or ":" not in api or moment is None:
            continue
        if not isinstance(params, dict):
            continue
        identifiers = tuple(
            (name, str(params[name]))
            for name in IDENTIFYING_PARAMETERS
            if params.get(name) not in (None, "")
        )
        if not identifiers:
            continue
        calls.append(
            RecordedCall(
                action=api.split(":", 1)[1],
                identifiers=identifiers,
                at=moment,
                origin=origin,
            )
        )
    return calls
