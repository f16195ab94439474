"""Running akresponder as a service: served deployments and the alert receiver.

``deployments.serve`` serves the response, sweep, alert-intake and undo flows
from one process; ``deployments.receiver`` turns alert webhooks into runs of the
alert-intake deployment. ``prefect.yaml`` at the repository root defines the same
deployments for a work pool and worker instead.
"""
