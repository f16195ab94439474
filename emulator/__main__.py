"""Command line of the emulator: ``python -m emulator serve --scenario PATH``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from emulator.faults import FaultRuleError, parse_rules
from emulator.scenario import ScenarioError, describe, load_scenario
from emulator.server import Emulator, make_server

logger = logging.getLogger("emulator")


def _add_serve_parser(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve a scenario over HTTP",
        description="Serve RAM, STS, ActionTrail, BSS, ECS and SLS for one scenario. "
        "The first line on stdout is 'listening on http://HOST:PORT'.",
    )
    serve.add_argument(
        "--scenario", required=True, type=Path, help="scenario JSON file"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=0,
        help="port to bind; 0 picks a free port (default 0)",
    )
    serve.add_argument(
        "--faults", type=Path, help="JSON file with fault rules to apply from the start"
    )
    serve.add_argument(
        "--no-clock-skew-check",
        action="store_true",
        help="accept signatures whose timestamp is more than 15 minutes off",
    )
    serve.add_argument(
        "--freeze-clock",
        action="store_true",
        help="stop the emulated clock; only POST /__emu/clock moves it",
    )
    serve.add_argument(
        "--ram-rate-limit",
        type=float,
        default=None,
        metavar="N",
        help="throttle each RAM action above N calls per second (default: no limit)",
    )
    serve.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level on stderr (default WARNING)",
    )


def _add_optional_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add subcommands that other modules define, when those modules exist."""
    for module_name, function_name in (
        ("emulator.cloudtrail", "add_import_parser"),
        ("emulator.attack", "add_attack_parser"),
        ("emulator.generate", "add_generate_parser"),
    ):
        try:
            module = __import__(module_name, fromlist=[function_name])
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        add_parser = getattr(module, function_name, None)
        if add_parser is not None:
            add_parser(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="A local Alibaba Cloud for akresponder."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_serve_parser(subparsers)
    _add_optional_parsers(subparsers)
    return parser


def serve(args: argparse.Namespace) -> int:
    """Load the scenario, bind, print the listening line and serve until stopped."""
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cloud = load_scenario(args.scenario, freeze_clock=args.freeze_clock)
        faults = None
        if args.faults is not None:
            faults = parse_rules(json.loads(args.faults.read_text(encoding="utf-8")))
        emulator = Emulator(
            cloud,
            check_clock_skew=not args.no_clock_skew_check,
            ram_rate_limit=args.ram_rate_limit,
            faults=faults,
        )
    except (ScenarioError, FaultRuleError, ValueError, OSError) as error:
        print(f"error: {error}".replace("\n", " "), file=sys.stderr)
        return 2
    try:
        server = make_server(emulator, args.host, args.port)
    except OSError as error:
        print(
            f"error: cannot bind {args.host}:{args.port}: {error.strerror}; "
            "choose another --port or 0 for a free one",
            file=sys.stderr,
        )
        return 2
    print(f"listening on {server.url}", flush=True)
    logger.info("serving %s: %s", args.scenario, describe(cloud))

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        logger.info("stopping on signal")
    finally:
        server.close_connections()
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
