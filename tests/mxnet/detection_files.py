"""Detection uploads built in memory or on disk for the importer tests: MXNet detection labels,
``.lst`` text, RecordIO written by MXNet itself, Pascal VOC annotation XML and VOC zips.

``mx.recordio.pack_img`` needs OpenCV, which the MXNet environment does not install; records are
packed with ``mx.recordio.pack`` around PNG bytes, which is what pack_img does after encoding.
"""

from __future__ import annotations

from pathlib import Path

import mxnet as mx
import numpy as np

from models.mxnet_backend.png import encode_png
from tests.mxnet.builders import zip_of


def det_label(objects, width: int = 5, extra_header=()) -> list[float]:
    """``[A, B, extra…, objects…]`` with A = 2 + len(extra_header), B = ``width``."""
    flat = [v for obj in objects for v in obj]
    return [2 + len(extra_header), width, *extra_header, *flat]


def lst_text(entries) -> bytes:
    """``index<TAB>label…<TAB>path`` lines from (index, label list, path)."""
    return "".join("\t".join([str(k), *(f"{v:.6f}" for v in label), path]) + "\n"
                   for k, label, path in entries).encode()


def write_recordio(folder: Path, records, stem: str = "det") -> tuple[Path, Path]:
    """(.rec, .idx) in ``folder``; ``records``: (key, label (a list, or a float), image bytes)."""
    rec, idx = folder / f"{stem}.rec", folder / f"{stem}.idx"
    writer = mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "w")
    for key, label, data in records:
        header = mx.recordio.IRHeader(0, np.asarray(label, np.float32) if isinstance(label, list) else label, key, 0)
        writer.write_idx(key, mx.recordio.pack(header, data))
    writer.close()
    return rec, idx


def noisy_png(h: int, w: int, seed: int) -> bytes:
    return encode_png(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def voc_xml(width: int | None, height: int | None, objects, filename: str = "x.jpg") -> bytes:
    """A VOC annotation; ``objects``: (name, xmin, ymin, xmax, ymax[, difficult])."""
    size = "" if width is None else f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
    parts = []
    for obj in objects:
        name, corners, difficult = obj[0], obj[1:5], (obj[5] if len(obj) > 5 else 0)
        box = "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), corners))
        parts.append(f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
                     f"<difficult>{difficult}</difficult><bndbox>{box}</bndbox></object>")
    return (f"<annotation><folder>VOC2007</folder><filename>{filename}</filename>{size}"
            f"{''.join(parts)}</annotation>").encode()


def voc_zip(items: dict, root: str = "VOCdevkit/VOC2007/", extra: dict | None = None) -> bytes:
    """A VOC zip: ``items`` id → (image bytes or None, xml bytes or None, image extension)."""
    members: dict = {f"{root}Annotations/": None, f"{root}JPEGImages/": None}
    for key, (image, xml, ext) in items.items():
        if image is not None:
            members[f"{root}JPEGImages/{key}{ext}"] = image
        if xml is not None:
            members[f"{root}Annotations/{key}.xml"] = xml
    members.update({f"{root}{k}": v for k, v in (extra or {}).items()})
    return zip_of(members)
