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
    return onnx_model.SerializeToString()


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
