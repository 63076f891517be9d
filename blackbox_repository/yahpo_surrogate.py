"""YAHPO Gym surrogates: blackboxes of kind ``"yahpo-onnx"`` answering from YAHPO's ONNX models.

Inputs are built exactly as yahpo-gym 1.0.2 builds them (``BenchmarkSet._config_to_xs``):

* ``x_cont`` (float32): the values of the scenario's continuous inputs, in the order of its
  ``cont_names`` and untransformed (the model holds its own input scaling); the fidelity
  input takes the grid value, fixed inputs (``repl`` of rbv2) their fixed value, and an
  inactive or missing hyperparameter is 0.
* ``x_cat`` (int32): each of its ``cat_names`` mapped through ``encoding.json``; the
  instance parameter is the blackbox's instance, an inactive hyperparameter is ``"#na#"``.
* The model's first input gets ``x_cat``, its second ``x_cont``; its first output holds the
  objectives in ``output_names`` order, used as they are (no rescaling).

The stored entry holds a copy of ``model.onnx`` and ``encoding.json``; onnxruntime is
imported and the session built on the first prediction only. Every model call is padded to
a multiple of :data:`ROWS_PER_BLOCK` rows: onnxruntime's CPU kernels then give each row the
same float32 result whatever else is in the batch (without padding, rows in a tail of fewer
than 4 rows differ in the last bits), so ``lookup``, ``curve`` and ``lookup_batch`` agree
bit for bit. A curve computes its rows lazily, one block of 16 fidelities at a time.

``elapsed_time`` (seconds) is the running maximum over the fidelity grid of the model's
runtime output clipped at 0: YAHPO predicts each fidelity independently, so the raw output
is neither guaranteed non-negative nor non-decreasing (see docs/blackboxes/yahpo.md).
"""

from __future__ import annotations

import json
import math
import operator
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blackbox_repository.blackbox import Blackbox
from blackbox_repository.config_checks import SearchSpaceChecker, enforce_elapsed_time
from blackbox_repository.errors import (
    CorruptBlackboxError,
    MissingDependencyError,
    SeedNotFoundError,
)

KIND = "yahpo-onnx"
MODEL_FILE = "model.onnx"
ENCODING_FILE = "encoding.json"
ELAPSED_TIME = "elapsed_time"
MISSING_CATEGORY = "#na#"
ROWS_PER_BLOCK = 16
INSTALL_HINT = "pip install simtune[surrogates]"


@dataclass(frozen=True)
class YahpoModelSpec:
    """How a YAHPO model's inputs are built and its outputs read, for one instance."""

    scenario: str
    instance: str
    instance_parameter: str
    cont_names: tuple[str, ...]
    cat_names: tuple[str, ...]
    fidelity_parameter: str
    fixed_inputs: tuple[tuple[str, float], ...]
    output_names: tuple[str, ...]
    runtime_output: str
    yahpo_gym_version: str = "1.0.2"

    def to_dict(self) -> dict[str, Any]:
        described = asdict(self)
        described["fixed_inputs"] = dict(self.fixed_inputs)
        return described

    @classmethod
    def from_dict(cls, described: Mapping[str, Any]) -> YahpoModelSpec:
        fields = dict(described)
        for name in ("cont_names", "cat_names", "output_names"):
            fields[name] = tuple(fields[name])
        fields["fixed_inputs"] = tuple(fields["fixed_inputs"].items())
        return cls(**fields)


class YahpoCurve:
    """One configuration's rows, predicted a block of :data:`ROWS_PER_BLOCK` fidelities at a time."""

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
            stop = min(len(self._rows), -(-(position + 1) // ROWS_PER_BLOCK) * ROWS_PER_BLOCK)
            carry = self._rows[self._n_done - 1, -1] if self._n_done else math.nan
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
        self._build_input_layout()
        fixed_names = dict(spec.fixed_inputs)
        hints = {
            spec.fidelity_parameter: "it is the fidelity: pass it as lookup(config, fidelity=...)"
        }
        hints[spec.instance_parameter] = (
            f"the instance is fixed to {spec.instance} in this blackbox"
        )
        hints.update(
            {
                name: f"it is fixed to {value} in this blackbox"
                for name, value in fixed_names.items()
            }
        )
        self.checker = SearchSpaceChecker(self.configuration_space, self.name, hints)
        self._session = None
        self._curves: OrderedDict[tuple, YahpoCurve] = OrderedDict()

    # ---------------------------------------------------------------- inputs
    def _build_input_layout(self) -> None:
        spec, space = self.spec, self.configuration_space
        fixed = dict(spec.fixed_inputs)
        self._cont_template = np.zeros(len(spec.cont_names), dtype=np.float32)
        self._cont_hyperparameters: list[tuple[int, str]] = []
        self._fidelity_column = -1
        for column, name in enumerate(spec.cont_names):
            if name == spec.fidelity_parameter:
                self._fidelity_column = column
            elif name in fixed:
                self._cont_template[column] = fixed[name]
            elif name in space:
                self._cont_hyperparameters.append((column, name))
            else:
                raise ValueError(
                    f"blackbox {self.name!r}: continuous input {name!r} is neither a hyperparameter, the fidelity nor fixed"
                )
        if self._fidelity_column < 0:
            raise ValueError(
                f"blackbox {self.name!r}: the fidelity {spec.fidelity_parameter!r} is not a continuous input"
            )
        self._cat_template = np.zeros(len(spec.cat_names), dtype=np.int32)
        self._cat_hyperparameters: list[tuple[int, str, dict[str, int]]] = []
        for column, name in enumerate(spec.cat_names):
            codes = self.encoding.get(name)
            if codes is None or MISSING_CATEGORY not in codes:
                raise ValueError(
                    f"blackbox {self.name!r}: encoding.json has no codes (with {MISSING_CATEGORY!r}) for {name!r}"
                )
            if name == spec.instance_parameter:
                if spec.instance not in codes:
                    raise ValueError(
                        f"blackbox {self.name!r}: instance {spec.instance!r} has no code in encoding.json"
                    )
                self._cat_template[column] = codes[spec.instance]
            elif name in space:
                choices = [str(c) for c in space[name].choices]
                uncoded = [c for c in choices if c not in codes]
                if uncoded:
                    raise ValueError(
                        f"blackbox {self.name!r}: choices {uncoded} of {name!r} have no code in encoding.json"
                    )
                self._cat_template[column] = codes[MISSING_CATEGORY]
                self._cat_hyperparameters.append((column, name, codes))
            else:
                raise ValueError(
                    f"blackbox {self.name!r}: categorical input {name!r} is neither a hyperparameter nor the instance"
                )
        self._grid = np.asarray(self.fidelity_values, dtype=np.float32)

    def _encode(self, checked: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(x_cat row, x_cont row without the fidelity) of a checked configuration."""
        cat_row = self._cat_template.copy()
        for column, name, codes in self._cat_hyperparameters:
            value = checked.get(name)
            if value is not None:
                cat_row[column] = codes[str(value)]
        cont_row = self._cont_template.copy()
        for column, name in self._cont_hyperparameters:
            value = checked.get(name)
            if value is not None:
                cont_row[column] = value
        return cat_row, cont_row

    # ---------------------------------------------------------------- the model
    def session(self):
        """The onnxruntime session, built on first use (one thread: simulations run many)."""
        if self._session is None:
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
            session = onnxruntime.InferenceSession(
                self.model, sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._check_session(session)
            self._session = session
        return self._session

    def _check_session(self, session) -> None:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        found = [(i.type, i.shape[-1]) for i in inputs]
        wanted = [
            ("tensor(int32)", len(self.spec.cat_names)),
            ("tensor(float)", len(self.spec.cont_names)),
        ]
        if found != wanted or not outputs or outputs[0].shape[-1] != len(self.spec.output_names):
            raise CorruptBlackboxError(
                f"the ONNX model of blackbox {self.name!r} does not match its metadata: inputs "
                f"{found}, expected {wanted} (x_cat, x_cont), and an output of width "
                f"{len(self.spec.output_names)}; re-convert it (simtune blackbox convert {self.name} --force)"
            )
        self._input_names = [i.name for i in inputs]
        self._output_name = outputs[0].name

    def predict_raw(self, x_cat: np.ndarray, x_cont: np.ndarray) -> np.ndarray:
        """The model's outputs (float64 copies of its float32 values) for rows of inputs."""
        n = len(x_cont)
        padded = -(-n // ROWS_PER_BLOCK) * ROWS_PER_BLOCK
        if padded != n:
            x_cat = np.concatenate([x_cat, np.repeat(x_cat[-1:], padded - n, axis=0)])
            x_cont = np.concatenate([x_cont, np.repeat(x_cont[-1:], padded - n, axis=0)])
        session = self.session()
        feeds = {self._input_names[0]: x_cat, self._input_names[1]: x_cont}
        return session.run([self._output_name], feeds)[0][:n].astype(np.float64)

    def _rows(
        self, cat_row: np.ndarray, cont_row: np.ndarray, start: int, stop: int, carry: float
    ) -> np.ndarray:
        """Objective rows of fidelity positions [start, stop); ``carry`` = elapsed time before."""
        x_cont = np.repeat(cont_row[None, :], stop - start, axis=0)
        x_cont[:, self._fidelity_column] = self._grid[start:stop]
        x_cat = np.repeat(cat_row[None, :], stop - start, axis=0)
        return self._with_elapsed_time(self.predict_raw(x_cat, x_cont), carry)

    def _with_elapsed_time(self, outputs: np.ndarray, carry: float = math.nan) -> np.ndarray:
        elapsed = enforce_elapsed_time(outputs[:, self.runtime_index], start=carry)
        return np.concatenate([outputs, elapsed[:, None]], axis=1)

    # ---------------------------------------------------------------- lookups
    def curve(self, config: Mapping[str, Any], seed_index: int = 0) -> YahpoCurve:
        """The lazily predicted curve of ``config`` (checked now)."""
        if seed_index != 0:
            raise SeedNotFoundError(
                f"blackbox {self.name!r} has one seed (index 0), got seed_index {seed_index!r}"
            )
        return YahpoCurve(self, *self._encode(self.checker.check(config)))

    def _cached_curve(self, config: Mapping[str, Any]) -> YahpoCurve:
        checked = self.checker.check(config)
        key = self.checker.key(checked)
        curve = self._curves.get(key)
        if curve is None:
            curve = YahpoCurve(self, *self._encode(checked))
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
        return dict(zip(self.objective_names, self._cached_curve(config)[position].tolist()))

    def lookup_batch(
        self,
        configs: Sequence[Mapping[str, Any]],
        fidelities: float | Sequence[float] | np.ndarray,
        seeds: int | None | Sequence[int | None] | np.ndarray = None,
    ) -> np.ndarray:
        """Objectives of many (config, fidelity) pairs in one model call: (n, n_objectives).

        Each distinct configuration's rows are predicted from the first fidelity up to its
        largest requested one (its elapsed time needs them), all in one model call.
        """
        n = len(configs)
        if fidelities is None or np.ndim(fidelities) == 0:
            fidelities = [fidelities] * n
        if len(fidelities) != n:
            raise ValueError(
                f"fidelities must be one value or one per config ({n}), got {len(fidelities)}"
            )
        positions = np.array([self.fidelity_index(f) for f in fidelities], dtype=np.int64)
        for seed in [seeds] if seeds is None or np.ndim(seeds) == 0 else seeds:
            self.seed_index(seed)
        distinct, config_rows = self.checker.check_distinct(configs)
        encoded = [self._encode(checked) for checked in distinct]
        if n == 0:
            return np.empty((0, len(self.objectives)))
        needed = np.zeros(len(encoded), dtype=np.int64)
        np.maximum.at(needed, config_rows, positions + 1)
        x_cat = np.repeat(np.stack([cat for cat, _ in encoded]), needed, axis=0)
        x_cont = np.repeat(np.stack([cont for _, cont in encoded]), needed, axis=0)
        offsets = np.concatenate([[0], np.cumsum(needed)])
        x_cont[:, self._fidelity_column] = np.concatenate([self._grid[:k] for k in needed])
        outputs = self.predict_raw(x_cat, x_cont)
        finished = np.empty((len(outputs), len(self.objectives)))
        for start, stop in zip(offsets[:-1], offsets[1:]):
            finished[start:stop] = self._with_elapsed_time(outputs[start:stop])
        return finished[offsets[config_rows] + positions]

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
            f"{spec.instance_parameter}={spec.instance}; fixed inputs {dict(spec.fixed_inputs)}; "
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
    return YahpoSurrogateBlackbox(
        model=(directory / MODEL_FILE).read_bytes(), encoding=encoding, spec=spec, **arguments
    )
