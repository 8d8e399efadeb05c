"""RecordIO files written without MXNet (the service tests run in the torch venv): dmlc's
record framing (magic, length word, 4-byte padding), MXNet's IRHeader and the .idx text."""

from __future__ import annotations

import struct

from models.mxnet_backend.png import encode_png

MAGIC = 0xCED7230A


def recordio_pair(images, labels) -> tuple[bytes, bytes]:  # noqa: ANN001 - N×H×W×C uint8, N ints
    """(.rec, .idx) holding one PNG record per image, keyed 0…N−1, labelled."""
    rec, idx = bytearray(), []
    for key, (image, label) in enumerate(zip(images, labels)):
        payload = struct.pack("<IfQQ", 0, float(label), key, 0) + encode_png(image)
        idx.append(f"{key}\t{len(rec)}\n")
        rec += struct.pack("<II", MAGIC, len(payload)) + payload + b"\0" * (-len(payload) % 4)
    return bytes(rec), "".join(idx).encode()
