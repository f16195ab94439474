"""Time the whole investigation on a million ActionTrail events, against DuckDB.

The script writes N generated events (default 1,000,000; see
``akresponder.analysis.synthetic.generate_events``: four applications' daily traffic
over 30 days plus one attack) to a JSON Lines file, then measures:

* the analysis: ``read_events_file`` (parse and normalise) and ``investigate`` (lineage,
  every detector, billing over 31 days of bills), in this process;
* the same counts from both tools: rows, distinct event ids, events per AccessKey, per
  (AccessKey, source IP), per (AccessKey, region), per hour and failed calls. pandas
  counts on the normalised frame; DuckDB reads the same file with ``read_json`` and
  counts in SQL. The ratio compares our read-and-count time with DuckDB's.

Peak memory is the process's maximum resident set size from
``resource.getrusage``, which includes the interpreter and libraries. ``--tracemalloc``
adds the Python-heap peak, which slows the run. The targets are under 60 s and under
4 GB for the analysis of 1,000,000 events.

Run: ``.venv/bin/python bench/analysis_scale.py [--events N] [--tracemalloc]
[--write-doc]``. ``--write-doc`` replaces the "Analysis at scale" section of
docs/benchmarks.md with the result and leaves the other sections alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shlex
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import orjson  # noqa: E402
import pandas as pd  # noqa: E402

from akresponder.analysis import investigate, read_events_file  # noqa: E402
from akresponder.analysis.synthetic import (  # noqa: E402
    APPLICATION_KEYS,
    generate_events,
)

DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Analysis at scale"
END = datetime(2026, 11, 20, 8, tzinfo=UTC)
WINDOW_START = END - timedelta(hours=6)
STOLEN_KEY = APPLICATION_KEYS[0][0]
TIME_TARGET_SECONDS = 60.0
MEMORY_TARGET_BYTES = 4 * 1024**3


def write_events(path: Path, count: int) -> None:
    """Write ``count`` generated events to ``path`` as JSON Lines, streaming."""
    with open(path, "wb") as handle:
        for record in generate_events(count, end=END):
            handle.write(orjson.dumps(record) + b"\n")


def daily_bills() -> list[dict[str, Any]]:
    """Return 31 days of steady ECS bills and the attack's instance bills."""
    bills = []
    for offset in range(31):
        day = END - timedelta(days=offset)
        bills.append(
            {
                "BillingDate": day.strftime("%Y-%m-%d"),
                "ProductCode": "ecs",
                "PretaxAmount": 26.0 + offset % 3,
                "Region": "cn-hangzhou",
                "InstanceID": "i-bp1appbackend000001",
                "Currency": "CNY",
            }
        )
    for index in range(3):
        bills.append(
            {
                "BillingDate": END.strftime("%Y-%m-%d"),
                "ProductCode": "ecs",
                "PretaxAmount": 88.8,
                "Region": "ap-southeast-1",
                "InstanceID": f"i-attack{index:012d}",
                "Currency": "CNY",
            }
        )
    return bills


def pandas_counts(events: pd.DataFrame) -> dict[str, Any]:
    """Count with pandas on the normalised frame."""
    hours = events["time"].dt.floor("h")
    return {
        "rows": len(events),
        "distinct_event_ids": events["event_id"].nunique(),
        "per_key": events.groupby("access_key_id").size().to_dict(),
        "per_key_ip": len(events.groupby(["access_key_id", "source_ip"]).size()),
        "per_key_region": len(events.groupby(["access_key_id", "region"]).size()),
        "hours": int(hours.nunique()),
        "failed": int((events["error_code"] != "").sum()),
    }


def duckdb_counts(path: Path) -> dict[str, Any]:
    """Count the same things with DuckDB reading the JSON Lines file."""
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    columns = {
        "eventId": "VARCHAR",
        "eventTime": "TIMESTAMPTZ",
        "sourceIpAddress": "VARCHAR",
        "acsRegion": "VARCHAR",
        "errorCode": "VARCHAR",
        "userIdentity": "STRUCT(accessKeyId VARCHAR)",
    }
    connection.execute(
        "CREATE TABLE events AS SELECT eventId, eventTime, sourceIpAddress, acsRegion,"
        " errorCode, coalesce(userIdentity.accessKeyId, '') AS key FROM read_json(?,"
        " format = 'newline_delimited', columns = ?)",
        [str(path), columns],
    )

    def scalar(sql: str) -> int:
        return int(connection.execute(sql).fetchone()[0])

    per_key = dict(
        connection.execute("SELECT key, count(*) FROM events GROUP BY key").fetchall()
    )
    counts = {
        "rows": scalar("SELECT count(*) FROM events"),
        "distinct_event_ids": scalar("SELECT count(DISTINCT eventId) FROM events"),
        "per_key": per_key,
        "per_key_ip": scalar(
            "SELECT count(*) FROM (SELECT 1 FROM events GROUP BY key, sourceIpAddress)"
        ),
        "per_key_region": scalar(
            "SELECT count(*) FROM (SELECT 1 FROM events GROUP BY key, acsRegion)"
        ),
        "hours": scalar(
            "SELECT count(DISTINCT date_trunc('hour', eventTime)) FROM events"
        ),
        "failed": scalar(
            "SELECT count(*) FROM events WHERE coalesce(errorCode, '') <> ''"
        ),
    }
    connection.close()
    return counts


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def peak_rss_bytes() -> int:
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def write_doc(result: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md, or append it."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    section = f"{SECTION}\n\n{result}\n\n"
    pattern = re.compile(
        rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events to generate (count)"
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="also measure the Python-heap peak with tracemalloc (slower)",
    )
    parser.add_argument(
        "--write-doc",
        action="store_true",
        help="write the result into docs/benchmarks.md",
    )
    args = parser.parse_args()
    if args.events < 1000:
        parser.error(f"--events {args.events} is too small; use at least 1000")

    # Other work on the machine slows the run, so the record includes the one-minute
    # load average at the start to separate figures from busy and idle machines.
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="analysis-scale-") as folder:
        path = Path(folder) / "events.jsonl"
        started = time.perf_counter()
        write_events(path, args.events)
        generated = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
        print(f"generated {args.events} events ({size_mb:.0f} MB) in {generated:.1f} s")

        started = time.perf_counter()
        duck = duckdb_counts(path)
        duck_seconds = time.perf_counter() - started

        rss_before = peak_rss_bytes()
        if args.tracemalloc:
            tracemalloc.start()
        started = time.perf_counter()
        cpu_started = time.process_time()
        events = read_events_file(path)
        read_seconds = time.perf_counter() - started
        ours = pandas_counts(events)
        count_seconds = time.perf_counter() - started
        result = investigate(
            STOLEN_KEY, events, window_start=WINDOW_START, bills=daily_bills()
        )
        total_seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        heap_peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
        if args.tracemalloc:
            tracemalloc.stop()
        rss_peak = peak_rss_bytes()

    if ours != duck:
        mismatched = [name for name in ours if ours[name] != duck.get(name)]
        print(f"count mismatch between pandas and DuckDB: {', '.join(mismatched)}")
        return 1
    rate = args.events / total_seconds
    kinds = sorted({finding.kind for finding in result.findings})
    command = "python bench/analysis_scale.py " + shlex.join(sys.argv[1:])
    machine = (
        f"{os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
        f"pandas {pd.__version__}, DuckDB {duckdb.__version__}, "
        f"load average {load:.1f} at start"
    )
    within = total_seconds < TIME_TARGET_SECONDS and rss_peak < MEMORY_TARGET_BYTES
    print(f"normalise: {read_seconds:.1f} s; normalise + counts: {count_seconds:.1f} s")
    print(
        f"whole analysis: {total_seconds:.1f} s, {rate:,.0f} events/s "
        f"(CPU time {cpu_seconds:.1f} s)"
    )
    print(f"DuckDB read + counts: {duck_seconds:.1f} s")
    print(f"ratio ours/DuckDB for read + counts: {count_seconds / duck_seconds:.1f}")
    print(
        f"peak RSS {rss_peak / 1024**3:.2f} GB (before the analysis "
        f"{rss_before / 1024**3:.2f} GB)"
        + (f"; Python-heap peak {heap_peak / 1024**3:.2f} GB" if heap_peak else "")
    )
    print(f"findings: {len(result.findings)} of kinds {', '.join(kinds)}")
    verdict = "met" if within else "MISSED"
    print(f"targets (< {TIME_TARGET_SECONDS:.0f} s, < 4 GB): {verdict}")
    print(f"machine: {machine}")

    if args.write_doc:
        table = "\n".join(
            [
                "Parse, normalise and analyse generated ActionTrail events (four "
                "applications over 30 days plus one attack) in one process: "
                "`read_events_file`, then `investigate` (lineage, all detectors, "
                "billing). DuckDB reads the same JSON Lines file and computes the same "
                "counts (rows, distinct ids, per key, per key and IP, per key and "
                "region, per hour, failed calls) as a reference.",
                "",
                "| events | whole analysis | CPU time | events/s | normalise + counts "
                "| DuckDB read + counts | ratio | peak RSS | machine | command |",
                "|---|---|---|---|---|---|---|---|---|---|",
                f"| {args.events:,} | {total_seconds:.1f} s | {cpu_seconds:.1f} s | "
                f"{rate:,.0f} | "
                f"{count_seconds:.1f} s | {duck_seconds:.1f} s | "
                f"{count_seconds / duck_seconds:.1f} | {rss_peak / 1024**3:.2f} GB | "
                f"{machine} | `{command.strip()}` |",
                "",
                "Peak RSS is the whole process (interpreter, libraries, bills and "
                "the frame). CPU time is this process's, which other work on the "
                "machine changes less than the wall-clock time. Targets: under 60 s "
                "and under 4 GB.",
            ]
        )
        write_doc(table)
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
