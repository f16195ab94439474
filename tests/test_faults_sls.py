"""SLS reads under a dropped connection, through the real SLS SDK.

The SLS SDK resends a request on its own only after a 5xx, a timeout or a failed
connection-pool connect. A connection the server closes without a response comes
back as ``LogRequestError``, and the read must be retried by akresponder.
"""

from __future__ import annotations

from tasks import sls
from tests.cloud_helpers import SLS_PROJECT, TRAIL_LOGSTORE, add_fault, calls, connect

FROM = "2026-11-01T00:00:00Z"
TO = "2026-11-20T08:00:00Z"


def test_faults_sls_get_logs_dropped_retried(emulator) -> None:  # noqa: ANN001
    expected = sls.get_logs.fn(connect(emulator), SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO)
    add_fault(emulator, service="sls", action="GetLogs", kind="drop", count=1)

    rows = sls.get_logs.fn(connect(emulator), SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO)

    assert rows == expected
    assert [entry["status"] for entry in calls(emulator, "GetLogs")][-2:] == [0, 200]


def test_faults_sls_histograms_dropped_retried(emulator) -> None:  # noqa: ANN001
    add_fault(emulator, service="sls", action="GetHistograms", kind="drop", count=1)

    result = sls.get_histograms.fn(
        connect(emulator), SLS_PROJECT, TRAIL_LOGSTORE, FROM, TO
    )

    assert result
    assert [entry["status"] for entry in calls(emulator, "GetHistograms")] == [0, 200]
