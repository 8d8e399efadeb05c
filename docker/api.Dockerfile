# syntax=docker/dockerfile:1
# The trainyard API image: Flask behind gunicorn, no torch, no mxnet.
# It also runs the one-shot migration (`start.sh migrate`) and the lease reaper (`start.sh beat`),
# which need only the database and broker code.
#
#   docker build -f docker/api.Dockerfile -t trainyard-api .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml ./
COPY app ./app
COPY contracts ./contracts
COPY webcommon ./webcommon
COPY dao ./dao
COPY tasks ./tasks
COPY models ./models
COPY serving ./serving
COPY embedded ./embedded
# A regular (non-editable) install: the final stage needs only /opt/venv.
RUN pip install ".[api,serve]"

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 trainyard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /srv/trainyard --shell /usr/sbin/nologin trainyard \
 && mkdir -p /var/lib/trainyard \
 && chown 10001:10001 /var/lib/trainyard
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/trainyard
COPY start.sh gunicorn.conf.py alembic.ini ./
COPY migrations ./migrations
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TRAINYARD_NO_VENV=1 \
    TRAINYARD_BIND=0.0.0.0:8000 \
    TRAINYARD_FORWARDED_ALLOW_IPS=* \
    TRAINYARD_VAR_DIR=/var/lib/trainyard
USER 10001:10001
EXPOSE 8000
# /ping is cheap and needs no database; compose and Kubernetes add their own /healthz checks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ping', timeout=4).status != 200)"]
ENTRYPOINT ["./start.sh"]
CMD ["api"]
