#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs what it needs on first run (the
# project venv, the MXNet venv, Debian's nginx and prometheus for the proxy and metrics tests), then pytest in each venv.
# Tests talk to PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (see .ci/run).
# Extra arguments go to the main pytest run, e.g. ./test.sh tests/service -x
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
cd "$root"

if ! command -v nginx >/dev/null && [[ "$(id -u)" == "0" ]]; then
    (apt-get update -qq && apt-get install -y -qq nginx) >/dev/null 2>&1 || echo "test.sh: nginx not installed; the proxy tests will skip" >&2
fi
# Debian's Prometheus server and promtool: the real-Prometheus test and the rules' lint.
if ! command -v prometheus >/dev/null && [[ "$(id -u)" == "0" ]]; then
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus) >/dev/null 2>&1 ||
        echo "test.sh: prometheus not installed; the Prometheus tests will skip" >&2
fi
py="$(bash scripts/bootstrap.sh | tail -1)"
mxpy="$(bash scripts/bootstrap_mxnet.sh | tail -1)"

export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
# tests/mxnet needs MXNet, which lives in its own venv: it runs there, after the main suite.
"$py" -m pytest -q --ignore=tests/mxnet "$@"
if [[ $# -eq 0 ]]; then
    "$mxpy" -m pytest -q tests/mxnet
fi
