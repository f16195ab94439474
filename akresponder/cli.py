"""The ``akresponder`` command line: respond, undo, sweep, policy.

``akresponder respond ACCESS_KEY_ID`` runs the flow ``respond_to_compromised_key``
in the current process (Prefect's ephemeral mode unless ``PREFECT_API_URL`` names a
server), prints the report path and a summary, and exits with:

* 0: the response completed (or, in a dry run, was fully planned);
* 1: the response failed; the report lists the failed step;
* 2: invalid arguments, such as a malformed AccessKey ID; nothing was called;
* 3: the response needs a person (a manual path, an approval that was not given,
  or applications still using the old key).

``akresponder sweep`` assesses every AccessKey of the account and exits with 0 when
every user was assessed, 1 when some were not (the report lists them) and 2 for
invalid arguments.

Every non-zero exit prints one line on stderr with the reason. Credentials come from
Alibaba's credential chain (``ALIBABA_CLOUD_ACCESS_KEY_ID`` /
``ALIBABA_CLOUD_ACCESS_KEY_SECRET``, ``aliyun configure`` profiles) or a saved
credentials block. ``AKRESPONDER_ENDPOINT`` sends every call to one endpoint, such
as the local emulator.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NEEDS_PERSON = 3

DEFAULT_HOME = Path("~/.akresponder")
PLACEHOLDERS: dict[str, str] = {}


class UsageError(Exception):
    """Invalid command-line input; the message is the one line to print."""


# argparse's own messages, reworded to name the invalid value and the expected one.
_ARGPARSE_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^the following arguments are required: (?P<names>.+)$"),
        "missing {names}",
    ),
    (
        re.compile(r"^argument (?P<option>\S+?): invalid int value: (?P<value>.+)$"),
        "invalid {option} {value}: expected a whole number",
    ),
    (
        re.compile(r"^argument (?P<option>\S+?): invalid float value: (?P<value>.+)$"),
        "invalid {option} {value}: expected a number",
    ),
    (
        re.compile(r"^argument (?P<option>\S+?): expected one argument$"),
        "missing value for {option}",
    ),
    (
        re.compile(
            r"^argument (?P<option>\S+?): invalid choice: (?P<value>.+?) "
            r"\(choose from (?P<choices>.+)\)$"
        ),
        "invalid {option} {value}: expected one of {choices}",
    ),
    (
        re.compile(r"^unrecognized arguments: (?P<names>.+)$"),
        "unknown arguments {names}",
    ),
    (
        re.compile(r"^argument (?P<option>\S+?): (?P<detail>.+)$"),
        "invalid {option}: {detail}",
    ),
)


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser that reports invalid input on one line and exits with 2.

    The line names the command, the invalid value and the expected one, and points
    to ``--help`` for the full usage. Every non-zero exit of this CLI prints one
    line on stderr, so the usage text is not printed.
    """

    def error(self, message: str) -> NoReturn:
        for pattern, template in _ARGPARSE_MESSAGES:
            match = pattern.match(message)
            if match:
                message = template.format(**match.groupdict())
                break
        if message.startswith("invalid COMMAND"):
            message = message.replace("invalid COMMAND", "unknown command", 1)
        command = self.prog.removeprefix("akresponder").strip()
        prefix = f"{command}: " if command else ""
        _fail(f"{prefix}{message}; run '{self.prog} --help' for the usage")
        self.exit(EXIT_USAGE)


def _prepare_environment() -> None:
    """Set the Prefect settings this machine needs, unless the user set them."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A fresh ephemeral Prefect database needs about 20 s of migrations on 2 cores,
    # which is Prefect's default startup timeout.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _positive_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if not (rate > 0 and math.isfinite(rate)):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive number of calls per second, such as 2"
        )
    return rate


def _incident_start(text: str) -> datetime:
    """Parse ``--incident-start``, an ISO 8601 time with a time zone, not future."""
    example = "such as 2026-11-20T08:00:00Z or 2026-11-20T16:00:00+08:00"
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date and time; give one with a time zone, "
            f"{example}"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone; add Z for UTC or an offset, {example}"
        )
    if moment > datetime.now(UTC):
        raise argparse.ArgumentTypeError(
            f"{text!r} is in the future; give the time the compromise began, "
            "such as the first suspicious event's time"
        )
    return moment


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="akresponder",
        description="Respond to a compromised Alibaba Cloud AccessKey pair.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the flow's log lines on stderr",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    respond = commands.add_parser(
        "respond",
        help="triage, contain and audit a compromised AccessKey",
        description="Triage, contain and audit a compromised AccessKey, then write "
        "a JSON report. Exit status: 0 done, 1 failed, 2 invalid arguments, 3 a "
        "person must act.",
    )
    respond.add_argument("access_key_id", metavar="ACCESS_KEY_ID")
    respond.add_argument(
        "--mode",
        choices=["auto", "delete", "rotate", "contain", "audit-only"],
        default="auto",
        help="force a path instead of letting the triage choose (default: auto)",
    )
    respond.add_argument(
        "--rotatable",
        choices=["yes", "no", "unknown"],
        default="unknown",
        help="whether the applications can switch to a new key now (default: unknown)",
    )
    respond.add_argument(
        "--lookback-days",
        type=int,
        default=30,
        metavar="N",
        help="days of history to audit, 1 to 90 (default: 30)",
    )
    respond.add_argument(
        "--dry-run", action="store_true", help="plan every step and change nothing"
    )
    respond.add_argument(
        "--auto-approve",
        action="store_true",
        help="answer yes to every approval (delete keys, detach policies)",
    )
    respond.add_argument(
        "--report",
        metavar="PATH",
        help="where to write the JSON report (default: STATE_DIR/KEY.report.json, "
        "or STATE_DIR/KEY.dry-run.report.json for a dry run)",
    )
    respond.add_argument(
        "--state-dir",
        metavar="DIR",
        help="folder of the incident journals (default: ~/.akresponder/incidents)",
    )
    respond.add_argument(
        "--secret-sink",
        metavar="SINK",
        help="where a new key's secret goes: file:DIR or block (a Prefect Secret "
        "block) (default: file:~/.akresponder/secrets)",
    )
    respond.add_argument("--incident-id", metavar="ID", help="incident id to use")
    respond.add_argument(
        "--incident-start",
        type=_incident_start,
        metavar="ISO8601",
        help="when the compromise began, with a time zone, such as "
        "2026-11-20T08:00:00Z; the key's calls before it are its normal use "
        "(default: estimated from the key's history)",
    )
    respond.add_argument(
        "--approval-timeout",
        type=int,
        metavar="SECONDS",
        help="seconds to wait for an approval in a served run before answering no",
    )
    respond.add_argument(
        "--settings-block", metavar="NAME", help="saved akresponder-settings block"
    )
    respond.add_argument(
        "--credentials-block",
        metavar="NAME",
        help="saved alibaba-cloud-credentials block (default: credential chain)",
    )
    respond.add_argument(
        "--no-billing", action="store_true", help="skip the BSS billing check"
    )

    undo = commands.add_parser(
        "undo",
        help="revert the reversible changes of a response",
        description="Revert the reversible changes listed in a response report, "
        "newest first, and write REPORT.undo.json (REPORT.undo.2.json and so on "
        "for later runs). A change that is reverted already is skipped.",
    )
    undo.add_argument("report", metavar="REPORT")
    undo.add_argument("--dry-run", action="store_true", help="plan and change nothing")
    undo.add_argument(
        "--auto-approve", action="store_true", help="answer yes to every revert"
    )
    undo.add_argument(
        "--state-dir", metavar="DIR", help="folder of the incident journals"
    )
    undo.add_argument(
        "--credentials-block", metavar="NAME", help="saved credentials block"
    )

    policy = commands.add_parser(
        "policy",
        help="print the minimal RAM policy the responder needs",
        description="Print the least-privilege RAM policy for the responder's "
        "identity as JSON: the actions of the tasks the chosen flows call.",
    )
    policy.add_argument(
        "--flows",
        default="respond,undo,sweep",
        metavar="LIST",
        help="comma-separated flows the identity runs, from respond, undo and "
        "sweep (default: all three). respond covers the alert intake.",
    )
    policy.add_argument(
        "--deny-policy-name",
        default="akresponder-deny-high-risk",
        metavar="NAME",
        help="the settings' deny_policy_name; CreatePolicy and DeletePolicy are "
        "allowed on that policy only",
    )
    from akresponder.sweep import add_sweep_arguments

    sweep = commands.add_parser(
        "sweep",
        help="assess every AccessKey of the account and rank the risky ones",
        description="List every RAM user and AccessKey, score each key's risk and "
        "write a JSON report. Exit status: 0 every user assessed, 1 some users "
        "failed (listed in the report), 2 invalid arguments.",
    )
    add_sweep_arguments(sweep)
    from deployments.receiver import add_receiver_arguments
    from flows.alert_intake import add_alert_arguments

    alert = commands.add_parser(
        "alert",
        help="start a response from a monitoring alert",
        description="Parse an alert payload (Security Center, SLS, EventBridge, "
        "GitHub or plain) and start or attach a response for each AccessKey it "
        "names. Exit status: 0 done, 1 a response failed to start, 2 the payload "
        "is unreadable or an entry is no valid key, 3 a started or attached "
        "response needs a person.",
    )
    add_alert_arguments(alert)
    receiver = commands.add_parser(
        "receiver",
        help="receive alert webhooks and start the alert-intake deployment",
        description="Serve POST /alerts[/<source>] on 127.0.0.1 and start the "
        "alert-intake deployment for each authenticated alert.",
    )
    add_receiver_arguments(receiver)
    demo = commands.add_parser(
        "demo",
        help="run the playbook on a real attack recording against the local emulator",
        description="Serve the shipped invictus-ir attack scenario in the local "
        "emulator, replay a live attack with its leaked key, send the alert through "
        "the alert intake and the response (approvals answered yes), and print "
        "where the report is. Exit status: 0 done, 1 a step failed, 3 a person "
        "must act.",
    )
    demo.add_argument(
        "--out",
        metavar="DIR",
        default="demo-output",
        help="folder for the report, evidence, secret sink, emulator log and the "
        "demo's Prefect database (default: ./demo-output)",
    )
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the emulator running after the demo and print how to stop it",
    )
    demo.add_argument(
        "--lookup-events-rate",
        type=_positive_rate,
        default=50.0,
        metavar="N",
        help="ActionTrail LookupEvents calls per second that the emulator allows and "
        "the responder makes (default: 50; the cloud allows 2)",
    )
    for name, summary in PLACEHOLDERS.items():
        commands.add_parser(name, help=f"{summary} (not implemented yet)")
    return parser


def _quiet_console(verbose: bool) -> None:
    """Keep Prefect's console log lines off stderr unless ``--verbose``.

    The flow's logs still reach the Prefect API. Stderr then carries only the one
    line that explains a non-zero exit.
    """
    from prefect.logging.handlers import PrefectConsoleHandler

    level = logging.INFO if verbose else logging.CRITICAL + 1
    for logger in [logging.getLogger()] + [
        logging.getLogger(name) for name in logging.root.manager.loggerDict
    ]:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(level)


def _respond_request(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from akresponder.cli_checks import (
        InvalidOption,
        check_folder,
        check_output_file,
        option_error,
    )
    from akresponder.config import ConfigurationError, validate_access_key_id
    from flows.respond import ResponseRequest

    try:
        validate_access_key_id(args.access_key_id)
    except ConfigurationError as error:
        raise UsageError(str(error)) from None

    state_dir = Path(args.state_dir or DEFAULT_HOME / "incidents").expanduser()
    # A dry run gets its own report, so the real run that follows keeps the plan.
    suffix = ".dry-run" if args.dry_run else ""
    report = args.report or str(state_dir / f"{args.access_key_id}{suffix}.report.json")
    sink = args.secret_sink or f"file:{DEFAULT_HOME / 'secrets'}"
    approval: dict[str, Any] = {"auto_approve": args.auto_approve}
    if args.approval_timeout is not None:
        approval["timeout_seconds"] = args.approval_timeout
    try:
        check_folder("--state-dir", state_dir, typed_value=args.state_dir or "")
        check_output_file("--report", report)
        if sink.startswith("file:") and sink != "file:":
            check_folder("--secret-sink", sink.removeprefix("file:"), typed_value=sink)
        return ResponseRequest(
            access_key_id=args.access_key_id,
            mode=args.mode,
            rotatable_now=args.rotatable,
            lookback_days=args.lookback_days,
            dry_run=args.dry_run,
            approval=approval,
            report_path=report,
            incident_id=args.incident_id,
            state_dir=str(state_dir),
            secret_sink=sink,
            settings_block=args.settings_block,
            credentials_block=args.credentials_block,
            check_billing=not args.no_billing,
            incident_start=args.incident_start,
        )
    except InvalidOption as error:
        raise UsageError(str(error)) from None
    except ValidationError as error:
        options = {
            "lookback_days": ("--lookback-days", args.lookback_days),
            "approval.timeout_seconds": ("--approval-timeout", args.approval_timeout),
        }
        raise UsageError(str(option_error(error, ResponseRequest, options))) from None


def _summary(report: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for action in report.get("actions", []):
        counts[action["status"]] = counts.get(action["status"], 0) + 1
    done = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    owner = report["owner"]
    lines = [
        f"Report: {report.get('report_path')}",
        f"Incident {report['incident_id']}: {report['access_key_id']} of "
        f"{owner['type']} {owner.get('user_name') or ''}".rstrip(),
        f"Path: {report['decision']['path']}"
        + (" (dry run: nothing was changed)" if report.get("dry_run") else ""),
        f"Actions: {done or 'none'}",
        f"Findings: {len(report.get('findings', []))}",
        f"Complete: {'yes' if report.get('complete') else 'no'}",
    ]
    for number, step in enumerate(report.get("next_steps", []), start=1):
        lines.append(f"  {number}. {step}")
    return "\n".join(lines)


def _run_respond(args: argparse.Namespace) -> int:
    params = _respond_request(args)
    from flows.respond import respond_to_compromised_key

    _quiet_console(args.verbose)
    try:
        report = respond_to_compromised_key(params)
    except Exception as error:
        _fail(
            f"response failed: {error} (report: {params.report_path})",
        )
        return EXIT_FAILED
    print(_summary(report))
    if report.get("complete"):
        return EXIT_OK
    steps = report.get("next_steps") or ["see the report"]
    _fail(f"response incomplete, a person must act: {steps[0]}")
    return EXIT_NEEDS_PERSON


def _run_undo(args: argparse.Namespace) -> int:
    from akresponder.cli_checks import check_folder
    from akresponder.report import load_report

    try:
        load_report(args.report)
        report_folder = Path(args.report).expanduser().parent
        check_folder("REPORT", report_folder, typed_value=args.report)
        if args.state_dir:
            check_folder("--state-dir", args.state_dir)
    except ValueError as error:
        raise UsageError(str(error)) from None
    from flows.undo import undo_response

    _quiet_console(args.verbose)
    try:
        result = undo_response(
            args.report,
            dry_run=args.dry_run,
            auto_approve=args.auto_approve,
            state_dir=args.state_dir,
            credentials_block=args.credentials_block,
        )
    except Exception as error:
        _fail(f"undo failed: {error}")
        return EXIT_FAILED
    counts: dict[str, int] = {}
    for action in result["actions"]:
        counts[action["status"]] = counts.get(action["status"], 0) + 1
    print(f"Undo report: {result['report_path']}")
    print(
        "Actions: "
        + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none")
    )
    for step in result.get("next_steps", []):
        print(f"  - {step}")
    if not result.get("complete"):
        steps = result.get("next_steps") or ["see the undo report"]
        _fail(f"undo incomplete: {steps[0]}")
        return EXIT_NEEDS_PERSON
    return EXIT_OK


def _run_sweep(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from akresponder.cli_checks import check_input_file, check_output_file
    from flows.sweep import run_sweep_cli, sweep_request_from_args

    try:
        if args.report:
            check_output_file("--report", args.report)
        if args.settings_file:
            check_input_file("--settings-file", args.settings_file)
        sweep_request_from_args(args)
    except ValidationError as error:
        raise UsageError(_sweep_setting_error(error, args)) from None
    except (ValueError, OSError) as error:
        raise UsageError(f"invalid sweep arguments: {error}") from None
    _quiet_console(args.verbose)
    try:
        return run_sweep_cli(args)
    except Exception as error:
        _fail(f"sweep failed: {error}")
        return EXIT_FAILED


def _sweep_setting_error(error: Any, args: argparse.Namespace) -> str:
    """Word a sweep setting's validation error by the option or file it came from."""
    from akresponder.cli_checks import expected_range, option_error
    from akresponder.sweep import SweepSettings

    option_values = {
        "users_per_batch": ("--users-per-batch", args.users_per_batch),
        "ram_calls_per_second": ("--ram-calls-per-second", args.ram_calls_per_second),
    }
    options = {
        field: option
        for field, option in option_values.items()
        if option[1] is not None
    }
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    if field in options or not args.settings_file:
        return str(option_error(error, SweepSettings, options))
    expected = expected_range(SweepSettings, tuple(first["loc"]))
    message = f"expected {expected}" if expected else first["msg"]
    return (
        f"invalid {field} {first.get('input')!r} in --settings-file "
        f"{args.settings_file}: {message.removeprefix('Value error, ')}"
    )


def _run_policy(args: argparse.Namespace) -> int:
    from akresponder.permissions import parse_flows, print_minimal_policy

    try:
        flows = parse_flows(args.flows)
        print_minimal_policy(flows, args.deny_policy_name)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return EXIT_OK


def _fail(message: str) -> None:
    from akresponder import redact

    line = redact.scrub_text(" ".join(message.split()))
    print(f"akresponder: {line}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    _prepare_environment()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        # argparse exits for --help (0) and for invalid input (2, one line printed).
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if not args.verbose:
        # The ephemeral Prefect server runs as a child process that inherits this
        # environment and logs its shutdown errors to the shared stderr.
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command in PLACEHOLDERS:
        _fail(f"{args.command}: not implemented yet")
        return EXIT_USAGE

    from akresponder import redact

    redact.install()
    try:
        if args.command == "respond":
            return _run_respond(args)
        if args.command == "undo":
            return _run_undo(args)
        if args.command == "sweep":
            return _run_sweep(args)
        if args.command == "alert":
            from flows.alert_intake import run_alert_cli

            _quiet_console(args.verbose)
            return run_alert_cli(args)
        if args.command == "receiver":
            from deployments.receiver import run_receiver

            return run_receiver(args)
        if args.command == "demo":
            from akresponder.demo import run_demo

            _quiet_console(args.verbose)
            return run_demo(
                Path(args.out),
                keep_running=args.keep_running,
                lookup_rate=args.lookup_events_rate,
            )
        return _run_policy(args)
    except UsageError as error:
        _fail(str(error))
        return EXIT_USAGE
