"""The KEDA autoscaling manifests against the code: each ScaledObject's query is the one
dao/pending_work.py defines for the pool its Deployment runs (one source), Deployments that KEDA
scales carry no `replicas`, the GPU rollout never needs a spare GPU, and the CPU pools can
neither request nor see a GPU. What the queries count on real data: tests/service/test_pending_work.py.
"""

from __future__ import annotations

import re

import pytest
import yaml

from dao.pending_work import Pool, keda_query
from contracts.settings import Settings
from tests.deploy.test_configs import K8S, ROOT, compose, containers, objects_by

POOL_OF = {("torch", True): Pool.TORCH_GPU, ("torch", False): Pool.TORCH_CPU,
           ("mxnet", False): Pool.MXNET, ("mxnet", True): Pool.MXNET_GPU}
PAUSE_ANNOTATIONS = ("autoscaling.keda.sh/paused-replicas", "autoscaling.keda.sh/paused")


def configmap_settings() -> Settings:
    """The Settings every pod gets from k8s/configmap.yaml."""
    data = objects_by("ConfigMap")["trainyard-config"]["data"]
    return Settings(**{k.removeprefix("TRAINYARD_").lower(): v for k, v in data.items()})


def pool_of(deployment: dict) -> Pool:
    """The pool a worker Deployment runs: its --backend, and whether it requests a GPU."""
    (container,) = containers(deployment)
    args = container["args"]
    backend = args[args.index("--backend") + 1]
    gpu = "nvidia.com/gpu" in container.get("resources", {}).get("limits", {})
    return POOL_OF[(backend, gpu)]


def scaled_pools() -> dict[str, tuple[dict, Pool]]:
    """ScaledObject name → (the object, the pool of the Deployment it scales)."""
    deployments = objects_by("Deployment")
    return {name: (so, pool_of(deployments[so["spec"]["scaleTargetRef"]["name"]]))
            for name, so in objects_by("ScaledObject").items()}


def test_every_worker_deployment_is_scaled_on_its_own_pool() -> None:
    workers = {n for n, d in objects_by("Deployment").items()
               if d["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"}
    targets = {so["spec"]["scaleTargetRef"]["name"] for so, _ in scaled_pools().values()}
    assert targets == workers
    pools = [pool for _, pool in scaled_pools().values()]
    assert sorted(pools) == sorted(set(pools)), "two ScaledObjects scale the same pool"


def test_each_trigger_runs_the_query_the_code_defines() -> None:
    settings = configmap_settings()
    for name, (so, pool) in scaled_pools().items():
        triggers = so["spec"]["triggers"]
        assert triggers, name
        for trigger in triggers:
            # A Redis list holds only the sent part of a pool's work, and a GPU worker's list is
            # named after its pod: no list a manifest can name is a pool's pending work.
            assert trigger["type"] == "postgresql", f"{name}: {trigger['type']} trigger"
            meta = trigger["metadata"]
            assert meta["query"] == keda_query(pool, settings), f"{name}: run python -m dao.pending_work {pool.value}"
            assert (meta["targetQueryValue"], meta["activationTargetQueryValue"]) == ("1", "0")
            assert trigger["authenticationRef"]["name"] in objects_by("TriggerAuthentication")


def test_the_single_source_check_can_fail() -> None:
    """The comparison above sees a changed setting: auto_device and the lease change the text."""
    settings = configmap_settings()
    other = settings.model_copy(update={"auto_device": "any" if settings.auto_device == "gpu" else "gpu"})
    assert keda_query(Pool.TORCH_GPU, other) != keda_query(Pool.TORCH_GPU, settings)
    any_gpu = settings.model_copy(update={"auto_device": "any"})  # the lease matters there
    longer = any_gpu.model_copy(update={"lease_seconds": settings.lease_seconds + 1})
    assert keda_query(Pool.TORCH_CPU, longer) != keda_query(Pool.TORCH_CPU, any_gpu)


def test_keda_managed_deployments_have_no_replicas() -> None:
    """`kubectl apply -k k8s` would otherwise reset a scaled pool to that number."""
    deployments = objects_by("Deployment")
    for so, _ in scaled_pools().values():
        target = so["spec"]["scaleTargetRef"]["name"]
        assert "replicas" not in deployments[target]["spec"], target


def test_no_manifest_pauses_autoscaling() -> None:
    """An operator's pause (README) lives only in the cluster: an annotation in the manifest
    would be reset, or set, by every `kubectl apply -k k8s/keda`."""
    for name, (so, _) in scaled_pools().items():
        annotations = so["metadata"].get("annotations", {})
        assert not set(annotations) & set(PAUSE_ANNOTATIONS), name
    readme = (K8S / "README.md").read_text()
    for annotation in PAUSE_ANNOTATIONS[:1]:
        assert f"{annotation}=" in readme and f"{annotation}-" in readme, "pause and resume documented"


def test_gpu_rollouts_never_need_a_spare_gpu() -> None:
    """A surge pod asks for one GPU more than the pool holds: Pending forever when all are taken."""
    for name, deployment in objects_by("Deployment").items():
        if pool_of_or_none(deployment) in (Pool.TORCH_GPU, Pool.MXNET_GPU):
            strategy = deployment["spec"]["strategy"]
            assert strategy["type"] == "Recreate" or (
                strategy["rollingUpdate"]["maxSurge"] == 0 and strategy["rollingUpdate"]["maxUnavailable"] >= 1), name


def pool_of_or_none(deployment: dict) -> Pool | None:
    args = containers(deployment)[0].get("args", [])
    return pool_of(deployment) if "--backend" in args else None


def dockerfile_env(image: str) -> dict[str, str]:
    """ENV names set by the Dockerfile that builds ``image`` (per docker-compose.yml)."""
    builds = {s["image"].split(":")[0]: s["build"]["dockerfile"] for s in compose()["services"].values()
              if "build" in s and "image" in s}
    text = (ROOT / builds[image]).read_text().replace("\\\n", " ")
    names = {}
    for line in text.splitlines():
        if line.strip().startswith("ENV "):
            names.update(dict(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)", line)))
    return names


@pytest.mark.parametrize("name", ["trainyard-worker-cpu", "trainyard-worker-mxnet"])
def test_cpu_workers_can_neither_request_nor_see_a_gpu(name: str) -> None:
    deployment = objects_by("Deployment")[name]
    assert pool_of(deployment) in (Pool.TORCH_CPU, Pool.MXNET)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    resources = yaml.safe_dump(container.get("resources", {}))
    assert "nvidia.com/gpu" not in resources
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    image_env = dockerfile_env(container["image"].split(":")[0])
    assert not [n for n in {**image_env, **env} if n.startswith("NVIDIA_")], "an NVIDIA runtime would expose GPUs"
    assert env.get("CUDA_VISIBLE_DEVICES") == "", "CUDA and the NVML inventory must see no device"
    assert not [t for t in pod.get("tolerations", []) if t.get("key", "").startswith("nvidia.com/")]
    assert "nvidia.com/gpu.present" not in pod.get("nodeSelector", {})
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    for term in terms:  # every term (they are ORed) keeps GPU nodes out
        assert {"key": "nvidia.com/gpu.present", "operator": "NotIn", "values": ["true"]} in term["matchExpressions"]


def test_scale_down_is_slow_and_waits_for_quiet() -> None:
    """A pool shrinks one pod at a time after a quiet window; the pod that goes hands its task
    back within its grace period (k8s/README.md)."""
    deployments = objects_by("Deployment")
    for name, (so, _) in scaled_pools().items():
        spec = so["spec"]
        down = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
        assert down["stabilizationWindowSeconds"] >= 300 and spec["cooldownPeriod"] >= 300, name
        assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}], name
        pod = deployments[spec["scaleTargetRef"]["name"]]["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] >= 600, name
