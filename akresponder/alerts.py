"""Find the AccessKey IDs in an alert payload, whatever sent it.

``parse_alert(payload, source_hint)`` takes the raw body of an alert (bytes, text,
or decoded JSON) and returns one ``AlertedKey`` per AccessKey ID it names. The
accepted shapes, with the field names their senders document:

* ``sas``: a Security Center (SAS) AccessKey leak record, as returned by
  DescribeAccesskeyLeakList (``AccesskeyId``, ``Url``, ``Asset``, ``Type``,
  ``Status``, ``GmtModified``, ``Id``), a list of them, or the whole response
  with ``AccessKeyLeakList``.
* ``sls``: a Simple Log Service alert notification from the new alert templates
  (``alert_name``, ``alert_id``, ``project``, ``fire_time``, and ``fire_results`` or
  ``results[].fire_result`` / ``results[].raw_results``). Its rows carry the key in
  a column such as ``event.userIdentity.accessKeyId``, or in an ``event`` field
  that contains the ActionTrail record as JSON text.
* ``actiontrail``: an ActionTrail event, bare, wrapped in a CloudEvents envelope
  by EventBridge (``specversion``, ``source`` ``acs.actiontrail``, ``type``
  ``actiontrail:ActionTrail:ApiCall``, ``data``), or under ``content`` as a
  CloudMonitor event callback sends it.
* ``github``: a GitHub ``secret_scanning_alert`` webhook or REST alert object
  with ``secret_type`` ``alibaba_cloud_access_key_id`` and the ``secret`` value,
  or a secret scanning partner message (a list of ``token``, ``type``, ``url``).
* ``plain``: ``{"access_key_id": "LTAI..."}``, ``{"access_key_ids": [...]}``, a
  list of either, a list of IDs, or the IDs as text.

Anything else raises ``AlertFormatError``, whose message names the problem and
lists these shapes. An entry that names no valid AccessKey ID (an invalid ID in
``access_key_ids``, a leak record without one) is rejected while the alert's other
keys are kept: ``parse_alert_with_rejected`` returns both.

A payload may carry an AccessKeySecret: ``redact_payload`` masks values under
secret-named fields (and registers them with ``akresponder.redact`` so that log
lines mask them too), and no message here quotes a payload value other than an
AccessKey ID.

The functions are pure apart from that registration: no network, no files.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from akresponder import redact
from akresponder.config import ConfigurationError, validate_access_key_id

SourceKind = Literal["sas", "sls", "actiontrail", "github", "plain"]
SOURCE_KINDS: tuple[str, ...] = ("sas", "sls", "actiontrail", "github", "plain")

# Other names a sender or an operator may use in /alerts/<source> or --source.
SOURCE_ALIASES: dict[str, str] = {
    "sas": "sas",
    "aegis": "sas",
    "security-center": "sas",
    "securitycenter": "sas",
    "sls": "sls",
    "log": "sls",
    "logservice": "sls",
    "actiontrail": "actiontrail",
    "eventbridge": "actiontrail",
    "cloudmonitor": "actiontrail",
    "cms": "actiontrail",
    "github": "github",
    "plain": "plain",
    "manual": "plain",
}

ACCEPTED_SHAPES = (
    "Accepted alert shapes: "
    "(1) a Security Center leak record with AccesskeyId (DescribeAccesskeyLeakList); "
    "(2) an SLS alert notification with alert_name and fire_results or results "
    "whose rows have an AccessKey ID column such as event.userIdentity.accessKeyId; "
    "(3) an ActionTrail event with userIdentity.accessKeyId, bare, in an "
    "EventBridge CloudEvents envelope (data) or under a CloudMonitor content field; "
    "(4) a GitHub secret scanning alert with secret_type "
    "alibaba_cloud_access_key_id and its secret, or a partner message "
    '[{"token", "type", "url"}]; '
    '(5) {"access_key_id": "LTAI..."}, {"access_key_ids": [...]}, or a list of IDs.'
)

GITHUB_KEY_ID_TYPE = "alibaba_cloud_access_key_id"
GITHUB_SECRET_TYPE = "alibaba_cloud_access_key_secret"
# GitHub actions after which the secret is no longer exposed: nothing to start.
GITHUB_IGNORED_ACTIONS = frozenset({"resolved", "assigned", "unassigned"})

MAX_SUMMARY = 300
MAX_ALERT_ID = 128
_SAFE_ID_CHARACTER = re.compile(r"[^A-Za-z0-9._:-]+")
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_.:@/-]{1,64}$")
# Dict keys whose values are secrets, compared lower-case without punctuation:
# names ending in "secret" (AccessKeySecret, client_secret, GitHub's "secret") and
# the names below. A value there that is itself an AccessKey ID (the "secret" of a
# GitHub alibaba_cloud_access_key_id alert) is kept.
_SECRET_SUFFIXES = ("secret", "password", "passwd", "securitytoken", "sessiontoken")
_SECRET_NAMES = frozenset(
    {"token", "authorization", "signature", "credential", "credentials", "privatekey"}
)
# Column names that carry an AccessKey ID in SLS query results and plain rows.
_KEY_COLUMN_SHORT = frozenset({"ak", "akid", "ak_id", "accesskey"})


class AlertFormatError(ValueError):
    """The payload is not an alert parse_alert accepts; the message gives the reason."""


class AlertIgnored(Exception):
    """The payload is a valid alert that needs no response, such as a resolved one."""


class InvalidAlertValue(AlertFormatError):
    """One entry of the alert is not a valid AccessKey ID, or has none.

    ``location`` is where the entry is in the payload (``access_key_ids[1]``) and
    ``problem`` the sentence that names it and the fix, without the accepted
    shapes. Neither quotes a value that looks like a secret.
    """

    def __init__(self, location: str, problem: str) -> None:
        super().__init__(f"{problem}. {ACCEPTED_SHAPES}")
        self.location = location
        self.problem = problem


class AlertedKey(BaseModel):
    """One AccessKey ID named by an alert."""

    access_key_id: str = Field(description="The AccessKey ID the alert names.")
    source_kind: SourceKind = Field(description="Which sender's shape it came in.")
    alert_id: str = Field(
        description="Stable id of the alert: the sender's own id, else "
        "sha256-<hex> of the canonical payload with secrets masked."
    )
    observed_at: datetime | None = Field(
        default=None, description="When the sender observed the key, in UTC."
    )
    summary: str = Field(default="", description="One line for people; no secret.")


class RejectedValue(BaseModel):
    """An entry of the alert that should name an AccessKey ID but does not."""

    location: str = Field(
        description="Place of the entry in the payload, such as access_key_ids[1]."
    )
    problem: str = Field(
        description="What is wrong and the fix. It quotes the value unless the "
        "value looks like a secret."
    )
    source_kind: SourceKind = Field(
        description="Source kind whose shape the entry came in."
    )


class ParsedAlert(BaseModel):
    """The AccessKey IDs of an alert and the entries that were rejected."""

    keys: list[AlertedKey]
    rejected: list[RejectedValue] = Field(default_factory=list)


# Decoding and masking.


def decode_payload(payload: bytes | str | dict | list) -> Any:
    """Turn raw bytes or text into JSON data; plain text stays a string."""
    if isinstance(payload, bytes | bytearray):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as error:
            raise AlertFormatError(
                f"alert payload is not UTF-8 text (invalid byte at offset "
                f"{error.start}); send JSON encoded as UTF-8. {ACCEPTED_SHAPES}"
            ) from None
    if isinstance(payload, str):
        text = payload.strip().lstrip("\ufeff")
        if text.startswith("payload="):
            # GitHub webhooks configured with content type form send the JSON
            # URL-encoded in one "payload" field.
            fields = urllib.parse.parse_qs(text, keep_blank_values=True)
            text = (fields.get("payload") or [""])[0].strip()
        if text[:1] in ("{", "["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as error:
                raise AlertFormatError(
                    f"alert payload is not valid JSON: {error.msg} at line "
                    f"{error.lineno} column {error.colno}. {ACCEPTED_SHAPES}"
                ) from None
        return text
    if isinstance(payload, dict | list):
        return payload
    raise AlertFormatError(
        f"alert payload must be bytes, text, an object or a list, got "
        f"{type(payload).__name__}. {ACCEPTED_SHAPES}"
    )


def _is_key_id(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        validate_access_key_id(value)
    except ConfigurationError:
        return False
    return True


def _register_secret(value: object) -> None:
    """Mask ``value`` in later logs, unless it is an AccessKey ID.

    Registration is process-wide, so registering an ID would mask that key in
    every later log line and message, which must name it.
    """
    if isinstance(value, str) and not _is_key_id(value):
        redact.register_secret(value)


def _is_secret_field(name: object) -> bool:
    if not isinstance(name, str):
        return False
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return flat.endswith(_SECRET_SUFFIXES) or flat in _SECRET_NAMES


def redact_payload(data: Any) -> Any:
    """Return a copy of decoded ``data`` with secret values masked as ``***``.

    Values under secret-named fields (``AccessKeySecret``, ``password``,
    ``token``...) are registered with ``akresponder.redact`` and masked, unless
    the value is an AccessKey ID. Text values pass through ``redact.scrub_text``.
    Masking is idempotent, so the alert id of a masked payload is the same as of
    the original.
    """
    if isinstance(data, dict):
        cleaned: dict[Any, Any] = {}
        for key, value in data.items():
            secret_field = _is_secret_field(key)
            if secret_field and isinstance(value, str) and value:
                if _is_key_id(value) or value == redact.MASK:
                    cleaned[key] = value
                else:
                    _register_secret(value)
                    cleaned[key] = redact.MASK
            elif secret_field and isinstance(value, int | float) and value:
                cleaned[key] = redact.MASK
            else:
                cleaned[key] = redact_payload(value)
        return cleaned
    if isinstance(data, list):
        return [redact_payload(item) for item in data]
    if isinstance(data, str):
        return redact.scrub_text(data)
    return data


def mask_payload(payload: bytes | str | dict | list) -> Any:
    """Decode ``payload`` and mask its secrets, for use as a flow-run parameter.

    Prefect stores a flow run's parameters in its database, where anyone with the
    Prefect API can read them, before the flow's code runs. So every caller that
    starts ``alert_intake`` passes the payload through this function first. Raises
    ``AlertFormatError`` when the payload cannot be decoded.
    """
    return redact_payload(decode_payload(payload))


def canonical_hash(data: Any) -> str:
    """Return ``sha256-<32 hex>`` of ``data`` as sorted, compact JSON."""
    try:
        text = json.dumps(
            data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
    except (TypeError, ValueError):
        # Keys that JSON cannot sort or hold (a Python caller's mixed or tuple
        # keys); decoded JSON never has them.
        text = repr(data)
    return "sha256-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def alert_id_of(keys: Iterable[AlertedKey]) -> str:
    """Return the id of a whole alert from the alert ids of its keys.

    That is the one id when every key has it, else ``sha256-<hex>`` of the sorted
    ids. The receiver and the alert-intake flow both name an alert this way, so the
    same payload has the same id on either path.
    """
    ids = sorted({key.alert_id for key in keys})
    if not ids:
        raise ValueError("an alert needs at least one key to have an id")
    return ids[0] if len(ids) == 1 else canonical_hash(ids)


def _alert_id(prefix: str, *parts: object) -> str | None:
    """Build ``prefix-part-part`` from the sender's own ids, or None if one is empty."""
    if any(part in (None, "") for part in parts):
        return None
    text = "-".join([prefix, *(str(part) for part in parts)])
    text = _SAFE_ID_CHARACTER.sub("-", text).strip("-")
    if len(text) > MAX_ALERT_ID:
        return prefix + "-" + hashlib.sha256(text.encode()).hexdigest()[:32]
    return text


# Helpers shared by the shapes.


def _summary(text: str) -> str:
    line = redact.scrub_text(" ".join(text.split()))
    return line if len(line) <= MAX_SUMMARY else line[: MAX_SUMMARY - 3] + "..."


def _field_names(data: dict) -> str:
    names = [str(key) for key in list(data)[:12] if isinstance(key, str)]
    shown = [name for name in names if _FIELD_NAME.match(name)]
    return ", ".join(shown) if shown else "none that can be shown"


def _check_key(value: object, where: str) -> str:
    """Validate an AccessKey ID found at ``where``; the error never quotes a secret."""
    try:
        return validate_access_key_id(value)
    except ConfigurationError as error:
        raise InvalidAlertValue(
            where, f"{where}: {redact.scrub_text(str(error))}"
        ) from None


Rejections = list[RejectedValue] | None


def _reject(
    error: InvalidAlertValue, rejected: Rejections, source_kind: SourceKind
) -> None:
    """Record an invalid entry, or raise it when the caller collects none."""
    if rejected is None:
        raise error
    rejected.append(
        RejectedValue(
            location=error.location, problem=error.problem, source_kind=source_kind
        )
    )


def _time_from(value: object) -> datetime | None:
    """Parse epoch seconds or milliseconds, ISO 8601 or 'YYYY-MM-DD HH:MM:SS' (UTC)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    return None


def _json_object(value: object) -> Any:
    """Decode JSON text that SLS templates produce for nested values."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _is_key_column(name: object) -> bool:
    if not isinstance(name, str):
        return False
    flat = re.sub(r"[^a-z0-9]", "", name.lower())
    return flat.endswith("accesskeyid") or name.lower() in _KEY_COLUMN_SHORT


def _dedupe(keys: Iterable[AlertedKey]) -> list[AlertedKey]:
    seen: dict[str, AlertedKey] = {}
    for key in keys:
        seen.setdefault(key.access_key_id, key)
    return list(seen.values())


# SAS: Security Center AccessKey leak records.


def _sas_key_field(record: dict) -> object:
    for name in ("AccesskeyId", "AccessKeyId", "AccessKeyID", "accessKeyId"):
        if name in record:
            return record[name]
    return None


def _looks_like_sas(data: object) -> bool:
    if not isinstance(data, dict):
        return False
    if isinstance(data.get("AccessKeyLeakList"), list):
        return True
    has_key = _sas_key_field(data) is not None
    return has_key and any(name in data for name in ("Url", "Asset", "AliUserName"))


def parse_sas(
    data: object, digest: str, rejected: Rejections = None
) -> list[AlertedKey]:
    """Parse Security Center leak records (one, a list, or the API response).

    A record without a valid AccessKey ID goes to ``rejected`` when it is a list,
    and raises ``InvalidAlertValue`` when it is None.
    """
    if isinstance(data, dict) and isinstance(data.get("AccessKeyLeakList"), list):
        records: list[Any] = data["AccessKeyLeakList"]
    elif isinstance(data, list):
        records = data
    else:
        records = [data]
    keys = []
    for index, record in enumerate(records):
        where = f"Security Center leak record {index}"
        try:
            key_id = _sas_record_key(record, where)
        except InvalidAlertValue as error:
            _reject(error, rejected, "sas")
            continue
        status = record.get("Status") or record.get("DealType") or "unknown"
        text = f"Security Center found AccessKey {key_id} leaked"
        if record.get("Url"):
            text += f" at {record['Url']}"
        if record.get("Asset"):
            text += f" (asset {record['Asset']})"
        text += f", status {status}."
        keys.append(
            AlertedKey(
                access_key_id=key_id,
                source_kind="sas",
                alert_id=_alert_id("sas-leak", record.get("Id")) or digest,
                observed_at=_time_from(record.get("GmtModified"))
                or _time_from(record.get("DealTime")),
                summary=_summary(text),
            )
        )
    if not records:
        raise AlertFormatError(
            f"Security Center AccessKeyLeakList is empty. {ACCEPTED_SHAPES}"
        )
    return _dedupe(keys)


def _sas_record_key(record: object, where: str) -> str:
    if not isinstance(record, dict):
        raise InvalidAlertValue(where, f"{where} is not an object")
    value = _sas_key_field(record)
    if value is None:
        raise InvalidAlertValue(
            where,
            f"{where} has no AccesskeyId field (fields: {_field_names(record)})",
        )
    return _check_key(value, f"{where} AccesskeyId")


# SLS alert notifications.


def _looks_like_sls(data: object) -> bool:
    if not isinstance(data, dict):
        return False
    named = any(
        name in data for name in ("alert_name", "alert_id", "alert_instance_id")
    )
    rows = any(name in data for name in ("fire_results", "results"))
    return named and rows


def _rows_of(data: dict) -> Iterator[tuple[str, Any]]:
    fire_results = _json_object(data.get("fire_results"))
    if isinstance(fire_results, list):
        for index, row in enumerate(fire_results):
            yield f"fire_results[{index}]", row
    results = _json_object(data.get("results"))
    if isinstance(results, list):
        for index, result in enumerate(results):
            result = _json_object(result)
            if not isinstance(result, dict):
                continue
            fire_result = _json_object(result.get("fire_result"))
            if isinstance(fire_result, dict):
                yield f"results[{index}].fire_result", fire_result
            raw = _json_object(result.get("raw_results"))
            if isinstance(raw, list):
                for row_index, row in enumerate(raw):
                    yield f"results[{index}].raw_results[{row_index}]", row


def _keys_in_row(
    row: object, where: str, rejected: Rejections
) -> tuple[list[tuple[str, str]], int]:
    """Return (key id, where) pairs from one SLS result row, and the invalid count."""
    row = _json_object(row)
    if not isinstance(row, dict):
        return [], 0
    candidates = []
    for name, value in row.items():
        if _is_key_column(name) and isinstance(value, str) and value.strip():
            candidates.append((value.strip(), f"{where}.{name}"))
    event = _json_object(row.get("event"))
    if isinstance(event, dict):
        identity = event.get("userIdentity")
        if isinstance(identity, dict) and identity.get("accessKeyId"):
            value = identity["accessKeyId"]
            candidates.append((value, f"{where}.event.userIdentity.accessKeyId"))
    found = []
    invalid = 0
    for value, location in candidates:
        try:
            found.append((_check_key(value, location), where))
        except InvalidAlertValue as error:
            _reject(error, rejected, "sls")
            invalid += 1
    return found, invalid


def parse_sls(
    data: object, digest: str, rejected: Rejections = None
) -> list[AlertedKey]:
    """Parse an SLS alert notification built on an ActionTrail logstore.

    An invalid AccessKey ID in a row goes to ``rejected`` when it is a list.
    """
    if not isinstance(data, dict):
        raise AlertFormatError(f"SLS alert must be an object. {ACCEPTED_SHAPES}")
    found: list[tuple[str, str]] = []
    row_count = 0
    invalid = 0
    for where, row in _rows_of(data):
        row_count += 1
        row_keys, row_invalid = _keys_in_row(row, where, rejected)
        found.extend(row_keys)
        invalid += row_invalid
    name = data.get("alert_name") or data.get("alert_id") or "SLS alert"
    if not found and invalid:
        return []
    if not found:
        raise AlertFormatError(
            f"SLS alert {name!s:.64} has {row_count} result rows and none has an "
            "AccessKey ID column (a column named like accessKeyId or "
            "event.userIdentity.accessKeyId, or an event field with the "
            "ActionTrail record); select that column in the alert query. "
            + ACCEPTED_SHAPES
        )
    alert_id = (
        _alert_id(
            "sls", data.get("project"), data.get("alert_id"), data.get("fire_time")
        )
        or _alert_id("sls", data.get("alert_instance_id"))
        or digest
    )
    observed = _time_from(data.get("fire_time")) or _time_from(data.get("alert_time"))
    counts: dict[str, int] = {}
    for key_id, _ in found:
        counts[key_id] = counts.get(key_id, 0) + 1
    keys = []
    for key_id, count in counts.items():
        text = f"SLS alert {name} ({data.get('project') or 'unknown project'}) fired"
        text += f" for AccessKey {key_id} in {count} result row(s)"
        if data.get("severity") not in (None, ""):
            text += f", severity {data['severity']}"
        keys.append(
            AlertedKey(
                access_key_id=key_id,
                source_kind="sls",
                alert_id=alert_id,
                observed_at=observed,
                summary=_summary(text + "."),
            )
        )
    return keys


# ActionTrail events: EventBridge CloudEvents, CloudMonitor, bare.


def _looks_like_cloudevent(data: object) -> bool:
    return isinstance(data, dict) and (
        "specversion" in data
        or ("source" in data and "type" in data and "data" in data)
    )


def _looks_like_event(data: object) -> bool:
    if not isinstance(data, dict):
        return False
    if "userIdentity" in data and ("eventName" in data or "eventId" in data):
        return True
    content = _json_object(data.get("content"))
    if isinstance(content, dict) and "userIdentity" in content:
        return True
    event = _json_object(data.get("event"))
    return isinstance(event, dict) and "userIdentity" in event


def _event_key(
    event: dict, where: str, digest: str, envelope: dict | None
) -> AlertedKey:
    identity = event.get("userIdentity")
    if not isinstance(identity, dict) or not identity.get("accessKeyId"):
        kind = event.get("eventType") or "event"
        raise AlertFormatError(
            f"{where} ({kind} {event.get('eventName') or ''}) has no "
            "userIdentity.accessKeyId: console sign-ins and service events are not "
            f"made with an AccessKey. {ACCEPTED_SHAPES}"
        )
    key_id = _check_key(identity["accessKeyId"], f"{where}.userIdentity.accessKeyId")
    if envelope is not None:
        alert_id = _alert_id("eventbridge", envelope.get("source"), envelope.get("id"))
    else:
        alert_id = None
    alert_id = alert_id or _alert_id("actiontrail", event.get("eventId")) or digest
    who = identity.get("userName") or identity.get("type") or "unknown identity"
    text = (
        f"ActionTrail {event.get('eventName') or 'event'} by {who} with AccessKey "
        f"{key_id} from {event.get('sourceIpAddress') or 'unknown address'}"
    )
    if event.get("errorCode"):
        text += f", error {event['errorCode']}"
    observed = _time_from(event.get("eventTime"))
    if observed is None and envelope is not None:
        observed = _time_from(envelope.get("time"))
    return AlertedKey(
        access_key_id=key_id,
        source_kind="actiontrail",
        alert_id=alert_id,
        observed_at=observed,
        summary=_summary(text + "."),
    )


def parse_actiontrail(
    data: object, digest: str, rejected: Rejections = None
) -> list[AlertedKey]:
    """Parse an ActionTrail event: CloudEvents envelope, CloudMonitor or bare.

    An event names one key, so an invalid one always raises.
    """
    if not isinstance(data, dict):
        raise AlertFormatError(
            f"ActionTrail event must be an object. {ACCEPTED_SHAPES}"
        )
    if _looks_like_cloudevent(data):
        source = str(data.get("source") or "")
        kind = str(data.get("type") or "")
        if "actiontrail" not in source.lower() and not kind.startswith("actiontrail:"):
            raise AlertFormatError(
                f"CloudEvents event from source {source[:64]!r} type {kind[:64]!r} "
                "is not an ActionTrail event; route only source acs.actiontrail to "
                f"this receiver. {ACCEPTED_SHAPES}"
            )
        event = _json_object(data.get("data"))
        if not isinstance(event, dict):
            raise AlertFormatError(
                f"CloudEvents event has no data object. {ACCEPTED_SHAPES}"
            )
        return [_event_key(event, "data", digest, data)]
    # NOTE: CloudMonitor event callbacks are read from a "content" field holding
    # the event; no documented sample of that body was available to check it.
    for field in ("content", "event"):
        inner = _json_object(data.get(field))
        if isinstance(inner, dict) and "userIdentity" in inner:
            return [_event_key(inner, field, digest, None)]
    return [_event_key(data, "event", digest, None)]


# GitHub secret scanning.


def _looks_like_github(data: object) -> bool:
    if isinstance(data, dict):
        alert = data.get("alert")
        if isinstance(alert, dict) and "secret_type" in alert:
            return True
        return "secret_type" in data
    if isinstance(data, list) and data:
        return all(
            isinstance(item, dict) and "token" in item and "type" in item
            for item in data
        )
    return False


def _github_partner(items: list, digest: str, rejected: Rejections) -> list[AlertedKey]:
    keys = []
    invalid = 0
    for index, item in enumerate(items):
        kind = str(item.get("type") or "")
        if kind != GITHUB_KEY_ID_TYPE:
            # The token of any other type may be a secret: mask it in later logs.
            _register_secret(item.get("token"))
            continue
        try:
            key_id = _check_key(
                item.get("token"), f"partner message item {index} token"
            )
        except InvalidAlertValue as error:
            _reject(error, rejected, "github")
            invalid += 1
            continue
        where = item.get("url") or "an unknown location"
        keys.append(
            AlertedKey(
                access_key_id=key_id,
                source_kind="github",
                alert_id=digest,
                summary=_summary(
                    f"GitHub secret scanning found AccessKey {key_id} in "
                    f"{item.get('source') or 'content'} at {where}."
                ),
            )
        )
    if not keys and not invalid:
        raise AlertIgnored(
            f"GitHub partner message has no item of type {GITHUB_KEY_ID_TYPE}; "
            "items of other types are not AccessKey IDs."
        )
    return _dedupe(keys)


def parse_github(
    data: object, digest: str, rejected: Rejections = None
) -> list[AlertedKey]:
    """Parse a GitHub secret scanning webhook, REST alert or partner message.

    An invalid token in a partner message goes to ``rejected`` when it is a list.
    """
    if isinstance(data, list):
        return _github_partner(data, digest, rejected)
    if not isinstance(data, dict):
        raise AlertFormatError(f"GitHub alert must be an object. {ACCEPTED_SHAPES}")
    alert = data.get("alert") if isinstance(data.get("alert"), dict) else data
    action = data.get("action")
    number = alert.get("number")
    repository = (
        data.get("repository") if isinstance(data.get("repository"), dict) else {}
    )
    repo_name = repository.get("full_name") or _repo_from_url(alert.get("html_url"))
    label = f"GitHub secret scanning alert {repo_name or '?'}#{number or '?'}"
    if isinstance(action, str) and action in GITHUB_IGNORED_ACTIONS:
        raise AlertIgnored(f"{label} was {action}; nothing to respond to.")
    secret_type = alert.get("secret_type")
    if secret_type == GITHUB_SECRET_TYPE:
        _register_secret(alert.get("secret"))
        raise AlertIgnored(
            f"{label} is for an AccessKeySecret; the alert for its AccessKey ID "
            f"({GITHUB_KEY_ID_TYPE}) starts the response."
        )
    if secret_type != GITHUB_KEY_ID_TYPE:
        raise AlertIgnored(
            f"{label} has secret_type {str(secret_type)[:64]!r}; only "
            f"{GITHUB_KEY_ID_TYPE} alerts start a response."
        )
    value = alert.get("secret")
    if not value:
        raise AlertFormatError(
            f"{label} has no secret value: GitHub's secret_scanning_alert webhook "
            "omits it. Forward the REST alert instead (GET /repos/OWNER/REPO/"
            "secret-scanning/alerts/NUMBER returns it as secret), or post "
            '{"access_key_id": "..."}. ' + ACCEPTED_SHAPES
        )
    key_id = _check_key(value, f"{label} secret")
    state = alert.get("state") or action or "open"
    text = f"{label} found AccessKey {key_id} ({state}"
    if alert.get("validity"):
        text += f", validity {alert['validity']}"
    if alert.get("publicly_leaked"):
        text += ", publicly leaked"
    text += ")"
    if alert.get("html_url"):
        text += f": {alert['html_url']}"
    return [
        AlertedKey(
            access_key_id=key_id,
            source_kind="github",
            alert_id=_alert_id("github", repo_name, number, action or "alert")
            or digest,
            observed_at=_time_from(alert.get("created_at")),
            summary=_summary(text + "."),
        )
    ]


def _repo_from_url(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    match = re.match(r"https?://[^/]+/([^/]+/[^/]+)/security/", url)
    return match.group(1) if match else None


# Plain payloads.


def _looks_like_plain(data: object) -> bool:
    if isinstance(data, str):
        return True
    if isinstance(data, dict):
        return "access_key_id" in data or "access_key_ids" in data
    if isinstance(data, list) and data:
        return all(isinstance(item, str) for item in data) or all(
            isinstance(item, dict) and "access_key_id" in item for item in data
        )
    return False


def parse_plain(
    data: object, digest: str, rejected: Rejections = None
) -> list[AlertedKey]:
    """Parse ``{"access_key_id": ...}``, ``{"access_key_ids": [...]}``, lists, text.

    An invalid ID goes to ``rejected`` when it is a list.
    """
    entries: list[tuple[object, str, dict]] = []
    if isinstance(data, str):
        words = [word for word in re.split(r"[\s,;]+", data) if word]
        if not words:
            raise AlertFormatError(f"alert payload is empty. {ACCEPTED_SHAPES}")
        entries = [(word, f"word {index + 1}", {}) for index, word in enumerate(words)]
    elif isinstance(data, dict):
        if "access_key_ids" in data:
            values = data["access_key_ids"]
            if not isinstance(values, list) or not values:
                raise AlertFormatError(
                    f"access_key_ids must be a non-empty list of IDs. {ACCEPTED_SHAPES}"
                )
            entries = [
                (value, f"access_key_ids[{index}]", data)
                for index, value in enumerate(values)
            ]
        else:
            entries = [(data.get("access_key_id"), "access_key_id", data)]
    elif isinstance(data, list):
        for index, item in enumerate(data):
            if isinstance(item, dict):
                entries.append(
                    (item.get("access_key_id"), f"[{index}].access_key_id", item)
                )
            else:
                entries.append((item, f"[{index}]", {}))
    keys = []
    for value, where, context in entries:
        try:
            key_id = _check_key(value, where)
        except InvalidAlertValue as error:
            _reject(error, rejected, "plain")
            continue
        given_id = context.get("alert_id")
        alert_id = (
            _alert_id("alert", given_id) if isinstance(given_id, str | int) else None
        )
        summary = context.get("summary")
        keys.append(
            AlertedKey(
                access_key_id=key_id,
                source_kind="plain",
                alert_id=alert_id or digest,
                observed_at=_time_from(context.get("observed_at")),
                summary=_summary(
                    summary
                    if isinstance(summary, str) and summary
                    else f"AccessKey {key_id} reported as compromised."
                ),
            )
        )
    return _dedupe(keys)


# Dispatch.

Parser = Callable[[Any, str, Rejections], list[AlertedKey]]
_SHAPES: tuple[tuple[str, Callable[[Any], bool], Parser], ...] = (
    ("github", _looks_like_github, parse_github),
    ("sas", _looks_like_sas, parse_sas),
    ("sls", _looks_like_sls, parse_sls),
    ("actiontrail", _looks_like_cloudevent, parse_actiontrail),
    ("actiontrail", _looks_like_event, parse_actiontrail),
    ("plain", _looks_like_plain, parse_plain),
)
_PARSERS: dict[str, Parser] = {
    "sas": parse_sas,
    "sls": parse_sls,
    "actiontrail": parse_actiontrail,
    "github": parse_github,
    "plain": parse_plain,
}


def describe_sources() -> str:
    """Return the source kinds, each with its aliases, for help text and errors."""
    parts = []
    for kind in SOURCE_KINDS:
        aliases = [name for name, target in SOURCE_ALIASES.items() if target == kind]
        aliases.remove(kind)
        parts.append(f"{kind} (or {', '.join(aliases)})" if aliases else kind)
    return ", ".join(parts)


def normalize_source(source_hint: str | None) -> str | None:
    """Map a source hint such as ``eventbridge`` to its kind; raise on unknown ones."""
    if source_hint is None or source_hint.strip() == "":
        return None
    name = source_hint.strip().lower()
    if name not in SOURCE_ALIASES:
        shown = _SAFE_ID_CHARACTER.sub("?", name)[:32]
        raise AlertFormatError(
            f"unknown alert source {shown!r}; use one of {describe_sources()}, "
            "or none to detect the shape"
        )
    return SOURCE_ALIASES[name]


def _detect(data: Any) -> Parser | None:
    for _, matches, parser in _SHAPES:
        if matches(data):
            return parser
    return None


def parse_alert(
    payload: bytes | str | dict | list, source_hint: str | None = None
) -> list[AlertedKey]:
    """Return the AccessKey IDs an alert payload names, one ``AlertedKey`` each.

    ``source_hint`` (a kind from ``SOURCE_KINDS`` or an alias such as
    ``eventbridge``) selects the parser; without it the shape is detected. A list
    whose items are alerts of any shape yields the keys of every item. Entries
    that name no valid ID are left out while at least one valid ID remains;
    ``parse_alert_with_rejected`` returns them too. Raises ``AlertFormatError``
    for a payload that names no valid key or is malformed, and ``AlertIgnored``
    for a valid alert that needs no response.
    """
    return parse_alert_with_rejected(payload, source_hint).keys


def parse_alert_with_rejected(
    payload: bytes | str | dict | list, source_hint: str | None = None
) -> ParsedAlert:
    """Parse an alert like ``parse_alert`` and also return its rejected entries.

    An entry is rejected when it should name an AccessKey ID and does not: an
    invalid ID in ``access_key_ids``, a leak record without ``AccesskeyId``, an
    item of a mixed list with no known shape. The valid keys of the alert still
    get a response. Raises ``AlertFormatError`` when no valid key remains.
    """
    kind = normalize_source(source_hint)
    data = redact_payload(decode_payload(payload))
    digest = canonical_hash(data)
    rejected: list[RejectedValue] = []

    if kind is not None:
        keys = _PARSERS[kind](data, digest, rejected)
    elif (parser := _detect(data)) is not None:
        keys = parser(data, digest, rejected)
    elif isinstance(data, list) and data:
        keys = _parse_mixed_list(data, digest, rejected)
    else:
        if isinstance(data, dict):
            problem = (
                f"alert object with fields {_field_names(data)} has no known shape"
            )
        elif isinstance(data, list):
            problem = "alert list is empty"
        else:
            problem = f"alert payload is a JSON {type(data).__name__}"
        raise AlertFormatError(f"{problem}. {ACCEPTED_SHAPES}")

    if not keys:
        raise _no_valid_key(rejected)
    return ParsedAlert(keys=keys, rejected=rejected)


def _parse_mixed_list(
    data: list, digest: str, rejected: list[RejectedValue]
) -> list[AlertedKey]:
    """Parse a list whose items are alerts of any shape, item by item.

    An item with no known shape, or whose parser rejects it, is rejected. An
    ignored item is skipped, and when every item is ignored the first one's
    ``AlertIgnored`` is raised.
    """
    keys: list[AlertedKey] = []
    ignored: list[AlertIgnored] = []
    for index, item in enumerate(data):
        where = f"item {index} of the alert list"
        item_parser = _detect(item)
        try:
            if item_parser is None:
                raise InvalidAlertValue(where, f"{where} has no recognised shape")
            keys.extend(item_parser(item, digest, rejected))
        except AlertIgnored as skipped:
            ignored.append(skipped)
        except InvalidAlertValue as error:
            _reject(error, rejected, "plain")
        except AlertFormatError as error:
            problem = str(error).removesuffix(ACCEPTED_SHAPES).rstrip(" .")
            _reject(InvalidAlertValue(where, f"{where}: {problem}"), rejected, "plain")
    if not keys and not rejected and ignored:
        raise ignored[0]
    return _dedupe(keys)


def _no_valid_key(rejected: list[RejectedValue]) -> AlertFormatError:
    """Return the error for an alert whose every entry was rejected."""
    if len(rejected) == 1:
        return AlertFormatError(f"{rejected[0].problem}. {ACCEPTED_SHAPES}")
    shown = "; ".join(item.problem for item in rejected[:5])
    more = f"; and {len(rejected) - 5} more" if len(rejected) > 5 else ""
    return AlertFormatError(
        f"the alert names no valid AccessKey ID: {shown}{more}. {ACCEPTED_SHAPES}"
    )
