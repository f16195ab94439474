"""Helpers to run the emulator in tests and build SDK clients that talk to it.

``start_emulator`` serves a scenario from a thread of the current process, which starts
in milliseconds and exposes the live ``Cloud`` for assertions.
``start_emulator_process`` runs ``python -m emulator serve`` as a child process, as
users and the benchmark do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emulator.faults import parse_rules
from emulator.scenario import load_scenario
from emulator.server import Emulator, EmulatorHTTPServer, make_server
from emulator.state import Cloud

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
)


def clear_proxy_environment() -> None:
    """Remove proxy variables, because the Tea SDK ignores NO_PROXY."""
    for name in PROXY_VARIABLES:
        os.environ.pop(name, None)


def control_request(url: str, method: str, path: str, json_body: Any = None) -> Any:
    """Call a control endpoint (``/__emu/...``) and return its JSON body.

    Raises ``RuntimeError`` with the emulator's message when the call fails.
    """
    data = None if json_body is None else json.dumps(json_body).encode("utf-8")
    request = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        detail = error.read().decode("utf-8", errors="replace")
        raise RuntimeError(
            f"{method} {path} failed with HTTP {error.code}: {detail}"
        ) from None


# Every Cloud that start_emulator served in this process, and the secrets of those
# already stopped, so that a test session can check that no secret leaked.
_served_clouds: weakref.WeakValueDictionary[int, Cloud] = weakref.WeakValueDictionary()
_stopped_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def _cloud_secrets(cloud: Cloud) -> set[str]:
    with cloud.lock:
        secrets = {key.secret for key in cloud.access_keys.values()}
        for session in cloud.sts_sessions.values():
            secrets.update((session.secret, session.security_token))
    return {secret for secret in secrets if secret}


def issued_secrets() -> set[str]:
    """Return every AccessKeySecret, STS secret and STS token of the emulators served.

    This covers the scenario keys and the keys and tokens the emulators issued
    (CreateAccessKey, AssumeRole) in this process, running or stopped. Emulators run
    by ``start_emulator_process`` are not included.
    """
    with _secrets_lock:
        secrets = set(_stopped_secrets)
        clouds = list(_served_clouds.values())
    for cloud in clouds:
        secrets |= _cloud_secrets(cloud)
    return secrets


class RunningEmulator:
    """An emulator serving on 127.0.0.1 from a background thread of this process."""

    def __init__(self, emulator: Emulator, server: EmulatorHTTPServer) -> None:
        self.emulator = emulator
        self.server = server
        host, port = server.server_address[:2]
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self.endpoint = f"{host}:{port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        with _secrets_lock:
            _served_clouds[id(emulator.cloud)] = emulator.cloud

    @property
    def cloud(self) -> Cloud:
        return self.emulator.cloud

    def control(self, method: str, path: str, json: Any = None) -> Any:  # noqa: A002
        """Call a control endpoint; ``path`` may omit the ``/__emu`` prefix."""
        if not path.startswith("/__emu"):
            path = "/__emu/" + path.lstrip("/")
        return control_request(self.url, method, path, json)

    def stop(self) -> None:
        """Stop serving, close open connections and free the port."""
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self._thread.join(timeout=5)
        secrets = _cloud_secrets(self.cloud)
        with _secrets_lock:
            _stopped_secrets.update(secrets)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_emulator(
    scenario: str | Path | dict[str, Any],
    *,
    faults: list[dict[str, Any]] | dict[str, Any] | None = None,
    check_clock_skew: bool = True,
    freeze_clock: bool = False,
    ram_rate_limit: float | None = None,
    config: dict[str, Any] | None = None,
) -> RunningEmulator:
    """Load a scenario and serve it on a free port of 127.0.0.1 from a thread.

    ``config`` takes the settings of ``POST /__emu/config``, such as
    ``{"lookup_events_rate_limit": None}`` to lift ActionTrail's two calls per second.
    Use the result as a context manager, or call ``stop()``.
    """
    clear_proxy_environment()
    cloud = load_scenario(scenario, freeze_clock=freeze_clock)
    emulator = Emulator(
        cloud,
        check_clock_skew=check_clock_skew,
        ram_rate_limit=ram_rate_limit,
        faults=parse_rules(faults) if faults is not None else None,
    )
    if config:
        from emulator.control import apply_config

        apply_config(emulator, config)
    server = make_server(emulator, "127.0.0.1", 0)
    return RunningEmulator(emulator, server)


class EmulatorProcess:
    """``python -m emulator serve`` running as a child process."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.endpoint = url.removeprefix("http://")

    def control(self, method: str, path: str, json: Any = None) -> Any:  # noqa: A002
        if not path.startswith("/__emu"):
            path = "/__emu/" + path.lstrip("/")
        return control_request(self.url, method, path, json)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def start_emulator_process(
    scenario: str | Path,
    *,
    extra_args: list[str] | None = None,
    startup_timeout: float = 30.0,
) -> Iterator[EmulatorProcess]:
    """Run ``python -m emulator serve --port 0`` and yield it once it is listening.

    Raises ``RuntimeError`` with the child's stderr when it exits or prints something
    other than ``listening on http://HOST:PORT`` first.
    """
    clear_proxy_environment()
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    command = [
        sys.executable,
        "-m",
        "emulator",
        "serve",
        "--scenario",
        str(scenario),
        "--port",
        "0",
        *(extra_args or []),
    ]
    project_root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        command,
        cwd=project_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    result: dict[str, str] = {}

    def read_first_line() -> None:
        assert process.stdout is not None
        result["line"] = process.stdout.readline()

    reader = threading.Thread(target=read_first_line, daemon=True)
    reader.start()
    reader.join(startup_timeout)
    line = result.get("line", "").strip()
    if not line.startswith("listening on http://"):
        process.kill()
        _, stderr = process.communicate(timeout=10)
        raise RuntimeError(
            f"emulator did not start (first line {line!r}); command "
            f"{' '.join(command)}; stderr: {stderr.strip()[-2000:]}"
        )
    running = EmulatorProcess(process, line.removeprefix("listening on "))
    try:
        yield running
    finally:
        running.stop()


def pop_config(
    endpoint: str,
    access_key_id: str,
    secret: str,
    security_token: str | None = None,
    signature_algorithm: str | None = None,
):  # -> alibabacloud_tea_openapi.models.Config
    """Build a Tea SDK ``Config`` that points a POP client at the emulator."""
    from alibabacloud_tea_openapi import models as open_api_models

    return open_api_models.Config(
        access_key_id=access_key_id,
        access_key_secret=secret,
        security_token=security_token,
        endpoint=endpoint.removeprefix("http://"),
        protocol="http",
        region_id="cn-hangzhou",
        signature_algorithm=signature_algorithm,
        read_timeout=10000,
        connect_timeout=2000,
    )


def sls_client(
    endpoint: str,
    access_key_id: str,
    secret: str,
    security_token: str | None = None,
    auth_version: str = "v1",
):  # -> aliyun.log.LogClient
    """Build an SLS ``LogClient`` for the emulator.

    ``_isRowIp`` is forced on because the SDK only recognises a bare IP without a port,
    and would otherwise connect to ``<project>.127.0.0.1:PORT`` by name.
    """
    from aliyun.log import LogClient

    client = LogClient(
        endpoint.removeprefix("http://"),
        access_key_id,
        secret,
        securityToken=security_token,
        auth_version=auth_version,
        region="cn-hangzhou",
    )
    client._isRowIp = True
    return client
