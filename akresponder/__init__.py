"""akresponder: incident response for compromised Alibaba Cloud AccessKey pairs.

The package holds the cloud access layer (connection settings, the client factory,
error classification, retries, permissions, redaction and secret sinks) and the
playbook's decision and report logic. Prefect tasks live in ``tasks/``, flows in
``flows/`` and blocks in ``blocks/``.
"""

__version__ = "0.1.0"
