"""The account generator, the sweep report helpers and the ListUsers paging."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from akresponder import redact
from akresponder.config import CloudConnection
from akresponder.retry import RetryPolicy
from akresponder.sweep import KeyFacts, SweepSettings, assess_key
from akresponder.sweep_collect import (
    RamReader,
    UserListing,
    collect_batch,
    list_all_users,
)
from akresponder.sweep_report import (
    key_row,
    render_markdown,
    sort_rows,
    table_rows,
    totals,
    write_document,
)
from emulator.__main__ import main as emulator_main
from emulator.generate import (
    PLANTS,
    GenerateError,
    generate_account,
    parse_plant_spec,
    sidecar_paths,
)
from emulator.scenario import load_scenario
from emulator.testing import start_emulator

NOW = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)
ALL_PLANTS = {kind: 1 for kind in PLANTS}


def test_parse_plant_spec_reads_pairs() -> None:
    assert parse_plant_spec("never-used=3, root=1") == {"never-used": 3, "root": 1}
    assert parse_plant_spec("") == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("stale=1", "unknown plant kind 'stale'"),
        ("root", "invalid plant 'root'"),
        ("root=0", "invalid plant 'root=0'"),
        ("root=x", "invalid plant 'root=x'"),
        ("root=1,root=2", "given twice"),
    ],
)
def test_parse_plant_spec_rejects_bad_pairs(spec: str, message: str) -> None:
    with pytest.raises(GenerateError, match=message):
        parse_plant_spec(spec)


@pytest.mark.parametrize(
    ("users", "keys", "plants", "message"),
    [
        (0, 1, {}, "--users must be at least 1"),
        (5, 3, {}, "--keys-per-user must be 0, 1 or 2"),
        (2, 1, {"never-used": 2}, "the plants need 2 users"),
        (5, 0, {"created-by-key": 1}, "created-by-key needs clean users"),
    ],
)
def test_generate_account_rejects_bad_sizes(
    users: int, keys: int, plants: dict[str, int], message: str
) -> None:
    with pytest.raises(GenerateError, match=message):
        generate_account(users, keys, plants, now=NOW)


def test_generate_account_counts_users_keys_and_plants() -> None:
    scenario, events, manifest = generate_account(40, 2, ALL_PLANTS, now=NOW)

    user_keys = sum(len(user["AccessKeys"]) for user in scenario["users"])
    assert len(scenario["users"]) == 41
    assert manifest["users"] == 41
    assert manifest["keys"] == user_keys + len(scenario["root_access_keys"])
    assert manifest["events"] == len(events)
    # two-active plants two keys, every other kind one.
    assert len(manifest["planted"]) == len(PLANTS) + 1
    assert {item["kind"] for item in manifest["planted"]} == set(PLANTS)
    for item in manifest["planted"]:
        assert item["reasons"] == sorted(PLANTS[item["kind"]][0])


def test_generate_account_is_deterministic() -> None:
    first = generate_account(30, 2, ALL_PLANTS, seed=7, now=NOW)
    second = generate_account(30, 2, ALL_PLANTS, seed=7, now=NOW)
    other = generate_account(30, 2, ALL_PLANTS, seed=8, now=NOW)

    assert first == second
    assert first[2]["planted"] != other[2]["planted"]


def test_generate_account_clean_users_have_one_active_key() -> None:
    scenario, _, manifest = generate_account(60, 2, {}, now=NOW)

    assert manifest["planted"] == []
    for user in scenario["users"][1:]:
        statuses = [key["Status"] for key in user["AccessKeys"]]
        assert statuses == ["Active", "Inactive"]


def test_generate_cli_writes_loadable_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "account.json"

    status = emulator_main(
        [
            "generate-account",
            "--users",
            "25",
            "--keys-per-user",
            "1",
            "--plant",
            "root=1,new-ip=2",
            "--out",
            str(out),
            "--now",
            "2026-11-20T08:00:00Z",
        ]
    )

    events_path, manifest_path = sidecar_paths(out)
    assert status == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert events_path.exists()
    manifest = json.loads(manifest_path.read_text())
    cloud = load_scenario(out)
    assert len(cloud.users) == 26
    assert len(cloud.access_keys) == manifest["keys"]
    assert len(cloud.events) == manifest["events"]
    root = [key for key in cloud.access_keys.values() if key.owner_type != "ram-user"]
    assert len(root) == 1


def test_generate_cli_reports_bad_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "account.json"

    status = emulator_main(
        ["generate-account", "--users", "5", "--plant", "nope=1", "--out", str(out)]
    )

    assert status == 2
    assert "unknown plant kind 'nope'" in capsys.readouterr().out
    assert not out.exists()


# --- report helpers -------------------------------------------------------------------


def rows_for(*facts: KeyFacts) -> list[dict[str, Any]]:
    settings = SweepSettings()
    return sort_rows([key_row(assess_key(f, settings, NOW), settings) for f in facts])


def facts(key_id: str | None, user: str, **changes: Any) -> KeyFacts:
    values: dict[str, Any] = {
        "access_key_id": key_id,
        "owner_type": "ram-user",
        "user_name": user,
        "status": "Active",
        "create_date": datetime(2026, 10, 1, tzinfo=UTC),
        "last_used": datetime(2026, 11, 18, tzinfo=UTC),
        "last_used_known": True,
    }
    values.update(changes)
    return KeyFacts(**values)


def sample_rows() -> list[dict[str, Any]]:
    return rows_for(
        facts("LTAI5tREPORT000000000001", "alice"),
        facts("LTAI5tREPORT000000000002", "bob", last_used=None),
        facts("LTAI5tREPORT000000000003", "root", owner_type="root-account"),
        facts(None, "carol", status="Unknown", console_login=True),
    )


def test_sort_rows_puts_highest_score_first() -> None:
    rows = sample_rows()

    assert [row["score"] for row in rows] == [60, 20, 15, 0]
    assert rows[0]["severity"] == "high"
    assert rows[-1]["severity"] == "none"


def test_totals_count_flagged_rows() -> None:
    result = totals(sample_rows(), users_listed=4, users_assessed=3, failed=1)

    assert result["keys"] == 3
    assert result["active_keys"] == 3
    assert result["rows_flagged"] == 3
    assert result["by_severity"] == {"high": 1, "medium": 0, "low": 2}
    assert result["by_reason"] == {
        "root_key": 1,
        "never_used": 1,
        "console_without_mfa": 1,
    }


def test_table_rows_keep_flagged_rows_within_limit() -> None:
    rows = table_rows(sample_rows(), limit=2)

    assert len(rows) == 2
    assert rows[0]["user"] == "root"
    assert rows[1]["last_used"] == "never"


def sample_document(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "account_id": "1234567890123456",
        "started_at": "2026-11-20T08:00:00Z",
        "duration_seconds": 12.0,
        "complete": False,
        "totals": totals(rows, 4, 3, 1),
        "keys": rows,
        "failed_users": [
            {"user_name": "dave", "error_code": "NoPermission", "reason": "denied"}
        ],
        "responses": {"started": [], "candidates": [], "note": "No key reached it."},
        "coverage": {"notes": ["Root keys come from ActionTrail."]},
    }


def test_render_markdown_lists_keys_failures_and_coverage() -> None:
    text = render_markdown(sample_document(sample_rows()))

    assert "INCOMPLETE" in text
    assert "LTAI5tREPORT000000000003" in text
    assert "`root_key`" in text
    assert "dave: `NoPermission` denied" in text
    assert "No key reached it." in text
    assert "Root keys come from ActionTrail." in text


def test_write_document_masks_secret_fields(tmp_path: Path) -> None:
    secret = "wdSecretReportValue00000000001"
    redact.register_secret(secret)
    document = sample_document(sample_rows())
    document["failed_users"][0]["reason"] = f"AccessKeySecret={secret} leaked"
    document["AccessKeySecret"] = secret

    path = write_document(document, tmp_path / "deep" / "sweep.json")

    text = path.read_text()
    assert secret not in text
    assert json.loads(text)["AccessKeySecret"] == "***"


# --- ListUsers paging -----------------------------------------------------------------


class StubPages:
    """Serves ``list_users_page`` from a fixed list of pages, for paging logic."""

    def __init__(self, pages: list[tuple[list[str], str | None]]) -> None:
        self.pages = pages
        self.calls = 0

    def list_users_page(
        self, marker: str | None, max_items: int
    ) -> tuple[list[dict], str | None]:
        names, next_marker = self.pages[self.calls]
        self.calls += 1
        return [{"UserName": name} for name in names], next_marker


def test_list_all_users_keeps_users_seen_twice_once() -> None:
    stub = StubPages([(["a", "b"], "m1"), (["b", "c"], None)])

    listing = list_all_users(stub)  # type: ignore[arg-type]

    assert [user["UserName"] for user in listing.users] == ["a", "b", "c"]
    assert listing.duplicates == ["b"]
    assert listing.pages == 2


def test_list_all_users_stops_on_repeated_marker() -> None:
    stub = StubPages([(["a"], "m1"), (["b"], "m1"), (["c"], None)])

    with pytest.raises(RuntimeError, match="marker 'm1' twice"):
        list_all_users(stub)  # type: ignore[arg-type]


def test_list_all_users_pages_emulator_to_the_end(tmp_path: Path) -> None:
    scenario, events, manifest = generate_account(30, 1, {})
    scenario["events"] = events
    responder = scenario["users"][0]["AccessKeys"][0]
    faults = [{"service": "ram", "action": "ListUsers", "kind": "throttle", "count": 2}]
    with start_emulator(scenario, faults=faults) as running:
        connection = CloudConnection(
            access_key_id=responder["AccessKeyId"],
            access_key_secret=responder["AccessKeySecret"],
            endpoint=running.endpoint,
            protocol="http",
        )
        reader = RamReader(
            connection,
            calls_per_second=1000,
            policy=RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.02),
        )

        listing: UserListing = list_all_users(reader, max_items=7)

        names = [user["UserName"] for user in listing.users]
        assert len(names) == manifest["users"] == 31
        assert len(set(names)) == 31
        assert listing.pages == 5
        assert listing.duplicates == []
        counts = reader.stats.to_dict()["ram:ListUsers"]
        assert counts["succeeded"] == 5
        assert counts["retries"] == 2


def test_collect_batch_reports_deleted_user() -> None:
    scenario, events, _ = generate_account(3, 1, {})
    scenario["events"] = events
    responder = scenario["users"][0]["AccessKeys"][0]
    with start_emulator(scenario) as running:
        connection = CloudConnection(
            access_key_id=responder["AccessKeyId"],
            access_key_secret=responder["AccessKeySecret"],
            endpoint=running.endpoint,
            protocol="http",
        )
        reader = RamReader(
            connection, calls_per_second=1000, policy=RetryPolicy(max_attempts=2)
        )

        result = collect_batch(reader, ["user-00001", "ghost"], set(), workers=2)

    assert [record.user_name for record in result.records] == ["user-00001"]
    failure = result.failures[0]
    assert failure.user_name == "ghost"
    assert failure.code == "EntityNotExist.User"
    assert failure.retryable is False
    assert "deleted after ListUsers listed it" in failure.message
