#!/usr/bin/env bash
# trainyard's entry point, on a laptop and in every image.
#   ./start.sh                 the whole stack on one machine (API, a torch and an MXNet worker, the reaper)
#   ./start.sh api             gunicorn serving the Flask API
#   ./start.sh serve           gunicorn serving models (KServe v2, MMS, Fractal, connectome predict)
#                              on TRAINYARD_SERVE_BIND (127.0.0.1:8001); onnxruntime, no torch
#   ./start.sh worker [--gpu N] [--queues q1,q2] [--backend torch|mxnet] [--name NAME]
#   ./start.sh beat            the lease reaper: requeues orphaned tasks, publishes lost ones
#   ./start.sh migrate         alembic upgrade head, then register the demo dataset
#   ./start.sh move-blobs      task artifacts kept in database rows → the blob store (resumable)
# With no TRAINYARD_* configuration it runs on SQLite and a filesystem broker under ./var/.
# The API listens on TRAINYARD_BIND (default 127.0.0.1:8000); PORT=N alone means 127.0.0.1:N.
# In images set TRAINYARD_NO_VENV=1: the image's own Python is used as it is.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
cd "$root"
if [[ -z "${TRAINYARD_BIND:-}" && -n "${PORT:-}" ]]; then export TRAINYARD_BIND="127.0.0.1:$PORT"; fi

python_for() {  # python_for torch|mxnet: the venv's python, installing it first if needed
    if [[ "${TRAINYARD_NO_VENV:-0}" == "1" ]]; then command -v python3; return; fi
    local script=scripts/bootstrap.sh log=.venv/install.log what=".venv (torch's CPU build, then the project)"
    if [[ "$1" == "mxnet" ]]; then
        script=scripts/bootstrap_mxnet.sh log=.venv-mxnet/install.log what=".venv-mxnet (MXNet and numpy < 1.24)"
    fi
    local out pid waited=0
    out="$(mktemp)"
    bash "$script" >"$out" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do  # a first install takes minutes: say what it is doing
        sleep 1
        waited=$((waited + 1))
        if ((waited == 3)); then
            echo "trainyard: installing $what; the first run takes a few minutes (log: $log)" >&2
        elif ((waited > 3 && waited % 15 == 0)); then
            echo "trainyard: still installing (${waited} s): $(grep -E '^(Collecting|Downloading|Installing|Building)' "$log" 2>/dev/null | tail -1 | cut -c1-100)" >&2
        fi
    done
    if ! wait "$pid"; then rm -f "$out"; return 1; fi
    tail -1 "$out"
    rm -f "$out"
}

setting() {  # setting PYTHON NAME...: values from contracts.settings (its defaults, the environment)
    local py="$1"; shift
    "$py" -m contracts.settings "$@"
}

check_port() {  # check_port PYTHON: exits non-zero, saying what holds it, when the API's address is taken
    bind="$(setting "$1" bind)"
    local host="${bind%:*}" port="${bind##*:}" holder
    if python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
s.bind((sys.argv[1].strip("[]"), int(sys.argv[2])))' "$host" "$port" 2>/dev/null; then
        return 0
    fi
    holder="$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'users:((.*))' | head -1 || true)"
    echo "trainyard: cannot listen on $bind: the address is in use${holder:+, held by $holder}" >&2
    echo "trainyard: stop that program, or pick another port: TRAINYARD_BIND=$host:<port> (or PORT=<port>) ./start.sh" >&2
    exit 1
}

running() {  # running PID: it exists and has not exited (a child not yet waited for stays a zombie)
    kill -0 "$1" 2>/dev/null && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"
}

stop_gracefully() {  # stop_gracefully PID: SIGTERM, then SIGKILL once STOP_GRACE_SECONDS have passed
    # A role that hangs on its way out must not keep Ctrl-C waiting for ever; a task its worker
    # held is taken back by the reaper when the worker's lease runs out.
    kill -TERM "$1" 2>/dev/null || return 0
    local tenths=0
    while running "$1" && ((tenths < STOP_GRACE_SECONDS * 10)); do
        sleep 0.1
        tenths=$((tenths + 1))
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
STOP_GRACE_SECONDS=30

supervise() {  # supervise NAME COMMAND...: runs it, and again after it dies, waiting 1, 2, 4 ... 30 s
    local name="$1" child="" started delay=1 status
    shift
    trap 'stop_gracefully "$child"; exit 0' INT TERM
    while true; do
        started=$SECONDS
        "$@" &
        child=$!
        echo "$child" > "$run_dir/$name.pid"  # the running process, for wait_api
        wait "$child" && status=0 || status=$?
        if ((SECONDS - started > 60)); then delay=1; fi  # it had run a while: a fresh failure
        echo "trainyard: the $name role exited (status $status); starting it again in $delay s" >&2
        sleep "$delay" & wait $!
        delay=$((delay < 16 ? delay * 2 : 30))
    done
}

wait_api() {  # wait_api PIDFILE: until the API answers /ping; exits non-zero if it died first
    local url="http://$bind/ping"
    for _ in $(seq 1 600); do
        if [[ -s "$1" ]] && ! kill -0 "$(cat "$1")" 2>/dev/null; then
            echo "trainyard: the API did not start (see its output above)" >&2; exit 1
        fi
        if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$url" 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    echo "trainyard: the API did not answer $url within 5 minutes" >&2
    exit 1
}

role="${1:-all}"
[[ $# -gt 0 ]] && shift

case "$role" in
    api)
        py="$(python_for torch)"
        check_port "$py"
        # gunicorn's workers add their metrics up through files here (prometheus_client's
        # multiprocess mode); a fresh folder per start, or counts of a previous run would linger.
        if [[ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]]; then
            export PROMETHEUS_MULTIPROC_DIR="$(setting "$py" var_dir)/metrics/api"
            rm -rf "$PROMETHEUS_MULTIPROC_DIR"
        fi
        mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
        exec "$py" -m gunicorn -c gunicorn.conf.py 'app:create_app()'
        ;;
    serve)
        py="$(python_for torch)"
        # Several processes share one Prometheus directory so /metrics sums them all.
        export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$(mktemp -d -t trainyard-serve-metrics.XXXXXX)}"
        read -r serve_bind serve_workers serve_threads < <(setting "$py" serve_bind serve_workers serve_threads)
        export TRAINYARD_BIND="$serve_bind" TRAINYARD_GUNICORN_WORKERS="$serve_workers" \
            TRAINYARD_GUNICORN_THREADS="$serve_threads" TRAINYARD_PROC_NAME=trainyard-serve
        exec "$py" -m gunicorn -c gunicorn.conf.py 'serving.app:create_serving_app()'
        ;;
    embedded)
        # The API and the serving role in one app at one address (the default ./start.sh).
        py="$(python_for torch)"
        check_port "$py"
        exec "$py" -m gunicorn -c gunicorn.conf.py 'embedded:create_app()'
        ;;
    worker)
        gpu="" queues="" backend="torch" name=""
        while [[ $# -gt 0 ]]; do
            case "$1" in
                --gpu) gpu="$2"; shift 2 ;;
                --queues) queues="$2"; shift 2 ;;
                --backend) backend="$2"; shift 2 ;;
                --name) name="$2"; shift 2 ;;
                *) echo "start.sh worker: unknown option $1" >&2; exit 2 ;;
            esac
        done
        if [[ -n "$gpu" ]]; then
            export CUDA_VISIBLE_DEVICES="$gpu"
        elif [[ -z "${CUDA_VISIBLE_DEVICES+x}" && "$backend" == "torch" && -n "${TRAINYARD_CPU_ONLY:-}" ]]; then
            export CUDA_VISIBLE_DEVICES=""
        fi
        export TRAINYARD_BACKEND="$backend"
        py="$(python_for "$backend")"
        default_queue="$(setting "$py" "${backend}_queue")" app="tasks.worker"
        if [[ "$backend" == "mxnet" ]]; then app="tasks.mx_worker"; fi
        name="${name:-${TRAINYARD_WORKER_NAME:-$backend${gpu:+-gpu$gpu}@%h}}"
        exec "$py" -m celery -A "$app" worker --pool solo --concurrency 1 --prefetch-multiplier 1 \
            -Q "${queues:-$default_queue}" -n "$name" --loglevel INFO --without-gossip --without-mingle
        ;;
    beat)
        py="$(python_for torch)"
        exec "$py" -m tasks.reaper
        ;;
    migrate)
        py="$(python_for torch)"
        "$py" -m alembic upgrade head
        exec "$py" -m app.manage register-demo
        ;;
    move-blobs)
        # Task artifacts still held in database rows go to the blob store (TRAINYARD_ARTIFACT_URL);
        # safe to run while the service runs, and again.
        py="$(python_for torch)"
        "$py" -m alembic upgrade head
        exec "$py" -m app.manage move-blobs
        ;;
    all)
        py="$(python_for torch)"
        check_port "$py"
        "$0" migrate
        # One box: every role writes its metrics to one folder and the API's /metrics shows
        # them all, with the fleet's figures from the database; no other metrics ports.
        export PROMETHEUS_MULTIPROC_DIR="$(setting "$py" var_dir)/metrics/all"
        rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
        export TRAINYARD_METRICS_FLEET="${TRAINYARD_METRICS_FLEET:-1}" TRAINYARD_METRICS_PORT=0
        # Each role runs under supervise: one that dies (an OOM-killed training) is started
        # again while the others keep serving; Ctrl-C (or SIGTERM) stops them all.
        pids=()
        run_dir="$(mktemp -d -t trainyard-roles.XXXXXX)"
        stop_roles() {
            trap - INT TERM EXIT; kill -TERM "${pids[@]}" 2>/dev/null || true; wait || true; rm -rf "$run_dir"
        }
        trap 'stop_roles; exit 0' INT TERM  # asked to stop: a clean stop
        trap stop_roles EXIT
        # API and model serving at one address (embedded/ routes the inference paths).
        supervise api "$0" embedded & pids+=($!)
        supervise worker "$0" worker & pids+=($!)
        supervise reaper "$0" beat & pids+=($!)
        # MXServer's jobs and image uploads need the MXNet worker, in its own venv.
        if [[ "${TRAINYARD_NO_VENV:-0}" == "1" ]] || bash scripts/bootstrap_mxnet.sh >/dev/null; then
            supervise mxnet-worker "$0" worker --backend mxnet & pids+=($!)
        else
            echo "trainyard: no MXNet worker (its venv could not be built); /train and image uploads will wait" >&2
        fi
        wait_api "$run_dir/api.pid"
        echo "trainyard: API and model serving on http://$bind (Ctrl-C stops everything)"
        echo "trainyard: metrics of the API, the workers and the queue on http://$bind/metrics"
        wait
        ;;
    *)
        echo "usage: start.sh [api|serve|embedded|worker|beat|migrate|move-blobs] ..." >&2
        exit 2
        ;;
esac
