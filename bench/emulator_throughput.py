"""Measure how many signed RAM calls per second the emulator serves through the SDK.

The script starts ``python -m emulator serve`` as a child process, then drives
ListUsers and GetUser calls (alternating) through the official
``alibabacloud_ram20150501`` client from several threads, each with its own client,
and prints requests per second with the machine and the command. The client threads
share the machine with the server, so the figure is the end-to-end rate of a test
suite, not the server's alone.

Run: ``.venv/bin/python bench/emulator_throughput.py [--requests N] [--threads T]
[--write-doc]``. ``--write-doc`` replaces the "Emulator throughput" section of
docs/benchmarks.md with the result.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alibabacloud_ram20150501 import models as ram_models  # noqa: E402
from alibabacloud_ram20150501.client import Client as RamClient  # noqa: E402

from emulator.testing import pop_config, start_emulator_process  # noqa: E402

SCENARIO = ROOT / "tests" / "scenarios" / "basic.json"
# The responder key of tests/scenarios/basic.json, a test value for the emulator only.
KEY_ID = "LTAI5tRESPONDER000000001"
KEY_SECRET = "rsSecretResponderKey000000000001"
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Emulator throughput"


def cpu_model() -> str:
    """Read the CPU model name from /proc/cpuinfo, or fall back to ``platform``."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def drive(endpoint: str, requests: int, threads: int) -> tuple[float, int]:
    """Send ``requests`` calls from ``threads`` threads; return (seconds, errors)."""
    per_thread = [
        requests // threads + (1 if i < requests % threads else 0)
        for i in range(threads)
    ]
    errors = [0] * threads
    barrier = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        client = RamClient(pop_config(endpoint, KEY_ID, KEY_SECRET))
        list_request = ram_models.ListUsersRequest()
        get_request = ram_models.GetUserRequest(user_name="alice")
        client.list_users(list_request)  # open the keep-alive connection before timing
        barrier.wait()
        for call in range(per_thread[index]):
            try:
                if call % 2:
                    client.get_user(get_request)
                else:
                    client.list_users(list_request)
            except Exception:  # noqa: BLE001 - counted and reported below
                errors[index] += 1

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in workers:
        thread.join()
    return time.perf_counter() - started, sum(errors)


def write_doc(result: str) -> None:
    """Replace (or add) the "Emulator throughput" section of docs/benchmarks.md."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(
        rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL
    )
    section = f"{SECTION}\n\n{result}\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text.rstrip("\n") + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=3000, help="calls to send (default 3000)"
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="client threads (default 4)"
    )
    parser.add_argument(
        "--write-doc",
        action="store_true",
        help="record the result in docs/benchmarks.md",
    )
    args = parser.parse_args()
    if args.requests < 1 or args.threads < 1:
        parser.error("--requests and --threads must be at least 1")

    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        os.environ.pop(name, None)
    command = " ".join(shlex.quote(part) for part in ["python", *sys.argv])
    with start_emulator_process(SCENARIO) as server:
        seconds, errors = drive(server.endpoint, args.requests, args.threads)
    rate = args.requests / seconds
    machine = (
        f"{os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}"
    )
    lines = [
        f"requests/s: {rate:.0f} ({args.requests} signed RAM ListUsers/GetUser calls "
        f"in {seconds:.2f} s, {args.threads} client threads, {errors} errors)",
        f"machine: {machine}",
        f"command: {command}",
    ]
    print("\n".join(lines))
    if args.write_doc:
        result = "\n".join(
            [
                "Signed RAM ListUsers/GetUser calls through the official SDK against "
                "`python -m emulator serve`, client threads and server on the same "
                "machine.",
                "",
                "| requests/s | calls | client threads | errors | machine | command |",
                "|---|---|---|---|---|---|",
                f"| {rate:.0f} | {args.requests} | {args.threads} | {errors} "
                f"| {machine} | `{command}` |",
            ]
        )
        write_doc(result)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
