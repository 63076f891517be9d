"""Product kernel density estimators on encoded configurations (BOHB's model), in numpy.

Numeric (and ordinal) dimensions use a Gaussian kernel; categorical dimensions the
Aitchison-Aitken kernel: weight ``1 - lam`` on the observed category and ``lam / (k - 1)``
on each other one. Bandwidths follow the normal reference rule (as statsmodels'
``KDEMultivariate(bw="normal_reference")`` used by BOHB's reference implementation):
``1.06 * std * n ** (-1 / (d + 4))`` per dimension, floored at ``min_bandwidth``;
categorical ``lam`` is capped at ``(k - 1) / k``, where the kernel is uniform.
An inactive (NaN) entry, in the data or in a query, makes that dimension uninformative for
the pair: its kernel factor is the uniform density, 1 on the unit interval of a numeric
dimension and ``1 / k`` for a categorical one (the kernel averaged over the other value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class KernelDensity:
    """A fitted product-kernel density: ``data`` (n, d), one bandwidth per dimension.

    ``cardinalities[j]`` is 0 for a numeric dimension, the number of categories otherwise.
    """

    data: np.ndarray
    bandwidths: np.ndarray
    cardinalities: np.ndarray
    _inactive: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # per column: the inactive (NaN) entries of the data, or None if there are none
        masks = np.isnan(self.data)
        columns = masks.any(axis=0).tolist()
        object.__setattr__(
            self,
            "_inactive",
            tuple(masks[:, j] if inactive else None for j, inactive in enumerate(columns)),
        )

    def log_pdf(self, points: np.ndarray) -> np.ndarray:
        """Log density at each row of ``points`` (m, d); O(m * n * d) memory.

        Columns without inactive entries are handled together (one broadcast comparison or
        difference for all categorical, one for all numeric columns) and terms that are the
        same for every (point, datum) pair are summed once; columns with NaN entries get
        the masked kernel one by one.
        """
        points = np.atleast_2d(points)
        m, n = len(points), len(self.data)
        total = np.zeros((m, n))
        constant = 0.0
        inactive_points = np.isnan(points).any(axis=0)
        plain_numeric, plain_categorical = [], []
        for j, k in enumerate(self.cardinalities.tolist()):
            if k == 1:
                continue
            if self._inactive[j] is None and not inactive_points[j]:
                (plain_numeric if k == 0 else plain_categorical).append(j)
            else:
                constant += self._add_masked_column(total, points, j)
        if plain_numeric:
            bandwidths = self.bandwidths[plain_numeric]
            scaled = points[:, plain_numeric] / bandwidths
            scaled_data = self.data[:, plain_numeric] / bandwidths
            difference = scaled[:, None, :] - scaled_data[None, :, :]
            total -= 0.5 * np.einsum("mnd,mnd->mn", difference, difference)
            constant += float(-np.log(bandwidths).sum()) - len(plain_numeric) * _LOG_SQRT_2PI
        if plain_categorical:
            lam = self.bandwidths[plain_categorical]
            k = self.cardinalities[plain_categorical]
            log_same, log_other = np.log1p(-lam), np.log(lam / (k - 1))
            same = points[:, None, plain_categorical] == self.data[None, :, plain_categorical]
            total += same.astype(float) @ (log_same - log_other)
            constant += float(log_other.sum())
        peak = total.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(total - peak).sum(axis=1))
        return peak[:, 0] + log_sum + (constant - math.log(n))

    def _add_masked_column(self, total: np.ndarray, points: np.ndarray, j: int) -> float:
        """Add column ``j``'s log kernel to ``total`` (see :meth:`log_kernel_factors`);
        returns a constant term (0 here)."""
        total += self.log_kernel_factors(j, points[:, j])
        return 0.0

    def log_kernel_factors(self, j: int, values: np.ndarray) -> np.ndarray:
        """Log kernel of dimension ``j`` between each of ``values`` (encoded) and each datum,
        shape (len(values), n): the Gaussian or Aitchison-Aitken kernel where both entries
        are active, the uniform density's where either is inactive (NaN), 0 for a dimension
        with a single category. ``log_pdf`` sums these over the dimensions."""
        bandwidth, k = float(self.bandwidths[j]), int(self.cardinalities[j])
        x, data = np.asarray(values, dtype=float), self.data[:, j]
        if k == 1:
            return np.zeros((len(x), len(data)))
        if k == 0:
            z = np.subtract.outer(x, data) / bandwidth
            log_kernel = -0.5 * z * z - math.log(bandwidth) - _LOG_SQRT_2PI
            uniform = 0.0
        else:
            log_same, log_other = math.log1p(-bandwidth), math.log(bandwidth / (k - 1))
            log_kernel = np.where(np.equal.outer(x, data), log_same, log_other)
            uniform = -math.log(k)
        inactive = np.isnan(x)[:, None]
        if self._inactive[j] is not None:
            inactive = inactive | self._inactive[j][None, :]
        return np.where(inactive, uniform, log_kernel)

    def sample(self, rng: np.random.Generator, m: int, bandwidth_factor: float = 1.0) -> np.ndarray:
        """``m`` points: a random datum each, perturbed by its kernel.

        Numeric dimensions draw from the Gaussian (bandwidth times ``bandwidth_factor``)
        truncated to [0, 1]; categorical ones keep the datum's category with probability
        ``1 - lam``, else draw a uniform category. Inactive (NaN) entries draw uniformly.
        """
        rows = self.data[rng.integers(len(self.data), size=m)]
        out = np.empty_like(rows)
        for j, (bandwidth, k) in enumerate(zip(self.bandwidths, self.cardinalities)):
            centre = rows[:, j]
            inactive = np.isnan(centre)
            if k == 0:
                values = _truncated_normal(
                    rng, np.where(inactive, 0.5, centre), bandwidth * bandwidth_factor
                )
                values[inactive] = rng.random(int(inactive.sum()))
            else:
                uniform = rng.integers(k, size=m).astype(float)
                keep = (rng.random(m) >= bandwidth) & ~inactive
                values = np.where(keep, centre, uniform)
            out[:, j] = values
        return out


def _truncated_normal(rng: np.random.Generator, centre: np.ndarray, scale: float) -> np.ndarray:
    """Normal(centre, scale) restricted to [0, 1], by rejection (acceptance >= 20% here)."""
    values = rng.normal(centre, scale)
    outside = (values < 0) | (values > 1)
    while outside.any():
        values[outside] = rng.normal(centre[outside], scale)
        outside = (values < 0) | (values > 1)
    return values


def fit_kernel_density(
    data: np.ndarray, cardinalities: np.ndarray, min_bandwidth: float = 1e-3
) -> KernelDensity:
    """Fit a :class:`KernelDensity` to ``data`` (n, d) with the normal reference rule."""
    data = np.asarray(data, dtype=float)
    n, d = data.shape
    if n == 0:
        raise ValueError("cannot fit a kernel density to zero observations")
    inactive = np.isnan(data)
    if inactive.any():  # standard deviations over the active entries of each column
        counts = (~inactive).sum(axis=0)
        means = np.where(counts > 0, np.nansum(data, axis=0) / np.maximum(counts, 1), 0.0)
        squares = np.nansum((data - means) ** 2, axis=0)
        std = np.sqrt(squares / np.maximum(counts, 1))
    else:  # data.std(axis=0)'s own steps, without its Python-level bookkeeping
        deviations = data - np.add.reduce(data, axis=0, keepdims=True) / n
        np.multiply(deviations, deviations, out=deviations)
        std = np.sqrt(np.add.reduce(deviations, axis=0) / n)
    bandwidths = np.maximum(1.06 * std * n ** (-1.0 / (d + 4)), min_bandwidth)
    cardinalities = np.asarray(cardinalities, dtype=int)
    categorical = cardinalities > 0
    cap = np.where(categorical, (cardinalities - 1) / np.maximum(cardinalities, 1), np.inf)
    bandwidths = np.where(
        categorical, np.minimum(bandwidths, np.maximum(cap, min_bandwidth)), bandwidths
    )
    return KernelDensity(data, bandwidths, cardinalities)
