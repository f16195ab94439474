"""Prefect tasks, one per Alibaba Cloud API action, grouped by service.

``ram``, ``sts``, ``actiontrail``, ``bss``, ``sls`` and ``ecs`` each hold the tasks of
that service; every task declares its RAM permissions (``akresponder.permissions``)
and calls the cloud only through ``akresponder.clients``.
"""
