"""Operator commands: ``python -m app.manage register-demo`` (the service admin on a first start,
the demo connectome dataset, the demo image dataset and the demo detection dataset) and ``move-blobs`` (task artifacts and
datasets kept in their database rows moved to the blob store; ``start.sh move-blobs``)."""

from __future__ import annotations

import argparse
import logging

from dao import dataset_queries
from dao.db import session_scope
from dao.tables import Dataset

log = logging.getLogger("trainyard.manage")


def register_demo() -> bool:
    """Register the seed form's dataset (synthetic, 140 subjects) unless it exists already."""
    from models.datasets.metadata import describe
    from models.datasets.synthetic import DEMO_DATASET_NAME, demo_aal90

    return _register_once(DEMO_DATASET_NAME, "connectome", "synthetic", demo_aal90, describe)


def register_demo_images() -> bool:
    """Register the demo image dataset (600 generated 28×28 grey shapes, numpy only) unless it
    exists already."""
    from models.mxnet_backend.demo import DEMO_IMAGE_DATASET, make_demo_images
    from models.mxnet_backend.images import image_metadata

    return _register_once(DEMO_IMAGE_DATASET, "image", "generated",
                          lambda: make_demo_images(per_class=150, seed=0), image_metadata)


def register_demo_detection() -> bool:
    """Register the demo detection dataset (300 generated 64×64 colour images of shapes with
    their boxes, numpy only) unless it exists already."""
    from models.mxnet_backend.detection_demo import DEMO_DETECTION_DATASET, make_demo_detection
    from models.mxnet_backend.detection_stats import detection_metadata

    return _register_once(DEMO_DETECTION_DATASET, "detection", "generated",
                          lambda: make_demo_detection(n_images=300, seed=0), detection_metadata)


def _register_once(name: str, kind: str, source: str, make, describe) -> bool:  # noqa: ANN001
    with session_scope() as session:
        if session.get(Dataset, name) is not None:
            return False
        dataset = make()
        dataset_queries.insert_dataset(session, name, kind, describe(dataset), dataset.to_npz_bytes(),
                                       source_filename=source, subject_prints=_prints(kind, dataset))
    log.info("registered the demo %s dataset %s", kind, name)
    return True


def _prints(kind: str, dataset) -> bytes | None:  # noqa: ANN001
    """A connectome dataset's subject fingerprints, as an upload stores them."""
    if kind != "connectome":
        return None
    from models.datasets import fingerprints

    return fingerprints.to_bytes(fingerprints.fingerprint(dataset))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.manage")
    parser.add_argument("command", choices=["register-demo", "move-blobs"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if args.command == "register-demo":
        from app.auth.bootstrap import ensure_admin

        print(f"trainyard: {ensure_admin()}")
        print("registered" if register_demo() else "already registered")
        print("images: registered" if register_demo_images() else "images: already registered")
        print("detection: registered" if register_demo_detection() else "detection: already registered")
    elif args.command == "move-blobs":
        from dao.move_blobs import move_datasets, move_task_artifacts

        moved = move_task_artifacts()
        print(f"moved {moved.rows} task artifacts ({moved.bytes} bytes) to the blob store; "
              f"{moved.skipped} changed meanwhile and were left to their writer")
        moved = move_datasets()
        print(f"moved {moved.rows} datasets ({moved.bytes} bytes) to the blob store; "
              f"{moved.skipped} changed meanwhile and were left to their writer")
        from dao.move_blobs import move_served_models

        moved = move_served_models()
        print(f"moved {moved.rows} served models' ONNX files ({moved.bytes} bytes) to the blob store; "
              f"{moved.skipped} changed meanwhile and were left to their writer")


if __name__ == "__main__":
    main()
