"""Child processes for the service benchmarks and their test, all on 127.0.0.1.

The pieces of a production setup, each started as its own process: a Prefect
server (SQLite under a private ``PREFECT_HOME``, analytics off, no UI), the emulator,
``python -m deployments.serve`` and ``python -m deployments.receiver``. Every child
runs in its own process group; ``Child.stop`` sends SIGTERM to that group and
SIGKILL after 15 s. Proxy variables are removed from every child's environment,
because the Tea SDK ignores NO_PROXY.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
)
RESPONSE_DEPLOYMENT = "respond-to-compromised-key/respond"
INTAKE_DEPLOYMENT = "alert-intake/alert-intake"
# Every deployment of deployments.serve; the sweep and undo become ready last,
# when Prefect's runner has started.
SERVED_DEPLOYMENTS = (
    RESPONSE_DEPLOYMENT,
    INTAKE_DEPLOYMENT,
    "sweep-all-keys/daily-sweep",
    "undo-response/undo",
)
RESPONSE_FLOW = "respond-to-compromised-key"
INTAKE_FLOW = "alert-intake"
FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})


class StackError(RuntimeError):
    """A child process did not start; the message names it and its log."""


def cpu_model() -> str:
    """Read the CPU model name from /proc/cpuinfo, or fall back to ``platform``."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def write_doc_section(doc: Path, heading: str, lines: list[str]) -> None:
    """Replace the section under ``heading`` in ``doc``, or append it at the end."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    pattern = re.compile(
        rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL
    )
    section = f"{heading}\n\n" + "\n".join(lines) + "\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text.rstrip("\n") + "\n")


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2
) -> Any:
    """Call ``check`` until it returns a true value and return that value.

    Raises ``TimeoutError`` naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def base_environment(prefect_home: Path) -> dict[str, str]:
    """Return this process's environment for a child: no proxies, a private Prefect.

    ``PREFECT_API_URL`` and ``PREFECT_PROFILE`` are removed, so that a child talks to
    no Prefect server unless the caller sets one.
    """
    env = {
        name: value for name, value in os.environ.items() if name not in PROXY_VARIABLES
    }
    for name in ("PREFECT_API_URL", "PREFECT_PROFILE"):
        env.pop(name, None)
    env.update(
        {
            "PREFECT_HOME": str(prefect_home),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
            "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        }
    )
    return env


class Child:
    """A child process in its own process group, with stderr (and stdout) in a file.

    With ``first_line=True`` stdout stays a pipe and ``first_line()`` returns the
    first line the child prints, such as ``listening on http://127.0.0.1:PORT``.
    """

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log_dir: Path,
        *,
        first_line: bool = False,
    ) -> None:
        self.name = name
        self.command = command
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if first_line else self._log,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )

    def first_line(self, timeout: float) -> str:
        """Return the first stdout line, or raise ``StackError`` with the log."""
        assert self.process.stdout is not None
        result: dict[str, str] = {}
        reader = threading.Thread(
            target=lambda: result.setdefault("line", self.process.stdout.readline()),
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        line = result.get("line", "").strip()
        if not line:
            raise StackError(
                f"{self.name} printed nothing within {timeout:.0f} s; its log "
                f"{self.log_path} ends with: {self.tail()}"
            )
        return line

    def check_running(self) -> None:
        """Raise ``StackError`` with the log's end when the child has exited."""
        if self.process.poll() is not None:
            raise StackError(
                f"{self.name} exited with status {self.process.returncode}; its log "
                f"{self.log_path} ends with: {self.tail()}"
            )

    def tail(self, size: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-size:]

    def stop(self) -> None:
        """Send SIGTERM to the child's group, then SIGKILL after 15 s."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


def prefect_api(api_url: str) -> httpx.Client:
    """Return an HTTP client for Prefect's REST API that ignores proxy settings."""
    return httpx.Client(base_url=api_url, trust_env=False, timeout=30)


def start_prefect_server(env: dict[str, str], log_dir: Path) -> tuple[Child, str]:
    """Start ``prefect server start`` on a free port; return it and its API URL.

    Waits until ``/api/health`` returns 200 (about 16 s with a new database on 2
    cores).
    """
    port = free_port()
    server = Child(
        "prefect-server",
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ui",
            "--analytics-off",
        ],
        env,
        log_dir,
    )
    api_url = f"http://127.0.0.1:{port}/api"
    with prefect_api(api_url) as client:

        def healthy() -> bool:
            server.check_running()
            try:
                return client.get("/health").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 120, "the Prefect server's /api/health")
    return server, api_url


def start_emulator(
    scenario: Path, env: dict[str, str], log_dir: Path, name: str = "emulator"
) -> tuple[Child, str]:
    """Start ``python -m emulator serve`` on a free port; return it and its URL."""
    child = Child(
        name,
        [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--scenario",
            str(scenario),
            "--port",
            "0",
        ],
        env,
        log_dir,
        first_line=True,
    )
    line = child.first_line(120)
    if not line.startswith("listening on http://"):
        child.stop()
        raise StackError(f"the emulator printed {line!r} instead of its address")
    return child, line.removeprefix("listening on ")


def start_serve(
    env: dict[str, str], log_dir: Path, api_url: str, extra_args: list[str]
) -> Child:
    """Start ``python -m deployments.serve`` and wait until it polls for every run.

    A deployment counts once the API records a poll after this start and it is not
    paused: the status of an earlier serve process stays ``READY`` for a minute.
    """
    started = datetime.now(UTC)
    child = Child(
        "serve",
        [sys.executable, "-m", "deployments.serve", "--no-sweep-schedule", *extra_args],
        env,
        log_dir,
    )
    with prefect_api(api_url) as client:

        def deployed() -> bool:
            child.check_running()
            for name in SERVED_DEPLOYMENTS:
                response = client.get(f"/deployments/name/{name}")
                if response.status_code != 200:
                    return False
                deployment = response.json()
                polled = deployment.get("last_polled")
                if deployment.get("paused") or not polled:
                    return False
                if datetime.fromisoformat(polled.replace("Z", "+00:00")) < started:
                    return False
            return True

        wait_for(deployed, 120, "the served deployments", interval=0.5)
    return child


def start_receiver(env: dict[str, str], log_dir: Path) -> tuple[Child, str]:
    """Start ``python -m deployments.receiver`` on a free port; return it, its URL."""
    child = Child(
        "receiver",
        [sys.executable, "-m", "deployments.receiver", "--port", "0"],
        env,
        log_dir,
        first_line=True,
    )
    line = child.first_line(90)
    if not line.startswith("listening on http://"):
        child.stop()
        raise StackError(f"the receiver printed {line!r} instead of its address")
    return child, line.removeprefix("listening on ")


def save_settings_block(api_url: str, name: str, **fields: Any) -> None:
    """Save an ``akresponder-settings`` block in the Prefect server at ``api_url``."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from blocks.settings import ResponderSettings

    with temporary_settings({PREFECT_API_URL: api_url}):
        ResponderSettings(**fields).save(name, overwrite=True)


def flow_runs(
    client: httpx.Client, flow_name: str, tags: list[str] | None = None
) -> list[dict[str, Any]]:
    """Return the runs of ``flow_name`` that carry every tag of ``tags``."""
    body: dict[str, Any] = {"flows": {"name": {"any_": [flow_name]}}, "limit": 200}
    if tags:
        body["flow_runs"] = {"tags": {"all_": tags}}
    runs: list[dict[str, Any]] = []
    while True:
        response = client.post("/flow_runs/filter", json={**body, "offset": len(runs)})
        response.raise_for_status()
        page = response.json()
        runs.extend(page)
        if len(page) < body["limit"]:
            return runs


def state_of(run: dict[str, Any]) -> str:
    """Return a flow run's state type, such as ``COMPLETED``."""
    return (run.get("state") or {}).get("type") or "UNKNOWN"
