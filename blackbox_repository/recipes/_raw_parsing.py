"""Reading the original raw files of real benchmarks safely, shared by their recipes.

* Pickles are never loaded with plain ``pickle.load``: :func:`load_numpy_pickle` allows only
  numpy arrays, dtypes and scalars, :func:`load_plain_pickle` only built-in Python values.
* Every format problem becomes a :class:`ConversionError` naming the file and what was wrong.
* :class:`RecipeWithOwnFiles` lets each blackbox of a family need only its own raw files.
"""

from __future__ import annotations

import importlib
import json
import math
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ConfigSpace import ConfigurationSpace

from blackbox_repository.errors import ConversionError
from blackbox_repository.recipes.recipe import RawFile, Recipe


def github_raw_url(repository: str, commit: str, path: str) -> str:
    """The public URL of ``path`` in GitHub ``repository`` ("owner/name") at ``commit``."""
    return f"https://raw.githubusercontent.com/{repository}/{commit}/{path}"


def conversion_error(path: Path | str, problem: str) -> ConversionError:
    """A ConversionError naming the raw file, the problem and what to do about it."""
    return ConversionError(
        f"cannot convert {path}: {problem}. The file does not have the format of the original "
        "benchmark release; fetch the original file again (delete the local copy, or point "
        "SIMTUNE_RAW_DATA_DIR / raw_data_dir= at a folder holding the unmodified originals)"
    )


# --------------------------------------------------------------------- safe loading
def _module_attribute(candidates: Sequence[str], attribute: str) -> Any:
    for module_name in candidates:
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"none of {list(candidates)} defines {attribute!r}")


_MULTIARRAY_MODULES = ("numpy._core.multiarray", "numpy.core.multiarray")


def _dtype_without_objects(*args: Any) -> np.dtype:
    """``numpy.dtype`` for the unpickler, refusing object dtypes (they could hold anything)."""
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError(f"refusing a numpy object dtype {dtype!r}")
    return dtype


def _checked_shape(shape: Any, dtype: np.dtype, max_bytes: int) -> tuple[int, ...]:
    """``shape`` if it is a tuple of non-negative ints whose array fits in ``max_bytes``."""
    if not isinstance(shape, tuple) or not all(
        type(n) is int and n >= 0 for n in shape
    ):  # exact ints: numpy scalars and bools have no business in a shape
        raise pickle.UnpicklingError(f"refusing an array shape {shape!r}")
    n_bytes = dtype.itemsize * math.prod(shape)
    if n_bytes > max_bytes:
        raise pickle.UnpicklingError(
            f"refusing an array of shape {shape} and dtype {dtype}: it would need {n_bytes:,} "
            f"bytes, more than the {max_bytes:,} bytes the file can hold"
        )
    return shape


class _ArrayBeingUnpickled(np.ndarray):
    """An array whose ``__setstate__`` checks dtype and shape before numpy allocates it.

    Only the unpickler creates these; :func:`_plain_arrays` turns them into plain arrays.
    """

    max_bytes = 0  # set per load on a subclass made by _numpy_globals

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError(f"refusing an array state of type {type(state).__name__}")
        shape, dtype = state[-4], state[-3]
        if not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError(f"refusing an array state whose dtype is {dtype!r}")
        _checked_shape(shape, _dtype_without_objects(dtype), self.max_bytes)
        super().__setstate__(state)


class _RefusedCall:
    """Stands for ``numpy.ndarray`` in a pickle: usable as ``_reconstruct``'s subtype only.

    Calling ``numpy.ndarray(shape, dtype)`` directly would build an uninitialized array of
    any dtype (objects included) and any size; numpy's own pickles never do that.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise pickle.UnpicklingError(
            f"refusing to call numpy.ndarray{args!r} directly: numpy's own pickles never do; "
            "the file was crafted"
        )


def _numpy_globals(max_bytes: int) -> dict[tuple[str, str], Any]:
    reconstruct = _module_attribute(_MULTIARRAY_MODULES, "_reconstruct")
    scalar = _module_attribute(_MULTIARRAY_MODULES, "scalar")
    ndarray_placeholder = _RefusedCall()
    array_type = type("_ArrayOfThisFile", (_ArrayBeingUnpickled,), {"max_bytes": max_bytes})

    def checked_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        if subtype is not ndarray_placeholder:
            raise pickle.UnpicklingError(f"refusing to reconstruct an array of type {subtype!r}")
        checked = _dtype_without_objects(dtype)
        return reconstruct(array_type, _checked_shape(shape, checked, max_bytes), checked)

    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): ndarray_placeholder,
        ("numpy", "dtype"): _dtype_without_objects,
    }
    # numpy 1.x pickles name numpy.core, numpy 2.x pickles name numpy._core
    for module_name in _MULTIARRAY_MODULES:
        allowed[(module_name, "_reconstruct")] = checked_reconstruct
        allowed[(module_name, "scalar")] = scalar
    return allowed


def _plain_arrays(value: Any) -> Any:
    """``value`` with every array the unpickler built turned into a plain ndarray."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:  # cannot happen through the checks above; never let one by
            raise pickle.UnpicklingError("refusing a numpy array of objects")
        return value.view(np.ndarray)
    if isinstance(value, list):
        return [_plain_arrays(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain_arrays(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain_arrays(item) for key, item in value.items()}
    return value


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals it is given; any other one is an error."""

    def __init__(self, stream, allowed: Mapping[tuple[str, str], Any]) -> None:
        super().__init__(stream)
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            allowed = sorted(f"{m}.{n}" for m, n in self._allowed) or "no globals"
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}; allowed: {allowed}"
            ) from None


def _load_restricted(path: Path, allowed: Mapping[tuple[str, str], Any], what: str) -> Any:
    try:
        with open(path, "rb") as stream:
            return _plain_arrays(_RestrictedUnpickler(stream, allowed).load())
    except FileNotFoundError:
        raise conversion_error(path, "the file is missing") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
    ) as error:
        raise conversion_error(path, f"it is not a pickle of {what} ({error})") from error


def load_numpy_pickle(path: Path | str) -> Any:
    """Unpickle a file that may hold only numpy arrays, dtypes and scalars inside plain values."""
    path = Path(path)
    try:  # an array's bytes are in the file: no array of the file can be larger than it
        max_bytes = path.stat().st_size
    except FileNotFoundError:
        raise conversion_error(path, "the file is missing") from None
    return _load_restricted(path, _numpy_globals(max_bytes), "numpy arrays and plain Python values")


def load_plain_pickle(path: Path | str) -> Any:
    """Unpickle a file that may hold only built-in Python values (dict, list, str, numbers)."""
    return _load_restricted(Path(path), {}, "plain Python values")


def load_json(path: Path | str) -> Any:
    """Parse a JSON file; bare ``NaN`` tokens (not strict JSON, but common) become float NaN."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except FileNotFoundError:
        raise conversion_error(path, "the file is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise conversion_error(path, f"it is not valid JSON ({error})") from error


def read_csv(path: Path | str, required_columns: Sequence[str], **kwargs: Any) -> pd.DataFrame:
    """Read a CSV (or, with ``sep=``, a whitespace table) and check its columns are present."""
    path = Path(path)
    try:
        table = pd.read_csv(path, **kwargs)
    except FileNotFoundError:
        raise conversion_error(path, "the file is missing") from None
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        ValueError,
    ) as error:
        raise conversion_error(path, f"it is not a readable table ({error})") from error
    missing = [c for c in required_columns if c not in table.columns]
    if missing:
        raise conversion_error(
            path, f"columns {missing} are missing (found {list(table.columns)[:12]})"
        )
    return table


def numeric_column(table: pd.DataFrame, column: str, path: Path | str) -> np.ndarray:
    """Column ``column`` as float64; any non-numeric entry is a ConversionError."""
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & table[column].notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise conversion_error(
            path,
            f"column {column!r} holds a non-numeric value {table[column].iloc[row]!r} in row {row}",
        )
    return values


def float_list(values: Any, path: Path | str, where: str) -> list[float]:
    """A list of JSON numbers (NaN allowed) as floats; ``null``, strings or bools are errors.

    A ``null`` would silently become NaN through ``numpy.asarray``; we refuse it instead.
    """
    if not isinstance(values, list):
        raise conversion_error(
            path, f"{where} is {type(values).__name__}, expected a list of numbers"
        )
    for value in values:
        if type(value) is not float and type(value) is not int:
            raise conversion_error(path, f"{where} holds {value!r}, expected numbers only")
    return values


# --------------------------------------------------------------------- checks
def check_configurations(
    configurations: pd.DataFrame, space: ConfigurationSpace, path: Path | str
) -> None:
    """Every recorded value lies in the search space, and no configuration is listed twice."""
    for name, hyperparameter in space.items():
        for value in pd.unique(configurations[name]):
            python_value = value.item() if isinstance(value, np.generic) else value
            if isinstance(python_value, float) and math.isnan(python_value):
                raise conversion_error(path, f"hyperparameter {name!r} has a missing value")
            if not hyperparameter.legal_value(python_value):
                raise conversion_error(
                    path,
                    f"hyperparameter {name!r} has value {python_value!r} outside its space {hyperparameter}",
                )
    duplicated = configurations.duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise conversion_error(
            path, f"configuration {configurations.iloc[row].to_dict()} is listed more than once"
        )


# --------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class RecipeWithOwnFiles(Recipe):
    """A recipe whose blackboxes each need only some of the family's raw files.

    ``files_by_name`` pairs each blackbox name with the paths (``RawFile.path``) it reads;
    a tuple of pairs rather than a dict, so that the recipe stays hashable.
    """

    files_by_name: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def raw_files_for(self, name: str) -> tuple[RawFile, ...]:
        paths = dict(self.files_by_name).get(name)
        if paths is None:
            raise ValueError(
                f"recipe {self.family!r} does not provide {name!r}; it provides {list(self.names)}"
            )
        return tuple(raw_file for raw_file in self.raw_files if raw_file.path in paths)
