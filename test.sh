#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs what it needs on first run (the
# project venv, the MXNet venv, and the Debian packages the tests drive: nginx for the proxy
# tests, chromium for the pages and reports a browser must render, prometheus for the metrics
# tests), then pytest in each venv.
# Tests talk to PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (see .ci/run).
# Extra arguments go to the main pytest run, e.g. ./test.sh tests/service -x
#
# Nothing is skipped silently: if a Debian package, the MXNet venv or a Python dependency (such
# as kubernetes-validate) cannot be installed, this fails; under TRAINYARD_TESTS_STRICT=1 a skipped
# test fails too, except GPU tests on a machine without a GPU (tests/conftest.py).
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
cd "$root"

fail() { echo "test.sh: $*" >&2; exit 1; }

# need_debian COMMAND PACKAGE WHY: install PACKAGE from Debian unless COMMAND is there.
need_debian() {
    if command -v "$1" >/dev/null || [[ -x "/usr/sbin/$1" || -x "/usr/bin/$1" ]]; then return 0; fi
    [[ "$(id -u)" == "0" ]] || fail "$1 is not installed and this is not root: apt-get install $2"
    echo "test.sh: installing Debian's $2 ($3)" >&2
    local log; log="$(mktemp)"
    # Another apt run may hold the lock for a while: wait for it rather than give up.
    if ! { apt-get -o DPkg::Lock::Timeout=300 update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
               --no-install-recommends "$2"; } >"$log" 2>&1; then
        tail -20 "$log" >&2
        fail "$2 could not be installed ($3)"
    fi
}
need_debian nginx nginx "the proxy tests"
need_debian chromium chromium "the loadgen report test, through Playwright"
need_debian prometheus prometheus "the real-Prometheus test and the rules' lint"

py="$(bash scripts/bootstrap.sh | tail -1)" || fail "the project venv could not be built"
mxpy="$(bash scripts/bootstrap_mxnet.sh | tail -1)" || fail "the MXNet venv could not be built"

export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export TRAINYARD_TESTS_STRICT="${TRAINYARD_TESTS_STRICT:-1}"
# TRAINYARD_TEST_JOBS=N runs the main suite in N processes (pytest-xdist), one test file per
# process at a time (each service module starts its own stack); the default, 1, runs serially.
parallel=()
if [[ "${TRAINYARD_TEST_JOBS:-1}" != "1" ]]; then
    parallel=(-n "$TRAINYARD_TEST_JOBS" --dist loadfile)
fi
# tests/mxnet needs MXNet, which lives in its own venv: it runs there, after the main suite.
# -p no:randomly: the full run keeps file order (pytest-randomly shuffles the fast tier, README).
"$py" -m pytest -q -p no:randomly --durations=25 "${parallel[@]}" --ignore=tests/mxnet "$@"
if [[ $# -eq 0 ]]; then
    "$mxpy" -m pytest -q tests/mxnet
fi
