"""Offline checks of the deployment files: schemas, and that they agree with each other.

- every k8s manifest against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: unknown
  fields fail); KEDA objects against tests/deploy/keda_schema.py (a structural subset);
- docker-compose.yml against the compose specification (the schema check-jsonschema vendors);
- ports, TRAINYARD_* names, roles and queue names agree between start.sh, gunicorn.conf.py,
  nginx.conf, docker-compose.yml, the Dockerfiles and k8s/.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

from contracts.settings import Settings
from tests.deploy.keda_schema import SCHEMAS as KEDA_SCHEMAS

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests must work on
ENV_NAME = re.compile(r"\bTRAINYARD_[A-Z0-9_]+\b")
ROLES = ("api", "serve", "embedded", "worker", "beat", "migrate")


def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def all_objects() -> list[tuple[Path, dict]]:
    return [(p, d) for p in manifest_files() for d in load_docs(p)]


def objects_by(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for _, d in all_objects() if d["kind"] == kind}


def containers(obj: dict) -> list[dict]:
    spec = obj["spec"]["template"]["spec"] if "template" in obj["spec"] else obj["spec"]
    return spec.get("containers", []) + spec.get("initContainers", [])


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def start_sh() -> str:
    path = ROOT / "start.sh"
    assert path.exists(), "start.sh is every image's entry point and must exist"
    return path.read_text()


def known_env_names() -> set[str]:
    """Names something of ours reads: Settings fields, gunicorn.conf.py, start.sh, scripts/*.sh."""
    names = {f"TRAINYARD_{field.upper()}" for field in Settings.model_fields}
    names |= set(ENV_NAME.findall((ROOT / "gunicorn.conf.py").read_text()))
    names |= set(ENV_NAME.findall(start_sh()))
    for script in sorted((ROOT / "scripts").glob("*.sh")):
        names |= set(ENV_NAME.findall(script.read_text()))
    return names


def gunicorn_conf(monkeypatch=None) -> dict:
    """gunicorn.conf.py's names, read as a fresh gunicorn would (Settings from this environment)."""
    from contracts.settings import reset_settings

    reset_settings()
    namespace: dict = {}
    try:
        exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    finally:
        reset_settings()  # the next reader sees the environment, not this test's
    return namespace


def nginx_directive(name: str, text: str | None = None) -> list[str]:
    text = text if text is not None else (ROOT / "nginx.conf").read_text()
    text = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return [m.group(1).strip() for m in re.finditer(rf"(?:^|[;{{\s]){name}\s+([^;{{]+);", text)]


def size_mb(value: str) -> float:
    m = re.fullmatch(r"(\d+)([kmg]?)", value.strip().lower())
    assert m, value
    return int(m.group(1)) * {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024}[m.group(2)]


def seconds(value: str) -> int:
    m = re.fullmatch(r"(\d+)(s|m|h)?", str(value).strip())
    assert m, value
    return int(m.group(1)) * {None: 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


# --- Kubernetes ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kubernetes_validate():
    """Only the schema checks need kubernetes-validate; the compose, Dockerfile and gunicorn
    checks below run without it (and under TRAINYARD_TESTS_STRICT=1 its absence fails)."""
    return pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_manifest_validates(path: Path, kubernetes_validate) -> None:
    docs = load_docs(path)
    assert docs, f"{path} holds no object"
    for doc in docs:
        if doc["apiVersion"].startswith("keda.sh/"):
            jsonschema.Draft202012Validator(KEDA_SCHEMAS[doc["kind"]]).validate(doc)
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_strict_validation_catches_a_misspelt_field(kubernetes_validate) -> None:
    """The checks above can fail: a typo in a Deployment and in a ScaledObject is refused."""
    deployment = copy.deepcopy(objects_by("Deployment")["trainyard-worker-gpu"])
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 60
    with pytest.raises(jsonschema.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    scaled = copy.deepcopy(objects_by("ScaledObject")["trainyard-worker-gpu"])
    scaled["spec"]["triggers"][0]["metadata"]["listname"] = "torch"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(KEDA_SCHEMAS["ScaledObject"]).validate(scaled)


def test_kustomizations_list_every_manifest_but_the_secret_template() -> None:
    main = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    keda = yaml.safe_load((K8S / "keda" / "kustomization.yaml").read_text())
    listed = {K8S / r for r in main["resources"]} | {K8S / "keda" / r for r in keda["resources"]}
    for path in listed:
        assert path.exists(), f"kustomization lists missing {path}"
    expected = set(manifest_files()) - {K8S / "secret.template.yaml"}
    assert listed == expected
    assert main["namespace"] == keda["namespace"] == "trainyard"
    images = {i["name"] for i in main["images"]}
    used = {c["image"].split(":")[0] for _, o in all_objects() if o["kind"] in ("Deployment", "Job")
            for c in containers(o)}
    assert {u for u in used if u.startswith("trainyard")} <= images


def test_every_object_is_in_the_trainyard_namespace() -> None:
    for path, obj in all_objects():
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "trainyard", f"{path}: {obj['metadata']['name']}"


def test_secret_template_holds_placeholders_only() -> None:
    secret = load_docs(K8S / "secret.template.yaml")[0]
    assert secret["kind"] == "Secret" and "data" not in secret
    for key, value in secret["stringData"].items():
        assert "REPLACE_ME" in value, f"{key} looks like a real secret"
    # and no other manifest or the compose file carries a literal password
    for path in [*manifest_files(), ROOT / "docker-compose.yml"]:
        if path.name == "secret.template.yaml":
            continue
        for doc in load_docs(path):
            assert doc.get("kind") != "Secret", f"{path} commits a Secret"
        text = path.read_text()
        assert not re.search(r"postgresql\+psycopg://[^:]+:(?!\$\{)[^@]+@", text), f"{path} has a password"
        for name in ("MINIO_ROOT_PASSWORD", "TRAINYARD_ARTIFACT_S3_SECRET_ACCESS_KEY"):
            for value in re.findall(rf"^\s*{name}:\s*(.*)$", text, re.M):
                assert value.startswith("${MINIO_ROOT_PASSWORD:?"), f"{path}: {name} is a literal"


def test_every_container_uses_start_sh_roles() -> None:
    script = start_sh()
    for role in ROLES:
        assert re.search(rf"^\s*{role}\)", script, re.M), f"start.sh has no {role} role"
    for flag in ("--gpu", "--queues", "--backend"):
        assert flag in script
    ours = [(p, o, c) for p, o in all_objects() if o["kind"] in ("Deployment", "Job")
            for c in containers(o) if c["image"].startswith("trainyard")]
    assert ours
    for path, obj, container in ours:
        assert "command" not in container, f"{path}: the image's ENTRYPOINT (start.sh) must run"
        assert container["args"][0] in ROLES, f"{path}: {container['args']}"
        for flag in container["args"][1:]:
            if flag.startswith("--"):
                assert flag in script, f"{path}: start.sh knows no {flag}"


def test_api_deployment_service_ingress_and_probes_agree() -> None:
    config = objects_by("ConfigMap")["trainyard-config"]["data"]
    port = int(config["TRAINYARD_BIND"].rsplit(":", 1)[1])
    api = objects_by("Deployment")["trainyard-api"]
    (container,) = api["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["api"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/ping"
    service = objects_by("Service")["api"]
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == port
    assert service["spec"]["ports"][0]["targetPort"] in ("http", port)
    backend = objects_by("Ingress")["trainyard"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == "api"
    assert backend["service"]["port"].get("name") in {p["name"] for p in service["spec"]["ports"]}
    # nginx's upstream is the same Service name and port
    assert nginx_directive("server")[0] == f"api:{port}"
    ann = objects_by("Ingress")["trainyard"]["metadata"]["annotations"]
    assert size_mb(ann["nginx.ingress.kubernetes.io/proxy-body-size"]) >= int(config["TRAINYARD_MAX_UPLOAD_MB"])


def test_gpu_worker_requests_a_gpu_and_a_long_grace_period() -> None:
    gpu = objects_by("Deployment")["trainyard-worker-gpu"]
    pod = gpu["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"]
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert container["args"][:3] == ["worker", "--gpu", "0"]
    for name in ("trainyard-worker-gpu", "trainyard-worker-cpu", "trainyard-worker-mxnet"):
        spec = objects_by("Deployment")[name]["spec"]["template"]["spec"]
        assert spec["terminationGracePeriodSeconds"] >= 600, name
        assert "livenessProbe" not in spec["containers"][0], f"{name}: a solo-pool worker cannot answer pings"


def test_beat_is_a_single_recreated_replica_and_the_job_migrates() -> None:
    beat = objects_by("Deployment")["trainyard-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"
    job = objects_by("Job")["trainyard-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    for sts in ("postgres", "redis"):
        assert objects_by("StatefulSet")[sts]["spec"]["volumeClaimTemplates"]
    redis_args = objects_by("StatefulSet")["redis"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert redis_args[redis_args.index("--appendonly") + 1] == "yes"
    pdbs = objects_by("PodDisruptionBudget")
    assert {"trainyard-api", "trainyard-worker-gpu"} <= set(pdbs)


# KEDA's triggers, pools and replicas: tests/deploy/test_autoscaling.py.


# --- compose ---------------------------------------------------------------------------------

def compose_schema() -> dict:
    files = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(files.joinpath("compose-spec.json").read_text())


def test_compose_validates_against_the_compose_spec() -> None:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    doc = compose()
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors
    doc["services"]["api"]["healthcheck"]["intervall"] = "1s"
    assert list(validator.iter_errors(doc)), "the schema check can fail"


def compose_one_shots() -> set[str]:
    """Services something waits for with ``service_completed_successfully``: they run and exit."""
    return {dep for svc in compose()["services"].values() for dep, how in svc.get("depends_on", {}).items()
            if how.get("condition") == "service_completed_successfully"}


def compose_waits_for(name: str) -> dict[str, str]:
    """Every service ``name`` waits for, directly or through others, with the condition it waits
    for (a list-form depends_on waits only for the start: "service_started")."""
    services = compose()["services"]
    seen: dict[str, str] = {}
    todo = [name]
    while todo:
        deps = services[todo.pop()].get("depends_on", {})
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for dep, how in deps.items():
            if dep not in seen:
                seen[dep] = how.get("condition", "service_started")
                todo.append(dep)
    return seen


def test_compose_services_health_dependencies_and_shutdown() -> None:
    services = compose()["services"]
    assert {"nginx", "api", "worker-gpu", "worker-mxnet", "beat", "redis", "postgres", "migrate"} <= set(services)
    assert compose_one_shots() == {"migrate", "minio-bucket"}
    for name, svc in services.items():
        if name in compose_one_shots():
            assert svc["restart"] == "no", f"{name} runs once"
        else:
            assert "healthcheck" in svc and not svc["healthcheck"].get("disable"), f"{name} has no health check"
    for name in ("api", "worker-gpu", "worker-mxnet", "beat"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker-gpu", "worker-mxnet"):
        assert seconds(services[name]["stop_grace_period"]) >= 300, name
        assert services[name].get("stop_signal", "SIGTERM") == "SIGTERM"
    devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    redis = services["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert services["nginx"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_compose_roles_ports_and_queues_agree() -> None:
    services = compose()["services"]
    script = start_sh()
    for name, svc in services.items():
        if str(svc.get("image", "")).startswith("trainyard"):
            command = svc["command"]
            assert command[0] in ROLES, name
            assert all(f in script for f in command[1:] if f.startswith("--")), name
    env = services["api"]["environment"]
    port = env["TRAINYARD_BIND"].rsplit(":", 1)[1]
    assert services["api"]["expose"] == [port]
    assert nginx_directive("server")[0] == f"api:{port}"
    listen = nginx_directive("listen")
    published = [p.rsplit(":", 1)[1] for p in services["nginx"]["ports"]]
    assert published == listen
    assert services["nginx"]["volumes"] == ["./nginx.conf:/etc/nginx/nginx.conf:ro"]
    gpu_cmd = services["worker-gpu"]["command"]
    assert gpu_cmd[gpu_cmd.index("--queues") + 1] == env["TRAINYARD_TORCH_QUEUE"]
    mx_cmd = services["worker-mxnet"]["command"]
    assert mx_cmd[mx_cmd.index("--queues") + 1] == env["TRAINYARD_MXNET_QUEUE"]
    assert mx_cmd[mx_cmd.index("--backend") + 1] == "mxnet"
    assert env["TRAINYARD_BROKER_URL"].startswith("redis://redis:6379/")
    assert "@postgres:5432/" in env["TRAINYARD_DATABASE_URL"]


def test_compose_roles_share_the_minio_artifact_store_and_wait_for_its_bucket() -> None:
    """The roles run in separate containers: a file:// store would not be shared, so every
    service that runs our code gets the same s3:// settings, pointing at the MinIO service, and
    starts only once the one-shot minio-bucket has made the bucket."""
    doc = compose()
    services = doc["services"]
    ours = {n for n, s in services.items() if str(s.get("image", "")).startswith("trainyard")}
    assert {"migrate", "api", "serving", "worker-gpu", "worker-mxnet", "beat"} <= ours
    url = services["api"]["environment"]["TRAINYARD_ARTIFACT_URL"]
    m = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^/].*)?", url)
    assert m, url
    bucket = m.group(1)
    for name in ours:
        env = services[name]["environment"]
        assert env.get("TRAINYARD_ARTIFACT_URL") == url, name
        assert env["TRAINYARD_ARTIFACT_S3_ENDPOINT_URL"] == "http://minio:9000", name
        assert str(env["TRAINYARD_ARTIFACT_S3_PATH_STYLE"]).lower() == "true", name
        assert env["TRAINYARD_ARTIFACT_S3_REGION"], name
        # the keys are MinIO's own, from the same variables, never literals in this file
        assert env["TRAINYARD_ARTIFACT_S3_ACCESS_KEY_ID"] == services["minio"]["environment"]["MINIO_ROOT_USER"]
        assert env["TRAINYARD_ARTIFACT_S3_SECRET_ACCESS_KEY"] == services["minio"]["environment"]["MINIO_ROOT_PASSWORD"]
        waits = compose_waits_for(name)
        assert waits.get("minio-bucket") == "service_completed_successfully", f"{name} does not wait for the bucket"
        assert waits.get("minio") == "service_healthy", name
    assert services["migrate"]["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
    # MinIO: the official image, a named volume, a health check, credentials from the environment
    minio = services["minio"]
    assert minio["image"].split(":")[0] in ("minio/minio", "quay.io/minio/minio")
    (volume,) = minio["volumes"]
    assert volume.split(":")[0] in doc["volumes"] and volume.endswith(":/data")
    assert "/data" in minio["command"]
    assert minio["environment"]["MINIO_ROOT_USER"].startswith("${MINIO_ROOT_USER")
    assert minio["environment"]["MINIO_ROOT_PASSWORD"].startswith("${MINIO_ROOT_PASSWORD:?")
    assert "ports" not in minio, "MinIO's API and console are for the compose network only"
    # the bucket: made once, idempotently, the one TRAINYARD_ARTIFACT_URL names, after MinIO is healthy
    bucket_job = services["minio-bucket"]
    assert bucket_job["image"].split(":")[0] in ("minio/mc", "quay.io/minio/mc")
    assert bucket_job["depends_on"]["minio"]["condition"] == "service_healthy"
    script = " ".join(bucket_job["command"])
    assert re.search(rf"\bmc mb --ignore-existing \w+/{re.escape(bucket)}(\s|$)", script), script
    assert "http://minio:9000" in script
    assert bucket_job["environment"] == {k: minio["environment"][k] for k in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD")}


def test_k8s_pods_take_the_artifact_store_settings_and_keys() -> None:
    config = objects_by("ConfigMap")["trainyard-config"]["data"]
    assert re.fullmatch(r"s3://[^/]+(/.*)?", config["TRAINYARD_ARTIFACT_URL"])
    assert "REPLACE_ME" in config["TRAINYARD_ARTIFACT_URL"], "the bucket is the operator's to name"
    assert "TRAINYARD_ARTIFACT_S3_ENDPOINT_URL" in config  # empty: AWS
    assert config["TRAINYARD_ARTIFACT_S3_PATH_STYLE"] in ("true", "false")
    assert "TRAINYARD_ARTIFACT_S3_REGION" in config
    secret = load_docs(K8S / "secret.template.yaml")[0]["stringData"]
    for key in ("TRAINYARD_ARTIFACT_S3_ACCESS_KEY_ID", "TRAINYARD_ARTIFACT_S3_SECRET_ACCESS_KEY"):
        assert key in secret and key not in config, key
    # every pod that runs our code (api, serving, workers, beat, migrate) takes both, whole
    roles = set()
    for path, obj in all_objects():
        if obj["kind"] not in ("Deployment", "Job", "StatefulSet"):
            continue
        for container in containers(obj):
            if not container["image"].startswith("trainyard"):
                continue
            roles.add(container["args"][0])
            sources = container.get("envFrom", [])
            assert {"name": "trainyard-config"} in [s.get("configMapRef") for s in sources], f"{path}"
            assert {"name": "trainyard-secrets"} in [s.get("secretRef") for s in sources], f"{path}"
            overridden = {e["name"] for e in container.get("env", [])}
            assert not {n for n in overridden if n.startswith("TRAINYARD_ARTIFACT_")}, f"{path} overrides the store"
    assert {"api", "serve", "worker", "beat", "migrate"} <= roles


# --- names, sizes and timeouts across files ---------------------------------------------------

def test_every_trainyard_env_name_is_read_by_something() -> None:
    known = known_env_names()
    sources = [ROOT / "docker-compose.yml", *manifest_files(), *sorted((ROOT / "docker").glob("*.Dockerfile"))]
    for path in sources:
        text = re.sub(r"\$\{[^}]*\}", "", path.read_text())  # compose interpolation is not container env
        unknown = set(ENV_NAME.findall(text)) - known
        assert not unknown, f"{path.name} sets {sorted(unknown)}, which nothing reads"
    config = objects_by("ConfigMap")["trainyard-config"]["data"]
    settings_env = {f"TRAINYARD_{f.upper()}" for f in Settings.model_fields}
    assert {"TRAINYARD_BROKER_URL", "TRAINYARD_TORCH_QUEUE", "TRAINYARD_MXNET_QUEUE"} <= set(config) & settings_env
    secret = load_docs(K8S / "secret.template.yaml")[0]["stringData"]
    assert "TRAINYARD_DATABASE_URL" in secret
    assert set(secret) - {"POSTGRES_PASSWORD"} <= settings_env, "the Secret's TRAINYARD_* keys are settings"
    artifact = {f"TRAINYARD_{f.upper()}" for f in Settings.model_fields if f.startswith("artifact_s3_")}
    artifact.add("TRAINYARD_ARTIFACT_URL")
    assert artifact <= set(config) | set(secret), "k8s carries every s3:// setting"
    assert artifact <= set(compose()["x-trainyard-env"]), "compose carries every s3:// setting"


def test_nginx_limits_fit_the_app_and_gunicorn() -> None:
    services = compose()["services"]
    max_upload = int(services["api"]["environment"]["TRAINYARD_MAX_UPLOAD_MB"])
    assert max_upload == Settings().max_upload_mb == int(objects_by("ConfigMap")["trainyard-config"]["data"]["TRAINYARD_MAX_UPLOAD_MB"])
    body, _serving_body = nginx_directive("client_max_body_size")  # the server's, the serving location's
    assert size_mb(body) >= max_upload >= 512
    assert set(nginx_directive("proxy_request_buffering")) == {"on"}  # both locations
    timeout = gunicorn_conf()["timeout"]
    # [serving location, API location]: the API's covers gunicorn's timeout; the serving one the
    # longest a prediction waits for its batch
    serving_read, api_read = (seconds(v) for v in nginx_directive("proxy_read_timeout"))
    serving_send, api_send = (seconds(v) for v in nginx_directive("proxy_send_timeout"))
    assert api_read >= timeout and api_send >= timeout
    assert min(serving_read, serving_send) > Settings().serve_request_timeout_seconds
    assert "application/json" in nginx_directive("gzip_types")[0].split()
    headers = {h.split()[0] for h in nginx_directive("proxy_set_header")}
    assert {"Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"} <= headers
    assert nginx_directive("return")[0].startswith("200")


# --- Dockerfiles -----------------------------------------------------------------------------

DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))


def final_stage(text: str) -> str:
    return re.split(r"^FROM\s", text, flags=re.M)[-1]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_is_slim_non_root_and_enters_through_start_sh(path: Path) -> None:
    text = path.read_text()
    joined = re.sub(r"\\\n", " ", text)
    last = final_stage(joined)
    assert "slim" in re.search(r"^ARG PYTHON_IMAGE=(\S+)", joined, re.M).group(1)
    assert re.search(r'^ENTRYPOINT \["\./start\.sh"\]', last, re.M)
    user = re.findall(r"^USER\s+(\S+)", last, re.M)
    assert user and not user[-1].startswith(("root", "0")), "the final stage must run as non-root"
    assert re.search(r"TRAINYARD_NO_VENV=1", last)
    assert not re.search(r"\b(build-essential|gcc|g\+\+|make|git)\b", last), "no build tools in the final stage"
    assert len(re.findall(r"^FROM\s", joined, re.M)) >= 2, "multi-stage"
    cmd = json.loads(re.search(r"^CMD (\[.*\])", last, re.M).group(1))
    assert cmd[0] in ROLES
    # every COPY source exists in the build context and is not excluded by .dockerignore
    ignored = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
               if l.strip() and not l.startswith("#")]
    for m in re.finditer(r"^COPY\s+(?!--from)(.+)$", joined, re.M):
        for src in shlex.split(m.group(1))[:-1]:
            assert (ROOT / src).exists(), f"{path.name} copies missing {src}"
            top = src.split("/")[0]
            assert top not in ignored or f"!{src}" in ignored, f"{path.name}: {src} is in .dockerignore"


def test_worker_images_match_their_backends() -> None:
    torch_df = (ROOT / "docker" / "worker.Dockerfile").read_text()
    assert "--index-url" in torch_df and "download.pytorch.org/whl/cu" in torch_df
    assert '".[worker]"' in torch_df
    mx_df = (ROOT / "docker" / "worker-mxnet.Dockerfile").read_text()
    assert "bootstrap_mxnet.sh" in mx_df and "numpy.__version__ < '1.24'" in mx_df
    assert "torch" not in re.sub(r"#.*", "", mx_df)
    api_df = re.sub(r"#.*", "", (ROOT / "docker" / "api.Dockerfile").read_text())
    assert "torch" not in api_df and "mxnet" not in api_df
    assert "gunicorn.conf.py" in api_df and "alembic.ini" in api_df and "migrations" in api_df


# --- gunicorn.conf.py ------------------------------------------------------------------------

def test_gunicorn_conf_reads_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAINYARD_BIND", raising=False)
    monkeypatch.delenv("TRAINYARD_GUNICORN_WORKERS", raising=False)
    conf = gunicorn_conf()
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["workers"] == min(2 * conf["cpu_count"]() + 1, 8) >= 3
    assert conf["accesslog"] == "-"
    assert "%({x-forwarded-for}i)s" in conf["access_log_format"]
    monkeypatch.setenv("TRAINYARD_BIND", "0.0.0.0:8000")
    monkeypatch.setenv("TRAINYARD_GUNICORN_WORKERS", "3")
    monkeypatch.setenv("TRAINYARD_GUNICORN_TIMEOUT", "42")
    conf = gunicorn_conf()
    assert (conf["bind"], conf["workers"], conf["timeout"]) == (["0.0.0.0:8000"], 3, 42)
    monkeypatch.setenv("TRAINYARD_GUNICORN_WORKERS", "0")  # 0: the default, from the cores
    assert gunicorn_conf()["workers"] == min(2 * conf["cpu_count"]() + 1, 8)
    monkeypatch.setenv("TRAINYARD_GUNICORN_WORKERS", "-1")
    with pytest.raises(ValueError, match="gunicorn_workers"):
        gunicorn_conf()
    monkeypatch.setenv("TRAINYARD_GUNICORN_WORKERS", "3")
    monkeypatch.setenv("TRAINYARD_LOG_LEVEL", "debug")
    monkeypatch.setenv("TRAINYARD_FORWARDED_ALLOW_IPS", "*")
    conf = gunicorn_conf()
    assert (conf["loglevel"], conf["forwarded_allow_ips"]) == ("debug", "*")


def test_gunicorn_conf_loads_in_gunicorn() -> None:
    from gunicorn.config import Config

    cfg = Config()
    for key, value in gunicorn_conf().items():
        if key in cfg.settings:
            cfg.set(key, value)
    assert cfg.worker_class_str == "gthread" and cfg.threads == 8
    assert cfg.forwarded_allow_ips == ["127.0.0.1"]


# --- the serving role ------------------------------------------------------------------------

def _serving_location() -> str:
    text = (ROOT / "nginx.conf").read_text()
    (regex,) = re.findall(r"^\s*location\s+~\s+(\S+)\s*\{", text, re.M)
    return regex


def test_serving_routes_agree_between_nginx_the_embedded_app_and_the_ingress() -> None:
    from serving.inference_paths import INFERENCE

    regex = _serving_location()
    assert regex == INFERENCE.pattern, "nginx.conf and serving/inference_paths.py must route the same paths"
    ingress = objects_by("Ingress")["trainyard-serving"]
    (path,) = ingress["spec"]["rules"][0]["http"]["paths"]
    assert "^" + path["path"] == regex
    assert path["backend"]["service"]["name"] == "serving"
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/use-regex"] == "true"
    for inference in ("/v2/health/ready", "/v2/models/sgn/infer", "/predictions/sgn/1",
                      "/api/v1/models/iris.onnx/prediction", "/api/v0/models/sgn/predict"):
        assert re.match(regex, inference), inference
    for control in ("/api/v0/models", "/api/v1/models/iris.onnx", "/models/sgn", "/ping", "/api/v0/new_task"):
        assert not re.match(regex, control), control


def test_serving_deployment_service_hpa_and_compose_agree() -> None:
    serving = objects_by("Deployment")["trainyard-serving"]
    (container,) = serving["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["serve"]
    env = {e["name"]: e["value"] for e in container["env"]}
    port = int(env["TRAINYARD_SERVE_BIND"].rsplit(":", 1)[1])
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": port}
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    service = objects_by("Service")["serving"]
    assert service["spec"]["selector"] == serving["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == port
    hpa = objects_by("HorizontalPodAutoscaler")["trainyard-serving"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "trainyard-serving"
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert nginx_directive("server")[1] == f"serving:{port}"
    svc = compose()["services"]["serving"]
    assert svc["command"] == ["serve"] and svc["expose"] == [str(port)]
    assert svc["environment"]["TRAINYARD_SERVE_BIND"].endswith(f":{port}")
    assert "/v2/health/ready" in " ".join(svc["healthcheck"]["test"])
    assert compose()["services"]["nginx"]["depends_on"]["serving"]["condition"] == "service_healthy"
    (body,) = [v for v in nginx_directive("client_max_body_size") if v != "520m"]
    assert size_mb(body) > Settings().serve_max_body_mb
