"""Tests for akresponder.analysis.evidence: files, manifest and tamper checks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from akresponder.analysis.events import normalise_events
from akresponder.analysis.evidence import save_evidence, verify_evidence
from akresponder.analysis.synthetic import make_event

SECRET = "s3cr3tValueThatMustNotLeak00001"


def _records() -> list[dict]:
    return [
        make_event(
            "CreateAccessKey",
            time="2026-11-20T02:03:50Z",
            event_id="E-1",
            response_elements={
                "AccessKey": {"AccessKeyId": "LTAI5tNEW", "AccessKeySecret": SECRET}
            },
        ),
        make_event("DescribeInstances", time="2026-11-20T02:04:00Z", event_id="E-2"),
    ]


def test_save_evidence_writes_files_and_manifest(tmp_path: Path) -> None:
    records = _records()
    frame = normalise_events(records)

    manifest = save_evidence(
        "INC-2026-11-20",
        raw_events=records,
        frames={"events": frame},
        documents={"lineage": {"nodes": [1, 2]}},
        images={"timeline": b"\x89PNG fake"},
        root=tmp_path,
    )

    folder = tmp_path / "INC-2026-11-20"
    assert manifest.folder == folder
    assert sorted(item.path for item in manifest.files) == [
        "events.jsonl",
        "events.parquet",
        "lineage.json",
        "timeline.png",
    ]
    stored = json.loads((folder / "manifest.json").read_text())
    assert stored["algorithm"] == "sha256"
    assert {item["path"]: item["rows"] for item in stored["files"]}["events.jsonl"] == 2
    assert verify_evidence(folder) == []
    round_trip = pd.read_parquet(folder / "events.parquet")
    assert round_trip["event_id"].tolist() == ["E-1", "E-2"]


def test_save_evidence_masks_secrets(tmp_path: Path) -> None:
    save_evidence("INC-1", raw_events=_records(), root=tmp_path)

    text = (tmp_path / "INC-1" / "events.jsonl").read_text()

    assert SECRET not in text
    assert "LTAI5tNEW" in text


def test_save_evidence_refuses_to_overwrite(tmp_path: Path) -> None:
    save_evidence("INC-1", documents={"report": {"a": 1}}, root=tmp_path)

    with pytest.raises(FileExistsError, match="report.json already exists.*overwrite"):
        save_evidence("INC-1", documents={"report": {"a": 2}}, root=tmp_path)

    save_evidence(
        "INC-1", documents={"report": {"a": 2}}, root=tmp_path, overwrite=True
    )
    stored = json.loads((tmp_path / "INC-1" / "report.json").read_text())
    assert stored == {"a": 2}
    assert verify_evidence(tmp_path / "INC-1") == []


def test_save_evidence_adds_to_manifest(tmp_path: Path) -> None:
    save_evidence("INC-1", documents={"first": {}}, root=tmp_path)

    manifest = save_evidence("INC-1", documents={"second": {}}, root=tmp_path)

    assert [item.path for item in manifest.files] == ["first.json", "second.json"]


def test_verify_evidence_detects_tampering(tmp_path: Path) -> None:
    save_evidence("INC-1", documents={"report": {"a": 1}, "gone": {}}, root=tmp_path)
    folder = tmp_path / "INC-1"
    (folder / "report.json").write_text('{"a": 2}')
    (folder / "gone.json").unlink()

    problems = verify_evidence(folder)

    assert len(problems) == 2
    assert any(problem.startswith("report.json changed") for problem in problems)
    assert any("gone.json is listed in the manifest but missing" in p for p in problems)


def test_verify_evidence_missing_manifest(tmp_path: Path) -> None:
    assert "manifest.json is missing" in verify_evidence(tmp_path)[0]


@pytest.mark.parametrize("incident", ["../escape", "", "a/b", ".hidden"])
def test_save_evidence_unsafe_incident_rejected(tmp_path: Path, incident: str) -> None:
    with pytest.raises(ValueError, match="not a safe folder name"):
        save_evidence(incident, root=tmp_path)


def test_save_evidence_unsafe_name_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a simple file name"):
        save_evidence("INC-1", documents={"../x": {}}, root=tmp_path)
