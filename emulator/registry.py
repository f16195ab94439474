"""The table of emulated POP (RPC) API actions and the request object handlers get.

A service's ``responses.py`` registers each action with ``@pop_action``. The server
looks the handler up by ``(x-acs-version, x-acs-action)``, authenticates and
authorises the caller against ``ActionSpec.auth_action``, and calls the handler under
``Cloud.lock``. It then records the call as an ActionTrail event with the spec's
service fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import InvalidParameter, MissingParameter
from emulator.state import Caller, Cloud


@dataclass
class PopRequest:
    """One authenticated API call, as a handler sees it."""

    cloud: Cloud
    action: str
    version: str
    params: dict[str, str]  # flat wire parameters ("LookupAttribute.1.Key", ...)
    caller: Caller
    source_ip: str
    user_agent: str
    region: str
    request_id: str
    # Filled in by the handler when the call names a resource, for the ActionTrail
    # event's resourceType / resourceName / referencedResources.
    resources: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return default if value in (None, "") else value

    def require(self, name: str) -> str:
        value = self.params.get(name)
        if value in (None, ""):
            raise MissingParameter(name)
        return value

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        if value in (None, ""):
            return default
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise InvalidParameter(name, f"Expected true or false, got {value!r}.")
        return lowered == "true"

    def get_int(
        self,
        name: str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self.params.get(name)
        if value in (None, ""):
            return default
        try:
            number = int(value)
        except ValueError:
            raise InvalidParameter(
                name, f"Expected an integer, got {value!r}."
            ) from None
        if (minimum is not None and number < minimum) or (
            maximum is not None and number > maximum
        ):
            raise InvalidParameter(
                name, f"Expected a value from {minimum} to {maximum}, got {number}."
            )
        return number

    def list_param(self, prefix: str) -> list[dict[str, str]]:
        """Collect a 1-based flattened list parameter.

        ``Prefix.1.Key=a&Prefix.1.Value=b`` becomes ``[{"Key": "a", "Value": "b"}]``.
        """
        items: dict[int, dict[str, str]] = {}
        start = prefix + "."
        for key, value in self.params.items():
            if not key.startswith(start):
                continue
            index_text, _, field_name = key[len(start) :].partition(".")
            if index_text.isdigit():
                items.setdefault(int(index_text), {})[field_name] = value
        return [items[index] for index in sorted(items)]


Handler = Callable[[PopRequest], dict[str, Any]]


@dataclass(frozen=True)
class ActionSpec:
    product: str  # emulator service folder: "ram", "sts", "actiontrail", "bss", "ecs"
    version: str  # API version, the x-acs-version header
    action: str
    handler: Handler
    auth_action: str | None  # RAM action checked against policies; None = no check
    event_rw: str  # "Read" or "Write", for the ActionTrail record
    service_name: str  # ActionTrail serviceName ("Ram", "Ims", "Sts", "Ecs", ...)
    event_source: str  # ActionTrail eventSource host
    host_id: str  # HostId in error bodies
    is_global: bool = False


POP_ACTIONS: dict[tuple[str, str], ActionSpec] = {}


def pop_action(
    product: str,
    version: str,
    action: str,
    *,
    rw: str,
    service_name: str,
    event_source: str,
    host_id: str,
    auth_action: str | None = "",
    is_global: bool = False,
) -> Callable[[Handler], Handler]:
    """Register a handler for one POP API action.

    ``auth_action`` defaults to ``<product>:<Action>``; pass ``None`` for actions that
    every authenticated caller may make (STS GetCallerIdentity).
    """
    if rw not in ("Read", "Write"):
        raise ValueError(f"rw must be 'Read' or 'Write', not {rw!r}")

    def register(handler: Handler) -> Handler:
        key = (version, action)
        if key in POP_ACTIONS:
            raise ValueError(
                f"action {action} of version {version} is registered twice"
            )
        POP_ACTIONS[key] = ActionSpec(
            product=product,
            version=version,
            action=action,
            handler=handler,
            auth_action=f"{product}:{action}" if auth_action == "" else auth_action,
            event_rw=rw,
            service_name=service_name,
            event_source=event_source,
            host_id=host_id,
            is_global=is_global,
        )
        return handler

    return register


@dataclass
class SlsRequest:
    """One authenticated SLS (Log Service) call, as the SLS handler sees it."""

    cloud: Cloud
    method: str
    path: str  # "/logstores/actiontrail_main/logs"
    query: dict[str, str]  # decoded query parameters
    body: bytes
    headers: dict[str, str]  # lower-case names
    project: str  # from the Host header prefix
    caller: Caller
    source_ip: str
    request_id: str


@dataclass
class SlsResponse:
    status: int
    body: Any  # JSON-serialisable
    headers: dict[str, str] = field(default_factory=dict)
