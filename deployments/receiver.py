"""An HTTP receiver that turns alert webhooks into runs of the alert-intake deployment.

Run it with ``python -m deployments.receiver`` or ``akresponder receiver``::

    AKRESPONDER_RECEIVER_TOKEN=... PREFECT_API_URL=http://127.0.0.1:4200/api \\
        python -m deployments.receiver --port 8787

``POST /alerts`` and ``POST /alerts/<source>`` (``sas``, ``sls``, ``eventbridge``,
``github``, ``plain``...) accept the raw alert body. Each request is:

1. authenticated, with the shared token in ``Authorization: Bearer <token>`` or
   ``X-Akresponder-Token``, or with GitHub's ``X-Hub-Signature-256`` (HMAC-SHA256
   of the body with the webhook secret). Both are compared in constant time.
   Anything else gets 401;
2. limited in size (``--max-body-bytes``, 256 KiB by default, below Prefect's
   512 KiB limit on flow-run parameters): a larger body gets 413;
3. parsed with ``akresponder.alerts.parse_alert_with_rejected``: a payload that
   names no valid AccessKey ID gets 400 with the parser's message, an alert that
   needs no response (a resolved GitHub alert) gets 200 with ``"ignored"``. The
   reply's ``rejected`` lists the entries that are no valid ID, and the valid IDs
   of the same alert still start;
4. turned into a run of the alert-intake deployment through Prefect's REST API
   (``POST /api/deployments/{id}/create_flow_run``) with the payload, secrets
   masked, as the ``payload`` parameter and ``alert-intake-<alert id>-<hash of the
   AccessKey IDs>`` as the idempotency key. The first delivery of an idempotency
   key gets 202. A repeat gets 200 with ``"duplicate": true`` and the same run id:
   the receiver checks and records the key under one lock, so repeats that arrive
   together wait for the first one's run instead of racing it. Prefect's own
   idempotency covers repeats that this process does not remember (after a
   restart, or from another receiver), and makes a retried create return the
   same run;
5. retried while Prefect's API answers 429 or 5xx or drops the connection, always
   with the same idempotency key. When it still fails, the sender gets 503 with
   ``Retry-After``, so that it delivers the alert again; so do the repeats that
   were waiting for it.

Every request is logged with its status, alert id and run id, never with the token
or the body. The token comes from ``$AKRESPONDER_RECEIVER_TOKEN`` or the Prefect
Secret block named by ``--token-block``; the GitHub webhook secret from
``$AKRESPONDER_GITHUB_WEBHOOK_SECRET`` or ``--github-secret-block``. The receiver
does not start without one of them.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from akresponder import redact
from akresponder.alerts import (
    AlertedKey,
    AlertFormatError,
    AlertIgnored,
    alert_id_of,
    canonical_hash,
    mask_payload,
    normalize_source,
    parse_alert_with_rejected,
)

logger = logging.getLogger("akresponder.receiver")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_DEPLOYMENT = "alert-intake/alert-intake"
DEFAULT_MAX_BODY = 256 * 1024
ENV_TOKEN = "AKRESPONDER_RECEIVER_TOKEN"
ENV_TOKEN_BLOCK = "AKRESPONDER_RECEIVER_TOKEN_BLOCK"
ENV_GITHUB_SECRET = "AKRESPONDER_GITHUB_WEBHOOK_SECRET"
ENV_GITHUB_SECRET_BLOCK = "AKRESPONDER_GITHUB_WEBHOOK_SECRET_BLOCK"
RUN_TAGS = ("akresponder", "alert-intake")
# Seconds to wait for Prefect's API on each call.
PREFECT_TIMEOUT = 30.0
# Seconds to keep retrying a Prefect API call while the server is busy or
# unreachable, but at least RETRY_MIN_TRIES tries. The wait between tries starts
# at RETRY_BASE_DELAY, doubles up to RETRY_MAX_DELAY and is jittered by 0.5 to 1.5
# times. A SQLite-backed server rejects a create at once when another write
# commits during it, so short waits and many tries get through sooner than long
# waits. In a flood of 100 alerts on 2 loaded cores (bench/alert_flood.py), 8 tries
# over 30 s failed for 2 deliveries.
RETRY_SECONDS = 60.0
RETRY_MIN_TRIES = 5
RETRY_BASE_DELAY = 0.05
RETRY_MAX_DELAY = 1.0
# Failed tries of one call between two log lines.
RETRY_LOG_EVERY = 10
# Retry-After value, in seconds, that tells a sender when to deliver again.
RETRY_AFTER_SECONDS = 30
# How long and how many idempotency keys this process remembers. A repeat that
# comes later, or after a restart, gets its run from Prefect's idempotency key.
DEDUPE_SECONDS = 24 * 3600
DEDUPE_MAX_KEYS = 10_000
# Seconds a repeat waits for the first delivery of its alert to start the run.
REPEAT_WAIT_SECONDS = 60
# Prefect API calls in flight at once. A SQLite-backed Prefect server locks its
# database under parallel writes and answers 503, so a burst of deliveries waits
# here in line instead. With 4 in flight, 100 deliveries at once met 271 busy
# replies and 4 failed after every retry (bench/alert_flood.py, 2 cores); one at a
# time, none was busy and all were answered within 7 s.
PREFECT_CONCURRENCY = 1


class ReceiverError(Exception):
    """Failed request whose ``status`` and message are sent back to the sender.

    ``retry_after`` (seconds) becomes the ``Retry-After`` header of the reply.
    """

    def __init__(
        self, status: int, message: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def retryable_status(status: int) -> bool:
    """Return True for the HTTP statuses after which a Prefect API call is retried.

    A SQLite-backed server returns 503 while its database is locked, and 500 for
    other database errors. A proxy in front of it returns 502 or 504.
    """
    return status == 429 or status >= 500


@dataclass
class ReceiverConfig:
    """Settings of one receiver process."""

    token: str | None = None
    github_secret: str | None = None
    deployment: str = DEFAULT_DEPLOYMENT
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body: int = DEFAULT_MAX_BODY
    api_url: str | None = None
    api_headers: dict[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ``ValueError`` naming the fix when the settings cannot work."""
        if not self.token and not self.github_secret:
            raise ValueError(
                f"no sender can authenticate: set {ENV_TOKEN} (or --token-block) "
                f"and/or {ENV_GITHUB_SECRET} (or --github-secret-block)"
            )
        if self.token is not None and len(self.token) < 16:
            raise ValueError(
                "the receiver token has fewer than 16 characters; use a random "
                "value such as the output of: python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'"
            )
        if not self.api_url:
            raise ValueError(
                "PREFECT_API_URL is not set; start a Prefect server (prefect server "
                "start) and set PREFECT_API_URL=http://127.0.0.1:4200/api"
            )
        if "/" not in self.deployment:
            raise ValueError(
                f"deployment {self.deployment!r} must be <flow name>/<deployment "
                f"name>, such as {DEFAULT_DEPLOYMENT}"
            )
        if self.max_body < 1024:
            raise ValueError(f"--max-body-bytes {self.max_body} is below 1024")


def prefect_api_settings() -> tuple[str | None, dict[str, str]]:
    """Return Prefect's API URL and the auth headers its settings configure."""
    import base64

    from prefect.settings import get_current_settings

    settings = get_current_settings()
    headers: dict[str, str] = {}
    key = settings.api.key
    auth_string = settings.api.auth_string
    if key is not None:
        headers["Authorization"] = f"Bearer {key.get_secret_value()}"
    elif auth_string is not None:
        encoded = base64.b64encode(auth_string.get_secret_value().encode()).decode()
        headers["Authorization"] = f"Basic {encoded}"
    return settings.api.url, headers


class IntakeStarter:
    """Creates runs of the alert-intake deployment through Prefect's REST API."""

    def __init__(self, config: ReceiverConfig) -> None:
        assert config.api_url is not None
        self.deployment = config.deployment
        self.client = httpx.Client(
            base_url=config.api_url.rstrip("/"),
            headers=config.api_headers,
            timeout=PREFECT_TIMEOUT,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            trust_env=False,
        )
        self._lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(PREFECT_CONCURRENCY)
        self._deployment_id: str | None = None

    def close(self) -> None:
        self.client.close()

    def deployment_id(self, refresh: bool = False) -> str:
        """Look up (once) the id of the alert-intake deployment."""
        with self._lock:
            if self._deployment_id is not None and not refresh:
                return self._deployment_id
            flow_name, name = self.deployment.split("/", 1)
            response, _ = self._call("GET", f"/deployments/name/{flow_name}/{name}")
            if response.status_code == 404:
                raise ReceiverError(
                    503,
                    f"Prefect has no deployment {self.deployment}; serve it "
                    "(python -m deployments.serve) or deploy it (prefect deploy "
                    "--all), or pass --deployment",
                )
            self._expect_ok(response, "look up the deployment")
            self._deployment_id = str(response.json()["id"])
            return self._deployment_id

    def start(
        self, parameters: dict[str, Any], idempotency_key: str, tags: list[str]
    ) -> tuple[str, bool]:
        """Create the run and return its id and whether this call created it.

        Raises ``ReceiverError`` with 503 when the API stays busy or unreachable,
        and with 502 when it rejects the request.
        """
        body = {
            "parameters": parameters,
            "idempotency_key": idempotency_key,
            "tags": tags,
        }
        first_try = datetime.now(UTC)
        failed_tries = 0
        for attempt in (1, 2):
            deployment_id = self.deployment_id(refresh=attempt == 2)
            response, failures = self._call(
                "POST", f"/deployments/{deployment_id}/create_flow_run", json=body
            )
            failed_tries += failures
            if response.status_code == 404 and attempt == 1:
                continue  # the deployment was re-created under a new id
            break
        self._expect_ok(response, "create the alert-intake run")
        run = response.json()
        if response.status_code == 201:
            return str(run["id"]), True
        # 200: the key already had a run. After a failed try, that run may be this
        # call's own, committed before the connection dropped, so its creation
        # time decides. Prefect's clock is taken to agree with this one within 1 s.
        created = False
        if failed_tries and run.get("created"):
            run_created = datetime.fromisoformat(run["created"].replace("Z", "+00:00"))
            created = run_created >= first_try - timedelta(seconds=1)
        return str(run["id"]), created

    def _call(
        self, method: str, path: str, **kwargs: Any
    ) -> tuple[httpx.Response, int]:
        """Send one API request, retrying while the server is busy or unreachable.

        Returns the response and the number of failed tries before it. Raises
        ``ReceiverError`` (503, with ``Retry-After``) when every try failed. A
        SQLite-backed Prefect server returns 503 while its database is locked by
        other writers, and 500 for other database errors. The idempotency key
        makes a repeated create safe.
        """
        deadline = time.monotonic() + RETRY_SECONDS
        failures = 0
        while True:
            try:
                with self._in_flight:
                    response = self.client.request(method, path, **kwargs)
            except httpx.TransportError as error:
                reason = type(error).__name__
            else:
                if not retryable_status(response.status_code):
                    return response, failures
                reason = f"HTTP {response.status_code}"
            failures += 1
            delay = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2 ** (failures - 1))
            delay *= 0.5 + random.random()
            if failures >= RETRY_MIN_TRIES and time.monotonic() + delay > deadline:
                logger.warning(
                    "Prefect API failed (%s) on %s %s %d times; the sender gets 503",
                    reason,
                    method,
                    path,
                    failures,
                )
                raise ReceiverError(
                    503,
                    f"Prefect API at {self.client.base_url} failed ({reason}) "
                    f"{failures} times; nothing was started for this alert, so "
                    "deliver it again later. If this persists, check the Prefect "
                    "server and PREFECT_API_URL",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            if failures % RETRY_LOG_EVERY == 1:
                logger.info(
                    "Prefect API busy or unreachable (%s) on %s %s; try %d failed, "
                    "retrying for up to %.0f s more",
                    reason,
                    method,
                    path,
                    failures,
                    max(0.0, deadline - time.monotonic()),
                )
            time.sleep(delay)

    def _expect_ok(self, response: httpx.Response, what: str) -> None:
        if response.status_code in (200, 201):
            return
        try:
            detail = response.json().get("detail", "")
        except ValueError:
            detail = response.text[:300]
        raise ReceiverError(
            502,
            f"Prefect rejected the request to {what}: HTTP {response.status_code} "
            f"{redact.scrub_text(str(detail))}",
        )


@dataclass
class Delivery:
    """The outcome of the first delivery of one idempotency key.

    ``done`` is set when the run exists (``run_id``) or the start failed
    (``error``).
    """

    done: threading.Event = field(default_factory=threading.Event)
    run_id: str | None = None
    error: ReceiverError | None = None
    recorded: float = field(default_factory=time.monotonic)


class DeliveryLedger:
    """The idempotency keys this process has started runs for.

    ``claim`` checks and records a key under one lock, so of the deliveries of an
    alert that arrive together exactly one starts the run, and the others wait
    for its outcome. A key whose start failed is forgotten, so a redelivery tries
    again. Keys are kept ``DEDUPE_SECONDS`` and at most ``DEDUPE_MAX_KEYS``.
    """

    def __init__(
        self, seconds: float = DEDUPE_SECONDS, max_keys: int = DEDUPE_MAX_KEYS
    ) -> None:
        self.seconds = seconds
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._deliveries: OrderedDict[str, Delivery] = OrderedDict()

    def claim(self, key: str) -> tuple[Delivery, bool]:
        """Return the key's delivery and True when this caller must start the run."""
        with self._lock:
            self._expire()
            delivery = self._deliveries.get(key)
            if delivery is not None:
                return delivery, False
            delivery = Delivery()
            self._deliveries[key] = delivery
            return delivery, True

    def succeed(self, delivery: Delivery, run_id: str) -> None:
        delivery.run_id = run_id
        delivery.done.set()

    def fail(self, key: str, delivery: Delivery, error: ReceiverError) -> None:
        with self._lock:
            if self._deliveries.get(key) is delivery:
                del self._deliveries[key]
        delivery.error = error
        delivery.done.set()

    def _expire(self) -> None:
        oldest = time.monotonic() - self.seconds
        while self._deliveries:
            key, delivery = next(iter(self._deliveries.items()))
            if delivery.recorded >= oldest and len(self._deliveries) < self.max_keys:
                return
            del self._deliveries[key]


def verify_github_signature(secret: str, body: bytes, header: str) -> bool:
    """Check GitHub's ``X-Hub-Signature-256: sha256=<hex>`` in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def _idempotency_key(keys: list[AlertedKey]) -> tuple[str, str]:
    """Return the alert id of the request and the idempotency key derived from it.

    The idempotency key covers the AccessKey IDs too. An SLS alert rule with group
    evaluation sends one alert per group with the same rule and fire time, and
    so the same alert id: keyed by the alert id alone, the alerts for every key
    but the first would count as repeats and start nothing.
    """
    alert_id = alert_id_of(keys)
    key_ids = sorted({key.access_key_id for key in keys})
    return alert_id, f"alert-intake-{alert_id}-{canonical_hash(key_ids)}"


class AlertReceiver(ThreadingHTTPServer):
    """The HTTP server; one thread per request."""

    daemon_threads = True
    request_queue_size = 128  # a burst of deliveries must not be refused

    def __init__(self, config: ReceiverConfig) -> None:
        config.check()
        self.config = config
        self.starter = IntakeStarter(config)
        self.ledger = DeliveryLedger()
        redact.register_secret(config.token)
        redact.register_secret(config.github_secret)
        super().__init__((config.host, config.port), ReceiverHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def server_close(self) -> None:
        super().server_close()
        self.starter.close()


class ReceiverHandler(BaseHTTPRequestHandler):
    """Handles one request; see the module docstring for the protocol."""

    server: AlertReceiver
    protocol_version = "HTTP/1.1"
    server_version = "akresponder-receiver"

    def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
        started = time.monotonic()
        if self.path.split("?", 1)[0] == "/healthz":
            self._reply(200, {"status": "ok"}, started)
        elif self._source() is not None:
            self._reply(405, {"error": "use POST to send an alert"}, started)
        else:
            self._reply(404, {"error": "no such path; POST to /alerts"}, started)

    def do_POST(self) -> None:  # noqa: N802 - name fixed by http.server
        started = time.monotonic()
        try:
            status, body, fields = self._handle_post()
        except ReceiverError as error:
            # The body may be unread, so the connection cannot carry another request.
            self.close_connection = True
            self._reply(
                error.status,
                {"error": str(error)},
                started,
                retry_after=error.retry_after,
            )
            return
        except Exception as error:  # noqa: BLE001 - the sender gets a 500, we log it
            logger.exception("request failed path=%s", self.path)
            message = redact.scrub_text(f"{type(error).__name__}: {error}")
            self._reply(500, {"error": f"internal error: {message}"}, started)
            return
        self._reply(status, body, started, **fields)

    def _source(self) -> str | None:
        """Return the source hint of an /alerts path ("" for none), None otherwise."""
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/alerts":
            return ""
        if path.startswith("/alerts/") and path.count("/") == 2:
            return path.removeprefix("/alerts/")
        return None

    def _handle_post(self) -> tuple[int, dict[str, Any], dict[str, Any]]:
        config = self.server.config
        source = self._source()
        if source is None:
            raise ReceiverError(404, "no such path; POST alerts to /alerts[/<source>]")
        try:
            kind = normalize_source(source)
        except AlertFormatError as error:
            raise ReceiverError(404, str(error)) from None

        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self.close_connection = True
            raise ReceiverError(411, "Content-Length is required")
        try:
            length = int(length_text)
        except ValueError:
            self.close_connection = True
            raise ReceiverError(400, "Content-Length is not a number") from None
        if length > config.max_body:
            self.close_connection = True
            raise ReceiverError(
                413,
                f"body of {length} bytes exceeds the limit of {config.max_body} "
                "bytes; trim the payload or raise --max-body-bytes",
            )

        signature = self.headers.get("X-Hub-Signature-256")
        if not self._token_valid() and not (signature and config.github_secret):
            self.close_connection = True
            raise ReceiverError(401, "missing or invalid token or signature")
        body = self.rfile.read(length) if length else b""
        if not self._token_valid():
            assert signature is not None and config.github_secret is not None
            if not verify_github_signature(config.github_secret, body, signature):
                raise ReceiverError(401, "missing or invalid token or signature")

        if self.headers.get("X-GitHub-Event") == "ping":
            return 200, {"pong": True}, {}
        try:
            parsed = parse_alert_with_rejected(body, kind)
        except AlertIgnored as ignored:
            return 200, {"ignored": str(ignored)}, {"ignored": True}
        except AlertFormatError as error:
            raise ReceiverError(400, str(error)) from None

        keys = parsed.keys
        alert_id, idempotency = _idempotency_key(keys)
        key_ids = [key.access_key_id for key in keys]
        parameters = {
            "payload": mask_payload(body),
            "source_hint": kind,
        }
        tags = [*RUN_TAGS, f"alert:{keys[0].source_kind}"]
        tags += [f"key:{key_id}" for key_id in key_ids]
        run_id, created = self._start_once(parameters, idempotency, tags)
        reply = {
            "alert_id": alert_id,
            "access_key_ids": key_ids,
            "flow_run_id": run_id,
            "flow_run_ids": [run_id],
            "duplicate": not created,
            # Entries that are no valid AccessKey ID; the intake reports them too.
            "rejected": [entry.problem for entry in parsed.rejected],
        }
        fields = {"alert_id": alert_id, "keys": ",".join(key_ids), "flow_run": run_id}
        return (202 if created else 200), reply, fields

    def _start_once(
        self, parameters: dict[str, Any], idempotency: str, tags: list[str]
    ) -> tuple[str, bool]:
        """Start the run of the first delivery of ``idempotency``; repeats wait for it.

        Returns the run id and whether this delivery created it.
        """
        ledger = self.server.ledger
        delivery, first = ledger.claim(idempotency)
        if not first:
            if not delivery.done.wait(REPEAT_WAIT_SECONDS):
                raise ReceiverError(
                    503,
                    f"an earlier delivery of this alert is still starting its run "
                    f"after {REPEAT_WAIT_SECONDS} s; deliver it again later",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            if delivery.run_id is None:
                raise ReceiverError(
                    503,
                    "an earlier delivery of this alert failed to start its run; "
                    f"deliver it again later ({delivery.error})",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            return delivery.run_id, False
        try:
            run_id, created = self.server.starter.start(parameters, idempotency, tags)
        except ReceiverError as error:
            ledger.fail(idempotency, delivery, error)
            raise
        except Exception as error:
            message = redact.scrub_text(f"{type(error).__name__}: {error}")
            ledger.fail(idempotency, delivery, ReceiverError(500, message))
            raise
        ledger.succeed(delivery, run_id)
        return run_id, created

    def _token_valid(self) -> bool:
        token = self.server.config.token
        if not token:
            return False
        given = self.headers.get("X-Akresponder-Token")
        authorization = self.headers.get("Authorization", "")
        if given is None and authorization.lower().startswith("bearer "):
            given = authorization[7:].strip()
        if not given:
            return False
        return hmac.compare_digest(given.encode(), token.encode())

    def _reply(
        self,
        status: int,
        body: dict[str, Any],
        started: float,
        retry_after: int | None = None,
        **fields: Any,
    ) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        extra = " ".join(f"{name}={value}" for name, value in fields.items())
        level = logging.INFO if status < 400 else logging.WARNING
        logger.log(
            level,
            "%s %s status=%d remote=%s ms=%d %s%s",
            self.command,
            self.path.split("?", 1)[0],
            status,
            self.client_address[0],
            (time.monotonic() - started) * 1000,
            extra,
            "" if status < 400 else f" error={body.get('error', '')[:200]}",
        )

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence http.server's own access log; ``_reply`` logs each request."""


def _load_secret_block(name: str | None) -> str | None:
    if not name:
        return None
    from prefect.blocks.system import Secret

    value = Secret.load(name).get()
    if not isinstance(value, str):
        raise ValueError(f"Secret block {name!r} must hold text, not a JSON value")
    return value


def add_receiver_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the receiver's options to ``parser`` (also used by ``akresponder``)."""
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="TCP port (default: %(default)s)"
    )
    parser.add_argument(
        "--deployment",
        default=DEFAULT_DEPLOYMENT,
        metavar="FLOW/NAME",
        help="alert-intake deployment to run (default: %(default)s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY,
        metavar="N",
        help="largest accepted body in bytes (default: %(default)s)",
    )
    parser.add_argument(
        "--token-block",
        default=os.environ.get(ENV_TOKEN_BLOCK),
        metavar="NAME",
        help=f"Prefect Secret block with the shared token (default: ${ENV_TOKEN})",
    )
    parser.add_argument(
        "--github-secret-block",
        default=os.environ.get(ENV_GITHUB_SECRET_BLOCK),
        metavar="NAME",
        help="Prefect Secret block with the GitHub webhook secret "
        f"(default: ${ENV_GITHUB_SECRET})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.receiver",
        description="Receive alert webhooks and start the alert-intake deployment.",
    )
    add_receiver_arguments(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> ReceiverConfig:
    """Build the configuration from arguments, the environment and Prefect blocks."""
    api_url, headers = prefect_api_settings()
    return ReceiverConfig(
        token=_load_secret_block(args.token_block) or os.environ.get(ENV_TOKEN) or None,
        github_secret=_load_secret_block(args.github_secret_block)
        or os.environ.get(ENV_GITHUB_SECRET)
        or None,
        deployment=args.deployment,
        host=args.host,
        port=args.port,
        max_body=args.max_body_bytes,
        api_url=api_url,
        api_headers=headers,
    )


def run_receiver(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; return 0, or 2 when the settings are invalid."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    redact.install()
    try:
        config = config_from_args(args)
        server = AlertReceiver(config)
    except (ValueError, OSError) as error:
        print(f"receiver: {redact.scrub_text(str(error))}", file=sys.stderr)
        return 2

    def stop(signum: int, _frame: object) -> None:
        logger.info("stopping on signal %d", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info(
        "listening on %s deployment=%s token=%s github_signature=%s max_body=%d",
        server.url,
        config.deployment,
        "on" if config.token else "off",
        "on" if config.github_secret else "off",
        config.max_body,
    )
    # The first line on stdout tells a parent process the port that was chosen.
    print(f"listening on {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        logger.info("stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the receiver; return the exit status."""
    return run_receiver(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
