"""Can a trained model be fine-tuned or evaluated on new data? (torch-free, for the API.)

The API decides this from stored metadata before it queues a ``dl_ft`` or ``dl_ev`` task; the
engine makes the same check again against the weights blob, so both refuse with the same words.
"""

from __future__ import annotations

from contracts.catalog import find_model


class IncompatibleModel(ValueError):
    """A parent model does not fit the requested model or data. ``problems`` lists each mismatch."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def node_features_for(regions: int, dataset_features: int) -> int:
    """Node features a network sees: the dataset's F when F > 0, else one per region (its row)."""
    return int(dataset_features) if int(dataset_features) > 0 else int(regions)


def check_compatible(parent_contract: dict, model: str, regions: int, node_features: int,
                     classes: int) -> list[str]:
    """Each way the parent's contract differs from the requested one; empty when they fit.

    ``parent_contract`` is a ``JobOutcome.contract`` ({model, regions, node_features, classes, ...}).
    Only the fields the model's catalog entry lists as its contract are compared (MLP ignores node
    features). Every message names the parent's value and the requested one.
    """
    parent_info = find_model(str(parent_contract.get("model", "")))
    wanted_info = find_model(model)
    parent_name = parent_info.name if parent_info else str(parent_contract.get("model"))
    wanted_name = wanted_info.name if wanted_info else str(model)
    if parent_name != wanted_name:
        return [f"model: the parent model is {parent_name}, this task asks for {wanted_name}"]
    fields = wanted_info.contract if wanted_info else ("regions", "node_features", "classes")
    wanted = {"regions": regions, "node_features": node_features, "classes": classes}
    problems = []
    for key in fields:
        have = parent_contract.get(key)
        if have is None or int(have) != int(wanted[key]):
            problems.append(f"{key}: the parent model was trained with {have}, this task's data has {wanted[key]}")
    return problems
