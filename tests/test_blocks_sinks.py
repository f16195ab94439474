"""Secret sinks: names, file permissions, and refusal to overwrite."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from akresponder import redact
from akresponder.sinks import (
    DiscardSink,
    FileSink,
    SinkError,
    make_sink,
    secret_name,
)

SECRET = "Mn4bV5cX6zL7kJ8hG9fD0sA1qW2eR3"
KEY_ID = "LTAI5tNEWKEY000000000001"


def test_sinks_secret_name_is_block_safe() -> None:
    name = secret_name("akresponder-{user}-{key_id}", "App.Backend@corp", KEY_ID)
    assert name == "akresponder-app-backend-corp-ltai5tnewkey000000000001"


def test_sinks_secret_name_rejects_unknown_field() -> None:
    with pytest.raises(ValueError) as caught:
        secret_name("{owner}-{key_id}", "alice", KEY_ID)
    assert "use the fields {user} and {key_id}" in str(caught.value)


def test_sinks_file_sink_writes_0600_in_0700_dir(tmp_path: Path) -> None:
    directory = tmp_path / "secrets"
    where = FileSink(directory).deliver("alice", KEY_ID, SECRET)
    path = Path(where)
    assert path.parent == directory
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {
        "AccessKeyId": KEY_ID,
        "AccessKeySecret": SECRET,
    }
    assert SECRET not in where
    assert redact.scrub_text(SECRET) == "***"


def test_sinks_file_sink_never_overwrites(tmp_path: Path) -> None:
    sink = FileSink(tmp_path)
    sink.deliver("alice", KEY_ID, SECRET)
    with pytest.raises(SinkError) as caught:
        sink.deliver("alice", KEY_ID, "Other0Secret1Value2For3Test4xy")
    assert "could not create secret file" in str(caught.value)
    assert json.loads(next(tmp_path.iterdir()).read_text())["AccessKeySecret"] == SECRET


def test_sinks_discard_sink_keeps_nothing() -> None:
    where = DiscardSink().deliver("alice", KEY_ID, SECRET)
    assert where == "discarded (sink kind 'none')"


@pytest.mark.parametrize(
    ("kind", "options", "expected"),
    [
        ("file", {}, "the file secret sink needs a directory"),
        ("vault", {}, "unknown secret sink kind 'vault'"),
    ],
)
def test_sinks_make_sink_rejects(kind: str, options: dict, expected: str) -> None:
    with pytest.raises(ValueError) as caught:
        make_sink(kind, **options)
    assert expected in str(caught.value)
