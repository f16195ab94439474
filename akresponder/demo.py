"""``akresponder demo``: a leaked AccessKey in a real attack recording, alert to report.

The demo runs the whole playbook on this machine, against the local emulator:

1. It serves the shipped invictus-ir scenario (a Stratus Red Team attack recorded in
   AWS CloudTrail and converted to ActionTrail) through the overlay of
   ``akresponder.demo_scenario``: moved to the present, with a responder user that
   holds only the minimal policy. The emulator is ``python -m emulator serve``, a
   child process on 127.0.0.1.
2. It replays a live attack (``emulator.attack``, playbook ``full``) with the leaked
   key of ``bert-jan`` from the documentation address 203.0.113.66.
3. It builds the SLS alert notification that an ActionTrail alert rule would send
   for that key, from the emulator's request log.
4. It runs the alert intake and the response in this process (Prefect's ephemeral
   mode, ``PREFECT_HOME`` under the output folder). Each approval pauses the flow
   run as in production; the demo prints the question and answers yes.
5. It prints where the report is and a summary, then stops the emulator unless
   ``--keep-running``.

The responder signs in with a credentials block saved in the demo's Prefect
database, so its secret is in no environment variable, file or command line. New
AccessKey secrets go to a file sink under the output folder (0600 files).
"""

from __future__ import annotations

import contextvars
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from akresponder import redact
from akresponder.demo_scenario import (
    LEAKED_KEY_ID,
    LEAKED_USER,
    RESPONDER_USER,
    SHIPPED_SCENARIO,
    DemoAccount,
    build_demo_scenario,
)
from akresponder.demo_summary import find_report, summary_lines
from emulator.testing import PROXY_VARIABLES, control_request

DEFAULT_OUT = Path("demo-output")
ATTACKER_IP = "203.0.113.66"  # TEST-NET-3, reserved for documentation
SETTINGS_BLOCK = "akresponder-demo"
CREDENTIALS_BLOCK = "akresponder-demo-responder"
APPROVER = "akresponder demo"
EMULATOR_STARTUP_SECONDS = 60
# ActionTrail allows 2 LookupEvents calls per second per account by default, and
# the responder paces itself to that (AKRESPONDER_ACTIONTRAIL_RPS). The demo's
# investigation makes several hundred calls, so it raises the limit in the emulator
# and in the responder alike and prints how long the calls would take at 2.
CLOUD_LOOKUP_RATE = 2.0
DEFAULT_LOOKUP_RATE = 50.0
# The alert fires this long after the live attack. The emulator's clock starts this
# far behind the host's and moves forward after the replay, so the attacker's
# instances have run for that long and have bills that the response can attribute.
ALERT_DELAY = timedelta(hours=6)
APPROVAL_TIMEOUT_SECONDS = 120

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NEEDS_PERSON = 3


class DemoError(RuntimeError):
    """A step of the demo failed; the message names the step and what to check."""


@dataclass
class EmulatorChild:
    """``python -m emulator serve`` running as a child process."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self) -> None:
        """Terminate the emulator, and kill it when it still runs after 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Console:
    """Prints the demo's lines, one writer at a time, with secrets masked."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def line(self, text: str = "", indent: int = 0) -> None:
        with self.lock:
            print(" " * indent + redact.scrub_text(text), file=self.stream, flush=True)


class _IndentedWriter:
    """A text stream that indents each line written to it, for the attack replay."""

    def __init__(self, console: Console, indent: int) -> None:
        self.console = console
        self.indent = indent
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self.console.line(line, self.indent)
        return len(text)

    def flush(self) -> None:
        pass


# The emulator.


def _emulator_environment() -> dict[str, str]:
    env = {
        name: value for name, value in os.environ.items() if name not in PROXY_VARIABLES
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_emulator(
    scenario: Path, log_path: Path, *, detach: bool = False
) -> EmulatorChild:
    """Start ``python -m emulator serve`` on a free port and wait until it listens.

    Its stdout and stderr go to ``log_path``. ``detach`` starts it in a session of
    its own, so that it outlives this process and the terminal (``--keep-running``).
    Otherwise Ctrl-C in the terminal stops both. Raises ``DemoError`` with the
    log's end when it exits or does not listen within ``EMULATOR_STARTUP_SECONDS``.
    """
    command = [
        sys.executable,
        "-m",
        "emulator",
        "serve",
        "--scenario",
        str(scenario),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_emulator_environment(),
            start_new_session=detach,
        )
    deadline = time.monotonic() + EMULATOR_STARTUP_SECONDS
    while time.monotonic() < deadline:
        exited = process.poll() is not None
        text = log_path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if line.startswith("listening on http://") and not exited:
                url = line.removeprefix("listening on ").strip()
                return EmulatorChild(process, url, log_path)
        if exited:
            break
        time.sleep(0.1)
    if process.poll() is None:
        problem = f"did not listen within {EMULATOR_STARTUP_SECONDS} s"
        EmulatorChild(process, "", log_path).stop()
    else:
        problem = f"exited with status {process.returncode} before it listened"
    tail = log_path.read_text(encoding="utf-8", errors="replace").strip()[-1500:]
    raise DemoError(
        f"the emulator {problem}; command: {' '.join(command)}; its output "
        f"({log_path}): {tail or 'none'}"
    )


def emulator_requests(url: str) -> list[dict[str, Any]]:
    """Return the emulator's request log (``GET /__emu/requests``)."""
    return control_request(url, "GET", "/__emu/requests?since=0")["requests"]


# The attack and the alert.


def replay_attack(url: str, console: Console) -> list[Any]:
    """Run the ``full`` attack playbook with the leaked key; return its step results."""
    from emulator.attack import Attacker, secret_from_scenario

    secret = secret_from_scenario(SHIPPED_SCENARIO, LEAKED_KEY_ID)
    redact.register_secret(secret)
    attacker = Attacker(
        url,
        LEAKED_KEY_ID,
        secret,
        source_ip=ATTACKER_IP,
        output=_IndentedWriter(console, 6),
    )
    return attacker.run("full")


def build_alert(account: DemoAccount, requests: list[dict[str, Any]]) -> dict:
    """Build the SLS alert notification for the leaked key's calls from a new address.

    The shape is what an SLS alert rule on the ActionTrail logstore sends with the
    whole ``alert`` object as its template: one result row per (key, address) with
    the call count. The rows come from the emulator's request log.
    """
    calls = [
        item
        for item in requests
        if item.get("access_key_id") == LEAKED_KEY_ID
        and item.get("source_ip") == ATTACKER_IP
    ]
    fire_time = int(time.time())
    row = {
        "event.userIdentity.accessKeyId": LEAKED_KEY_ID,
        "event.sourceIpAddress": ATTACKER_IP,
        "cnt": str(len(calls)),
    }
    project = f"actiontrail-{account.account_id}"
    query = (
        'event.userIdentity.accessKeyId: * | SELECT "event.userIdentity.accessKeyId", '
        '"event.sourceIpAddress", count(*) AS cnt GROUP BY 1, 2'
    )
    return {
        "aliuid": account.account_id,
        "alert_instance_id": f"akresponder-demo-{fire_time}",
        "alert_id": "akresponder-ak-new-address",
        "alert_name": "AccessKey used from a new address",
        "alert_type": "sls_alert",
        "project": project,
        "region": account.region,
        "status": "firing",
        "severity": 8,
        "fire_time": fire_time,
        "alert_time": fire_time,
        "annotations": {
            "title": "AccessKey used from a new address",
            "desc": "ActionTrail shows calls from an address the key never used.",
        },
        "fire_results_count": 1,
        "fire_results": [row],
        "results": [
            {
                "project": project,
                "store": "actiontrail_main",
                "store_type": "log",
                "query": query,
                "start_time": fire_time - 900,
                "end_time": fire_time,
                "fire_result": row,
                "raw_result_count": 1,
            }
        ],
    }


# Prefect: private home, blocks, approvals.


@contextmanager
def prefect_home(home: Path) -> Iterator[None]:
    """Point Prefect at ``home`` (its database and results) and ephemeral mode.

    ``PREFECT_API_URL`` is cleared for the demo so it never writes into a server the
    user runs for other work.
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_HOME,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )

    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with temporary_settings(
        updates={PREFECT_HOME: home, PREFECT_SERVER_ANALYTICS_ENABLED: False},
        restore_defaults={PREFECT_API_URL},
    ):
        yield


@contextmanager
def environment(
    updates: dict[str, str], remove: tuple[str, ...] = ()
) -> Iterator[None]:
    """Set and remove environment variables for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in (*updates, *remove)}
    for name in remove:
        os.environ.pop(name, None)
    os.environ.update(updates)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def save_blocks(account: DemoAccount, folders: DemoFolders) -> None:
    """Save the responder's credentials and the demo's settings as Prefect blocks."""
    from blocks.credentials import AlibabaCloudCredentials
    from blocks.settings import ResponderSettings

    AlibabaCloudCredentials(
        access_key_id=account.responder_key_id,
        access_key_secret=account.responder_secret,
        region=account.region,
    ).save(CREDENTIALS_BLOCK, overwrite=True)
    ResponderSettings(
        secret_sink_kind="file",
        secret_directory=str(folders.secrets),
        evidence_location=str(folders.evidence),
        approval_timeout_seconds=APPROVAL_TIMEOUT_SECONDS,
    ).save(SETTINGS_BLOCK, overwrite=True)


def crash_stale_runs() -> int:
    """Mark runs that an interrupted earlier demo left active as crashed.

    Their emulator is gone, and the alert intake would otherwise attach the new
    alert to them instead of starting a response. Returns how many were marked.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    active = FlowRunFilter(
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(
                any_=[
                    StateType.SCHEDULED,
                    StateType.PENDING,
                    StateType.RUNNING,
                    StateType.PAUSED,
                    StateType.CANCELLING,
                ]
            )
        )
    )
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=active)
        for run in runs:
            client.set_flow_run_state(
                run.id,
                Crashed(message="An earlier akresponder demo stopped during this run."),
                force=True,
            )
    return len(runs)


class ApprovalAnswerer:
    """Resumes every paused flow run with a yes, printing each question first.

    The responses pause for approval exactly as a served run does, with
    ``pause_flow_run`` and a typed input. This thread finds the paused runs through
    the Prefect API and reads the question from the run's input. It then resumes
    the run with an approval, or a rotation confirmation, by the demo.
    """

    POLL_SECONDS = 0.3

    def __init__(self, console: Console) -> None:
        self.console = console
        self.stop_event = threading.Event()
        self.answered: set[tuple[str, str]] = set()
        self.questions: list[str] = []
        self.errors: list[str] = []
        # Prefect's settings (the demo's PREFECT_HOME) live in a context variable,
        # which a new thread does not inherit unless it runs in a copy.
        context = contextvars.copy_context()
        self.thread = threading.Thread(
            target=context.run, args=(self._watch,), daemon=True
        )

    def __enter__(self) -> ApprovalAnswerer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)

    def _watch(self) -> None:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType

        paused = FlowRunFilter(
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.PAUSED])
            )
        )
        with get_client(sync_client=True) as client:
            while not self.stop_event.wait(self.POLL_SECONDS):
                try:
                    for run in client.read_flow_runs(flow_run_filter=paused):
                        self._answer(client, run)
                except Exception as error:  # noqa: BLE001 - shown, then retried
                    message = redact.scrub_text(f"{type(error).__name__}: {error}")
                    if message not in self.errors:
                        self.errors.append(message)
                        self.console.line(f"approval check failed: {message}", 6)

    def _answer(self, client: Any, run: Any) -> None:
        from prefect.flow_runs import resume_flow_run

        keyset = (run.state.state_details.run_input_keyset or {}) if run.state else {}
        pause_key = str(keyset.get("response") or run.state.state_details.pause_key)
        if (str(run.id), pause_key) in self.answered:
            return
        # Prefect sets the PAUSED state first and saves the input's schema and then
        # its description, so a run seen too early is resumed on a later poll.
        schema = self._read_input(client, run.id, keyset.get("schema"))
        question = self._read_input(client, run.id, keyset.get("description"))
        if schema is None or question is None:
            return
        fields = (
            (schema or {}).get("properties", {}) if isinstance(schema, dict) else {}
        )
        if "applications_updated" in fields:
            run_input = {
                "applications_updated": True,
                "confirmed_by": APPROVER,
                "comment": "The demo has no applications to switch.",
            }
        else:
            run_input = {
                "approved": True,
                "approver": APPROVER,
                "comment": "Answered by akresponder demo.",
            }
        text = question if isinstance(question, str) and question else run.name
        self.answered.add((str(run.id), pause_key))
        self.questions.append(text)
        self.console.line(f"Approval needed: {text}", 6)
        resume_flow_run(run.id, run_input=run_input)
        self.console.line(f"-> yes ({APPROVER})", 6)

    @staticmethod
    def _read_input(client: Any, flow_run_id: Any, key: str | None) -> Any:
        if not key:
            return None
        try:
            return json.loads(
                client.read_flow_run_input(flow_run_id=flow_run_id, key=key)
            )
        except Exception:  # noqa: BLE001 - a missing input only loses the question text
            return None


# The demo.


@dataclass(frozen=True)
class DemoFolders:
    """The folders of one demo run.

    Each run gets its own folder because its emulator starts from a fresh account:
    an earlier run's journal would make the response skip steps it recorded as
    done. Prefect's database is shared, so later runs start faster.
    """

    out: Path
    run: Path

    @classmethod
    def create(cls, out: Path) -> DemoFolders:
        out = out.expanduser().resolve()
        run = out / datetime.now(UTC).strftime("run-%Y%m%dT%H%M%SZ")
        run.mkdir(parents=True, exist_ok=True)
        for folder in (run / "incidents", run / "secrets", run / "evidence"):
            folder.mkdir(mode=0o700, exist_ok=True)
        return cls(out, run)

    @property
    def prefect_home(self) -> Path:
        return self.out / "prefect"

    @property
    def state_dir(self) -> Path:
        return self.run / "incidents"

    @property
    def secrets(self) -> Path:
        return self.run / "secrets"

    @property
    def evidence(self) -> Path:
        return self.run / "evidence"


def run_demo(
    out: Path = DEFAULT_OUT,
    *,
    keep_running: bool = False,
    lookup_rate: float = DEFAULT_LOOKUP_RATE,
    stream: TextIO | None = None,
) -> int:
    """Run the demo, print its progress and summary, and return the exit status.

    ``lookup_rate`` is the LookupEvents calls per second that the emulator allows
    and the responder makes. Returns 0 when the response completed, 1 when a step
    failed (the message names it) and 3 when the response needs a person (the
    summary lists the next steps).
    """
    if not (lookup_rate > 0 and math.isfinite(lookup_rate)):
        raise ValueError(
            f"lookup_rate {lookup_rate!r} is not a positive number of calls per "
            f"second; use {CLOUD_LOOKUP_RATE:g} for the cloud's default"
        )
    console = Console(stream or sys.stdout)
    started = time.monotonic()
    folders = DemoFolders.create(out)
    console.line(
        "akresponder demo: a leaked AccessKey in a real attack recording, "
        "from alert to report"
    )
    console.line(f"Output folder of this run: {folders.run}")
    console.line()

    emulator: EmulatorChild | None = None
    keep = False
    try:
        # The Tea SDK ignores NO_PROXY, so a proxy would capture the calls to
        # the emulator on 127.0.0.1.
        with environment({}, remove=PROXY_VARIABLES):
            emulator, account = _serve_account(
                folders, console, keep_running, lookup_rate
            )
            status = _respond(emulator, account, folders, console, lookup_rate)
        keep = keep_running
    except DemoError as error:
        console.line()
        console.line(f"akresponder demo: {error}")
        return EXIT_FAILED
    finally:
        if emulator is not None and not keep:
            emulator.stop()

    console.line()
    if keep:
        pid = emulator.process.pid
        console.line(f"The emulator keeps running at {emulator.url} (pid {pid}).")
        console.line(f"Its state: curl {emulator.url}/__emu/state", 2)
        console.line(f"Its request log: curl {emulator.url}/__emu/requests", 2)
        console.line(f"Stop it: kill {pid}", 2)
    else:
        console.line("Emulator stopped.")
    console.line(f"Demo finished in {time.monotonic() - started:.0f} s.")
    return status


def _serve_account(
    folders: DemoFolders, console: Console, keep_running: bool, lookup_rate: float
) -> tuple[EmulatorChild, DemoAccount]:
    console.line(
        "[1/5] Starting the emulator on the invictus-ir attack recording "
        "(Stratus Red Team, AWS CloudTrail converted to ActionTrail)"
    )
    overlay = Path(tempfile.mkdtemp(prefix="akresponder-demo-"))
    try:
        account = build_demo_scenario(overlay, now=datetime.now(UTC) - ALERT_DELAY)
        redact.register_secret(account.responder_secret)
        emulator = start_emulator(
            account.scenario_path, folders.run / "emulator.log", detach=keep_running
        )
    finally:
        # The overlay contains AccessKeySecrets, and the emulator has read it now.
        shutil.rmtree(overlay, ignore_errors=True)

    try:
        control_request(
            emulator.url,
            "POST",
            "/__emu/config",
            {"lookup_events_rate_limit": lookup_rate},
        )
    except (OSError, RuntimeError) as error:
        emulator.stop()
        raise DemoError(
            f"the emulator at {emulator.url} rejected the LookupEvents rate "
            f"{lookup_rate:g}: {error}; see {emulator.log_path}"
        ) from None
    _print_account(console, emulator, account, lookup_rate)
    return emulator, account


def _print_account(
    console: Console, emulator: EmulatorChild, account: DemoAccount, lookup_rate: float
) -> None:
    days = account.shift.total_seconds() / 86400
    console.line(f"{emulator.url} (pid {emulator.process.pid})", 6)
    moved = f"{account.event_count:,} recorded events moved {days:,.1f} days forward"
    if account.last_event_at is not None:
        minutes = (account.now - account.last_event_at).total_seconds() / 60
        moved += f": the recorded attack ends {minutes:.0f} minutes before the live one"
    console.line(moved, 6)
    console.line(
        f"responder: RAM user {RESPONDER_USER} with only the minimal policy "
        f"(akresponder policy), key {account.responder_key_id}",
        6,
    )
    console.line(
        f"ActionTrail LookupEvents: {lookup_rate:g} calls per second in the emulator "
        f"and the responder (the cloud allows {CLOUD_LOOKUP_RATE:g} by default)",
        6,
    )


def _respond(
    emulator: EmulatorChild,
    account: DemoAccount,
    folders: DemoFolders,
    console: Console,
    lookup_rate: float,
) -> int:
    console.line()
    console.line(
        f"[2/5] Replaying a live attack with the leaked key {LEAKED_KEY_ID} of "
        f"{LEAKED_USER} from {ATTACKER_IP}"
    )
    try:
        replay_attack(emulator.url, console)
        requests = emulator_requests(emulator.url)
        control_request(
            emulator.url,
            "POST",
            "/__emu/clock",
            {"advance_seconds": ALERT_DELAY.total_seconds()},
        )
    except Exception as error:  # noqa: BLE001 - any failure ends the demo here
        raise DemoError(
            f"the attack replay failed: {type(error).__name__}: {error}; see "
            f"{emulator.log_path}"
        ) from None
    hours = ALERT_DELAY.total_seconds() / 3600
    console.line(
        f"the emulator's clock moves {hours:g} hours forward: the alert fires "
        "while the attacker's instances have been running that long",
        6,
    )

    console.line()
    alert = build_alert(account, requests)
    alert_path = folders.run / "alert.json"
    alert_path.write_text(json.dumps(alert, indent=2) + "\n", encoding="utf-8")
    console.line(
        f"[3/5] SLS alert {alert['alert_name']!r} fires for {LEAKED_KEY_ID}: "
        f"{alert['fire_results'][0]['cnt']} calls from {ATTACKER_IP}"
    )
    console.line(f"payload: {alert_path}", 6)

    console.line()
    console.line(
        "[4/5] Alert intake -> response, in this process (Prefect ephemeral mode; "
        "the first start takes 10-40 s)"
    )
    updates = {
        "AKRESPONDER_ENDPOINT": emulator.url,
        "AKRESPONDER_ACTIONTRAIL_RPS": f"{lookup_rate:g}",
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": os.environ.get(
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"
        ),
    }
    with environment(updates), prefect_home(folders.prefect_home):
        outcome, questions = _run_intake(alert, account, folders, console)
        console.line(
            f"incident {outcome['incident_id']}, flow run "
            f"{outcome['flow_run_id']}; {len(questions)} approval(s) answered",
            6,
        )
        lookups = _lookup_calls(emulator.url, account.responder_key_id)
        console.line(
            f"the responder made {lookups} LookupEvents calls: about "
            f"{lookups / CLOUD_LOOKUP_RATE:.0f} s of calls at the cloud's "
            f"{CLOUD_LOOKUP_RATE:g} per second",
            6,
        )
        report_path = find_report(
            folders.state_dir, outcome["access_key_id"], outcome["incident_id"]
        )
        if report_path is None:
            raise DemoError(
                f"the response wrote no report for {outcome['access_key_id']} "
                f"incident {outcome['incident_id']} in {folders.state_dir}; run "
                "again with -v to see the flow's log"
            )
        markdown_path = write_markdown(
            report_path, outcome["access_key_id"], outcome["flow_run_id"]
        )

    report = json.loads(report_path.read_text(encoding="utf-8"))
    console.line()
    console.line("[5/5] Report")
    for indent, text in summary_lines(report, report_path, markdown_path):
        console.line(text, indent)
    return EXIT_OK if report.get("complete") else EXIT_NEEDS_PERSON


def _lookup_calls(url: str, access_key_id: str) -> int:
    """Count the LookupEvents calls of ``access_key_id`` in the request log."""
    return sum(
        1
        for item in emulator_requests(url)
        if item.get("access_key_id") == access_key_id
        and item.get("action") == "LookupEvents"
    )


def _run_intake(
    alert: dict[str, Any],
    account: DemoAccount,
    folders: DemoFolders,
    console: Console,
) -> tuple[dict[str, Any], list[str]]:
    """Run the intake flow with the approval thread; return the started outcome."""
    from prefect.client.orchestration import get_client

    try:
        # Start the ephemeral server from this thread before the approval thread
        # uses the client: two threads that start it together start two servers.
        with get_client(sync_client=True) as client:
            client.hello()
        stale = crash_stale_runs()
        if stale:
            console.line(f"marked {stale} run(s) of an interrupted demo as crashed", 6)
        save_blocks(account, folders)
    except Exception as error:  # noqa: BLE001 - Prefect start-up problems end here
        raise DemoError(
            f"Prefect did not start under {folders.prefect_home}: "
            f"{type(error).__name__}: {error}; delete that folder and run again"
        ) from None

    from flows.alert_intake import alert_intake

    with ApprovalAnswerer(console) as answerer:
        try:
            # Each demo serves a fresh account, so an earlier demo's incident for
            # the same key must not be reused: the dedupe window is zero. The
            # responses pause for approval although no deployment serves them,
            # so that the answerer can resume them.
            result = alert_intake(
                alert,
                source_hint="sls",
                dedupe_window_hours=0,
                state_dir=str(folders.state_dir),
                settings_block=SETTINGS_BLOCK,
                credentials_block=CREDENTIALS_BLOCK,
                approval={
                    "pause_without_deployment": True,
                    "timeout_seconds": APPROVAL_TIMEOUT_SECONDS,
                    "poll_interval_seconds": 1,
                },
            )
        except Exception as error:  # noqa: BLE001 - reported with the journal folder
            raise DemoError(
                f"the alert intake failed: {type(error).__name__}: {error}; the "
                f"journal is in {folders.state_dir}"
            ) from None
    outcomes = result["outcomes"]

    failed = [item for item in outcomes if item["action"] == "failed"]
    if failed:
        raise DemoError(
            f"the response for {failed[0]['access_key_id']} failed: "
            f"{failed[0]['reason']}; the journal is in {folders.state_dir}"
        )
    started = [item for item in outcomes if item["action"] == "started"]
    if not started:
        reasons = "; ".join(item["reason"] for item in outcomes) or "no key"
        raise DemoError(f"the alert intake started no response: {reasons}")
    return started[0], answerer.questions


def write_markdown(
    report_path: Path, access_key_id: str, flow_run_id: str | None
) -> Path | None:
    """Write the response's markdown artifact beside the JSON report.

    Returns the file, or None when the run published no ``incident-<key>``
    artifact.
    """
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    if not flow_run_id:
        return None
    artifact_filter = ArtifactFilter(
        key=ArtifactFilterKey(any_=[f"incident-{access_key_id.lower()}"]),
        flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)]),
    )
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=artifact_filter, sort=ArtifactSort.CREATED_DESC, limit=1
        )
    if not artifacts or not isinstance(artifacts[0].data, str):
        return None
    target = report_path.with_suffix(".md")
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(redact.scrub_text(artifacts[0].data))
    return target
