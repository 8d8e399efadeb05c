"""Small ONNX files built with onnx.helper, for upload tests."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

W = np.arange(12, dtype=np.float32).reshape(4, 3) / 10.0
B = np.array([0.5, -0.5, 0.0], dtype=np.float32)


def linear_model() -> bytes:
    """y = x @ W + b for x of shape (N, 4): a Fractal-style iris stand-in."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "B"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def external_data_model() -> bytes:
    """The linear model with its weights pointing at a file beside it (refused)."""
    model = onnx.load_model_from_string(linear_model())
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    return model.SerializeToString()


def broken_model() -> bytes:
    """Parses, but the checker refuses it: a node reads a tensor nothing produces."""
    graph = helper.make_graph([helper.make_node("Relu", ["missing"], ["y"])], "broken",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()
