"""The report contract: JSON Schema, round trip, atomic write and markdown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from akresponder import redact
from akresponder.report import (
    SCHEMA_VERSION,
    Action,
    Coverage,
    CoverageEntry,
    DecisionRecord,
    Finding,
    Owner,
    Permission,
    RelatedCredential,
    Report,
    Responder,
    Timings,
    UndoStep,
    json_schema,
    load_report,
    render_markdown,
    write_report,
)

REPO = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO / "docs" / "report.schema.json"
AT = datetime(2026, 11, 20, 8, 0, 5, tzinfo=UTC)


def sample_report() -> Report:
    return Report(
        incident_id="inc-20261120-0001",
        access_key_id="LTAI5tAPPBACKEND00000001",
        owner=Owner(type="ram-user", user_name="app-backend", found_by=["ram"]),
        decision=DecisionRecord(path="contain", reasons=["in use | not rotatable"]),
        actions=[
            Action(
                id="attach-deny-policy",
                step="Attach the explicit-deny policy",
                api="ram:AttachPolicyToUser",
                target="user/app-backend",
                status="done",
                at=AT,
                undo=UndoStep(
                    reversible=True,
                    api="ram:DetachPolicyFromUser",
                    params={"PolicyType": "Custom", "UserName": "app-backend"},
                ),
                before={"attached": False},
            ),
            Action(
                id="delete-key",
                step="Delete the compromised key",
                api="ram:DeleteAccessKey",
                target="LTAI5tAPPBACKEND00000001",
                status="skipped",
                detail="Not approved | timeout.",
                undo=UndoStep(reversible=False, note="a deleted key cannot return"),
            ),
        ],
        findings=[
            Finding(
                kind="new-source-ip",
                severity="high",
                summary="Calls from 203.0.113.9",
                event_ids=[f"E{number}" for number in range(7)],
            )
        ],
        permissions=[
            Permission(
                policy_name="AliyunECSFullAccess",
                policy_type="System",
                attached_to="user:app-backend",
                proposed_for_removal=True,
                reason="grants deletion",
            )
        ],
        related_credentials=[
            RelatedCredential(
                access_key_id="LTAI5tBACKDOOR000000001",
                user_name="backdoor",
                relation="created-by-compromised-key",
            )
        ],
        coverage=Coverage(
            window_start=AT,
            window_end=AT,
            sources=[CoverageEntry(source="actiontrail", status="complete", items=3)],
        ),
        timings=Timings(
            started_at=AT, finished_at=AT, to_containment_seconds=1.5, total_seconds=3
        ),
        responder=Responder(access_key_id="LTAI5tRESPONDER000000001"),
        next_steps=["Rotate the key when the applications can take a new one."],
    )


def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_report_schema_file_matches_model() -> None:
    committed = json.loads(SCHEMA_FILE.read_text())

    assert committed == json_schema(), (
        "docs/report.schema.json is out of date; regenerate it with "
        "python -m akresponder.report > docs/report.schema.json"
    )


def test_report_sample_validates() -> None:
    data = json.loads(sample_report().model_dump_json())

    errors = list(validator().iter_errors(data))

    assert errors == []


def test_report_minimal_validates() -> None:
    report = Report(
        incident_id="i",
        access_key_id="LTAI5tAPPBACKEND00000001",
        owner=Owner(type="unknown"),
        decision=DecisionRecord(path="manual", reasons=[]),
        timings=Timings(started_at=AT),
    )

    errors = list(validator().iter_errors(json.loads(report.model_dump_json())))

    assert errors == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("schema_version", "2.0"),
        ("mode", "nuke"),
        ("owner", {"type": "alien"}),
        ("decision", {"path": "burn", "reasons": []}),
    ],
)
def test_report_schema_rejects_bad_values(field: str, value: object) -> None:
    data = json.loads(sample_report().model_dump_json())
    data[field] = value

    errors = list(validator().iter_errors(data))

    assert errors


def test_report_schema_rejects_bad_action_status() -> None:
    data = json.loads(sample_report().model_dump_json())
    data["actions"][0]["status"] = "maybe"

    assert list(validator().iter_errors(data))


def test_report_schema_requires_every_top_field() -> None:
    data = json.loads(sample_report().model_dump_json())
    del data["coverage"]

    assert list(validator().iter_errors(data))


def test_write_report_round_trip(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"

    written = write_report(sample_report(), target)
    loaded = load_report(written)

    assert written == target.resolve()
    assert loaded == sample_report()
    assert loaded.schema_version == SCHEMA_VERSION
    assert [path.name for path in target.parent.iterdir()] == ["report.json"]


def test_write_report_scrubs_secrets(tmp_path: Path) -> None:
    secret = "xyzSecretNeverInReports000000001"
    redact.register_secret(secret)
    report = sample_report()
    report.next_steps.append(f"secret was {secret}")

    text = write_report(report, tmp_path / "r.json").read_text()

    assert secret not in text
    assert secret not in render_markdown(report)


def test_load_report_rejects_other_major_version(tmp_path: Path) -> None:
    data = json.loads(sample_report().model_dump_json())
    data["schema_version"] = "2.0"

    with pytest.raises(ValueError, match="schema_version '2.0'"):
        load_report(data)


def test_load_report_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        load_report(tmp_path / "nope.json")


def test_load_report_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")

    with pytest.raises(ValueError, match="not valid JSON"):
        load_report(path)


def test_render_markdown_sections() -> None:
    text = render_markdown(sample_report())

    for heading in ("## Decision", "## Actions", "## Findings", "## Coverage"):
        assert heading in text
    assert "## Timings" in text
    assert "## Next steps" in text
    assert "Not approved \\| timeout." in text
    assert "ram:DetachPolicyFromUser" in text
    assert "manual: a deleted key cannot return" in text
    assert "E0, E1, E2, E3, E4 ..." in text
    assert "To containment: 1.5 s" in text
