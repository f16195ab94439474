"""Convert AWS CloudTrail files into an emulator scenario with ActionTrail events.

No public record of attacker activity in ActionTrail form exists, but CloudTrail
datasets of attack simulations do. This module turns such files into an account the
emulator can load. The scenario contains the events in the ActionTrail LookupEvents
shape and the RAM users and keys the events imply, with generated test secrets. It also
gets a trail, a baseline of bills for the months before the events, and a clock that
starts just after the last record.

Usage::

    python -m emulator import-cloudtrail SRC... --out SCENARIO.json \\
        [--account-id ID] [--region R] [--now T] [--attach-policy USER=POLICY]

SRC may be CloudTrail delivery files (``{"Records": [...]}``), JSON arrays, JSON Lines,
any of them gzipped, or folders holding them. The same input always gives byte-identical
output. Calls without an Alibaba equivalent are dropped and counted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from emulator.cloudtrail_accounts import (
    AccountBuilder,
    account_start,
    baseline_bills,
    default_now,
)
from emulator.cloudtrail_events import EventConverter, aws_event_name
from emulator.cloudtrail_ids import IdMapper, map_region
from emulator.state import iso, parse_iso

SOURCE_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
# Above this many events the scenario keeps them in a JSON Lines file next to it.
EVENTS_FILE_THRESHOLD = 1000
DEFAULT_BILL_MONTHS = 6
DEFAULT_TRAIL_NAME = "main"


class ConversionError(ValueError):
    """Invalid CloudTrail input or option. The message names the value and the fix."""


@dataclass
class ConvertOptions:
    """Choices that the CloudTrail records cannot supply."""

    account_id: str | None = None  # 16 digits, or None to pad the source account id
    region: str | None = None  # home region, or None for the most frequent one
    now: datetime | None = None  # clock start, or None for last record + 1 minute
    attach_policies: Sequence[tuple[str, str]] = ()  # (user, system policy)
    bill_months: int = DEFAULT_BILL_MONTHS
    trail_name: str = DEFAULT_TRAIL_NAME


@dataclass
class ConversionStats:
    """Counts that tell how much of the input the scenario kept."""

    files: int = 0
    records: int = 0
    duplicates: int = 0
    converted_records: int = 0
    events: int = 0
    dropped_calls: Counter[str] = field(default_factory=Counter)  # "iam:GetX" -> n
    dropped_identities: Counter[str] = field(default_factory=Counter)  # type -> n
    dropped_keys: list[str] = field(default_factory=list)
    # (former name, latest name) of each user renamed in CloudTrail. The scenario
    # keeps only the latest name, because its user fields have no place for another.
    renamed_users: list[tuple[str, str]] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return sum(self.dropped_calls.values()) + sum(self.dropped_identities.values())


@dataclass
class Conversion:
    scenario: dict[str, Any]  # without events
    events: list[dict[str, Any]]
    stats: ConversionStats


def find_source_files(sources: Iterable[Path]) -> list[Path]:
    """List the CloudTrail files of the sources: files as given, folders recursively."""
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            found = sorted(
                path
                for path in source.rglob("*")
                if path.is_file() and path.name.endswith(SOURCE_SUFFIXES)
            )
            if not found:
                raise ConversionError(
                    f"folder {source} contains no CloudTrail files; expected names "
                    f"ending in {', '.join(SOURCE_SUFFIXES)}"
                )
            files.extend(found)
        elif source.is_file():
            files.append(source)
        else:
            raise ConversionError(
                f"CloudTrail source {source} does not exist; give a file or a folder"
            )
    return files


def read_records(path: Path) -> list[dict[str, Any]]:
    """Read the CloudTrail records of one file, whatever its layout."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConversionError(f"cannot read CloudTrail file {path}: {error}") from None
    if not text.strip():
        return []
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        records = _read_json_lines(path, text)
    else:
        if isinstance(document, dict) and isinstance(document.get("Records"), list):
            records = document["Records"]
        elif isinstance(document, dict) and "eventName" in document:
            records = [document]
        elif isinstance(document, list):
            records = document
        else:
            raise ConversionError(
                f'{path} is JSON but not CloudTrail: expected {{"Records": [...]}}, '
                "a list of records or one record per line"
            )
    for position, record in enumerate(records):
        _check_record(path, position, record)
    return records


def _read_json_lines(path: Path, text: str) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ConversionError(
                f"{path} line {number} is not JSON ({error.msg}); CloudTrail input "
                "must be JSON, a JSON array or JSON Lines"
            ) from None
    return records


def _check_record(path: Path | str, position: int, record: Any) -> None:
    missing = [
        name
        for name in ("eventTime", "eventName", "eventSource")
        if not isinstance(record, dict) or not record.get(name)
    ]
    if missing:
        raise ConversionError(
            f"{path} record {position} is not a CloudTrail record: it lacks "
            f"{', '.join(missing)}"
        )
    optional = ("eventID", "awsRegion", "recipientAccountId", "sourceIPAddress")
    for name in ("eventTime", "eventName", "eventSource", *optional):
        if name in optional and record.get(name) is None:
            continue
        if not isinstance(record[name], str):
            raise ConversionError(
                f"{path} record {position} has {name} {record[name]!r} of type "
                f"{type(record[name]).__name__}; CloudTrail writes it as a string"
            )
    try:
        parse_iso(str(record["eventTime"]))
    except ValueError:
        raise ConversionError(
            f"{path} record {position} has eventTime {record['eventTime']!r}; "
            "expected ISO 8601 such as 2023-07-10T12:00:00Z"
        ) from None


def convert_records(
    records: Sequence[dict[str, Any]], options: ConvertOptions | None = None
) -> Conversion:
    """Convert CloudTrail records into a scenario and its events."""
    options = options or ConvertOptions()
    _check_options(options)
    for position, record in enumerate(records):
        _check_record("the input", position, record)
    stats = ConversionStats(records=len(records))
    unique: dict[str, dict[str, Any]] = {}
    for record in records:
        key = str(record.get("eventID") or json.dumps(record, sort_keys=True))
        if key in unique:
            stats.duplicates += 1
        else:
            unique[key] = _with_utc_time(record)
    ordered = sorted(
        unique.values(),
        key=lambda record: (str(record["eventTime"]), str(record.get("eventID", ""))),
    )
    if not ordered:
        raise ConversionError("the CloudTrail input contains no records")

    recipient = _recipient_account(ordered)
    ids = IdMapper(recipient, options.account_id)
    account_id = ids.account(recipient)
    region = options.region or _most_frequent_region(ordered)
    converter = EventConverter(ids, region)

    events: list[dict[str, Any]] = []
    for record in ordered:
        with _record_shape(record):
            converted = converter.convert(record)
        if converted:
            stats.converted_records += 1
            events.extend(converted)
        elif converter.targets(record) is None:
            call = f"{record['eventSource'].split('.', 1)[0]}:{aws_event_name(record)}"
            stats.dropped_calls[call] += 1
        else:
            identity_type = (record.get("userIdentity") or {}).get("type", "none")
            stats.dropped_identities[str(identity_type)] += 1
    stats.events = len(events)
    if not events:
        raise ConversionError(
            f"none of the {len(ordered)} CloudTrail records has an ActionTrail "
            "equivalent, so the scenario would be empty"
        )

    first_time = parse_iso(str(ordered[0]["eventTime"]))
    accounts = AccountBuilder(ids, account_start(first_time, options.bill_months))
    for record in sorted(ordered, key=AccountBuilder.replay_order):
        with _record_shape(record):
            accounts.apply(record)
    for user_name, policy_name in options.attach_policies:
        try:
            accounts.grant(user_name, policy_name)
        except ValueError as error:
            raise ConversionError(str(error)) from None

    now = options.now or default_now(str(ordered[-1]["eventTime"]))
    services = {event["serviceName"] for event in events}
    scenario: dict[str, Any] = {
        "account_id": account_id,
        "now": iso(now),
        "region": region,
        "users": accounts.scenario_users(_last_used(events)),
        "groups": [],
        "roles": [],
        "policies": [],
        "root_access_keys": accounts.scenario_root_keys(),
        "trail": {
            "Name": options.trail_name,
            "SlsProject": f"actiontrail-{account_id}",
            "Region": region,
        },
        "bills": baseline_bills(account_id, region, services, now, options.bill_months),
    }
    stats.dropped_keys = list(accounts.dropped_keys)
    stats.renamed_users = list(accounts.renamed)
    return Conversion(scenario=scenario, events=events, stats=stats)


@contextmanager
def _record_shape(record: dict[str, Any]) -> Iterator[None]:
    """Turn a failure on a field of unexpected type into a ``ConversionError``.

    The converter reads nested CloudTrail fields (userIdentity, requestParameters,
    responseElements and others) by their documented types. A record that breaks
    them, such as a list where CloudTrail writes an object, is invalid input.
    """
    try:
        yield
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        if isinstance(error, ConversionError):
            raise
        raise ConversionError(
            f"record {str(record.get('eventID', '?'))!r} ({record.get('eventName')!r} "
            f"at {record.get('eventTime')!r}) has a field of unexpected type or "
            f"shape ({type(error).__name__}: {error}); fix or remove the record"
        ) from None


def _with_utc_time(record: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of the record whose eventTime is ``YYYY-MM-DDThh:mm:ssZ``.

    CloudTrail may add milliseconds, and ActionTrail times have whole seconds.
    """
    text = str(record.get("eventTime", ""))
    try:
        moment = parse_iso(text)
    except ValueError:
        raise ConversionError(
            f"record {record.get('eventID', '?')} has eventTime {text!r}; expected "
            "ISO 8601 such as 2023-07-10T12:00:00Z"
        ) from None
    return {**record, "eventTime": iso(moment)}


def _check_options(options: ConvertOptions) -> None:
    if options.account_id is not None and not (
        len(options.account_id) == 16 and options.account_id.isdigit()
    ):
        raise ConversionError(
            f"--account-id {options.account_id!r} is not an Alibaba account id; "
            "give 16 digits such as 1234567890123456"
        )
    if options.bill_months < 0:
        raise ConversionError(
            f"--bill-months {options.bill_months} is negative; give 0 for no bills"
        )
    if options.now is not None and options.now.tzinfo is None:
        raise ConversionError("--now needs a UTC time such as 2023-07-10T13:00:00Z")


def _recipient_account(records: Sequence[dict[str, Any]]) -> str:
    counts = Counter(
        str(record.get("recipientAccountId") or "")
        for record in records
        if record.get("recipientAccountId")
    )
    if not counts:
        raise ConversionError(
            "no CloudTrail record has a recipientAccountId, so the account is unknown"
        )
    return min(counts, key=lambda account: (-counts[account], account))


def _most_frequent_region(records: Sequence[dict[str, Any]]) -> str:
    counts = Counter(
        map_region(record.get("awsRegion"), "cn-hangzhou") for record in records
    )
    return min(counts, key=lambda region: (-counts[region], region))


def _last_used(events: Sequence[dict[str, Any]]) -> dict[str, str]:
    last: dict[str, str] = {}
    for event in events:
        key_id = event["userIdentity"].get("accessKeyId")
        if key_id:
            last[key_id] = max(last.get(key_id, ""), event["eventTime"])
    return last


def write_scenario(
    conversion: Conversion, out: Path, events_mode: str = "auto"
) -> Path | None:
    """Write the scenario to ``out``; return the events file when one is written.

    ``events_mode`` is "inline", "file" or "auto" (a file above
    ``EVENTS_FILE_THRESHOLD`` events). The events file is ``<out stem>.events.jsonl``
    beside ``out``, one compact JSON record per line.
    """
    if events_mode not in ("auto", "inline", "file"):
        raise ConversionError(
            f"events mode {events_mode!r} is invalid; use auto, inline or file"
        )
    scenario = dict(conversion.scenario)
    use_file = events_mode == "file" or (
        events_mode == "auto" and len(conversion.events) > EVENTS_FILE_THRESHOLD
    )
    events_path = None
    out.parent.mkdir(parents=True, exist_ok=True)
    if use_file:
        events_path = out.with_name(f"{out.stem}.events.jsonl")
        lines = [
            json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            for event in conversion.events
        ]
        events_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        scenario["events_file"] = events_path.name
    else:
        scenario["events"] = conversion.events
    text = json.dumps(scenario, indent=1, ensure_ascii=False)
    out.write_text(text + "\n", encoding="utf-8")
    return events_path


def summary_lines(
    conversion: Conversion, out: Path, events_path: Path | None
) -> list[str]:
    """Describe a conversion in a few lines for the command's output."""
    stats = conversion.stats
    lines = [
        f"read {stats.records} CloudTrail records from {stats.files} files "
        f"({stats.duplicates} duplicates skipped)",
        f"wrote {stats.events} ActionTrail events from {stats.converted_records} "
        f"records to {events_path or out}",
    ]
    if stats.dropped_calls:
        top = ", ".join(
            f"{name} x{count}" for name, count in stats.dropped_calls.most_common(8)
        )
        lines.append(
            f"dropped {sum(stats.dropped_calls.values())} records of "
            f"{len(stats.dropped_calls)} calls with no Alibaba equivalent: {top}"
        )
    if stats.dropped_identities:
        kinds = ", ".join(
            f"{name} x{count}"
            for name, count in sorted(stats.dropped_identities.items())
        )
        lines.append(f"dropped records of identity types ActionTrail lacks: {kinds}")
    users = ", ".join(
        f"{user['UserName']} ({len(user['AccessKeys'])} keys)"
        for user in conversion.scenario["users"]
    )
    lines.append(f"users: {users or 'none'}")
    if stats.dropped_keys:
        lines.append(
            "keys left out because a RAM user holds at most two: "
            + ", ".join(stats.dropped_keys)
        )
    if stats.renamed_users:
        lines.append(
            "users renamed in CloudTrail, kept under their latest name (the former "
            "name stays only in the events): "
            + ", ".join(f"{old} -> {new}" for old, new in stats.renamed_users)
        )
    return lines


def _policy_grant(text: str) -> tuple[str, str]:
    user, separator, policy = text.partition("=")
    if not separator or not user or not policy:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not USER=POLICY, for example bert-jan=AdministratorAccess"
        )
    return user, policy


def _utc_time(text: str) -> datetime:
    try:
        moment = parse_iso(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time; give one such as 2023-07-10T13:00:00Z"
        ) from None
    if datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone; give UTC such as 2023-07-10T13:00:00Z"
        )
    return moment


def add_import_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``import-cloudtrail`` subcommand on argparse subparsers."""
    parser = subparsers.add_parser(
        "import-cloudtrail",
        help="convert AWS CloudTrail files into an emulator scenario",
        description=__doc__.split("\n\n", 1)[0],
    )
    configure_import_parser(parser)
    return parser


def configure_import_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources",
        nargs="+",
        type=Path,
        metavar="SRC",
        help="CloudTrail file (.json, .jsonl, optionally .gz) or a folder of them",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="scenario JSON file to write"
    )
    parser.add_argument(
        "--account-id",
        help="16-digit Alibaba account id for the source account "
        "(default: 1000 followed by the 12-digit AWS account id)",
    )
    parser.add_argument(
        "--region",
        help="home region of the scenario, its trail and bills "
        "(default: the most frequent region of the events)",
    )
    parser.add_argument(
        "--now",
        type=_utc_time,
        help="UTC time the emulator clock starts at (default: one minute after the "
        "last CloudTrail record)",
    )
    parser.add_argument(
        "--attach-policy",
        action="append",
        default=[],
        type=_policy_grant,
        metavar="USER=POLICY",
        help="attach a system policy to a converted user; repeatable. CloudTrail "
        "does not show the permissions of users that existed before the records",
    )
    parser.add_argument(
        "--bill-months",
        type=int,
        default=DEFAULT_BILL_MONTHS,
        help="months of baseline bills before the events (default: %(default)s; "
        "0 for bills of the current month only)",
    )
    parser.add_argument(
        "--trail-name",
        default=DEFAULT_TRAIL_NAME,
        help="name of the scenario's trail (default: %(default)s)",
    )
    parser.add_argument(
        "--events",
        choices=("auto", "inline", "file"),
        default="auto",
        help="where to write the events: inline, in a .events.jsonl file beside "
        f"the scenario, or auto (a file above {EVENTS_FILE_THRESHOLD} events)",
    )
    parser.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    """Run ``import-cloudtrail`` with parsed arguments; return the exit code."""
    options = ConvertOptions(
        account_id=args.account_id,
        region=args.region,
        now=args.now,
        attach_policies=tuple(args.attach_policy),
        bill_months=args.bill_months,
        trail_name=args.trail_name,
    )
    try:
        files = find_source_files(args.sources)
        records = [record for path in files for record in read_records(path)]
        conversion = convert_records(records, options)
        conversion.stats.files = len(files)
        events_path = write_scenario(conversion, args.out, args.events)
    except ConversionError as error:
        print(f"import-cloudtrail: {error}", file=sys.stderr)
        return 2
    for line in summary_lines(conversion, args.out, events_path):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the converter as ``python -m emulator.cloudtrail``."""
    parser = argparse.ArgumentParser(
        prog="python -m emulator.cloudtrail", description=__doc__.split("\n\n", 1)[0]
    )
    configure_import_parser(parser)
    args = parser.parse_args(argv)
    return run_import(args)


if __name__ == "__main__":
    sys.exit(main())
