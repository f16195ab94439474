"""Serve the four akresponder deployments from one process.

``python -m deployments.serve`` registers and serves:

* ``respond-to-compromised-key/respond``: the response, started from the UI, the
  API, the alert intake or the sweep;
* ``sweep-all-keys/daily-sweep``: the sweep of every AccessKey, on a cron schedule
  (``--sweep-cron``, default 03:00 UTC daily; ``--no-sweep-schedule`` turns it off);
* ``alert-intake/alert-intake``: started by the alert receiver through the API;
* ``undo-response/undo``: reverts a response from its report.

This is the short path for small teams and tests: no work pool, no deploy step.
Each run executes in a subprocess of this process with its environment, so
``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` (or a
credentials block) and ``AKRESPONDER_ENDPOINT`` set here reach every run.
``prefect.yaml`` defines the same names for a ``process`` work pool; use one
mechanism or the other, because Prefect keeps one deployment per name.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

RESPONSE = "respond"
SWEEP = "daily-sweep"
ALERT_INTAKE = "alert-intake"
UNDO = "undo"
DEFAULT_SWEEP_CRON = "0 3 * * *"
TAGS = ["akresponder"]


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
        help="most flow runs executing at once (default: %(default)s)",
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
    serve(*deployments, limit=args.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
