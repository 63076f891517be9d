"""Seed noise of a trained surrogate: recorded residual curves of similar configurations.

A table records every configuration with a few seeds, and a simulated trial replays one of
them, so the best value a method finds is a minimum over *noisy* draws: on
sklearn-mlp-digits the best seed mean at epoch 30 is 0.0195, the best single seed 0.0139,
and the methods' mean best values (0.016-0.020) lie below every seed mean. A surrogate that
answers seed means only cannot show that, and the methods that make many draws lose the
advantage they have on the table.

The model here keeps what the table recorded instead of assuming a distribution. For every
configuration the published model was fitted on (train + validation) it stores

* its **quantile curve**: the quantile of its seed mean among those configurations at each
  fidelity (the target space of the mean model), and
* its **residual curves**: recorded value minus seed mean, per seed and fidelity (missing
  values count as 0).

A configuration asked of the surrogate gets the residual curves of a *donor*: one of the
:data:`DEFAULT_NEIGHBOURS` stored configurations whose quantile curves are closest to its
own predicted quantile curve (mean absolute difference over the fidelities), the one picked
by a hash of the configuration's values. Its seed ``s`` answers the mean prediction plus
the donor's residual of seed ``s``. So the noise has the size the table has at that level
of performance (diverged configurations are noisier than good ones), keeps its correlation
along the fidelities (a lucky seed stays lucky), and the answer is a pure function of
(configuration, seed): studies stay bit-for-bit reproducible.
"""

from __future__ import annotations

import base64
import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

STORED_DTYPE = "<f4"
"""Seed-noise arrays are stored as little-endian float32 (residuals of recorded metrics
need no more)."""

DEFAULT_NEIGHBOURS = 8
"""Donor candidates per configuration (several, so similar configurations draw different
residuals and a method sampling many of them sees independent draws)."""
BOUND_MODES = ("clip", "reflect")
"""How a noisy answer outside the value bounds is brought back: ``clip`` onto the bound, or
``reflect`` (bound minus the overshoot, then clipped once)."""


@dataclass(frozen=True, eq=False)
class SeedNoise:
    """Residual curves of recorded configurations, to give a surrogate the table's seeds.

    ``quantile_curves``: (donors, fidelities); ``residuals``: (donors, seeds, fidelities).
    """

    quantile_curves: np.ndarray
    residuals: np.ndarray
    neighbours: int = DEFAULT_NEIGHBOURS
    bounds: str = "clip"

    def __post_init__(self) -> None:
        curves, residuals = self.quantile_curves, self.residuals
        if (
            curves.ndim != 2
            or residuals.ndim != 3
            or residuals.shape[0] != curves.shape[0]
            or residuals.shape[2] != curves.shape[1]
            or len(curves) == 0
        ):
            raise ValueError(
                f"seed noise needs quantile curves (donors, fidelities) and residuals (donors, "
                f"seeds, fidelities) of the same donors; got {curves.shape} and {residuals.shape}"
            )
        if self.neighbours < 1:
            raise ValueError(f"seed noise needs at least one neighbour, got {self.neighbours}")
        if self.bounds not in BOUND_MODES:
            raise ValueError(f"seed noise bounds must be one of {BOUND_MODES}, got {self.bounds!r}")

    @property
    def n_seeds(self) -> int:
        return int(self.residuals.shape[1])

    def residual_curves(self, quantile_curve: np.ndarray, key: object) -> np.ndarray:
        """(seeds, fidelities) residuals for a configuration predicted at ``quantile_curve``;
        ``key`` (the configuration's values) picks the donor among the nearest."""
        distances = np.nanmean(np.abs(self.quantile_curves - quantile_curve[None, :]), axis=1)
        distances = np.where(np.isfinite(distances), distances, np.inf)
        k = min(self.neighbours, len(distances))
        nearest = np.argsort(distances, kind="stable")[:k]
        nearest = nearest[np.argsort(distances[nearest], kind="stable")]
        digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
        donor = nearest[int.from_bytes(digest, "little") % k]
        return self.residuals[donor]

    def bounded(self, noisy: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """``noisy`` answers brought inside [``low``, ``high``] per fidelity: clipped onto the
        bound, or (``bounds="reflect"``) reflected at it and then clipped once, so answers
        beyond a bound do not pile up on it."""
        return bounded_values(noisy, low, high, self.bounds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "neighbours": self.neighbours,
            "quantile_curves": encoded_array(self.quantile_curves),
            "residuals": encoded_array(self.residuals),
            **({"bounds": self.bounds} if self.bounds != "clip" else {}),
        }

    @classmethod
    def from_dict(cls, parameters: Mapping[str, Any]) -> SeedNoise:
        return cls(
            quantile_curves=decoded_array(parameters["quantile_curves"]),
            residuals=decoded_array(parameters["residuals"]),
            neighbours=int(parameters.get("neighbours", DEFAULT_NEIGHBOURS)),
            bounds=str(parameters.get("bounds", "clip")),
        )


def bounded_values(noisy: np.ndarray, low: np.ndarray, high: np.ndarray, mode: str) -> np.ndarray:
    """``noisy`` brought inside [``low``, ``high``] (elementwise): ``clip`` onto the bound;
    ``reflect``: low + (low - noisy) below, high - (noisy - high) above, then clipped once
    (an overshoot larger than the range ends on the other bound)."""
    noisy = np.asarray(noisy, dtype=float)
    if mode == "reflect":
        noisy = np.where(
            noisy < low, 2 * low - noisy, np.where(noisy > high, 2 * high - noisy, noisy)
        )
    elif mode != "clip":
        raise ValueError(f"bound mode must be one of {BOUND_MODES}, got {mode!r}")
    return np.clip(noisy, low, high)


def seed_noise_from_table(
    values: np.ndarray, quantile_curves: np.ndarray, neighbours: int = DEFAULT_NEIGHBOURS
) -> SeedNoise | None:
    """The seed noise of recorded ``values`` (configurations, fidelities, seeds) of one
    objective, whose seed means sit at ``quantile_curves`` (configurations, fidelities).
    ``None`` when the table has a single seed (nothing to learn)."""
    values = np.asarray(values, dtype=float)
    if values.shape[2] < 2:
        return None
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # every seed missing: NaN
        means = np.nanmean(values, axis=2, keepdims=True)
    residuals = np.nan_to_num(values - means, nan=0.0, posinf=0.0, neginf=0.0)
    return SeedNoise(  # float32 as stored: the published and the loaded surrogate agree
        quantile_curves=as_stored(quantile_curves),
        residuals=as_stored(np.transpose(residuals, (0, 2, 1))),
        neighbours=neighbours,
    )


def as_stored(array: np.ndarray) -> np.ndarray:
    """``array`` rounded to float32, the precision it is stored with (NaN kept)."""
    return np.asarray(array, dtype=float).astype(STORED_DTYPE).astype(float)


def encoded_array(array: np.ndarray) -> dict[str, Any]:
    """A compact JSON form of a float array: shape and base64 of its little-endian float32
    bytes (a nested list of ~100k numbers made metadata.json several MB)."""
    data = np.ascontiguousarray(array, dtype=STORED_DTYPE).tobytes()
    return {
        "dtype": STORED_DTYPE,
        "shape": list(array.shape),
        "base64": base64.b64encode(data).decode(),
    }


def decoded_array(stored: Mapping[str, Any]) -> np.ndarray:
    """The float array of :func:`encoded_array` (float64 in memory)."""
    if stored.get("dtype") != STORED_DTYPE:
        raise ValueError(
            f"seed noise arrays must be stored as {STORED_DTYPE}, got {stored.get('dtype')!r}"
        )
    flat = np.frombuffer(base64.b64decode(stored["base64"]), dtype=STORED_DTYPE)
    return flat.reshape([int(n) for n in stored["shape"]]).astype(float)
