"""A structural JSON schema for the KEDA objects in k8s/keda/ (keda.sh/v1alpha1).

KEDA's CRDs are not in the core Kubernetes schemas, and no PyPI package here bundles them, so this
is a hand-written subset of the ScaledObject and TriggerAuthentication fields, after KEDA's
documentation (scaler pages for `redis` and `postgresql`, ScaledObject spec, authentication).
Every object is closed (additionalProperties: false): a misspelt field fails, as it would against
the CRD's structural schema. Trigger metadata is checked per scaler type, with the values as
strings, which is how KEDA's CRD types them.
"""

_STR = {"type": "string"}
_INT_STR = {"type": "string", "pattern": r"^[0-9]+$"}
_META = {
    "type": "object",
    "required": ["name", "namespace"],
    "properties": {"name": _STR, "namespace": _STR,
                   "labels": {"type": "object", "additionalProperties": _STR},
                   "annotations": {"type": "object", "additionalProperties": _STR}},
    "additionalProperties": False,
}
_HPA_POLICY = {
    "type": "object",
    "required": ["type", "value", "periodSeconds"],
    "properties": {"type": {"enum": ["Pods", "Percent"]}, "value": {"type": "integer", "minimum": 1},
                   "periodSeconds": {"type": "integer", "minimum": 1, "maximum": 1800}},
    "additionalProperties": False,
}
_HPA_RULES = {
    "type": "object",
    "properties": {"stabilizationWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
                   "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
                   "policies": {"type": "array", "items": _HPA_POLICY}},
    "additionalProperties": False,
}
_REDIS_METADATA = {
    "type": "object",
    "required": ["listName", "listLength"],
    "properties": {
        "address": {"type": "string", "pattern": r"^[A-Za-z0-9.\-]+:[0-9]+$"},
        "addressFromEnv": _STR, "host": _STR, "port": _INT_STR, "hostFromEnv": _STR, "portFromEnv": _STR,
        "usernameFromEnv": _STR, "passwordFromEnv": _STR,
        "listName": _STR, "listLength": _INT_STR, "activationListLength": _INT_STR,
        "enableTLS": {"enum": ["true", "false"]}, "unsafeSsl": {"enum": ["true", "false"]},
        "databaseIndex": _INT_STR,
    },
    "additionalProperties": False,
}
_POSTGRES_METADATA = {
    "type": "object",
    "required": ["query", "targetQueryValue"],
    "properties": {
        "connectionFromEnv": _STR, "host": _STR, "port": _INT_STR, "userName": _STR, "dbName": _STR,
        "sslmode": {"enum": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]},
        "passwordFromEnv": _STR, "query": _STR,
        "targetQueryValue": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
        "activationTargetQueryValue": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
    },
    "additionalProperties": False,
}
_TRIGGER_COMMON = {
    "type": _STR, "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
    "metadata": {"type": "object"}, "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
    "useCachedMetrics": {"type": "boolean"},
    "authenticationRef": {"type": "object", "required": ["name"],
                          "properties": {"name": _STR, "kind": {"enum": ["TriggerAuthentication",
                                                                         "ClusterTriggerAuthentication"]}},
                          "additionalProperties": False},
}
_TRIGGER = {
    "type": "object",
    "required": ["type", "metadata"],
    "properties": _TRIGGER_COMMON,
    "additionalProperties": False,
    "allOf": [
        {"if": {"properties": {"type": {"const": "redis"}}},
         "then": {"properties": {"metadata": _REDIS_METADATA}}},
        {"if": {"properties": {"type": {"const": "postgresql"}}},
         "then": {"properties": {"metadata": _POSTGRES_METADATA}}},
        {"properties": {"type": {"enum": ["redis", "postgresql"]}}},
    ],
}
SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "ScaledObject"}, "metadata": _META,
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"],
                                   "properties": {"apiVersion": _STR, "kind": _STR, "name": _STR,
                                                  "envSourceContainerName": _STR},
                                   "additionalProperties": False},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {"type": "object", "required": ["failureThreshold", "replicas"],
                             "properties": {"failureThreshold": {"type": "integer"},
                                            "replicas": {"type": "integer"}},
                             "additionalProperties": False},
                "advanced": {
                    "type": "object",
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "properties": {"name": _STR, "behavior": {
                                "type": "object",
                                "properties": {"scaleUp": _HPA_RULES, "scaleDown": _HPA_RULES},
                                "additionalProperties": False}},
                            "additionalProperties": False},
                    },
                    "additionalProperties": False,
                },
                "triggers": {"type": "array", "minItems": 1, "items": _TRIGGER},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
TRIGGER_AUTHENTICATION = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "TriggerAuthentication"},
        "metadata": _META,
        "spec": {
            "type": "object",
            "properties": {
                "secretTargetRef": {"type": "array", "items": {
                    "type": "object", "required": ["parameter", "name", "key"],
                    "properties": {"parameter": _STR, "name": _STR, "key": _STR},
                    "additionalProperties": False}},
                "env": {"type": "array", "items": {
                    "type": "object", "required": ["parameter", "name"],
                    "properties": {"parameter": _STR, "name": _STR, "containerName": _STR},
                    "additionalProperties": False}},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
SCHEMAS = {"ScaledObject": SCALED_OBJECT, "TriggerAuthentication": TRIGGER_AUTHENTICATION}
