"""The incident journal: atomic saves, resuming, and refusal of bad files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from akresponder.journal import Journal, JournalError, default_state_dir
from akresponder.report import Action

KEY = "LTAI5tAPPBACKEND00000001"


def action(status: str = "done") -> Action:
    return Action(
        id="disable-key",
        step="Disable the key",
        api="ram:UpdateAccessKey",
        target=KEY,
        status=status,
    )


def test_journal_new_is_not_written_until_saved(tmp_path: Path) -> None:
    journal = Journal.open(KEY, state_dir=tmp_path, incident_id="inc-1")

    assert not journal.exists
    assert not journal.resumed
    assert journal.incident_id == "inc-1"


def test_journal_record_persists_and_resumes(tmp_path: Path) -> None:
    first = Journal.open(KEY, state_dir=tmp_path, incident_id="inc-1")
    first.record(action())
    first.set_fact("new_access_key_id", "LTAI5tNEWKEY000000000001")

    second = Journal.open(KEY, state_dir=tmp_path)

    assert second.resumed
    assert second.incident_id == "inc-1"
    assert second.is_done("disable-key")
    assert not second.is_done("delete-key")
    assert second.fact("new_access_key_id") == "LTAI5tNEWKEY000000000001"
    assert [item.id for item in second.actions()] == ["disable-key"]


def test_journal_not_done_when_failed(tmp_path: Path) -> None:
    journal = Journal.open(KEY, state_dir=tmp_path)
    journal.record(action("failed"))

    assert not Journal.open(KEY, state_dir=tmp_path).is_done("disable-key")


def test_journal_file_is_private_and_complete(tmp_path: Path) -> None:
    journal = Journal.open(KEY, state_dir=tmp_path, incident_id="inc-1")
    journal.record(action())

    mode = stat.S_IMODE(journal.path.stat().st_mode)
    data = json.loads(journal.path.read_text())

    assert mode == 0o600
    assert data["access_key_id"] == KEY
    assert data["actions"]["disable-key"]["status"] == "done"
    assert sorted(path.name for path in tmp_path.iterdir()) == [f"{KEY}.json"]


def test_journal_read_only_never_writes(tmp_path: Path) -> None:
    journal = Journal.open(KEY, state_dir=tmp_path, writable=False)
    journal.record(action())

    assert not journal.path.exists()
    assert journal.is_done("disable-key")


def test_journal_incident_id_replaced_when_given(tmp_path: Path) -> None:
    Journal.open(KEY, state_dir=tmp_path, incident_id="inc-1").save()

    journal = Journal.open(KEY, state_dir=tmp_path, incident_id="inc-2")

    assert journal.incident_id == "inc-2"


def test_journal_rejects_unsafe_key_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot name a journal file"):
        Journal.open("../../etc/passwd", state_dir=tmp_path)


def test_journal_rejects_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / f"{KEY}.json").write_text("{broken")

    with pytest.raises(JournalError, match="not valid JSON"):
        Journal.open(KEY, state_dir=tmp_path)


def test_journal_rejects_other_key_file(tmp_path: Path) -> None:
    Journal.open("LTAI5tOTHERKEY0000000001", state_dir=tmp_path).save()
    (tmp_path / "LTAI5tOTHERKEY0000000001.json").rename(tmp_path / f"{KEY}.json")

    with pytest.raises(JournalError, match="is for key 'LTAI5tOTHERKEY0000000001'"):
        Journal.open(KEY, state_dir=tmp_path)


def test_journal_default_dir_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AKRESPONDER_STATE_DIR", str(tmp_path / "state"))

    assert default_state_dir() == tmp_path / "state"
