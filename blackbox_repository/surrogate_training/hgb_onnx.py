"""scikit-learn's ``HistGradientBoostingRegressor`` as an ONNX ``TreeEnsembleRegressor``.

skl2onnx 1.20.0 cannot convert scikit-learn 1.9's model: it hands ``False`` (a Python
bool) for the missing-value flag of every leaf to ``onnx.helper.make_attribute``, whose
``ints`` field refuses booleans (``TypeError: ... expected an int, got a boolean``). This
module writes the same tree ensemble from the fitted trees directly, with integer flags.

Semantics of a fitted tree node: go left when ``x <= num_threshold`` (and when ``x`` is NaN
if ``missing_go_to_left``); a prediction is the baseline plus the sum of the reached leaf
values (shrinkage is already applied to them). Thresholds are rounded *down* to float32,
so that a float32 input compares on the same side as in float64 (inputs are float32).
Categorical splits are not used by simtune's encodings and are refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from blackbox_repository.surrogate_training.errors import SurrogateTrainingError


def _float32_at_most(values: np.ndarray) -> np.ndarray:
    rounded = values.astype(np.float32)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


def hist_gradient_boosting_to_onnx(
    model: Any, n_features: int, input_name: str, target_opset: int
) -> bytes:
    """ONNX bytes of a fitted ``HistGradientBoostingRegressor`` (one float32 input)."""
    from onnx import TensorProto, helper

    attributes: dict[str, list] = {
        key: []
        for key in (
            "nodes_treeids",
            "nodes_nodeids",
            "nodes_featureids",
            "nodes_modes",
            "nodes_values",
            "nodes_truenodeids",
            "nodes_falsenodeids",
            "nodes_missing_value_tracks_true",
            "target_treeids",
            "target_nodeids",
            "target_ids",
            "target_weights",
        )
    }
    for tree_id, (predictor,) in enumerate(model._predictors):
        nodes = predictor.nodes
        if np.any(nodes["is_categorical"]):
            raise SurrogateTrainingError(
                "HistGradientBoosting models with categorical splits cannot be exported"
            )
        thresholds = _float32_at_most(nodes["num_threshold"].astype(np.float64))
        for node_id, node in enumerate(nodes):
            leaf = bool(node["is_leaf"])
            attributes["nodes_treeids"].append(tree_id)
            attributes["nodes_nodeids"].append(node_id)
            attributes["nodes_featureids"].append(0 if leaf else int(node["feature_idx"]))
            attributes["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            attributes["nodes_values"].append(0.0 if leaf else float(thresholds[node_id]))
            attributes["nodes_truenodeids"].append(0 if leaf else int(node["left"]))
            attributes["nodes_falsenodeids"].append(0 if leaf else int(node["right"]))
            attributes["nodes_missing_value_tracks_true"].append(
                0 if leaf else int(node["missing_go_to_left"])
            )
            if leaf:
                attributes["target_treeids"].append(tree_id)
                attributes["target_nodeids"].append(node_id)
                attributes["target_ids"].append(0)
                attributes["target_weights"].append(float(node["value"]))
    baseline = float(np.asarray(model._baseline_prediction).reshape(-1)[0])
    node = helper.make_node(
        "TreeEnsembleRegressor",
        [input_name],
        ["variable"],
        domain="ai.onnx.ml",
        n_targets=1,
        base_values=[baseline],
        post_transform="NONE",
        aggregate_function="SUM",
        **attributes,
    )
    graph = helper.make_graph(
        [node],
        "hist_gradient_boosting",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])],
    )
    onnx_model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", target_opset), helper.make_opsetid("ai.onnx.ml", 3)],
        producer_name="simtune",
    )
    onnx_model.ir_version = 8
    return onnx_model.SerializeToString()
