"""One prediction, whatever the interface: resolve the model, run the feeds through its
batcher (or the cache), count it, and shape class results for connectome models."""

from __future__ import annotations

import time

import numpy as np
from flask import current_app, g

from contracts.settings import get_settings
from dao.model_queries import Version
from serving import arrivals, metrics
from serving.batcher import BatcherStopped, RequestTimeout
from serving.errors import BadInput, NotLoaded, ServingError, Timeout, Unsupported
from serving.loaded import LoadedModel
from serving.registry import Registry


def registry() -> Registry:
    return current_app.extensions["trainyard_registry"]


def versions_now(name: str) -> list[Version] | None:
    """Every version of ``name`` in the database now (``Registry.versions_now``), read once per
    request: the token guard (the model's project) and the route share the read."""
    memo = g.setdefault("trainyard_versions", {})
    if name not in memo:
        memo[name] = registry().versions_now(name)
    return memo[name]


def version_names(name: str) -> list[str]:
    rows = versions_now(name)
    return [r.version for r in rows] if rows is not None else [s.entry.version for s in registry().versions(name)]


def ready(name: str, version: str | None = None) -> LoadedModel:
    """The model that answers for ``name`` now, loaded here first if need be. Raises
    UnknownModel, NotLoaded, ModelFailed (``Registry.ready_model``)."""
    return registry().ready_model(name, version, versions_now(name))


def resolve(name: str, version: str | None = None) -> LoadedModel:
    """``ready``, counting its errors."""
    try:
        return ready(name, version)
    except ServingError as exc:
        metrics.ERRORS.labels(_known(name), version or "", exc.kind).inc()
        raise


def _known(name: str) -> str:
    return name if version_names(name) else "_unknown"


def run(model: LoadedModel, feeds: dict, interface: str) -> list[np.ndarray]:
    """The model's outputs for ``feeds``. Raises BadInput (onnxruntime refused the feeds),
    NotLoaded (unloaded meanwhile), Timeout."""
    started = time.perf_counter()
    cache = current_app.extensions["trainyard_cache"]
    key = cache.key(model.sha256, feeds) if cache.entries else None
    outputs = cache.get(key) if key else None
    try:
        if outputs is not None:
            metrics.CACHE_HITS.labels(model.name, model.version).inc()
            timing = {}
        else:
            pending = model.predict(feeds, get_settings().serve_request_timeout_seconds, arrivals.reached)
            outputs, timing = pending.outputs, pending.timing
            if key:
                cache.put(key, outputs)
    except ServingError as exc:
        metrics.ERRORS.labels(model.name, model.version, exc.kind).inc()
        raise
    except (BatcherStopped, RequestTimeout, Exception) as exc:
        err = _as_serving_error(exc)
        metrics.ERRORS.labels(model.name, model.version, err.kind).inc()
        raise err from exc
    metrics.REQUESTS.labels(model.name, model.version, interface).inc()
    metrics.observe(model.name, model.version, timing, time.perf_counter() - started)
    return outputs


def _as_serving_error(exc: Exception) -> ServingError:
    if isinstance(exc, BatcherStopped):
        return NotLoaded(f"{exc}; try again", retry_after=1)
    if isinstance(exc, RequestTimeout):
        return Timeout(f"the model did not answer in time ({exc})", retry_after=1)
    # onnxruntime raises InvalidArgument / Fail for feeds its graph refuses
    return BadInput(f"the model refused the input: {str(exc).splitlines()[0][:300]}")


def need_classifier(model: LoadedModel) -> None:
    if model.is_detector:
        raise Unsupported(f"model {model.name!r} is a detector; use the KServe v2 /infer, /predictions or Fractal "
                          "prediction route")
    if not model.is_classifier:
        raise Unsupported(f"model {model.name!r} is an uploaded ONNX model without a connectome or image contract "
                          "(regions or image shape, class names); use the KServe v2 /infer or Fractal prediction "
                          "route")


def class_results(model: LoadedModel, probabilities: np.ndarray, subjects: list[str] | None = None,
                  key: str = "subject") -> list[dict]:
    """Per subject (or image: ``key``): predicted class (name and index) and every class's probability."""
    names = list(model.contract.get("class_names") or range(probabilities.shape[1]))
    out = []
    for i, row in enumerate(np.asarray(probabilities, dtype=np.float64)):
        best = int(row.argmax())
        item = {key: subjects[i] if subjects else str(i), "class": str(names[best]), "class_index": best,
                "probabilities": {str(n): float(p) for n, p in zip(names, row)}}
        out.append(item)
    return out
