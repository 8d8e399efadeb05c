# syntax=docker/dockerfile:1
# The trainyard MXNet worker image: its own environment (`.[mxnet]`), because MXNet 1.9.1 needs
# numpy < 1.24, which the torch stack refuses. It consumes only the mxnet queue.
#
#   docker build -f docker/worker-mxnet.Dockerfile -t trainyard-worker-mxnet .
# MXNet's wheel on PyPI is the CPU build (verified: mxnet 1.9.1 + numpy 1.23 import and compute on
# Python 3.11). For a GPU build pass --build-arg MXNET_PACKAGE=mxnet-cu112==1.9.1 and a PYTHON_IMAGE
# that carries the CUDA 11.2 runtime libraries (MXNet's CUDA wheels load them from the system,
# unlike torch's).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The import checks below load libmxnet.so, which needs these two system libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 libquadmath0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml ./
COPY scripts/bootstrap_mxnet.sh ./scripts/
# The MXNet environment's requirements are spelled out once, in scripts/bootstrap_mxnet.sh
# (mxnet 1.9.1, numpy < 1.24 and the service's non-torch dependencies); it builds /opt/venv here.
# MXNET_PACKAGE swaps the CPU build for a CUDA one (e.g. mxnet-cu112==1.9.1).
ARG MXNET_PACKAGE=""
RUN TRAINYARD_MXNET_VENV=/opt/venv TRAINYARD_MXNET_PYTHON=python bash scripts/bootstrap_mxnet.sh \
 && if [ -n "${MXNET_PACKAGE}" ]; then /opt/venv/bin/pip uninstall -y mxnet \
      && /opt/venv/bin/pip install "${MXNET_PACKAGE}" "numpy>=1.21,<1.24"; fi
ENV PATH=/opt/venv/bin:$PATH
COPY app ./app
COPY contracts ./contracts
COPY webcommon ./webcommon
COPY dao ./dao
COPY tasks ./tasks
COPY models ./models
# Our packages only: the dependencies are already there, and the project's base requirement
# numpy>=1.24 (for the torch stack) must not upgrade this environment's numpy.
RUN pip install --no-deps . \
 && python -c "import mxnet, numpy; assert numpy.__version__ < '1.24'; print('mxnet', mxnet.__version__, 'numpy', numpy.__version__)"

FROM ${PYTHON_IMAGE}
# libgomp1, libquadmath0: MXNet's libmxnet.so links them from the system; the slim image lacks them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 libquadmath0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 trainyard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /srv/trainyard --shell /usr/sbin/nologin trainyard \
 && mkdir -p /var/lib/trainyard \
 && chown 10001:10001 /var/lib/trainyard
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/trainyard
COPY start.sh ./
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TRAINYARD_NO_VENV=1 \
    TRAINYARD_VAR_DIR=/var/lib/trainyard
USER 10001:10001
STOPSIGNAL SIGTERM
ENTRYPOINT ["./start.sh"]
CMD ["worker", "--backend", "mxnet", "--queues", "mxnet"]
