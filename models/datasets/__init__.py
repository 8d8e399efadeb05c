"""Connectome datasets: the in-memory type, importers, validation, metadata, splits, synthetic data.

numpy only: the API process imports this package to validate uploads, so it must never import
torch.
"""

from models.datasets.types import ConnectomeDataset, DatasetImportError

__all__ = ["ConnectomeDataset", "DatasetImportError"]
