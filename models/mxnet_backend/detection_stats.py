"""What the dataset view shows of a detection dataset: classes, boxes per class, images with no
boxes, box sizes, and the checksum. numpy and stdlib only; the API never loads the arrays, it
shows this metadata."""

from __future__ import annotations

import numpy as np

from models.mxnet_backend.detection_data import BOX_FORMAT, DETECTION_DATASET_KIND, DetectionDataset
from models.mxnet_backend.images import arrays_checksum

# COCO's object scales, by box area in pixels of the image as uploaded.
SMALL_AREA, LARGE_AREA = 32**2, 96**2


def content_checksum(ds: DetectionDataset) -> str:
    return arrays_checksum(ds.images, ds.objects.astype(np.float32), ds.class_names)


def _summary(values: np.ndarray) -> dict[str, float] | None:
    if not values.size:
        return None
    return {"min": round(float(values.min()), 4), "median": round(float(np.median(values)), 4),
            "mean": round(float(values.mean()), 4), "max": round(float(values.max()), 4)}


def box_sizes(ds: DetectionDataset) -> dict:
    """Box widths, heights and areas in pixels of each image as uploaded, the area as a fraction
    of its image, and COCO's small/medium/large counts."""
    obj = ds.objects
    sizes = ds.original_sizes[obj[:, 0].astype(np.int64)].astype(np.float64)  # (M, 2) H, W
    width = (obj[:, 4] - obj[:, 2]) * sizes[:, 1]
    height = (obj[:, 5] - obj[:, 3]) * sizes[:, 0]
    area = width * height
    return {
        "unit": "pixels of the image as uploaded",
        "width": _summary(width), "height": _summary(height),
        "area_fraction": _summary((obj[:, 4] - obj[:, 2]) * (obj[:, 5] - obj[:, 3])),
        "scales": {"small": int((area < SMALL_AREA).sum()),
                   "medium": int(((area >= SMALL_AREA) & (area < LARGE_AREA)).sum()),
                   "large": int((area >= LARGE_AREA).sum())},
    }


def _per_class(ds: DetectionDataset) -> tuple[dict[str, int], dict[str, int]]:
    """(boxes per class, images holding at least one box of the class)."""
    cls = ds.objects[:, 1].astype(np.int64)
    boxes = np.bincount(cls, minlength=ds.n_classes)
    pairs = np.unique(np.column_stack([ds.objects[:, 0].astype(np.int64), cls]), axis=0)
    images = np.bincount(pairs[:, 1], minlength=ds.n_classes) if len(pairs) else np.zeros(ds.n_classes, int)
    return ({n: int(c) for n, c in zip(ds.class_names, boxes)},
            {n: int(c) for n, c in zip(ds.class_names, images)})


def detection_metadata(ds: DetectionDataset) -> dict:
    """JSON-ready facts the API shows and decides from."""
    per_image = np.bincount(ds.objects[:, 0].astype(np.int64), minlength=ds.n_images)
    box_counts, images_per_class = _per_class(ds)
    h, w, c = ds.image_shape
    return {
        "kind": DETECTION_DATASET_KIND,
        "n_images": ds.n_images, "image_shape": [h, w, c], "channels": c,
        "classes": list(ds.class_names), "n_classes": ds.n_classes,
        "box_format": BOX_FORMAT,
        "n_boxes": ds.n_objects, "box_counts": box_counts, "images_per_class": images_per_class,
        "difficult_boxes": int((ds.objects[:, 6] == 1).sum()),
        "empty_images": int((per_image == 0).sum()),
        "boxes_per_image": {"mean": round(float(per_image.mean()), 4) if ds.n_images else 0.0,
                            "max": int(per_image.max()) if ds.n_images else 0},
        "box_size": box_sizes(ds),
        "image_sets": {name: int(len(m)) for name, m in sorted(ds.image_sets.items())},
        "checksum": content_checksum(ds),
    }
