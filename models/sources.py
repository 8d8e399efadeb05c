"""What the loaders of stored blobs read: the bytes, or a seekable local file (or its path), so a
worker can load a dataset or checkpoint in place without holding its bytes beside what it loads.

Standard library only.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO, Union

#: bytes, a seekable binary file (read from its start) or a path
Source = Union[bytes, bytearray, memoryview, BinaryIO, str, os.PathLike]


def as_file(source: Source) -> BinaryIO | str | os.PathLike:
    """``source`` as ``np.load``, ``zipfile.ZipFile`` and ``torch.load`` take it: bytes wrapped in a
    BytesIO (no copy of bytes), a file rewound to its start, a path as it is."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    if isinstance(source, (str, os.PathLike)):
        return source
    source.seek(0)
    return source
