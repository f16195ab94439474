"""Helpers for the sweep tests: generated accounts served by the emulator, and runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator.generate import sidecar_paths, write_account
from emulator.testing import RunningEmulator, start_emulator


@dataclass
class Account:
    """A generated account on a running emulator."""

    running: RunningEmulator
    scenario: Path
    manifest: dict[str, Any]

    def secrets(self) -> set[str]:
        """Return every AccessKeySecret of the scenario (test values)."""
        data = json.loads(self.scenario.read_text())
        found = {key["AccessKeySecret"] for key in data.get("root_access_keys", [])}
        for user in data["users"]:
            found.update(key["AccessKeySecret"] for key in user["AccessKeys"])
        return found

    def credentials(self, as_root: bool = False) -> tuple[str, str]:
        """Return the responder's (or the root's) key id and secret."""
        data = json.loads(self.scenario.read_text())
        if as_root:
            key = data["root_access_keys"][0]
        else:
            key = data["users"][0]["AccessKeys"][0]
        return key["AccessKeyId"], key["AccessKeySecret"]


@contextmanager
def sweep_account(
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    *,
    users: int,
    plants: dict[str, int],
    keys_per_user: int = 2,
    as_root: bool = False,
    faults: list[dict[str, Any]] | None = None,
    ram_rate_limit: float | None = None,
    lift_lookup_limit: bool = True,
) -> Iterator[Account]:
    """Generate an account, serve it and point the credential chain at it.

    ``lift_lookup_limit`` removes LookupEvents' two calls per second on both sides,
    which small tests do not need to wait for.
    """
    scenario = folder / "account.json"
    manifest = write_account(scenario, users, keys_per_user, plants)
    config = {"lookup_events_rate_limit": None} if lift_lookup_limit else None
    with start_emulator(
        scenario, faults=faults, ram_rate_limit=ram_rate_limit, config=config
    ) as running:
        account = Account(running, scenario, manifest)
        key_id, secret = account.credentials(as_root)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
        monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
        monkeypatch.setenv("AKRESPONDER_ENDPOINT", running.url)
        if lift_lookup_limit:
            monkeypatch.setenv("AKRESPONDER_ACTIONTRAIL_RPS", "1000")
        yield account


def sweep(folder: Path, **settings: Any) -> dict[str, Any]:
    """Run the sweep flow with its report under ``folder``; return the document."""
    from flows.sweep import SweepRequest, sweep_all_keys

    start_responses = settings.pop("start_responses", False)
    return sweep_all_keys(
        SweepRequest(
            report_path=str(folder / "sweep.json"),
            start_responses=start_responses,
            settings=settings,
        )
    )


def flagged(document: dict[str, Any]) -> dict[str | None, list[str]]:
    """Return the sorted reason codes of every flagged row, by key id."""
    return {
        row["access_key_id"]: sorted(reason["code"] for reason in row["reasons"])
        for row in document["keys"]
        if row["score"] > 0
    }


def expected(manifest: dict[str, Any]) -> dict[str | None, list[str]]:
    """Return the reason codes of every planted key that must be flagged."""
    return {
        item["access_key_id"]: item["reasons"]
        for item in manifest["planted"]
        if item["reasons"]
    }


def manifest_path(scenario: Path) -> Path:
    return sidecar_paths(scenario)[1]
