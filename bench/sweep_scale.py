"""Time the sweep of a large account against the floor that the rate limits allow.

The script generates an account (default 10,000 users with two keys each, 20,000
keys, plus planted risky keys), serves it with ``python -m emulator serve
--ram-rate-limit RATE`` as a child process, and runs the ``sweep_all_keys`` flow in
this process with the client-side limit set to the same RATE.

The floor is the time the rate limits alone impose: each RAM action has its own
limit, so the floor is the largest ``successful calls / RATE`` over the RAM actions,
or ``LookupEvents calls / 2`` if ActionTrail's limit of two calls per second is
slower. The call counts come from the emulator's request log. The ratio is the
flow run's time from start to end as the Prefect API records it (writing the report
and the artifacts included) over the floor. The target is at most 1.3. The process
time, which adds Prefect's start-up, is printed too. The script also checks that the
sweep found exactly the planted keys.

The default RATE is 100 calls per second per action. RAM does not publish its rate
limits. Other Alibaba Cloud APIs publish per-account limits from 10 to a few hundred
calls per second per operation; Real-Time Communication, for example, lists 100 calls
per second for DescribeChannelUsers. The floor scales with 1/RATE, so the ratio
measured at 100 carries over to other limits, as long as the machine can serve RATE
calls per second for each action at once.

Run: ``.venv/bin/python bench/sweep_scale.py [--users N] [--keys-per-user K]
[--rate R] [--write-doc]``. ``--write-doc`` replaces the "Sweep" section of
docs/benchmarks.md with the result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.generate import parse_plant_spec, write_account  # noqa: E402
from emulator.testing import start_emulator_process  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Sweep"
LOOKUP_EVENTS_RATE = 2.0
DEFAULT_PLANT = (
    "never-used=5,unused=5,rotation=5,two-active=5,root=1,created-by-key=3,"
    "new-ip=3,new-region=2,new-agent=2,console-no-mfa=5,recent-known=3"
)


def cpu_model() -> str:
    """Read the CPU model name from /proc/cpuinfo, or fall back to ``platform``."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def responder_secret(scenario: Path, user_name: str) -> str:
    """Read the responder's test secret from the generated scenario."""
    data = json.loads(scenario.read_text())
    for user in data["users"]:
        if user["UserName"] == user_name:
            return user["AccessKeys"][0]["AccessKeySecret"]
    raise LookupError(f"user {user_name} is not in {scenario}")


def call_counts(server: Any) -> tuple[Counter, Counter]:
    """Return successful and throttled calls per ``service:Action`` from the log."""
    entries = server.control("GET", "requests")["requests"]
    ok: Counter = Counter()
    throttled: Counter = Counter()
    for entry in entries:
        api = f"{entry['service']}:{entry['action']}"
        if entry["error_code"].startswith("Throttling"):
            throttled[api] += 1
        else:
            ok[api] += 1
    return ok, throttled


def floor_seconds(ok: Counter, rate: float) -> tuple[float, str]:
    """Return the floor and the API that sets it."""
    floors = {
        api: count / (LOOKUP_EVENTS_RATE if api == "actiontrail:LookupEvents" else rate)
        for api, count in ok.items()
        if api.startswith("ram:") or api == "actiontrail:LookupEvents"
    }
    api = max(floors, key=floors.__getitem__)
    return floors[api], api


def flow_run_seconds(flow_run_id: str) -> float:
    """Return the flow run's time in Running state, as the Prefect API records it."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
    if run.start_time is None or run.end_time is None:
        raise RuntimeError(f"flow run {flow_run_id} has no start or end time")
    return (run.end_time - run.start_time).total_seconds()


def check_findings(document: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """List the differences between the flagged keys and the planted ones."""
    expected = {item["access_key_id"]: item["reasons"] for item in manifest["planted"]}
    found = {
        row["access_key_id"]: sorted(reason["code"] for reason in row["reasons"])
        for row in document["keys"]
        if row["score"] > 0
    }
    problems = []
    for key_id, reasons in expected.items():
        if reasons and found.get(key_id) != reasons:
            problems.append(
                f"missed {key_id}: expected {reasons}, got {found.get(key_id)}"
            )
    for key_id, reasons in found.items():
        if expected.get(key_id) != reasons:
            problems.append(f"unexpected {key_id}: {reasons}")
    return problems


def write_doc(result: str) -> None:
    """Replace (or add) the "Sweep" section of docs/benchmarks.md."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(
        rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL
    )
    section = f"{SECTION}\n\n{result}\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n")


def prepare_environment(home: Path) -> None:
    """Keep Prefect local and quiet, and the SDK away from proxies."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        os.environ.pop(name, None)
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
    os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000, help="default 10000")
    parser.add_argument(
        "--keys-per-user", type=int, default=2, help="keys per clean user (default 2)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="RAM calls per second per action, for the emulator and the client "
        "(default 100)",
    )
    parser.add_argument("--plant", default=DEFAULT_PLANT, help="planted risky keys")
    parser.add_argument(
        "--write-doc", action="store_true", help="record the result in the docs"
    )
    args = parser.parse_args()
    command = " ".join(shlex.quote(part) for part in ["python", *sys.argv])

    with tempfile.TemporaryDirectory(prefix="akresponder-sweep-bench-") as folder:
        work = Path(folder)
        prepare_environment(work)
        scenario = work / "account.json"
        started = time.perf_counter()
        manifest = write_account(
            scenario, args.users, args.keys_per_user, parse_plant_spec(args.plant)
        )
        generated = time.perf_counter() - started
        responder = manifest["responder"]
        os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"] = responder["access_key_id"]
        os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = responder_secret(
            scenario, responder["user_name"]
        )
        with start_emulator_process(
            scenario,
            extra_args=["--ram-rate-limit", str(args.rate)],
            startup_timeout=120,
        ) as server:
            os.environ["AKRESPONDER_ENDPOINT"] = server.url
            from flows.sweep import SweepRequest, sweep_all_keys

            request = SweepRequest(
                report_path=str(work / "sweep.json"),
                settings={"ram_calls_per_second": args.rate},
            )
            flow_started = time.perf_counter()
            state = sweep_all_keys(request, return_state=True)
            process_seconds = time.perf_counter() - flow_started
            document = state.result()
            seconds = flow_run_seconds(str(state.state_details.flow_run_id))
            ok, throttled = call_counts(server)

    floor, floor_api = floor_seconds(ok, args.rate)
    ratio = seconds / floor
    problems = check_findings(document, manifest)
    total = document["totals"]
    machine = (
        f"{os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}"
    )
    ram_calls = sum(count for api, count in ok.items() if api.startswith("ram:"))
    lines = [
        f"sweep: {seconds:.1f} s for {total['users_listed']} users and "
        f"{total['keys']} keys ({total['active_keys']} active); floor {floor:.1f} s "
        f"({floor_api}); ratio {ratio:.2f}",
        f"process: {process_seconds:.1f} s including Prefect start-up; scenario "
        f"generated in {generated:.1f} s",
        f"calls: {ram_calls} RAM calls, "
        + ", ".join(f"{api} {count}" for api, count in sorted(ok.items()))
        + f"; throttled: {sum(throttled.values())}",
        f"findings: {total['rows_flagged']} flagged, "
        f"{len(problems)} differences from the {len(manifest['planted'])} planted keys",
        f"complete: {document['complete']} ({total['users_failed']} users failed)",
        f"machine: {machine}",
        f"command: {command}",
    ]
    for problem in problems[:10]:
        lines.append(f"  {problem}")
    print("\n".join(lines))

    if args.write_doc:
        write_doc(
            "\n".join(
                [
                    "`sweep_all_keys` over a generated account, served by `python -m "
                    "emulator serve --ram-rate-limit RATE` (a token bucket per RAM "
                    "action) with the sweep's client-side limit at the same RATE. "
                    "The floor is the largest successful-calls/RATE over the RAM "
                    "actions (LookupEvents at 2 calls/s counted the same way). The "
                    "ratio is the flow run's start-to-end time in the Prefect API "
                    "over that floor (target: at most 1.3). The emulator and the flow "
                    "share the machine.",
                    "",
                    "| users | keys | RATE (calls/s/action) | RAM calls | throttled "
                    "| floor | sweep | ratio | process | findings | machine "
                    "| command |",
                    "|---|---|---|---|---|---|---|---|---|---|---|---|",
                    f"| {total['users_listed']} | {total['keys']} | {args.rate:g} "
                    f"| {ram_calls} | {sum(throttled.values())} | {floor:.1f} s "
                    f"({floor_api}) | {seconds:.1f} s | {ratio:.2f} "
                    f"| {process_seconds:.1f} s | {total['rows_flagged']} flagged, "
                    f"{len(problems)} wrong | {machine} | `{command}` |",
                    "",
                    "The process time adds the start of Prefect's temporary server "
                    "(ephemeral mode) to the sweep. The request log of the emulator "
                    "gives the call counts.",
                ]
            )
        )
    return 1 if problems or not document["complete"] else 0


if __name__ == "__main__":
    sys.exit(main())
