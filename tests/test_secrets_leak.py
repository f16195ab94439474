"""The session-end secret scan (tests/secret_scan.py) fails a session that leaks.

Each test runs a small pytest session in a subprocess, in a temporary folder outside
this session's ``basetemp`` that is removed afterwards, so the deliberate leaks never
reach this session's own scan.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.secret_scan import (
    describe_secret,
    scenario_secrets,
    searchable_bytes,
    sink_secret,
)

PROJECT = Path(__file__).resolve().parent.parent
SCENARIO = PROJECT / "tests" / "scenarios" / "basic.json"
# The tests below read the secret from the scenario at run time, so that no file of
# this session contains it outside a scenario.
READ_SECRET = f"""
import json
from pathlib import Path

SCENARIO = Path({str(SCENARIO)!r})


def scenario_secret():
    users = json.loads(SCENARIO.read_text())["users"]
    return users[0]["AccessKeys"][0]["AccessKeySecret"]
"""
LOGS_SECRET = """
import logging


def test_logs_secret():
    logging.getLogger("akresponder.leak").info("the key pair is %s", scenario_secret())
"""
WRITES_ISSUED_SECRET = """
from alibabacloud_ram20150501 import models

from emulator.testing import start_emulator
from tests.helpers import RESPONDER, ram_client


def test_writes_issued_secret(tmp_path):
    with start_emulator(str(SCENARIO)) as running:
        client = ram_client(running, *RESPONDER)
        created = client.create_access_key(
            models.CreateAccessKeyRequest(user_name="alice")
        ).body.access_key
    (tmp_path / "report.json").write_text(
        '{"note": "created %s"}' % created.access_key_secret
    )
"""
CLEAN = """
import logging


def test_logs_no_secret(tmp_path):
    logging.getLogger("akresponder.clean").info("the key id is LTAI5tEXAMPLE")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key.json").write_text(
        '{"AccessKeyId": "LTAI5tEXAMPLE0000000001", '
        '"AccessKeySecret": "%s"}' % scenario_secret()
    )
"""


@pytest.fixture
def outside_folder() -> Iterator[Path]:
    """A folder outside this session's basetemp, removed after the test."""
    folder = Path(tempfile.mkdtemp(prefix="akresponder-leak-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_session(
    folder: Path, modules: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    """Run pytest with the secret-scan plugin on ``modules`` inside ``folder``."""
    for name, body in modules.items():
        source = textwrap.dedent(READ_SECRET) + textwrap.dedent(body)
        (folder / f"{name}.py").write_text(source)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST_", "PREFECT_"))
    }
    env["PYTHONPATH"] = str(PROJECT)
    env["PREFECT_HOME"] = str(folder / "prefect")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.secret_scan",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(folder),
            "--basetemp",
            str(folder / "basetemp"),
            "-q",
            *extra,
            *(f"{name}.py" for name in modules),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def scenario_secret() -> str:
    users = json.loads(SCENARIO.read_text())["users"]
    return users[0]["AccessKeys"][0]["AccessKeySecret"]


@pytest.mark.slow
def test_secret_scan_fails_on_logged_secret(outside_folder: Path) -> None:
    secret = scenario_secret()

    completed = run_session(outside_folder, {"test_leak": LOGS_SECRET})

    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output[-3000:]
    assert "1 passed" in output
    assert f"secret {describe_secret(secret)} found in" in output
    assert "session.log" in output
    assert secret not in output


@pytest.mark.slow
def test_secret_scan_fails_under_xdist(outside_folder: Path) -> None:
    secret = scenario_secret()

    completed = run_session(
        outside_folder,
        {"test_leak_log": LOGS_SECRET, "test_leak_file": WRITES_ISSUED_SECRET},
        "-n",
        "2",
    )

    output = completed.stdout + completed.stderr
    hits = [line for line in output.splitlines() if " found in " in line]
    assert completed.returncode == 1, output[-3000:]
    assert "2 passed" in output
    assert any(describe_secret(secret) in line for line in hits), hits
    assert any("session.log" in line and "popen-gw" in line for line in hits), hits
    assert any(line.endswith("report.json") for line in hits), hits
    assert secret not in output


@pytest.mark.slow
def test_secret_scan_passes_clean_session(outside_folder: Path) -> None:
    completed = run_session(outside_folder, {"test_clean": CLEAN}, "-vv")

    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-3000:]
    assert "no leak" in output


def test_searchable_bytes_blanks_allowed_fields(tmp_path: Path) -> None:
    secret = scenario_secret()
    scenario = SCENARIO.read_bytes()
    sink = json.dumps({"AccessKeyId": "LTAI5tX", "AccessKeySecret": secret}).encode()
    report = json.dumps({"note": secret, "AccessKeySecret": secret}).encode()

    assert secret.encode() not in searchable_bytes(tmp_path / "s.json", scenario)
    assert secret.encode() not in searchable_bytes(tmp_path / "k.json", sink)
    assert secret.encode() in searchable_bytes(tmp_path / "r.json", report)
    assert secret.encode() in searchable_bytes(tmp_path / "r.log", sink)


def test_scenario_secrets_cover_shipped_scenarios() -> None:
    secrets = scenario_secrets()

    assert scenario_secret() in secrets
    assert sink_secret({"AccessKeyId": "LTAI5tX", "AccessKeySecret": "x"}) == "x"
    assert sink_secret({"AccessKeySecret": "x", "note": 1}) is None
    shipped = json.loads(
        (PROJECT / "emulator" / "scenarios" / "invictus-attack.json").read_text()
    )
    shipped_keys = [
        key["AccessKeySecret"]
        for user in shipped.get("users", [])
        for key in user.get("AccessKeys", [])
    ]
    assert shipped_keys
    assert set(shipped_keys) <= secrets


def test_describe_secret_shows_four_characters() -> None:
    described = describe_secret("abcdEFGHijklMNOPqrstUVWX")

    assert described.startswith("abcd...")
    assert "EFGH" not in described


def test_searchable_bytes_blanks_credential_files(tmp_path: Path) -> None:
    secret = scenario_secret()
    profile = {"profiles": [{"name": "default", "access_key_secret": secret}]}
    cli_config = json.dumps(profile).encode()
    ini = f"[default]\ntype = access_key\naccess_key_secret = {secret}\n".encode()

    aliyun = tmp_path / ".aliyun"
    assert secret.encode() not in searchable_bytes(aliyun / "config.json", cli_config)
    assert secret.encode() not in searchable_bytes(tmp_path / "credentials.ini", ini)
    assert secret.encode() in searchable_bytes(tmp_path / "config.json", cli_config)
    assert secret.encode() in searchable_bytes(tmp_path / "notes.ini", ini)
