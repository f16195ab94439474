"""Save investigation evidence to a folder with a SHA-256 manifest.

The folder (by default ``evidence/<incident>`` under the working directory) outlives
the flow run: raw events as JSON Lines, frames as Parquet, documents as JSON and
pictures as PNG, plus ``manifest.json`` listing every file with its size and SHA-256
digest. ``verify_evidence`` recomputes the digests later.

Raw events pass through ``events.redact_event`` before they are written, so secret
values (AccessKeySecret, SecurityToken, passwords, secret data) never reach the disk.
Files are written to a temporary name and renamed, so a crash leaves no half-written
file under a final name. An existing file is never replaced unless ``overwrite`` is
set.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from akresponder.analysis.events import redact_event

DEFAULT_ROOT = Path("evidence")
MANIFEST_NAME = "manifest.json"
_INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class EvidenceFile:
    """One file in the evidence folder."""

    path: str  # relative to the folder
    kind: str  # "events", "frame", "document" or "image"
    sha256: str
    bytes: int
    rows: int | None = None


@dataclass(frozen=True)
class EvidenceManifest:
    """The record of files ``save_evidence`` wrote, as stored in ``manifest.json``."""

    incident: str
    folder: Path
    created_at: str
    files: tuple[EvidenceFile, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest as JSON-ready data."""
        return {
            "incident": self.incident,
            "created_at": self.created_at,
            "algorithm": "sha256",
            "files": [
                {
                    "path": item.path,
                    "kind": item.kind,
                    "sha256": item.sha256,
                    "bytes": item.bytes,
                    "rows": item.rows,
                }
                for item in self.files
            ],
        }


def save_evidence(
    incident: str,
    *,
    raw_events: Iterable[Mapping[str, Any]] | None = None,
    frames: Mapping[str, pd.DataFrame] | None = None,
    documents: Mapping[str, Any] | None = None,
    images: Mapping[str, bytes] | None = None,
    root: str | Path = DEFAULT_ROOT,
    overwrite: bool = False,
) -> EvidenceManifest:
    """Write evidence for ``incident`` under ``root/incident`` and return the manifest.

    ``raw_events`` go to ``events.jsonl``; each frame to ``<name>.parquet``; each
    document (any JSON-ready value) to ``<name>.json``; each image to ``<name>.png``.
    Names must be simple file names. If ``manifest.json`` already lists files, the
    new files are added to it.
    """
    if not _INCIDENT_ID.match(incident):
        raise ValueError(
            f"incident id {incident!r} is not a safe folder name; use letters, digits, "
            "'.', '_' or '-' (at most 128 characters, starting with a letter or digit)"
        )
    folder = Path(root) / incident
    folder.mkdir(parents=True, exist_ok=True)
    written: list[EvidenceFile] = []

    if raw_events is not None:
        written.append(_write_events(folder / "events.jsonl", raw_events, overwrite))
    for name, frame in (frames or {}).items():
        path = folder / f"{_checked_name(name)}.parquet"
        written.append(_write_frame(path, frame, overwrite))
    for name, document in (documents or {}).items():
        path = folder / f"{_checked_name(name)}.json"
        data = json.dumps(document, indent=2, sort_keys=True, default=str).encode()
        written.append(_write_bytes(path, data, "document", overwrite))
    for name, image in (images or {}).items():
        path = folder / f"{_checked_name(name)}.png"
        written.append(_write_bytes(path, image, "image", overwrite))

    previous = _read_manifest(folder)
    replaced = {item.path for item in written}
    kept = [item for item in previous if item.path not in replaced]
    manifest = EvidenceManifest(
        incident=incident,
        folder=folder,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        files=tuple(sorted(kept + written, key=lambda item: item.path)),
    )
    data = json.dumps(manifest.to_dict(), indent=2).encode()
    _atomic_write(folder / MANIFEST_NAME, data)
    return manifest


def verify_evidence(folder: str | Path) -> list[str]:
    """Check every file listed in the folder's manifest; return the problems found.

    An empty list means every file exists with its recorded size and SHA-256 digest.
    """
    base = Path(folder)
    manifest_path = base / MANIFEST_NAME
    if not manifest_path.exists():
        return [f"{manifest_path} is missing; save_evidence writes it"]
    problems = []
    for item in _read_manifest(base):
        path = base / item.path
        if not path.exists():
            problems.append(f"{item.path} is listed in the manifest but missing")
            continue
        digest, size = _digest(path)
        if digest != item.sha256 or size != item.bytes:
            problems.append(
                f"{item.path} changed: sha256 {digest} and {size} bytes, manifest says "
                f"{item.sha256} and {item.bytes} bytes"
            )
    return problems


def _write_events(
    path: Path, raw_events: Iterable[Mapping[str, Any]], overwrite: bool
) -> EvidenceFile:
    _refuse_existing(path, overwrite)
    temporary = _temporary(path)
    rows = 0
    with open(temporary, "wb") as handle:
        for record in raw_events:
            line = orjson.dumps(
                redact_event(dict(record)),
                option=orjson.OPT_NON_STR_KEYS,
                default=str,
            )
            handle.write(line + b"\n")
            rows += 1
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    digest, size = _digest(path)
    return EvidenceFile(path.name, "events", digest, size, rows)


def _write_frame(path: Path, frame: pd.DataFrame, overwrite: bool) -> EvidenceFile:
    _refuse_existing(path, overwrite)
    temporary = _temporary(path)
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, path)
    digest, size = _digest(path)
    return EvidenceFile(path.name, "frame", digest, size, len(frame))


def _write_bytes(path: Path, data: bytes, kind: str, overwrite: bool) -> EvidenceFile:
    _refuse_existing(path, overwrite)
    _atomic_write(path, data)
    return EvidenceFile(path.name, kind, hashlib.sha256(data).hexdigest(), len(data))


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = _temporary(path)
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"evidence file {path} already exists; use another incident id or pass "
            "overwrite=True to replace it"
        )


def _checked_name(name: str) -> str:
    if not _FILE_NAME.match(name):
        raise ValueError(
            f"evidence name {name!r} is not a simple file name; use letters, digits, "
            "'.', '_' or '-'"
        )
    return name


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read_manifest(folder: Path) -> list[EvidenceFile]:
    path = folder / MANIFEST_NAME
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    return [
        EvidenceFile(
            path=item["path"],
            kind=item["kind"],
            sha256=item["sha256"],
            bytes=item["bytes"],
            rows=item.get("rows"),
        )
        for item in data.get("files", [])
    ]
