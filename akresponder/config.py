"""Connection settings for Alibaba Cloud and the credential chain that fills them.

``CloudConnection`` is everything a client needs: the AccessKey pair (secrets as
``SecretStr``), region, endpoint overrides, protocol and timeouts.
``resolve_connection`` builds one from, in order:

1. a credentials block or connection passed in explicitly;
2. ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``
   (+ ``ALIBABA_CLOUD_SECURITY_TOKEN``);
3. the profile files of Alibaba's default credential chain (``~/.aliyun/config.json``
   written by ``aliyun configure``, then ``~/.alibabacloud/credentials.ini``);
4. the ECS instance RAM role, only when nothing above is configured, no endpoint
   override is set, ``ALIBABA_CLOUD_ECS_METADATA_DISABLED`` is not ``true`` and the
   process is not a pytest run.

``AKRESPONDER_ENDPOINT=http://HOST:PORT`` then sends every service to that one endpoint
(the local emulator), and ``ALIBABA_CLOUD_REGION_ID`` sets the region.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from akresponder import redact

SERVICES: tuple[str, ...] = ("ram", "sts", "actiontrail", "bss", "ecs", "sls")
DEFAULT_REGION = "cn-hangzhou"

ENV_ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
ENV_SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"
ENV_REGION = "ALIBABA_CLOUD_REGION_ID"
ENV_ENDPOINT = "AKRESPONDER_ENDPOINT"
ENV_ECS_METADATA_DISABLED = "ALIBABA_CLOUD_ECS_METADATA_DISABLED"

# Alibaba AccessKey IDs: "LTAI" + 12..20 letters and digits (the 16-character ids are
# the older form, current ones have 24 characters), STS ids: "STS." + letters/digits.
_LTAI_ID = re.compile(r"LTAI[A-Za-z0-9]{12,20}")
_STS_ID = re.compile(r"STS\.[A-Za-z0-9]{8,64}")
# AccessKeySecrets are 30 letters and digits. The range is a little wider, so that a
# pasted secret is caught and never echoed instead of being reported as a bad id.
_SECRET_SHAPE = re.compile(r"[A-Za-z0-9]{26,40}")
_REGION = re.compile(r"[a-z]{2,}(-[a-z0-9]+)+")
_ROLE_ARN = re.compile(r"acs:ram::\d+:role/[A-Za-z0-9._-]{1,64}")
_SESSION_NAME = re.compile(r"[A-Za-z0-9.@_-]{2,64}")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_ID_SHAPE = (
    "'LTAI' followed by 12 to 20 letters or digits, "
    "or 'STS.' followed by letters and digits"
)


class ConfigurationError(ValueError):
    """Invalid connection settings; the message names the value and the fix."""


class ConnectionSource(Protocol):
    """Anything that can produce a connection, such as the credentials block."""

    def to_connection(self) -> CloudConnection: ...


def validate_access_key_id(text: object) -> str:
    """Return ``text`` if it is an AccessKey ID, else raise ``ConfigurationError``.

    A value shaped like an AccessKeySecret is registered for log redaction and never
    appears in the error message.
    """
    if not isinstance(text, str):
        raise ConfigurationError(
            f"AccessKey ID must be text, got {type(text).__name__}; "
            f"give an id such as LTAI5tEXAMPLE00000000001"
        )
    if text.strip() == "":
        raise ConfigurationError(
            f"AccessKey ID is empty; give an id of the form {_ID_SHAPE}"
        )
    core = text.strip().strip("'\"`")
    if _SECRET_SHAPE.fullmatch(core) and not core.startswith(("LTAI", "STS")):
        redact.register_secret(core)
        raise ConfigurationError(
            "this looks like an AccessKeySecret; give the AccessKey ID "
            f"({_ID_SHAPE}) and keep the secret in the secret field"
        )
    if any(quote in text for quote in "'\"`"):
        raise ConfigurationError(
            f"AccessKey ID {text!r} contains quotes; remove them (expected {_ID_SHAPE})"
        )
    if any(character.isspace() for character in text):
        raise ConfigurationError(
            f"AccessKey ID {text!r} contains whitespace; remove it "
            f"(expected {_ID_SHAPE})"
        )
    if _LTAI_ID.fullmatch(text) or _STS_ID.fullmatch(text):
        return text
    raise ConfigurationError(f"invalid AccessKey ID {text!r}: expected {_ID_SHAPE}")


def validate_role_arn(value: str) -> str:
    """Return ``value`` if it is a RAM role ARN, else raise ``ConfigurationError``."""
    if not isinstance(value, str) or not _ROLE_ARN.fullmatch(value):
        raise ConfigurationError(
            f"invalid role ARN {value!r}; expected acs:ram::<account id>:role/<name>"
        )
    return value


def validate_session_name(value: str) -> str:
    """Return ``value`` if STS accepts it as a role session name."""
    if not isinstance(value, str) or not _SESSION_NAME.fullmatch(value):
        raise ConfigurationError(
            f"invalid role session name {value!r}; use 2 to 64 letters, digits "
            "or . @ _ -"
        )
    return value


def parse_endpoint(text: str, *, require_port: bool = False) -> tuple[str, str | None]:
    """Split an endpoint into ``host[:port]`` and the protocol it names, if any.

    Accepts ``host``, ``host:port``, ``http://host:port`` and ``https://host[:port]``.
    """
    original = text
    if not isinstance(text, str) or text.strip() == "":
        raise ConfigurationError(
            "endpoint is empty; give host:port such as 127.0.0.1:18931 "
            "or http://127.0.0.1:18931"
        )
    text = text.strip()
    protocol: str | None = None
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme.lower() not in ("http", "https"):
            raise ConfigurationError(
                f"endpoint {original!r} uses scheme {scheme!r}; use http:// or https://"
            )
        protocol = scheme.lower()
    text = text.rstrip("/")
    if "/" in text or "?" in text:
        raise ConfigurationError(
            f"endpoint {original!r} contains a path; give only host:port "
            "such as 127.0.0.1:18931"
        )
    host, colon, port_text = text.rpartition(":")
    if not colon:
        host, port_text = text, ""
    if not host or not _HOST.fullmatch(host):
        raise ConfigurationError(
            f"endpoint {original!r} has no valid host; give host:port such as "
            "127.0.0.1:18931"
        )
    if colon:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigurationError(
                f"endpoint {original!r} has an invalid port {port_text!r}; "
                "give a port from 1 to 65535"
            )
    elif require_port:
        raise ConfigurationError(
            f"endpoint {original!r} has no port; give host:port such as "
            "http://127.0.0.1:18931"
        )
    return (f"{host}:{port_text}" if colon else host), protocol


class CloudConnection(BaseModel):
    """How to reach Alibaba Cloud and as whom.

    ``endpoint`` sends every service to one ``host[:port]``; ``endpoints`` overrides
    single services (keys from ``SERVICES``) and wins over ``endpoint``.
    """

    # hide_input_in_errors: a validation error must never echo a pasted secret.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    access_key_id: str
    access_key_secret: SecretStr
    security_token: SecretStr | None = None
    region: str = DEFAULT_REGION
    endpoint: str | None = None
    endpoints: dict[str, str] = Field(default_factory=dict)
    protocol: Literal["https", "http"] = "https"
    connect_timeout_ms: int = Field(default=5000, gt=0, le=600_000)
    read_timeout_ms: int = Field(default=10_000, gt=0, le=600_000)
    role_arn: str | None = None
    role_session_name: str = "akresponder"
    # Where the credentials came from ("explicit", "environment", "block", ...), for
    # logs and reports.
    credential_source: str = "explicit"

    @field_validator("access_key_id")
    @classmethod
    def _check_access_key_id(cls, value: str) -> str:
        return validate_access_key_id(value)

    @field_validator("access_key_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret.strip() == "":
            raise ConfigurationError(
                "AccessKeySecret is empty; set it to the secret of the AccessKey pair"
            )
        if secret != secret.strip():
            raise ConfigurationError(
                "AccessKeySecret has leading or trailing whitespace; remove it"
            )
        if _LTAI_ID.fullmatch(secret):
            raise ConfigurationError(
                "AccessKeySecret looks like an AccessKey ID; give the secret that "
                "belongs to the id"
            )
        redact.register_secret(secret)
        return value

    @field_validator("security_token")
    @classmethod
    def _register_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            redact.register_secret(value.get_secret_value())
        return value

    @field_validator("region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ConfigurationError(
                f"invalid region {value!r}; give a region id such as cn-hangzhou "
                "or ap-southeast-1"
            )
        return value

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host_port, _ = parse_endpoint(value)
        return host_port

    @field_validator("endpoints")
    @classmethod
    def _check_endpoints(cls, value: dict[str, str]) -> dict[str, str]:
        checked = {}
        for service, endpoint in value.items():
            if service not in SERVICES:
                raise ConfigurationError(
                    f"unknown service {service!r} in endpoints; use one of "
                    f"{', '.join(SERVICES)}"
                )
            checked[service] = parse_endpoint(endpoint)[0]
        return checked

    @field_validator("role_arn")
    @classmethod
    def _check_role_arn(cls, value: str | None) -> str | None:
        return None if value is None else validate_role_arn(value)

    @field_validator("role_session_name")
    @classmethod
    def _check_session_name(cls, value: str) -> str:
        return validate_session_name(value)

    @model_validator(mode="after")
    def _check_sts_token(self) -> CloudConnection:
        if self.access_key_id.startswith("STS.") and self.security_token is None:
            raise ConfigurationError(
                f"AccessKey ID {self.access_key_id} is an STS key and needs its "
                f"security token; set {ENV_SECURITY_TOKEN} or security_token"
            )
        return self

    def endpoint_for(self, service: str) -> str | None:
        """Return the overriding ``host[:port]`` for ``service``, or None."""
        if service not in SERVICES:
            raise ConfigurationError(
                f"unknown service {service!r}; use one of {', '.join(SERVICES)}"
            )
        return self.endpoints.get(service) or self.endpoint

    def identity(self) -> str:
        """Return a key that differs whenever any setting or secret differs.

        The secrets enter only as a SHA-256 digest, so the key is safe to log.
        """
        digest = hashlib.sha256(self.access_key_secret.get_secret_value().encode())
        if self.security_token is not None:
            digest.update(b"\0" + self.security_token.get_secret_value().encode())
        overrides = ",".join(f"{k}={v}" for k, v in sorted(self.endpoints.items()))
        return "|".join(
            [
                self.access_key_id,
                digest.hexdigest()[:16],
                self.region,
                self.endpoint or "",
                overrides,
                self.protocol,
                str(self.connect_timeout_ms),
                str(self.read_timeout_ms),
                self.role_arn or "",
                self.role_session_name,
            ]
        )

    def describe(self) -> str:
        """Return the non-secret settings as ``key=value`` fields for logs."""
        fields = [
            f"access_key_id={self.access_key_id}",
            f"credential_source={self.credential_source}",
            f"region={self.region}",
        ]
        if self.endpoint:
            fields.append(f"endpoint={self.protocol}://{self.endpoint}")
        if self.role_arn:
            fields.append(f"role_arn={self.role_arn}")
        return " ".join(fields)


def _build(values: dict[str, Any]) -> CloudConnection:
    try:
        return CloudConnection(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'connection'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise ConfigurationError(f"invalid connection settings: {problems}") from None


def _from_environment(env: Mapping[str, str]) -> dict[str, Any] | None:
    key_id = env.get(ENV_ACCESS_KEY_ID, "")
    secret = env.get(ENV_ACCESS_KEY_SECRET, "")
    if not key_id and not secret:
        return None
    if not key_id or not secret:
        missing = ENV_ACCESS_KEY_ID if not key_id else ENV_ACCESS_KEY_SECRET
        present = ENV_ACCESS_KEY_SECRET if not key_id else ENV_ACCESS_KEY_ID
        raise ConfigurationError(
            f"{present} is set but {missing} is not; set both or neither"
        )
    values: dict[str, Any] = {
        "access_key_id": key_id,
        "access_key_secret": secret,
        "credential_source": "environment",
    }
    token = env.get(ENV_SECURITY_TOKEN, "")
    if token:
        values["security_token"] = token
    return values


def _credentials_to_values(credentials: Any, source: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "access_key_id": credentials.get_access_key_id(),
        "access_key_secret": credentials.get_access_key_secret(),
        "credential_source": source,
    }
    token = credentials.get_security_token()
    if token:
        values["security_token"] = token
    return values


def _from_profile_files(env: Mapping[str, str]) -> dict[str, Any] | None:
    """Read the two profile files of Alibaba's default chain, if either exists."""
    from alibabacloud_credentials.provider import (
        CLIProfileCredentialsProvider,
        ProfileCredentialsProvider,
    )

    home = env.get("HOME") or os.path.expanduser("~")
    cli_file = os.path.join(home, ".aliyun", "config.json")
    if os.path.isfile(cli_file):
        provider = CLIProfileCredentialsProvider(
            profile_file=cli_file, profile_name=env.get("ALIBABA_CLOUD_PROFILE")
        )
        try:
            credentials = provider.get_credentials()
        except Exception as exc:
            raise ConfigurationError(
                f"could not read credentials from {cli_file}: "
                f"{redact.scrub_text(str(exc))}; fix the profile with "
                "`aliyun configure` or set "
                f"{ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}"
            ) from None
        return _credentials_to_values(credentials, f"cli-profile:{cli_file}")

    ini_file = env.get("ALIBABA_CLOUD_CREDENTIALS_FILE") or os.path.join(
        home, ".alibabacloud", "credentials.ini"
    )
    if os.path.isfile(ini_file):
        provider = ProfileCredentialsProvider(
            profile_file=ini_file,
            profile_name=env.get("ALIBABA_CLOUD_PROFILE", "default"),
        )
        try:
            credentials = provider.get_credentials()
        except Exception as exc:
            raise ConfigurationError(
                f"could not read credentials from {ini_file}: "
                f"{redact.scrub_text(str(exc))}; fix the file or set "
                f"{ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}"
            ) from None
        return _credentials_to_values(credentials, f"profile:{ini_file}")
    return None


def _instance_metadata_allowed(env: Mapping[str, str]) -> str | None:
    """Return why the ECS metadata service must not be contacted, or None."""
    if env.get(ENV_ECS_METADATA_DISABLED, "").lower() == "true":
        return f"{ENV_ECS_METADATA_DISABLED} is true"
    if env.get(ENV_ENDPOINT):
        return f"{ENV_ENDPOINT} points at a local endpoint"
    if "PYTEST_CURRENT_TEST" in os.environ or "PYTEST_CURRENT_TEST" in env:
        return "this is a test run"
    return None


def _from_instance_role() -> dict[str, Any]:
    from alibabacloud_credentials.provider import EcsRamRoleCredentialsProvider

    # NOTE: the credentials are a snapshot of the role's STS token, which the
    # metadata service rotates. A run that outlives the token must call
    # resolve_connection again.
    try:
        credentials = EcsRamRoleCredentialsProvider().get_credentials()
    except Exception as exc:
        raise ConfigurationError(
            "no Alibaba Cloud credentials found and the ECS instance RAM role is not "
            f"available ({redact.scrub_text(str(exc))}); set {ENV_ACCESS_KEY_ID} and "
            f"{ENV_ACCESS_KEY_SECRET}, run `aliyun configure`, or pass an "
            "AlibabaCloudCredentials block"
        ) from None
    return _credentials_to_values(credentials, "ecs-ram-role")


def resolve_connection(
    credentials: ConnectionSource | CloudConnection | None = None,
    *,
    region: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> CloudConnection:
    """Build a connection from the credential chain described in the module docstring.

    ``region`` wins over ``ALIBABA_CLOUD_REGION_ID``, which wins over the source's
    region. Raises ``ConfigurationError`` naming the missing or invalid setting.
    """
    env = os.environ if environ is None else environ

    if isinstance(credentials, CloudConnection):
        values = credentials.model_dump()
    elif credentials is not None:
        values = credentials.to_connection().model_dump()
        values["credential_source"] = "block"
    else:
        values = _from_environment(env) or _from_profile_files(env)
        if values is None:
            reason = _instance_metadata_allowed(env)
            if reason is not None:
                raise ConfigurationError(
                    f"no Alibaba Cloud credentials found (the ECS instance role is not "
                    f"tried because {reason}); set {ENV_ACCESS_KEY_ID} and "
                    f"{ENV_ACCESS_KEY_SECRET}, run `aliyun configure`, or pass an "
                    "AlibabaCloudCredentials block"
                )
            values = _from_instance_role()

    chosen_region = region or env.get(ENV_REGION)
    if chosen_region:
        values["region"] = chosen_region

    endpoint_text = env.get(ENV_ENDPOINT, "")
    if endpoint_text:
        host_port, protocol = parse_endpoint(endpoint_text, require_port=True)
        if protocol is None:
            raise ConfigurationError(
                f"{ENV_ENDPOINT}={endpoint_text!r} has no scheme; write it as "
                f"http://{host_port}"
            )
        values["endpoint"] = host_port
        values["endpoints"] = {}
        values["protocol"] = protocol

    return _build(values)
