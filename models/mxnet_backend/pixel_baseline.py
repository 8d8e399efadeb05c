"""The image baseline beside every MXNet training task's test result: a logistic regression on
the pixels (scikit-learn), fitted on the task's own training images and scored on its own test
images, compared image by image with the task's network (models.baseline_report).

Its time is bounded: at most MAX_TRAIN training images (a stratified, seeded sample beyond that)
and at most MAX_FEATURES inputs per image (larger images are averaged over square blocks first);
``fitted_on`` says what it saw and the record how long it took. A form's ``skip_baseline`` leaves
it out.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from models.baseline_report import baseline_record, sample, skipped
from models.mxnet_backend.images import ImageDataset

NAME = "pixel-logreg"
MAX_TRAIN = 5000
MAX_FEATURES = 4096  # 64×64 grey or about 37×37 colour
MAX_ITER = 300


def beside(spec, model_prob: np.ndarray) -> dict:  # noqa: ANN001 - an MxJobSpec
    """The keys a finished training task's result gains: the baseline's record, or why it has none."""
    if not spec.with_baseline:
        return skipped("skip_baseline was set on the form")
    started = time.perf_counter()
    train = _bounded(spec.train, spec.params.seed)
    block = _block(spec.train)
    try:
        classifier = _fit(pixels(train, block), train.labels)
    except ValueError as exc:  # one class only, ...: the task's own result stands
        return skipped(f"the baseline could not be fitted on this data: {exc}")
    prob = np.zeros((spec.test.n_images, spec.test.n_classes))
    prob[:, classifier.classes_] = classifier.predict_proba(pixels(spec.test, block))
    images = [f"image {i}" for i in range(spec.test.n_images)]
    return baseline_record(spec.test.labels, model_prob, prob, spec.test.class_names, images,
                           seed=spec.params.seed, model=NAME, fitted_on=_said(train, spec.train, block),
                           n_train=train.n_images, seconds=time.perf_counter() - started)


def pixels(ds: ImageDataset, block: int) -> np.ndarray:
    """(N, features) in [0, 1]: each image averaged over ``block``×``block`` squares (1: as is)."""
    x = ds.images.astype(np.float32) / 255.0
    if block > 1:
        n, h, w, c = x.shape
        x = x[:, : h - h % block, : w - w % block]
        x = x.reshape(n, h // block, block, w // block, block, c).mean(axis=(2, 4))
    return x.reshape(len(x), -1)


def _fit(x: np.ndarray, y: np.ndarray) -> LogisticRegression:
    with warnings.catch_warnings():  # MAX_ITER bounds the time; the fit it reaches is what is scored
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(max_iter=MAX_ITER).fit(x, y)


def _block(ds: ImageDataset) -> int:
    h, w, c = ds.image_shape
    return max(1, math.ceil(math.sqrt(h * w * c / MAX_FEATURES)))


def _bounded(train: ImageDataset, seed: int) -> ImageDataset:
    return train if train.n_images <= MAX_TRAIN else train.subset(sample(train.labels, MAX_TRAIN, seed))


def _said(fitted: ImageDataset, whole: ImageDataset, block: int) -> str:
    images = (f"a sample of {fitted.n_images} of the task's {whole.n_images} training images (stratified)"
              if fitted.n_images < whole.n_images else "the task's training images")
    return images if block == 1 else f"{images}, averaged over {block}×{block} pixel blocks"
