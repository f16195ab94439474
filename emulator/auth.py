"""Request authentication: signature checks and caller resolution.

Four signature schemes reach the emulator. POP products (RAM, STS, ActionTrail, BSS,
ECS) use ACS3-HMAC-SHA256 in the ``Authorization`` header, which is the default of the
Tea SDKs, or the legacy RPC HMAC-SHA1 signature in the query
(``Config(signature_algorithm="v2")``). SLS uses its own ``LOG <id>:<sig>`` (v1,
HMAC-SHA1) or ``SLS4-HMAC-SHA256`` (v4) schemes.

The checks run in the order of the real gateway: parse the signature, look up the key,
compare the signature in constant time, then key status, security token, timestamp skew
and nonce replay. The timestamp skew is measured against the host's wall clock, not the
emulated clock, because SDKs sign with the host clock while a scenario may set the
emulated clock to any date.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, quote

from emulator.errors import (
    AlibabaError,
    IncompleteSignature,
    InvalidAccessKeyIdInactive,
    InvalidAccessKeyIdNotFound,
    InvalidSecurityTokenExpired,
    InvalidSecurityTokenMismatch,
    InvalidTimeStampExpired,
    InvalidTimeStampFormat,
    MissingSecurityToken,
    SignatureDoesNotMatch,
    SignatureNonceUsed,
    SlsError,
)
from emulator.state import AccessKey, Caller, Cloud

# Both POP and SLS reject requests signed more than 15 minutes before or after the
# server's time, and POP remembers nonces for the same window.
MAX_SKEW_SECONDS = 15 * 60
NONCE_TTL_SECONDS = 15 * 60

ACS3_REQUIRED_HEADERS = (
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
)
ACS3_ALGORITHMS = ("ACS3-HMAC-SHA256",)
_ACS3_PATTERN = re.compile(
    r"^(?P<algorithm>ACS3-[A-Z0-9-]+)\s+Credential=(?P<key>[^,\s]+),\s*"
    r"SignedHeaders=(?P<headers>[^,\s]*),\s*Signature=(?P<signature>[0-9a-fA-F]+)$"
)
_SLS4_PATTERN = re.compile(
    r"^SLS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)"
    r"/sls/aliyun_v4_request,\s*Signature=(?P<signature>[0-9a-fA-F]+)$"
)
# Wire parameters of the legacy RPC signature; they are not API parameters.
RPC_SIGNATURE_PARAMS = frozenset(
    {
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "SignatureType",
        "AccessKeyId",
        "SecurityToken",
        "Timestamp",
        "Format",
        "BearerToken",
    }
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass
class HttpRequest:
    """The parts of an HTTP request that signatures cover."""

    method: str
    path: str
    query: list[tuple[str, str]]  # decoded, in wire order
    headers: dict[str, list[str]]  # lower-case names, every value received
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else default

    def query_dict(self) -> dict[str, str]:
        return dict(self.query)


@dataclass
class AuthOptions:
    """Switches for checks that tests may need to turn off."""

    check_clock_skew: bool = True
    check_nonce: bool = True


class NonceCache:
    """Nonces seen in the last 15 minutes, per AccessKey ID, for replay detection."""

    def __init__(self, ttl_seconds: float = NONCE_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def check_and_add(self, access_key_id: str, nonce: str) -> bool:
        """Record the nonce and return False if it was already used within the TTL."""
        now = time.monotonic()
        with self._lock:
            while self._seen:
                oldest_key, seen_at = next(iter(self._seen.items()))
                if now - seen_at < self._ttl:
                    break
                del self._seen[oldest_key]
            key = (access_key_id, nonce)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


@dataclass
class AuthResult:
    """A verified request: who made it and with which key."""

    caller: Caller
    access_key: AccessKey
    signature_version: str  # "ACS3-HMAC-SHA256", "v2", "sls-v1" or "sls-v4"


class AuthenticationFailed(Exception):
    """A request failed authentication after its key resolved to an identity.

    The server records such calls as ActionTrail events (a disabled key that is still
    being used is what a responder wants to see), so it needs the caller too.
    """

    def __init__(self, error: Exception, caller: Caller) -> None:
        super().__init__(str(error))
        self.error = error
        self.caller = caller


def percent_encode(value: str) -> str:
    """Encode as RFC 3986 does, the way the Alibaba signers do (space -> %20)."""
    return quote(value, safe="~", encoding="utf-8")


# --- caller resolution -----------------------------------------------------------


def resolve_caller(cloud: Cloud, key: AccessKey) -> Caller:
    """Build the ``Caller`` for an AccessKey: root, RAM user or assumed role."""
    if key.owner_type == "root-account":
        return Caller(
            type="root-account",
            access_key_id=key.access_key_id,
            principal_id=cloud.account_id,
            user_name="root",
        )
    if key.owner_type == "assumed-role":
        session = cloud.sts_sessions.get(key.access_key_id)
        role_name = session.role_name if session else (key.user_name or "unknown")
        session_name = session.session_name if session else "unknown"
        role = cloud.roles.get(role_name)
        role_id = role.role_id if role else role_name
        return Caller(
            type="assumed-role",
            access_key_id=key.access_key_id,
            principal_id=f"{role_id}:{session_name}",
            user_name=f"{role_name}:{session_name}",
            role_name=role_name,
            session_name=session_name,
        )
    user = cloud.users.get(key.user_name or "")
    return Caller(
        type="ram-user",
        access_key_id=key.access_key_id,
        principal_id=user.user_id if user else "",
        user_name=key.user_name or "",
    )


def lookup_key(cloud: Cloud, access_key_id: str) -> AccessKey | None:
    """Find an AccessKey by id, including STS keys only present as sessions."""
    key = cloud.access_keys.get(access_key_id)
    if key is not None:
        return key
    session = cloud.sts_sessions.get(access_key_id)
    if session is None:
        return None
    return AccessKey(
        access_key_id=session.access_key_id,
        secret=session.secret,
        status="Active",
        create_date=session.expiration,
        owner_type="assumed-role",
        user_name=session.role_name,
    )


# --- POP: ACS3 and legacy RPC ------------------------------------------------------


def acs3_string_to_sign(
    request: HttpRequest, signed_headers: list[str], algorithm: str
) -> str:
    """Rebuild the ACS3 string to sign from the request as received."""
    canonical_query = "&".join(
        f"{key}={percent_encode(value)}" for key, value in sorted(request.query)
    )
    canonical_headers = "".join(
        name
        + ":"
        + ",".join(sorted(v.strip() for v in request.headers.get(name, [])))
        + "\n"
        for name in signed_headers
    )
    body_hash = hashlib.sha256(request.body).hexdigest()
    canonical_request = "\n".join(
        [
            request.method,
            request.path or "/",
            canonical_query,
            canonical_headers,
            ";".join(signed_headers),
            body_hash,
        ]
    )
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{algorithm}\n{digest}"


def rpc_string_to_sign(method: str, params: dict[str, str]) -> str:
    """Rebuild the legacy RPC (HMAC-SHA1) string to sign from every parameter."""
    canonical = "&".join(
        f"{percent_encode(key)}={percent_encode(value)}"
        for key, value in sorted(params.items())
        if key != "Signature"
    )
    return f"{method}&%2F&{percent_encode(canonical)}"


def _parse_acs_date(text: str | None) -> datetime:
    if not text:
        raise InvalidTimeStampFormat("Specified time stamp or date value is missing.")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidTimeStampFormat(
            f"Specified time stamp or date value is not well formatted: {text!r}; "
            "expected YYYY-MM-DDThh:mm:ssZ in UTC."
        ) from None


def _check_skew(signed_at: datetime, options: AuthOptions) -> None:
    if not options.check_clock_skew:
        return
    skew = abs(time.time() - signed_at.timestamp())
    if skew > MAX_SKEW_SECONDS:
        raise InvalidTimeStampExpired(
            "Specified time stamp or date value is expired: "
            f"{signed_at:%Y-%m-%dT%H:%M:%SZ} "
            f"is {int(skew)} s away from the server time; the limit is "
            f"{MAX_SKEW_SECONDS} s. Synchronise the client clock."
        )


def _check_pop_security_token(cloud: Cloud, key: AccessKey, token: str | None) -> None:
    if key.owner_type != "assumed-role":
        return
    session = cloud.sts_sessions.get(key.access_key_id)
    if not token:
        raise MissingSecurityToken(
            f"SecurityToken is mandatory for the STS AccessKey {key.access_key_id}; "
            "pass the SecurityToken returned by AssumeRole."
        )
    if session is None or not hmac.compare_digest(session.security_token, token):
        raise InvalidSecurityTokenMismatch()
    if cloud.now() >= session.expiration:
        raise InvalidSecurityTokenExpired(
            f"Specified SecurityToken is expired: the credentials of AccessKey "
            f"{key.access_key_id} expired at {session.expiration:%Y-%m-%dT%H:%M:%SZ}. "
            "Call AssumeRole again."
        )


def authenticate_pop(
    cloud: Cloud, request: HttpRequest, options: AuthOptions, nonces: NonceCache
) -> AuthResult:
    """Verify a POP request's signature and return the caller.

    Raises an ``AlibabaError`` when the key is unknown or the signature is wrong, and
    ``AuthenticationFailed`` (carrying the caller) for the checks after the signature.
    """
    authorization = request.header("authorization")
    query = request.query_dict()
    if authorization and authorization.startswith("ACS3-"):
        return _authenticate_acs3(cloud, request, authorization, options, nonces)
    if "Signature" in query:
        return _authenticate_rpc(cloud, request, options, nonces)
    # NOTE: the real gateway's code for an unsigned request is unverified; the
    # emulator uses IncompleteSignature.
    raise IncompleteSignature(
        "The request is not signed: send an ACS3-HMAC-SHA256 Authorization header "
        "or the RPC Signature parameters."
    )


def _authenticate_acs3(
    cloud: Cloud,
    request: HttpRequest,
    authorization: str,
    options: AuthOptions,
    nonces: NonceCache,
) -> AuthResult:
    match = _ACS3_PATTERN.match(authorization.strip())
    if match is None:
        raise IncompleteSignature(
            "The Authorization header is malformed; expected "
            "'ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<names>,Signature=<hex>'."
        )

    algorithm = match["algorithm"]
    if algorithm not in ACS3_ALGORITHMS:
        raise IncompleteSignature(
            f"The signature algorithm {algorithm} is not supported by the emulator; "
            "use ACS3-HMAC-SHA256."
        )
    signed_headers = [name for name in match["headers"].lower().split(";") if name]
    missing = [name for name in ACS3_REQUIRED_HEADERS if name not in signed_headers]
    if missing:
        raise IncompleteSignature(
            f"The signed headers lack {', '.join(missing)}; sign every x-acs-* header "
            "and host."
        )

    key = lookup_key(cloud, match["key"])
    if key is None:
        raise InvalidAccessKeyIdNotFound()
    string_to_sign = acs3_string_to_sign(request, signed_headers, algorithm)
    expected = hmac.new(
        key.secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, match["signature"].lower()):
        raise SignatureDoesNotMatch(
            "Specified signature is not matched with our calculation. "
            f"server string to sign is:{string_to_sign}"
        )

    caller = resolve_caller(cloud, key)
    try:
        _check_key_active(key)
        _check_pop_security_token(cloud, key, request.header("x-acs-security-token"))
        _check_skew(_parse_acs_date(request.header("x-acs-date")), options)
        _check_nonce(
            nonces, options, key, request.header("x-acs-signature-nonce") or ""
        )
    except AlibabaError as error:
        raise AuthenticationFailed(error, caller) from None
    return AuthResult(caller=caller, access_key=key, signature_version=algorithm)


def _authenticate_rpc(
    cloud: Cloud, request: HttpRequest, options: AuthOptions, nonces: NonceCache
) -> AuthResult:
    params = dict(request.query)
    params.update(form_params(request))
    access_key_id = params.get("AccessKeyId")
    if not access_key_id:
        raise IncompleteSignature("The RPC signature lacks the AccessKeyId parameter.")
    if params.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
        raise IncompleteSignature(
            f"The SignatureMethod {params['SignatureMethod']} is not supported; "
            "use HMAC-SHA1."
        )

    key = lookup_key(cloud, access_key_id)
    if key is None:
        raise InvalidAccessKeyIdNotFound()
    string_to_sign = rpc_string_to_sign(request.method, params)
    digest = hmac.new(
        (key.secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1
    ).digest()
    expected = base64.b64encode(digest).decode("ascii")
    if not hmac.compare_digest(expected, params.get("Signature", "")):
        raise SignatureDoesNotMatch(
            "Specified signature is not matched with our calculation. "
            f"server string to sign is:{string_to_sign}"
        )

    caller = resolve_caller(cloud, key)
    try:
        _check_key_active(key)
        _check_pop_security_token(cloud, key, params.get("SecurityToken"))
        _check_skew(_parse_acs_date(params.get("Timestamp")), options)
        _check_nonce(nonces, options, key, params.get("SignatureNonce", ""))
    except AlibabaError as error:
        raise AuthenticationFailed(error, caller) from None
    return AuthResult(caller=caller, access_key=key, signature_version="v2")


def _check_key_active(key: AccessKey) -> None:
    if key.status != "Active":
        raise InvalidAccessKeyIdInactive()


def _check_nonce(
    nonces: NonceCache, options: AuthOptions, key: AccessKey, nonce: str
) -> None:
    if not options.check_nonce:
        return
    if not nonce:
        raise IncompleteSignature("The request lacks a signature nonce.")
    if not nonces.check_and_add(key.access_key_id, nonce):
        raise SignatureNonceUsed()


def form_params(request: HttpRequest) -> dict[str, str]:
    """Decode an ``application/x-www-form-urlencoded`` body into parameters."""
    content_type = (request.header("content-type") or "").lower()
    if not request.body or not content_type.startswith(
        "application/x-www-form-urlencoded"
    ):
        return {}
    text = request.body.decode("utf-8", errors="replace")
    return dict(parse_qsl(text, keep_blank_values=True))


# --- SLS: v1 (LOG) and v4 (SLS4-HMAC-SHA256) ---------------------------------------


def sls_v1_string_to_sign(request: HttpRequest) -> str:
    """Rebuild the SLS v1 string to sign; ``x-log-date`` is excluded because the SDK
    adds it after signing."""
    lines = [
        request.method,
        request.header("content-md5", "") or "",
        request.header("content-type", "") or "",
        request.header("date", "") or "",
    ]
    log_headers = "".join(
        f"{name}:{values[0]}\n"
        for name, values in sorted(request.headers.items())
        if _is_sls_signed_header(name) and name != "x-log-date"
    )
    resource = request.path
    if request.query:
        resource += "?" + "&".join(f"{k}={v}" for k, v in sorted(request.query))
    return "\n".join(lines) + "\n" + log_headers + resource


def sls_v4_string_to_sign(request: HttpRequest, date: str, region: str) -> str:
    """Rebuild the SLS v4 string to sign from the request as received."""
    query_parts = []
    for key, value in sorted(request.query):
        encoded = percent_encode(value)
        query_parts.append(f"{key}={encoded}" if encoded else key)
    signed = sorted(
        name
        for name in request.headers
        if name in ("content-type", "host") or _is_sls_signed_header(name)
    )
    canonical_headers = "".join(
        f"{name}:{request.headers[name][0].strip()}\n" for name in signed
    )
    content_sha256 = request.header("x-log-content-sha256") or EMPTY_SHA256
    canonical_request = "\n".join(
        [
            request.method,
            request.path,
            "&".join(query_parts),
            canonical_headers,
            ";".join(signed),
            content_sha256,
        ]
    )
    scope = f"{date}/{region}/sls/aliyun_v4_request"
    request_time = request.header("x-log-date") or ""
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"SLS4-HMAC-SHA256\n{request_time}\n{scope}\n{digest}"


def sls_v4_signature(secret: str, date: str, region: str, string_to_sign: str) -> str:
    key = ("aliyun_v4" + secret).encode("utf-8")
    for part in (date, region, "sls", "aliyun_v4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def _is_sls_signed_header(name: str) -> bool:
    return name.startswith("x-acs-") or (
        name.startswith("x-log-") and not name.startswith("x-log-meta-")
    )


def authenticate_sls(
    cloud: Cloud, request: HttpRequest, options: AuthOptions
) -> AuthResult:
    """Verify an SLS request's v1 or v4 signature and return the caller.

    Raises ``SlsError`` with SLS's own codes (Unauthorized, SignatureNotMatch,
    RequestTimeTooSkewed), or ``AuthenticationFailed`` wrapping one once the key
    resolved.
    """
    authorization = (request.header("authorization") or "").strip()
    if authorization.startswith("LOG "):
        access_key_id, _, signature = authorization[4:].strip().rpartition(":")
        key = _sls_lookup(cloud, access_key_id)
        string_to_sign = sls_v1_string_to_sign(request)
        digest = hmac.new(
            key.secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1
        ).digest()
        expected = base64.b64encode(digest).decode("ascii")
        version = "sls-v1"
    elif authorization.startswith("SLS4-HMAC-SHA256"):
        match = _SLS4_PATTERN.match(authorization)
        if match is None:
            raise SlsError(
                "Unauthorized",
                401,
                "The Authorization header is malformed; expected 'SLS4-HMAC-SHA256 "
                "Credential=<id>/<yyyymmdd>/<region>/sls/aliyun_v4_request,Signature=<hex>'.",
            )
        key = _sls_lookup(cloud, match["key"])
        string_to_sign = sls_v4_string_to_sign(request, match["date"], match["region"])
        expected = sls_v4_signature(
            key.secret, match["date"], match["region"], string_to_sign
        )
        signature = match["signature"].lower()
        version = "sls-v4"
    else:
        raise SlsError(
            "Unauthorized",
            401,
            "The request is not signed: send 'Authorization: LOG <id>:<signature>' "
            "or an SLS4-HMAC-SHA256 Authorization header.",
        )
    if not hmac.compare_digest(expected, signature):
        raise SlsError(
            "SignatureNotMatch",
            401,
            f"signature {signature} not match; server string to sign is: "
            f"{string_to_sign!r}",
        )
    caller = resolve_caller(cloud, key)
    try:
        if request.body and request.header("content-md5"):
            body_md5 = hashlib.md5(request.body).hexdigest().upper()
            if body_md5 != request.header("content-md5", "").upper():
                raise SlsError(
                    "InvalidContentMD5",
                    400,
                    "The Content-MD5 header does not match the MD5 of the body.",
                )
        if key.status != "Active":
            raise SlsError(
                "Unauthorized", 401, f"AccessKeyId is disabled: {key.access_key_id}"
            )
        _check_sls_security_token(cloud, key, request.header("x-acs-security-token"))
        _check_sls_skew(request, version, options)
    except SlsError as error:
        raise AuthenticationFailed(error, caller) from None
    return AuthResult(caller=caller, access_key=key, signature_version=version)


def _sls_lookup(cloud: Cloud, access_key_id: str) -> AccessKey:
    key = lookup_key(cloud, access_key_id)
    if key is None:
        raise SlsError("Unauthorized", 401, f"AccessKeyId not found: {access_key_id}")
    return key


def _check_sls_security_token(cloud: Cloud, key: AccessKey, token: str | None) -> None:
    if key.owner_type != "assumed-role":
        return
    session = cloud.sts_sessions.get(key.access_key_id)
    if (
        not token
        or session is None
        or not hmac.compare_digest(session.security_token, token)
    ):
        raise SlsError(
            "Unauthorized",
            401,
            "The security token you provided is invalid for AccessKeyId "
            f"{key.access_key_id}.",
        )
    if cloud.now() >= session.expiration:
        raise SlsError(
            "Unauthorized", 401, "The security token you provided has expired."
        )


def _check_sls_skew(request: HttpRequest, version: str, options: AuthOptions) -> None:
    if not options.check_clock_skew:
        return
    try:
        if version == "sls-v4":
            text = request.header("x-log-date") or ""
            signed_at = datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        else:
            text = request.header("date") or request.header("x-log-date") or ""
            signed_at = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise SlsError(
            "RequestTimeTooSkewed",
            400,
            f"The request date {text!r} is not a valid date.",
        ) from None
    skew = abs(time.time() - signed_at.timestamp())
    if skew > MAX_SKEW_SECONDS:
        raise SlsError(
            "RequestTimeTooSkewed",
            400,
            f"The request time {text} is {int(skew)} s away from the server time; "
            f"the limit is {MAX_SKEW_SECONDS} s. Synchronise the client clock.",
        )
