"""``scripts/test.sh``: the interpreter that creates ``.venv`` comes from $PYTHON."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A stand-in for python3.11: it records its arguments, and for "-m venv DIR" creates a
# DIR/bin/python whose pip install fails, so that test.sh stops right after it.
FAKE_PYTHON = """#!/bin/sh
echo "$0 $*" >> "$CALLS"
if [ "$1" = "--version" ]; then echo "Python 3.11.9"; fi
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    mkdir -p "$3/bin"
    printf '#!/bin/sh\\nexit 7\\n' > "$3/bin/python"
    chmod +x "$3/bin/python"
fi
exit 0
"""


def _checkout(tmp_path: Path) -> Path:
    """Copy scripts/test.sh into an empty checkout without .venv."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "test.sh", checkout / "scripts" / "test.sh")
    return checkout


def _run(checkout: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "test.sh")],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_test_sh_uses_python_variable(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    fake = tmp_path / "python3.11"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls.txt"

    result = _run(checkout, {"PYTHON": str(fake), "CALLS": str(calls)})

    assert result.returncode == 1
    assert "Creating .venv with Python 3.11.9" in result.stdout
    assert f"{fake} -m venv .venv" in calls.read_text()
    assert (checkout / ".venv" / "bin" / "python").exists()


def test_test_sh_rejects_missing_python(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    missing = tmp_path / "no-such-python"

    result = _run(checkout, {"PYTHON": str(missing)})

    assert result.returncode == 1
    assert f"{missing} is missing or older than Python 3.11" in result.stderr
    assert "PYTHON=/path/to/python3.11" in result.stderr
    assert not (checkout / ".venv").exists()
