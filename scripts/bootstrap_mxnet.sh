#!/usr/bin/env bash
# Creates ./.venv-mxnet, the MXNet worker's own environment (MXNet 1.9.1 needs numpy < 1.24,
# which the torch environment cannot have), and installs MXNet, numpy < 1.24, pytest and the
# service's non-torch dependencies into it. Idempotent: re-installs only when this script or
# pyproject.toml changes. Prints the venv's python path on its last line.
#
# TRAINYARD_MXNET_VENV overrides the venv path; TRAINYARD_MXNET_PYTHON the interpreter
# used to create it (default python3; MXNet 1.9.1's py3-none wheel works on 3.8-3.11).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${TRAINYARD_MXNET_VENV:-$root/.venv-mxnet}"
python="${TRAINYARD_MXNET_PYTHON:-python3}"
stamp="$venv/.trainyard-mxnet-installed"
want="$(cat "$0" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"

# The [mxnet] extra, spelled out here so the script also works before pyproject.toml has it.
# Pins chosen to resolve together with numpy < 1.24.
requirements=(
    "mxnet==1.9.1"
    "numpy>=1.21,<1.24"
    "flask>=3.0,<4"
    "pydantic>=2.6,<3"
    "pydantic-settings>=2.2,<3"
    "sqlalchemy>=2.0,<2.2"
    "alembic>=1.13"
    "psycopg[binary]>=3.1"
    "celery[redis]>=5.4,<6"
    "prometheus-client>=0.20"
    # the blob store's s3:// backend (blobstore/): weights, checkpoints and datasets in S3
    "boto3>=1.34"
    "nvidia-ml-py>=12"
    "matplotlib>=3.5,<3.9"
    # matplotlib < 3.9 calls pyparsing's camelCase names, which pyparsing 3.3 deprecates
    "pyparsing<3.3"
    # mx2onnx (deploying an MXNet task) and verifying its export; these resolve with numpy < 1.24
    # and still have the onnx.mapping module mx2onnx imports.
    "onnx>=1.14,<1.15"
    "onnxruntime>=1.18,<1.20"
    # the pixel baseline beside every test result and its paired tests (models/baseline_report.py)
    "scikit-learn>=1.3,<1.8"
    "scipy>=1.9"
    "statsmodels>=0.14"
    "pytest>=8"
    "pytest-timeout>=2.3"
    # what GluonCV's detectors import beyond the list above (GluonCV itself comes without its
    # declared dependencies, below)
    "tqdm>=4"
    "portalocker>=2"
    "yacs>=0.1.8"
    "autocfg>=0.0.8"
    "pyyaml>=6"
)
# GluonCV's detectors (SSD) for detection tasks. Installed with --no-deps: its declared
# dependencies pull numpy 2 and opencv, which MXNet 1.9.1 cannot run beside; its detectors,
# datasets' box transforms and VOC metric import none of them.
no_deps=("gluoncv==0.10.5")

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv" >&2
fi
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    log="$venv/install.log"
    {
        "$venv/bin/python" -m pip install --upgrade pip &&
        "$venv/bin/python" -m pip install "${requirements[@]}" &&
        "$venv/bin/python" -m pip install --no-deps "${no_deps[@]}" &&
        "$venv/bin/python" -W ignore -c "import gluoncv.model_zoo" &&
        "$venv/bin/python" -c "import mxnet, numpy; assert numpy.__version__ < '1.24'; print('mxnet', mxnet.__version__, 'numpy', numpy.__version__)"
    } >"$log" 2>&1 || { tail -40 "$log" >&2; echo "install failed; see $log" >&2; exit 1; }
    echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
