"""Small ONNX models in exactly YAHPO's input and output layout, and yahpo-gym's input rule.

A YAHPO model takes ``x_cat`` (int32, one column per categorical input) as its first input
and ``x_cont`` (float32, one column per continuous input) as its second, and gives one
float32 output of one column per objective. The models built here are a small two-layer
network over both inputs (random weights from a seed): enough arithmetic that onnxruntime's
batched and single-row kernels can differ, as with the real models.

:func:`yahpo_gym_inputs` rebuilds a configuration's model inputs by the rule yahpo-gym's
``BenchmarkSet._config_to_xs`` follows (written from its documented behaviour, for the
tests' independent reference): every hyperparameter of the full config space missing from
the configuration (inactive, or the instance/fixed inputs before constants are applied) is
``"#na#"`` if categorical, else 0; constants (the instance) overwrite the configuration.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HIDDEN_UNITS = 48


def build_model(n_cat: int, n_cont: int, n_out: int, seed: int = 0) -> bytes:
    """A serialized ONNX model with YAHPO's inputs (x_cat, x_cont) and output (n_out wide)."""
    rng = np.random.default_rng(seed)
    n_in = n_cat + n_cont
    weights = {
        "W1": rng.normal(0, 0.3, (n_in, HIDDEN_UNITS)).astype(np.float32),
        "b1": rng.normal(0, 0.1, HIDDEN_UNITS).astype(np.float32),
        "W2": rng.normal(0, 0.3, (HIDDEN_UNITS, n_out)).astype(np.float32),
        "b2": rng.normal(0, 0.1, n_out).astype(np.float32),
    }
    nodes = [
        helper.make_node("Cast", ["x_cat"], ["cat_float"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["cat_float", "x_cont"], ["joined"], axis=1),
        helper.make_node("MatMul", ["joined", "W1"], ["hidden_linear"]),
        helper.make_node("Add", ["hidden_linear", "b1"], ["hidden_shifted"]),
        helper.make_node("Tanh", ["hidden_shifted"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "W2"], ["out_linear"]),
        helper.make_node("Add", ["out_linear", "b2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "yahpo_layout_fixture",
        [
            helper.make_tensor_value_info("x_cat", TensorProto.INT32, [None, n_cat]),
            helper.make_tensor_value_info("x_cont", TensorProto.FLOAT, [None, n_cont]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, n_out])],
        initializer=[numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def yahpo_gym_inputs(
    config: Mapping[str, Any],
    constants: Mapping[str, Any],
    all_hyperparameters: Sequence[str],
    cat_names: Sequence[str],
    cont_names: Sequence[str],
    encoding: Mapping[str, Mapping[str, int]],
) -> tuple[np.ndarray, np.ndarray]:
    """(x_cat, x_cont), one row each, built by yahpo-gym's rule (see the module docstring)."""
    filled = {k: v for k, v in config.items() if v is not None}
    filled.update(constants)
    for name in all_hyperparameters:
        if name not in filled:
            filled[name] = "#na#" if name in cat_names else 0
    x_cat = np.array([[encoding[n][filled[n]] for n in cat_names]]).astype(np.int32)
    x_cont = np.array([[filled[n] for n in cont_names]]).astype(np.float32)
    return x_cat, x_cont


def yahpo_gym_session(model: bytes):
    """A session as yahpo-gym builds it (default options: its ``multithread=True``)."""
    import onnxruntime

    return onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])


def predict_one_row(session, x_cat: np.ndarray, x_cont: np.ndarray) -> np.ndarray:
    """What yahpo-gym's objective_function returns for one configuration (as float64)."""
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {names[0]: x_cat, names[1]: x_cont})[0][0].astype(np.float64)


def scenario_folder(
    raw_dir: Path,
    folder_name: str,
    source_folder: Path,
    *,
    model: bytes,
    file_names: tuple[str, str, str] = ("model.onnx", "config_space.json", "encoding.json"),
    config_space: dict | None = None,
    encoding: dict | None = None,
    description: dict | None = None,
) -> Path:
    """``raw_dir/yahpo/<folder_name>/`` with a model and (edited) copies of a real scenario's
    config space and encoding; plus a description file if given."""
    folder = raw_dir / "yahpo" / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    model_file, space_file, encoding_file = file_names
    (folder / model_file).write_bytes(model)
    for name, content, source in (
        (space_file, config_space, "config_space.json"),
        (encoding_file, encoding, "encoding.json"),
    ):
        if content is None:
            shutil.copyfile(source_folder / source, folder / name)
        else:
            (folder / name).write_text(json.dumps(content))
    if description is not None:
        (folder / "simtune_scenario.json").write_text(json.dumps(description))
    return folder
