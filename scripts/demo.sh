#!/usr/bin/env bash
# Install the project into .venv (created if missing) and run `akresponder demo`.
# Extra arguments go to the demo, such as --out DIR or --keep-running.
# Set PYTHON to choose the interpreter that creates .venv (Python 3.11 or newer).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "scripts/demo.sh: $python is missing or older than Python 3.11; install" \
            "Python 3.11 or newer and run again with PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    echo "Creating .venv with $("$python" --version 2>&1)"
    "$python" -m venv .venv || exit 1
fi
echo "Installing akresponder into .venv (the first time downloads its dependencies)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e . || exit 1

# Prefect must not try to reach its analytics service.
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
# The Alibaba Tea SDK ignores NO_PROXY, so a proxy setting would capture the calls
# that the demo makes to the emulator on 127.0.0.1.
unset HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy

exec .venv/bin/akresponder demo "$@"
