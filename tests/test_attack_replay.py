"""Tests of the attack replay against the emulator serving the shipped scenario.

The attacker has bert-jan's key from emulator/scenarios/invictus-attack.json, the key
that the recorded attack used, and drives the real SDK clients over HTTP.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_ram20150501 import models as ram_models

from emulator.__main__ import main as emulator_main
from emulator.attack import (
    BACKDOOR_USER_PREFIX,
    DEFAULT_SOURCE_IP,
    GPU_INSTANCE_COUNT,
    GPU_INSTANCE_TYPE,
    Attacker,
    outcome_of,
    parse_endpoint,
    secret_from_scenario,
)
from emulator.testing import RunningEmulator, start_emulator
from tests.helpers import ram_client

REPO = Path(__file__).parent.parent
SCENARIO = REPO / "emulator" / "scenarios" / "invictus-attack.json"
LEAKED_KEY = "LTAI5tbuZIjVAVKRpqJhK7px"
LEAKED_USER = "bert-jan"
LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<api>\S+) "
    r"(?P<outcome>ok|denied|error) (?P<code>\S+)$"
)
FULL_STEPS = [
    "GetCallerIdentity",
    "ListUsers",
    "ListAccessKeys",
    "ListPoliciesForUser",
    "DescribeRegions",
    "LookupEvents",
    "CreateUser",
    "CreateAccessKey",
    "CreateLoginProfile",
    "AttachPolicyToUser",
    "GetCallerIdentity@backdoor",
    "ListUsers@backdoor",
    "RunInstances",
    "DescribeTrails",
    "StopLogging",
    "DeleteTrail",
]
RESPONDER = ("LTAI5tRESPONDER000000001", "rsSecretResponderKey000000000001")
DENY_ALL = json.dumps(
    {"Version": "1", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
)


def leaked_secret() -> str:
    return secret_from_scenario(SCENARIO, LEAKED_KEY)


def scenario_with_responder() -> dict[str, Any]:
    """The shipped scenario without its history, plus an administrator to respond."""
    scenario = json.loads(SCENARIO.read_text(encoding="utf-8"))
    del scenario["events_file"]
    scenario["users"].append(
        {
            "UserName": "ir-responder",
            "Policies": [{"PolicyName": "AdministratorAccess", "PolicyType": "System"}],
            "AccessKeys": [
                {"AccessKeyId": RESPONDER[0], "AccessKeySecret": RESPONDER[1]}
            ],
        }
    )
    return scenario


@pytest.fixture
def invictus() -> Iterator[RunningEmulator]:
    """The shipped scenario, with LookupEvents unthrottled for repeated playbooks."""
    config = {"lookup_events_rate_limit": None}
    with start_emulator(SCENARIO, config=config) as running:
        yield running


def attacker(emu: Any, output: io.StringIO) -> Attacker:
    return Attacker(emu.url, LEAKED_KEY, leaked_secret(), output=output)


def parse_lines(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    return [match.groupdict() for match in parsed if match]


def test_attack_full_prints_each_step(invictus: RunningEmulator) -> None:
    output = io.StringIO()
    results = attacker(invictus, output).run("full")
    lines = parse_lines(output.getvalue())
    assert [line["api"] for line in lines] == FULL_STEPS
    assert [line["outcome"] for line in lines] == ["ok"] * len(FULL_STEPS)
    assert [line["code"] for line in lines] == ["-"] * len(FULL_STEPS)
    assert [result.api for result in results] == FULL_STEPS


def test_attack_backdoor_creates_user(invictus: RunningEmulator) -> None:
    output = io.StringIO()
    replay = attacker(invictus, output)
    replay.run("backdoor")
    backdoor_users = [
        name for name in invictus.cloud.users if name.startswith(BACKDOOR_USER_PREFIX)
    ]
    assert backdoor_users == [replay.backdoor_user]
    user = invictus.cloud.users[backdoor_users[0]]
    assert len(user.access_key_ids) == 1
    assert user.login_profile is not None
    assert [policy.policy_name for policy in user.policies] == ["AdministratorAccess"]


def test_attack_backdoor_key_secret_hidden(invictus: RunningEmulator) -> None:
    output = io.StringIO()
    replay = attacker(invictus, output)
    replay.run("backdoor")
    user = invictus.cloud.users[replay.backdoor_user]
    backdoor_key = invictus.cloud.access_keys[user.access_key_ids[0]]
    backdoor_events = [
        event
        for event in invictus.cloud.events
        if event["userIdentity"].get("accessKeyId") == backdoor_key.access_key_id
    ]
    assert [event["eventName"] for event in backdoor_events] == [
        "GetCallerIdentity",
        "ListUsers",
    ]
    assert backdoor_key.secret not in output.getvalue()
    assert backdoor_key.secret not in json.dumps(invictus.cloud.events)
    assert leaked_secret() not in output.getvalue()


def test_attack_cryptomine_starts_gpu_instances(invictus: RunningEmulator) -> None:
    output = io.StringIO()
    attacker(invictus, output).run("cryptomine")
    instances = list(invictus.cloud.instances.values())
    assert len(instances) == GPU_INSTANCE_COUNT
    assert {instance.region_id for instance in instances} == {"ap-southeast-5"}
    assert {instance.instance_type for instance in instances} == {GPU_INSTANCE_TYPE}
    assert {instance.created_by_key for instance in instances} == {LEAKED_KEY}
    used_regions = {event["acsRegion"] for event in invictus.cloud.events[:-1]}
    assert "ap-southeast-5" not in used_regions


def test_attack_tamper_deletes_trail(invictus: RunningEmulator) -> None:
    output = io.StringIO()
    attacker(invictus, output).run("tamper")
    assert invictus.cloud.trails == {}
    names = [event["eventName"] for event in invictus.cloud.events[-3:]]
    assert names == ["DescribeTrails", "StopLogging", "DeleteTrail"]
    parameters = invictus.cloud.events[-1]["requestParameters"]
    assert parameters["Name"] == "main"


def test_attack_source_ip_and_agent(invictus: RunningEmulator) -> None:
    output = io.StringIO()
    replay = Attacker(
        invictus.url,
        LEAKED_KEY,
        leaked_secret(),
        source_ip="198.51.100.23",
        output=output,
    )
    replay.run("recon")
    recorded = invictus.cloud.events[-6:]
    assert [event["eventName"] for event in recorded] == FULL_STEPS[:6]
    for event in recorded:
        assert event["sourceIpAddress"] == "198.51.100.23"
        assert event["userAgent"].startswith("AlibabaCloud (")
        assert event["userIdentity"]["accessKeyId"] == LEAKED_KEY


def test_attack_denied_after_deny_policy() -> None:
    with start_emulator(
        scenario_with_responder(), config={"lookup_events_rate_limit": None}
    ) as emu:
        output = io.StringIO()
        replay = attacker(emu, output)
        replay.run("full")
        assert {line["outcome"] for line in parse_lines(output.getvalue())} == {"ok"}

        responder = ram_client(emu, *RESPONDER)
        responder.create_policy(
            ram_models.CreatePolicyRequest(
                policy_name="deny-all", policy_document=DENY_ALL
            )
        )
        responder.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(
                policy_type="Custom", policy_name="deny-all", user_name=LEAKED_USER
            )
        )
        output.seek(0)
        output.truncate()
        replay.run("full")
        lines = {line["api"]: line for line in parse_lines(output.getvalue())}

    assert list(lines) == FULL_STEPS
    # GetCallerIdentity needs no permission, and the backdoor key is not the leaked
    # user's, so a Deny on the leaked user leaves those calls working.
    unaffected = {
        "GetCallerIdentity",
        "GetCallerIdentity@backdoor",
        "ListUsers@backdoor",
    }
    for api, line in lines.items():
        if api in unaffected:
            assert line["outcome"] == "ok", api
        else:
            assert line["outcome"] == "denied", api
            assert line["code"] in ("NoPermission", "Forbidden.RAM"), api


def test_attack_denied_after_key_disabled(invictus: RunningEmulator) -> None:
    invictus.cloud.access_keys[LEAKED_KEY].status = "Inactive"
    output = io.StringIO()
    attacker(invictus, output).run("recon")
    lines = parse_lines(output.getvalue())
    assert [line["outcome"] for line in lines] == ["denied"] * 6
    assert {line["code"] for line in lines} == {"InvalidAccessKeyId.Inactive"}


def test_attack_unreachable_endpoint_is_error() -> None:
    with start_emulator(SCENARIO) as emu:
        url = emu.url
    output = io.StringIO()
    Attacker(url, LEAKED_KEY, leaked_secret(), output=output).run("cryptomine")
    (line,) = parse_lines(output.getvalue())
    assert line == {
        "api": "RunInstances",
        "outcome": "error",
        "code": "ConnectionFailed",
    }


def test_outcome_of_codes() -> None:
    assert outcome_of("NoPermission") == "denied"
    assert outcome_of("Forbidden.RAM") == "denied"
    assert outcome_of("InvalidAccessKeyId.NotFound") == "denied"
    assert outcome_of("Throttling.User") == "error"
    assert outcome_of("EntityAlreadyExists.User") == "error"


def test_parse_endpoint_loopback_only() -> None:
    assert parse_endpoint("http://127.0.0.1:18931") == ("127.0.0.1:18931", "http")
    assert parse_endpoint("localhost:80") == ("localhost:80", "http")
    assert parse_endpoint("http://[::1]:9000") == ("[::1]:9000", "http")
    with pytest.raises(ValueError, match="not a loopback address"):
        parse_endpoint("https://ram.aliyuncs.com")
    with pytest.raises(ValueError, match="not a loopback address"):
        parse_endpoint("http://192.0.2.10:80")
    with pytest.raises(ValueError, match="has a path or query"):
        parse_endpoint("http://127.0.0.1:80/x")


def test_secret_from_scenario_unknown_key() -> None:
    with pytest.raises(ValueError, match="has no key 'LTAI5tUNKNOWN'"):
        secret_from_scenario(SCENARIO, "LTAI5tUNKNOWN")


# --- command line ---------------------------------------------------------------------


def run_cli(*arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key != "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
    }
    return subprocess.run(
        [sys.executable, "-m", "emulator", "attack", *arguments],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        timeout=timeout,
    )


def test_cli_attack_recon(invictus: RunningEmulator) -> None:
    completed = run_cli(
        "--endpoint",
        invictus.url,
        "--access-key-id",
        LEAKED_KEY,
        "--scenario",
        str(SCENARIO),
        "--playbook",
        "recon",
    )
    assert completed.returncode == 0, completed.stderr
    lines = parse_lines(completed.stdout)
    assert [line["api"] for line in lines] == FULL_STEPS[:6]
    assert leaked_secret() not in completed.stdout + completed.stderr
    assert invictus.cloud.events[-1]["sourceIpAddress"] == DEFAULT_SOURCE_IP


def test_cli_attack_loop_runs_until_stopped(invictus: RunningEmulator) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "attack",
            "--endpoint",
            invictus.url,
            "--access-key-id",
            LEAKED_KEY,
            "--scenario",
            str(SCENARIO),
            "--playbook",
            "cryptomine",
            "--loop",
            "--interval",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    second = process.stdout.readline()

    invictus.cloud.access_keys[LEAKED_KEY].status = "Inactive"
    deadline = time.monotonic() + 30
    denied = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if " denied " in line:
            denied = line
            break
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 0, stderr
    assert " RunInstances ok -" in first
    assert " RunInstances ok -" in second
    assert denied.endswith(" RunInstances denied InvalidAccessKeyId.Inactive\n")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--playbook", "steal"], "invalid choice: 'steal'"),
        (
            ["--playbook", "recon", "--interval", "-1"],
            "'-1' is not a number of seconds",
        ),
        (["--playbook", "recon", "--source-ip", "attacker"], "'attacker' is not an IP"),
        (["--playbook", "recon"], "the leaked key's secret is missing"),
        (["--playbook", "recon", "--max-runs", "0"], "'0' is not a whole number"),
    ],
)
def test_cli_attack_bad_arguments(
    arguments: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", raising=False)
    command = ["attack", "--endpoint", "http://127.0.0.1:9"]
    command += ["--access-key-id", LEAKED_KEY, *arguments]
    with pytest.raises(SystemExit) as exit_info:
        emulator_main(command)
    captured = capsys.readouterr()
    assert exit_info.value.code == 2
    assert message in captured.err
    assert captured.out == ""


def test_cli_attack_remote_endpoint_rejected(
    capsys: pytest.CaptureFixture[str],
) -> None:
    command = ["attack", "--endpoint", "https://ram.aliyuncs.com"]
    command += ["--access-key-id", LEAKED_KEY, "--access-key-secret", "not-a-secret"]
    with pytest.raises(SystemExit) as exit_info:
        emulator_main([*command, "--playbook", "recon"])
    assert exit_info.value.code == 2
    assert "is not a loopback address" in capsys.readouterr().err
