#!/usr/bin/env bash
# trainyard's entry point, on a laptop and in every image.
#   ./start.sh                 the whole stack on one machine (API, a torch and an MXNet worker, the reaper)
#   ./start.sh api             gunicorn serving the Flask API
#   ./start.sh worker [--gpu N] [--queues q1,q2] [--backend torch|mxnet] [--name NAME]
#   ./start.sh beat            the lease reaper: requeues orphaned tasks, publishes lost ones
#   ./start.sh migrate         alembic upgrade head, then register the demo dataset
# With no TRAINYARD_* configuration it runs on SQLite and a filesystem broker under ./var/.
# In images set TRAINYARD_NO_VENV=1: the image's own Python is used as it is.
set -euo pipefail
root="$(cd "$(dirname "$0")" && pwd)"
cd "$root"

python_for() {  # python_for torch|mxnet
    if [[ "${TRAINYARD_NO_VENV:-0}" == "1" ]]; then command -v python3; return; fi
    if [[ "$1" == "mxnet" ]]; then bash scripts/bootstrap_mxnet.sh | tail -1; else bash scripts/bootstrap.sh | tail -1; fi
}

role="${1:-all}"
[[ $# -gt 0 ]] && shift

case "$role" in
    api)
        py="$(python_for torch)"
        # gunicorn's workers add their metrics up through files here (prometheus_client's
        # multiprocess mode); a fresh folder per start, or counts of a previous run would linger.
        if [[ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]]; then
            export PROMETHEUS_MULTIPROC_DIR="${TRAINYARD_VAR_DIR:-./var}/metrics/api"
            rm -rf "$PROMETHEUS_MULTIPROC_DIR"
        fi
        mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
        exec "$py" -m gunicorn -c gunicorn.conf.py 'app:create_app()'
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
        default_queue="${TRAINYARD_TORCH_QUEUE:-torch}" app="tasks.worker"
        if [[ "$backend" == "mxnet" ]]; then default_queue="${TRAINYARD_MXNET_QUEUE:-mxnet}" app="tasks.mx_worker"; fi
        py="$(python_for "$backend")"
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
    all)
        "$0" migrate
        # One box: every role writes its metrics to one folder and the API's /metrics shows
        # them all, with the fleet's figures from the database; no other metrics ports.
        export PROMETHEUS_MULTIPROC_DIR="${TRAINYARD_VAR_DIR:-./var}/metrics/all"
        rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
        export TRAINYARD_METRICS_FLEET="${TRAINYARD_METRICS_FLEET:-1}" TRAINYARD_METRICS_PORT=0
        pids=()
        trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM EXIT
        "$0" api & pids+=($!)
        "$0" worker & pids+=($!)
        "$0" beat & pids+=($!)
        # MXServer's jobs and image uploads need the MXNet worker, in its own venv.
        if [[ "${TRAINYARD_NO_VENV:-0}" == "1" ]] || bash scripts/bootstrap_mxnet.sh >/dev/null; then
            "$0" worker --backend mxnet & pids+=($!)
        else
            echo "trainyard: no MXNet worker (its venv could not be built); /train and image uploads will wait" >&2
        fi
        echo "trainyard: API on http://${TRAINYARD_BIND:-127.0.0.1:8000} (Ctrl-C stops everything)"
        echo "trainyard: metrics of the API, the workers and the queue on http://${TRAINYARD_BIND:-127.0.0.1:8000}/metrics"
        wait -n "${pids[@]}"
        ;;
    *)
        echo "usage: start.sh [api|worker|beat|migrate] ..." >&2
        exit 2
        ;;
esac
