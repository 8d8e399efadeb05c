# syntax=docker/dockerfile:1
# The trainyard PyTorch worker image: a CUDA build of torch plus `.[worker]`.
#
# torch's CUDA wheels come from the PyTorch wheel index (TORCH_INDEX_URL), not PyPI's default CPU
# build. They carry the CUDA runtime, cuDNN and NCCL as pip packages (nvidia-*-cu12), so the base
# stays a plain slim Python image: the host needs only the NVIDIA driver and the NVIDIA Container
# Toolkit (compose: the GPU reservation; Kubernetes: the NVIDIA device plugin).
# Pick the CUDA flavour that matches your driver, e.g.
#   docker build -f docker/worker.Dockerfile -t trainyard-worker \
#       --build-arg TORCH_VERSION=2.13.0 --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
# A CPU-only image: --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, from the CUDA index, so that `.[worker]` finds it satisfied and never pulls another.
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"
WORKDIR /src
COPY pyproject.toml ./
COPY app ./app
COPY contracts ./contracts
COPY webcommon ./webcommon
COPY dao ./dao
COPY tasks ./tasks
COPY models ./models
RUN pip install ".[worker]" \
 && python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 trainyard \
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
# No NVIDIA_VISIBLE_DEVICES here: the same image runs the CPU worker, which must never see a GPU.
# A GPU container gets its devices from whoever allocates them (the Kubernetes device plugin
# for `nvidia.com/gpu`, compose's device reservation); the NVIDIA runtime's default driver
# capabilities (compute, utility) are what torch needs.
USER 10001:10001
# SIGTERM reaches celery's main process (start.sh execs it): no new task, checkpoint, hand back.
STOPSIGNAL SIGTERM
ENTRYPOINT ["./start.sh"]
CMD ["worker", "--queues", "torch"]
