"""Credential lineage: everything a compromised key created, and what those did next.

Starting from the seed AccessKeys, the walk reads each key's successful calls and
follows what they made: RAM users (CreateUser), AccessKeys (CreateAccessKey's
``responseElements.AccessKey.AccessKeyId``), console passwords, policy attachments,
group memberships, roles and their trust policies, and STS tokens (AssumeRole's
``responseElements.Credentials.AccessKeyId``). Each new key and user is walked in turn,
until nothing new appears or ``lineage_max_depth`` generations were followed. Then the
source IPs the attacker used are collected, and any other identity active from them in
the window joins the walk.

Events come from a frame, from callables that fetch a key's (or a user's) events on
demand (so a flow can call LookupEvents for each new key), or both. A fetch that raises
is recorded in ``LineageGraph.errors`` and the walk goes on, because a gap in
read-only evidence must show in the report rather than stop it.

Every node carries a recommended response (``RESPONSES``): rotate or delete a key,
delete a backdoor user, remove a console password, detach a policy, revoke role
sessions.
"""

from __future__ import annotations

import io
import ipaddress
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from akresponder.analysis import catalog
from akresponder.analysis.events import (
    combine_events,
    empty_events,
    normalise_events,
    parse_json_objects,
)
from akresponder.analysis.settings import AnalysisSettings

logger = logging.getLogger(__name__)

EventFetcher = Callable[[str], Iterable[dict[str, Any]] | pd.DataFrame]

# Recommended responses, by code. Codes are stable; flows map them to tasks.
RESPONSES: dict[str, str] = {
    "rotate_key": (
        "Create a new AccessKey, move the applications to it, then disable and delete "
        "this key."
    ),
    "disable_and_delete_key": "Disable this AccessKey at once, then delete it.",
    "revoke_role_sessions": (
        "STS tokens cannot be revoked one by one: deny the role's sessions issued "
        "before now (acs:TokenCreateTime condition) or detach its policies until the "
        "token expires."
    ),
    "delete_user": (
        "Delete the user's AccessKeys, console password, policy attachments and group "
        "memberships, then delete the user."
    ),
    "delete_login_profile": "Delete the console password the attacker created.",
    "reset_password_and_enforce_mfa": (
        "Reset the console password and require MFA at the next sign-in."
    ),
    "detach_policy": "Detach the policy the attacker attached.",
    "remove_user_from_group": "Remove the user from the group the attacker added.",
    "delete_role": (
        "Delete the role the attacker created, after detaching its policies."
    ),
    "restore_trust_policy": "Restore the role's previous trust policy.",
    "restore_policy_version": "Set the policy's default version back to the old one.",
    "deny_source_ip": (
        "Deny this source IP in the containment policy (acs:SourceIp condition)."
    ),
    "review_identity": (
        "Review this identity's recent activity; it is linked to the compromised key."
    ),
}
# When a node is reached twice, the response earlier in this list wins.
_RESPONSE_PRIORITY: tuple[str, ...] = (
    "delete_user",
    "disable_and_delete_key",
    "rotate_key",
    "delete_role",
    "revoke_role_sessions",
    "delete_login_profile",
    "reset_password_and_enforce_mfa",
    "detach_policy",
    "remove_user_from_group",
    "restore_trust_policy",
    "restore_policy_version",
    "deny_source_ip",
    "review_identity",
)
NODE_TYPES: tuple[str, ...] = (
    "access_key",
    "sts_token",
    "user",
    "account_root",
    "login_profile",
    "policy_attachment",
    "policy",
    "group_membership",
    "role",
    "source_ip",
)


@dataclass
class LineageNode:
    """One credential, identity or grant in the lineage graph."""

    id: str
    type: str
    label: str
    depth: int
    response: str
    reason: str
    first_seen: datetime | None = None
    event_ids: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the node as JSON-ready data."""
        return {
            "id": self.id,
            "type": self.type,
            "label": self.label,
            "depth": self.depth,
            "response": {
                "action": self.response,
                "reason": self.reason,
                "how": RESPONSES[self.response],
            },
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "event_ids": self.event_ids,
            "attributes": self.attributes,
        }


@dataclass
class LineageEdge:
    """A link: ``source`` did ``relation`` to ``target`` in event ``event_id``."""

    source: str
    target: str
    relation: str
    event_id: str = ""
    time: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the edge as JSON-ready data."""
        return {
            "source": self.source,
            "target": self.target,
            "relation": self.relation,
            "event_id": self.event_id,
            "time": self.time.isoformat() if self.time else None,
        }


@dataclass
class LineageGraph:
    """The result of ``build_lineage``: nodes, edges and the events that were read."""

    seeds: list[str]
    nodes: dict[str, LineageNode] = field(default_factory=dict)
    edges: list[LineageEdge] = field(default_factory=list)
    attacker_ips: list[str] = field(default_factory=list)
    truncated: bool = False
    errors: list[dict[str, str]] = field(default_factory=list)
    events: pd.DataFrame = field(default_factory=empty_events)

    def access_key_ids(self) -> list[str]:
        """Return every AccessKey and STS key id in the graph."""
        return sorted(
            node.label
            for node in self.nodes.values()
            if node.type in ("access_key", "sts_token")
        )

    def user_names(self) -> list[str]:
        """Return every RAM user name in the graph."""
        return sorted(node.label for node in self.nodes.values() if node.type == "user")

    def responses(self) -> list[dict[str, Any]]:
        """Return one entry per node that needs an action, most urgent first."""
        rank = {code: index for index, code in enumerate(_RESPONSE_PRIORITY)}
        ordered = sorted(
            self.nodes.values(), key=lambda node: (rank[node.response], node.depth)
        )
        return [
            {
                "node": node.id,
                "type": node.type,
                "label": node.label,
                "action": node.response,
                "reason": node.reason,
            }
            for node in ordered
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return the graph as JSON-ready data (without the events frame)."""
        return {
            "seeds": self.seeds,
            "nodes": [node.to_dict() for node in self.nodes.values()],
            "edges": [edge.to_dict() for edge in self.edges],
            "attacker_ips": self.attacker_ips,
            "truncated": self.truncated,
            "errors": self.errors,
        }


def build_lineage(
    seed_keys: str | Iterable[str],
    events: pd.DataFrame | None = None,
    *,
    fetch_key: EventFetcher | None = None,
    fetch_user: EventFetcher | None = None,
    fetch_ip: EventFetcher | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    settings: AnalysisSettings | None = None,
) -> LineageGraph:
    """Walk the credentials derived from ``seed_keys`` and return the lineage graph.

    ``events`` is a normalised frame; ``fetch_key(access_key_id)`` and
    ``fetch_user(user_name)`` return more records (any shape ``normalise_events``
    takes) or a normalised frame. ``fetch_ip(source_ip)`` returns the account's
    events from an attacker IP, so that identities the frame does not hold yet can
    be found there. Only events in ``[window_start, window_end)`` count
    as derivations. Events before ``window_start`` show whether a seed key was in
    regular use, so that it is rotated rather than deleted, and which IPs were its
    own.
    """
    seeds = [seed_keys] if isinstance(seed_keys, str) else list(seed_keys)
    if not seeds:
        raise ValueError("seed_keys is empty; pass the compromised AccessKey id(s)")
    if events is None and fetch_key is None:
        raise ValueError("pass an events frame, a fetch_key callable, or both")
    walk = _Walk(
        settings=settings or AnalysisSettings(),
        frame=events if events is not None else empty_events(),
        fetch_key=fetch_key,
        fetch_user=fetch_user,
        fetch_ip=fetch_ip,
        window_start=_as_utc(window_start),
        window_end=_as_utc(window_end),
        graph=LineageGraph(seeds=seeds),
    )
    return walk.run()


@dataclass
class _Walk:
    settings: AnalysisSettings
    frame: pd.DataFrame
    fetch_key: EventFetcher | None
    fetch_user: EventFetcher | None
    fetch_ip: EventFetcher | None
    window_start: pd.Timestamp | None
    window_end: pd.Timestamp | None
    graph: LineageGraph
    queue: deque[tuple[str, str, int]] = field(default_factory=deque)
    visited: set[tuple[str, str]] = field(default_factory=set)
    edge_keys: set[tuple[str, str, str]] = field(default_factory=set)

    def run(self) -> LineageGraph:
        for key in self.graph.seeds:
            self.queue.append(("key", key, 0))
        while self.queue:
            self._drain()
            self._pivot_on_attacker_ips()
        self.graph.events = self.frame
        return self.graph

    # Walking ---------------------------------------------------------------------

    def _drain(self) -> None:
        while self.queue:
            kind, value, depth = self.queue.popleft()
            if (kind, value) in self.visited:
                continue
            if len(self.graph.nodes) >= self.settings.lineage_max_nodes:
                self.graph.truncated = True
                self.queue.clear()
                return
            self.visited.add((kind, value))
            if kind == "key":
                self._walk_key(value, depth)
            else:
                self._walk_user(value, depth)

    def _walk_key(self, key: str, depth: int) -> None:
        if self.fetch_key is not None:
            self._fetch(self.fetch_key, "access_key_id", key)
        rows = self.frame.loc[self.frame["access_key_id"] == key]
        node_id = _key_id(key)
        if node_id not in self.graph.nodes:
            self._add_key_node(key, depth, "review_identity", "linked to the incident")
        if depth == 0:
            self._classify_seed(key, rows)
        windowed = rows.loc[self._in_window(rows)]
        if not windowed.empty:
            self.graph.nodes[node_id].first_seen = _first(windowed)
        self._add_owner(key, rows, depth)
        self._derive(node_id, windowed, depth)

    def _walk_user(self, user: str, depth: int) -> None:
        if self.fetch_user is not None:
            self._fetch(self.fetch_user, "identity_name", user)
        rows = self.frame.loc[self.frame["identity_name"] == user]
        windowed = rows.loc[self._in_window(rows)]
        node_id = _user_id(user)
        self._add_user_if_missing(user, depth)
        console = windowed.loc[windowed["event_type"] == "ConsoleSignin"]
        if not console.empty:
            node = self.graph.nodes[node_id]
            node.attributes["console_signins"] = len(console)
            node.attributes["console_ips"] = sorted(console["source_ip"].unique())
            node.event_ids.extend(console["event_id"].tolist()[:50])
        for key in sorted(set(windowed["access_key_id"]) - {""}):
            if _key_id(key) not in self.graph.nodes:
                reason = f"used by {user} during the incident"
                response = "disable_and_delete_key"
                if key.startswith("STS."):
                    # A session token cannot be rotated or deleted, only outlived.
                    response = "revoke_role_sessions"
                elif not self._is_created_user(user):
                    response = "rotate_key"
                self._add_key_node(key, depth + 1, response, reason)
            self._edge(node_id, _key_id(key), "uses_key", _first_row(windowed, key))
            self._enqueue("key", key, depth + 1)
        # Console sessions have no AccessKey; what the user did there counts too.
        self._derive(node_id, windowed.loc[windowed["access_key_id"] == ""], depth)

    def _fetch(self, fetch: EventFetcher, column: str, value: str) -> None:
        try:
            fetched = fetch(value)
            frame = (
                fetched
                if isinstance(fetched, pd.DataFrame)
                else normalise_events(fetched, "actiontrail")
            )
        except Exception as error:  # read-only evidence: record the gap, keep going
            logger.warning("lineage fetch failed %s=%s error=%s", column, value, error)
            self.graph.errors.append(
                {column: value, "error": f"{type(error).__name__}: {error}"}
            )
            return
        if not frame.empty:
            self.frame = combine_events(self.frame, frame)

    def _classify_seed(self, key: str, rows: pd.DataFrame) -> None:
        node = self.graph.nodes[_key_id(key)]
        node.attributes["seed"] = True
        before = rows.loc[self._before_window(rows)]
        if self.window_start is None:
            node.response = "rotate_key"
            node.reason = (
                "compromised key; no window start was given, so it is unknown whether "
                "applications still use it"
            )
        elif before.empty:
            node.response = "disable_and_delete_key"
            node.reason = "compromised key with no use before the incident window"
        else:
            node.response = "rotate_key"
            node.reason = (
                f"compromised key that applications used {len(before)} time(s) before "
                "the incident window"
            )

    def _add_owner(self, key: str, rows: pd.DataFrame, depth: int) -> None:
        identities = rows.loc[rows["identity_name"] != ""]
        if identities.empty:
            return
        first = identities.iloc[0]
        identity_type = first["identity_type"]
        name = first["identity_name"]
        if identity_type == "assumed-role":
            role = name.split(":", 1)[0]
            self._add_node(
                _role_id(role),
                "role",
                role,
                depth,
                "revoke_role_sessions",
                f"issued STS token {key}",
            )
            self._edge(_role_id(role), _key_id(key), "issued_session")
            return
        if identity_type == "root-account":
            self._add_node(
                "account_root",
                "account_root",
                "root account",
                depth,
                "review_identity",
                f"owns {key}; RAM cannot manage root keys, use the root console",
            )
            self._edge("account_root", _key_id(key), "owns")
            return
        created = self._is_created_user(name)
        self._add_node(
            _user_id(name),
            "user",
            name,
            depth,
            "delete_user" if created else "review_identity",
            "created during the incident" if created else f"owner of key {key}",
        )
        self._edge(_user_id(name), _key_id(key), "owns")
        if depth > 0 or created:
            self._enqueue("user", name, depth)

    # Derivations -----------------------------------------------------------------

    def _derive(self, source: str, rows: pd.DataFrame, depth: int) -> None:
        """Add nodes for what ``rows`` created or changed, and queue new credentials."""
        if rows.empty:
            return
        succeeded = (rows["error_code"] == "") & rows["error_message"].isin(
            ["", "success"]
        )
        rows = rows.loc[succeeded]
        action_keys = catalog.action_keys(rows["service"], rows["action"])
        interesting = action_keys.isin(_DERIVING_ACTIONS)
        rows = rows.loc[interesting]
        if rows.empty:
            return
        params = parse_json_objects(rows["request_parameters"].tolist())
        responses = parse_json_objects(rows["response_elements"].tolist())
        for (_, row), request, response in zip(
            rows.iterrows(), params, responses, strict=True
        ):
            handler = _HANDLERS[row["action"]]
            handler(self, source, row, request, response, depth + 1)

    def _created_user(self, source, row, request, response, depth) -> None:
        user = str(
            request.get("UserName") or _nested(response, "User", "UserName") or ""
        )
        if not user:
            return
        self._add_node(
            _user_id(user),
            "user",
            user,
            depth,
            "delete_user",
            "created during the incident",
        )
        self._mark_created(user)
        self._edge(source, _user_id(user), "created_user", row)
        self._enqueue("user", user, depth)

    def _created_key(self, source, row, request, response, depth) -> None:
        owner = str(request.get("UserName") or row["identity_name"])
        key = str(_nested(response, "AccessKey", "AccessKeyId") or "")
        self._add_user_if_missing(owner, depth)
        self._enqueue("user", owner, depth)
        if not key:
            # The response was not logged: the user's activity will reveal the key.
            return
        self._add_key_node(
            key,
            depth,
            "disable_and_delete_key",
            f"created for {owner} by {source.split(':', 1)[-1]}",
        )
        self._edge(source, _key_id(key), "created_key", row)
        self._edge(_user_id(owner), _key_id(key), "owns")
        self._enqueue("key", key, depth)

    def _login_profile(self, source, row, request, response, depth) -> None:
        user = str(request.get("UserName") or row["identity_name"])
        action = row["action"]
        self._add_user_if_missing(user, depth)
        if action == "CreateLoginProfile":
            response_code = "delete_login_profile"
            reason = "console password created during the incident"
        elif action == "DeleteLoginProfile":
            response_code = "review_identity"
            reason = "console password deleted during the incident"
        else:
            response_code = "reset_password_and_enforce_mfa"
            reason = f"console password changed during the incident ({action})"
        node_id = f"login_profile:{user}"
        self._add_node(
            node_id,
            "login_profile",
            f"console login of {user}",
            depth,
            response_code,
            reason,
        )
        self._edge(source, node_id, _RELATIONS[action], row)
        self._edge(_user_id(user), node_id, "has")
        self._enqueue("user", user, depth)

    def _policy_attachment(self, source, row, request, response, depth) -> None:
        action = row["action"]
        policy = str(request.get("PolicyName", ""))
        principal_type = {
            "AttachPolicyToUser": "user",
            "AttachPolicyToGroup": "group",
            "AttachPolicyToRole": "role",
        }.get(action, str(request.get("PrincipalType", "")).lower() or "principal")
        principal = str(
            request.get("UserName")
            or request.get("GroupName")
            or request.get("RoleName")
            or request.get("PrincipalName")
            or ""
        )
        node_id = f"policy_attachment:{principal_type}:{principal}:{policy}"
        self._add_node(
            node_id,
            "policy_attachment",
            f"{policy} on {principal_type} {principal}",
            depth,
            "detach_policy",
            f"{action} during the incident",
            attributes={
                "policy_name": policy,
                "policy_type": str(request.get("PolicyType", "")),
                "principal_type": principal_type,
                "principal": principal,
            },
        )
        self._edge(source, node_id, "attached_policy", row)
        if principal_type == "user" and principal:
            self._add_user_if_missing(principal, depth)
            self._edge(node_id, _user_id(principal), "grants")
            self._enqueue("user", principal, depth)
        elif principal_type == "role" and principal:
            self._add_node(
                _role_id(principal),
                "role",
                principal,
                depth,
                "review_identity",
                "granted a policy during the incident",
            )
            self._edge(node_id, _role_id(principal), "grants")

    def _group_membership(self, source, row, request, response, depth) -> None:
        user = str(request.get("UserName", ""))
        group = str(request.get("GroupName", ""))
        node_id = f"group_membership:{group}:{user}"
        self._add_node(
            node_id,
            "group_membership",
            f"{user} in {group}",
            depth,
            "remove_user_from_group",
            "added to the group during the incident",
            attributes={"group_name": group, "user_name": user},
        )
        self._edge(source, node_id, "added_to_group", row)
        if user:
            self._add_user_if_missing(user, depth)
            self._edge(node_id, _user_id(user), "grants")
            self._enqueue("user", user, depth)

    def _role_change(self, source, row, request, response, depth) -> None:
        role = str(request.get("RoleName", ""))
        if not role:
            return
        if row["action"] == "CreateRole":
            code, reason, relation = (
                "delete_role",
                "created during the incident",
                ("created_role"),
            )
        else:
            code, reason, relation = (
                "restore_trust_policy",
                "trust policy changed during the incident",
                "changed_trust_policy",
            )
        self._add_node(_role_id(role), "role", role, depth, code, reason)
        self._edge(source, _role_id(role), relation, row)

    def _assumed_role(self, source, row, request, response, depth) -> None:
        arn = str(request.get("RoleArn", ""))
        role = arn.rsplit("/", 1)[-1] if arn else "(unknown role)"
        self._add_node(
            _role_id(role),
            "role",
            role,
            depth,
            "revoke_role_sessions",
            "assumed during the incident",
            attributes={"arn": arn},
        )
        self._edge(source, _role_id(role), "assumed_role", row)
        credentials = _nested(response, "Credentials") or {}
        key = (
            str(_nested(credentials, "AccessKeyId") or "")
            if isinstance(credentials, dict)
            else ""
        )
        if not key:
            return
        expiration = _nested(credentials, "Expiration")
        self._add_node(
            _key_id(key),
            "sts_token",
            key,
            depth,
            "revoke_role_sessions",
            f"STS token for role {role}",
            attributes={"expiration": str(expiration or ""), "role": role},
        )
        self._edge(_role_id(role), _key_id(key), "issued_session", row)
        self._enqueue("key", key, depth)

    def _policy_version(self, source, row, request, response, depth) -> None:
        policy = str(request.get("PolicyName", ""))
        if not policy:
            return
        node_id = f"policy:{policy}"
        self._add_node(
            node_id,
            "policy",
            policy,
            depth,
            "restore_policy_version",
            f"{row['action']} during the incident",
        )
        self._edge(source, node_id, "changed_policy", row)

    def _key_update(self, source, row, request, response, depth) -> None:
        key = str(request.get("UserAccessKeyId") or request.get("AccessKeyId") or "")
        if not key or str(request.get("Status", "")).lower() != "active":
            return
        self._add_key_node(
            key, depth, "disable_and_delete_key", "re-activated during the incident"
        )
        self._edge(source, _key_id(key), "activated_key", row)
        self._enqueue("key", key, depth)

    # Attacker IPs ------------------------------------------------------------------

    def _pivot_on_attacker_ips(self) -> None:
        """Find attacker IPs and queue the other identities active from them."""
        windowed = self.frame.loc[self._in_window(self.frame)]
        ours = self._rows_of_graph(windowed)
        candidates = windowed.loc[
            ours & windowed["source_ip_kind"].isin(["ipv4", "ipv6"])
        ]
        if self.window_start is None:
            # Without a window, only derived credentials' IPs are surely the attacker's.
            seeds = set(self.graph.seeds)
            candidates = candidates.loc[~candidates["access_key_id"].isin(seeds)]
        attacker_ips = self._attacker_ips(candidates)
        new_ips = [ip for ip in attacker_ips if f"ip:{ip}" not in self.graph.nodes]
        self.graph.attacker_ips = attacker_ips

        for ip in new_ips:
            self._add_ip_node(ip, candidates.loc[candidates["source_ip"] == ip])

        if self.fetch_ip is not None and new_ips:
            for ip in new_ips:
                self._fetch(self.fetch_ip, "source_ip", ip)
            windowed = self.frame.loc[self._in_window(self.frame)]
            ours = self._rows_of_graph(windowed)
        others = windowed.loc[windowed["source_ip"].isin(new_ips) & ~ours]
        for (ip, key, user), rows in others.groupby(
            ["source_ip", "access_key_id", "identity_name"], sort=True
        ):
            self._add_other_identity(ip, key, user, rows.iloc[0])

    def _rows_of_graph(self, rows: pd.DataFrame) -> pd.Series:
        """Mark rows made with the graph's keys, or by its users without a key."""
        keys = set(self.graph.access_key_ids())
        users = set(self.graph.user_names())
        by_user = rows["identity_name"].isin(users) & (rows["access_key_id"] == "")
        return rows["access_key_id"].isin(keys) | by_user

    def _attacker_ips(self, candidates: pd.DataFrame) -> list[str]:
        """Return candidate IPs that the seed keys never used before the window."""
        frame = self.frame
        seed_history = frame.loc[
            frame["access_key_id"].isin(self.graph.seeds) & self._before_window(frame)
        ]
        own_ips = set(seed_history["source_ip"])
        networks = self.settings.networks()
        return sorted(
            ip
            for ip in set(candidates["source_ip"])
            if ip not in own_ips and not _in_any(ip, networks)
        )

    def _add_ip_node(self, ip: str, used: pd.DataFrame) -> None:
        node_id = f"ip:{ip}"
        self._add_node(
            node_id,
            "source_ip",
            ip,
            0,
            "deny_source_ip",
            "used by the compromised credentials and absent from the seed keys' "
            "history",
        )
        self.graph.nodes[node_id].first_seen = _first(used)
        for key in sorted(set(used["access_key_id"]) - {""}):
            self._edge(_key_id(key), node_id, "used_ip")

    def _add_other_identity(self, ip: str, key: str, user: str, row: pd.Series) -> None:
        """Add a key or console user seen from an attacker IP, and queue its walk."""
        depth = 1
        if key:
            # STS tokens cannot be rotated; their role's sessions are revoked.
            response = (
                "revoke_role_sessions" if key.startswith("STS.") else "rotate_key"
            )
            self._add_key_node(key, depth, response, f"active from attacker IP {ip}")
            self._edge(f"ip:{ip}", _key_id(key), "also_used_by", row)
            self._enqueue("key", key, depth)
        elif user:
            self._add_node(
                _user_id(user),
                "user",
                user,
                depth,
                "reset_password_and_enforce_mfa",
                f"signed in from attacker IP {ip}",
            )
            self._edge(f"ip:{ip}", _user_id(user), "also_used_by", row)
            self._enqueue("user", user, depth)

    # Graph helpers -----------------------------------------------------------------

    def _enqueue(self, kind: str, value: str, depth: int) -> None:
        if depth > self.settings.lineage_max_depth:
            self.graph.truncated = True
            return
        if (kind, value) not in self.visited:
            self.queue.append((kind, value, depth))

    def _add_key_node(self, key: str, depth: int, response: str, reason: str) -> None:
        node_type = "sts_token" if key.startswith("STS.") else "access_key"
        self._add_node(_key_id(key), node_type, key, depth, response, reason)

    def _add_user_if_missing(self, user: str, depth: int) -> None:
        if _user_id(user) not in self.graph.nodes:
            self._add_node(
                _user_id(user),
                "user",
                user,
                depth,
                "review_identity",
                "received credentials or permissions during the incident",
            )

    def _add_node(
        self,
        node_id: str,
        node_type: str,
        label: str,
        depth: int,
        response: str,
        reason: str,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        existing = self.graph.nodes.get(node_id)
        if existing is None:
            self.graph.nodes[node_id] = LineageNode(
                id=node_id,
                type=node_type,
                label=label,
                depth=depth,
                response=response,
                reason=reason,
                attributes=dict(attributes or {}),
            )
            return
        existing.depth = min(existing.depth, depth)
        existing.attributes.update(attributes or {})
        rank = {code: index for index, code in enumerate(_RESPONSE_PRIORITY)}
        if rank[response] < rank[existing.response]:
            existing.response = response
            existing.reason = reason

    def _edge(
        self, source: str, target: str, relation: str, row: pd.Series | None = None
    ) -> None:
        event_id = str(row["event_id"]) if row is not None else ""
        moment = row["time"].to_pydatetime() if row is not None else None
        if (source, target, relation) in self.edge_keys:
            return
        self.edge_keys.add((source, target, relation))
        self.graph.edges.append(LineageEdge(source, target, relation, event_id, moment))
        node = self.graph.nodes.get(target)
        if node is not None and event_id and event_id not in node.event_ids:
            node.event_ids.append(event_id)
            if node.first_seen is None or (moment and moment < node.first_seen):
                node.first_seen = moment

    def _mark_created(self, user: str) -> None:
        self.graph.nodes[_user_id(user)].attributes["created_in_incident"] = True

    def _is_created_user(self, user: str) -> bool:
        node = self.graph.nodes.get(_user_id(user))
        return bool(node and node.attributes.get("created_in_incident"))

    def _in_window(self, rows: pd.DataFrame) -> pd.Series:
        mask = pd.Series(True, index=rows.index)
        if self.window_start is not None:
            mask &= rows["time"] >= self.window_start
        if self.window_end is not None:
            mask &= rows["time"] < self.window_end
        return mask

    def _before_window(self, rows: pd.DataFrame) -> pd.Series:
        if self.window_start is None:
            return pd.Series(False, index=rows.index)
        return rows["time"] < self.window_start


_HANDLERS: dict[str, Callable[..., None]] = {
    "CreateUser": _Walk._created_user,
    "CreateAccessKey": _Walk._created_key,
    "CreateLoginProfile": _Walk._login_profile,
    "UpdateLoginProfile": _Walk._login_profile,
    "DeleteLoginProfile": _Walk._login_profile,
    "ChangePassword": _Walk._login_profile,
    "AttachPolicyToUser": _Walk._policy_attachment,
    "AttachPolicyToGroup": _Walk._policy_attachment,
    "AttachPolicyToRole": _Walk._policy_attachment,
    "AttachPolicy": _Walk._policy_attachment,
    "AddUserToGroup": _Walk._group_membership,
    "CreateRole": _Walk._role_change,
    "UpdateRole": _Walk._role_change,
    "AssumeRole": _Walk._assumed_role,
    "CreatePolicyVersion": _Walk._policy_version,
    "SetDefaultPolicyVersion": _Walk._policy_version,
    "UpdateAccessKey": _Walk._key_update,
}
_DERIVING_ACTIONS: set[str] = {
    f"{service}:{action}"
    for service, action in (
        catalog.USER_CREATION
        | catalog.ACCESS_KEY_CREATION
        | catalog.LOGIN_PROFILE_CHANGES
        | catalog.POLICY_GRANTS
        | catalog.ROLE_ASSUMPTION
        | {("ram", "CreateRole"), ("ram", "UpdateRole"), ("ram", "UpdateAccessKey")}
    )
    if action in _HANDLERS
}
_RELATIONS: dict[str, str] = {
    "CreateLoginProfile": "created_login_profile",
    "UpdateLoginProfile": "changed_login_profile",
    "DeleteLoginProfile": "deleted_login_profile",
    "ChangePassword": "changed_login_profile",
}


# Picture -----------------------------------------------------------------------------

# Nodes of one type in one column that the picture draws one by one.
_MAX_DRAWN_PER_GROUP = 6

_COLOURS: dict[str, str] = {
    "access_key": "#d62728",
    "sts_token": "#ff7f0e",
    "user": "#1f77b4",
    "account_root": "#17becf",
    "login_profile": "#9467bd",
    "policy_attachment": "#8c564b",
    "policy": "#8c564b",
    "group_membership": "#e377c2",
    "role": "#2ca02c",
    "source_ip": "#7f7f7f",
}


def draw_lineage(graph: LineageGraph, *, title: str = "Credential lineage") -> bytes:
    """Draw the graph as a PNG: one column per depth, nodes coloured by type.

    Source IP nodes get a column of their own on the left. Uses matplotlib's Agg
    backend through a ``Figure`` object, so no display or global pyplot state is
    needed.
    """
    # Imported here so that importing the analysis package stays fast.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    columns, shown_as = _drawn_columns(graph)
    tallest = max((len(nodes) for nodes in columns.values()), default=1)
    figure = Figure(figsize=(3 + 3 * len(columns), 1.5 + 0.6 * tallest), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(title)

    positions: dict[str, tuple[float, float]] = {}
    for column_index, column in enumerate(sorted(columns)):
        nodes = sorted(columns[column], key=lambda node: (node.type, node.label))
        for row_index, node in enumerate(nodes):
            y = (len(nodes) - 1) / 2 - row_index
            positions[node.id] = (float(column_index), y)

    drawn_edges: set[tuple[str, str, str]] = set()
    for edge in graph.edges:
        source = shown_as.get(edge.source, edge.source)
        target = shown_as.get(edge.target, edge.target)
        if source not in positions or target not in positions:
            continue
        if (source, target, edge.relation) in drawn_edges:
            continue
        drawn_edges.add((source, target, edge.relation))
        (x1, y1), (x2, y2) = positions[source], positions[target]
        axes.annotate(
            "",
            xy=(x2, y2),
            xytext=(x1, y1),
            arrowprops={"arrowstyle": "->", "color": "#999999", "lw": 0.8},
        )
        axes.text(
            (x1 + x2) / 2,
            (y1 + y2) / 2,
            edge.relation,
            fontsize=6,
            color="#555555",
            ha="center",
        )
    for node in (node for nodes in columns.values() for node in nodes):
        x, y = positions[node.id]
        axes.scatter(
            [x], [y], s=220, color=_COLOURS.get(node.type, "#000000"), zorder=3
        )
        axes.text(
            x,
            y - 0.28,
            f"{node.label}\n[{node.response}]",
            fontsize=7,
            ha="center",
            va="top",
        )
    if positions:
        xs = [x for x, _ in positions.values()]
        ys = [y for _, y in positions.values()]
        axes.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
        axes.set_ylim(min(ys) - 0.9, max(ys) + 0.6)
    used_types = sorted({node.type for node in graph.nodes.values()})
    axes.legend(
        handles=[
            Line2D([], [], marker="o", linestyle="", color=_COLOURS[name], label=name)
            for name in used_types
        ],
        loc="upper left",
        fontsize=7,
        frameon=False,
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _drawn_columns(
    graph: LineageGraph,
) -> tuple[dict[int, list[LineageNode]], dict[str, str]]:
    """Group the nodes to draw by column, folding large groups into one node.

    A column holding more than ``_MAX_DRAWN_PER_GROUP`` nodes of one type is drawn
    as one node that names the count. An attacker's role sessions can be a hundred
    STS tokens, and a row per node makes the picture unreadable and slow to render.
    Returns the columns, and for each folded node id the id drawn in its place.
    """
    groups: dict[tuple[int, str], list[LineageNode]] = {}
    for node in graph.nodes.values():
        column = -1 if node.type == "source_ip" else node.depth
        groups.setdefault((column, node.type), []).append(node)
    columns: dict[int, list[LineageNode]] = {}
    shown_as: dict[str, str] = {}
    for (column, node_type), nodes in groups.items():
        if len(nodes) <= _MAX_DRAWN_PER_GROUP:
            columns.setdefault(column, []).extend(nodes)
            continue
        responses = sorted({node.response for node in nodes})
        folded = LineageNode(
            id=f"folded:{column}:{node_type}",
            type=node_type,
            label=f"{len(nodes)} {node_type} nodes",
            depth=max(column, 0),
            response=responses[0] if len(responses) == 1 else "review_identity",
            reason="folded in the picture; the report data lists each node",
        )
        columns.setdefault(column, []).append(folded)
        for node in nodes:
            shown_as[node.id] = folded.id
    return columns, shown_as


# Small helpers -----------------------------------------------------------------------


def _key_id(key: str) -> str:
    return f"key:{key}"


def _user_id(user: str) -> str:
    return f"user:{user}"


def _role_id(role: str) -> str:
    return f"role:{role}"


def _nested(data: Any, *path: str) -> Any:
    value = data
    for key in path:
        if not isinstance(value, dict):
            return None
        # ActionTrail documents both PascalCase and camelCase response keys.
        value = value.get(key, value.get(key[:1].lower() + key[1:]))
    return value


def _first(rows: pd.DataFrame) -> datetime | None:
    if rows.empty:
        return None
    return rows["time"].min().to_pydatetime()


def _first_row(rows: pd.DataFrame, key: str) -> pd.Series:
    return rows.loc[rows["access_key_id"] == key].iloc[0]


def _in_any(ip: str, networks: list[Any]) -> bool:
    address = ipaddress.ip_address(ip)
    return any(
        address.version == network.version and address in network
        for network in networks
    )


def _as_utc(moment: datetime | None) -> pd.Timestamp | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(
            f"{moment.isoformat()} has no time zone; pass an aware datetime such as "
            "datetime(..., tzinfo=UTC)"
        )
    return pd.Timestamp(moment).tz_convert(UTC)
