"""How a configuration becomes a YAHPO model's inputs, exactly as yahpo-gym builds them.

yahpo-gym's ``BenchmarkSet._config_to_xs`` (the same in 1.0.2 and in the ``v2_final``
branch) makes one row per configuration:

* ``x_cont`` (float32): the values of the scenario's continuous inputs, in the order of its
  ``cont_names`` and untransformed (the model holds its own input scaling); the fidelity
  input takes the grid value, fixed inputs (``repl`` of rbv2) their fixed value, and an
  inactive or missing hyperparameter is 0.
* ``x_cat`` (int32): each of the model's categorical inputs mapped through the scenario's
  encoding: the instance parameter is the blackbox's instance, a fixed categorical input its
  fixed category, an inactive hyperparameter ``"#na#"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from ConfigSpace import ConfigurationSpace

from blackbox_repository.yahpo_scenario import DOCS, ScenarioDescriptionError

MISSING_CATEGORY = "#na#"


@dataclass(frozen=True)
class YahpoModelSpec:
    """How a YAHPO model's inputs are built and its outputs read, for one instance.

    ``cat_names`` are the model's categorical inputs in the model's order (yahpo-gym 1.0.2:
    the scenario's ``cat_names`` without ``drop_predict``; v2: the instance parameter first).
    ``instance_parameter`` is ``None`` for a scenario without one (nb301): the instance is
    then only a label. ``fixed_inputs`` hold numbers for continuous and category names
    (strings) for categorical inputs.
    """

    scenario: str
    instance: str
    instance_parameter: str | None
    cont_names: tuple[str, ...]
    cat_names: tuple[str, ...]
    fidelity_parameter: str
    fixed_inputs: tuple[tuple[str, float | str], ...]
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


class YahpoInputEncoder:
    """The input templates of one blackbox: ``encode(checked)`` gives its (x_cat, x_cont) rows.

    The fidelity column of ``x_cont`` (``fidelity_column``) is left for the caller to fill.
    Every input must be the fidelity, the instance, a fixed input or a hyperparameter of the
    space, and every category must have a code: otherwise a :class:`ScenarioDescriptionError`
    names what does not match.
    """

    def __init__(
        self,
        spec: YahpoModelSpec,
        space: ConfigurationSpace,
        encoding: Mapping[str, Mapping[str, int]],
        blackbox_name: str,
    ) -> None:
        self.spec = spec
        self.blackbox_name = blackbox_name
        self.encoding = encoding
        fixed = dict(spec.fixed_inputs)
        self._cont_template = np.zeros(len(spec.cont_names), dtype=np.float32)
        self._cont_hyperparameters: list[tuple[int, str]] = []
        self.fidelity_column = -1
        for column, name in enumerate(spec.cont_names):
            if name == spec.fidelity_parameter:
                self.fidelity_column = column
            elif name in fixed:
                if isinstance(fixed[name], str):
                    raise self._mismatch(
                        f"the continuous input {name!r} is fixed to the string {fixed[name]!r}"
                    )
                self._cont_template[column] = fixed[name]
            elif name in space:
                self._cont_hyperparameters.append((column, name))
            else:
                raise self._mismatch(
                    f"the continuous input {name!r} is neither a hyperparameter of the search "
                    "space, the fidelity nor fixed"
                )
        if self.fidelity_column < 0:
            raise self._mismatch(
                f"the fidelity {spec.fidelity_parameter!r} is not a continuous input"
            )
        self._cat_template = np.zeros(len(spec.cat_names), dtype=np.int32)
        self._cat_hyperparameters: list[tuple[int, str, dict[str, int]]] = []
        for column, name in enumerate(spec.cat_names):
            codes = self.encoding.get(name)
            if codes is None or MISSING_CATEGORY not in codes:
                raise self._mismatch(
                    f"the encoding has no codes (with {MISSING_CATEGORY!r}) for the categorical "
                    f"input {name!r}"
                )
            if name == spec.instance_parameter:
                if spec.instance not in codes:
                    raise self._mismatch(f"instance {spec.instance!r} has no code in the encoding")
                self._cat_template[column] = codes[spec.instance]
            elif name in fixed:
                category = str(fixed[name])
                if category not in codes:
                    raise self._mismatch(
                        f"the fixed category {fixed[name]!r} of {name!r} has no code in the "
                        f"encoding (codes for {sorted(codes)[:12]})"
                    )
                self._cat_template[column] = codes[category]
            elif name in space:
                choices = [str(c) for c in space[name].choices]
                uncoded = [c for c in choices if c not in codes]
                if uncoded:
                    raise self._mismatch(
                        f"choices {uncoded} of {name!r} have no code in the encoding"
                    )
                self._cat_template[column] = codes[MISSING_CATEGORY]
                self._cat_hyperparameters.append((column, name, codes))
            else:
                raise self._mismatch(
                    f"the categorical input {name!r} is neither a hyperparameter of the search "
                    "space, the instance parameter nor fixed"
                )

    def _mismatch(self, problem: str) -> ScenarioDescriptionError:
        return ScenarioDescriptionError(
            f"blackbox {self.blackbox_name!r}: the files of YAHPO scenario {self.spec.scenario!r} do not "
            f"match its description: {problem}. Check the description's cont_names, cat_names, "
            f"fixed_inputs and instance against the config space and encoding files ({DOCS})"
        )

    def encode(self, checked: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
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
