"""Import every service's handlers so that their actions are registered."""

import importlib

SERVICES = ("ram", "sts", "actiontrail", "bss", "ecs")


def load_services() -> None:
    """Register the POP actions of every service; SLS is dispatched separately."""
    for name in SERVICES:
        importlib.import_module(f"emulator.{name}.responses")
