"""Normalise ActionTrail records from every delivery route into one events frame.

ActionTrail hands out the same record in three shapes: LookupEvents returns event dicts,
SLS GetLogs returns rows whose ``event`` field is the record as a JSON string, and OSS
delivery files hold a JSON array of records. ``normalise_events`` accepts any mix of
these and returns one row per event with the columns in ``EVENT_COLUMNS``.

Records are parsed with orjson and converted to columns through pyarrow in chunks, so a
million events fit in a few seconds and bounded memory. Nothing in a record makes the
normaliser raise: records it cannot use are counted in the ``NormaliseReport``, odd
values are kept as text and flagged, and JSON text that does not parse is kept under an
``_unparsed`` key.

Secret fields (AccessKeySecret, SecurityToken, passwords, secret values) are masked in
``request_parameters`` and ``response_elements``, and ``redact_event`` does the same for
raw records that are saved as evidence.
"""

from __future__ import annotations

import gc
import gzip
import ipaddress
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

logger = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("actiontrail", "sls", "oss")

EVENT_COLUMNS: tuple[str, ...] = (
    "time",
    "event_id",
    "service",
    "action",
    "rw",
    "region",
    "source_ip",
    "source_ip_kind",
    "user_agent",
    "identity_type",
    "identity_name",
    "principal_id",
    "access_key_id",
    "account_id",
    "error_code",
    "error_message",
    "resource_type",
    "resource_name",
    "request_parameters",
    "response_elements",
    "additional_event_data",
    "event_type",
    "event_source",
    "request_id",
    "is_global",
    "source",
)
# Every column except ``time`` and ``is_global`` is text, with "" for a missing value.
TEXT_COLUMNS: tuple[str, ...] = tuple(
    name for name in EVENT_COLUMNS if name not in ("time", "is_global")
)

# source_ip_kind values. "hostname" is an Alibaba Cloud service calling on a user's
# behalf (for example "ecs.aliyuncs.com"). "invalid" is anything else that is not an
# address; source_ip keeps its raw text.
IP_KINDS: tuple[str, ...] = ("ipv4", "ipv6", "hostname", "missing", "invalid")

MASK = "***"
# Keys whose values are secrets, compared case-insensitively with the whole key.
# Credentials.AccessKeyId and SecretName stay visible because lineage and findings need
# them; only the secret material itself is masked.
SECRET_KEY = re.compile(
    r"(?i)^(accesskeysecret|securitytoken|x-acs-security-token|password|newpassword"
    r"|oldpassword|secretdata|secretstring|secretbinary|secretvalue|privatekey"
    r"|privatekeybody|authorization|signature)$"
)
# Cheap text test that picks the rows worth parsing for secret keys.
_SECRET_HINT = re.compile(
    r"(?i)secret|token|password|privatekey|authorization|signature"
)

DEFAULT_CHUNK_SIZE = 50_000

# Top-level string fields of a record, by the column they fill.
_TOP_FIELDS: dict[str, str] = {
    "event_id": "eventId",
    "service": "serviceName",
    "action": "eventName",
    "rw": "eventRW",
    "region": "acsRegion",
    "source_ip": "sourceIpAddress",
    "user_agent": "userAgent",
    "account_id": "recipientAccountId",
    "error_code": "errorCode",
    "error_message": "errorMessage",
    "resource_type": "resourceType",
    "resource_name": "resourceName",
    "event_type": "eventType",
    "event_source": "eventSource",
    "request_id": "requestId",
    "event_time": "eventTime",
}
_IDENTITY_FIELDS: dict[str, str] = {
    "identity_type": "type",
    "identity_name": "userName",
    "principal_id": "principalId",
    "access_key_id": "accessKeyId",
    "identity_account_id": "accountId",
}
_EVENT_STRUCT = pa.struct(
    [pa.field(key, pa.string()) for key in _TOP_FIELDS.values()]
    + [pa.field("isGlobal", pa.bool_())]
    + [
        pa.field(
            "userIdentity",
            pa.struct(
                [pa.field(key, pa.string()) for key in _IDENTITY_FIELDS.values()]
            ),
        )
    ]
)
_EVENT_MARKERS = ("eventId", "eventName", "eventTime")
# A dotted name whose last label starts with a letter, so "300.1.1.1" is not one.
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9-]+\.)+[A-Za-z][A-Za-z0-9-]*$")
_EPOCH = re.compile(r"^\d{9,13}(\.\d+)?$")
_EARLIEST = pd.Timestamp("2000-01-01", tz="UTC")
_LATEST = pd.Timestamp("2200-01-01", tz="UTC")


@dataclass
class NormaliseReport:
    """Counts of what normalisation kept, dropped and flagged."""

    records: int = 0  # items examined after unwrapping arrays and LookupEvents bodies
    events: int = 0  # rows in the returned frame
    unusable: int = 0  # records dropped, counted by reason in ``reasons``
    duplicates: int = 0  # rows dropped because another row had the same event_id
    invalid_json: int = 0  # JSON strings (whole records or fields) that did not parse
    odd_source_ips: int = 0  # rows whose source_ip_kind is "invalid"
    missing_event_ids: int = 0  # rows given a synthetic event_id
    reasons: Counter[str] = field(default_factory=Counter)

    def drop(self, reason: str) -> None:
        self.unusable += 1
        self.reasons[reason] += 1

    def merge(self, other: NormaliseReport) -> None:
        """Add another report's counts to this one (``events`` is set by the caller)."""
        self.records += other.records
        self.unusable += other.unusable
        self.duplicates += other.duplicates
        self.invalid_json += other.invalid_json
        self.odd_source_ips += other.odd_source_ips
        self.missing_event_ids += other.missing_event_ids
        self.reasons.update(other.reasons)

    def as_dict(self) -> dict[str, Any]:
        """Return the counts as JSON-ready data."""
        return {
            "records": self.records,
            "events": self.events,
            "unusable": self.unusable,
            "duplicates": self.duplicates,
            "invalid_json": self.invalid_json,
            "odd_source_ips": self.odd_source_ips,
            "missing_event_ids": self.missing_event_ids,
            "reasons": dict(sorted(self.reasons.items())),
        }


def normalise_events(
    records: Iterable[Any], source: str = "actiontrail", *, chunk_size: int = 0
) -> pd.DataFrame:
    """Build the normalised events frame from ActionTrail records of any shape.

    ``records`` may mix LookupEvents event dicts, whole LookupEvents response bodies
    (``{"Events": [...]}``), SLS GetLogs rows (``event`` holding JSON text), OSS
    delivery arrays, and JSON text or bytes of any of these. ``source`` fills the
    ``source`` column and must be one of ``SOURCES``.

    Events with the same ``eventId`` are kept once, preferring the row with more
    fields filled. The frame is sorted by time. Its ``attrs["normalise_report"]``
    contains ``NormaliseReport.as_dict()``, and ``normalise_events_with_report``
    returns the report object itself.
    """
    frame, _ = normalise_events_with_report(records, source, chunk_size=chunk_size)
    return frame


def normalise_events_with_report(
    records: Iterable[Any], source: str = "actiontrail", *, chunk_size: int = 0
) -> tuple[pd.DataFrame, NormaliseReport]:
    """Build the events frame like ``normalise_events`` and return the report too."""
    if source not in SOURCES:
        raise ValueError(
            f"source {source!r} is not a known ActionTrail delivery route; "
            f"use one of {', '.join(SOURCES)}"
        )
    size = chunk_size if chunk_size > 0 else DEFAULT_CHUNK_SIZE
    report = NormaliseReport()
    frames: list[pd.DataFrame] = []
    chunk: list[dict[str, Any]] = []

    with _gc_paused():
        for item in records:
            # Fast path for the common case, one event dict or one line of JSON
            # holding one; everything else goes through _unwrap.
            if type(item) is bytes or type(item) is str:
                try:
                    item = orjson.loads(item)
                except orjson.JSONDecodeError:
                    report.records += 1
                    report.invalid_json += 1
                    report.drop("invalid_json")
                    continue
            if type(item) is dict and (
                "eventId" in item or "eventName" in item or "eventTime" in item
            ):
                report.records += 1
                chunk.append(item)
            else:
                chunk.extend(_unwrap(item, report, depth=0))
            if len(chunk) >= size:
                frames.append(_frame_from_chunk(chunk, source, report))
                chunk = []
        if chunk or not frames:
            frames.append(_frame_from_chunk(chunk, source, report))

    frame = _concat(frames)
    frame, dropped = _dedupe(frame)
    report.duplicates += dropped
    report.events = len(frame)
    frame.attrs["normalise_report"] = report.as_dict()

    if report.unusable or report.invalid_json or report.odd_source_ips:
        logger.info(
            "normalised events source=%s events=%d unusable=%d invalid_json=%d "
            "odd_source_ips=%d",
            source,
            report.events,
            report.unusable,
            report.invalid_json,
            report.odd_source_ips,
        )
    return frame, report


def read_events_file(
    path: str | Path, source: str = "actiontrail", *, chunk_size: int = 0
) -> pd.DataFrame:
    """Normalise the events in a JSON Lines file or an OSS delivery file.

    A file whose first non-blank byte is ``[`` is read as one JSON array, the OSS
    delivery format. Any other file is read as JSON Lines, one record or SLS row per
    line. Names ending in ``.gz`` are decompressed.
    """
    file_path = Path(path)
    opener: Callable[..., Any] = gzip.open if file_path.suffix == ".gz" else open
    with opener(file_path, "rb") as handle:
        first = handle.read(4096).lstrip()
        handle.seek(0)
        if first.startswith(b"["):
            return normalise_events([handle.read()], source, chunk_size=chunk_size)
        lines = (line for line in handle if line.strip())
        return normalise_events(lines, source, chunk_size=chunk_size)


def combine_events(*frames: pd.DataFrame) -> pd.DataFrame:
    """Concatenate normalised frames and keep each event once.

    Use it for events fetched by several routes (LookupEvents and SLS): the row with
    more fields filled wins. The result's ``attrs["normalise_report"]`` sums the
    inputs' reports and adds the duplicates dropped here.
    """
    report = NormaliseReport()
    for frame in frames:
        saved = frame.attrs.get("normalise_report")
        if saved:
            report.records += saved.get("records", 0)
            report.unusable += saved.get("unusable", 0)
            report.duplicates += saved.get("duplicates", 0)
            report.invalid_json += saved.get("invalid_json", 0)
            report.odd_source_ips += saved.get("odd_source_ips", 0)
            report.missing_event_ids += saved.get("missing_event_ids", 0)
            report.reasons.update(saved.get("reasons", {}))
    combined = _concat([frame for frame in frames if len(frame)] or [empty_events()])
    combined, dropped = _dedupe(combined)
    report.duplicates += dropped
    report.events = len(combined)
    combined.attrs["normalise_report"] = report.as_dict()
    return combined


def empty_events() -> pd.DataFrame:
    """Return an events frame with no rows and the normalised columns and types."""
    data: dict[str, Any] = {name: pd.Series([], dtype="str") for name in TEXT_COLUMNS}
    data["time"] = pd.Series([], dtype="datetime64[ns, UTC]")
    data["is_global"] = pd.Series([], dtype="bool")
    return pd.DataFrame(data)[list(EVENT_COLUMNS)]


def redact_event(value: Any) -> Any:
    """Return a copy of a record with the values of secret keys masked, at any depth.

    Keys are matched with ``SECRET_KEY``; JSON text inside strings is not parsed.
    """
    if isinstance(value, dict):
        return {
            key: (
                MASK
                if isinstance(key, str) and SECRET_KEY.match(key) and item
                else redact_event(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_event(item) for item in value]
    return value


def parse_json_objects(texts: Iterable[str]) -> list[dict[str, Any]]:
    """Parse JSON text column values into dicts; text that is not an object gives {}."""
    parsed: list[dict[str, Any]] = []
    for text in texts:
        if not text:
            parsed.append({})
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = None
        parsed.append(value if isinstance(value, dict) else {})
    return parsed


def ip_kind(value: str) -> str:
    """Classify a sourceIpAddress value as one of ``IP_KINDS``."""
    if not value:
        return "missing"
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return "hostname" if _HOSTNAME.match(value) else "invalid"
    return "ipv4" if address.version == 4 else "ipv6"


# Record unwrapping -------------------------------------------------------------------


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Parsed records hold no reference cycles, but creating millions of dicts makes the
    # cyclic collector rescan them again and again. Parsing 200,000 generated events
    # with orjson took 3.8 times longer with the collector on (2 CPUs, Python 3.11).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _unwrap(item: Any, report: NormaliseReport, depth: int) -> Iterator[dict]:
    if isinstance(item, (str, bytes, bytearray, memoryview)):
        try:
            item = orjson.loads(item)
        except orjson.JSONDecodeError:
            report.records += 1
            report.invalid_json += 1
            report.drop("invalid_json")
            return
    if isinstance(item, dict):
        if any(marker in item for marker in _EVENT_MARKERS):
            report.records += 1
            yield item
        elif "event" in item:
            report.records += 1
            event = _sls_event(item, report)
            if event is not None:
                yield event
        elif isinstance(item.get("Events"), list) and depth < 2:
            for event in item["Events"]:
                yield from _unwrap(event, report, depth + 1)
        else:
            report.records += 1
            report.drop("not_an_event")
    elif isinstance(item, (list, tuple)) and depth < 2:
        for element in item:
            yield from _unwrap(element, report, depth + 1)
    else:
        report.records += 1
        report.drop("not_an_object")


def _sls_event(row: dict, report: NormaliseReport) -> dict | None:
    """Return the record inside an SLS row, taking eventTime from __time__ if absent."""
    inner = row["event"]
    if isinstance(inner, (str, bytes, bytearray)):
        try:
            inner = orjson.loads(inner)
        except orjson.JSONDecodeError:
            report.invalid_json += 1
            report.drop("invalid_json")
            return None
    if not isinstance(inner, dict) or not any(m in inner for m in _EVENT_MARKERS):
        report.drop("not_an_event")
        return None
    if not inner.get("eventTime") and row.get("__time__") not in (None, ""):
        inner = {**inner, "eventTime": str(row["__time__"])}
    return inner


# Chunk to columns --------------------------------------------------------------------


def _frame_from_chunk(
    chunk: list[dict[str, Any]], source: str, report: NormaliseReport
) -> pd.DataFrame:
    if not chunk:
        return empty_events()
    columns = _scalar_columns(chunk)

    invalid = [0]
    parameters = _json_texts(chunk, "requestParameters", invalid)
    for index, text in enumerate(parameters):
        if not text:
            # SLS records may carry the parameters as text in requestParameterJson.
            fallback = chunk[index].get("requestParameterJson")
            parameters[index] = _json_text(fallback, invalid)
    columns["request_parameters"] = pd.Series(parameters, dtype="str")
    columns["response_elements"] = pd.Series(
        _json_texts(chunk, "responseElements", invalid), dtype="str"
    )
    columns["additional_event_data"] = pd.Series(
        _json_texts(chunk, "additionalEventData", invalid), dtype="str"
    )
    report.invalid_json += invalid[0]
    for name in ("request_parameters", "response_elements"):
        columns[name] = _redact_column(columns[name])

    _fill_resources_from_references(columns, chunk)
    frame = pd.DataFrame(columns)
    frame["source"] = source

    frame["time"] = _parse_times(frame.pop("event_time"))
    unusable = frame["time"].isna()
    if unusable.any():
        count = int(unusable.sum())
        report.unusable += count
        report.reasons["missing_or_invalid_event_time"] += count
        frame = frame.loc[~unusable]

    if "identity_account_id" in frame:
        own_account = frame.pop("identity_account_id")
        frame["account_id"] = frame["account_id"].where(
            frame["account_id"] != "", own_account
        )

    frame["source_ip_kind"] = _ip_kinds(frame["source_ip"])
    report.odd_source_ips += int((frame["source_ip_kind"] == "invalid").sum())

    missing_ids = frame["event_id"] == ""
    if missing_ids.any():
        report.missing_event_ids += int(missing_ids.sum())
        frame.loc[missing_ids, "event_id"] = _synthetic_ids(frame.loc[missing_ids])
    return frame[list(EVENT_COLUMNS)].reset_index(drop=True)


def _scalar_columns(chunk: list[dict[str, Any]]) -> dict[str, pd.Series]:
    """Pull scalar fields through pyarrow; odd types fall back to a cleaning pass."""
    try:
        array = pa.array(chunk, type=_EVENT_STRUCT)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = pa.array([_sanitise(record) for record in chunk], type=_EVENT_STRUCT)
    columns: dict[str, pd.Series] = {}
    for name, key in _TOP_FIELDS.items():
        columns[name] = _text_series(array.field(key))
    identity = array.field("userIdentity")
    for name, key in _IDENTITY_FIELDS.items():
        columns[name] = _text_series(identity.field(key))
    global_flag = array.field("isGlobal").fill_null(False)
    columns["is_global"] = pd.Series(global_flag.to_numpy(zero_copy_only=False))
    return columns


def _text_series(values: pa.Array) -> pd.Series:
    return values.fill_null("").to_pandas().astype("str")


def _sanitise(record: dict[str, Any]) -> dict[str, Any]:
    """Coerce one record's scalar fields to the types of ``_EVENT_STRUCT``."""
    clean: dict[str, Any] = {
        key: _as_text(record.get(key)) for key in _TOP_FIELDS.values()
    }
    flag = record.get("isGlobal")
    clean["isGlobal"] = flag is True or (
        isinstance(flag, str) and flag.lower() == "true"
    )
    identity = record.get("userIdentity")
    if isinstance(identity, (str, bytes)):
        try:
            identity = orjson.loads(identity)
        except orjson.JSONDecodeError:
            identity = None
    if not isinstance(identity, dict):
        identity = {}
    clean["userIdentity"] = {
        key: _as_text(identity.get(key)) for key in _IDENTITY_FIELDS.values()
    }
    return clean


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return _dump(value)


def _dump(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        # orjson rejects integers beyond 64 bits and unknown types; the standard
        # library handles big integers, and repr covers the rest.
        try:
            return json.dumps(
                value, default=repr, ensure_ascii=False, separators=(",", ":")
            )
        except (TypeError, ValueError):
            return json.dumps(repr(value))


def _json_texts(chunk: list[dict[str, Any]], key: str, invalid: list[int]) -> list[str]:
    """Return JSON text for one nested field of every record in a chunk."""
    dumps = orjson.dumps
    texts = []
    for record in chunk:
        value = record.get(key)
        if type(value) is dict:
            try:
                texts.append(dumps(value).decode())
                continue
            except TypeError:
                pass
        texts.append(_json_text(value, invalid))
    return texts


def _json_text(value: Any, invalid: list[int]) -> str:
    """Return JSON text for a nested field; unparsable text is wrapped, not lost."""
    if value is None or value == "":
        return ""
    if isinstance(value, (dict, list)):
        return _dump(value)
    if isinstance(value, (str, bytes, bytearray)):
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            invalid[0] += 1
            raw = value if isinstance(value, str) else value.decode("utf-8", "replace")
            return _dump({"_unparsed": raw})
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return _dump(value)


def _redact_column(texts: pd.Series) -> pd.Series:
    hinted = texts.str.contains(_SECRET_HINT, regex=True)
    if not hinted.any():
        return texts
    cleaned = texts.copy()
    for index in np.flatnonzero(hinted.to_numpy()):
        text = texts.iat[index]
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        redacted = redact_event(value)
        if redacted != value:
            cleaned.iat[index] = _dump(redacted)
    return cleaned


def _fill_resources_from_references(
    columns: dict[str, pd.Series], chunk: list[dict[str, Any]]
) -> None:
    """Derive resource_type/resource_name from referencedResources when both are empty.

    SLS and the landing-zone rules use ``;``-joined parallel lists (one type per name),
    so a type with two names appears twice in resource_type.
    """
    missing = (columns["resource_type"] == "") & (columns["resource_name"] == "")
    if not missing.any():
        return
    references_by_row = [record.get("referencedResources") for record in chunk]
    candidates = [
        index
        for index in np.flatnonzero(missing.to_numpy())
        if isinstance(references_by_row[index], dict) and references_by_row[index]
    ]
    if not candidates:
        return
    types = columns["resource_type"].copy()
    names = columns["resource_name"].copy()
    for index in candidates:
        references = references_by_row[index]
        type_parts: list[str] = []
        name_parts: list[str] = []
        for resource_type, resource_names in references.items():
            values = (
                resource_names if isinstance(resource_names, list) else [resource_names]
            )
            for resource_name in values:
                type_parts.append(str(resource_type))
                name_parts.append(str(resource_name))
        types.iat[index] = ";".join(type_parts)
        names.iat[index] = ";".join(name_parts)
    columns["resource_type"] = types
    columns["resource_name"] = names


def _parse_times(texts: pd.Series) -> pd.Series:
    """Parse eventTime values: ISO 8601 text, or epoch seconds or milliseconds."""
    times = pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
    # Times before 2000 or from 2200 on are treated as corrupt and count as missing.
    # The upper bound also keeps times inside the nanosecond range, which ends in 2262.
    plausible = (times >= _EARLIEST) & (times < _LATEST)
    times = times.where(plausible).dt.as_unit("ns")
    epoch = texts.str.match(_EPOCH)
    if epoch.any():
        numbers = pd.to_numeric(texts[epoch], errors="coerce")
        # Values above 1e11 are milliseconds: 1e11 seconds is the year 5138.
        millis = numbers > 1e11
        for mask, unit in ((millis, "ms"), (~millis, "s")):
            if mask.any():
                parsed = pd.to_datetime(numbers[mask], unit=unit, utc=True)
                parsed = parsed[(parsed >= _EARLIEST) & (parsed < _LATEST)]
                times.loc[parsed.index] = parsed.dt.as_unit("ns")
    return times


def _ip_kinds(values: pd.Series) -> pd.Series:
    kinds = {value: ip_kind(value) for value in pd.unique(values)}
    return values.map(kinds).astype("str")


def _synthetic_ids(frame: pd.DataFrame) -> pd.Series:
    """Build stable ids for events without eventId from their identifying fields."""
    basis = frame[
        ["action", "access_key_id", "identity_name", "request_id", "source_ip"]
    ].copy()
    basis["time"] = frame["time"].astype("int64").astype("str")
    hashes = pd.util.hash_pandas_object(basis, index=False).to_numpy()
    return pd.Series(
        [f"synthetic-{value:016x}" for value in hashes], index=frame.index, dtype="str"
    )


# Frames ------------------------------------------------------------------------------


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if len(frame)] or [empty_events()]
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    return pd.concat(frames, ignore_index=True)


def _dedupe(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one row per event_id, preferring the richer row; sort by time."""
    duplicated = frame["event_id"].duplicated(keep=False)
    dropped = 0
    if duplicated.any():
        candidates = frame.loc[duplicated]
        filled = (candidates[list(TEXT_COLUMNS)] != "").sum(axis=1)
        length = (
            candidates["request_parameters"].str.len()
            + candidates["response_elements"].str.len()
        )
        order = pd.DataFrame(
            {"event_id": candidates["event_id"], "filled": filled, "length": length}
        ).sort_values(
            ["event_id", "filled", "length"],
            ascending=[True, False, False],
            kind="stable",
        )
        losers = order.index[order["event_id"].duplicated(keep="first")]
        dropped = len(losers)
        frame = frame.drop(index=losers)
    # Delivery files are usually in time order already, so the check saves a sort of
    # a million rows; LookupEvents pages come newest first and do get sorted. The
    # sort is stable, so events with the same time keep their input order.
    if not frame["time"].is_monotonic_increasing:
        frame = frame.sort_values("time", kind="stable")
    return frame.reset_index(drop=True), dropped
