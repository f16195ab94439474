"""The emulator's HTTP server: one port for POP products, SLS and the control plane.

Dispatch, per request:

* a path under ``/__emu/`` goes to the control plane (``emulator.control``), unsigned;
* an ``Authorization: LOG ...`` or ``SLS4-HMAC-SHA256 ...`` header, or a ``Host`` with a
  project prefix (``audit.127.0.0.1``) and a path under ``/logstores`` or ``/logs``,
  goes to SLS, which ``emulator.sls.responses.handle_sls`` serves;
* everything else is a POP call, routed by ``(x-acs-version, x-acs-action)`` or the
  ``Version``/``Action`` query parameters of the legacy RPC signature.

A POP call runs: authenticate, fault injection, rate limit, authorise, handler, then the
ActionTrail record. The server holds ``Cloud.lock`` while it reads or changes the
account, and releases it while a latency fault sleeps.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from emulator import control, policy, registry, trail
from emulator.auth import (
    RPC_SIGNATURE_PARAMS,
    AuthenticationFailed,
    AuthOptions,
    AuthResult,
    HttpRequest,
    NonceCache,
    authenticate_pop,
    authenticate_sls,
    form_params,
)
from emulator.errors import (
    AlibabaError,
    InternalError,
    InvalidApiNotFound,
    SlsError,
    ThrottlingUser,
)
from emulator.faults import FaultInjector, FaultRule
from emulator.ratelimit import RateLimiter
from emulator.registry import ActionSpec, PopRequest, SlsRequest, SlsResponse
from emulator.state import Caller, Cloud, iso

logger = logging.getLogger("emulator.server")

JSON_CONTENT_TYPE = "application/json;charset=utf-8"
REQUEST_LOG_SIZE = 100_000
POP_SERVICES = ("ram", "sts", "actiontrail", "bss", "ecs")
# HostId of error bodies for API versions whose service has no registered handler yet.
HOST_IDS = {
    "2015-05-01": "ram.aliyuncs.com",
    "2015-04-01": "sts.aliyuncs.com",
    "2020-07-06": "actiontrail.cn-hangzhou.aliyuncs.com",
    "2017-12-14": "business.aliyuncs.com",
    "2014-05-26": "ecs.aliyuncs.com",
}
_SLS_PROJECT = re.compile(r"^([a-z0-9][a-z0-9-]{1,61}[a-z0-9])\.(.+)$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")

_services_lock = threading.Lock()


def load_services() -> list[str]:
    """Import every service's handlers that exist; return the names that were missing.

    Services are written independently, so a service package that does not exist yet
    is skipped; an import error inside an existing package still propagates.
    """
    missing = []
    with _services_lock:
        for name in POP_SERVICES:
            module = f"emulator.{name}.responses"
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as error:
                if error.name not in (module, f"emulator.{name}"):
                    raise
                missing.append(name)
    return missing


@dataclass
class RequestLogEntry:
    seq: int
    time: str  # emulated clock
    service: str
    action: str
    access_key_id: str
    status: int
    error_code: str
    source_ip: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Reply:
    """An HTTP response to send, or ``drop=True`` to close the connection instead."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class Emulator:
    """One emulated account and everything that serves it, independent of HTTP."""

    def __init__(
        self,
        cloud: Cloud,
        *,
        check_clock_skew: bool = True,
        ram_rate_limit: float | None = None,
        faults: list[FaultRule] | None = None,
    ) -> None:
        self.cloud = cloud
        self.auth_options = AuthOptions(check_clock_skew=check_clock_skew)
        self.nonces = NonceCache()
        self.faults = FaultInjector(faults)
        self.limiter = RateLimiter(ram_rate=ram_rate_limit)
        self.request_log: deque[RequestLogEntry] = deque(maxlen=REQUEST_LOG_SIZE)
        self._seq = 0
        self._log_lock = threading.Lock()
        load_services()

    # --- entry point ------------------------------------------------------------------

    def handle(self, request: HttpRequest, client_ip: str) -> Reply:
        """Serve one HTTP request and return the reply."""
        if request.path.startswith("/__emu/") or request.path == "/__emu":
            status, body = control.handle(self, request)
            return _json_reply(status, body, {})
        source_ip = _source_ip(request, client_ip)
        if _is_sls(request):
            return self._handle_sls(request, source_ip)
        return self._handle_pop(request, source_ip)

    # --- POP --------------------------------------------------------------------------

    def _handle_pop(self, request: HttpRequest, source_ip: str) -> Reply:
        request_id = trail.new_request_id()
        query = request.query_dict()
        version = request.header("x-acs-version") or query.get("Version", "")
        action = request.header("x-acs-action") or query.get("Action", "")
        spec = registry.POP_ACTIONS.get((version, action))
        if spec is None:
            error = InvalidApiNotFound(
                f"Specified api is not found, please check your url and method. "
                f"No action {action or '(none)'} exists in API version "
                f"{version or '(none)'}."
            )
            return self._pop_error_reply(
                error, request_id, HOST_IDS.get(version, "pop")
            )

        params = dict(request.query)
        params.update(form_params(request))
        with self.cloud.lock:
            try:
                auth = authenticate_pop(
                    self.cloud, request, self.auth_options, self.nonces
                )
            except AuthenticationFailed as failure:
                assert isinstance(failure.error, AlibabaError)
                return self._pop_failed(
                    spec,
                    failure.caller,
                    failure.error,
                    params,
                    request,
                    request_id,
                    source_ip,
                )
            except AlibabaError as error:
                key_id = query.get("AccessKeyId") or _credential(request)
                self._log(
                    spec.product, action, key_id, error.status, error.code, source_ip
                )
                return self._pop_error_reply(error, request_id, spec.host_id)
            auth.access_key.last_used = self.cloud.now()
        if auth.signature_version == "v2":
            params = _api_params(params)

        rule = self.faults.pick(spec.product, action)
        if rule is not None:
            if rule.kind == "drop":
                self._log(
                    spec.product,
                    action,
                    auth.caller.access_key_id,
                    0,
                    "Dropped",
                    source_ip,
                )
                return Reply(drop=True)
            if rule.kind == "latency":
                time.sleep((rule.latency_ms or 0) / 1000)
            else:
                with self.cloud.lock:
                    return self._pop_failed(
                        spec,
                        auth.caller,
                        rule.pop_error(),
                        params,
                        request,
                        request_id,
                        source_ip,
                    )

        with self.cloud.lock:
            return self._serve_pop(spec, auth, params, request, request_id, source_ip)

    def _serve_pop(
        self,
        spec: ActionSpec,
        auth: AuthResult,
        params: dict[str, str],
        request: HttpRequest,
        request_id: str,
        source_ip: str,
    ) -> Reply:
        cloud = self.cloud
        caller = auth.caller
        if not self.limiter.allow(spec.product, spec.action):
            error = ThrottlingUser()
            return self._pop_failed(
                spec, caller, error, params, request, request_id, source_ip
            )
        region = params.get("RegionId") or cloud.region
        if spec.auth_action is not None:
            context = {"acs:SourceIp": source_ip}
            for resource in policy.request_resources(
                cloud, spec.product, params, region
            ):
                decision = policy.evaluate(
                    cloud, caller, spec.auth_action, resource, context
                )
                if not decision.allowed:
                    error = policy.access_denied_error(
                        cloud, caller, decision, spec.product
                    )
                    return self._pop_failed(
                        spec, caller, error, params, request, request_id, source_ip
                    )

        pop_request = PopRequest(
            cloud=cloud,
            action=spec.action,
            version=spec.version,
            params=params,
            caller=caller,
            source_ip=source_ip,
            user_agent=request.header("user-agent", "") or "",
            region=region,
            request_id=request_id,
        )
        try:
            body = spec.handler(pop_request)
        except AlibabaError as error:
            return self._pop_failed(
                spec,
                caller,
                error,
                params,
                request,
                request_id,
                source_ip,
                pop_request.resources,
            )
        except Exception:
            logger.exception(
                "handler failed: action=%s version=%s request_id=%s",
                spec.action,
                spec.version,
                request_id,
            )
            error = InternalError(
                f"The emulator's {spec.action} handler failed (request {request_id}); "
                "see the emulator log for the traceback."
            )
            return self._pop_failed(
                spec, caller, error, params, request, request_id, source_ip
            )

        response = dict(body)
        response["RequestId"] = request_id
        record = trail.build_event(
            cloud,
            spec=spec,
            caller=caller,
            params=params,
            request_id=request_id,
            source_ip=source_ip,
            user_agent=pop_request.user_agent,
            response=response,
            resources=pop_request.resources,
        )
        trail.append_event(cloud, record)
        self._log(spec.product, spec.action, caller.access_key_id, 200, "", source_ip)
        return _json_reply(200, response, {"x-acs-request-id": request_id})

    def _pop_failed(
        self,
        spec: ActionSpec,
        caller: Caller,
        error: AlibabaError,
        params: dict[str, str],
        request: HttpRequest,
        request_id: str,
        source_ip: str,
        resources: dict[str, list[str]] | None = None,
    ) -> Reply:
        """Record a failed call whose caller is known, and build its error reply."""
        record = trail.build_event(
            self.cloud,
            spec=spec,
            caller=caller,
            params=params,
            request_id=request_id,
            source_ip=source_ip,
            user_agent=request.header("user-agent", "") or "",
            response=None,
            error_code=error.code,
            error_message=error.message,
            resources=resources,
        )
        trail.append_event(self.cloud, record)
        self._log(
            spec.product,
            spec.action,
            caller.access_key_id,
            error.status,
            error.code,
            source_ip,
        )
        return self._pop_error_reply(error, request_id, spec.host_id)

    def _pop_error_reply(
        self, error: AlibabaError, request_id: str, host_id: str
    ) -> Reply:
        product = host_id.split(".")[0].capitalize()
        body: dict[str, Any] = {
            "RequestId": request_id,
            "HostId": host_id,
            "Code": error.code,
            "Message": error.message,
            "Recommend": (
                f"https://api.aliyun.com/troubleshoot?q={error.code}&product={product}"
            ),
        }
        if error.access_denied_detail:
            body["AccessDeniedDetail"] = error.access_denied_detail
        headers = {"x-acs-request-id": request_id}
        headers.update(error.headers)
        return _json_reply(error.status, body, headers)

    # --- SLS --------------------------------------------------------------------------

    def _handle_sls(self, request: HttpRequest, source_ip: str) -> Reply:
        request_id = trail.new_request_id().replace("-", "")[:24]
        project = _sls_project(request.header("host", "") or "")
        operation, auth_action = policy.sls_operation(
            request.method, request.path, request.query
        )
        with self.cloud.lock:
            try:
                auth = authenticate_sls(self.cloud, request, self.auth_options)
            except AuthenticationFailed as failure:
                assert isinstance(failure.error, SlsError)
                key_id = failure.caller.access_key_id
                return self._sls_error(
                    failure.error, request_id, operation, key_id, source_ip
                )
            except SlsError as error:
                key_id = _credential(request)
                return self._sls_error(error, request_id, operation, key_id, source_ip)
            auth.access_key.last_used = self.cloud.now()
        key_id = auth.caller.access_key_id

        rule = self.faults.pick("sls", operation)
        if rule is not None:
            if rule.kind == "drop":
                self._log("sls", operation, key_id, 0, "Dropped", source_ip)
                return Reply(drop=True)
            if rule.kind == "latency":
                time.sleep((rule.latency_ms or 0) / 1000)
            else:
                return self._sls_error(
                    rule.sls_error(), request_id, operation, key_id, source_ip
                )

        with self.cloud.lock:
            resource = policy.sls_resource(self.cloud, project or "", request.path)
            context = {"acs:SourceIp": source_ip}
            decision = policy.evaluate(
                self.cloud, auth.caller, auth_action, resource, context
            )
            if not decision.allowed:
                error = policy.sls_access_denied(decision)
                return self._sls_error(error, request_id, operation, key_id, source_ip)
            sls_request = SlsRequest(
                cloud=self.cloud,
                method=request.method,
                path=request.path,
                query=request.query_dict(),
                body=request.body,
                headers={name: values[0] for name, values in request.headers.items()},
                project=project or "",
                caller=auth.caller,
                source_ip=source_ip,
                request_id=request_id,
            )
            try:
                response = _call_sls_handler(sls_request)
            except SlsError as error:
                return self._sls_error(error, request_id, operation, key_id, source_ip)
            except Exception:
                logger.exception(
                    "SLS handler failed: path=%s request_id=%s",
                    request.path,
                    request_id,
                )
                error = SlsError(
                    "InternalServerError",
                    500,
                    f"The emulator's SLS handler failed (request {request_id}); "
                    "see the emulator log for the traceback.",
                )
                return self._sls_error(error, request_id, operation, key_id, source_ip)
        self._log("sls", operation, key_id, response.status, "", source_ip)
        headers = {"x-log-requestid": request_id}
        headers.update(response.headers)
        if isinstance(response.body, bytes | bytearray):
            headers.setdefault("content-type", "application/octet-stream")
            return Reply(response.status, bytes(response.body), headers)
        return _json_reply(response.status, response.body, headers, "application/json")

    def _sls_error(
        self,
        error: SlsError,
        request_id: str,
        operation: str,
        key_id: str,
        source_ip: str,
    ) -> Reply:
        self._log("sls", operation, key_id, error.status, error.code, source_ip)
        body = {"errorCode": error.code, "errorMessage": error.message}
        return _json_reply(
            error.status, body, {"x-log-requestid": request_id}, "application/json"
        )

    # --- request log ------------------------------------------------------------------

    def _log(
        self,
        service: str,
        action: str,
        key_id: str,
        status: int,
        code: str,
        source_ip: str,
    ) -> None:
        with self._log_lock:
            self._seq += 1
            self.request_log.append(
                RequestLogEntry(
                    seq=self._seq,
                    time=iso(self.cloud.now()),
                    service=service,
                    action=action,
                    access_key_id=key_id,
                    status=status,
                    error_code=code,
                    source_ip=source_ip,
                )
            )
        if status >= 400 or status == 0:
            logger.debug(
                "request failed: service=%s action=%s access_key_id=%s status=%s "
                "code=%s",
                service,
                action,
                key_id,
                status,
                code,
            )

    def requests_since(self, since: int) -> list[dict[str, Any]]:
        with self._log_lock:
            return [entry.to_dict() for entry in self.request_log if entry.seq > since]

    def clear_requests(self) -> None:
        with self._log_lock:
            self.request_log.clear()


def _call_sls_handler(request: SlsRequest) -> SlsResponse:
    try:
        module = importlib.import_module("emulator.sls.responses")
    except ModuleNotFoundError as error:
        if error.name not in ("emulator.sls", "emulator.sls.responses"):
            raise
        raise SlsError(
            "ProjectNotExist", 404, f"The Project does not exist : {request.project}"
        ) from None
    return module.handle_sls(request)


def _api_params(params: dict[str, str]) -> dict[str, str]:
    """Drop the legacy RPC signature's own parameters, leaving the API's."""
    return {
        key: value
        for key, value in params.items()
        if key not in RPC_SIGNATURE_PARAMS and key not in ("Action", "Version")
    }


def _credential(request: HttpRequest) -> str:
    """Take the AccessKey ID from an ACS3, SLS4 or ``LOG id:signature`` header."""
    authorization = request.header("authorization", "") or ""
    if authorization.startswith("LOG "):
        return authorization[4:].strip().rpartition(":")[0]
    match = re.search(r"Credential=([^,/\s]+)", authorization)
    return match.group(1) if match else ""


def _source_ip(request: HttpRequest, client_ip: str) -> str:
    forwarded = request.header("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip() or client_ip
    return client_ip


def _sls_project(host: str) -> str | None:
    """Take the SLS project from a ``Host`` such as ``audit-1.127.0.0.1:8080``."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if _IPV4.match(name) or name == "localhost":
        return None  # a bare address names no project
    match = _SLS_PROJECT.match(name)
    if match is None:
        return None
    rest = match.group(2)
    if _IPV4.match(rest) or rest == "localhost" or "." in rest:
        return match.group(1)
    return None


def _is_sls(request: HttpRequest) -> bool:
    authorization = request.header("authorization", "") or ""
    if authorization.startswith(("LOG ", "SLS4-")):
        return True
    if request.path.startswith(("/logstores", "/logs")):
        return _sls_project(request.header("host", "") or "") is not None
    return False


def _json_reply(
    status: int,
    body: Any,
    headers: dict[str, str],
    content_type: str = JSON_CONTENT_TYPE,
) -> Reply:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    all_headers = {"content-type": content_type}
    all_headers.update(headers)
    return Reply(status, payload, all_headers)


# --- HTTP -----------------------------------------------------------------------------


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "akresponder-emulator"
    sys_version = ""
    # Small responses on keep-alive connections would otherwise wait for the client's
    # delayed ACK (Nagle's algorithm), about 40 ms per call.
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def _serve(self) -> None:
        request = self._read_request()
        if request is None:
            return
        try:
            reply = self.server.emulator.handle(request, self.client_address[0])
        except Exception:
            logger.exception(
                "request failed: method=%s path=%s", self.command, request.path
            )
            body = {
                "Code": "InternalError",
                "Message": "The emulator failed; see its log.",
            }
            reply = _json_reply(500, body, {})

        if reply.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client has already gone
            return
        self._send(reply)

    def _read_request(self) -> HttpRequest | None:
        """Read the body and parse the request, or send a 4xx reply and return None."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            message = "Chunked request bodies are not supported; send Content-Length."
            body = {"Code": "MissingContentLength", "Message": message}
            self._send(_json_reply(411, body, {}))
            return None
        length_text = self.headers.get("Content-Length")
        try:
            length = int(length_text) if length_text else 0
        except ValueError:
            length = -1
        if length < 0:
            message = (
                f"Invalid Content-Length {length_text!r}; send the body size in bytes."
            )
            body = {"Code": "InvalidContentLength", "Message": message}
            self._send(_json_reply(400, body, {}))
            return None

        body_bytes = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        return HttpRequest(
            method=self.command,
            path=split.path or "/",
            query=parse_qsl(split.query, keep_blank_values=True),
            headers=headers,
            body=body_bytes,
        )

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("%s %s", self.address_string(), format % args)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP/1.1 server with keep-alive, serving one ``Emulator``."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Close open keep-alive connections, so a stopped server frees its port."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def make_server(
    emulator: Emulator, host: str = "127.0.0.1", port: int = 0
) -> EmulatorHTTPServer:
    """Bind a server for ``emulator``; ``port=0`` picks a free port."""
    return EmulatorHTTPServer((host, port), emulator)
