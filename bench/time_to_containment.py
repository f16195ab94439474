"""Measure how long a live attacker keeps working after the alert fires.

Each run serves the shipped invictus-ir scenario, moved to the present with a
responder that holds only the minimal policy (``akresponder.demo_scenario``), in a
fresh emulator. It then:

1. starts the attack replay (``python -m emulator attack --loop``) with the leaked
   key of ``bert-jan``, by default the write-heavy ``backdoor`` playbook, and waits
   until it has run twice;
2. fires the SLS alert for the key (the alert ``akresponder demo`` builds) and
   notes that moment;
3. waits until the response's incident journal records containment, lets the
   attacker go on for ``--after`` seconds (5), then stops the attacker and the
   response. The investigation that follows containment is not timed, because
   its length depends on how much the attacker did.

The replay stamps each line with the time its call started. From these lines the
script records three figures. The first is the seconds from the alert to the first
call of the leaked key that the cloud rejected. The second is how many calls of the
leaked key succeeded after the alert. The third lists every write of the leaked key
that succeeded after the response recorded containment (the ``at`` of its
``attach-deny-policy`` or ``disable-key`` action) and before the attacker
stopped. Calls made with the attacker's backdoor key (``...@backdoor``) are not
the leaked key's and are left out.

Three setups:

* ``cli``: ``akresponder respond KEY --auto-approve`` starts at alert time, in
  Prefect's ephemeral mode with a database that already exists. Prefect's
  start-up (the process start to the flow's start, from the report's
  ``timings.started_at``) is shown apart from the response.
* ``served``: a Prefect server (SQLite, private ``PREFECT_HOME``), ``python -m
  deployments.serve`` with a settings block that requires no approval, and
  ``python -m deployments.receiver``; the alert is POSTed to the receiver as an
  SLS webhook would. The Prefect server and the receiver run for the whole
  benchmark. ``serve`` restarts for each run, because each run's emulator and
  responder key are new.
* ``subprocess``: as ``served`` with ``serve --subprocess-runs``, which starts a
  new process for every run as Prefect's own ``serve`` does.

Run: ``.venv/bin/python bench/time_to_containment.py [--setup cli] [--setup
served] [--setup subprocess] [--runs 5] [--playbook backdoor] [--write-doc]``.
``--write-doc`` replaces the "Time to containment" section of docs/benchmarks.md
with the result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from akresponder.demo import ATTACKER_IP, build_alert  # noqa: E402
from akresponder.demo_scenario import (  # noqa: E402
    LEAKED_KEY_ID,
    SHIPPED_SCENARIO,
    DemoAccount,
    build_demo_scenario,
)
from bench import stack  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Time to containment"
SETTINGS_BLOCK = "bench-no-approval"
# The replay's APIs that change the account. The backdoor playbook makes four of
# its six calls with them, and the deny policy of the contain path denies those four.
WRITE_APIS = frozenset(
    {
        "CreateUser",
        "CreateAccessKey",
        "CreateLoginProfile",
        "AttachPolicyToUser",
        "RunInstances",
        "StopLogging",
        "DeleteTrail",
    }
)
# Response steps that stop the attacker: the deny policy, or the disabled key.
CONTAINING_ACTIONS = ("attach-deny-policy", "disable-key")
RESPONSE_TIMEOUT = 300.0
SETUPS = ("cli", "served", "subprocess")
_LINE = re.compile(r"^(\S+Z) (\S+) (ok|denied|error) (\S+)$")


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time with ``Z`` or an offset into an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class AttackLine:
    """One call of the attack replay, as it printed it."""

    at: datetime
    api: str
    outcome: str
    code: str

    @property
    def leaked_key(self) -> bool:
        """True for calls signed with the leaked key, not the backdoor key."""
        return "@" not in self.api

    @property
    def write(self) -> bool:
        return self.api in WRITE_APIS


class AttackReplay:
    """``python -m emulator attack --loop`` with the leaked key, read line by line."""

    def __init__(
        self,
        emulator_url: str,
        env: dict[str, str],
        log_dir: Path,
        playbook: str,
        interval: float,
    ) -> None:
        command = [
            sys.executable,
            "-m",
            "emulator",
            "attack",
            "--endpoint",
            emulator_url,
            "--access-key-id",
            LEAKED_KEY_ID,
            "--scenario",
            str(SHIPPED_SCENARIO),
            "--playbook",
            playbook,
            "--loop",
            "--interval",
            str(interval),
            "--source-ip",
            ATTACKER_IP,
        ]
        self._stderr = open(log_dir / "attack.log", "w")  # noqa: SIM115 - see stop()
        self._lines_path = log_dir / "attack-lines.txt"
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,
        )
        self._lines: list[AttackLine] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            match = _LINE.match(text.strip())
            if match is None:
                continue
            line = AttackLine(
                parse_time(match.group(1)),
                match.group(2),
                match.group(3),
                match.group(4),
            )
            with self._lock:
                self._lines.append(line)

    @property
    def lines(self) -> list[AttackLine]:
        with self._lock:
            return list(self._lines)

    def wait_for_calls(self, count: int, timeout: float) -> None:
        """Wait until the replay printed ``count`` lines; raise when it stopped."""

        def enough() -> bool:
            if self.process.poll() is not None:
                raise stack.StackError(
                    f"the attack replay exited with status {self.process.returncode}"
                )
            return len(self.lines) >= count

        stack.wait_for(enough, timeout, f"{count} calls of the attack replay", 0.05)

    def stop(self) -> None:
        """Stop the loop with SIGTERM, the replay's normal end."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()
        with open(self._lines_path, "w") as output:
            for line in self.lines:
                print(
                    f"{line.at:%H:%M:%S.%f} {line.api} {line.outcome} {line.code}",
                    file=output,
                )


@dataclass
class RunResult:
    """The figures of one run; times are UTC from this machine's clock."""

    setup: str
    number: int
    alert_at: datetime
    marks: list[tuple[str, datetime | None]] = field(default_factory=list)
    path: str | None = None
    contained_at: datetime | None = None
    first_denied_at: datetime | None = None
    ok_after_alert: int = 0
    writes_after_containment: list[str] = field(default_factory=list)
    problem: str | None = None
    # The 1-minute load average of the machine when the alert fired.
    load: float = 0.0

    @property
    def to_denied(self) -> float | None:
        """Seconds from the alert to the first rejected call of the leaked key."""
        if self.first_denied_at is None:
            return None
        return (self.first_denied_at - self.alert_at).total_seconds()

    def stages(self) -> list[tuple[str, float]]:
        """Return the seconds between consecutive marks, named by the later mark."""
        result = []
        previous = self.alert_at
        for name, moment in self.marks:
            if moment is None:
                continue
            result.append((name, (moment - previous).total_seconds()))
            previous = moment
        return result

    def line(self) -> str:
        denied = f"{self.to_denied:.2f} s" if self.to_denied is not None else "never"
        stages = ", ".join(f"{name} {seconds:.2f}" for name, seconds in self.stages())
        text = (
            f"{self.setup} run {self.number} (load average {self.load:.1f}): first "
            f"denied call {denied} after the alert; {self.ok_after_alert} calls "
            f"of the leaked key succeeded after it; path {self.path}; writes after "
            "containment: "
            f"{len(self.writes_after_containment)}; stages (s): {stages}"
        )
        if self.writes_after_containment:
            text += f"\n  succeeded after containment: {self.writes_after_containment}"
        if self.problem:
            text += f"\n  problem: {self.problem}"
        return text


def analyse(
    result: RunResult, lines: list[AttackLine], journal: dict[str, Any] | None
) -> None:
    """Fill the attacker's figures of ``result`` from the replay and the journal."""
    if journal is not None:
        result.path = (journal.get("decision") or {}).get("path")
        result.contained_at = contained_at(journal)
    after_alert = [
        line for line in lines if line.leaked_key and line.at >= result.alert_at
    ]
    result.ok_after_alert = sum(line.outcome == "ok" for line in after_alert)
    denied = [line for line in after_alert if line.outcome == "denied"]
    result.first_denied_at = denied[0].at if denied else None
    if result.contained_at is not None:
        result.writes_after_containment = [
            f"{line.api}@{line.at:%H:%M:%S.%f}"
            for line in after_alert
            if line.write and line.outcome == "ok" and line.at > result.contained_at
        ]
    result.marks += [
        ("containment", result.contained_at),
        ("next attacker call", result.first_denied_at),
    ]
    if journal is None:
        result.problem = "the response wrote no incident journal"
    elif result.contained_at is None:
        result.problem = "the journal records no containing action as done"


def read_journal(state_dir: Path) -> dict[str, Any] | None:
    """Return the leaked key's incident journal, or None before the response saves it.

    The response saves the journal after every change of a step's status, so it
    shows containment long before the report, which waits for the investigation.
    """
    try:
        return json.loads((state_dir / f"{LEAKED_KEY_ID}.json").read_text("utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def contained_at(journal: dict[str, Any]) -> datetime | None:
    """Return when the first containing action of the journal was done."""
    moments = [
        parse_time(action["at"])
        for action_id, action in (journal.get("actions") or {}).items()
        if action_id in CONTAINING_ACTIONS
        and action.get("status") == "done"
        and action.get("at")
    ]
    return min(moments) if moments else None


def wait_for_containment(
    state_dir: Path, timeout: float, check_running: Any
) -> tuple[dict[str, Any], datetime]:
    """Wait until the journal records containment; return it and when it appeared.

    The response saves its journal first thing in its flow, so the moment the
    file appears (polled every 0.1 s) marks the flow's start: the journal's own
    ``created_at`` has whole seconds only. ``check_running`` raises when the
    process that runs the response has exited.
    """
    appeared: list[datetime] = []

    def contained() -> dict[str, Any] | None:
        check_running()
        journal = read_journal(state_dir)
        if journal is None:
            return None
        if not appeared:
            appeared.append(datetime.now(UTC))
        if contained_at(journal) is not None:
            return journal
        return None

    journal = stack.wait_for(contained, timeout, "containment in the journal", 0.1)
    return journal, appeared[0]


def emulator_requests(url: str) -> list[dict[str, Any]]:
    from emulator.testing import control_request

    return control_request(url, "GET", "/__emu/requests?since=0")["requests"]


@dataclass
class Bench:
    """The settings shared by every run."""

    work: Path
    playbook: str
    interval: float
    warmup_calls: int
    after: float
    serve_env: dict[str, str]
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        # The command line's ephemeral Prefect database; the served setup's server
        # keeps its own under another home.
        self.env = stack.base_environment(self.work / "prefect-cli")

    def run_folder(self, setup: str, number: int) -> Path:
        folder = self.work / f"{setup}-{number}"
        for name in ("state", "secrets", "logs"):
            (folder / name).mkdir(parents=True, mode=0o700)
        return folder

    def serve_account(self, folder: Path) -> tuple[stack.Child, str, DemoAccount]:
        """Start an emulator on a fresh copy of the demo account."""
        overlay = folder / "overlay"
        overlay.mkdir(mode=0o700)
        account = build_demo_scenario(overlay)
        try:
            child, url = stack.start_emulator(
                account.scenario_path, self.env, folder / "logs"
            )
        finally:
            # The overlay contains AccessKeySecrets, and the emulator has read it.
            shutil.rmtree(overlay, ignore_errors=True)
        return child, url, account

    def start_attack(self, url: str, folder: Path) -> AttackReplay:
        attack = AttackReplay(
            url, self.env, folder / "logs", self.playbook, self.interval
        )
        attack.wait_for_calls(self.warmup_calls, 60)
        return attack

    def responder_env(
        self, url: str, account: DemoAccount, base: dict[str, str]
    ) -> dict[str, str]:
        return {
            **base,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": account.responder_key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": account.responder_secret,
            "AKRESPONDER_ENDPOINT": url,
        }


def run_cli(bench: Bench, number: int) -> RunResult:
    """Run ``akresponder respond`` at alert time, in Prefect's ephemeral mode."""
    folder = bench.run_folder("cli", number)
    emulator, url, account = bench.serve_account(folder)
    attack = None
    try:
        attack = bench.start_attack(url, folder)
        command = [
            sys.executable,
            "-m",
            "akresponder",
            "respond",
            LEAKED_KEY_ID,
            "--auto-approve",
            "--state-dir",
            str(folder / "state"),
            "--report",
            str(folder / "state" / f"{LEAKED_KEY_ID}.report.json"),
            "--secret-sink",
            f"file:{folder / 'secrets'}",
        ]
        env = bench.responder_env(url, account, bench.env)
        log_path = folder / "logs" / "respond.log"
        alert_at = datetime.now(UTC)
        alert_load = os.getloadavg()[0]
        respond = stack.Child("respond", command, env, folder / "logs")
        try:
            journal, started = wait_for_containment(
                folder / "state", RESPONSE_TIMEOUT, respond.check_running
            )
            time.sleep(bench.after)
            attack.stop()
        finally:
            # The investigation that follows containment is not measured here.
            respond.stop()
        result = RunResult("cli", number, alert_at, load=alert_load)
        result.marks.append(("Prefect start-up", started))
        analyse(result, attack.lines, journal)
        if not log_path.exists():
            result.problem = f"akresponder respond wrote no log to {log_path}"
        return result
    finally:
        if attack is not None:
            attack.stop()
        emulator.stop()


@dataclass
class ServedStack:
    """The processes that outlive one run: the Prefect server and the receiver."""

    env: dict[str, str]
    server: stack.Child
    api_url: str
    receiver: stack.Child
    receiver_url: str
    token: str

    def stop(self) -> None:
        self.receiver.stop()
        self.server.stop()


def start_served_stack(bench: Bench) -> ServedStack:
    logs = bench.work / "served-logs"
    logs.mkdir()
    env = stack.base_environment(bench.work / "prefect-server")
    server, api_url = stack.start_prefect_server(env, logs)
    try:
        stack.save_settings_block(
            api_url, SETTINGS_BLOCK, approval_steps=[], secret_sink_kind="none"
        )
        token = secrets.token_urlsafe(24)
        receiver_env = {
            **env,
            "PREFECT_API_URL": api_url,
            "AKRESPONDER_RECEIVER_TOKEN": token,
        }
        receiver, receiver_url = stack.start_receiver(receiver_env, logs)
    except BaseException:
        server.stop()
        raise
    return ServedStack(env, server, api_url, receiver, receiver_url, token)


def run_served(bench: Bench, served: ServedStack, setup: str, number: int) -> RunResult:
    """POST the alert to the receiver while the deployments are served.

    ``setup`` is ``served`` (responses run in the serve process) or ``subprocess``
    (``--subprocess-runs``: a new process per run, as Prefect's serve does).
    """
    import httpx

    folder = bench.run_folder(setup, number)
    emulator, url, account = bench.serve_account(folder)
    serve = attack = None
    try:
        env = {
            **bench.responder_env(url, account, served.env),
            "PREFECT_API_URL": served.api_url,
            "AKRESPONDER_STATE_DIR": str(folder / "state"),
            # Earlier runs completed responses for the same key; each run is a new
            # incident.
            "AKRESPONDER_ALERT_DEDUPE_HOURS": "0",
            **bench.serve_env,
        }
        serve_args = ["--settings-block", SETTINGS_BLOCK]
        if setup == "subprocess":
            serve_args.append("--subprocess-runs")
        serve = stack.start_serve(env, folder / "logs", served.api_url, serve_args)
        attack = bench.start_attack(url, folder)
        alert = build_alert(account, emulator_requests(url))
        alert_at = datetime.now(UTC)
        alert_load = os.getloadavg()[0]
        with httpx.Client(trust_env=False, timeout=60) as http:
            reply = http.post(
                served.receiver_url + "/alerts/sls",
                content=json.dumps(alert).encode(),
                headers={"Authorization": f"Bearer {served.token}"},
            )
        replied_at = datetime.now(UTC)
        if reply.status_code != 202:
            raise stack.StackError(
                f"the receiver returned HTTP {reply.status_code}: {reply.text[:300]}"
            )
        journal, started = wait_for_containment(
            folder / "state", RESPONSE_TIMEOUT, serve.check_running
        )
        time.sleep(bench.after)
        attack.stop()
        runs = response_runs(served.api_url, alert_at)
        result = RunResult(setup, number, alert_at, load=alert_load)
        result.marks.append(("receiver", replied_at))
        intake = runs.get("intake")
        if intake is not None:
            result.marks += [
                ("intake pickup", run_time(intake, "start_time")),
                ("intake", run_time(runs["response"], "created")),
            ]
        result.marks.append(("response pickup", started))
        analyse(result, attack.lines, journal)
        return result
    finally:
        if attack is not None:
            attack.stop()
        if serve is not None:
            serve.stop()
        emulator.stop()


def run_time(run: dict[str, Any], name: str) -> datetime | None:
    value = run.get(name)
    return parse_time(value) if value else None


def response_runs(api_url: str, alert_at: datetime) -> dict[str, dict[str, Any]]:
    """Return this alert's response run and its intake run from the Prefect API.

    They are the newest runs of each flow with the leaked key's tag that were
    created after the alert. Raises ``StackError`` when no response run exists.
    """
    tag = f"key:{LEAKED_KEY_ID}"
    since = alert_at - timedelta(seconds=1)
    runs: dict[str, dict[str, Any]] = {}
    with stack.prefect_api(api_url) as client:
        for name, flow_name in (
            ("response", stack.RESPONSE_FLOW),
            ("intake", stack.INTAKE_FLOW),
        ):
            found = [
                run
                for run in stack.flow_runs(client, flow_name, [tag])
                if parse_time(run["created"]) >= since
            ]
            if found:
                runs[name] = max(found, key=lambda run: run["created"])
    if "response" not in runs:
        raise stack.StackError("the Prefect API has no response run for the alert")
    return runs


def migrate_ephemeral_database(env: dict[str, str]) -> float:
    """Create Prefect's SQLite database under the bench's home; return the seconds.

    A responder's machine has the database from its first run, and a new
    database's migrations take about 20 s on 2 cores, which is not the response.
    """
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=300,
        check=True,
    )
    return time.monotonic() - started


# Output.


def machine() -> str:
    from importlib.metadata import version

    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} CPUs ({stack.cpu_model()}), "
        f"Python {platform.python_version()}, "
        f"Prefect {version('prefect')}, load average {load:.1f} at start"
    )


@dataclass
class Summary:
    """The figures of one setup over its runs."""

    setup: str
    results: list[RunResult]

    @property
    def times(self) -> list[float]:
        return [r.to_denied for r in self.results if r.to_denied is not None]

    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    def worst(self) -> float | None:
        return max(self.times) if self.times else None

    def stage_medians(self) -> list[tuple[str, float]]:
        names: list[str] = []
        values: dict[str, list[float]] = {}
        for result in self.results:
            for name, seconds in result.stages():
                if name not in values:
                    names.append(name)
                    values[name] = []
                values[name].append(seconds)
        return [(name, statistics.median(values[name])) for name in names]

    def loads(self) -> str:
        """Return the range of the load averages at the runs' alerts."""
        values = [result.load for result in self.results]
        if not values:
            return "-"
        return f"{min(values):.1f} to {max(values):.1f}"

    def never_denied(self) -> int:
        return sum(r.to_denied is None for r in self.results)

    def writes_after(self) -> int:
        return sum(len(r.writes_after_containment) for r in self.results)

    def ok_after_alert(self) -> list[int]:
        return sorted(r.ok_after_alert for r in self.results)

    def text(self) -> str:
        median, worst = self.median(), self.worst()
        stages = ", ".join(
            f"{name} {seconds:.2f} s" for name, seconds in self.stage_medians()
        )
        return (
            f"{self.setup}: first denied call median "
            f"{_seconds(median)}, worst {_seconds(worst)} over {len(self.times)} "
            f"runs ({self.never_denied()} never denied); calls of the leaked key "
            f"that succeeded after the alert {self.ok_after_alert()}; writes after "
            f"containment {self.writes_after()}; median stages: {stages}; load "
            f"average {self.loads()}"
        )

    def row(self, machine_text: str, command: str) -> str:
        stages = "; ".join(
            f"{name} {seconds:.2f}" for name, seconds in self.stage_medians()
        )
        counts = ", ".join(str(count) for count in self.ok_after_alert())
        return (
            f"| {self.setup} | {len(self.times)} | {_seconds(self.median())} | "
            f"{_seconds(self.worst())} | {counts} | {self.writes_after()} | "
            f"{stages} | {self.loads()} | {machine_text} | `{command}` |"
        )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def write_doc(summaries: list[Summary], machine_text: str, command: str) -> None:
    """Replace (or add) the "Time to containment" section of docs/benchmarks.md."""
    lines = [
        "The time from the SLS alert to the first call of the leaked key that the "
        "cloud rejects. Meanwhile the attack replay loops the `backdoor` playbook "
        "with the leaked key of the invictus-ir scenario: four writes and two reads "
        "per round, 0.1 s between rounds. Each run has a fresh emulator. `cli` starts "
        "`akresponder respond KEY --auto-approve` at alert time (ephemeral Prefect, "
        "database already migrated). `served` POSTs the alert to `python -m "
        "deployments.receiver` with a Prefect server and `python -m "
        "deployments.serve` running; the settings block requires no approval. "
        "`subprocess` is `served` with `serve --subprocess-runs`: a new Python "
        "process per run, found by Prefect's runner within its 10 s poll, as "
        "Prefect's own `serve` runs every deployment. Stages are medians of the "
        "time between consecutive marks. Containment is the `at` of the "
        "response's deny-policy (or disable-key) action in its incident journal. "
        "The attacker goes on for 5 s after containment, and then the run ends: "
        "the investigation that follows is not timed. Target: a median under 5 s "
        "for `served`. In `cli`, the Prefect start-up stage (process start to the "
        "flow's start) is Prefect's and Python's, not the response's. Run it from "
        "the repository root with `.venv/bin/python`: it starts every process on "
        "127.0.0.1 itself and removes proxy variables from their environment.",
        "",
        "| setup | runs | median | worst | leaked-key calls that succeeded "
        "after the alert | writes after containment | median stages (s) | load "
        "average during runs | machine | command |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(summary.row(machine_text, command) for summary in summaries),
    ]
    stack.write_doc_section(DOC, SECTION, lines)


def _environment_pair(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--setup",
        choices=SETUPS,
        action="append",
        help="setup to measure, repeatable: cli, served (responses in the serve "
        "process) or subprocess (serve --subprocess-runs); default: all three",
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="runs per setup (default: 5)"
    )
    parser.add_argument(
        "--playbook",
        default="backdoor",
        choices=["recon", "backdoor", "cryptomine", "tamper", "full"],
        help="attack playbook to loop (default: backdoor)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.1,
        help="seconds between the attacker's rounds (default: 0.1)",
    )
    parser.add_argument(
        "--warmup-calls",
        type=int,
        default=12,
        help="attacker calls before the alert fires (default: 12, two rounds)",
    )
    parser.add_argument(
        "--after",
        type=float,
        default=5.0,
        help="seconds the attacker goes on after containment (default: 5)",
    )
    parser.add_argument(
        "--serve-env",
        type=_environment_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of deployments.serve, such as "
        "PREFECT_RUNNER_POLL_FREQUENCY=10 (repeatable)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (logs, reports)"
    )
    parser.add_argument(
        "--write-doc", action="store_true", help="record the result in the docs"
    )
    return parser


def main() -> int:
    args = build_parser().parse_args()
    command = " ".join(shlex.quote(part) for part in ["python", *sys.argv])
    machine_text = machine()
    work = Path(tempfile.mkdtemp(prefix="akresponder-ttc-"))
    for name in stack.PROXY_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(
        {
            "PREFECT_HOME": str(work / "prefect-bench"),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    bench = Bench(
        work,
        args.playbook,
        args.interval,
        args.warmup_calls,
        args.after,
        dict(args.serve_env),
    )
    setups = args.setup or list(SETUPS)
    summaries = []
    try:
        if "cli" in setups:
            seconds = migrate_ephemeral_database(bench.env)
            print(f"Prefect database migrated in {seconds:.1f} s (not measured)")
            results = []
            for number in range(1, args.runs + 1):
                results.append(run_cli(bench, number))
                print(results[-1].line(), flush=True)
            summaries.append(Summary("cli", results))
        served_setups = [setup for setup in SETUPS[1:] if setup in setups]
        if served_setups:
            served = start_served_stack(bench)
            try:
                for setup in served_setups:
                    results = []
                    for number in range(1, args.runs + 1):
                        results.append(run_served(bench, served, setup, number))
                        print(results[-1].line(), flush=True)
                    summaries.append(Summary(setup, results))
            finally:
                served.stop()
    finally:
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    for summary in summaries:
        print(summary.text())
    print(f"machine: {machine_text}")
    print(f"command: {command}")
    if args.write_doc:
        write_doc(summaries, machine_text, command)
    failed = any(
        r.problem or r.writes_after_containment for s in summaries for r in s.results
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
