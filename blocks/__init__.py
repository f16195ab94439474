"""Prefect blocks of akresponder.

Register them with ``prefect block register -m blocks``.
"""

from blocks.credentials import AlibabaCloudCredentials, EndpointOverrides
from blocks.settings import DEFAULT_DENY_POLICY, ResponderSettings

__all__ = [
    "DEFAULT_DENY_POLICY",
    "AlibabaCloudCredentials",
    "EndpointOverrides",
    "ResponderSettings",
]
