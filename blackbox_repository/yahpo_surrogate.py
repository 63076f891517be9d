"""YAHPO Gym surrogates: blackboxes of kind ``"yahpo-onnx"`` answering from YAHPO's ONNX models.

Inputs are built exactly as yahpo-gym builds them (:mod:`blackbox_repository.yahpo_inputs`);
the model's first input gets ``x_cat``, its second ``x_cont``; its first output holds the
objectives in ``output_names`` order, used as they are (no rescaling).

**One row per model call.** onnxruntime's CPU kernels give a row different float32 results
depending on the rows around it (on the x86-64 machine measured, a row inside a full block
of 4 rows differs from the same row alone in about 6% of rows, by up to 5e-4 relative for
lcbench's ``time``). yahpo-gym's ``objective_function`` evaluates one configuration as one
row, so every row here is its own model call: each value is bit for bit what yahpo-gym
returns for that configuration on the same machine and onnxruntime, and ``lookup``,
``curve`` and ``lookup_batch`` agree bit for bit.

The stored entry holds a copy of the model and the encoding; onnxruntime is imported and
the session built on the first prediction only. A curve computes its rows lazily, up to
the largest fidelity read so far.

``elapsed_time`` (seconds) is the running maximum over the fidelity grid of the model's
runtime output clipped at 0: YAHPO predicts each fidelity independently, so the raw output
is neither guaranteed non-negative nor non-decreasing (see docs/blackboxes/yahpo.md).
"""

from __future__ import annotations

import importlib.util
import json
import math
import operator
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from blackbox_repository.blackbox import Blackbox
from blackbox_repository.config_checks import SearchSpaceChecker
from blackbox_repository.errors import (
    CorruptBlackboxError,
    MissingDependencyError,
    SeedNotFoundError,
)
from blackbox_repository.yahpo_inputs import YahpoInputEncoder, YahpoModelSpec
from blackbox_repository.yahpo_scenario import DOCS, ScenarioDescriptionError

KIND = "yahpo-onnx"
MODEL_FILE = "model.onnx"
ENCODING_FILE = "encoding.json"
ELAPSED_TIME = "elapsed_time"
INSTALL_HINT = "pip install simtune[surrogates]"


class YahpoCurve:
    """One configuration's rows, predicted lazily up to the largest fidelity read so far."""

    __slots__ = ("_blackbox", "_cat_row", "_cont_row", "_rows", "_n_done")

    def __init__(
        self, blackbox: YahpoSurrogateBlackbox, cat_row: np.ndarray, cont_row: np.ndarray
    ) -> None:
        self._blackbox = blackbox
        self._cat_row = cat_row
        self._cont_row = cont_row
        self._rows = np.empty((len(blackbox.fidelity_values), len(blackbox.objectives)))
        self._n_done = 0

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, fidelity_index: int) -> np.ndarray:
        position = operator.index(fidelity_index)
        if position < 0:
            position += len(self._rows)
        if not 0 <= position < len(self._rows):
            raise IndexError(f"fidelity index {fidelity_index} out of range [0, {len(self._rows)})")
        if position >= self._n_done:
            stop = position + 1
            done = self._rows[: self._n_done, -1]
            carry = float(np.fmax.reduce(done)) if self._n_done else math.nan  # skips NaN
            self._rows[self._n_done : stop] = self._blackbox._rows(
                self._cat_row, self._cont_row, self._n_done, stop, carry
            )
            self._n_done = stop
        return self._rows[position]


class YahpoSurrogateBlackbox(Blackbox):
    """One instance of a YAHPO Gym scenario, answered by its ONNX model for any configuration.

    Objectives are the model's outputs (``spec.output_names``) plus ``elapsed_time``; the
    only seed is 0 (the model is deterministic).

    Example:
        >>> bb = load_blackbox("yahpo-lcbench-3945")  # doctest: +SKIP
        >>> bb.lookup(bb.configuration_space.get_default_configuration(), fidelity=52)  # doctest: +SKIP
    """

    kind = KIND

    def __init__(
        self,
        *,
        model: bytes,
        encoding: Mapping[str, Mapping[str, int]],
        spec: YahpoModelSpec,
        cache_size: int = 1024,
        **blackbox_arguments: Any,
    ) -> None:
        super().__init__(**blackbox_arguments)
        expected = (*spec.output_names, ELAPSED_TIME)
        if self.objective_names != expected or self.elapsed_time_objective != ELAPSED_TIME:
            raise ValueError(
                f"blackbox {self.name!r}: objectives must be the model outputs plus {ELAPSED_TIME!r} "
                f"{list(expected)}, got {list(self.objective_names)}"
            )
        self.model = model
        self.encoding = {name: dict(codes) for name, codes in encoding.items()}
        self.spec = spec
        self.cache_size = cache_size
        self.runtime_index = spec.output_names.index(spec.runtime_output)
        self.inputs = YahpoInputEncoder(spec, self.configuration_space, self.encoding, self.name)
        self._grid = np.asarray(self.fidelity_values, dtype=np.float32)
        hints = {
            spec.fidelity_parameter: "it is the fidelity: pass it as lookup(config, fidelity=...)"
        }
        if spec.instance_parameter:
            hints[spec.instance_parameter] = (
                f"the instance is fixed to {spec.instance} in this blackbox"
            )
        hints.update(
            {name: f"it is fixed to {value} in this blackbox" for name, value in spec.fixed_inputs}
        )
        self.checker = SearchSpaceChecker(self.configuration_space, self.name, hints)
        self._session = None
        self._curves: OrderedDict[tuple, YahpoCurve] = OrderedDict()

    # ---------------------------------------------------------------- the model
    def session(self):
        """The onnxruntime session, built on first use (one thread: simulations run many)."""
        if self._session is None:
            session = self._new_session()
            mismatch = self._model_mismatch(session)
            if mismatch:
                raise CorruptBlackboxError(
                    f"the ONNX model of blackbox {self.name!r} does not match its metadata: "
                    f"{mismatch}; re-convert it (simtune blackbox convert {self.name} --force)"
                )
            inputs = session.get_inputs()
            self._input_names = (inputs[0].name, inputs[1].name)
            self._output_name = session.get_outputs()[0].name
            self._session = session
        return self._session

    def check_model(self) -> None:
        """Check now that the model takes and gives what the spec says (if onnxruntime is
        installed; otherwise the first prediction checks it)."""
        if importlib.util.find_spec("onnxruntime") is None:
            return
        mismatch = self._model_mismatch(self._new_session())
        if mismatch:
            raise ScenarioDescriptionError(
                f"the ONNX model of blackbox {self.name!r} does not fit the scenario's "
                f"description: {mismatch} ({DOCS})"
            )

    def _new_session(self):
        try:
            import onnxruntime
        except ImportError as error:
            raise MissingDependencyError(
                f"blackbox {self.name!r} needs onnxruntime to evaluate its YAHPO model, which is "
                f"not installed ({error}); install it with `{INSTALL_HINT}`"
            ) from error
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            return onnxruntime.InferenceSession(
                self.model, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime's own error types (InvalidProtobuf, Fail, ...)
            raise CorruptBlackboxError(
                f"the model of blackbox {self.name!r} is not an ONNX model onnxruntime can load: "
                f"{type(error).__name__}: {error}"
            ) from error

    def _model_mismatch(self, session) -> str | None:
        """What differs between the model's inputs/outputs and the spec (None: nothing)."""
        inputs, outputs = session.get_inputs(), session.get_outputs()
        found = [(i.type, i.shape[-1]) for i in inputs]
        wanted = [
            ("tensor(int32)", len(self.spec.cat_names)),
            ("tensor(float)", len(self.spec.cont_names)),
        ]
        width = outputs[0].shape[-1] if outputs else None
        if found == wanted and width == len(self.spec.output_names):
            return None
        return (
            f"the model takes inputs {found} and gives an output of width {width}; the "
            f"scenario needs inputs {wanted} (x_cat: {len(self.spec.cat_names)} categorical, "
            f"x_cont: {len(self.spec.cont_names)} continuous) and {len(self.spec.output_names)} "
            "outputs"
        )

    def predict_raw(self, x_cat: np.ndarray, x_cont: np.ndarray) -> np.ndarray:
        """The model's outputs (float64 copies of its float32 values), one model call per row.

        One row per call is how yahpo-gym evaluates a configuration; a row inside a larger
        batch can differ in its last bits (see the module docstring).
        """
        session = self.session()
        x_cat = np.ascontiguousarray(x_cat, dtype=np.int32)
        x_cont = np.ascontiguousarray(x_cont, dtype=np.float32)
        cat_input, cont_input = self._input_names
        outputs = np.empty((len(x_cont), len(self.spec.output_names)))
        run, wanted = session.run, [self._output_name]
        for row in range(len(x_cont)):
            feeds = {cat_input: x_cat[row : row + 1], cont_input: x_cont[row : row + 1]}
            outputs[row] = run(wanted, feeds)[0][0]
        return outputs

    def _rows(
        self, cat_row: np.ndarray, cont_row: np.ndarray, start: int, stop: int, carry: float
    ) -> np.ndarray:
        """Objective rows of fidelity positions [start, stop); ``carry`` = elapsed time before.

        One model call per row; ``elapsed_time`` is the running maximum of the runtime output
        clipped at 0 (a NaN runtime gives a NaN elapsed time and leaves the maximum as it is,
        as :func:`enforce_elapsed_time` does).
        """
        session = self.session()
        run, wanted = session.run, [self._output_name]
        cat_input, cont_input = self._input_names
        x_cat = cat_row[None, :]
        x_cont = np.repeat(cont_row[None, :], stop - start, axis=0)
        x_cont[:, self.inputs.fidelity_column] = self._grid[start:stop]
        rows = np.empty((stop - start, len(self.spec.output_names) + 1))
        running = carry
        for k in range(stop - start):
            outputs = run(wanted, {cat_input: x_cat, cont_input: x_cont[k : k + 1]})[0][0]
            rows[k, :-1] = outputs
            runtime = float(outputs[self.runtime_index])
            if math.isnan(runtime):
                rows[k, -1] = math.nan
                continue
            runtime = max(runtime, 0.0)
            running = runtime if math.isnan(running) else max(running, runtime)
            rows[k, -1] = running
        return rows

    # ---------------------------------------------------------------- lookups
    def curve(self, config: Mapping[str, Any], seed_index: int = 0) -> YahpoCurve:
        """The lazily predicted curve of ``config`` (checked now)."""
        if seed_index != 0:
            raise SeedNotFoundError(
                f"blackbox {self.name!r} has one seed (index 0), got seed_index {seed_index!r}"
            )
        return YahpoCurve(self, *self.inputs.encode(self.checker.check(config)))

    def _cached_curve(self, checked: Mapping[str, Any]) -> YahpoCurve:
        """The kept curve of a checked configuration (the last ``cache_size`` are kept)."""
        key = self.checker.key(checked)
        curve = self._curves.get(key)
        if curve is None:
            curve = YahpoCurve(self, *self.inputs.encode(checked))
            self._curves[key] = curve
            if len(self._curves) > self.cache_size:
                self._curves.popitem(last=False)
        else:
            self._curves.move_to_end(key)
        return curve

    def lookup(
        self, config: Mapping[str, Any], fidelity: float, seed: int | None = None
    ) -> dict[str, float]:
        position = self.fidelity_index(fidelity)
        self.seed_index(seed)
        curve = self._cached_curve(self.checker.check(config))
        return dict(zip(self.objective_names, curve[position].tolist()))

    def lookup_batch(
        self,
        configs: Sequence[Mapping[str, Any]],
        fidelities: float | Sequence[float] | np.ndarray,
        seeds: int | None | Sequence[int | None] | np.ndarray = None,
    ) -> np.ndarray:
        """Objectives of many (config, fidelity) pairs: an array (n, n_objectives).

        Each distinct configuration's curve is predicted up to its largest requested
        fidelity (its elapsed time needs the rows below), one model call per row, and kept
        like ``lookup``'s curves.
        """
        n = len(configs)
        if fidelities is None or np.ndim(fidelities) == 0:
            fidelities = [fidelities] * n
        if len(fidelities) != n:
            raise ValueError(
                f"fidelities must be one value or one per config ({n}), got {len(fidelities)}"
            )
        positions = [self.fidelity_index(f) for f in fidelities]
        for seed in [seeds] if seeds is None or np.ndim(seeds) == 0 else seeds:
            self.seed_index(seed)
        distinct, config_rows = self.checker.check_distinct(configs)
        curves = [self._cached_curve(checked) for checked in distinct]
        answers = np.empty((n, len(self.objectives)))
        for row, (config_row, position) in enumerate(zip(config_rows, positions)):
            answers[row] = curves[config_row][position]
        return answers

    # ---------------------------------------------------------------- lifecycle
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_session"] = None  # onnxruntime sessions cannot be pickled; rebuilt on use
        state["_curves"] = OrderedDict()
        return state

    def _describe_extra(self) -> list[str]:
        spec = self.spec
        return [
            f"  YAHPO Gym {spec.yahpo_gym_version} ONNX surrogate: scenario {spec.scenario}, "
            f"{spec.instance_parameter or 'instance'}={spec.instance}; "
            f"fixed inputs {dict(spec.fixed_inputs)}; "
            f"elapsed_time = running max of max({spec.runtime_output}, 0) over the fidelity grid"
        ]


# --------------------------------------------------------------------- file format
def write_yahpo_data(blackbox: YahpoSurrogateBlackbox, directory: Path) -> dict[str, Any]:
    """Write the model and its encoding; the spec goes into ``metadata.json``."""
    for file_name, content in (
        (MODEL_FILE, blackbox.model),
        (ENCODING_FILE, json.dumps(blackbox.encoding, indent=1, sort_keys=True).encode()),
    ):
        with open(directory / file_name, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
    return {"yahpo": blackbox.spec.to_dict()}


def read_yahpo_data(
    directory: Path, metadata: dict[str, Any], arguments: dict[str, Any]
) -> YahpoSurrogateBlackbox:
    """Read a ``yahpo-onnx`` entry; onnxruntime is not needed until the first prediction."""
    encoding = json.loads((directory / ENCODING_FILE).read_text())
    spec = YahpoModelSpec.from_dict(metadata["yahpo"])
    try:
        return YahpoSurrogateBlackbox(
            model=(directory / MODEL_FILE).read_bytes(), encoding=encoding, spec=spec, **arguments
        )
    except ScenarioDescriptionError as error:
        raise CorruptBlackboxError(f"cache entry {directory} is inconsistent: {error}") from error
