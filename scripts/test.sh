#!/usr/bin/env bash
# Install the project into .venv (created if missing) and run the linter and the test suite.
# Extra arguments go to pytest. Exits non-zero when a check fails or when no test ran.
# Set PYTHON to choose the interpreter that creates .venv (Python 3.11 or newer).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "scripts/test.sh: $python is missing or older than Python 3.11; install" \
            "Python 3.11 or newer and run again with PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    echo "Creating .venv with $("$python" --version 2>&1)"
    "$python" -m venv .venv || exit 1
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' || exit 1

# Prefect must not try to reach its analytics service: these machines have no internet.
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
# The Alibaba Tea SDK ignores NO_PROXY, so a proxy setting would capture calls to the emulator.
unset HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy

.venv/bin/ruff check . || exit 1

# Two workers, one per core: the suite spends much of its time waiting on servers
# (the Prefect harness, emulators, subprocesses), so it runs about twice as fast.
.venv/bin/python -m pytest -n 2 "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "scripts/test.sh: pytest collected no tests; treating that as a failure" >&2
    exit 1
fi
exit "$status"
