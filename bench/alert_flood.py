"""Send floods of alerts through the receiver at once and check that none is lost.

Two floods go out together, one thread per request:

* fifty SLS alerts for fifty different keys, shaped as one alert rule with group
  evaluation by AccessKey ID sends them: one rule and one fire time, one alert
  instance (``alert_instance_id``) per key;
* one alert of another rule for the first key, sent fifty times, as a sender
  that retries does.

The account is generated (``emulator.generate``): fifty users with one key
each, some used in the look-back window (the contain path) and some never used
(the delete path), and a responder user that holds only the minimal policy.
Responses ask for no approval (a settings block with no approval steps).

The checks:

* the receiver accepted every request;
* every key is contained, by the deny policy on its user or because the key is no
  longer active (emulator state);
* each key has exactly one response run (Prefect API, by the run tag
  ``key:<id>``), and it completed, as did every alert-intake run;
* the responder made no write twice on the same target (the emulator's
  ActionTrail records of the responder's key).

Run: ``.venv/bin/python bench/alert_flood.py [--keys 50] [--repeats 50]
[--lookup-events-rate R] [--write-doc]``. The emulator runs in this process;
the Prefect server, ``python -m deployments.serve`` and ``python -m
deployments.receiver`` run as child processes. ``--write-doc`` replaces the
"Alert floods" section of docs/benchmarks.md with the result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import stack  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Alert floods"
SETTINGS_BLOCK = "flood-no-approval"
DENY_POLICY = "akresponder-deny-high-risk"
ATTACKER_IP = "203.0.113.66"  # TEST-NET-3, reserved for documentation
ACCOUNT_ID = "1234567890123456"
GROUP_RULE = "akresponder-ak-new-address"
REPEATED_RULE = "akresponder-ak-high-risk-api"
FLOOD_SEED = 50
# Redeliveries of an alert that got 503 or no reply, and the longest wait before
# one in seconds (the receiver requests 30 with Retry-After).
REDELIVERIES = 5
REDELIVERY_MAX_WAIT = 5.0
# Request parameters that name the target of a responder's write.
TARGET_PARAMETERS = ("UserName", "UserAccessKeyId", "PolicyName", "PolicyType")


@dataclass(frozen=True)
class FloodAccount:
    """The generated account, its responder and the keys the alerts name."""

    scenario: dict[str, Any]
    responder_key_id: str
    responder_secret: str = field(repr=False)
    keys: list[tuple[str, str]] = field(default_factory=list)  # (user, key id)

    @property
    def key_ids(self) -> list[str]:
        return [key_id for _, key_id in self.keys]


def build_account(users: int, now: datetime | None = None) -> FloodAccount:
    """Generate ``users`` users with one key each and a least-privilege responder.

    A fifth of the keys were never used. The other keys were last used 2 to 60
    days ago, so some fall in the 30-day look-back window and some do not.
    """
    from akresponder.demo_scenario import responder_policy_document
    from emulator.generate import RESPONDER_USER, generate_account

    scenario, events, _ = generate_account(
        users, 1, {"never-used": max(1, users // 5)}, seed=FLOOD_SEED, now=now
    )
    scenario["events"] = events
    scenario["policies"] = [
        {
            "PolicyName": "akresponder-responder",
            "Description": "The minimal policy of the responder",
            "PolicyDocument": json.dumps(responder_policy_document()),
        }
    ]
    responder_key = None
    keys = []
    for user in scenario["users"]:
        if user["UserName"] == RESPONDER_USER:
            user["Policies"] = [
                {"PolicyName": "akresponder-responder", "PolicyType": "Custom"}
            ]
            responder_key = user["AccessKeys"][0]
            continue
        for key in user["AccessKeys"]:
            keys.append((user["UserName"], key["AccessKeyId"]))
    assert responder_key is not None
    return FloodAccount(
        scenario,
        responder_key["AccessKeyId"],
        responder_key["AccessKeySecret"],
        keys,
    )


def sls_alert(key_id: str, rule: str, instance: str, fire_time: int) -> dict[str, Any]:
    """Build an SLS alert notification for one key, as the ``alert`` template sends."""
    row = {
        "event.userIdentity.accessKeyId": key_id,
        "event.sourceIpAddress": ATTACKER_IP,
        "cnt": "12",
    }
    project = f"actiontrail-{ACCOUNT_ID}"
    return {
        "aliuid": ACCOUNT_ID,
        "alert_instance_id": instance,
        "alert_id": rule,
        "alert_name": "AccessKey used from a new address",
        "alert_type": "sls_alert",
        "project": project,
        "region": "cn-hangzhou",
        "status": "firing",
        "severity": 8,
        "fire_time": fire_time,
        "alert_time": fire_time,
        "labels": {"accessKeyId": key_id},
        "fire_results_count": 1,
        "fire_results": [row],
        "results": [
            {
                "project": project,
                "store": "actiontrail_main",
                "store_type": "log",
                "query": 'event.userIdentity.accessKeyId: * | SELECT "event.'
                'userIdentity.accessKeyId", "event.sourceIpAddress", count(*) AS '
                "cnt GROUP BY 1, 2",
                "start_time": fire_time - 900,
                "end_time": fire_time,
                "fire_result": row,
                "raw_result_count": 1,
            }
        ],
    }


def flood_bodies(account: FloodAccount, repeats: int) -> tuple[list[bytes], bytes]:
    """Return one alert body per key (group evaluation) and the repeated alert."""
    fire_time = int(time.time())
    grouped = [
        json.dumps(
            sls_alert(key_id, GROUP_RULE, f"{fire_time:x}-{number:04d}", fire_time)
        ).encode()
        for number, key_id in enumerate(account.key_ids)
    ]
    repeated = json.dumps(
        sls_alert(account.key_ids[0], REPEATED_RULE, f"{fire_time:x}-r", fire_time)
    ).encode()
    return grouped, repeated


@dataclass
class Reply:
    """The receiver's response to one request."""

    status: int
    body: dict[str, Any]


def send_at_once(
    url: str,
    token: str,
    bodies: list[bytes],
    *,
    redeliveries: int = REDELIVERIES,
    max_wait: float = REDELIVERY_MAX_WAIT,
) -> tuple[list[Reply], int]:
    """POST every body to ``url`` from its own thread, all released together.

    A body that gets 503 or no reply is sent again after the reply's
    ``Retry-After`` (at most ``max_wait`` seconds), up to ``redeliveries`` times,
    as a sender that retries does. Returns the last reply to each body and the
    number of redeliveries.
    """
    import httpx

    replies: list[Reply | None] = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))
    headers = {"Authorization": f"Bearer {token}"}
    redelivered = [0] * len(bodies)

    def send(index: int) -> None:
        with httpx.Client(trust_env=False, timeout=120) as client:
            barrier.wait()
            for attempt in range(redeliveries + 1):
                reply, wait = _post_once(client, url, bodies[index], headers)
                replies[index] = reply
                if reply.status not in (0, 503) or attempt == redeliveries:
                    return
                redelivered[index] += 1
                time.sleep(min(max_wait, wait))

    threads = [
        threading.Thread(target=send, args=(index,), daemon=True)
        for index in range(len(bodies))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    final = [reply or Reply(0, {"error": "no reply within 600 s"}) for reply in replies]
    return final, sum(redelivered)


def _post_once(
    client: Any, url: str, body: bytes, headers: dict[str, str]
) -> tuple[Reply, float]:
    """POST one body; return the reply and the seconds its Retry-After requests."""
    import httpx

    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as error:
        return Reply(0, {"error": f"{type(error).__name__}: {error}"}), 1.0
    try:
        reply_body = response.json()
    except ValueError:
        reply_body = {"error": response.text[:300]}
    try:
        wait = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        wait = 1.0
    return Reply(response.status_code, reply_body), wait


def collect_runs(
    api_url: str,
    key_ids: list[str],
    intake_ids: set[str],
    response_flow: str = stack.RESPONSE_FLOW,
) -> dict[str, list[dict[str, Any]]]:
    """Return ``{"intake": [runs], "<key id>": [response runs], ...}``.

    The intake runs are those the receiver named; the response runs are those
    tagged with one of ``key_ids``.
    """
    wanted = set(key_ids)
    with stack.prefect_api(api_url) as client:
        response = client.post(
            "/flow_runs/filter",
            json={"flow_runs": {"id": {"any_": sorted(intake_ids)}}},
        )
        response.raise_for_status()
        intakes = response.json() if intake_ids else []
        responses = stack.flow_runs(client, response_flow, ["akresponder"])
    runs: dict[str, list[dict[str, Any]]] = {"intake": intakes}
    for run in responses:
        for tag in run["tags"]:
            if tag.startswith("key:") and tag[4:] in wanted:
                runs.setdefault(tag[4:], []).append(run)
    return runs


def ended(runs: dict[str, list[dict[str, Any]]], intake_ids: set[str]) -> bool:
    """Return True when the named intake runs and every response run have ended.

    An intake run creates its responses before it ends, so then no further run is
    coming.
    """
    if len(runs["intake"]) != len(intake_ids):
        return False
    return all(
        stack.state_of(run) in stack.FINAL_STATES
        for group in runs.values()
        for run in group
    )


def uncontained(state: dict[str, Any], account: FloodAccount) -> list[str]:
    """Return the alerted keys that are active and whose user has no deny policy."""
    users = {user["UserName"]: user for user in state["users"]}
    status = {key["AccessKeyId"]: key["Status"] for key in state["access_keys"]}
    left = []
    for user_name, key_id in account.keys:
        policies = {p["PolicyName"] for p in users[user_name]["Policies"]}
        if DENY_POLICY not in policies and status.get(key_id) == "Active":
            left.append(f"{key_id} of {user_name}")
    return left


@dataclass
class FloodResult:
    """The figures of one flood and the problems its checks found."""

    keys: int
    repeats: int
    replies_seconds: float = 0.0
    redeliveries: int = 0
    contained_seconds: float | None = None
    settled_seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    intake_runs: int = 0
    response_runs: int = 0
    contained: int = 0
    writes: Counter = field(default_factory=Counter)
    calls: Counter = field(default_factory=Counter)
    throttled: int = 0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        statuses = ", ".join(
            f"{count} x {status}" for status, count in sorted(self.statuses.items())
        )
        writes = ", ".join(
            f"{name} {count}" for name, count in sorted(self.writes.items())
        )
        return [
            f"flood: {self.keys} alerts for {self.keys} keys and one alert "
            f"{self.repeats} times, sent at once",
            f"receiver: every reply after {self.replies_seconds:.1f} s ({statuses}, "
            f"{self.redeliveries} redeliveries after 503)",
            f"runs: {self.intake_runs} alert-intake, {self.response_runs} response; "
            f"all ended {self.settled_seconds:.1f} s after the first request",
            f"contained: {self.contained} of {self.keys} keys"
            + (
                f", the last {self.contained_seconds:.1f} s after the first request"
                if self.contained_seconds is not None
                else ""
            ),
            f"responder writes: {writes}",
            f"responder calls: {sum(self.calls.values())} "
            f"({self.calls['actiontrail:LookupEvents']} LookupEvents), "
            f"{self.throttled} throttled",
            f"problems: {len(self.problems)}",
            *(f"  {problem}" for problem in self.problems[:20]),
        ]


def check_replies(
    result: FloodResult,
    grouped: list[Reply],
    repeated: list[Reply],
    key_ids: list[str],
) -> None:
    """Check that every grouped alert started an intake and the repeats started one."""
    for reply in grouped + repeated:
        result.statuses[reply.status] += 1
    for key_id, reply in zip(key_ids, grouped, strict=True):
        if reply.status != 202 or reply.body.get("duplicate") is not False:
            result.problems.append(
                f"the alert for {key_id} got {reply.status} {reply.body}; expected "
                "202 with a new alert-intake run"
            )
    new = [reply for reply in repeated if reply.status == 202]
    duplicates = [reply for reply in repeated if reply.status == 200]
    run_ids = {reply.body.get("flow_run_id") for reply in repeated}
    if len(new) != 1 or len(duplicates) != len(repeated) - 1 or len(run_ids) != 1:
        result.problems.append(
            f"the repeated alert got {len(new)} x 202 and {len(duplicates)} x 200 "
            f"naming {len(run_ids)} runs; expected one 202, the rest 200 "
            "duplicates of the same run"
        )


def check_runs(
    result: FloodResult, runs: dict[str, list[dict[str, Any]]], key_ids: list[str]
) -> None:
    """Check one completed response per key and completed intake runs."""
    intakes = runs.get("intake", [])
    result.intake_runs = len(intakes)
    if len(intakes) != len(key_ids) + 1:
        result.problems.append(
            f"{len(intakes)} alert-intake runs; expected {len(key_ids) + 1}"
        )
    for run in intakes:
        if stack.state_of(run) != "COMPLETED":
            result.problems.append(
                f"alert-intake run {run['name']} ended {stack.state_of(run)}"
            )
    for key_id in key_ids:
        responses = runs.get(key_id, [])
        result.response_runs += len(responses)
        if len(responses) != 1:
            result.problems.append(
                f"{key_id} has {len(responses)} response runs; expected 1"
            )
        for run in responses:
            if stack.state_of(run) != "COMPLETED":
                result.problems.append(
                    f"response run {run['name']} for {key_id} ended "
                    f"{stack.state_of(run)}"
                )


def check_containment(
    result: FloodResult, state: dict[str, Any], account: FloodAccount
) -> None:
    """Check that every alerted key is denied by policy or no longer active."""
    left = uncontained(state, account)
    result.contained = len(account.keys) - len(left)
    for key in left:
        result.problems.append(f"{key} is active and its user has no {DENY_POLICY}")


def check_writes(
    result: FloodResult, events: list[dict[str, Any]], responder_key_id: str
) -> None:
    """Check that the responder wrote each change once, from ActionTrail records."""
    targets: Counter = Counter()
    for record in events:
        identity = record.get("userIdentity") or {}
        if identity.get("accessKeyId") != responder_key_id:
            continue
        if record.get("eventRW") != "Write":
            continue
        name = str(record.get("eventName"))
        result.writes[name] += 1
        parameters = record.get("requestParameters") or {}
        target = tuple(parameters.get(item) for item in TARGET_PARAMETERS)
        targets[(name, target)] += 1
    for (name, target), count in sorted(targets.items()):
        if count > 1:
            named = ", ".join(
                f"{item}={value}"
                for item, value in zip(TARGET_PARAMETERS, target, strict=True)
                if value
            )
            result.problems.append(f"{name} ran {count} times on {named}")


def run_flood(
    receiver_url: str,
    token: str,
    api_url: str,
    emulator: Any,
    account: FloodAccount,
    *,
    repeats: int = 50,
    timeout: float = 600,
    response_flow: str = stack.RESPONSE_FLOW,
) -> FloodResult:
    """Send both floods, wait for every run to end, and check the outcome.

    ``timeout`` counts from the first request.

    ``emulator`` is a ``RunningEmulator`` of this process, whose ActionTrail
    records and state the checks read.
    """
    grouped_bodies, repeated_body = flood_bodies(account, repeats)
    bodies = grouped_bodies + [repeated_body] * repeats
    result = FloodResult(keys=len(account.keys), repeats=repeats)

    started = time.monotonic()
    replies, result.redeliveries = send_at_once(
        receiver_url + "/alerts/sls", token, bodies
    )
    result.replies_seconds = time.monotonic() - started
    grouped, repeated = replies[: len(grouped_bodies)], replies[len(grouped_bodies) :]
    check_replies(result, grouped, repeated, account.key_ids)

    intake_ids = {
        str(reply.body["flow_run_id"])
        for reply in replies
        if reply.status in (200, 202) and reply.body.get("flow_run_id")
    }
    deadline = started + timeout
    while True:
        runs = collect_runs(api_url, account.key_ids, intake_ids, response_flow)
        now = time.monotonic()
        if result.contained_seconds is None and not uncontained(
            emulator.control("GET", "state"), account
        ):
            result.contained_seconds = now - started
        if ended(runs, intake_ids):
            break
        if now > deadline:
            going = sum(
                stack.state_of(run) not in stack.FINAL_STATES
                for group in runs.values()
                for run in group
            )
            result.problems.append(
                f"after {timeout:.0f} s, {going} intake or response runs had not ended"
            )
            break
        time.sleep(1.0)
    result.settled_seconds = time.monotonic() - started

    check_runs(result, runs, account.key_ids)
    check_containment(result, emulator.control("GET", "state"), account)
    with emulator.cloud.lock:
        events = list(emulator.cloud.events)
    check_writes(result, events, account.responder_key_id)
    count_calls(result, emulator.control("GET", "requests")["requests"], account)
    return result


def count_calls(
    result: FloodResult, requests: list[dict[str, Any]], account: FloodAccount
) -> None:
    """Count the responder's calls per API and the throttled ones."""
    for entry in requests:
        if entry.get("access_key_id") != account.responder_key_id:
            continue
        result.calls[f"{entry['service']}:{entry['action']}"] += 1
        if str(entry.get("error_code", "")).startswith("Throttling"):
            result.throttled += 1


# The benchmark: the production processes.


def write_doc(result: FloodResult, rate: str, machine: str, command: str) -> None:
    """Replace (or add) the "Alert floods" section of docs/benchmarks.md."""
    statuses = ", ".join(
        f"{count} x {status}" for status, count in sorted(result.statuses.items())
    )
    lines = [
        f"{result.keys} SLS alerts for {result.keys} keys and one other alert for "
        f"the first key sent {result.repeats} times, all POSTed at once from one "
        "thread each to `python -m deployments.receiver`. "
        f"The {result.keys} alerts come from one alert rule with group evaluation, "
        "so they share one fire time and each key has its own alert instance. "
        "A Prefect server and `python -m deployments.serve` run beside the "
        "receiver. A fifth of the keys were never "
        "used (delete path), the others were used in the last 60 days (contain "
        "path when within the 30-day look-back). The responder holds only the "
        "minimal policy and no step waits for approval. The checks are in "
        "`bench/alert_flood.py`; `tests/test_flood.py` runs the same checks with "
        "the receiver and the runner in the test process. Times count from the "
        "first request; the last key contained is when the emulator's state first "
        "showed every key denied or inactive (polled every second). A delivery "
        "that gets 503 is sent again after its `Retry-After` (at most "
        f"{REDELIVERY_MAX_WAIT:g} s), up to {REDELIVERIES} times, as a sender "
        "that retries does; the statuses are the last reply to each alert. Run it "
        "from the repository root with `.venv/bin/python`: it starts every process "
        "on 127.0.0.1 itself and removes proxy variables from their environment.",
        "",
        "| alerts | receiver replies | redeliveries | last key contained | all runs "
        "ended | intake runs | response runs | contained | problems | responder "
        "calls (LookupEvents) | LookupEvents limit | machine | command |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {result.keys} + {result.repeats} | {result.replies_seconds:.1f} s "
        f"({statuses}) | {result.redeliveries} | "
        f"{_seconds(result.contained_seconds)} | "
        f"{result.settled_seconds:.1f} s | {result.intake_runs} | "
        f"{result.response_runs} | {result.contained} of {result.keys} | "
        f"{len(result.problems)} | {sum(result.calls.values())} "
        f"({result.calls['actiontrail:LookupEvents']}) | {rate} | {machine} | "
        f"`{command}` |",
        "",
        "Earlier runs of this benchmark and of its test found these ways to lose, "
        "repeat or delay an alert, each fixed since. The receiver took the "
        "grouped alerts for keys 2 to 50 as repeats of the first, because they "
        "share the rule and fire time (49 keys never contained). Two responses "
        "could both create the shared deny policy, and the second failed. "
        "Prefect returns 201 for a repeated idempotency key when the two creates "
        "overlap in the server, so a repeated alert got a second 202. The "
        "receiver now claims each key under one lock, and repeats wait for the "
        "first delivery's run. A SQLite-backed Prefect server rejects a create "
        "with 503 whenever another write commits during it. The receiver gave "
        "up after 8 tries and returned 502, and an intake whose response could "
        "not be created completed without it. Now both retry every 5xx and "
        "dropped connection with the same idempotency key after 0.05 to 2 s. "
        "When that fails for 60 s the receiver returns 503 with `Retry-After`, "
        "and such an intake fails its run and sends a notification. The Prefect "
        "client's own retries wait 2 to 32 s, so one intake held a runner slot "
        "for 85 s; the intake now creates the response with them off. Four runs "
        "at once in the serve process caused 112 rejected creates in one test "
        "run, and all runs ended after 145 s. Two at once, and polls that only "
        "read between the polls that mark the deployments ready, caused 25, and "
        "the runs ended after 96 to 104 s. With every response counted against "
        "the two until its end, the investigations (about 15 LookupEvents calls "
        "each, at 2 per second for the account) held the slots, and the last key "
        "was contained after 274 s at load average 0.7. A response past "
        "containment now leaves its slot to the next one.",
    ]
    stack.write_doc_section(DOC, SECTION, lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _rate(text: str) -> float | None:
    if text == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive number of calls per second or none"
        )
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=50, help="keys (default: 50)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=50,
        help="times the repeated alert is sent (default: 50)",
    )
    parser.add_argument(
        "--lookup-events-rate",
        type=_rate,
        default=2.0,
        metavar="R",
        help="the emulator's LookupEvents calls per second for the account, or "
        "none (default: 2, ActionTrail's limit)",
    )
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument of deployments.serve, such as --in-process-limit=4 "
        "(repeatable)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (logs, reports)"
    )
    parser.add_argument(
        "--write-doc", action="store_true", help="record the result in the docs"
    )
    args = parser.parse_args()
    command = " ".join(shlex.quote(part) for part in ["python", *sys.argv])
    machine = (
        f"{os.cpu_count()} CPUs ({stack.cpu_model()}), Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start"
    )
    work = Path(tempfile.mkdtemp(prefix="akresponder-flood-"))
    for name in stack.PROXY_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(
        {
            "PREFECT_HOME": str(work / "prefect-bench"),
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
    )
    from emulator.testing import start_emulator

    env = stack.base_environment(work / "prefect-server")
    logs = work / "logs"
    logs.mkdir()
    account = build_account(args.keys)
    children: list[stack.Child] = []
    try:
        server, api_url = stack.start_prefect_server(env, logs)
        children.append(server)
        stack.save_settings_block(
            api_url, SETTINGS_BLOCK, approval_steps=[], secret_sink_kind="none"
        )
        with start_emulator(
            account.scenario,
            config={"lookup_events_rate_limit": args.lookup_events_rate},
        ) as emulator:
            token = secrets.token_urlsafe(24)
            run_env = {
                **env,
                "PREFECT_API_URL": api_url,
                "ALIBABA_CLOUD_ACCESS_KEY_ID": account.responder_key_id,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": account.responder_secret,
                "AKRESPONDER_ENDPOINT": emulator.url,
                "AKRESPONDER_STATE_DIR": str(work / "state"),
                "AKRESPONDER_RECEIVER_TOKEN": token,
            }
            children.append(
                stack.start_serve(
                    run_env,
                    logs,
                    api_url,
                    ["--settings-block", SETTINGS_BLOCK, *args.serve_arg],
                )
            )
            receiver, receiver_url = stack.start_receiver(run_env, logs)
            children.append(receiver)
            result = run_flood(
                receiver_url, token, api_url, emulator, account, repeats=args.repeats
            )
    finally:
        for child in reversed(children):
            child.stop()
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    machine += f", {os.getloadavg()[0]:.1f} at end"
    rate = (
        "none" if args.lookup_events_rate is None else f"{args.lookup_events_rate:g}/s"
    )
    print("\n".join(result.lines()))
    print(f"LookupEvents limit: {rate}")
    print(f"machine: {machine}")
    print(f"command: {command}")
    if args.write_doc:
        write_doc(result, rate, machine, command)
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
