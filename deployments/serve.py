"""Serve the four akresponder deployments from one process.

``python -m deployments.serve`` registers and serves:

* ``respond-to-compromised-key/respond``: the response, started from the UI, the
  API, the alert intake or the sweep;
* ``sweep-all-keys/daily-sweep``: the sweep of every AccessKey, on a cron schedule
  (``--sweep-cron``, default 03:00 UTC daily; ``--no-sweep-schedule`` turns it off);
* ``alert-intake/alert-intake``: started by the alert receiver through the API;
* ``undo-response/undo``: reverts a response from its report.

This is the short path for small teams and tests: no work pool, no deploy step.
Every run gets this process's environment, so ``ALIBABA_CLOUD_ACCESS_KEY_ID`` /
``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` (or a credentials block) and
``AKRESPONDER_ENDPOINT`` set here reach every run.

Runs of the response and the alert intake execute in threads of this process
(``deployments.inprocess``), found by polling every ``--poll-seconds`` (0.5 s), so
that an alert reaches containment without waiting for a new Python process.
The sweep and undo run in a subprocess each, as Prefect's ``serve`` runs them.
``--subprocess-runs`` runs all four that way; a run then waits up to
``PREFECT_RUNNER_POLL_FREQUENCY`` seconds (10 by default) to be picked up.
``prefect.yaml`` defines the same names for a ``process`` work pool; use one
mechanism or the other, because Prefect keeps one deployment per name.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from deployments.inprocess import DEFAULT_LIMIT, DEFAULT_POLL_SECONDS, InProcessRunner

RESPONSE = "respond"
SWEEP = "daily-sweep"
ALERT_INTAKE = "alert-intake"
UNDO = "undo"
DEFAULT_SWEEP_CRON = "0 3 * * *"
TAGS = ["akresponder"]
# Deployments whose runs execute in this process unless --subprocess-runs.
IN_PROCESS = (RESPONSE, ALERT_INTAKE)
# SDK client modules that a response imports on its first call of each service.
SDK_MODULES = (
    "alibabacloud_ram20150501.client",
    "alibabacloud_sts20150401.client",
    "alibabacloud_actiontrail20200706.client",
    "alibabacloud_bssopenapi20171214.client",
    "alibabacloud_ecs20140526.client",
    "aliyun.log",
)


def build_deployments(
    sweep_cron: str | None = DEFAULT_SWEEP_CRON,
    *,
    settings_block: str | None = None,
    credentials_block: str | None = None,
) -> list[Any]:
    """Return the four runner deployments; ``sweep_cron=None`` leaves no schedule.

    ``settings_block`` and ``credentials_block`` become default parameters of the
    alert intake, which passes them to every response it starts.
    """
    from flows.alert_intake import alert_intake
    from flows.respond import respond_to_compromised_key
    from flows.sweep import sweep_all_keys
    from flows.undo import undo_response

    intake_defaults = {
        name: value
        for name, value in (
            ("settings_block", settings_block),
            ("credentials_block", credentials_block),
        )
        if value
    }
    sweep_schedule: dict[str, Any] = {}
    if sweep_cron:
        sweep_schedule = {"cron": sweep_cron, "timezone": "UTC"}
    return [
        respond_to_compromised_key.to_deployment(
            name=RESPONSE,
            tags=TAGS,
            description="Triage, contain and audit one compromised AccessKey.",
        ),
        sweep_all_keys.to_deployment(
            name=SWEEP,
            tags=TAGS,
            parameters={"params": {}},
            description="Assess every AccessKey of the account and rank the risk.",
            **sweep_schedule,
        ),
        alert_intake.to_deployment(
            name=ALERT_INTAKE,
            tags=TAGS,
            parameters=intake_defaults,
            description="Start or attach a response for each key an alert names.",
        ),
        undo_response.to_deployment(
            name=UNDO,
            tags=TAGS,
            description="Revert the reversible changes of a response.",
        ),
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.serve",
        description="Serve the akresponder deployments until stopped (SIGTERM).",
    )
    parser.add_argument(
        "--sweep-cron",
        default=DEFAULT_SWEEP_CRON,
        metavar="CRON",
        help="schedule of the sweep, in UTC (default: %(default)r)",
    )
    parser.add_argument(
        "--no-sweep-schedule",
        action="store_true",
        help="serve the sweep without a schedule (start it from the UI or API)",
    )
    parser.add_argument(
        "--settings-block",
        metavar="NAME",
        help="akresponder-settings block for the responses the alert intake starts",
    )
    parser.add_argument(
        "--credentials-block",
        metavar="NAME",
        help="alibaba-cloud-credentials block for those responses (default: "
        "Alibaba's credential chain in this process's environment)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=4,
        metavar="N",
        help="most sweep and undo runs executing at once, each in a subprocess "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--in-process-limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help="maximum number of response and alert-intake runs executing at once "
        "in this process, the rest wait in line; runs paused for approval and "
        "responses past containment do not count (default: %(default)s)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=DEFAULT_POLL_SECONDS,
        metavar="S",
        help="seconds between checks for new response and alert-intake runs "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--subprocess-runs",
        action="store_true",
        help="run responses and alert intakes in a subprocess each, like the "
        "sweep: slower to start, but a cancelled run is stopped",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the deployments until SIGTERM; return the exit status."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    args = build_parser().parse_args(argv)
    from prefect import serve

    from akresponder import redact

    redact.install()
    cron = None if args.no_sweep_schedule else args.sweep_cron
    deployments = build_deployments(
        cron,
        settings_block=args.settings_block,
        credentials_block=args.credentials_block,
    )
    if args.subprocess_runs:
        serve(*deployments, limit=args.limit)
        return 0

    from flows.alert_intake import alert_intake
    from flows.respond import respond_to_compromised_key

    runner = InProcessRunner(
        [item for item in deployments if item.name in IN_PROCESS],
        {item.name: item for item in (respond_to_compromised_key, alert_intake)},
        poll_seconds=args.poll_seconds,
        limit=args.in_process_limit,
    )
    runner.start(preload=SDK_MODULES)
    try:
        serve(
            *[item for item in deployments if item.name not in IN_PROCESS],
            limit=args.limit,
        )
    finally:
        runner.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
