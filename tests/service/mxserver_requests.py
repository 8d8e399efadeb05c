"""MXServer's train and test request bodies, as its repository's ``test/test_resources.py`` has
them (TRAIN_REQUEST_JSON, TEST_REQUEST_JSON): every field, nesting, string-typed number and
"0"/"1" flag kept. Only values that name things on the original's disk or size the job are
changed to what this test has: the network (alexnet → small-cnn, 4 classes), the classes, the
image shapes (grey 28×28), the epochs and save period, and the file names (the RecordIO pair the
test uploads as train.rec/train.idx and val.rec/val.idx, the evaluated checkpoint's epoch).
"""

from __future__ import annotations

import copy
import json

CLASSES = {"0": "circle", "1": "square", "2": "triangle", "3": "cross"}

TRAIN_REQUEST = {
    "classes": CLASSES,
    "net": {"type": "built_in", "name": "small-cnn", "config": {"num_classes": "4"}},
    "for_training": "0",
    "target": "classify",
    "context": [{"device_name": "cpu", "device_id": "0"}],
    "eval_metrics": ["acc"],
    "train_param": {
        "begin_epoch": "0",
        "num_epoch": "4",
        "kvstore": "local",
        "save_prefix": "shapes",
        "save_period": "2",
        "resume_config": {"is_resume": "1", "ckp": {}},
        "data_param": {
            "source": "local",
            "ftype": "rec",
            "batch_size": "16",
            "shuffle": "0",
            "name": "data",
            "shapes": ["1", "28", "28"],
            "file_url": {"train_rec": "train.rec", "train_idx": "train.idx", "val_rec": "val.rec"},
        },
        "label_param": {"name": "softmax_label", "shapes": ["1"]},
        "lr_scheduler": {"type": "Factor",
                         "lr_scheduler_config": {"step": "1000", "factor": "0.1", "stop_factor_lr": "0.001"}},
        "optimizer": {"type": "sgd", "opt_config": {"base_lr": "0.1", "wd": "0.0005", "momentum": "0.9"}},
        "initializer": {"type": "normal", "init_config": {"sigma": "0.25"}},
    },
    "test_param": {},
}

TEST_REQUEST = {
    "classes": CLASSES,
    "net": {"type": "built_in", "name": "small-cnn", "config": {"num_classes": "4"}},
    "for_training": "1",
    "target": "classify",
    "context": [{"device_name": "cpu", "device_id": "0"}],
    "eval_metrics": ["acc"],
    "train_param": {},
    "test_param": {
        "ckp": {"prefix": "shapes", "epoch": "2"},
        "test_img_config": {
            "source": "local",
            "use_label": "1",
            "label": {"cls_label": "test.txt", "detec_xml_label": "annotations.txt"},
            "img_list": ["test.rec"],
            "img_shapes": ["28", "28"],
        },
    },
}


def train_request(**paths) -> dict:
    """A copy of TRAIN_REQUEST with fields changed by dotted path: ``train_request(**{
    "train_param.num_epoch": "1"})``; a value of None deletes the field."""
    return changed(TRAIN_REQUEST, paths)


def eval_request(**paths) -> dict:
    return changed(TEST_REQUEST, paths)


def changed(body: dict, paths: dict) -> dict:
    out = copy.deepcopy(body)
    for path, value in paths.items():
        *parents, last = path.split(".")
        node = out
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is None:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return out


def wrapped(task_id: str, desc: dict, as_string: bool = True) -> dict:
    """How MXServer's clients post: ``{"task_id", "task_desc"}``, the desc a JSON string."""
    return {"task_id": task_id, "task_desc": json.dumps(desc) if as_string else desc}
