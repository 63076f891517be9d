"""Fitted models to ONNX: a pickle-free model file that onnxruntime reads.

scikit-learn models go through skl2onnx, LightGBM models through onnxmltools. Every model
takes one float32 input ``features`` of shape (rows, n_features) and returns one float32
output of shape (rows, 1) or (rows,).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from blackbox_repository.surrogate_training.errors import SurrogateTrainingError

INPUT_NAME = "features"
TARGET_OPSET = 15  # the highest onnxmltools 1.16 converts LightGBM to


def model_to_onnx(model: Any, n_features: int) -> bytes:
    """Serialize a fitted regressor of a known family to ONNX bytes."""
    try:
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError as error:
        raise SurrogateTrainingError(
            "exporting surrogate models needs skl2onnx: pip install 'simtune[surrogate-training]'"
        ) from error
    input_types = [(INPUT_NAME, FloatTensorType([None, n_features]))]
    if type(model).__name__ == "HistGradientBoostingRegressor":
        from blackbox_repository.surrogate_training.hgb_onnx import hist_gradient_boosting_to_onnx

        return hist_gradient_boosting_to_onnx(model, n_features, INPUT_NAME, TARGET_OPSET)
    if type(model).__module__.startswith("lightgbm"):
        import onnxmltools

        onnx_model = onnxmltools.convert_lightgbm(
            model, initial_types=input_types, target_opset=TARGET_OPSET
        )
    else:
        from skl2onnx import convert_sklearn

        onnx_model = convert_sklearn(model, initial_types=input_types, target_opset=TARGET_OPSET)
    name_graphs(onnx_model.graph, f"simtune-{type(model).__name__}")
    return onnx_model.SerializeToString()


def name_graphs(graph: Any, name: str) -> None:
    """Give ``graph``, its subgraphs (a kNN's ``Scan`` body, ...), their nodes and the
    values their nodes pass on fixed names.

    The converters name graphs with random uuids and number nodes and values with counters
    that run on in the process; fixed names make the same model the same bytes, and so the
    same sha256 in the metadata, whichever process exports it and when.
    """
    graph.name = name
    _number_inner_values(graph, name)
    for index, node in enumerate(graph.node):
        for attribute in node.attribute:
            for position, subgraph in enumerate(_subgraphs(attribute)):
                name_graphs(subgraph, f"{name}/node{index}/{attribute.name}/{position}")


def _subgraphs(attribute: Any) -> list[Any]:
    return ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs)


def _names_in(graph: Any) -> set[str]:
    """Every value name ``graph`` and its subgraphs mention (a subgraph may read a value of
    an enclosing graph by name)."""
    names = {value.name for value in (*graph.input, *graph.output)}
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
        for attribute in node.attribute:
            for subgraph in _subgraphs(attribute):
                names |= _names_in(subgraph)
    return names


def _number_inner_values(graph: Any, prefix: str) -> None:
    """Name the nodes of ``graph`` by position, and the values they make for one another by
    order of appearance; its outputs and values its subgraphs mention keep their names."""
    kept = {output.name for output in graph.output}
    for node in graph.node:
        for attribute in node.attribute:
            for subgraph in _subgraphs(attribute):
                kept |= _names_in(subgraph)
    renamed: dict[str, str] = {}
    for index, node in enumerate(graph.node):
        node.name = f"{prefix}/node{index}"
        for position, value in enumerate(node.input):
            if value in renamed:
                node.input[position] = renamed[value]
        for position, value in enumerate(node.output):
            if value and value not in kept:
                renamed[value] = node.output[position] = f"{prefix}/value{len(renamed)}"
    for info in graph.value_info:
        if info.name in renamed:
            info.name = renamed[info.name]


class OnnxRegressor:
    """An ONNX regressor evaluated with onnxruntime on one thread; rebuilt after unpickling."""

    def __init__(self, model: bytes) -> None:
        self.model = model
        self._session = None

    def _open(self):
        try:
            import onnxruntime
        except ImportError as error:
            raise SurrogateTrainingError(
                "trained surrogates need onnxruntime: pip install 'simtune[surrogates]'"
            ) from error
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return onnxruntime.InferenceSession(self.model, options, providers=["CPUExecutionProvider"])

    def predict(self, features: np.ndarray) -> np.ndarray:
        if self._session is None:
            self._session = self._open()
        (output,) = self._session.run(
            None, {INPUT_NAME: np.ascontiguousarray(features, dtype=np.float32)}
        )[:1]
        return np.asarray(output, dtype=float).reshape(-1)

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model, "_session": None}
