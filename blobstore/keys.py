"""Object keys: a bounded charset and shape, so that a key can never escape the store's root
(``..``, a leading ``/``, a backslash) nor collide with the file store's temporary files
(segments never start with ``.``)."""

from __future__ import annotations

import re

MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 200  # a file name (255 at most) with the file store's temporary suffix

# segments of 1-200 letters, digits, '_', '-', '.', never starting with '.', joined by single '/'
_SEGMENT = rf"[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{MAX_SEGMENT_LENGTH - 1}}}"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
# a prefix: whole segments, each followed by '/', then optionally the start of one more
_PREFIX = re.compile(rf"(?:{_SEGMENT}/)*(?:{_SEGMENT})?")


class InvalidKey(ValueError):
    """A key or prefix outside the allowed shape."""


def validate_key(key: str) -> str:
    """``key`` itself if valid, else :class:`InvalidKey`. Valid: 1 to 512 characters of
    ``A-Z a-z 0-9 _ - . /``; '/'-separated segments, none empty and none starting with '.'
    (so no ``.``/``..``, no leading or trailing '/', no ``//``), each at most 200 long."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidKey(f"invalid blob key {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty, or whole segments each ending in '/' and optionally the start
    of one more segment (``tasks/12/``, ``tasks/12/ckpt-``)."""
    if not isinstance(prefix, str) or len(prefix) > MAX_KEY_LENGTH or not _PREFIX.fullmatch(prefix):
        raise InvalidKey(f"invalid blob key prefix {prefix!r}")
    return prefix
