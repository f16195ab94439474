"""The one place that builds SDK clients, and the only code that unwraps secrets.

``get_client(service, connection)`` returns a client for "ram", "sts", "actiontrail",
"bss", "ecs" (Tea/darabonba clients) or "sls" (``aliyun.log.LogClient``), cached per
service and connection identity, so repeated tasks reuse one HTTP session. The cache
is safe to use from several threads.

Endpoints come from ``ENDPOINT_RULES`` unless the connection overrides them; an
override also switches the POP clients to the connection's protocol (``http`` for the
local emulator). A connection with ``role_arn`` first assumes that role through STS
and the clients use the temporary credentials, renewed before they expire.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass
from typing import Any

from akresponder.config import SERVICES, CloudConnection, ConfigurationError

USER_AGENT = "akresponder/0.1"


@dataclass(frozen=True)
class EndpointRule:
    """How to name a service's public endpoint for a region.

    ``template`` may contain ``{region}``. ``outside_mainland`` replaces it for regions
    outside mainland China, where a service has one international endpoint.
    """

    template: str
    outside_mainland: str | None = None


ENDPOINT_RULES: dict[str, EndpointRule] = {
    "ram": EndpointRule("ram.aliyuncs.com"),
    "sts": EndpointRule("sts.aliyuncs.com"),
    "actiontrail": EndpointRule("actiontrail.{region}.aliyuncs.com"),
    "bss": EndpointRule(
        "business.aliyuncs.com",
        outside_mainland="business.ap-southeast-1.aliyuncs.com",
    ),
    "ecs": EndpointRule("ecs.{region}.aliyuncs.com"),
    "sls": EndpointRule("{region}.log.aliyuncs.com"),
}

# Mainland China regions are "cn-*" except Hong Kong, which bills internationally.
_OUTSIDE_MAINLAND_CN = {"cn-hongkong"}

# Assumed-role credentials are requested for ROLE_SESSION_SECONDS and renewed
# ROLE_RENEW_MARGIN seconds before that, timed on this machine's monotonic clock so
# that a skewed wall clock cannot keep expired credentials in use.
ROLE_SESSION_SECONDS = 3600
ROLE_RENEW_MARGIN = 300


def is_mainland_region(region: str) -> bool:
    """Return True for regions in mainland China (``cn-*`` except ``cn-hongkong``)."""
    return region.startswith("cn-") and region not in _OUTSIDE_MAINLAND_CN


def resolve_endpoint(service: str, connection: CloudConnection) -> tuple[str, str]:
    """Return ``(host[:port], protocol)`` for ``service`` under ``connection``."""
    if service not in ENDPOINT_RULES:
        raise ConfigurationError(
            f"unknown service {service!r}; use one of {', '.join(SERVICES)}"
        )
    override = connection.endpoint_for(service)
    if override:
        return override, connection.protocol
    rule = ENDPOINT_RULES[service]
    template = rule.template
    if rule.outside_mainland and not is_mainland_region(connection.region):
        template = rule.outside_mainland
    return template.format(region=connection.region), "https"


def _pop_client_class(service: str) -> Any:
    if service == "ram":
        from alibabacloud_ram20150501.client import Client
    elif service == "sts":
        from alibabacloud_sts20150401.client import Client
    elif service == "actiontrail":
        from alibabacloud_actiontrail20200706.client import Client
    elif service == "bss":
        from alibabacloud_bssopenapi20171214.client import Client
    elif service == "ecs":
        from alibabacloud_ecs20140526.client import Client
    else:
        raise ConfigurationError(
            f"unknown service {service!r}; use one of {', '.join(SERVICES)}"
        )
    return Client


def _build_pop_client(service: str, connection: CloudConnection) -> Any:
    from alibabacloud_tea_openapi.models import Config

    endpoint, protocol = resolve_endpoint(service, connection)
    token = connection.security_token
    config = Config(
        access_key_id=connection.access_key_id,
        access_key_secret=connection.access_key_secret.get_secret_value(),
        security_token=token.get_secret_value() if token is not None else None,
        endpoint=endpoint,
        protocol=protocol,
        region_id=connection.region,
        connect_timeout=connection.connect_timeout_ms,
        read_timeout=connection.read_timeout_ms,
        user_agent=USER_AGENT,
    )
    return _pop_client_class(service)(config)


def _is_ip_or_localhost(host_port: str) -> bool:
    host = host_port.rsplit(":", 1)[0] if ":" in host_port else host_port
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _build_sls_client(connection: CloudConnection) -> Any:
    from aliyun.log import LogClient

    endpoint, protocol = resolve_endpoint("sls", connection)
    token = connection.security_token
    client = LogClient(
        f"{protocol}://{endpoint}",
        connection.access_key_id,
        connection.access_key_secret.get_secret_value(),
        securityToken=token.get_secret_value() if token is not None else None,
        # A fixed source avoids the SDK's UDP probe of the endpoint to find a local IP.
        source="akresponder",
    )
    if _is_ip_or_localhost(endpoint):
        # LogClient puts the project in front of the host ("proj.127.0.0.1:18931")
        # unless the endpoint is a bare IP without a port. Forcing the flag makes it
        # connect to host:port while it still sends "Host: proj.<host>".
        client._isRowIp = True
    client.timeout = (
        connection.connect_timeout_ms / 1000,
        connection.read_timeout_ms / 1000,
    )
    client.set_user_agent(f"{USER_AGENT} {client._user_agent}")
    return client


_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()
_roles: dict[str, tuple[CloudConnection, float]] = {}
_roles_lock = threading.Lock()


def _assume_role(connection: CloudConnection) -> CloudConnection:
    from alibabacloud_sts20150401 import models as sts_models

    from akresponder.retry import call_with_retry

    base = connection.model_copy(update={"role_arn": None})
    client = get_client("sts", base)
    request = sts_models.AssumeRoleRequest(
        role_arn=connection.role_arn,
        role_session_name=connection.role_session_name,
        duration_seconds=ROLE_SESSION_SECONDS,
    )
    response = call_with_retry(
        lambda: client.assume_role(request),
        api="sts:AssumeRole",
        target=f"role_arn={connection.role_arn}",
        permission="sts:AssumeRole",
    )
    credentials = response.body.credentials
    return CloudConnection(
        **{
            **base.model_dump(),
            "access_key_id": credentials.access_key_id,
            "access_key_secret": credentials.access_key_secret,
            "security_token": credentials.security_token,
            "credential_source": f"assumed-role:{connection.role_arn}",
        }
    )


def effective_connection(connection: CloudConnection) -> CloudConnection:
    """Return the connection clients should use: the assumed role's, if one is set."""
    if connection.role_arn is None:
        return connection
    key = connection.identity()
    with _roles_lock:
        cached = _roles.get(key)
        if cached and time.monotonic() < cached[1]:
            return cached[0]
        renew_at = time.monotonic() + ROLE_SESSION_SECONDS - ROLE_RENEW_MARGIN
        assumed = _assume_role(connection)
        _roles[key] = (assumed, renew_at)
        return assumed


def get_client(service: str, connection: CloudConnection) -> Any:
    """Return the cached SDK client for ``service`` under ``connection``."""
    if service not in ENDPOINT_RULES:
        raise ConfigurationError(
            f"unknown service {service!r}; use one of {', '.join(SERVICES)}"
        )
    connection = effective_connection(connection)
    key = (service, connection.identity())
    with _cache_lock:
        client = _cache.get(key)
        if client is None:
            if service == "sls":
                client = _build_sls_client(connection)
            else:
                client = _build_pop_client(service, connection)
            _cache[key] = client
        return client


def clear_client_cache() -> None:
    """Drop every cached client and assumed-role credential (tests, key rotation)."""
    with _cache_lock:
        _cache.clear()
    with _roles_lock:
        _roles.clear()
