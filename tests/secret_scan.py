"""Pytest plugin: after the session, search everything the tests wrote for secrets.

The secrets are every AccessKeySecret in the scenario files (``tests/scenarios`` and
the shipped ``emulator/scenarios``), every secret in the sample alert payloads
(``tests/data/alerts``), every secret and STS token that an emulator started with
``start_emulator`` issued (``emulator.testing.issued_secrets``), and the secret in
every secret-sink file found.

The places searched:

* the logging output of the whole session, which a handler on the root logger writes
  to ``<basetemp>/secret-scan/session.log`` (akresponder's, the flows', the tasks' and
  the emulator's loggers are set to DEBUG for it);
* every file under the session's ``basetemp`` (each test's ``tmp_path``: reports,
  journals, evidence, sink files, the CLI's Prefect homes);
* the Prefect home of the session and the files of the Prefect test harness
  (database and result storage), plus the logs, artifacts and flow-run parameters
  read back through the harness API before it stops;
* files in the project folder and in ``~/.akresponder`` changed during the session.

A secret may appear only as the value of an ``AccessKeySecret`` field of a scenario
(a JSON object with ``account_id``) or of a secret-sink file (``{"AccessKeyId": ...,
"AccessKeySecret": ...}``), and as a secret field of the credential chain's files
(``.aliyun/config.json``, ``credentials.ini``). Any other hit sets the exit status to
1 and prints the first 4 characters of the secret and where it was found.

Under pytest-xdist each worker searches its own logs, files and harness for the
secrets it has seen, and sends the hits to the controller, which reports them and
fails.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SCENARIO_FOLDERS = (PROJECT / "tests" / "scenarios", PROJECT / "emulator" / "scenarios")
ALERT_FOLDER = PROJECT / "tests" / "data" / "alerts"
# The GitHub secret types whose value is an AccessKeySecret.
GITHUB_SECRET_TYPES = ("alibaba_cloud_access_key_secret",)
# Loggers set to DEBUG for the session log; the rest keep their levels.
DEBUG_LOGGERS = ("akresponder", "tasks", "flows", "blocks", "emulator")
# Shorter values would match ordinary words in logs.
MIN_SECRET_LENGTH = 12
# Files larger than this are not read whole into memory, and are reported as not
# searched.
MAX_FILE_BYTES = 512 * 1024 * 1024
SKIPPED_FOLDERS = {
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".ruff_cache",
    "node_modules",
    "build",
    "dist",
}
# Project files whose changes during a session are sources, not test output.
SOURCE_SUFFIXES = {".py", ".pyc", ".toml", ".cfg", ".ini", ".sh", ".md", ".txt"}
WORKER_OUTPUT = "secret_scan_hits"
# The secret fields of the aliyun CLI's config.json and of credentials.ini.
CREDENTIAL_FIELDS = (b"access_key_secret", b"sts_token", b"security_token")


def scenario_secrets(folders: Iterable[Path] = SCENARIO_FOLDERS) -> set[str]:
    """Return every AccessKeySecret value in the JSON files of ``folders``."""
    secrets: set[str] = set()
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            secrets.update(_values_of(document, "AccessKeySecret"))
    return secrets


def alert_secrets(folder: Path = ALERT_FOLDER) -> set[str]:
    """Return every secret in the sample alert payloads of ``folder``.

    These are the ``AccessKeySecret`` values (an ActionTrail CreateAccessKey
    event's ``responseElements``), the ``token`` of a GitHub partner message item
    and the ``secret`` of a GitHub alert whose type is an AccessKeySecret.
    """
    secrets: set[str] = set()
    for path in sorted(folder.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        secrets.update(_values_of(document, "AccessKeySecret"))
        for item in _objects_of(document):
            if item.get("type") in GITHUB_SECRET_TYPES:
                value = item.get("token")
            elif item.get("secret_type") in GITHUB_SECRET_TYPES:
                value = item.get("secret")
            else:
                continue
            if isinstance(value, str):
                secrets.add(value)
    return secrets


def _objects_of(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, dict):
        yield document
        for value in document.values():
            yield from _objects_of(value)
    elif isinstance(document, list):
        for item in document:
            yield from _objects_of(item)


def _values_of(document: Any, field: str) -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            if key == field and isinstance(value, str):
                yield value
            else:
                yield from _values_of(value, field)
    elif isinstance(document, list):
        for item in document:
            yield from _values_of(item, field)


def _without_field(document: Any, field: str) -> Any:
    if isinstance(document, dict):
        return {
            key: ("" if key == field else _without_field(value, field))
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [_without_field(item, field) for item in document]
    return document


def sink_secret(document: Any) -> str | None:
    """Return the secret of a secret-sink file's content, or None for other content."""
    if (
        isinstance(document, dict)
        and set(document) == {"AccessKeyId", "AccessKeySecret"}
        and isinstance(document["AccessKeySecret"], str)
    ):
        return document["AccessKeySecret"]
    return None


def searchable_bytes(path: Path, data: bytes) -> bytes:
    """Return the part of a file's content in which no secret may appear.

    Scenario files and secret-sink files may hold secrets as ``AccessKeySecret``
    values, and the credential files of Alibaba's credential chain
    (``~/.aliyun/config.json``, ``credentials.ini``) as their secret fields, so those
    values are blanked. Any other file is searched whole.
    """
    if path.name == "credentials.ini":
        kept = [
            line
            for line in data.splitlines()
            if not line.strip().lower().startswith(CREDENTIAL_FIELDS)
        ]
        return b"\n".join(kept)
    if not path.name.endswith(".json"):
        return data
    try:
        document = json.loads(data)
    except ValueError:
        return data
    is_scenario = isinstance(document, dict) and "account_id" in document
    if is_scenario or sink_secret(document) is not None:
        return json.dumps(_without_field(document, "AccessKeySecret")).encode()
    if path.name == "config.json" and path.parent.name == ".aliyun":
        for field in CREDENTIAL_FIELDS:
            document = _without_field(document, field.decode())
        return json.dumps(document).encode()
    return data


def find_secrets(data: bytes, secrets: dict[bytes, str]) -> list[str]:
    """Return the secrets (as text) that occur in ``data``."""
    return [text for raw, text in secrets.items() if raw in data]


def describe_secret(secret: str) -> str:
    """Return the first 4 characters of a secret and its length, never more."""
    return f"{secret[:4]}... ({len(secret)} characters)"


class SecretScan:
    """The plugin's state for one pytest process (the controller or one worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.time()
        self.log_path: Path | None = None
        self.handler: logging.Handler | None = None
        self.prefect_home = os.environ.get("PREFECT_HOME")
        self.harness_folders: list[Path] = []
        self.prefect_texts: list[tuple[str, str]] = []
        self.hits: list[dict[str, str]] = []
        self.worker_hits: list[dict[str, str]] = []
        self.secret_count = 0
        self.files_searched = 0
        self.bytes_searched = 0
        self.seconds = 0.0
        self.too_large: list[Path] = []

    # Session start: the session log.

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self._is_controller():
            return
        basetemp = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
        folder = basetemp / "secret-scan"
        folder.mkdir(exist_ok=True)
        self.log_path = folder / "session.log"
        self.handler = logging.FileHandler(self.log_path, encoding="utf-8")
        self.handler.setLevel(logging.DEBUG)
        self.handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
        logging.getLogger().addHandler(self.handler)
        for name in DEBUG_LOGGERS:
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET or logger.level > logging.DEBUG:
                logger.setLevel(logging.DEBUG)

    # The Prefect harness: read logs and artifacts back before it stops.

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Iterator[Any]:
        result = yield
        if fixturedef.argname == "prefect_harness":
            # Finalizers run last-added first, so this one runs while the harness
            # is still serving.
            fixturedef.addfinalizer(self.read_prefect_harness)
        return result

    def read_prefect_harness(self) -> None:
        """Store the harness's logs and artifacts and note its database folder."""
        from prefect.client.orchestration import get_client
        from prefect.logging.handlers import APILogHandler
        from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

        # Log lines still queued in this process reach the API only when flushed.
        APILogHandler().flush()
        url = str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value() or "")
        if url.startswith("sqlite"):
            self.harness_folders.append(Path(url.split(":///", 1)[-1]).parent)
        with get_client(sync_client=True) as client:
            offset = 0
            while True:
                logs = client.read_logs(limit=200, offset=offset)
                for log in logs:
                    self.prefect_texts.append((f"Prefect log {log.id}", log.message))
                if len(logs) < 200:
                    break
                offset += len(logs)
            offset = 0
            while True:
                artifacts = client.read_artifacts(limit=200, offset=offset)
                for artifact in artifacts:
                    where = f"Prefect artifact {artifact.key or artifact.id}"
                    text = json.dumps(artifact.data, default=str)
                    self.prefect_texts.append((where, text))
                    self.prefect_texts.append((where, artifact.description or ""))
                if len(artifacts) < 200:
                    break
                offset += len(artifacts)
            # Parameters are stored when a run is created, before its code runs.
            offset = 0
            while True:
                runs = client.read_flow_runs(limit=200, offset=offset)
                for run in runs:
                    where = f"Prefect flow run {run.name} ({run.id}) parameters"
                    text = json.dumps(run.parameters, default=str)
                    self.prefect_texts.append((where, text))
                if len(runs) < 200:
                    break
                offset += len(runs)

    # Session end: collect the secrets and search.

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.handler is not None:
            logging.getLogger().removeHandler(self.handler)
            self.handler.close()
        if self._is_controller():
            self.hits = self.worker_hits
        else:
            self.hits = self.search()
            workeroutput = getattr(self.config, "workeroutput", None)
            if workeroutput is not None:
                workeroutput[WORKER_OUTPUT] = self.hits
        if self.hits:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            if self.config.pluginmanager.get_plugin("terminalreporter") is None:
                for line in self.report_lines():
                    print(line, file=sys.stderr)

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """Collect a worker's hits (pytest-xdist calls this on the controller)."""
        output = getattr(node, "workeroutput", None) or {}
        for hit in output.get(WORKER_OUTPUT, []):
            if hit not in self.worker_hits:
                self.worker_hits.append(hit)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.hits:
            terminalreporter.section("secret scan", red=True, bold=True)
            for line in self.report_lines():
                terminalreporter.write_line(line, red=True)
        elif not self._is_controller() and self.config.option.verbose > 0:
            terminalreporter.write_line(
                f"secret scan: {self.secret_count} secrets in "
                f"{self.files_searched} files ({self.bytes_searched / 1e6:.1f} MB) "
                f"and {len(self.prefect_texts)} Prefect texts, "
                f"{self.seconds:.1f} s, no leak"
            )
        for path in self.too_large:
            terminalreporter.write_line(f"secret scan: not searched, too large: {path}")

    def report_lines(self) -> list[str]:
        lines = [
            f"secret scan: secret {hit['secret']} found in {hit['where']}"
            for hit in self.hits
        ]
        lines.append(
            f"secret scan: {len(self.hits)} leak(s); the session fails. Find the "
            "code that wrote each value and pass it through akresponder.redact."
        )
        return lines

    def _is_controller(self) -> bool:
        """True in the pytest-xdist controller, which runs no tests itself."""
        if getattr(self.config, "workerinput", None) is not None:
            return False
        numprocesses = getattr(self.config.option, "numprocesses", None)
        dist = getattr(self.config.option, "dist", "no")
        return bool(numprocesses) or dist not in (None, "no")

    def search(self) -> list[dict[str, str]]:
        """Search every place listed in the module docstring; return the hits."""
        started = time.monotonic()
        try:
            return self._search()
        finally:
            self.seconds = time.monotonic() - started

    def _search(self) -> list[dict[str, str]]:
        secrets = scenario_secrets() | alert_secrets()
        if "emulator.testing" in sys.modules:
            secrets |= sys.modules["emulator.testing"].issued_secrets()
        files = list(self._files())
        # Secret-sink files add their secrets, so that a copy elsewhere is caught.
        for path in files:
            if path.name.endswith(".json") and path.stat().st_size < 4096:
                try:
                    secret = sink_secret(json.loads(path.read_bytes()))
                except (OSError, ValueError):
                    continue
                if secret:
                    secrets.add(secret)
        wanted = {
            secret.encode("utf-8"): secret
            for secret in secrets
            if len(secret) >= MIN_SECRET_LENGTH
        }
        self.secret_count = len(wanted)
        hits: list[dict[str, str]] = []
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue
            self.files_searched += 1
            self.bytes_searched += len(data)
            for secret in find_secrets(searchable_bytes(path, data), wanted):
                hits.append({"secret": describe_secret(secret), "where": str(path)})
        for where, text in self.prefect_texts:
            for secret in find_secrets(text.encode("utf-8"), wanted):
                hits.append({"secret": describe_secret(secret), "where": where})
        return hits

    def _files(self) -> Iterator[Path]:
        seen: set[Path] = set()
        roots: list[tuple[Path, bool]] = []
        basetemp = self.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
        roots.append((basetemp, False))
        if self.prefect_home:
            roots.append((Path(self.prefect_home), False))
        roots.extend((folder, False) for folder in self.harness_folders)
        roots.append((PROJECT, True))
        roots.append((Path.home() / ".akresponder", True))
        for root, changed_only in roots:
            for path in _walk(root):
                if path in seen:
                    continue
                seen.add(path)
                try:
                    status = path.stat()
                except OSError:
                    continue
                if status.st_size > MAX_FILE_BYTES:
                    self.too_large.append(path)
                    continue
                if changed_only and (
                    status.st_mtime < self.started or path.suffix in SOURCE_SUFFIXES
                ):
                    continue
                yield path


def _walk(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for folder, folders, files in os.walk(root):
        folders[:] = [
            name
            for name in folders
            if name not in SKIPPED_FOLDERS and not name.endswith(".egg-info")
        ]
        for name in files:
            path = Path(folder) / name
            if path.is_file():
                yield path


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SecretScan(config), "akresponder-secret-scan")
