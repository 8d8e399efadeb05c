"""Which paths are the serving role's (inference, its health and metrics): the embedded default
sends them to the serving app, nginx.conf and the ingress to the serving pods
(tests/deploy/test_configs.py checks that the three agree)."""

from __future__ import annotations

import re

INFERENCE = re.compile(
    r"^/(v2(/.*)?|predictions/.*|serving/metrics|api/v1/models/[^/]+/prediction|api/v0/models/[^/]+/predict)$")


def is_inference(path: str) -> bool:
    return bool(INFERENCE.match(path))
