"""SDK clients for the emulator, built the way product code builds them.

The credentials below are the test values of tests/scenarios/basic.json.
"""

from __future__ import annotations

from typing import Any

from emulator.testing import pop_config, sls_client

RESPONDER = ("LTAI5tRESPONDER000000001", "rsSecretResponderKey000000000001")
APP_BACKEND = ("LTAI5tAPPBACKEND00000001", "abSecretAppBackendKey00000000001")
CI_DEPLOY_A = ("LTAI5tCIDEPLOY000000001A", "ciSecretCiDeployKeyA000000000001")
CI_DEPLOY_B = ("LTAI5tCIDEPLOY000000002B", "ciSecretCiDeployKeyB000000000002")
ROOT = ("LTAI5tROOTACCOUNT0000001", "rtSecretRootAccountKey0000000001")
SLS_PROJECT = "audit-1234567890123456"
TRAIL_LOGSTORE = "actiontrail_main"


def _endpoint(emu: Any) -> str:
    return emu.endpoint if hasattr(emu, "endpoint") else str(emu)


def ram_client(emu: Any, key_id: str, secret: str, **kwargs: Any):
    """A RAM 2015-05-01 client; ``kwargs`` go to ``pop_config``."""
    from alibabacloud_ram20150501.client import Client

    return Client(pop_config(_endpoint(emu), key_id, secret, **kwargs))


def sts_client(emu: Any, key_id: str, secret: str, **kwargs: Any):
    from alibabacloud_sts20150401.client import Client

    return Client(pop_config(_endpoint(emu), key_id, secret, **kwargs))


def actiontrail_client(emu: Any, key_id: str, secret: str, **kwargs: Any):
    from alibabacloud_actiontrail20200706.client import Client

    return Client(pop_config(_endpoint(emu), key_id, secret, **kwargs))


def bss_client(emu: Any, key_id: str, secret: str, **kwargs: Any):
    from alibabacloud_bssopenapi20171214.client import Client

    return Client(pop_config(_endpoint(emu), key_id, secret, **kwargs))


def ecs_client(emu: Any, key_id: str, secret: str, **kwargs: Any):
    from alibabacloud_ecs20140526.client import Client

    return Client(pop_config(_endpoint(emu), key_id, secret, **kwargs))


def log_client(emu: Any, key_id: str, secret: str, **kwargs: Any):
    """An SLS ``LogClient``; ``kwargs`` go to ``sls_client`` (auth_version, ...)."""
    return sls_client(_endpoint(emu), key_id, secret, **kwargs)


def send_signed_pop(
    emu: Any,
    key_id: str,
    secret: str,
    action: str,
    version: str,
    params: dict[str, str] | None = None,
    *,
    date: str | None = None,
    nonce: str | None = None,
    security_token: str | None = None,
    extra_headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
):
    """Send one ACS3-signed POP request with ``requests``, returning the response.

    Tests use it where the SDK cannot choose the value under test: an old
    ``x-acs-date``, a repeated nonce, an ``x-forwarded-for`` header or a form body.
    The signature comes from the Tea SDK's own ``Utils.get_authorization``.
    """
    import hashlib
    import time
    import uuid
    from types import SimpleNamespace
    from urllib.parse import urlencode

    import requests
    from alibabacloud_tea_openapi.utils import Utils

    body = urlencode(form).encode("utf-8") if form else b""

    headers = {
        "host": _endpoint(emu),
        "x-acs-version": version,
        "x-acs-action": action,
        "x-acs-date": date or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
        "accept": "application/json",
    }
    if form:
        headers["content-type"] = "application/x-www-form-urlencoded"
    if security_token is not None:
        headers["x-acs-security-token"] = security_token
    headers.update(extra_headers or {})
    query = dict(params or {})
    to_sign = SimpleNamespace(pathname="/", query=query, headers=headers, method="POST")
    headers["Authorization"] = Utils.get_authorization(
        to_sign, "ACS3-HMAC-SHA256", headers["x-acs-content-sha256"], key_id, secret
    )
    with requests.Session() as session:
        session.trust_env = False
        url = f"http://{_endpoint(emu)}/"
        return session.post(url, params=query, headers=headers, data=body)
