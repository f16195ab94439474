"""Tests for akresponder.analysis.lineage: walking derived credentials."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from akresponder.analysis.events import normalise_events
from akresponder.analysis.lineage import RESPONSES, build_lineage, draw_lineage
from akresponder.analysis.settings import AnalysisSettings
from akresponder.analysis.synthetic import make_event

WINDOW_START = datetime(2026, 11, 20, tzinfo=UTC)
KEY_A = "LTAI5tAPPBACKEND00000001"
KEY_B = "LTAI5tUSERB00000000001"
KEY_C = "LTAI5tUSERC00000000001"
ATTACKER_IP = "203.0.113.66"


def _call(action: str, minutes: float, key: str, user: str, **fields: Any) -> dict:
    values: dict[str, Any] = {
        "time": WINDOW_START + timedelta(minutes=minutes),
        "access_key_id": key,
        "user_name": user,
        "source_ip": ATTACKER_IP,
    }
    values.update(fields)
    return make_event(action, **values)


def _creates_user_with_key(
    minutes: float, key: str, user: str, new_user: str, new_key: str
) -> list[dict]:
    return [
        _call(
            "CreateUser",
            minutes,
            key,
            user,
            request_parameters={"UserName": new_user},
        ),
        _call(
            "CreateAccessKey",
            minutes + 1,
            key,
            user,
            request_parameters={"UserName": new_user},
            response_elements={"AccessKey": {"AccessKeyId": new_key}},
        ),
    ]


def _chain() -> list[dict]:
    """Key A makes user B with key B; key B makes user C with key C."""
    history = [
        make_event("DescribeInstances", time=WINDOW_START - timedelta(days=day))
        for day in range(1, 4)
    ]
    return (
        history
        + _creates_user_with_key(5, KEY_A, "app-backend", "user-b", KEY_B)
        + _creates_user_with_key(20, KEY_B, "user-b", "user-c", KEY_C)
        + [_call("DescribeInstances", 40, KEY_C, "user-c")]
    )


def test_build_lineage_two_level_chain() -> None:
    graph = build_lineage(KEY_A, normalise_events(_chain()), window_start=WINDOW_START)

    assert graph.access_key_ids() == sorted([KEY_A, KEY_B, KEY_C])
    assert {"user-b", "user-c"} <= set(graph.user_names())
    nodes = graph.nodes
    assert nodes[f"key:{KEY_A}"].response == "rotate_key"
    assert nodes[f"key:{KEY_B}"].response == "disable_and_delete_key"
    assert nodes[f"key:{KEY_C}"].response == "disable_and_delete_key"
    assert nodes["user:user-b"].response == "delete_user"
    assert nodes["user:user-c"].response == "delete_user"
    assert nodes[f"key:{KEY_B}"].depth == 1
    assert nodes[f"key:{KEY_C}"].depth == 2
    edges = {(edge.source, edge.target, edge.relation) for edge in graph.edges}
    assert (f"key:{KEY_A}", f"key:{KEY_B}", "created_key") in edges
    assert (f"key:{KEY_B}", f"key:{KEY_C}", "created_key") in edges
    assert (f"key:{KEY_B}", "user:user-c", "created_user") in edges
    assert not graph.truncated


def test_build_lineage_every_node_has_a_response() -> None:
    graph = build_lineage(KEY_A, normalise_events(_chain()), window_start=WINDOW_START)

    for node in graph.nodes.values():
        assert node.response in RESPONSES
        assert node.reason
    responses = graph.responses()
    assert responses[0]["action"] == "delete_user"
    assert {item["label"] for item in responses} >= {KEY_A, KEY_B, KEY_C}


def test_build_lineage_fetches_each_new_key() -> None:
    records = _chain()
    by_key: dict[str, list[dict]] = {}
    for record in records:
        by_key.setdefault(record["userIdentity"].get("accessKeyId", ""), []).append(
            record
        )
    fetched: list[str] = []

    def fetch(key: str) -> list[dict]:
        fetched.append(key)
        return by_key.get(key, [])

    graph = build_lineage(KEY_A, fetch_key=fetch, window_start=WINDOW_START)

    assert fetched == [KEY_A, KEY_B, KEY_C]
    assert graph.access_key_ids() == sorted([KEY_A, KEY_B, KEY_C])
    assert len(graph.events) == len(records)


def test_build_lineage_fetch_error_recorded() -> None:
    records = _creates_user_with_key(5, KEY_A, "app-backend", "user-b", KEY_B)

    def fetch(key: str) -> list[dict]:
        if key == KEY_B:
            raise TimeoutError("LookupEvents timed out")
        return records

    graph = build_lineage(KEY_A, fetch_key=fetch, window_start=WINDOW_START)

    assert graph.errors == [
        {"access_key_id": KEY_B, "error": "TimeoutError: LookupEvents timed out"}
    ]
    assert f"key:{KEY_B}" in graph.nodes


def test_build_lineage_assume_role_sts_chain() -> None:
    sts_key = "STS.NUgYrLnoC37mZZCNnAbez2AX"
    records = [
        _call(
            "AssumeRole",
            5,
            KEY_A,
            "app-backend",
            request_parameters={
                "RoleArn": "acs:ram::1234567890123456:role/ops-admin",
                "RoleSessionName": "x",
            },
            response_elements={
                "Credentials": {
                    "AccessKeyId": sts_key,
                    "Expiration": "2026-11-20T01:05:00Z",
                }
            },
        ),
        _call(
            "CreateUser",
            10,
            sts_key,
            "ops-admin:x",
            identity_type="assumed-role",
            request_parameters={"UserName": "role-made"},
        ),
    ]

    graph = build_lineage(KEY_A, normalise_events(records), window_start=WINDOW_START)

    sts_node = graph.nodes[f"key:{sts_key}"]
    assert sts_node.type == "sts_token"
    assert sts_node.response == "revoke_role_sessions"
    assert sts_node.attributes["expiration"] == "2026-11-20T01:05:00Z"
    assert graph.nodes["role:ops-admin"].response == "revoke_role_sessions"
    assert graph.nodes["user:role-made"].response == "delete_user"


def test_build_lineage_login_profile_policy_group() -> None:
    records = [
        _call(
            "CreateLoginProfile",
            5,
            KEY_A,
            "app-backend",
            request_parameters={"UserName": "alice"},
        ),
        _call(
            "AttachPolicyToUser",
            6,
            KEY_A,
            "app-backend",
            request_parameters={
                "UserName": "alice",
                "PolicyName": "AdministratorAccess",
                "PolicyType": "System",
            },
        ),
        _call(
            "AddUserToGroup",
            7,
            KEY_A,
            "app-backend",
            request_parameters={"UserName": "alice", "GroupName": "admins"},
        ),
        make_event(
            "ConsoleSignin",
            time=WINDOW_START + timedelta(minutes=9),
            access_key_id="",
            user_name="alice",
            source_ip=ATTACKER_IP,
            event_type="ConsoleSignin",
            error_message="success",
        ),
    ]

    graph = build_lineage(KEY_A, normalise_events(records), window_start=WINDOW_START)

    nodes = graph.nodes
    assert nodes["login_profile:alice"].response == "delete_login_profile"
    attachment = nodes["policy_attachment:user:alice:AdministratorAccess"]
    assert attachment.response == "detach_policy"
    assert nodes["group_membership:admins:alice"].response == "remove_user_from_group"
    assert nodes["user:alice"].attributes["console_signins"] == 1


def test_build_lineage_attacker_ip_pivot() -> None:
    other_key = "LTAI5tOTHER0000000001"
    records = [
        make_event("DescribeInstances", time=WINDOW_START - timedelta(days=1)),
        _call("DescribeInstances", 5, KEY_A, "app-backend"),
        _call("DescribeInstances", 8, other_key, "ci-deploy"),
        _call(
            "DescribeInstances",
            9,
            "LTAI5tBYSTANDER00000001",
            "bob",
            source_ip="198.51.100.7",
        ),
    ]

    graph = build_lineage(KEY_A, normalise_events(records), window_start=WINDOW_START)

    assert graph.attacker_ips == [ATTACKER_IP]
    assert graph.nodes[f"ip:{ATTACKER_IP}"].response == "deny_source_ip"
    assert graph.nodes[f"key:{other_key}"].response == "rotate_key"
    assert "LTAI5tBYSTANDER00000001" not in graph.access_key_ids()


def test_build_lineage_seed_ip_history_not_attacker() -> None:
    records = [
        make_event("DescribeInstances", time=WINDOW_START - timedelta(days=1)),
        make_event("DescribeInstances", time=WINDOW_START + timedelta(minutes=1)),
    ]

    graph = build_lineage(KEY_A, normalise_events(records), window_start=WINDOW_START)

    assert graph.attacker_ips == []


def test_build_lineage_before_window_not_derived() -> None:
    records = _creates_user_with_key(-60 * 24, KEY_A, "app-backend", "old-user", KEY_B)

    graph = build_lineage(KEY_A, normalise_events(records), window_start=WINDOW_START)

    assert graph.access_key_ids() == [KEY_A]
    assert graph.nodes[f"key:{KEY_A}"].response == "rotate_key"


def test_build_lineage_unused_seed_deleted() -> None:
    records = [_call("DescribeInstances", 5, KEY_A, "app-backend")]

    graph = build_lineage(KEY_A, normalise_events(records), window_start=WINDOW_START)

    assert graph.nodes[f"key:{KEY_A}"].response == "disable_and_delete_key"


def test_build_lineage_depth_limit_truncates() -> None:
    """Credentials found at the limit are listed but their own activity is not read."""
    settings = AnalysisSettings(lineage_max_depth=1)
    records = _chain() + [
        _call("CreateUser", 50, KEY_C, "user-c", request_parameters={"UserName": "d"})
    ]

    graph = build_lineage(
        KEY_A,
        normalise_events(records),
        window_start=WINDOW_START,
        settings=settings,
    )

    assert graph.nodes[f"key:{KEY_C}"].depth == 2
    assert "d" not in graph.user_names()
    assert graph.truncated


def test_build_lineage_failed_calls_ignored() -> None:
    records = [
        _call(
            "CreateUser",
            5,
            KEY_A,
            "app-backend",
            request_parameters={"UserName": "nope"},
            error_code="NoPermission",
            error_message="denied",
        )
    ]

    graph = build_lineage(KEY_A, normalise_events(records), window_start=WINDOW_START)

    assert "nope" not in graph.user_names()


def test_build_lineage_input_errors() -> None:
    with pytest.raises(ValueError, match="seed_keys is empty"):
        build_lineage([], normalise_events([]))
    with pytest.raises(ValueError, match="events frame, a fetch_key"):
        build_lineage(KEY_A)
    with pytest.raises(ValueError, match="no time zone"):
        build_lineage(KEY_A, normalise_events([]), window_start=datetime(2026, 11, 20))


def test_lineage_to_dict_json_ready() -> None:
    graph = build_lineage(KEY_A, normalise_events(_chain()), window_start=WINDOW_START)

    data = json.loads(json.dumps(graph.to_dict()))

    assert data["seeds"] == [KEY_A]
    assert {node["id"] for node in data["nodes"]} >= {f"key:{KEY_C}"}
    assert all(node["response"]["how"] for node in data["nodes"])
    assert any(edge["relation"] == "created_key" for edge in data["edges"])


def test_draw_lineage_png() -> None:
    graph = build_lineage(KEY_A, normalise_events(_chain()), window_start=WINDOW_START)

    picture = draw_lineage(graph)

    assert picture.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(picture) > 5000


def test_build_lineage_console_sts_session_owned_by_user() -> None:
    """An STS key of a user's own console session belongs to the user, not a role."""
    records = [_call("DescribeInstances", 5, "STS.console0001", "alice")]

    graph = build_lineage(
        "STS.console0001", normalise_events(records), window_start=WINDOW_START
    )

    assert "user:alice" in graph.nodes
    assert not any(node.type == "role" for node in graph.nodes.values())
