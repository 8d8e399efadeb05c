"""A seeded synthetic AAL90-like two-class connectome dataset (numpy only).

Each subject gets simulated regional BOLD-like time series: regions belong to a few functional
modules that share a latent signal, plus a global signal and region noise. A handful of region
pairs (in different modules, so their baseline coupling is weak) share an extra "pair" signal whose
strength differs between the groups: hyper-connected in SZ for half of the pairs, hypo-connected
for the others. A few "hub" regions also load less on their module in SZ (``hub_effect``), which
lowers their overall connectivity a little. Subject-level jitter of every coupling, of the noise level and the finite number of
time points make the classes overlap, so a good model beats chance clearly but not perfectly.

The disease pattern (modules and affected pairs) comes from ``structure_seed``; ``seed`` draws the
subjects. Two datasets with different ``seed`` are therefore two cohorts of the same "disorder".

``demo_aal90()`` is the registered demo dataset: 12 hubs losing 75% of their module loading in SZ,
so the faithful SGN, which sees little beyond each region's mean connectivity, learns from it.
"""

from __future__ import annotations

import numpy as np

from models.datasets.types import ConnectomeDataset

DEMO_DATASET_NAME = "A_181210_140_SZ_sfMRI_AAL90"
CLASS_NAMES = ("NC", "SZ")
FEATURE_NAMES = ("GMV", "ReHo", "ALFF", "DC")
# The demo's hub effect: the seed recipe (GNN, lr 0.05, batch 10, 20 epochs, 70/15/15) then scores
# 0.75-0.90 test accuracy on seeds 0-4, each Wilson interval above chance (docs/datasets.md, "Demo data").
DEMO_HUBS = 12
DEMO_HUB_EFFECT = 0.75


def demo_aal90() -> ConnectomeDataset:
    """The demo dataset registered as DEMO_DATASET_NAME: 140 subjects, 70 NC and 70 SZ."""
    return synthetic_aal90(140, seed=0, n_hubs=DEMO_HUBS, hub_effect=DEMO_HUB_EFFECT)


def synthetic_aal90(
    n_subjects: int = 140,
    *,
    seed: int = 0,
    n_regions: int = 90,
    n_timepoints: int = 130,
    n_modules: int = 7,
    n_pairs: int = 8,
    effect: float = 0.4,
    hub_effect: float = 0.25,
    structure_seed: int = 181210,
    with_features: bool = False,
    n_hubs: int = 4,
) -> ConnectomeDataset:
    """Simulate ``n_subjects`` (balanced NC/SZ) Fisher-z correlation matrices of ``n_regions``.

    ``effect`` is the group difference of the pair coupling (in units of the module loading);
    ``hub_effect`` the fraction of module loading the ``n_hubs`` SZ hubs lose. With the defaults a logistic
    regression on the vectorised upper triangle scores about 80-90% in cross-validation on 140
    subjects, one on each region's mean connectivity only about 55-60%.
    With ``with_features`` each region also gets four node features named like the original's
    (GMV, ReHo, ALFF, DC), derived from the simulated signals, with a small SZ grey-matter loss.

    Raises ValueError when there are fewer than 4 subjects, or too few regions for the pairs.
    """
    if n_subjects < 4:
        raise ValueError(f"need at least 4 subjects, got {n_subjects}")
    if n_regions < 2 * n_pairs or n_regions < n_modules:
        raise ValueError(f"{n_regions} regions are too few for {n_pairs} pairs and {n_modules} modules")
    structure = _structure(np.random.default_rng(structure_seed), n_regions, n_modules, n_pairs, n_hubs)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_subjects) % 2).astype(np.int64)
    conn = np.empty((n_subjects, n_regions, n_regions), dtype=np.float32)
    features = np.empty((n_subjects, n_regions, 4), dtype=np.float32) if with_features else None
    for i, label in enumerate(labels):
        series = _subject_series(rng, structure, int(label), n_timepoints, effect, hub_effect)
        conn[i] = _fisher_z(series)
        if features is not None:
            features[i] = _node_features(rng, structure, series, conn[i], int(label))
    subjects = tuple(f"{CLASS_NAMES[lab]}{i + 1:04d}" for i, lab in enumerate(labels))
    return ConnectomeDataset(
        conn=conn,
        labels=labels,
        subjects=subjects,
        class_names=CLASS_NAMES,
        features=features,
        feature_names=FEATURE_NAMES if with_features else (),
    )


def _structure(rng: np.random.Generator, n_regions: int, n_modules: int, n_pairs: int, n_hubs: int) -> dict:
    module = rng.permutation(np.arange(n_regions) % n_modules)
    pairs: list[tuple[int, int]] = []
    free = list(rng.permutation(n_regions))
    while len(pairs) < n_pairs:
        a = free.pop()
        b = next(r for r in free if module[r] != module[a])
        free.remove(b)
        pairs.append((int(a), int(b)))
    return {
        "module": module,
        "loading": rng.uniform(0.5, 0.9, n_regions),
        "pairs": pairs,
        "sign": np.where(np.arange(n_pairs) % 2 == 0, 1.0, -1.0),  # +: stronger in SZ
        "gmv_regions": rng.choice(n_regions, size=6, replace=False),
        "hubs": rng.choice(n_regions, size=n_hubs, replace=False),
    }


def _subject_series(rng, structure: dict, label: int, n_t: int, effect: float, hub_effect: float) -> np.ndarray:
    module = structure["module"]
    n_regions = module.shape[0]
    loading = structure["loading"] * rng.normal(1.0, 0.15, n_regions)
    if label == 1:
        loading[structure["hubs"]] *= 1.0 - hub_effect
    latent = rng.standard_normal((int(module.max()) + 1, n_t))
    series = loading[:, None] * latent[module] + 0.3 * rng.standard_normal(n_t)[None, :]
    series += rng.uniform(0.8, 1.3) * rng.standard_normal((n_regions, n_t))
    for (a, b), sign in zip(structure["pairs"], structure["sign"]):
        group_shift = effect if (label == 1) == (sign > 0) else 0.0
        coupling = max(0.0, 0.25 + group_shift + rng.normal(0.0, 0.2))
        shared = coupling * rng.standard_normal(n_t)
        series[a] += shared
        series[b] += shared
    return series


def _fisher_z(series: np.ndarray) -> np.ndarray:
    corr = np.corrcoef(series)
    z = np.arctanh(np.clip(corr, -0.999, 0.999))
    np.fill_diagonal(z, 0.0)
    return z


def _node_features(rng, structure: dict, series: np.ndarray, z: np.ndarray, label: int) -> np.ndarray:
    n_regions = series.shape[0]
    gmv = rng.normal(1.0, 0.1, n_regions)
    if label == 1:
        gmv[structure["gmv_regions"]] -= 0.06
    reho = rng.normal(1.0, 0.1, n_regions) + 0.1 * structure["loading"]
    alff = series.std(axis=1)
    dc = (np.tanh(z) > 0.25).sum(axis=1) / (n_regions - 1)
    return np.stack([gmv, reho, alff, dc], axis=1)
