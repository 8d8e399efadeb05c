"""Request body templates with per-request random fields.

A template is text with placeholders in double braces, each replaced afresh for every request:

| placeholder | becomes |
| --- | --- |
| `{{seq}}` | the request's sequence number (0, 1, 2, ...) |
| `{{uuid}}` | a random UUID4 (hex with dashes) |
| `{{int:LO:HI}}` | a random integer in [LO, HI] |
| `{{float:LO:HI}}` | a random float in [LO, HI) |
| `{{floats:N}}` / `{{floats:N:LO:HI}}` | N comma-separated random floats in [0, 1) / [LO, HI) |
| `{{choice:a,b,c}}` | one of the listed words |
| `{{hex:N}}` | N random hex characters |

Placeholders are substituted as text: put quotes around them in JSON where a string is meant
(`"id": "{{uuid}}"`) and none where a number is (`"x": {{float:0:1}}`).
"""

from __future__ import annotations

import random
import re
import uuid
from typing import Callable

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z]+)((?::[^}]*)?)\s*\}\}")


class TemplateError(ValueError):
    """A placeholder that is unknown or has bad arguments."""


Field = Callable[[random.Random, int], str]


def _floats(args: list[str]) -> Field:
    n = int(args[0])
    lo, hi = (float(args[1]), float(args[2])) if len(args) == 3 else (0.0, 1.0)
    if n < 1 or len(args) not in (1, 3):
        raise ValueError
    return lambda rng, _: ",".join(f"{rng.uniform(lo, hi):.6g}" for _ in range(n))


def _make_field(name: str, args: list[str]) -> Field:
    if name == "seq" and not args:
        return lambda _, seq: str(seq)
    if name == "uuid" and not args:
        return lambda rng, _: str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if name == "int" and len(args) == 2:
        lo, hi = int(args[0]), int(args[1])
        return lambda rng, _: str(rng.randint(lo, hi))
    if name == "float" and len(args) == 2:
        lo_f, hi_f = float(args[0]), float(args[1])
        return lambda rng, _: repr(rng.uniform(lo_f, hi_f))
    if name == "floats":
        return _floats(args)
    if name == "choice" and len(args) == 1 and args[0]:
        words = args[0].split(",")
        return lambda rng, _: rng.choice(words)
    if name == "hex" and len(args) == 1:
        n = int(args[0])
        return lambda rng, _: f"{rng.getrandbits(4 * n):0{n}x}"
    raise ValueError


class Template:
    """A compiled template: ``render(seq)`` gives the bytes of one request's body."""

    def __init__(self, text: str, seed: int = 0):
        self.parts: list[str | Field] = []
        self.rng = random.Random(seed)
        pos = 0
        for match in _PLACEHOLDER.finditer(text):
            self.parts.append(text[pos:match.start()])
            name, raw = match.group(1), match.group(2)
            args = raw[1:].split(":") if raw else []
            try:
                self.parts.append(_make_field(name, args))
            except (ValueError, IndexError):
                raise TemplateError(f"bad placeholder {match.group(0)!r}; see `trainyard loadgen --help`") from None
            pos = match.end()
        self.parts.append(text[pos:])
        if "{{" in "".join(p for p in self.parts if isinstance(p, str)):
            raise TemplateError("unclosed or malformed '{{' placeholder in the body template")

    def render(self, seq: int) -> bytes:
        return "".join(p if isinstance(p, str) else p(self.rng, seq) for p in self.parts).encode()
