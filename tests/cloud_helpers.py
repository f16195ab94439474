"""Connections and fault helpers for the tests of the cloud access layer.

The key pairs are the test values of tests/scenarios/basic.json.
"""

from __future__ import annotations

from typing import Any

from akresponder.clients import clear_client_cache
from akresponder.config import CloudConnection, resolve_connection

RESPONDER = ("LTAI5tRESPONDER000000001", "rsSecretResponderKey000000000001")
APP_BACKEND = ("LTAI5tAPPBACKEND00000001", "abSecretAppBackendKey00000000001")
SLS_PROJECT = "audit-1234567890123456"
TRAIL_LOGSTORE = "actiontrail_main"


def connect(
    emu: Any, key: tuple[str, str] = RESPONDER, **extra: str
) -> CloudConnection:
    """Resolve a connection the way the CLI does, from variables, to ``emu``."""
    clear_client_cache()
    environ = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": key[0],
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": key[1],
        "AKRESPONDER_ENDPOINT": emu.url,
        **extra,
    }
    return resolve_connection(environ=environ)


def add_fault(emu: Any, **rule: Any) -> None:
    """Install one fault rule, such as ``service="ram", action="ListUsers"``."""
    emu.control("POST", "faults", rule)


def calls(emu: Any, action: str) -> list[dict[str, Any]]:
    """Return the emulator's log entries for ``action``, oldest first."""
    entries = emu.control("GET", "requests")["requests"]
    return [entry for entry in entries if entry["action"] == action]
